"""The reachability task (flood fill on a grid with walls): the CPU study's 2-D grid task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.data import reach as reach_data
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

# Text of a grid by token (PAD, wall, free, source, reached); input grids use the first three.
CHARS = "?# So"
# Colours by token.
COLORS = ("white", "black", "whitesmoke", "tab:green", "tab:cyan")


def flood_depth_right(
  inputs_NxS: np.ndarray, labels_NxS: np.ndarray, preds_NxS: np.ndarray
) -> np.ndarray:
  """Per grid: the BFS depth below which every labelled cell is right, over the grid's flood
  depth ([N] float in [0, 1]; 1 when all are right, 0 when a neighbour of the source is
  wrong). A wrong unreached cell counts as wrong at the flood's full depth."""
  out = np.ones(len(inputs_NxS))
  for i, (x, y, p) in enumerate(zip(inputs_NxS, labels_NxS, preds_NxS)):
    wrong = (p != y) & (y != IGNORE_LABEL)
    if wrong.any():
      depth = reach_data.label(square(x))[1].ravel()
      at = np.where(depth[wrong] < 0, depth.max(), depth[wrong])
      out[i] = (at.min() - 1) / max(depth.max(), 1)
  return out


def split_grids(text: str, n: int, source: str | None = None) -> list[np.ndarray]:
  """Every n x n grid in `text` (separated by blank lines) as tokens [n*n]: '#' wall,
  ' ' free, one 'S' source, the outer ring wall (as the training grids). Short rows are
  completed with free cells (an editor strips trailing spaces)."""
  blocks, rows = [], []
  for line in [*text.split("\n"), ""]:
    if line.strip():
      rows.append(line.rstrip("\r"))
    elif rows:
      blocks.append(rows)
      rows = []
  if not blocks:
    raise PuzzleError(f"no grid given: {n} rows of {n} characters '#', ' ' and one 'S'")
  grids = []
  for k, rows in enumerate(blocks):
    at = f"{source or 'grid'} {k + 1}: " if len(blocks) > 1 else ""
    if len(rows) != n or any(len(r) > n for r in rows):
      longest = max(len(r) for r in rows)
      raise PuzzleError(
        f"{at}this model reads {n} rows of {n} characters, got {len(rows)} rows of up to {longest}"
      )
    flat = "".join(r.ljust(n) for r in rows)
    bad = sorted(set(flat) - set("# S"))
    if bad:
      raise PuzzleError(f"{at}bad character(s) {bad}: use '#' wall, ' ' free, 'S' source")
    if flat.count("S") != 1:
      raise PuzzleError(f"{at}the grid needs exactly one source 'S', found {flat.count('S')}")
    grid = np.array([CHARS.index(ch) for ch in flat], np.int32).reshape(n, n)
    ring = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    if (ring != reach_data.WALL).any():
      raise PuzzleError(f"{at}the outer ring of the grid must be wall '#', as in training")
    grids.append(grid.ravel())
  return grids


def render(tokens_S: np.ndarray) -> str:
  """Tokens -> the square character grid ('o' reached; '?' for PAD or unknown tokens)."""
  grid = square(tokens_S)
  return "\n".join("".join(CHARS[t] if 0 <= t < len(CHARS) else "?" for t in r) for r in grid)


def answer_grid(puzzle_S: np.ndarray, pred_S: np.ndarray) -> np.ndarray:
  """The puzzle with the model's labels at its free cells (walls and source as given)."""
  return np.where(puzzle_S == reach_data.FREE, pred_S, puzzle_S)


class Reach(Task):
  """Reachability from a source cell on square grids of any size (no paper dataset)."""

  name = "reach"
  vocab_size = reach_data.VOCAB_SIZE
  builders = ("reach",)
  length_text = "a square grid"
  solve_help = "text file: square grid(s) of '#', ' ' and one 'S'"
  solve_inputs = (
    "a file of one or more square grids ('#' wall, ' ' free, one 'S' source, the outer ring "
    "wall) of the model's size, separated by blank lines; the answer marks reached cells 'o'."
  )
  report_note = (
    "`depth_right` is, per grid, the BFS depth below which every free cell is labelled right, "
    "over the grid's flood depth: how far the model's flood got before its first mistake."
  )

  def takes_length(self, seq_len: int) -> bool:
    return seq_len >= 9 and int(round(seq_len**0.5)) ** 2 == seq_len

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    return reach_data.build_reach_dataset(path, progress=progress, **build_args)

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    return ("depth_right",)

  def metrics(self, predictions, pred_NxS, q_N, data_dir, pass_ks, submission_path=None):
    right = flood_depth_right(predictions["inputs"], predictions["labels"], pred_NxS)
    return {"depth_right": float(right.mean())}

  def draw(self, axes, inputs_S, labels_S, pred_S) -> None:
    from matplotlib.colors import ListedColormap

    truth = np.where(labels_S == IGNORE_LABEL, inputs_S, labels_S)
    imgs = (square(inputs_S), square(truth), square(answer_grid(inputs_S, pred_S)))
    cmap = ListedColormap(COLORS)
    for ax, img, title in zip(axes, imgs, ("grid", "truth: reached", "model")):
      ax.imshow(img, cmap=cmap, vmin=0, vmax=len(COLORS) - 1, interpolation="nearest")
      grid_axes(ax, title)
    mark_wrong(axes[2], square(pred_S), square(labels_S))

  def read(self, arg: str) -> tuple[str, str]:
    return read_text(arg, "reach"), arg

  def puzzles(self, raw, config, meta, args) -> Puzzles:
    text, source = raw
    grids = split_grids(text, int(round(config.seq_len**0.5)), source)
    return Puzzles(grids, [f"grid {k + 1}" for k in range(len(grids))])

  def format(self, tokens_S: np.ndarray) -> str:
    return render(tokens_S)

  def answer(self, index, puzzle_S, pred_S, head, truth):
    labels = reach_data.label(square(puzzle_S))[0].ravel()
    free = labels != reach_data.PAD
    right = int((pred_S[free] == labels[free]).sum())
    ok = right == int(free.sum())
    return (
      [
        "grid:",
        render(puzzle_S),
        "reached (o):",
        render(answer_grid(puzzle_S, pred_S)),
        head,
        f"all right: {yes(ok)} ({right} of {int(free.sum())} free cells)",
      ],
      ok,
    )


TASK = Reach()
