"""hrm_jax.tools.solve: the CLI, the tasks' readers and every malformed input they refuse."""

import json
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import act, errors, model
from hrm_jax.tasks import parity as parity_task
from hrm_jax.tasks import sudoku as sudoku_task
from hrm_jax.tools import solve
from hrm_jax.training import inference, model_dir, test_time

GOLDEN = pathlib.Path(__file__).parent / "golden"
ROOT = pathlib.Path(__file__).parents[1]
SUDOKU = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
MAZE = "#S  \n# # \n  #G\n    \n"
GOLDEN_CFG = hrm_jax.HRMConfig(  # tests/golden: the reference's tiny Sudoku model
  vocab_size=11,
  seq_len=81,
  num_puzzle_identifiers=10,
  puzzle_emb_ndim=64,
  hidden_size=64,
  num_heads=4,
  expansion=4,
  h_layers=2,
  l_layers=2,
  h_cycles=2,
  l_cycles=2,
  halt_max_steps=4,
  halt_exploration_prob=0.0,
)


def _golden_params():
  from hrm_jax.interop import torch_names

  gold = np.load(GOLDEN / "hrm_golden.npz")
  sd = {k: gold[k] for k in gold.files if k.startswith("inner.")}
  return torch_names.params_from_state_dict(sd, GOLDEN_CFG), GOLDEN_CFG, gold


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory):
  """The golden reference weights as a model directory (what hrm_jax.interop.convert writes)."""
  params, config, _ = _golden_params()
  path = tmp_path_factory.mktemp("golden") / "model"
  model_dir.save_model(path, params, config, {"task": "sudoku"})
  return path


def _tiny_model(tmp_path_factory, name, task, seq_len, vocab, num_ids=1):
  config = hrm_jax.HRMConfig(
    vocab_size=vocab,
    seq_len=seq_len,
    num_puzzle_identifiers=num_ids,
    puzzle_emb_ndim=16,
    hidden_size=16,
    num_heads=1,
    h_layers=1,
    l_layers=1,
    h_cycles=1,
    l_cycles=1,
    halt_max_steps=2,
  )
  path = tmp_path_factory.mktemp(name) / "model"
  model_dir.save_model(path, model.init(jax.random.key(0), config), config, {"task": task})
  return path


@pytest.fixture(scope="module")
def maze_dir(tmp_path_factory):
  return _tiny_model(tmp_path_factory, "maze", "maze", 16, 6)


@pytest.fixture(scope="module")
def arc_dir(tmp_path_factory):
  return _tiny_model(tmp_path_factory, "arc", "arc", 900, 12, num_ids=3)


@pytest.fixture(scope="module")
def parity_dir(tmp_path_factory):
  from hrm_jax.data import parity

  return _tiny_model(tmp_path_factory, "parity", "parity", 9, parity.VOCAB_SIZE)


def test_sudoku_cli_on_converted_golden_model(golden_dir, capsys):
  assert solve.main(["--checkpoint", str(golden_dir), "--sudoku", SUDOKU]) == 0
  out = capsys.readouterr().out
  grids = re.findall(r"^(?:[.\d] ){3}\| (?:[.\d] ){3}\| [.\d] [.\d] [.\d]$", out, re.M)
  assert len(grids) == 18  # 9 rows of the puzzle, 9 of the solution
  assert grids[0] == "5 3 . | . 7 . | . . ."
  m = re.search(
    r"segments: (\d) of 4 \((halted by the Q head|segment limit reached)\); "
    r"halting confidence sigmoid\(q_halt\) = (0\.\d{4})",
    out,
  )
  assert m and 1 <= int(m.group(1)) <= 4
  assert "valid solution (complete, consistent, keeps the givens): " in out


def test_solve_agrees_with_apply():
  params, config, gold = _golden_params()
  params = jax.tree.map(jnp.asarray, params)
  inputs, pids = gold["inputs"], gold["puzzle_identifiers"]
  apply = jax.jit(hrm_jax.apply, static_argnames=("config", "eval_halt"))  # one compile a rule
  for bias, rule in (
    ([0.0, 0.0], "q_halt"),
    ([0.0, 0.0], "none"),
    ([0.0, 0.0], "q_halt_gt_continue"),
    ([30.0, 0.0], "q_halt"),
  ):
    p = {
      **params,
      "net": {**params["net"], "q_head": {**params["net"]["q_head"], "bias": jnp.asarray(bias)}},
    }
    sol = inference.solve(p, config, inputs, pids, eval_halt=rule)
    batch = {
      "inputs": jnp.asarray(inputs),
      "labels": jnp.asarray(gold["labels"]),
      "puzzle_identifiers": jnp.asarray(pids),
    }
    carry = hrm_jax.initial_carry(batch, config)
    seen = np.zeros(len(inputs), bool)
    for _ in range(config.halt_max_steps):
      carry, out = apply(p, carry, batch, config=config, eval_halt=rule)
      for i in np.flatnonzero(np.asarray(carry.halted) & ~seen):
        np.testing.assert_array_equal(sol.prediction[i], np.argmax(out["logits"][i], -1))
        assert sol.segments[i] == int(carry.steps[i])
        np.testing.assert_allclose(
          sol.confidence[i], jax.nn.sigmoid(out["q_halt_logits"][i]), rtol=1e-5
        )
      seen |= np.asarray(carry.halted)
    assert seen.all()
    if rule == "none":
      assert (sol.segments == 4).all() and not sol.halted_by_q.any()
  # q_halt > 0 at once: the first segment halts
  assert (sol.segments == 1).all() and sol.halted_by_q.all()


def test_maze_and_arc_cli(maze_dir, arc_dir, tmp_path, capsys):
  (tmp_path / "m.txt").write_text(MAZE)
  assert solve.main(["--checkpoint", str(maze_dir), "--maze", str(tmp_path / "m.txt")]) == 0
  out = capsys.readouterr().out
  assert "path:" in out and "segments: " in out and "valid path: " in out
  assert out.startswith("maze:\n" + MAZE)  # the input, echoed
  rows = out.split("path:\n")[1].splitlines()[:4]
  assert all(len(r) == 4 for r in rows)
  # an editor stripped the trailing spaces: the last row, all free, is an empty line
  stripped = "".join(line.rstrip() + "\n" for line in MAZE.splitlines())
  assert stripped == "#S\n# #\n  #G\n\n"
  (tmp_path / "stripped.txt").write_text(stripped)
  assert solve.main(["--checkpoint", str(maze_dir), "--maze", str(tmp_path / "stripped.txt")]) == 0
  assert capsys.readouterr().out == out
  task = {
    "train": [{"input": [[1, 2]], "output": [[2, 1]]}],
    "test": [{"input": [[1, 2], [3, 4]], "output": [[2, 1], [4, 3]]}, {"input": [[5]]}],
  }
  (tmp_path / "abc123.json").write_text(json.dumps(task))
  (tmp_path / "ids.json").write_text(json.dumps(["<blank>", "zzz", "abc123"]))
  assert (
    solve.main(
      [
        "--checkpoint",
        str(arc_dir),
        "--arc",
        str(tmp_path / "abc123.json"),
        "--identifiers",
        str(tmp_path / "ids.json"),
      ]
    )
    == 0
  )
  out = capsys.readouterr().out
  assert "test 0: predicted output" in out and "test 1: predicted output" in out
  assert "matches the given output: " in out and out.count("segments: ") == 2
  assert solve.main(["--checkpoint", str(arc_dir), "--arc", str(tmp_path / "abc123.json")]) == 0
  assert "blank identifier 0" in capsys.readouterr().out


def _refused(capsys, argv, needle):
  """The CLI (as `python -m hrm_jax.tools.solve` runs it) refuses `argv` in one line: `needle`."""
  assert errors.guard(solve.main, argv) == 2, argv
  captured = capsys.readouterr()
  assert needle in captured.err, (argv, captured.err)
  assert len(captured.err.strip().splitlines()) == 1 and not captured.out, captured
  return captured.err


BAD_SUDOKU = {
  "short": (SUDOKU[:-1], "81 cells, got 80"),
  "long": (SUDOKU + "1", "81 cells, got 82"),
  "char": (SUDOKU[:10] + "x" + SUDOKU[11:], "bad Sudoku character 'x' at row 2, column 2"),
  "row": ("55" + SUDOKU[2:], "no solution: contradictory givens: digit 5 appears twice in row 1"),
  "column": ("5" + "." * 35 + "5" + "." * 44, "digit 5 appears twice in column 1"),
  "box": ("3" + "." * 9 + "3" + "." * 70, "digit 3 appears twice in box 1"),
  # no two givens clash, but row 1 leaves cell 9 only the 9 that column 9 already has
  "no_completion": (
    "12345678." + "." * 8 + "9" + "." * 63,
    "no solution: the givens do not contradict each other directly",
  ),
  "missing_file": ("puzzles.txt", "no such Sudoku file: puzzles.txt"),
  "missing_path": ("/no/such/dir/p", "no such Sudoku file: /no/such/dir/p"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUDOKU))
def test_bad_sudoku(case, golden_dir, capsys):
  text, needle = BAD_SUDOKU[case]
  _refused(capsys, ["--checkpoint", str(golden_dir), "--sudoku", text], needle)


def test_bad_mazes(maze_dir, tmp_path, capsys):
  cases = {
    "rows": ("#S  \n# # \n  #G\n", "must have 4 rows of 4 characters, got 3"),
    "width": ("#S  \n# #  \n  #G\n    \n", "row 2 has 5 characters, expected 4"),
    "no_path": ("S#  \n#   \n   G\n    \n", "no solution: maze has no path from start"),
    "second": (MAZE + "\n" + MAZE.replace("G", " "), "line 6: the maze needs exactly one goal"),
    "five_rows": (MAZE + "#   \n", "got 5 rows (several mazes: 4 rows each"),
    "char": ("#S  \n#x #\n  #G\n    \n", "bad maze character(s) ['x'] in row 2"),
    "no_start": ("#   \n# # \n  #G\n    \n", "exactly one start 'S', found 0"),
    "two_goals": ("#S G\n# # \n  #G\n    \n", "exactly one goal 'G', found 2"),
  }
  for name, (text, needle) in cases.items():
    (tmp_path / f"{name}.txt").write_text(text)
    _refused(
      capsys, ["--checkpoint", str(maze_dir), "--maze", str(tmp_path / f"{name}.txt")], needle
    )
  _refused(
    capsys,
    ["--checkpoint", str(maze_dir), "--maze", str(tmp_path / "nope.txt")],
    f"no such maze file: {tmp_path / 'nope.txt'}",
  )


def test_bad_arc_tasks(arc_dir, tmp_path, capsys):
  cases = {
    "json": ("{not json", "not valid JSON"),
    "no_test": (json.dumps({"train": []}), "non-empty 'test' list"),
    "no_input": (json.dumps({"test": [{"output": [[1]]}]}), "test[0] has no 'input'"),
    "colour": (json.dumps({"test": [{"input": [[1, 12]]}]}), "integers 0-9"),
    "ragged": (json.dumps({"test": [{"input": [[1, 2], [3]]}]}), "different lengths"),
    "big": (json.dumps({"test": [{"input": [[0] * 31]}]}), "larger than 30x30"),
  }
  for name, (text, needle) in cases.items():
    (tmp_path / f"{name}.json").write_text(text)
    _refused(
      capsys, ["--checkpoint", str(arc_dir), "--arc", str(tmp_path / f"{name}.json")], needle
    )
  (tmp_path / "t.json").write_text(json.dumps({"test": [{"input": [[1]]}]}))
  (tmp_path / "ids.json").write_text(json.dumps(["<blank>", "other"]))
  _refused(
    capsys,
    [
      "--checkpoint",
      str(arc_dir),
      "--arc",
      str(tmp_path / "t.json"),
      "--identifiers",
      str(tmp_path / "ids.json"),
    ],
    "not among the model's 2",
  )


def test_wrong_model_or_checkpoint(golden_dir, maze_dir, tmp_path, capsys):
  _refused(capsys, ["--checkpoint", str(maze_dir), "--sudoku", SUDOKU], "trained on maze")
  (tmp_path / "m.txt").write_text(MAZE)
  _refused(
    capsys,
    ["--checkpoint", str(golden_dir), "--maze", str(tmp_path / "m.txt")],
    "trained on sudoku",
  )
  _refused(
    capsys,
    ["--checkpoint", str(tmp_path / "missing"), "--sudoku", SUDOKU],
    "no such checkpoint directory",
  )
  _refused(
    capsys,
    ["--checkpoint", str(golden_dir), "--sudoku", SUDOKU, "--max-steps", "0"],
    "--max-steps must be >= 1",
  )


def test_cli_subprocess_refuses_without_traceback(tmp_path):
  out = subprocess.run(
    [sys.executable, "-m", "hrm_jax.tools.solve", "--checkpoint", str(tmp_path), "--sudoku", "12"],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert out.returncode == 2 and "81 cells, got 2" in out.stderr
  assert "Traceback" not in out.stderr


SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


def test_sudoku_validity_check():
  puzzle = sudoku_task.parse(SUDOKU)
  tokens = np.array([int(c) + 1 for c in SOLVED])
  swapped = tokens.copy()
  swapped[[2, 3]] = swapped[[3, 2]]  # still a permutation in row 1, breaks the columns
  other = tokens.copy()
  other[0] = 1  # a blank where the puzzle gives 5
  np.testing.assert_array_equal(
    sudoku_task.solved(np.stack([puzzle] * 3), np.stack([tokens, swapped, other])),
    [True, False, False],
  )


def test_halting_rule_defaults_to_the_one_of_evaluation(golden_dir, capsys):
  import inspect

  assert act.DEFAULT_HALT_RULE == "model"
  assert solve._parser().get_default("halt") == act.DEFAULT_HALT_RULE
  assert inspect.signature(inference.solve).parameters["eval_halt"].default == act.DEFAULT_HALT_RULE
  assert solve.main(["--checkpoint", str(golden_dir), "--sudoku", SUDOKU, "--halt", "none"]) == 0
  assert "segments: 4 of 4 (segment limit reached)" in capsys.readouterr().out


def test_sudoku_reads_its_own_output_and_files_of_puzzles(golden_dir, tmp_path, capsys):
  assert solve.main(["--checkpoint", str(golden_dir), "--sudoku", SUDOKU]) == 0
  printed = capsys.readouterr().out
  grid = printed.split("puzzle:\n")[1].split("\nsolution:")[0]  # the grid as solve prints it
  assert len(grid.splitlines()) == 11 and "------+-------+------" in grid
  np.testing.assert_array_equal(sudoku_task.parse(grid), sudoku_task.parse(SUDOKU))
  assert solve.main(["--checkpoint", str(golden_dir), "--sudoku", grid]) == 0
  assert capsys.readouterr().out == printed
  # a file: a one-line puzzle, a blank line, then the printed grid of another
  other = SUDOKU.replace("5", ".", 1)
  (tmp_path / "puzzles.txt").write_text(
    SUDOKU + "\n\n" + sudoku_task.render(sudoku_task.parse(other)) + "\n"
  )
  assert (
    solve.main(["--checkpoint", str(golden_dir), "--sudoku", str(tmp_path / "puzzles.txt")]) == 0
  )
  out = capsys.readouterr().out
  assert f"== 1 of 2: {tmp_path / 'puzzles.txt'} line 1 ==" in out
  assert f"== 2 of 2: {tmp_path / 'puzzles.txt'} line 3 ==" in out
  assert out.count("valid solution (complete") == 2 and out.count("segments: ") == 2
  assert re.search(r"^solved: [012] of 2$", out, re.M)
  first = out.split("== 2 of 2")[0].split("== 1 of 2")[1].split("\n", 1)[1]
  assert first == printed  # each puzzle's answer is the one it gets alone
  # the authors' CSV
  answer = SOLVED
  (tmp_path / "test.csv").write_text(
    f"source,question,answer,rating\nx,{SUDOKU},{answer},3\ny,{other},{answer},1\n"
  )
  assert solve.main(["--checkpoint", str(golden_dir), "--sudoku", str(tmp_path / "test.csv")]) == 0
  assert f"== 2 of 2: {tmp_path / 'test.csv'} row 3 ==" in capsys.readouterr().out
  # errors name the file and line
  (tmp_path / "bad.txt").write_text(SUDOKU + "\n" + "55" + SUDOKU[2:] + "\n")
  _refused(
    capsys,
    ["--checkpoint", str(golden_dir), "--sudoku", str(tmp_path / "bad.txt")],
    f"{tmp_path / 'bad.txt'} line 2: no solution: contradictory givens",
  )
  (tmp_path / "short.txt").write_text(SUDOKU + "\n" + SUDOKU[:40] + "\n\n" + SUDOKU + "\n")
  _refused(
    capsys,
    ["--checkpoint", str(golden_dir), "--sudoku", str(tmp_path / "short.txt")],
    f"{tmp_path / 'short.txt'} line 2: a Sudoku has 81 cells, got 40",
  )
  (tmp_path / "empty.txt").write_text("\n")
  _refused(
    capsys,
    ["--checkpoint", str(golden_dir), "--sudoku", str(tmp_path / "empty.txt")],
    "holds no Sudoku",
  )


def test_several_mazes_in_one_file(maze_dir, tmp_path, capsys):
  second = "S  #\n ## \n   G\n#   \n"
  for sep in ("", "\n"):
    (tmp_path / "two.txt").write_text(MAZE + sep + second)
    assert solve.main(["--checkpoint", str(maze_dir), "--maze", str(tmp_path / "two.txt")]) == 0
    out = capsys.readouterr().out
    assert "== 1 of 2: maze 1 ==\nmaze:\n" + MAZE in out
    assert "== 2 of 2: maze 2 ==\nmaze:\n" + second in out
    assert out.count("valid path: ") == 2 and re.search(r"^solved: [012] of 2$", out, re.M)


def test_parity(parity_dir, tmp_path, capsys):
  from hrm_jax.data import parity

  assert solve.main(["--checkpoint", str(parity_dir), "--parity", "0110 1001"]) == 0
  out = capsys.readouterr().out.splitlines()
  assert out[0] == "bits:   01101001"
  assert re.fullmatch(r"parity: [01?]{8}  \(prefix parity: 0 even, 1 odd\)", out[1])
  assert out[2] == "truth:  01001110"
  assert out[3].startswith("segments: ") and re.fullmatch(
    r"prefix right: \d of 8 bits \(.*\)", out[4]
  )
  inputs, labels = parity.encode(np.array([[0, 1, 1, 0, 1, 0, 0, 1]]))
  np.testing.assert_array_equal(
    parity_task.tokens_of(np.array([0, 1, 1, 0, 1, 0, 0, 1]), 9), inputs[0]
  )
  assert parity_task.render(labels[0]) == "01001110"
  (tmp_path / "bits.txt").write_text("01101001\n11111111\n")
  assert solve.main(["--checkpoint", str(parity_dir), "--parity", str(tmp_path / "bits.txt")]) == 0
  out = capsys.readouterr().out
  assert "== 2 of 2: string 2 ==\nbits:   11111111\n" in out and "truth:  10101010" in out
  _refused(
    capsys,
    ["--checkpoint", str(parity_dir), "--parity", "011"],
    "this model reads strings of 8 bits, got 3",
  )
  _refused(
    capsys, ["--checkpoint", str(parity_dir), "--parity", "0120"], "bad parity character(s) ['2']"
  )
  _refused(
    capsys,
    ["--checkpoint", str(parity_dir), "--parity", "bits.txt"],
    "no such parity file: bits.txt",
  )
  _refused(capsys, ["--checkpoint", str(parity_dir), "--sudoku", SUDOKU], "trained on parity")


def test_solve_from_a_training_run_dir(tmp_path, capsys, caplog):
  """A run's checkpoints (with EMA and the run-only items) answer like a model directory."""
  import logging

  from tests import tiny as tiny_run

  tiny_run.save_run_checkpoint(tmp_path / "run", 5, metric=0.0)
  (tmp_path / "m.txt").write_text(MAZE)
  with caplog.at_level(logging.WARNING):
    assert (
      solve.main(["--checkpoint", str(tmp_path / "run"), "--maze", str(tmp_path / "m.txt")]) == 0
    )
  assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  out = capsys.readouterr().out
  assert out.startswith("maze:\n" + MAZE) and "valid path: " in out


def test_restart_flags(parity_dir, capsys):
  flags = ["--checkpoint", str(parity_dir), "--parity", "0110 1001"]
  assert solve.main(flags) == 0
  plain = capsys.readouterr().out.splitlines()
  assert solve.main(flags + ["--restarts", "1", "--restart-noise", "0"]) == 0
  one = capsys.readouterr().out.splitlines()  # K=1 without noise: the plain answer exactly
  used = re.match(r"segments: (\d+) of", plain[3]).group(1)
  assert one[3] == plain[3] + f"; 1 restarts, {used} segments in all"
  assert one[:3] + one[4:] == plain[:3] + plain[4:]
  assert solve.main(flags + ["--restarts", "2", "--restart-select", "q"]) == 0
  two = capsys.readouterr().out.splitlines()
  spent = int(re.search(r"; 2 restarts, (\d+) segments in all", two[3]).group(1))
  assert int(re.match(r"segments: (\d+) of", two[3]).group(1)) <= spent
  with pytest.raises(test_time.TestTimeError, match="restarts must be a positive integer"):
    solve.main(flags + ["--restarts", "0"])
