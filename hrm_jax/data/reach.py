"""Reachability on small grids (flood fill): the CPU study's 2-D grid task.

    python -m hrm_jax.data.reach --out data/reach-8 --size 8 --train-size 10000 --min-depth 8

Input: a `size` x `size` grid whose outer ring is wall and whose inner cells are wall with
probability `density`, one of the free cells the source. Label at every free cell: whether
it can be reached from the source by moves up, down, left and right over free cells. The
answer spreads one cell per step of a local rule (a cell is reached when a neighbour is), so
a cell at BFS depth d needs d applications of it: a recurrent model can iterate the rule as
long as the grid needs, a fixed-depth network only as many times as it has layers. Grids
are kept when the farthest reached cell is at least `min_depth` moves away and some free
cell is not reached (so "every cell reached" is never the answer).

The wall ring keeps the row ends of the flattened grid apart (a token's right neighbour in
the sequence is the next row's first cell only where both are wall).

Tokens: PAD 0, wall 1, free 2, source 3, reached 4. Labels: free 2 / reached 4 at the free
cells other than the source, PAD (ignored) elsewhere. One puzzle identifier "<blank>"; test
grids never occur in train.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data._maze_grid import bfs_distances
from hrm_jax.data.format import (
  BuildSettingError,
  check_setting,
  claim_dataset_folder,
  distinct_examples,
  independent_examples,
  write_dataset,
)

PAD, WALL, FREE, SOURCE, REACHED = 0, 1, 2, 3, 4
VOCAB_SIZE = 5
MAX_SIZE = 30  # the largest grid side (900 tokens, as Maze-Hard's 30x30)
MAX_TRIES = 1000  # draws of one grid before its settings are called unreachable


def label(grid_SxS: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(labels [S, S] uint8, BFS depth of every cell [S, S], -1 unreached) of one input grid."""
  grid = np.asarray(grid_SxS)
  source = tuple(np.argwhere(grid == SOURCE)[0])
  depth = bfs_distances(grid != WALL, source)
  labels = np.where(depth > 0, REACHED, FREE).astype(np.uint8)
  labels[(grid == WALL) | (grid == SOURCE)] = PAD
  return labels, depth


def random_grid(
  rng: np.random.Generator, size: int, density: float, min_depth: int
) -> tuple[np.ndarray, np.ndarray, int]:
  """(inputs [S*S], labels [S*S], flood depth) of one grid whose flood is >= min_depth deep
  and leaves a free cell unreached."""
  for _ in range(MAX_TRIES):
    grid = np.full((size, size), WALL, np.uint8)
    inner = rng.random((size - 2, size - 2)) >= density
    grid[1:-1, 1:-1][inner] = FREE
    free = np.argwhere(grid == FREE)
    if not len(free):
      continue
    grid[tuple(free[rng.integers(len(free))])] = SOURCE
    labels, depth = label(grid)
    if depth.max() >= min_depth and (labels == FREE).any():
      return grid.ravel(), labels.ravel(), int(depth.max())
  raise BuildSettingError(
    f"no {size}x{size} grid of wall density {density} with a flood of >= {min_depth} moves "
    f"and an unreached cell in {MAX_TRIES} draws; ask for a smaller min_depth or another "
    "density"
  )


def build_reach_dataset(
  out_dir: str | Path,
  size: int = 8,
  density: float = 0.3,
  train_size: int = 10000,
  test_size: int = 1000,
  min_depth: int = 8,
  seed: int = 0,
  force: bool = False,
  progress: bool = False,
) -> Path:
  """Write (or reuse, when built with the same arguments) a reachability dataset.

  Grids are distinct within and across splits, so the test split is held out. The output
  folder follows `claim_dataset_folder` (reused when built with the same arguments;
  replaced only with `force` when built with others).
  """
  check_setting("size", size, 4, MAX_SIZE)
  check_setting("train_size", train_size, 1)
  check_setting("test_size", test_size, 1)
  check_setting("min_depth", min_depth, 0, (size - 2) ** 2 - 2)
  if not 0.0 <= density < 1.0:
    raise BuildSettingError(f"density is the wall probability, in [0, 1), got {density!r}")
  args = {
    "builder": "reach",
    "version": 1,
    "size": size,
    "density": density,
    "train_size": train_size,
    "test_size": test_size,
    "min_depth": min_depth,
    "seed": seed,
  }
  if claim_dataset_folder(out_dir, args, force):
    return Path(out_dir)
  t0 = time.time()
  rng = np.random.default_rng([seed, 11])
  drawn = distinct_examples(
    lambda: random_grid(rng, size, density, min_depth),
    {"train": train_size, "test": test_size},
    f"{size}x{size} grids of wall density {density} with floods of >= {min_depth} moves",
    progress=progress,
  )
  splits, stats = {}, {}
  for split, examples in drawn.items():
    inputs, labels, depths = (np.stack(a) for a in zip(*examples))
    splits[split] = independent_examples(inputs, labels, VOCAB_SIZE, PAD)
    stats[split] = {
      "depth_mean": float(depths.mean()),
      "depth_min": int(depths.min()),
      "depth_max": int(depths.max()),
      "reached_fraction": float((labels == REACHED).sum() / max((labels != PAD).sum(), 1)),
    }
  print(
    "; ".join(
      f"{s}: {len(drawn[s])} grids, flood depth mean {v['depth_mean']:.1f} "
      f"(min {v['depth_min']}, max {v['depth_max']}), {v['reached_fraction']:.0%} of free "
      "cells reached"
      for s, v in stats.items()
    )
  )
  stats_file = {"reach_stats.json": json.dumps(stats, indent=1)}
  return write_dataset(out_dir, splits, started=t0, build_args=args, extra_files=stats_file)


def main(argv: list[str] | None = None) -> int:
  """Command-line builder (see the module docstring)."""
  p = _cli.builder_parser(
    "Build a reachability (flood fill) dataset in the HRM format: the reach task's data.",
    "a reach",
    unit="grids",
    train_size=10000,
    test_size=1000,
  )
  p.add_argument("--size", type=int, default=8, help="grid side, the outer wall ring included")
  p.add_argument("--density", type=float, default=0.3, help="wall probability of inner cells")
  p.add_argument(
    "--min-depth", type=int, default=8, help="keep grids whose flood reaches this many moves"
  )
  a = p.parse_args(argv)
  build_reach_dataset(
    a.out, a.size, a.density, a.train_size, a.test_size, a.min_depth, a.seed, a.force
  )
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
