"""The maze task: square grids, the shortest S-G path as labels; valid/optimal-path accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.data import maze as maze_data
from hrm_jax.tasks.base import (
  PuzzleError,
  Puzzles,
  Task,
  grid_axes,
  mark_wrong,
  read_text,
  square,
  yes,
)

INPUT_CHARS = "# SG"
# Tokens PAD, wall, free, start, goal, path.
COLORS = ("#ffffff", "#222222", "#ffffff", "#2ca02c", "#d62728", "#1f77b4")


def path_checks(maze_S: np.ndarray, pred_S: np.ndarray) -> tuple[bool, bool]:
  """(valid, shortest) of a predicted path (`hrm_jax.data.maze.check_path`); a maze without a
  start (padding) or a malformed prediction is (False, False)."""
  try:
    return maze_data.check_path(maze_S, pred_S)
  except maze_data.MazeError:
    return False, False


def maze_path_metrics(inputs_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: is the predicted path valid, and valid and shortest? ([N] bool each)."""
  checks = np.array([path_checks(m, p) for m, p in zip(inputs_NxS, preds_NxS)], bool)
  checks = checks.reshape(len(inputs_NxS), 2)
  return {"valid_path": checks[:, 0], "optimal_path": checks[:, 1]}


# ----------------------------------------------------------------------------- maze text


def _blocks(lines: list[str], n: int) -> list[tuple[int, list[str]]] | None:
  """(first line number, n rows) of each maze when `lines` hold whole mazes, else None."""
  if lines and len(lines) % n == 0:
    return [(i + 1, lines[i : i + n]) for i in range(0, len(lines), n)]
  if len(lines) > n and (len(lines) + 1) % (n + 1) == 0:
    starts = range(0, len(lines), n + 1)
    if all(not lines[i + n].strip() for i in starts if i + n < len(lines)):
      return [(i + 1, lines[i : i + n]) for i in starts]
  return None


def split_mazes(text: str, n: int, source: str | None = None) -> list[np.ndarray]:
  """Every n x n maze in `text` as tokens [n*n]: '#' wall, ' ' free, one 'S', one 'G'.

  Mazes may be separated by one blank line. Short rows are completed with free
  cells (an editor strips trailing spaces). Malformed mazes and mazes without a
  path from S to G raise PuzzleError.
  """
  lines = [ln.rstrip("\r") for ln in text.split("\n")]
  if lines and lines[-1] == "":
    lines.pop()  # the final newline ends the last row; it starts no row
  blocks = None
  while blocks is None:
    blocks = _blocks(lines, n)
    if blocks is None:
      if not lines or lines[-1].strip():
        break
      lines.pop()  # trailing blank lines that are not needed as rows
  if blocks is None:
    rows = len(lines)
    raise PuzzleError(
      f"the maze must have {n} rows of {n} characters, got {rows} rows"
      + (
        f" (several mazes: {n} rows each, optionally separated by one blank line)"
        if rows > n
        else ""
      )
    )
  mazes = []
  for k, (first, rows) in enumerate(blocks):
    at = (
      f"{source} line {first}: "
      if source and len(blocks) > 1
      else f"maze {k + 1}: "
      if len(blocks) > 1
      else ""
    )
    for i, ln in enumerate(rows):
      if len(ln) > n:
        raise PuzzleError(f"{at}maze row {i + 1} has {len(ln)} characters, expected {n}")
      bad = sorted(set(ln) - set(INPUT_CHARS))
      if bad:
        raise PuzzleError(
          f"{at}bad maze character(s) {bad} in row {i + 1}: use '#' wall, "
          "' ' free, 'S' start, 'G' goal"
        )
    flat = "".join(ln.ljust(n) for ln in rows)
    for ch, what in (("S", "start"), ("G", "goal")):
      if flat.count(ch) != 1:
        raise PuzzleError(f"{at}the maze needs exactly one {what} '{ch}', found {flat.count(ch)}")
    tokens = maze_data.chars_to_tokens(flat).astype(np.int32)
    try:
      maze_data.solve(tokens)
    except maze_data.MazeError as e:
      raise PuzzleError(f"{at}no solution: {e}") from None
    mazes.append(tokens)
  return mazes


def render(tokens: np.ndarray) -> str:
  """Tokens -> the square character grid ('o' path; '?' for PAD)."""
  flat = np.asarray(tokens).ravel()
  n = int(round(len(flat) ** 0.5))
  charset = maze_data.CHARSET
  chars = ["?" if not 1 <= t <= len(charset) else charset[t - 1] for t in flat.tolist()]
  return "\n".join("".join(chars[r * n : (r + 1) * n]) for r in range(n))


# ----------------------------------------------------------------------------- the task


class Maze(Task):
  """Mazes of any square size (the paper's: 30x30 Maze-Hard); generator "perfect" builds
  spanning-tree mazes (`hrm_jax.data.perfect_maze`)."""

  name = "maze"
  seq_len = 900
  vocab_size = maze_data.VOCAB_SIZE
  builders = ("maze", "perfect_maze")
  length_text = "a square grid"
  solve_help = "text file: square grid(s) of '#', ' ', 'S', 'G'"
  solve_inputs = (
    "a file of one or more square mazes ('#' wall, ' ' free, one 'S', one 'G'), each of the "
    "model's size, optionally separated by a blank line. Trailing spaces may be stripped (a "
    "row of free cells may then be an empty line)."
  )

  def takes_length(self, seq_len: int) -> bool:
    return int(round(seq_len**0.5)) ** 2 == seq_len

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    build_args = dict(build_args)
    if build_args.pop("generator", "maze_hard") == "perfect":
      from hrm_jax.data.format import BuildSettingError
      from hrm_jax.data.perfect_maze import build_perfect_mazes, cells_for_size

      if build_args.pop("aug", False):
        raise BuildSettingError("perfect mazes have no augmentation: set data.build.aug=False")
      return build_perfect_mazes(
        path, cells=cells_for_size(build_args.pop("size")), progress=progress, **build_args
      )
    return maze_data.build_maze_dataset(path, progress=progress, **build_args)

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    return ("valid_path", "optimal_path")

  def metrics(self, predictions, pred_NxS, q_N, data_dir, pass_ks, submission_path=None):
    own = maze_path_metrics(predictions["inputs"], pred_NxS)
    return {k: float(v.mean()) for k, v in own.items()}

  def draw(self, axes, inputs_S, labels_S, pred_S) -> None:
    from matplotlib.colors import ListedColormap

    grid = square(inputs_S)
    truth = square(np.where(labels_S == IGNORE_LABEL, inputs_S, labels_S))
    guess = square(pred_S)
    for ax, img, title in zip(axes, (grid, truth, guess), ("maze", "truth", "model")):
      ax.imshow(img, cmap=ListedColormap(COLORS), vmin=0, vmax=5, interpolation="nearest")
      grid_axes(ax, title)
    mark_wrong(axes[2], guess, truth)

  def read(self, arg: str) -> tuple[str, str]:
    return read_text(arg, "maze"), arg

  def puzzles(self, raw, config, meta, args) -> Puzzles:
    text, source = raw
    tokens = split_mazes(text, int(round(config.seq_len**0.5)), source)
    return Puzzles(tokens, [f"maze {k + 1}" for k in range(len(tokens))])

  def format(self, tokens_S: np.ndarray) -> str:
    return render(tokens_S)

  def answer(self, index, puzzle_S, pred_S, head, truth):
    valid, shortest = path_checks(puzzle_S, pred_S)
    return (
      [
        "maze:",
        render(puzzle_S),
        "path:",
        render(pred_S),
        head,
        f"valid path: {yes(valid)}; shortest: {yes(shortest)}",
      ],
      valid,
    )


TASK = Maze()
