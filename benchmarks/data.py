"""Data benchmark: time to make 1000 hard and extreme Sudoku and 1000 Maze-Hard; loader batches/s.

Usage: python benchmarks/data.py [--count 1000] [--workers N] [--batch 768] [--out DIR]
           [--sudoku hard,extreme]
Targets (issues 3 and 13): 60 s for 1000 hard Sudoku and for 1000 mazes, 300 s for 1000 extreme
Sudoku, on 2 cores. For each Sudoku preset it prints both ratings' distributions (guesses:
branching nodes to the first solution; backtracks: dead ends of the complete search, the
measure of Sudoku-Extreme's rating column, mean ~22 there) and a fingerprint of the puzzles.
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import machine  # noqa: E402  (benchmarks/machine.py: what ran, on what)
import numpy as np  # noqa: E402

from hrm_jax.data import _sudoku_kernel, maze, sudoku  # noqa: E402
from hrm_jax.data import _sudoku_solver as solver  # noqa: E402
from hrm_jax.data.loader import TrainLoader  # noqa: E402

SUDOKU_TARGET_S = {"hard": 60, "extreme": 300}
BINS = [0, 1, 2, 3, 5, 10, 20, 50, 100]


def _time(fn):
  t0 = time.perf_counter()
  out = fn()
  return time.perf_counter() - t0, out


def distribution(name: str, ratings: np.ndarray) -> str:
  """One line: mean, percentiles and a histogram of a rating array."""
  s = sudoku.rating_summary(ratings)
  edges = BINS + [max(BINS[-1], int(ratings.max())) + 1]
  counts = np.histogram(ratings, bins=edges)[0]
  labels = [
    f"{lo}+" if i == len(BINS) - 1 else str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
  ]
  hist = " ".join(f"{label}:{c}" for label, c in zip(labels, counts))
  return (
    f"  {name:10s} mean {s['mean']:.2f}, p10 {s['p10']:.0f}, p25 {s['p25']:.0f}, "
    f"median {s['median']:.0f}, p75 {s['p75']:.0f}, p90 {s['p90']:.0f}, "
    f"p99 {s['p99']:.0f}, max {s['max']:.0f} | {hist}"
  )


def bench_sudoku(difficulty: str, count: int, workers: int) -> None:
  """Generate `count` puzzles of a preset; print the time and both rating distributions."""
  secs, (q, a, guesses, backtracks) = _time(
    lambda: sudoku.generate_puzzles(count, 0, difficulty, workers=workers, progress=False)
  )
  digest = hashlib.sha1(q.tobytes() + a.tobytes()).hexdigest()[:12]
  target = SUDOKU_TARGET_S.get(difficulty)
  print(
    f"sudoku: {count} {difficulty} puzzles in {secs:.1f} s"
    + (f" (target {target * count / 1000:.0f} s)" if target else "")
    + f"; clues mean {(q > 0).sum(1).mean():.1f}; puzzles sha1 {digest}"
  )
  print(distribution("guesses", guesses))
  print(distribution("backtracks", backtracks))


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--count", type=int, default=1000)
  p.add_argument("--workers", type=int, default=None, help="default: all CPUs")
  p.add_argument("--batch", type=int, default=768, help="global batch size for the loader")
  p.add_argument("--loader-batches", type=int, default=200)
  p.add_argument(
    "--sudoku", default="hard,extreme", help="comma-separated Sudoku presets to time (empty: none)"
  )
  p.add_argument(
    "--out", default=None, help="where to build the loader's dataset (default: temp dir)"
  )
  a = p.parse_args()
  workers = a.workers or os.cpu_count()
  print(machine.describe())
  print(
    f"{os.cpu_count()} CPUs, {workers} workers; load average "
    + " ".join(f"{x:.2f}" for x in os.getloadavg())
  )

  if _sudoku_kernel.AVAILABLE:
    secs, _ = _time(lambda: solver.backtracks([0] * 81))  # compile or load the kernel
    print(f"sudoku kernel: numba, ready in {secs:.1f} s")
  else:
    print("sudoku kernel: numba not installed, pure Python (same puzzles, slower)")
  for difficulty in filter(None, a.sudoku.split(",")):
    bench_sudoku(difficulty, a.count, workers)

  secs, (_, _, infos) = _time(
    lambda: maze.generate_mazes(a.count, 0, "train", 30, 110, workers=workers, progress=False)
  )
  lengths = np.array([i["path_len"] for i in infos])
  print(
    f"maze: {a.count} Maze-Hard 30x30 in {secs:.1f} s (target 60 s); path length mean "
    f"{lengths.mean():.1f}, min {lengths.min()}, p50 {np.median(lengths):.0f}, "
    f"p90 {np.percentile(lengths, 90):.0f}, max {lengths.max()}"
  )

  with tempfile.TemporaryDirectory() as tmp:
    root = Path(a.out or tmp)
    data = maze.build_maze_dataset(
      root / "maze_bench",
      train_size=a.count,
      test_size=10,
      aug=True,
      workers=workers,
      progress=False,
    )
    loader = TrainLoader(data, global_batch_size=a.batch, seed=0)
    next(loader)
    secs, _ = _time(lambda: [next(loader) for _ in range(a.loader_batches)])
    rate = a.loader_batches / secs
    print(
      f"loader: {rate:.0f} batches/s of {a.batch} x 900 tokens "
      f"({rate * a.batch:.0f} examples/s; maze, 8 dihedral augs)"
    )


if __name__ == "__main__":
  main()
