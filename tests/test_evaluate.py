"""Evaluation: metrics on hand-made predictions (ARC voting and pass@k, maze paths, Sudoku),
the eval losses of a real tiny model, and the evaluate CLI's errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hrm_jax import act, errors, losses, model, tasks
from hrm_jax.data import arc, maze
from hrm_jax.data.sudoku import build_sudoku
from hrm_jax.tasks import arc as arc_task
from hrm_jax.tasks import maze as maze_task
from hrm_jax.tasks import sudoku as sudoku_task
from hrm_jax.tools import evaluate as evaluate_cli
from hrm_jax.training import checkpoint, evaluate, experiment, inference, model_dir, parallel
from tests import tiny as tiny_run

REPO = Path(__file__).resolve().parents[1]


def test_vote_ranks_by_votes_then_q():
  a, b, c = np.array([[1]]), np.array([[2]]), np.array([[3, 3]])
  ranked = arc_task.vote(
    [("t", a, 0.1), ("t", b, 0.9), ("t", a, 0.3), ("t", c, 0.95), ("t", b, 0.7)]
  )["t"]
  assert [g.tolist() for g, _, _ in ranked] == [[[2]], [[1]], [[3, 3]]]  # 2 votes each: q decides
  assert [n for _, n, _ in ranked] == [2, 2, 1]
  np.testing.assert_allclose(ranked[0][2], 0.8)


def test_pass_at_k_needs_every_test_output():
  right, wrong = np.array([[5]]), np.array([[6]])
  cands = [
    (("t1", 0), right, 0.9),  # t1: pair 0 top-1
    (("t1", 1), wrong, 0.9),
    (("t1", 1), right, 0.1),  # t1: pair 1 only top-2
    (("t2", 0), wrong, 0.5),
    (("t2", 0), wrong, 0.5),
    (("t2", 0), right, 0.9),  # top-2
    (("t3", 0), wrong, 0.5),
  ]  # t3: never right
  truths = {
    ("t1", 0): right,
    ("t1", 1): right,
    ("t2", 0): right,
    ("t3", 0): right,
    ("t4", 0): right,
  }  # t4: no prediction at all
  got = arc_task.pass_at_k(arc_task.vote(cands), truths, (1, 2, 10))
  assert {k: v for k, v in got.items() if "/" not in k} == {
    "pass@1": 0.0,
    "pass@2": 0.5,
    "pass@10": 0.5,
  }  # t1, t2 of 4
  # per input: t1 has 1 of 2 right at top 1, both at top 2; t2 its one at top 2
  assert {k: v for k, v in got.items() if "/" in k} == {
    "pass@1/per_input": 0.125,
    "pass@2/per_input": 0.5,
    "pass@10/per_input": 0.5,
  }


def test_arc_metrics_inverts_augmentations(tmp_path):
  truth = np.array([[1, 2, 0], [3, 4, 5]], np.uint8)
  augs = [arc.Aug(), arc.Aug(1, (0, 2, 1, 3, 4, 5, 6, 7, 8, 9)), arc.Aug(5, tuple(range(10)))]
  (tmp_path / "arc_augmentations.json").write_text(
    json.dumps({"puzzles": [None] + [["task", a.tid, "".join(map(str, a.perm))] for a in augs]})
  )
  labels = np.stack([arc.encode_grid(arc.augment_grid(truth, a)) for a in augs]).astype(np.int32)
  preds = labels.copy()
  preds[0] = arc.encode_grid(np.zeros((2, 3), np.uint8))  # the identity copy is wrong
  pids, pairs = np.arange(1, 4), np.zeros(3, int)
  got = arc_task.arc_metrics(
    tmp_path, pids, pairs, preds, labels, np.array([0.9, 0.2, 0.2]), (1, 2)
  )
  assert got == {
    "pass@1": 1.0,
    "pass@2": 1.0,  # two inverted votes beat one
    "pass@1/per_input": 1.0,
    "pass@2/per_input": 1.0,
  }
  preds[1] = arc.encode_grid(arc.augment_grid(np.zeros((2, 3), np.uint8), augs[1]))  # 2 wrong votes
  got = arc_task.arc_metrics(
    tmp_path, pids, pairs, preds, labels, np.array([0.9, 0.2, 0.2]), (1, 2)
  )
  assert got == {"pass@1": 0.0, "pass@2": 1.0, "pass@1/per_input": 0.0, "pass@2/per_input": 1.0}


def test_maze_and_sudoku_metrics():
  grid = maze.chars_to_tokens("######S  ## # ##  G######")
  label = maze.solve(grid.reshape(5, 5)).ravel()
  other = grid.copy()
  other[[11, 16, 17]] = maze.PATH  # the other shortest path: valid, optimal
  broken = grid.copy()
  broken[[7, 8]] = maze.PATH  # does not reach the goal
  got = maze_task.maze_path_metrics(np.stack([grid] * 3), np.stack([label, other, broken]))
  assert got["valid_path"].tolist() == [True, True, False]
  assert got["optimal_path"].tolist() == [True, True, False]

  base = np.array([[(r * 3 + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)]).ravel()
  solution = base + 1  # tokens: digit + 1
  puzzle = solution.copy()
  puzzle[::2] = 1  # blanks
  swapped = solution.copy()
  swapped[[1, 3]] = swapped[[3, 1]]  # keeps givens? cell 1,3 are givens
  got = sudoku_task.sudoku_metrics(np.stack([puzzle] * 2), np.stack([solution, swapped]))
  assert got["valid_solution"].tolist() == [True, False]


def hand_made(labels: np.ndarray) -> dict:
  """`predict`'s output for predictions equal to the labels (no model)."""
  n = len(labels)
  return {
    "inputs": labels,
    "labels": labels,
    "pred": labels,
    "halt_pred": labels,
    "halt_steps": np.ones(n, np.int32),
    "labelled": np.ones(n, bool),
    "lm_loss": np.zeros(n),
    "q_halt_loss": np.zeros(n),
    "q_halt_correct": np.ones(n, bool),
  }


def test_metric_names_are_what_score_returns():
  rng = np.random.default_rng(0)
  for task, vocab, S in (("maze", 6, 16), ("sudoku", 11, 81), ("parity", 4, 16)):
    labels = rng.integers(1, vocab, (3, S)).astype(np.int32)
    assert list(evaluate.score(task, hand_made(labels), None, 2)) == list(
      evaluate.metric_names(task)
    ), task
  names = evaluate.metric_names("arc", (1, 2, 1000))
  assert {
    "pass@1000",
    "pass@1000/per_input",
    "halt/pass@2/per_input",
    "lm_loss",
    "q_halt_loss",
    "q_halt_accuracy",
    "exact_accuracy_stderr",
  } <= set(names)
  assert evaluate.metric_names("arc", 10) == evaluate.metric_names("arc", (1, 2, 10))  # old int
  assert {f"pass@{k}" for k in evaluate.DEFAULT_PASS_KS} <= set(evaluate.metric_names("arc"))


def test_exact_accuracy_standard_error():
  labels = np.ones((100, 4), np.int32)
  got = hand_made(labels)
  got["pred"] = labels.copy()
  got["pred"][:30, 0] = 2  # 70 of 100 right
  m = evaluate.score("parity", got, None, 1)
  assert m["exact_accuracy"] == 0.7 and m["examples"] == 100
  np.testing.assert_allclose(m["exact_accuracy_stderr"], np.sqrt(0.7 * 0.3 / 100))


# ----------------------------------------------------------------------------- a real tiny model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
  """An untrained tiny maze model saved as a model dir, and its 5x5 maze dataset."""
  root = tmp_path_factory.mktemp("eval")
  data = tiny_run.build_data(root)
  config = experiment.settings(tiny_run.config(root / "run", data)).model
  params = model.init(jax.random.key(0), config)
  model_dir.save_model(root / "m", params, config, {"task": "maze", "data_path": str(data)})
  return root, data, config, params


def test_eval_losses_are_the_reference_loss_head_at_the_final_segment(tiny_model):
  _, data, config, params = tiny_model
  mesh = parallel.make_mesh()
  metrics, got = evaluate.evaluate(
    parallel.replicate(mesh, params),
    config,
    "maze",
    data,
    mesh,
    num_segments=2,
    global_batch_size=32,
    max_examples=32,
  )
  batch = {k: jnp.asarray(got[k]) for k in ("inputs", "labels", "puzzle_identifiers")}
  carry = act.initial_carry(batch, config)
  for _ in range(2):  # K segments, then the loss head
    carry, out = act.apply(params, carry, batch, config=config, halt_max_steps=2)
  _, sums = losses.act_loss(out, batch["labels"], carry, config.loss_type)
  count = float(sums["count"])
  assert count == 32 and bool(carry.halted.all())
  for name in ("lm_loss", "q_halt_loss", "q_halt_accuracy"):
    np.testing.assert_allclose(metrics[name], float(sums[name]) / count, rtol=1e-5, err_msg=name)
  np.testing.assert_allclose(metrics["exact_accuracy"], float(sums["exact_accuracy"]) / count)
  # inference: a batch without labels gives the same answers, and no labelled rows
  unlabeled = jax.jit(inference.make_eval_fn(config, 2))(
    params, {k: batch[k] for k in ("inputs", "puzzle_identifiers")}
  )
  np.testing.assert_array_equal(unlabeled["pred"], got["pred"])
  assert not np.asarray(unlabeled["labelled"]).any()


def _cli(argv, capsys):
  """Run the evaluate CLI as `python -m` does; returns (exit code, stdout, stderr lines)."""
  code = errors.guard(evaluate_cli.main, argv)
  out, err = capsys.readouterr()
  return code, out, [line for line in err.splitlines() if line.strip()]


def test_cli_writes_metrics_with_a_progress_bar(tiny_model, capsys, tmp_path):
  root, data, _, _ = tiny_model
  code, out, err = _cli(
    [
      "--checkpoint",
      str(root / "m"),
      "--batch-size",
      "32",
      "--max-examples",
      "32",
      "--out-dir",
      str(tmp_path / "o"),
    ],
    capsys,
  )
  assert code == 0 and json.loads(out)["examples"] == 32
  assert any("eval" in line and "batch" in line for line in err), err  # tqdm on stderr
  saved = json.loads((tmp_path / "o" / "metrics.json").read_text())
  assert {"lm_loss", "q_halt_accuracy", "exact_accuracy_stderr"} <= set(saved)
  code, _, err = _cli(
    [
      "--checkpoint",
      str(root / "m"),
      "--batch-size",
      "32",
      "--max-examples",
      "32",
      "--no-progress",
    ],
    capsys,
  )
  assert code == 0 and err == []


def test_cli_errors_are_one_line(tiny_model, capsys, tmp_path):
  root, data, _, _ = tiny_model
  code, _, err = _cli(["--checkpoint", str(tmp_path / "nothing")], capsys)
  assert code == 2 and len(err) == 1 and "no such checkpoint directory" in err[0]

  sudoku = build_sudoku(
    tmp_path / "sudoku",
    train_size=2,
    test_size=4,
    num_aug=0,
    difficulty="easy",
    workers=1,
    progress=False,
  )
  capsys.readouterr()
  code, _, err = _cli(["--checkpoint", str(root / "m"), "--data", str(sudoku)], capsys)
  assert code == 2 and len(err) == 2 and "holds a sudoku dataset" in err[0], err
  assert err[1].startswith("hint: ")

  maze7 = tasks.build_dataset(
    "maze", tmp_path / "maze7", dict(tiny_run.DATA_ARGS, size=7), progress=False
  )
  code, _, err = _cli(["--checkpoint", str(root / "m"), "--data", str(maze7)], capsys)
  assert code == 2 and "seq_len 49 (model: 25)" in err[0], err

  code, _, err = _cli(["--checkpoint", str(root / "m"), "--pass-ks", "2,x"], capsys)
  assert code == 2 and len(err) == 1 and "--pass-ks" in err[0]

  code, _, err = _cli(["--checkpoint", str(root / "m"), "--task", "sudoku"], capsys)
  assert code == 2 and "--task sudoku but the checkpoint is a maze model" in err[0], err


def test_cli_on_a_damaged_checkpoint_says_so_in_one_line(tiny_model, tmp_path):
  """A run-style (OCDBT) checkpoint whose array files are gone: one line naming the step, a
  hint naming the intact earlier step, none of orbax's 'Event loop is closed' tracebacks."""
  import orbax.checkpoint as ocp

  root, data, config, params = tiny_model
  run = tmp_path / "run"
  doc = checkpoint.config_doc(config, {"task": "maze", "data_path": str(data)})
  for step in (3, 5):  # the layout training writes
    ocp.Checkpointer(ocp.CompositeCheckpointHandler()).save(
      run / "checkpoints" / str(step),
      args=ocp.args.Composite(params=ocp.args.StandardSave(params), config=ocp.args.JsonSave(doc)),
    )
  shards = list((run / "checkpoints" / "5" / "params").glob("ocdbt.process_*"))
  assert shards
  for shard in shards:
    shutil.rmtree(shard)  # the arrays' data files
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "hrm_jax.tools.evaluate",
      "--checkpoint",
      str(run),
      "--batch-size",
      "32",
    ],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  err = [line for line in done.stderr.splitlines() if line.strip()]
  assert done.returncode == 2, done.stderr[-3000:]
  assert len(err) == 2, done.stderr[-3000:]
  assert err[0].startswith(f"error: cannot read the checkpoint {run / 'checkpoints' / '5'}")
  assert (
    err[1] == f"hint: it may be damaged or incomplete; try another step, e.g. "
    f"--checkpoint {run / 'checkpoints' / '3'}"
  )


def test_headline_shows_pass_at_1_and_2_of_every_rule_and_no_losses():
  names = evaluate.metric_names("arc")
  line = evaluate.headline({k: 0.5 for k in names})
  shown = [item.split("=")[0] for item in line.split()]
  assert {
    "exact_accuracy",
    "pass@1",
    "pass@2",
    "pass@2/per_input",
    "halt/exact_accuracy",
    "q_halt_accuracy",
    "halt/segments",
  } <= set(shown)
  assert not {"pass@10", "halt/pass@1", "lm_loss", "examples", "segments"} & set(shown)
  assert set(shown) <= set(names)


def test_cli_restarts(tiny_model, capsys):
  root, _, _, _ = tiny_model
  flags = ["--checkpoint", str(root / "m"), "--batch-size", "32", "--max-examples", "32"]
  code, out, _ = _cli(flags + ["--no-progress"], capsys)
  plain = json.loads(out)
  code1, out, _ = _cli(flags + ["--no-progress", "--restarts", "1", "--restart-noise", "0"], capsys)
  one = json.loads(out)  # K=1 without noise: the plain evaluation exactly, plus the compute
  assert code == code1 == 0 and {k: one[k] for k in plain} == plain
  assert one["restarts"] == 1 and one["restart_segments"] == plain["halt/segments"]
  code, out, _ = _cli(flags + ["--no-progress", "--restarts", "2"], capsys)
  two = json.loads(out)
  assert code == 0 and two["restarts"] == 2
  assert two["halt/segments"] <= two["restart_segments"] <= 2 * two["segments"]
  assert 0.5 <= two["restart_agree"] <= 1.0
  code, _, err = _cli(flags + ["--restarts", "2", "--restart-noise", "-1"], capsys)
  assert code == 2 and len(err) == 1 and "noise" in err[0]
