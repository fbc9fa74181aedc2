"""On-disk HRM format: round trip, authors' layout, validation errors, atomic writes."""

import json

import numpy as np
import pytest

from hrm_jax.data import format as fmt


def _tiny_split(seq_len=5, vocab=7, dtype=np.int32):
  b = fmt.PuzzleSetBuilder(seq_len, dtype=dtype)
  rng = np.random.default_rng(0)
  for g in range(3):
    b.begin_group()
    for p in range(g + 1):
      k = p + 1
      b.add_puzzle(
        p % 2, rng.integers(0, vocab, (k, seq_len)), rng.integers(0, vocab, (k, seq_len))
      )
  data = b.build()
  meta = fmt.DatasetMetadata(
    pad_id=0,
    ignore_label_id=0,
    blank_identifier_id=0,
    vocab_size=vocab,
    seq_len=seq_len,
    num_puzzle_identifiers=2,
    total_groups=data.num_groups,
    mean_puzzle_examples=data.num_examples / data.num_puzzles,
    sets=["all"],
  )
  return meta, data


def _write(tmp_path, name="ds", **kw):
  meta, data = _tiny_split(**kw)
  return (
    fmt.write_dataset(
      tmp_path / name,
      {"train": (meta, {"all": data}), "test": (meta, {"all": data})},
      ["<blank>", "a"],
      extra_files={"build_args.json": "{}"},
    ),
    meta,
    data,
  )


def test_builder_indices():
  _, data = _tiny_split()
  assert data.group_indices.tolist() == [0, 1, 3, 6]
  assert data.puzzle_indices.tolist() == [0, 1, 2, 4, 5, 7, 10]
  assert data.inputs.shape == (10, 5) and data.inputs.dtype == np.int32


def test_round_trip_and_layout(tmp_path):
  out, meta, data = _write(tmp_path)
  names = sorted(p.name for p in (out / "train").iterdir())
  assert names == sorted(["dataset.json"] + [f"all__{f}.npy" for f in fmt.FIELDS])
  raw = json.loads((out / "train" / "dataset.json").read_text())
  assert list(raw) == [
    "pad_id",
    "ignore_label_id",
    "blank_identifier_id",
    "vocab_size",
    "seq_len",
    "num_puzzle_identifiers",
    "total_groups",
    "mean_puzzle_examples",
    "sets",
  ]
  meta2, sets = fmt.read_split(out, "train")
  assert meta2 == meta
  for f in fmt.FIELDS:
    np.testing.assert_array_equal(getattr(sets["all"], f), getattr(data, f))
  assert isinstance(sets["all"].inputs, np.memmap)
  assert fmt.read_identifiers(out) == ["<blank>", "a"]
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left
  assert fmt.build_args_match(out, {}) and not fmt.build_args_match(out, {"x": 1})


def test_authors_uint8_layout_loads(tmp_path):
  """Authors' Sudoku files: uint8 inputs/labels (1..10), int32 indices, json.dump's dataset.json."""
  d = tmp_path / "authors" / "train"
  d.mkdir(parents=True)
  inputs = np.random.default_rng(0).integers(1, 11, (4, 81)).astype(np.uint8)
  np.save(d / "all__inputs.npy", inputs)
  np.save(d / "all__labels.npy", inputs)
  np.save(d / "all__puzzle_identifiers.npy", np.zeros(4, np.int32))
  np.save(d / "all__puzzle_indices.npy", np.arange(5, dtype=np.int32))
  np.save(d / "all__group_indices.npy", np.array([0, 2, 4], np.int32))
  json.dump(
    dict(
      pad_id=0,
      ignore_label_id=0,
      blank_identifier_id=0,
      vocab_size=11,
      seq_len=81,
      num_puzzle_identifiers=1,
      total_groups=2,
      mean_puzzle_examples=1,
      sets=["all"],
    ),
    open(d / "dataset.json", "w"),
  )
  json.dump(["<blank>"], open(d.parent / "identifiers.json", "w"))
  meta, sets = fmt.read_split(d.parent, "train")
  assert meta.vocab_size == 11 and sets["all"].inputs.dtype == np.uint8


@pytest.mark.parametrize(
  "damage, message",
  [
    ("truncate", "corrupt or truncated"),
    ("garbage", "corrupt or truncated"),
    ("missing", "missing"),
    ("out_of_vocab", "outside"),
    ("bad_indices", "decreases"),
    ("bad_json", "not valid JSON"),
    ("missing_key", "missing key"),
  ],
)
def test_bad_files_fail_clearly(tmp_path, damage, message):
  out, _, _ = _write(tmp_path)
  inputs = out / "train" / "all__inputs.npy"
  if damage == "truncate":
    inputs.write_bytes(inputs.read_bytes()[:-7])
  elif damage == "garbage":
    inputs.write_bytes(b"not a numpy file at all")
  elif damage == "missing":
    inputs.unlink()
  elif damage == "out_of_vocab":
    np.save(inputs, np.full((10, 5), 99, np.int32))
  elif damage == "bad_indices":
    np.save(out / "train" / "all__puzzle_indices.npy", np.array([0, 2, 1, 4, 5, 7, 10], np.int32))
  elif damage == "bad_json":
    (out / "train" / "dataset.json").write_text("{oops")
  elif damage == "missing_key":
    (out / "train" / "dataset.json").write_text('{"pad_id": 0}')
  with pytest.raises(fmt.DatasetFormatError, match=message) as info:
    fmt.read_split(out, "train")
  assert "train" in str(info.value)
  fmt.read_split(out, "test")  # the other split is untouched


def test_invalid_write_leaves_nothing(tmp_path):
  meta, data = _tiny_split()
  data.labels[0, 0] = 50
  with pytest.raises(fmt.DatasetFormatError, match="all__labels.npy"):
    fmt.write_dataset(tmp_path / "ds", {"train": (meta, {"all": data})}, ["<blank>", "a"])
  assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_old(tmp_path):
  out, meta, data = _write(tmp_path)

  bad = fmt.SplitSet(**{f: getattr(data, f) for f in fmt.FIELDS})
  bad.group_indices = np.array([0, 1], np.int32)  # wrong end
  with pytest.raises(fmt.DatasetFormatError):
    fmt.write_dataset(out, {"train": (meta, {"all": bad})}, ["<blank>", "a"])
  fmt.read_split(out, "train")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_write_into_a_folder_of_other_files_is_refused(tmp_path):
  from hrm_jax.data._atomic import OutputFolderError

  out = tmp_path / "ds"
  out.mkdir()
  (out / "notes.txt").write_text("important")
  meta, data = _tiny_split()
  with pytest.raises(OutputFolderError, match="not empty"):
    fmt.write_dataset(out, {"train": (meta, {"all": data})}, ["<blank>", "a"])
  assert [p.name for p in out.iterdir()] == ["notes.txt"]
  assert (out / "notes.txt").read_text() == "important"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
