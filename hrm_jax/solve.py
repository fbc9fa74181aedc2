"""Solve one puzzle with a saved model: a Python function and a CLI.

    python -m hrm_jax.solve --checkpoint DIR --sudoku "53..7....6..195...."
    python -m hrm_jax.solve --checkpoint DIR --maze maze.txt
    python -m hrm_jax.solve --checkpoint DIR --arc TASK.json [--identifiers identifiers.json]

The model runs ACT segments with halting at evaluation (by default: stop at the
first segment where q_halt > 0, at most halt_max_steps), and the answer of that
segment is printed with the number of segments used and the halting confidence
sigmoid(q_halt). Malformed puzzles (wrong size, unknown characters, contradictory
Sudoku givens, a maze without exactly one S and one G) are refused with a message
and exit code 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hrm_jax import act
from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError

IGNORE = -100
SUDOKU_BLANKS = ".0_"
MAZE_INPUT_CHARS = "# SG"


class PuzzleError(UserError, ValueError):
  """A puzzle that is malformed or does not fit the model; the message says what is wrong."""


@dataclasses.dataclass
class Solution:
  """Model answers for a batch of puzzles (one row each)."""
  prediction: np.ndarray   # [N, S] int32 tokens: argmax of the logits at the halting segment
  segments: np.ndarray     # [N] int32 segments run until the halt
  confidence: np.ndarray   # [N] float32 sigmoid(q_halt) at the halting segment
  halted_by_q: np.ndarray  # [N] bool: the Q head halted it (not the segment limit)


@functools.lru_cache(maxsize=8)
def _step_fn(config: HRMConfig, max_steps: int, eval_halt: str):
  return jax.jit(functools.partial(act.apply, config=config, train=False,
                                   halt_max_steps=max_steps, eval_halt=eval_halt))


def solve(params: dict, config: HRMConfig, inputs, puzzle_identifiers=None, *,
          max_steps: int | None = None, eval_halt: str = "q_halt") -> Solution:
  """Run ACT on token rows `inputs` [N, S] until each row halts; return the answers.

  Each row's answer is taken at the first segment where it halts (rule `eval_halt`:
  "q_halt" = q_halt > 0, "q_halt_gt_continue", or "none" = run all segments), at
  most `max_steps` (default: config.halt_max_steps) segments.
  """
  inputs = np.asarray(inputs, np.int32)
  if inputs.ndim == 1:
    inputs = inputs[None]
  n = len(inputs)
  pids = np.zeros(n, np.int32) if puzzle_identifiers is None else \
      np.broadcast_to(np.asarray(puzzle_identifiers, np.int32), (n,))
  batch = {"inputs": jnp.asarray(inputs), "labels": jnp.full(inputs.shape, IGNORE, jnp.int32),
           "puzzle_identifiers": jnp.asarray(pids)}
  max_steps = int(max_steps or config.halt_max_steps)
  step = _step_fn(config, max_steps, eval_halt)
  carry = act.initial_carry(batch, config)
  done = np.zeros(n, bool)
  sol = Solution(np.zeros_like(inputs), np.zeros(n, np.int32), np.zeros(n, np.float32),
                 np.zeros(n, bool))
  for _ in range(max_steps):
    carry, out = step(params, carry, batch)
    halted, steps = np.asarray(carry.halted), np.asarray(carry.steps)
    now = halted & ~done
    q_halt = np.asarray(out["q_halt_logits"], np.float32)
    sol.prediction[now] = np.asarray(jnp.argmax(out["logits"], axis=-1))[now]
    sol.segments[now] = steps[now]
    sol.confidence[now] = 1.0 / (1.0 + np.exp(-q_halt[now]))
    sol.halted_by_q[now] = steps[now] < max_steps
    done |= halted
    if done.all():
      break
  return sol


# ----------------------------------------------------------------------------- Sudoku

def parse_sudoku(text: str) -> np.ndarray:
  """81 cells (digits 1-9, blank '.', '0' or '_'; whitespace ignored) -> tokens [81]."""
  cells = "".join(text.split())
  if len(cells) != 81:
    raise PuzzleError(f"a Sudoku has 81 cells, got {len(cells)} (digits 1-9, '.' or 0 for blanks)")
  for i, ch in enumerate(cells):
    if ch not in "123456789" and ch not in SUDOKU_BLANKS:
      raise PuzzleError(f"bad Sudoku character {ch!r} at row {i // 9 + 1}, column {i % 9 + 1}: "
                        "use digits 1-9 and '.', '0' or '_' for blanks")
  digits = np.array([0 if ch in SUDOKU_BLANKS else int(ch) for ch in cells]).reshape(9, 9)
  units = [(f"row {r + 1}", [(r, c) for c in range(9)]) for r in range(9)]
  units += [(f"column {c + 1}", [(r, c) for r in range(9)]) for c in range(9)]
  units += [(f"box {b + 1}", [(3 * (b // 3) + i, 3 * (b % 3) + j) for i in range(3)
                              for j in range(3)]) for b in range(9)]
  for name, cells_rc in units:
    seen: dict[int, tuple[int, int]] = {}
    for r, c in cells_rc:
      d = int(digits[r, c])
      if d and d in seen:
        (r0, c0) = seen[d]
        raise PuzzleError(f"contradictory givens: digit {d} appears twice in {name} "
                          f"(row {r0 + 1} col {c0 + 1} and row {r + 1} col {c + 1})")
      seen[d] = (r, c)
  return np.where(digits > 0, digits + 1, 1).ravel().astype(np.int32)


def sudoku_is_solved(puzzle_tokens: np.ndarray, pred_tokens: np.ndarray) -> bool:
  """True if `pred_tokens` is a complete valid grid that keeps every given of the puzzle."""
  from hrm_jax.data.augment import is_valid_solution
  puzzle, pred = np.asarray(puzzle_tokens).ravel(), np.asarray(pred_tokens).ravel()
  givens = puzzle > 1
  if (pred[givens] != puzzle[givens]).any() or ((pred < 2) | (pred > 10)).any():
    return False
  return bool(is_valid_solution(pred.astype(np.int64) - 1))


def render_sudoku(tokens: np.ndarray) -> str:
  """Tokens [81] -> 9 lines of digits ('.' for blank/PAD) with box separators."""
  chars = ["." if t < 2 else str(t - 1) for t in np.asarray(tokens).ravel()]
  lines = []
  for r in range(9):
    row = chars[9 * r:9 * r + 9]
    lines.append(" | ".join(" ".join(row[i:i + 3]) for i in (0, 3, 6)))
    if r in (2, 5):
      lines.append("------+-------+------")
  return "\n".join(lines)


# ----------------------------------------------------------------------------- Maze

def parse_maze(text: str, seq_len: int) -> np.ndarray:
  """A square text maze ('#' wall, ' ' free, one 'S', one 'G') of seq_len cells -> tokens."""
  from hrm_jax.data.maze import chars_to_tokens
  lines = text.split("\n")
  while lines and not lines[-1].strip("\r"):
    lines.pop()
  lines = [ln.rstrip("\r") for ln in lines]
  n = int(round(seq_len ** 0.5))
  if n * n != seq_len:
    raise PuzzleError(f"the model's sequence length {seq_len} is not a square maze")
  if len(lines) != n:
    raise PuzzleError(f"the maze must have {n} rows of {n} characters, got {len(lines)} rows")
  for i, ln in enumerate(lines):
    if len(ln) != n:
      raise PuzzleError(f"maze row {i + 1} has {len(ln)} characters, expected {n}")
    bad = sorted(set(ln) - set(MAZE_INPUT_CHARS))
    if bad:
      raise PuzzleError(f"bad maze character(s) {bad} in row {i + 1}: use '#' wall, ' ' free, "
                        "'S' start, 'G' goal")
  flat = "".join(lines)
  for ch, what in (("S", "start"), ("G", "goal")):
    if flat.count(ch) != 1:
      raise PuzzleError(f"the maze needs exactly one {what} '{ch}', found {flat.count(ch)}")
  return chars_to_tokens(flat).astype(np.int32)


def render_maze(tokens: np.ndarray) -> str:
  """Tokens -> the square character grid ('o' path; '?' for PAD)."""
  from hrm_jax.data.maze import CHARSET
  flat = np.asarray(tokens).ravel()
  n = int(round(len(flat) ** 0.5))
  chars = ["?" if not 1 <= t <= len(CHARSET) else CHARSET[t - 1] for t in flat.tolist()]
  return "\n".join("".join(chars[r * n:(r + 1) * n]) for r in range(n))


# ----------------------------------------------------------------------------- ARC

def parse_arc(raw) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
  """An ARC task dict -> (test input grids, test output grids or None)."""
  from hrm_jax.data.arc import ArcError, _grid
  if not isinstance(raw, dict) or not isinstance(raw.get("test"), list) or not raw["test"]:
    raise PuzzleError("an ARC task is a JSON object with a non-empty 'test' list")
  inputs, outputs = [], []
  try:
    for i, ex in enumerate(raw["test"]):
      if not isinstance(ex, dict) or "input" not in ex:
        raise PuzzleError(f"test[{i}] has no 'input' grid")
      inputs.append(_grid(ex["input"], f"test[{i}].input"))
      outputs.append(_grid(ex["output"], f"test[{i}].output") if "output" in ex else None)
  except ArcError as e:
    raise PuzzleError(str(e)) from e
  return inputs, outputs


def render_grid(grid: np.ndarray) -> str:
  """Colour grid -> lines of digits."""
  if grid.size == 0:
    return "(empty grid)"
  return "\n".join("".join(str(int(v)) for v in row) for row in grid)


def arc_puzzle_id(name: str, identifiers: list[str] | None) -> tuple[int, str | None]:
  """The puzzle id of task `name` (its un-augmented puzzle), or 0 with a warning."""
  if identifiers is None:
    return 0, ("no --identifiers given: the task's puzzle embedding is unknown, so the blank "
               "identifier 0 is used (ARC models need the task's own id to do well)")
  if name in identifiers:
    return identifiers.index(name), None
  raise PuzzleError(f"task {name!r} is not among the model's {len(identifiers)} puzzle "
                    "identifiers; an ARC model only knows the tasks it was trained with")


# ----------------------------------------------------------------------------- CLI

def _check_fits(task: str, config: HRMConfig, meta: dict) -> None:
  from hrm_jax.convert import TASKS
  known = meta.get("task")
  if known and known != task:
    raise PuzzleError(f"this checkpoint was trained on {known}, not {task}")
  seq_len, vocab = TASKS[task]
  if task == "maze":
    seq_len = config.seq_len  # any square size
  if (config.seq_len, config.vocab_size) != (seq_len, vocab):
    raise PuzzleError(f"this checkpoint (seq_len {config.seq_len}, vocab {config.vocab_size}) "
                      f"does not fit {task} (seq_len {seq_len}, vocab {vocab})")


def _load(checkpoint: str):
  """(params, config, meta): via the evaluator's loader (run dirs, EMA) when present."""
  try:
    from hrm_jax.evaluate import load_for_eval
  except ImportError:
    from hrm_jax.export import load_model
    return load_model(checkpoint)
  return load_for_eval(checkpoint)


def _read(path: str, what: str) -> str:
  try:
    return Path(path).read_text()
  except (OSError, UnicodeDecodeError) as e:
    raise PuzzleError(f"cannot read the {what} file {path}: {e}") from e


def run(args: argparse.Namespace) -> str:
  """Solve the puzzle named by parsed CLI `args`; returns the text to print."""
  task = "sudoku" if args.sudoku is not None else "maze" if args.maze is not None else "arc"
  if task == "sudoku":
    text = args.sudoku
    if Path(text).is_file():
      text = _read(text, "Sudoku")
    inputs = parse_sudoku(text)[None]
  elif task == "maze":
    maze_text = _read(args.maze, "maze")
  else:
    try:
      raw = json.loads(_read(args.arc, "ARC task"))
    except json.JSONDecodeError as e:
      raise PuzzleError(f"{args.arc} is not valid JSON: {e}") from e
    grids, answers = parse_arc(raw)
  params, config, meta = _load(args.checkpoint)
  _check_fits(task, config, meta)
  notes, pid = [], 0
  if task == "maze":
    inputs = parse_maze(maze_text, config.seq_len)[None]
  elif task == "arc":
    from hrm_jax.data.arc import encode_grid
    inputs = np.stack([encode_grid(g) for g in grids]).astype(np.int32)
    identifiers, id_file = None, args.identifiers
    if not id_file and meta.get("data_path"):  # the dataset the model was trained on, if here
      guess = Path(meta["data_path"]) / "identifiers.json"
      id_file = str(guess) if guess.is_file() else None
    if id_file:
      try:
        identifiers = json.loads(_read(id_file, "identifiers"))
      except json.JSONDecodeError as e:
        raise PuzzleError(f"{id_file} is not valid JSON: {e}") from e
    pid, note = arc_puzzle_id(args.name or Path(args.arc).stem, identifiers)
    if note:
      notes.append("note: " + note)
  sol = solve(params, config, inputs, pid, max_steps=args.max_steps, eval_halt=args.halt)
  limit = int(args.max_steps or config.halt_max_steps)
  out = []
  for i in range(len(inputs)):
    how = "halted by the Q head" if sol.halted_by_q[i] else "segment limit reached"
    head = (f"segments: {sol.segments[i]} of {limit} ({how}); "
            f"halting confidence sigmoid(q_halt) = {sol.confidence[i]:.4f}")
    pred = sol.prediction[i]
    if task == "sudoku":
      ok = sudoku_is_solved(inputs[0], pred)
      out += ["puzzle:", render_sudoku(inputs[0]), "solution:", render_sudoku(pred), head,
              f"valid solution (complete, consistent, keeps the givens): {'yes' if ok else 'no'}"]
    elif task == "maze":
      from hrm_jax.data.maze import MazeError, check_path
      try:
        valid, optimal = check_path(inputs[0], pred)
      except MazeError:  # e.g. a maze with no path from S to G
        valid = optimal = False
      out += ["path:", render_maze(pred), head,
              f"valid path: {'yes' if valid else 'no'}; shortest: {'yes' if optimal else 'no'}"]
    else:
      from hrm_jax.data.arc import decode_grid
      grid = decode_grid(pred)
      out += [f"test {i}: predicted output {grid.shape[0]}x{grid.shape[1]}:", render_grid(grid),
              head]
      if answers[i] is not None:
        same = grid.shape == answers[i].shape and bool((grid == answers[i]).all())
        out.append(f"matches the given output: {'yes' if same else 'no'}")
  return "\n".join(notes + out)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="python -m hrm_jax.solve", description=__doc__.split("\n\n")[0])
  p.add_argument("--checkpoint", required=True, help="model directory (hrm_jax.convert output, "
                 "or a training run's checkpoint)")
  which = p.add_mutually_exclusive_group(required=True)
  which.add_argument("--sudoku", help="81 cells, digits 1-9 and '.'/0 blanks (or a file of them)")
  which.add_argument("--maze", help="text file: square grid of '#', ' ', 'S', 'G'")
  which.add_argument("--arc", help="ARC task JSON ({'train': [...], 'test': [{'input': ...}]})")
  p.add_argument("--identifiers", help="ARC: the dataset's identifiers.json (task -> puzzle id)")
  p.add_argument("--name", help="ARC: task name in identifiers.json (default: the file's stem)")
  p.add_argument("--max-steps", type=int, help="segment limit (default: the model's halt_max_steps)")
  p.add_argument("--halt", default="q_halt", choices=("q_halt", "q_halt_gt_continue", "none"),
                 help="halting rule at evaluation (default q_halt > 0)")
  return p


def main(argv: list[str] | None = None) -> int:
  """CLI entry point: prints the answer; exit code 2 for a malformed puzzle or checkpoint."""
  from hrm_jax.export import ModelDirError
  args = _parser().parse_args(argv)
  if args.max_steps is not None and args.max_steps < 1:
    print("error: --max-steps must be >= 1", file=sys.stderr)
    return 2
  try:
    print(run(args))
  except (PuzzleError, ModelDirError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
