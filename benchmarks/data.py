"""Data benchmark: time to generate 1000 hard Sudoku and 1000 Maze-Hard, and loader batches/s.

Usage: python benchmarks/data.py [--count 1000] [--workers N] [--batch 768] [--out DIR]
Targets (issue 3): 60 s for each 1000 on 2 cores.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from hrm_jax.data import maze, sudoku  # noqa: E402
from hrm_jax.data.loader import TrainLoader  # noqa: E402


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--workers", type=int, default=None, help="default: all CPUs")
    p.add_argument("--batch", type=int, default=768, help="global batch size for the loader")
    p.add_argument("--loader-batches", type=int, default=200)
    p.add_argument("--out", default=None, help="where to build the loader's dataset (default: temp dir)")
    a = p.parse_args()
    workers = a.workers or os.cpu_count()
    print(f"{os.cpu_count()} CPUs, {workers} workers")

    secs, (_, _, ratings) = _time(lambda: sudoku.generate_puzzles(a.count, 0, "hard", workers=workers,
                                                                  progress=False))
    print(f"sudoku: {a.count} hard puzzles in {secs:.1f} s (target 60 s); guesses mean "
          f"{ratings.mean():.1f}, median {np.median(ratings):.0f}")
    secs, (_, _, infos) = _time(lambda: maze.generate_mazes(a.count, 0, "train", 30, 110, workers=workers,
                                                            progress=False))
    lengths = np.array([i["path_len"] for i in infos])
    print(f"maze: {a.count} Maze-Hard 30x30 in {secs:.1f} s (target 60 s); path length mean "
          f"{lengths.mean():.1f}, min {lengths.min()}, p50 {np.median(lengths):.0f}, "
          f"p90 {np.percentile(lengths, 90):.0f}, max {lengths.max()}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.out or tmp)
        data = maze.build_maze_dataset(root / "maze_bench", train_size=a.count, test_size=10,
                                       aug=True, workers=workers, progress=False)
        loader = TrainLoader(data, global_batch_size=a.batch, seed=0)
        next(loader)
        secs, _ = _time(lambda: [next(loader) for _ in range(a.loader_batches)])
        rate = a.loader_batches / secs
        print(f"loader: {rate:.0f} batches/s of {a.batch} x 900 tokens "
              f"({rate * a.batch:.0f} examples/s; maze, 8 dihedral augs)")


if __name__ == "__main__":
    main()
