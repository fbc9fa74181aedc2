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
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from hrm_jax.data import maze
from hrm_jax.data.format import build_args_match, independent_examples, write_dataset


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
    nbrs = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
            if 0 <= r + dr < cells and 0 <= c + dc < cells and not seen[r + dr, c + dc]]
    if not nbrs:
      stack.pop()
      continue
    rr, cc = nbrs[int(rng.integers(len(nbrs)))]
    seen[rr, cc] = True
    grid[2 * rr, 2 * cc] = maze.FREE
    grid[r + rr, c + cc] = maze.FREE           # the wall between the two rooms
    stack.append((rr, cc))
  return grid


def random_maze(rng: np.random.Generator, cells: int, min_path: int) -> tuple[np.ndarray, np.ndarray]:
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


def build_perfect_mazes(out_dir: str | Path, cells: int = 4, train_size: int = 10000,
                        test_size: int = 1000, min_path: int = 10, seed: int = 0,
                        force: bool = False, progress: bool = False) -> Path:
  """Write (or reuse) a perfect-maze dataset in the HRM format; test mazes never occur in train."""
  args = {"builder": "perfect_maze", "version": 2, "cells": cells, "train_size": train_size,
          "test_size": test_size, "min_path": min_path, "seed": seed}
  if not force and build_args_match(out_dir, args):
    return Path(out_dir)
  t0 = time.time()
  rng = np.random.default_rng([seed, 7])
  seen, splits, lengths = set(), {}, {}
  for split, count in (("train", train_size), ("test", test_size)):
    examples, tries = [], 0
    while len(examples) < count:
      tries += 1
      if tries > 50 * count + 1000:
        raise ValueError(f"cannot draw {train_size} + {test_size} distinct {cells}x{cells}-room "
                         f"mazes with paths of >= {min_path} moves; ask for fewer")
      x, y = random_maze(rng, cells, min_path)
      if x.tobytes() not in seen:
        seen.add(x.tobytes())
        examples.append((x, y))
    splits[split] = independent_examples(np.stack([x for x, _ in examples]),
                                         np.stack([y for _, y in examples]), maze.VOCAB_SIZE,
                                         maze.PAD)
    lengths[split] = [int((y == maze.PATH).sum()) + 1 for _, y in examples]
  stats = {s: {"path_len_mean": float(np.mean(v)), "path_len_min": int(np.min(v)),
               "path_len_max": int(np.max(v))} for s, v in lengths.items() if v}
  stats["build_seconds"] = round(time.time() - t0, 2)
  return write_dataset(out_dir, splits, ["<blank>"], extra_files={
      "build_args.json": json.dumps(args, indent=1), "maze_stats.json": json.dumps(stats, indent=1)})
