"""How often each training group is drawn over a whole run: our loader vs the authors' rule.

Usage: python benchmarks/group_coverage.py [--groups 1000] [--batch 768] [--epochs 20000]
                                           [--eval-interval 2000]

Our TrainLoader packs one pass (one augmentation of every group) at a time and drops the
incomplete last batch of every pass; the authors' loader concatenates the epochs of one
evaluation interval and drops the remainder once per interval. With one example per puzzle
(Sudoku, Maze) and 768 > groups / 2 the difference is largest: this prints both.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from hrm_jax.data.format import SplitSet  # noqa: E402
from hrm_jax.data.loader import plan_iteration  # noqa: E402


def main():
  p = argparse.ArgumentParser(
    description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
  )
  p.add_argument("--groups", type=int, default=1000, help="training groups (puzzles)")
  p.add_argument("--batch", type=int, default=768, help="global batch size")
  p.add_argument("--epochs", type=int, default=20000, help="epochs of the run")
  p.add_argument("--eval-interval", type=int, default=2000, help="epochs between evaluations")
  a = p.parse_args()
  G, B = a.groups, a.batch
  # One puzzle of one example per group: which augmentation is drawn does not change the count.
  data = SplitSet(
    inputs=np.zeros((G, 1), np.int32),
    labels=np.zeros((G, 1), np.int32),
    puzzle_identifiers=np.zeros(G, np.int32),
    puzzle_indices=np.arange(G + 1, dtype=np.int32),
    group_indices=np.arange(G + 1, dtype=np.int32),
  )
  total = int(a.epochs * G / B)
  counts_G, steps, passes = np.zeros(G, np.int64), 0, 0
  while steps < total:
    for examples_B, _ in plan_iteration(data, B, 0, passes)[: total - steps]:
      np.add.at(counts_G, examples_B, 1)
      steps += 1
    passes += 1
  print(
    f"ours: {steps} updates in {passes} passes; draws per group: mean {counts_G.mean():.1f}, "
    f"std {counts_G.std():.1f}, min {counts_G.min()}, max {counts_G.max()} "
    f"(ideal {a.epochs})"
  )
  intervals, per_interval = a.epochs // a.eval_interval, a.eval_interval * G // B
  dropped = intervals * (a.eval_interval * G - per_interval * B)
  print(
    f"authors': {intervals} intervals x {per_interval} updates = {intervals * per_interval} "
    f"updates; every group drawn {a.epochs} times less {dropped} draws dropped in all "
    f"({dropped / G:.2f} per group on average)"
  )


if __name__ == "__main__":
  main()
