"""Small perfect mazes (spanning trees on a grid of cells): the CPU demo's dataset.

A perfect maze has exactly one path between any two cells, so the label (the
start-to-goal path) is unique and exact-match accuracy is the fair metric.
Finding it takes many sequential steps (follow corridors, rule out dead ends),
which a shallow one-pass network cannot do for long paths.

Layout: `cells` x `cells` rooms on a (2*cells-1)^2 token grid (rooms at even
coordinates, the walls between them opened where the spanning tree has an edge;
the grid's edge is the outer wall, so no tokens are spent on a border),
with the Maze-Hard vocabulary of `hrm_jax.data.maze` (PAD 0, wall 1, free 2,
start 3, goal 4, path 5), so its checker and renderer apply unchanged. The
tree is a randomized depth-first search (long winding corridors); start and
goal are rooms at least `min_path` moves apart.

  python -m hrm_jax.data.perfect_maze --out data/maze-7x7-perfect --size 7 \
      --train-size 10000 --test-size 1000 --min-path 10     # the maze cpu variant's data
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli, maze
from hrm_jax.data.format import (
  BuildSettingError,
  check_setting,
  claim_dataset_folder,
  distinct_examples,
  independent_examples,
  write_dataset,
)


def cells_for_size(size: int) -> int:
  """Rooms per side of a perfect maze drawn on a `size` x `size` token grid (size odd)."""
  if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
    raise BuildSettingError(
      f"a perfect maze needs an odd grid size of at least 3 (rooms at "
      f"even coordinates, walls between them), got {size!r}"
    )
  return (size + 1) // 2


def random_tree_grid(rng: np.random.Generator, cells: int) -> np.ndarray:
  """A [2c-1, 2c-1] grid of WALL/FREE tokens carved by a randomized DFS from a random room."""
  n = 2 * cells - 1
  grid = np.full((n, n), maze.WALL, np.uint8)
  seen = np.zeros((cells, cells), bool)
  stack = [(int(rng.integers(cells)), int(rng.integers(cells)))]
  seen[stack[0]] = True
  grid[2 * stack[0][0], 2 * stack[0][1]] = maze.FREE
  while stack:
    r, c = stack[-1]
    nbrs = [
      (r + dr, c + dc)
      for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
      if 0 <= r + dr < cells and 0 <= c + dc < cells and not seen[r + dr, c + dc]
    ]
    if not nbrs:
      stack.pop()
      continue
    rr, cc = nbrs[int(rng.integers(len(nbrs)))]
    seen[rr, cc] = True
    grid[2 * rr, 2 * cc] = maze.FREE
    grid[r + rr, c + cc] = maze.FREE  # the wall between the two rooms
    stack.append((rr, cc))
  return grid


def random_maze(
  rng: np.random.Generator, cells: int, min_path: int
) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, labels) [n*n] uint8 of one maze whose start-goal path has >= min_path moves."""
  while True:
    grid = random_tree_grid(rng, cells)
    rooms = np.argwhere(grid == maze.FREE)
    rooms = rooms[(rooms % 2 == 0).all(1)]
    start = tuple(rooms[rng.integers(len(rooms))])
    dist = maze.bfs_distances(grid != maze.WALL, start)
    far = rooms[dist[rooms[:, 0], rooms[:, 1]] >= min_path]
    if len(far):
      goal = tuple(far[rng.integers(len(far))])
      grid[start], grid[goal] = maze.START, maze.GOAL
      return grid.ravel(), maze.solve(grid).ravel().astype(np.uint8)


def build_perfect_mazes(
  out_dir: str | Path,
  cells: int = 4,
  train_size: int = 10000,
  test_size: int = 1000,
  min_path: int = 10,
  seed: int = 0,
  force: bool = False,
  progress: bool = False,
) -> Path:
  """Write (or reuse) a perfect-maze dataset in the HRM format; test mazes never occur in train.

  The output folder follows `claim_dataset_folder` (reused when built with the same
  arguments; replaced only with `force` when built with others).
  """
  check_setting("cells", cells, 2, maze.MAX_SIZE // 2)
  check_setting("train_size", train_size, 1)
  check_setting("test_size", test_size, 1)
  check_setting("min_path", min_path, 0, 2 * cells * cells - 2)
  args = {
    "builder": "perfect_maze",
    "version": 2,
    "cells": cells,
    "train_size": train_size,
    "test_size": test_size,
    "min_path": min_path,
    "seed": seed,
  }
  if claim_dataset_folder(out_dir, args, force):
    return Path(out_dir)
  t0 = time.time()
  rng = np.random.default_rng([seed, 7])
  drawn = distinct_examples(
    lambda: random_maze(rng, cells, min_path),
    {"train": train_size, "test": test_size},
    f"{cells}x{cells}-room mazes with paths of >= {min_path} moves",
    progress=progress,
  )
  splits, lengths = {}, {}
  for split, examples in drawn.items():
    inputs, labels = (np.stack(a) for a in zip(*examples))
    splits[split] = independent_examples(inputs, labels, maze.VOCAB_SIZE, maze.PAD)
    lengths[split] = [int((y == maze.PATH).sum()) + 1 for y in labels]
  stats = {
    s: {
      "path_len_mean": float(np.mean(v)),
      "path_len_min": int(np.min(v)),
      "path_len_max": int(np.max(v)),
    }
    for s, v in lengths.items()
    if v
  }
  print(
    "; ".join(
      f"{s}: {len(lengths[s])} mazes, path length mean {v['path_len_mean']:.1f} "
      f"(min {v['path_len_min']}, max {v['path_len_max']})"
      for s, v in stats.items()
    )
  )
  stats_file = {"maze_stats.json": json.dumps(stats, indent=1)}
  return write_dataset(out_dir, splits, started=t0, build_args=args, extra_files=stats_file)


def main(argv: list[str] | None = None) -> int:
  """Command-line builder (see the module docstring)."""
  p = _cli.builder_parser(
    "Build a perfect-maze dataset (one path between any two cells) in the HRM "
    "format: the maze cpu variant's data.",
    "a perfect-maze",
    unit="mazes",
    train_size=10000,
    test_size=1000,
  )
  p.add_argument("--size", type=int, default=7, help="token grid side, odd (rooms: (size + 1) / 2)")
  p.add_argument("--min-path", type=int, default=10, help="fewest moves from start to goal")
  a = p.parse_args(argv)
  build_perfect_mazes(
    a.out, cells_for_size(a.size), a.train_size, a.test_size, a.min_path, a.seed, a.force
  )
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
