"""Solve puzzles with a saved model: a Python function and a CLI.

    python -m hrm_jax.tools.solve --checkpoint DIR --sudoku "53..7....6..195...."
    python -m hrm_jax.tools.solve --checkpoint DIR --sudoku puzzles.txt
    python -m hrm_jax.tools.solve --checkpoint DIR --maze maze.txt
    python -m hrm_jax.tools.solve --checkpoint DIR --parity 0110100111
    python -m hrm_jax.tools.solve --checkpoint DIR --arc TASK.json [--identifiers identifiers.json]

Inputs:
  --sudoku  81 cells (digits 1-9; '.', '0' or '_' blank), on one line or over nine,
            with or without the separators solve prints (the grid it prints is accepted
            as is), or a file of one or more such puzzles (a blank line may separate
            them), or the authors' CSV (header source,question,answer,rating).
  --maze    a file of one or more square mazes ('#' wall, ' ' free, one 'S', one 'G'),
            each of the model's size, optionally separated by a blank line. Trailing
            spaces may be stripped (a row of free cells may then be an empty line).
  --parity  a string of 0/1 bits (the prefix-parity task), or a file of one per line.
  --arc     an ARC task JSON: every test input is answered.

The model runs `halt_max_steps` ACT segments (hrm_jax.training.evaluate's scan); each
answer is the one of the first segment where the halting rule fires (default
act.DEFAULT_HALT_RULE, as at evaluation and training) and is printed with the
segments used and the halting confidence sigmoid(q_halt). Malformed puzzles
(wrong size, unknown characters) and puzzles without a solution (contradicting
or incompletable Sudoku givens, a maze without an S-G path) are refused in one
line before the model is loaded, with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from hrm_jax import act, errors, tasks
from hrm_jax.training import inference, model_dir
from hrm_jax.config import HRMConfig
from hrm_jax.data import maze as maze_data
from hrm_jax.data import parity as parity_data
from hrm_jax.errors import UserError

SUDOKU_BLANKS = ".0_"
SUDOKU_CELLS = "123456789" + SUDOKU_BLANKS
MAZE_INPUT_CHARS = "# SG"


class PuzzleError(UserError, ValueError):
  """A puzzle that is malformed, has no solution or does not fit the model."""


# ----------------------------------------------------------------------------- input text

def _where(source: str | None, line: int, index: int) -> str:
  """The prefix of an error about puzzle `index` (0-based) starting at `line`."""
  if source:
    return f"{source} line {line}: "
  return f"puzzle {index + 1}: " if index else ""


def text_or_file(arg: str, what: str) -> tuple[str, str | None]:
  """(text, file name or None): `arg` itself, or the file it names.

  An argument that looks like a file name (a '/' or an extension) but names no
  file is refused as a missing file, not parsed as a puzzle.
  """
  try:
    is_path = "\n" not in arg and Path(arg).exists()
  except OSError:  # e.g. a name too long to be a file: puzzle text
    is_path = False
  if is_path:
    return read_text(arg, what), arg
  if "\n" not in arg and ("/" in arg or "\\" in arg or re.search(r"\.[A-Za-z]\w*$", arg)):
    raise PuzzleError(f"no such {what} file: {arg}")
  return arg, None


def read_text(path: str, what: str) -> str:
  """The text of file `path`; a missing or unreadable file is a PuzzleError saying so."""
  p = Path(path)
  if not p.exists():
    raise PuzzleError(f"no such {what} file: {path}")
  try:
    return p.read_text()
  except (OSError, UnicodeDecodeError) as e:
    raise PuzzleError(f"cannot read the {what} file {path}: {e}") from e


# ----------------------------------------------------------------------------- Sudoku

def _sudoku_units():
  units = [(f"row {r + 1}", [(r, c) for c in range(9)]) for r in range(9)]
  units += [(f"column {c + 1}", [(r, c) for r in range(9)]) for c in range(9)]
  units += [(f"box {b + 1}", [(3 * (b // 3) + i, 3 * (b % 3) + j) for i in range(3)
                              for j in range(3)]) for b in range(9)]
  return units


def check_sudoku(digits_81: np.ndarray) -> None:
  """Raise PuzzleError unless the givens (0 = blank) are consistent and have a completion."""
  from hrm_jax.data import sudoku
  digits = np.asarray(digits_81).reshape(9, 9)
  for name, cells_rc in _sudoku_units():
    seen: dict[int, tuple[int, int]] = {}
    for r, c in cells_rc:
      d = int(digits[r, c])
      if d and d in seen:
        (r0, c0) = seen[d]
        raise PuzzleError(f"no solution: contradictory givens: digit {d} appears twice in "
                          f"{name} (row {r0 + 1} col {c0 + 1} and row {r + 1} col {c + 1})")
      seen[d] = (r, c)
  if sudoku.count_solutions(digits, limit=1) == 0:
    raise PuzzleError("no solution: the givens do not contradict each other directly, but no "
                      "completion of the grid satisfies them")


def _sudoku_tokens(cells: str) -> np.ndarray:
  digits = np.array([0 if ch in SUDOKU_BLANKS else int(ch) for ch in cells])
  return np.where(digits > 0, digits + 1, 1).astype(np.int32)


def split_sudokus(text: str, source: str | None = None) -> list[np.ndarray]:
  """Every puzzle in `text` as tokens [81] (blank 1, digit d -> d + 1), in order.

  A puzzle is 81 cells over one or more consecutive lines; whitespace, '|' and
  separator lines of '-' and '+' (as `render_sudoku` prints) are ignored. A blank
  line ends a puzzle. Malformed or unsolvable puzzles raise PuzzleError naming the
  puzzle (file and line with `source`) and the problem.
  """
  return [tokens for _, tokens in _scan_sudokus(text, source)]


def _scan_sudokus(text: str, source: str | None) -> list[tuple[int, np.ndarray]]:
  """(first line, tokens) of every puzzle in `text`; see `split_sudokus`."""
  found: list[tuple[int, str]] = []
  cells, first = "", 0

  def incomplete(count: int) -> PuzzleError:
    return PuzzleError(f"{_where(source, first, len(found))}a Sudoku has 81 cells, got {count} "
                       "(digits 1-9, '.' or 0 for blanks)")

  for no, raw in enumerate(text.splitlines(), 1):
    line = "".join(raw.replace("|", " ").split())
    if not line:
      if cells:
        raise incomplete(len(cells))
      continue
    if set(line) <= set("-+"):  # a box separator line
      continue
    if not cells:
      first = no
    if len(cells) + len(line) > 81:
      raise incomplete(len(cells) + len(line))
    for j, ch in enumerate(line):
      if ch not in SUDOKU_CELLS:
        i = len(cells) + j
        raise PuzzleError(f"{_where(source, no, len(found))}bad Sudoku character {ch!r} at row "
                          f"{i // 9 + 1}, column {i % 9 + 1}: use digits 1-9 and '.', '0' or "
                          "'_' for blanks")
    cells += line
    if len(cells) == 81:
      found.append((first, cells))
      cells = ""
  if source and not found and not cells:
    raise PuzzleError(f"{source} holds no Sudoku (81 cells: digits 1-9, '.' or 0 for blanks)")
  if cells or not found:
    raise incomplete(len(cells))
  puzzles = []
  for k, (line, cells) in enumerate(found):
    tokens = _sudoku_tokens(cells)
    try:
      check_sudoku(tokens - 1)
    except PuzzleError as e:
      raise PuzzleError(f"{_where(source, line, k)}{e}") from None
    puzzles.append((line, tokens))
  return puzzles


def parse_sudoku(text: str) -> np.ndarray:
  """One Sudoku (81 cells, as `split_sudokus` reads them) -> tokens [81]."""
  puzzles = split_sudokus(text)
  if len(puzzles) != 1:
    raise PuzzleError(f"expected one Sudoku, got {len(puzzles)}")
  return puzzles[0]


def read_sudokus(arg: str) -> tuple[list[np.ndarray], list[str]]:
  """(puzzles, where each starts) from a --sudoku argument: puzzle text or a file of them."""
  text, source = text_or_file(arg, "Sudoku")
  first = text.lstrip().split("\n", 1)[0].strip()
  from hrm_jax.data import sudoku as sudoku_data
  if source and [h.strip() for h in first.split(",")] in sudoku_data.CSV_HEADERS:
    # The reader checks every row's answer completes its question: all are solvable.
    q, _, _ = sudoku_data.read_sudoku_csv(source)
    puzzles = [np.where(row > 0, row + 1, 1).astype(np.int32) for row in q]
    return puzzles, [f"{source} row {k + 2}" for k in range(len(puzzles))]
  found = _scan_sudokus(text, source)
  names = [f"{source} line {line}" if source else f"puzzle {k + 1}"
           for k, (line, _) in enumerate(found)]
  return [tokens for _, tokens in found], names


def sudoku_is_solved(puzzle_tokens: np.ndarray, pred_tokens: np.ndarray) -> bool:
  """True if `pred_tokens` is a complete valid grid that keeps every given of the puzzle."""
  ok = tasks.sudoku_metrics(np.asarray(puzzle_tokens).reshape(1, -1),
                            np.asarray(pred_tokens).reshape(1, -1))["valid_solution"]
  return bool(ok[0])


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

def _maze_blocks(lines: list[str], n: int) -> list[tuple[int, list[str]]] | None:
  """(first line number, n rows) of each maze when `lines` hold whole mazes, else None."""
  if lines and len(lines) % n == 0:
    return [(i + 1, lines[i:i + n]) for i in range(0, len(lines), n)]
  if len(lines) > n and (len(lines) + 1) % (n + 1) == 0:
    starts = range(0, len(lines), n + 1)
    if all(not lines[i + n].strip() for i in starts if i + n < len(lines)):
      return [(i + 1, lines[i:i + n]) for i in starts]
  return None


def split_mazes(text: str, n: int, source: str | None = None) -> list[np.ndarray]:
  """Every n x n maze in `text` as tokens [n*n] (see the module docstring for the layout).

  Short rows are completed with free cells (an editor strips trailing spaces).
  Malformed mazes and mazes without a path from S to G raise PuzzleError.
  """
  lines = [ln.rstrip("\r") for ln in text.split("\n")]
  if lines and lines[-1] == "":
    lines.pop()  # the final newline ends the last row; it starts no row
  blocks = None
  while blocks is None:
    blocks = _maze_blocks(lines, n)
    if blocks is None:
      if not lines or lines[-1].strip():
        break
      lines.pop()  # trailing blank lines that are not needed as rows
  if blocks is None:
    rows = len(lines)
    raise PuzzleError(f"the maze must have {n} rows of {n} characters, got {rows} rows"
                      + (f" (several mazes: {n} rows each, optionally separated by one blank "
                         "line)" if rows > n else ""))
  mazes = []
  for k, (first, rows) in enumerate(blocks):
    where = (f"{source} line {first}: " if source and len(blocks) > 1
             else f"maze {k + 1}: " if len(blocks) > 1 else "")
    for i, ln in enumerate(rows):
      if len(ln) > n:
        raise PuzzleError(f"{where}maze row {i + 1} has {len(ln)} characters, expected {n}")
      bad = sorted(set(ln) - set(MAZE_INPUT_CHARS))
      if bad:
        raise PuzzleError(f"{where}bad maze character(s) {bad} in row {i + 1}: use '#' wall, "
                          "' ' free, 'S' start, 'G' goal")
    flat = "".join(ln.ljust(n) for ln in rows)
    for ch, what in (("S", "start"), ("G", "goal")):
      if flat.count(ch) != 1:
        raise PuzzleError(f"{where}the maze needs exactly one {what} '{ch}', "
                          f"found {flat.count(ch)}")
    tokens = maze_data.chars_to_tokens(flat).astype(np.int32)
    try:
      maze_data.solve(tokens)
    except maze_data.MazeError as e:
      raise PuzzleError(f"{where}no solution: {e}") from None
    mazes.append(tokens)
  return mazes


def parse_maze(text: str, seq_len: int) -> np.ndarray:
  """One square text maze of seq_len cells -> tokens (as `split_mazes` reads it)."""
  n = int(round(seq_len ** 0.5))
  if n * n != seq_len:
    raise PuzzleError(f"the model's sequence length {seq_len} is not a square maze")
  mazes = split_mazes(text, n)
  if len(mazes) != 1:
    raise PuzzleError(f"expected one maze, got {len(mazes)}")
  return mazes[0]


def render_maze(tokens: np.ndarray) -> str:
  """Tokens -> the square character grid ('o' path; '?' for PAD)."""
  flat = np.asarray(tokens).ravel()
  n = int(round(len(flat) ** 0.5))
  charset = maze_data.CHARSET
  chars = ["?" if not 1 <= t <= len(charset) else charset[t - 1] for t in flat.tolist()]
  return "\n".join("".join(chars[r * n:(r + 1) * n]) for r in range(n))


# ----------------------------------------------------------------------------- Parity

def split_parity(text: str, source: str | None = None) -> list[np.ndarray]:
  """Bit strings of '0'/'1' (one per line; spaces ignored) -> [L] uint8 arrays of 0/1."""
  found = []
  for no, raw in enumerate(text.splitlines() or [""], 1):
    bits = "".join(raw.split())
    if not bits:
      continue
    bad = sorted(set(bits) - set("01"))
    if bad:
      raise PuzzleError(f"{_where(source, no, len(found))}bad parity character(s) {bad}: a "
                        "string of 0 and 1 bits")
    found.append(np.frombuffer(bits.encode(), np.uint8) - ord("0"))
  if not found:
    raise PuzzleError("no bits given: the parity task takes a string of 0 and 1")
  return found


def parity_tokens(bits_L: np.ndarray, seq_len: int) -> np.ndarray:
  """The model input (BOS, then the bits) of one bit string; its length must fit seq_len."""
  if len(bits_L) != seq_len - 1:
    raise PuzzleError(f"this model reads strings of {seq_len - 1} bits, got {len(bits_L)}")
  return parity_data.encode(bits_L[None])[0][0].astype(np.int32)


def render_parity(tokens: np.ndarray) -> str:
  """Predicted labels -> '0' even / '1' odd per bit ('?' for any other token; BOS dropped)."""
  names = {parity_data.EVEN: "0", parity_data.ODD: "1"}
  return "".join(names.get(int(t), "?") for t in np.asarray(tokens)[1:])


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


def _read_json(path: str, what: str):
  try:
    return json.loads(read_text(path, what))
  except json.JSONDecodeError as e:
    raise PuzzleError(f"{path} is not valid JSON: {e}") from e


# ----------------------------------------------------------------------------- CLI

def _check_fits(task: str, config: HRMConfig, meta: dict) -> None:
  from hrm_jax.interop.convert import TASKS
  known = meta.get("task")
  if known and known != task:
    raise PuzzleError(f"this checkpoint was trained on {known}, not {task}")
  if task == "parity":
    seq_len, vocab = config.seq_len, parity_data.VOCAB_SIZE  # any string length
  else:
    seq_len, vocab = TASKS[task]
  if task == "maze":
    seq_len = config.seq_len  # any square size
  if (config.seq_len, config.vocab_size) != (seq_len, vocab):
    raise PuzzleError(f"this checkpoint (seq_len {config.seq_len}, vocab {config.vocab_size}) "
                      f"does not fit {task} (seq_len {seq_len}, vocab {vocab})")


def _task(args: argparse.Namespace) -> str:
  return next(t for t in ("sudoku", "maze", "parity", "arc") if getattr(args, t) is not None)


def _yes(ok) -> str:
  return "yes" if ok else "no"


def _answer(task: str, puzzle: np.ndarray, pred: np.ndarray, head: str) -> tuple[list[str], bool]:
  """The printed answer to one Sudoku, maze or bit string, and whether it is right.

  Right is judged as the task's evaluation does (hrm_jax.tasks, hrm_jax.data).
  """
  if task == "sudoku":
    ok = sudoku_is_solved(puzzle, pred)
    return (["puzzle:", render_sudoku(puzzle), "solution:", render_sudoku(pred), head,
             f"valid solution (complete, consistent, keeps the givens): {_yes(ok)}"], ok)
  if task == "maze":
    m = tasks.maze_path_metrics(puzzle[None], pred[None])
    ok = bool(m["valid_path"][0])
    return (["maze:", render_maze(puzzle), "path:", render_maze(pred), head,
             f"valid path: {_yes(ok)}; shortest: {_yes(m['optimal_path'][0])}"], ok)
  bits = puzzle[1:] - parity_data.BIT0
  _, labels = parity_data.encode(bits[None])
  right = int(parity_data.first_error(labels, pred[None])[0])
  ok = right == len(bits)
  first = "all right" if ok else f"the first error is at bit {right + 1}"
  return ([f"bits:   {''.join(map(str, bits.tolist()))}",
           f"parity: {render_parity(pred)}  (prefix parity: 0 even, 1 odd)",
           f"truth:  {render_parity(labels[0])}", head,
           f"prefix right: {right} of {len(bits)} bits ({first})"], ok)


def run(args: argparse.Namespace) -> str:
  """Solve the puzzle(s) named by parsed CLI `args`; returns the text to print."""
  task = _task(args)
  names: list[str] = []
  if task == "sudoku":
    puzzles, names = read_sudokus(args.sudoku)
  elif task == "maze":
    maze_text = read_text(args.maze, "maze")
  elif task == "parity":
    text, source = text_or_file(args.parity, "parity")
    bit_strings = split_parity(text, source)
  else:
    grids, answers = parse_arc(_read_json(args.arc, "ARC task"))
  config, meta = model_dir.read_config(args.checkpoint)  # no arrays yet
  _check_fits(task, config, meta)
  notes, pid = [], 0
  if task == "maze":
    n = int(round(config.seq_len ** 0.5))
    if n * n != config.seq_len:
      raise PuzzleError(f"the model's sequence length {config.seq_len} is not a square maze")
    puzzles = split_mazes(maze_text, n, args.maze)
  elif task == "parity":
    puzzles = [parity_tokens(b, config.seq_len) for b in bit_strings]
  elif task == "arc":
    from hrm_jax.data.arc import encode_grid
    puzzles = [encode_grid(g).astype(np.int32) for g in grids]
    identifiers, id_file = None, args.identifiers
    if not id_file and meta.get("data_path"):  # the dataset the model was trained on, if here
      guess = Path(meta["data_path"]) / "identifiers.json"
      id_file = str(guess) if guess.is_file() else None
    if id_file:
      identifiers = _read_json(id_file, "identifiers")
    pid, note = arc_puzzle_id(args.name or Path(args.arc).stem, identifiers)
    if note:
      notes.append("note: " + note)
  names = names or [f"{'maze' if task == 'maze' else 'string'} {k + 1}"
                    for k in range(len(puzzles))]
  params, config, meta = model_dir.load_for_eval(args.checkpoint)
  inputs = np.stack(puzzles)
  sol = inference.solve(params, config, inputs, pid, max_steps=args.max_steps, eval_halt=args.halt)
  limit = int(args.max_steps or config.halt_max_steps)
  out, several, solved = [], len(inputs) > 1 and task != "arc", 0
  for i in range(len(inputs)):
    how = "halted by the Q head" if sol.halted_by_q[i] else "segment limit reached"
    head = (f"segments: {sol.segments[i]} of {limit} ({how}); "
            f"halting confidence sigmoid(q_halt) = {sol.confidence[i]:.4f}")
    pred = sol.prediction[i]
    if task == "arc":
      from hrm_jax.data.arc import decode_grid
      grid = decode_grid(pred)
      out += [f"test {i}: predicted output {grid.shape[0]}x{grid.shape[1]}:", render_grid(grid),
              head]
      if answers[i] is not None:
        same = grid.shape == answers[i].shape and bool((grid == answers[i]).all())
        out.append(f"matches the given output: {_yes(same)}")
      continue
    if several:
      out.append(f"== {i + 1} of {len(inputs)}: {names[i]} ==")
    lines, ok = _answer(task, inputs[i], pred, head)
    out += lines
    solved += ok
  if several:
    out.append(f"solved: {solved} of {len(inputs)}")
  return "\n".join(notes + out)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="python -m hrm_jax.tools.solve",
                              description=__doc__.split("\n\n")[0],
                              epilog=__doc__.split("\n\n", 2)[2].split("\n\nThe model")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--checkpoint", required=True, help="model directory (hrm_jax.interop.convert output, "
                 "or a training run's directory or checkpoint)")
  which = p.add_mutually_exclusive_group(required=True)
  which.add_argument("--sudoku", help="81 cells, digits 1-9 and '.'/0 blanks, or a file of "
                     "puzzles")
  which.add_argument("--maze", help="text file: square grid(s) of '#', ' ', 'S', 'G'")
  which.add_argument("--parity", help="a string of 0/1 bits, or a file of one per line")
  which.add_argument("--arc", help="ARC task JSON ({'train': [...], 'test': [{'input': ...}]})")
  p.add_argument("--identifiers", help="ARC: the dataset's identifiers.json (task -> puzzle id)")
  p.add_argument("--name", help="ARC: task name in identifiers.json (default: the file's stem)")
  p.add_argument("--max-steps", type=int,
                 help="segment limit (default: the model's halt_max_steps)")
  p.add_argument("--halt", default=act.DEFAULT_HALT_RULE, choices=inference.HALT_RULES,
                 help="halting rule: the answer is the first segment's where it fires "
                 f"(default {act.DEFAULT_HALT_RULE}, as evaluation and training; 'none': the "
                 "last segment's)")
  return p


def main(argv: list[str] | None = None) -> int:
  """CLI entry point: prints the answers. Bad input raises a UserError (see `errors.guard`)."""
  args = _parser().parse_args(argv)
  if args.max_steps is not None and args.max_steps < 1:
    raise UserError("--max-steps must be >= 1")
  print(run(args))
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
