"""Drawings of test puzzles with the model's answer against the truth (matplotlib, Agg).

Each `draw_*` function fills a row of matplotlib axes for one example:
input, truth, model answer (wrong cells marked in red).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from hrm_jax.batch import IGNORE_LABEL  # noqa: E402

# Maze tokens: PAD, wall, free, start, goal, path.
MAZE_COLORS = ListedColormap(["#ffffff", "#222222", "#ffffff", "#2ca02c", "#d62728", "#1f77b4"])
# ARC tokens: PAD, EOS, then the ten ARC colours.
ARC_COLORS = ListedColormap(["#ffffff", "#bbbbbb", "#000000", "#0074d9", "#ff4136", "#2ecc40",
                             "#ffdc00", "#aaaaaa", "#f012be", "#ff851b", "#7fdbff", "#870c25"])


def _square(tokens: np.ndarray) -> np.ndarray:
  n = int(round(np.sqrt(tokens.size)))
  return np.asarray(tokens).reshape(n, n)


def _mark_wrong(ax, pred: np.ndarray, truth: np.ndarray) -> None:
  rows, cols = np.nonzero((pred != truth) & (truth != IGNORE_LABEL))
  ax.scatter(cols, rows, marker="x", color="red", s=40, linewidths=2)


def _grid_axes(ax, title: str) -> None:
  ax.set_title(title, fontsize=9)
  ax.set_xticks([])
  ax.set_yticks([])


def draw_maze(axes, inputs, labels, pred) -> None:
  """Maze input, the stored shortest path, and the predicted path."""
  grid = _square(inputs)
  truth = _square(np.where(labels == IGNORE_LABEL, inputs, labels))
  guess = _square(pred)
  for ax, img, title in zip(axes, (grid, truth, guess), ("maze", "truth", "model")):
    ax.imshow(img, cmap=MAZE_COLORS, vmin=0, vmax=5, interpolation="nearest")
    _grid_axes(ax, title)
  _mark_wrong(axes[2], guess, truth)


def draw_sudoku(axes, inputs, labels, pred) -> None:
  """Sudoku givens, the solution, and the model's grid (wrong digits in red)."""
  grids = (_square(inputs), _square(labels), _square(pred))
  for ax, grid, title in zip(axes, grids, ("puzzle", "truth", "model")):
    ax.imshow(np.zeros((9, 9)), cmap="Greys", vmin=0, vmax=1)
    for k in range(10):
      lw = 2 if k % 3 == 0 else 0.5
      ax.axhline(k - 0.5, color="k", lw=lw)
      ax.axvline(k - 0.5, color="k", lw=lw)
    for (r, c), tok in np.ndenumerate(grid):
      if tok <= 1:
        continue
      given = inputs.reshape(9, 9)[r, c] > 1
      wrong = title == "model" and tok != grids[1][r, c]
      color = "red" if wrong else ("black" if given else "#1f77b4")
      ax.text(c, r, str(int(tok) - 1), ha="center", va="center", fontsize=8, color=color,
              fontweight="bold" if given else "normal")
    _grid_axes(ax, title)


def draw_arc(axes, inputs, labels, pred) -> None:
  """ARC test input, true output, and the model's output on the 30x30 canvas."""
  grids = (_square(inputs), _square(np.where(labels == IGNORE_LABEL, 0, labels)), _square(pred))
  for ax, grid, title in zip(axes, grids, ("input", "truth", "model")):
    ax.imshow(grid, cmap=ARC_COLORS, vmin=0, vmax=11, interpolation="nearest")
    _grid_axes(ax, title)
  _mark_wrong(axes[2], grids[2], _square(labels))


def draw_parity(axes, inputs, labels, pred) -> None:
  """The bit string, its prefix parities, and the model's (wrong ones crossed in red)."""
  from hrm_jax.data.parity import BIT0, EVEN
  bits = np.asarray(inputs)[1:] - BIT0            # 0/1
  truth = np.asarray(labels)[1:] - EVEN           # 0 even / 1 odd
  guess = np.asarray(pred)[1:] - EVEN
  width = 8 if bits.size % 8 == 0 else bits.size  # rows of 8 bits when the length allows
  for ax, row, title in zip(axes, (bits, truth, guess), ("bits", "truth: prefix parity", "model")):
    ax.imshow(row.reshape(-1, width), cmap="Greys", vmin=-0.3, vmax=1.3, interpolation="nearest")
    _grid_axes(ax, title)
  _mark_wrong(axes[2], guess.reshape(-1, width), truth.reshape(-1, width))


DRAW = {"maze": draw_maze, "sudoku": draw_sudoku, "arc": draw_arc, "parity": draw_parity}
ROW_HEIGHT = {"parity": 1.3}  # inches per example row (square grids: the default 2.6)


def draw_examples(task: str, inputs, labels, preds, path, titles=None) -> None:
  """One row per example (input | truth | model), saved as a PNG at `path`."""
  n = len(inputs)
  fig, axes = plt.subplots(n, 3, figsize=(7.5, ROW_HEIGHT.get(task, 2.6) * n), squeeze=False)
  for i in range(n):
    DRAW[task](axes[i], np.asarray(inputs[i]), np.asarray(labels[i]), np.asarray(preds[i]))
    if titles:
      axes[i][0].set_ylabel(titles[i], fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
