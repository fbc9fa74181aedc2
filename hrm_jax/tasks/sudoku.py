"""The Sudoku task: 9x9 grids (token 1 blank, d + 1 digit d), valid-solution accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.tasks.base import (
  PuzzleError,
  Puzzles,
  Task,
  grid_axes,
  square,
  text_or_file,
  where,
  yes,
)

SEQ_LEN = 81
VOCAB_SIZE = 11  # PAD, blank, digits 1-9
BLANKS = ".0_"
CELLS = "123456789" + BLANKS
BOX_RULE = "------+-------+------"  # the separator line `render` prints between boxes


def solved(inputs_NxS: np.ndarray, preds_NxS: np.ndarray) -> np.ndarray:
  """Per example: is the prediction a complete valid grid that keeps every given? ([N] bool)."""
  from hrm_jax.data.augment import is_valid_solution

  inputs_NxS, preds_NxS = np.asarray(inputs_NxS), np.asarray(preds_NxS)
  digits = preds_NxS.astype(np.int64) - 1  # token d + 1 -> digit d
  givens = inputs_NxS > 1
  keeps = np.all(~givens | (preds_NxS == inputs_NxS), axis=1)
  return np.array([k and is_valid_solution(d) for k, d in zip(keeps, digits)], bool)


def sudoku_metrics(inputs_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: `valid_solution` (see `solved`)."""
  return {"valid_solution": solved(inputs_NxS, preds_NxS)}


# ----------------------------------------------------------------------------- puzzle text


def _units():
  units = [(f"row {r + 1}", [(r, c) for c in range(9)]) for r in range(9)]
  units += [(f"column {c + 1}", [(r, c) for r in range(9)]) for c in range(9)]
  units += [
    (f"box {b + 1}", [(3 * (b // 3) + i, 3 * (b % 3) + j) for i in range(3) for j in range(3)])
    for b in range(9)
  ]
  return units


def check_givens(digits_81: np.ndarray) -> None:
  """Raise PuzzleError unless the givens (0 = blank) are consistent and have a completion."""
  from hrm_jax.data import sudoku

  digits = np.asarray(digits_81).reshape(9, 9)
  for name, cells_rc in _units():
    seen: dict[int, tuple[int, int]] = {}
    for r, c in cells_rc:
      d = int(digits[r, c])
      if d and d in seen:
        (r0, c0) = seen[d]
        raise PuzzleError(
          f"no solution: contradictory givens: digit {d} appears twice in "
          f"{name} (row {r0 + 1} col {c0 + 1} and row {r + 1} col {c + 1})"
        )
      seen[d] = (r, c)
  if sudoku.count_solutions(digits, limit=1) == 0:
    raise PuzzleError(
      "no solution: the givens do not contradict each other directly, but no "
      "completion of the grid satisfies them"
    )


def _tokens(cells: str) -> np.ndarray:
  digits = np.array([0 if ch in BLANKS else int(ch) for ch in cells])
  return np.where(digits > 0, digits + 1, 1).astype(np.int32)


def scan(text: str, source: str | None = None) -> list[tuple[int, np.ndarray]]:
  """(first line, tokens [81]) of every puzzle in `text`, in order.

  A puzzle is 81 cells over one or more consecutive lines; whitespace, '|' and
  separator lines of '-' and '+' (as `render` prints) are ignored. A blank line
  ends a puzzle. Malformed or unsolvable puzzles raise PuzzleError naming the
  puzzle (file and line with `source`) and the problem.
  """
  found: list[tuple[int, str]] = []
  cells, first = "", 0

  def incomplete(count: int) -> PuzzleError:
    return PuzzleError(
      f"{where(source, first, len(found))}a Sudoku has 81 cells, got {count} "
      "(digits 1-9, '.' or 0 for blanks)"
    )

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
      if ch not in CELLS:
        i = len(cells) + j
        raise PuzzleError(
          f"{where(source, no, len(found))}bad Sudoku character {ch!r} at row "
          f"{i // 9 + 1}, column {i % 9 + 1}: use digits 1-9 and '.', '0' or "
          "'_' for blanks"
        )
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
    tokens = _tokens(cells)
    try:
      check_givens(tokens - 1)
    except PuzzleError as e:
      raise PuzzleError(f"{where(source, line, k)}{e}") from None
    puzzles.append((line, tokens))
  return puzzles


def parse(text: str) -> np.ndarray:
  """One Sudoku (81 cells, as `scan` reads them) -> tokens [81]."""
  puzzles = scan(text)
  if len(puzzles) != 1:
    raise PuzzleError(f"expected one Sudoku, got {len(puzzles)}")
  return puzzles[0][1]


def read(arg: str) -> tuple[list[np.ndarray], list[str]]:
  """(puzzles, where each starts) from puzzle text, a file of them or the authors' CSV."""
  text, source = text_or_file(arg, "Sudoku")
  first = text.lstrip().split("\n", 1)[0].strip()
  from hrm_jax.data import sudoku as sudoku_data

  if source and [h.strip() for h in first.split(",")] in sudoku_data.CSV_HEADERS:
    # The reader checks every row's answer completes its question: all are solvable.
    q, _, _ = sudoku_data.read_sudoku_csv(source)
    puzzles = [np.where(row > 0, row + 1, 1).astype(np.int32) for row in q]
    return puzzles, [f"{source} row {k + 2}" for k in range(len(puzzles))]
  found = scan(text, source)
  names = [
    f"{source} line {line}" if source else f"puzzle {k + 1}" for k, (line, _) in enumerate(found)
  ]
  return [tokens for _, tokens in found], names


def render(tokens: np.ndarray) -> str:
  """Tokens [81] -> 9 lines of digits ('.' for blank/PAD) with box separators."""
  chars = ["." if t < 2 else str(t - 1) for t in np.asarray(tokens).ravel()]
  lines = []
  for r in range(9):
    row = chars[9 * r : 9 * r + 9]
    lines.append(" | ".join(" ".join(row[i : i + 3]) for i in (0, 3, 6)))
    if r in (2, 5):
      lines.append(BOX_RULE)
  return "\n".join(lines)


# ----------------------------------------------------------------------------- the task


class Sudoku(Task):
  """Sudoku: valid-solution accuracy; the solve CLI reads grids, files and the authors' CSV."""

  name = "sudoku"
  seq_len = SEQ_LEN
  vocab_size = VOCAB_SIZE
  builders = ("sudoku",)
  length_text = f"{SEQ_LEN} cells"
  solve_help = "81 cells, digits 1-9 and '.'/0 blanks, or a file of puzzles"
  solve_inputs = (
    "81 cells (digits 1-9; '.', '0' or '_' blank), on one line or over nine, with or without "
    "the separators solve prints (the grid it prints is accepted as is), or a file of one or "
    "more such puzzles (a blank line may separate them), or the authors' CSV (header "
    "source,question,answer,rating)."
  )

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    from hrm_jax.data.sudoku import build_sudoku

    return build_sudoku(path, progress=progress, **build_args)

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    return ("valid_solution",)

  def metrics(self, predictions, pred_NxS, q_N, data_dir, pass_ks, submission_path=None):
    return {"valid_solution": float(solved(predictions["inputs"], pred_NxS).mean())}

  def draw(self, axes, inputs_S, labels_S, pred_S) -> None:
    grids = (square(inputs_S), square(labels_S), square(pred_S))
    for ax, grid, title in zip(axes, grids, ("puzzle", "truth", "model")):
      ax.imshow(np.zeros((9, 9)), cmap="Greys", vmin=0, vmax=1)
      for k in range(10):
        lw = 2 if k % 3 == 0 else 0.5
        ax.axhline(k - 0.5, color="k", lw=lw)
        ax.axvline(k - 0.5, color="k", lw=lw)
      for (r, c), tok in np.ndenumerate(grid):
        if tok <= 1:
          continue
        given = grids[0][r, c] > 1
        wrong = title == "model" and tok != grids[1][r, c]
        color = "red" if wrong else ("black" if given else "#1f77b4")
        ax.text(
          c,
          r,
          str(int(tok) - 1),
          ha="center",
          va="center",
          fontsize=8,
          color=color,
          fontweight="bold" if given else "normal",
        )
      grid_axes(ax, title)

  def read(self, arg: str):
    return read(arg)

  def puzzles(self, raw, config, meta, args) -> Puzzles:
    return Puzzles(*raw)

  def format(self, tokens_S: np.ndarray) -> str:
    return render(tokens_S)

  def answer(self, index, puzzle_S, pred_S, head, truth):
    ok = bool(solved(puzzle_S[None], pred_S[None])[0])
    return (
      [
        "puzzle:",
        render(puzzle_S),
        "solution:",
        render(pred_S),
        head,
        f"valid solution (complete, consistent, keeps the givens): {yes(ok)}",
      ],
      ok,
    )


TASK = Sudoku()
