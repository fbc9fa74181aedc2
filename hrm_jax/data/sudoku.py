"""Sudoku-Extreme-like datasets in the HRM format, generated offline and seeded.

    python -m hrm_jax.data.sudoku --out data/sudoku-hard-1k-aug-1000 \
        --train-size 1000 --num-aug 1000 --test-size 1000 --seed 0 \
        [--difficulty easy|medium|hard|extreme]
    python -m hrm_jax.data.sudoku --out data/sudoku-extreme-1k \
        --from-csv DIR_WITH_train.csv_test.csv

Tokens (as the authors' builder): PAD 0, blank 1, digit d -> d + 1; seq_len 81; every cell is
supervised (ignore_label_id = 0 = PAD never occurs in labels); one puzzle identifier "<blank>".

The difficulties (easy, medium, hard, extreme), the two ratings (guesses, backtracks) and
the seeded generator are described in `hrm_jax.data._sudoku_gen`, importable from here.
Train and test share no puzzle up to the symmetry group. Training puzzles get `num_aug`
random symmetry transforms each (one group = the original and its transforms), as the
authors' builder does.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data._sudoku_gen import (
  PRESETS,
  RATINGS,
  SETTING_DEFAULTS,
  Candidate,
  Puzzles,
  count_solutions,
  generate_puzzles,
  generator_settings,
  make_candidate,
)
from hrm_jax.data.augment import apply_transforms, is_valid_solution, random_transforms
from hrm_jax.data.format import (
  DatasetFormatError,
  SplitSet,
  check_setting,
  claim_dataset_folder,
  single_set,
  write_dataset,
)
from hrm_jax.tasks.sudoku import VOCAB_SIZE  # the task's metadata: PAD, blank, digits

__all__ = [
  "CSV_HEADERS", "PRESETS", "RATINGS", "SETTING_DEFAULTS", "Candidate", "Puzzles",
  "build_sudoku", "count_solutions", "generate_puzzles", "generator_settings", "main",
  "make_candidate", "make_split", "rating_summary", "read_sudoku_csv",
]  # fmt: skip

CSV_HEADERS = (
  ["source", "question", "answer", "rating"],  # Sudoku-Extreme's files
  ["source", "q", "a", "rating"],
)


def rating_summary(ratings: np.ndarray) -> dict[str, float]:
  """Mean, median and percentiles of a rating array (for stats files and reports)."""
  r = np.asarray(ratings, np.float64)
  if r.size == 0:
    return {"count": 0}
  pct = {f"p{q}": float(np.percentile(r, q)) for q in (10, 25, 50, 75, 90, 99)}
  return {
    "count": int(r.size),
    "mean": float(r.mean()),
    "median": float(np.median(r)),
    "min": float(r.min()),
    "max": float(r.max()),
    **pct,
  }


# ----------------------------------------------------------------------------- CSV input


def read_sudoku_csv(
  path: str | os.PathLike,
  min_rating: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Read the authors' CSV (source,question,answer,rating; '.' or '0' blank) -> (q, a, rating).

  The Sudoku-Extreme files' header `source,question,answer,rating` is read, and so is the
  short form `source,q,a,rating`.

  q, a: [n, 81] uint8 (0 = blank); rating: [n] int32. Rows below `min_rating` are skipped.
  A malformed row raises DatasetFormatError naming the file, the row number and the problem.
  """
  path = Path(path)
  if not path.is_file():
    raise DatasetFormatError(f"{path}: file is missing")
  qs, as_, ratings = [], [], []
  with open(path, newline="") as f:
    reader = csv.reader(f)
    header = next(reader, None)
    if header is None or [h.strip() for h in header] not in CSV_HEADERS:
      raise DatasetFormatError(
        f"{path}: row 1: header must be {','.join(CSV_HEADERS[0])}, got {header}"
      )
    for row_no, row in enumerate(reader, start=2):

      def bad(what: str) -> DatasetFormatError:
        return DatasetFormatError(f"{path}: row {row_no}: {what}")

      if len(row) != 4:
        raise bad(f"expected 4 fields (source,question,answer,rating), got {len(row)}")
      _, q, a, rating = row
      if len(q) != 81 or any(ch not in ".0123456789" for ch in q):
        raise bad(f"question must be 81 characters of '.', 0-9; got {len(q)} characters")
      if len(a) != 81 or any(ch not in "123456789" for ch in a):
        raise bad(f"answer must be 81 digits 1-9; got {len(a)} characters")
      try:
        rating_value = int(rating)
      except ValueError:
        raise bad(f"rating must be an integer, got {rating!r}") from None
      q_arr = np.frombuffer(q.replace(".", "0").encode(), np.uint8) - ord("0")
      a_arr = np.frombuffer(a.encode(), np.uint8) - ord("0")
      if not is_valid_solution(a_arr):
        raise bad("answer is not a valid Sudoku solution")
      if np.any((q_arr != 0) & (q_arr != a_arr)):
        raise bad("answer contradicts a clue of the question")
      if min_rating is None or rating_value >= min_rating:
        qs.append(q_arr)
        as_.append(a_arr)
        ratings.append(rating_value)
  if not qs:
    raise DatasetFormatError(f"{path}: no puzzles (after the rating filter)")
  return np.stack(qs), np.stack(as_), np.asarray(ratings, np.int32)


# ----------------------------------------------------------------------------- dataset


def make_split(
  puzzles: np.ndarray, solutions: np.ndarray, num_aug: int, rng: np.random.Generator
) -> SplitSet:
  """Tokenise puzzles/solutions [n, 81] (0 = blank): one group per puzzle, num_aug transforms."""
  n, per = puzzles.shape[0], 1 + num_aug
  inputs = np.empty((n * per, 81), np.uint8)
  labels = np.empty((n * per, 81), np.uint8)
  for i in range(n):
    block = slice(i * per, (i + 1) * per)
    inputs[block.start], labels[block.start] = puzzles[i], solutions[i]
    if num_aug:
      cell_src, digit_map = random_transforms(rng, num_aug)
      inputs[block.start + 1 : block.stop] = apply_transforms(puzzles[i], cell_src, digit_map)
      labels[block.start + 1 : block.stop] = apply_transforms(solutions[i], cell_src, digit_map)
  return SplitSet(
    inputs=inputs + 1,
    labels=labels + 1,
    puzzle_identifiers=np.zeros(n * per, np.int32),
    puzzle_indices=np.arange(n * per + 1, dtype=np.int32),
    group_indices=np.arange(0, n * per + 1, per, dtype=np.int32),
  )


def build_sudoku(
  out_dir: str | os.PathLike,
  *,
  train_size: int = 1000,
  test_size: int = 1000,
  num_aug: int = 1000,
  seed: int = 0,
  difficulty: str = "hard",
  min_guesses: int | None = None,
  climb_steps: int | None = None,
  blanks: int | None = None,
  min_backtracks: int | None = None,
  from_csv: str | os.PathLike | None = None,
  test_csv: str | os.PathLike | None = None,
  workers: int | None = None,
  force: bool = False,
  progress: bool = True,
) -> Path:
  """Build (or reuse, when `build_args.json` matches) a Sudoku dataset folder; returns its path.

  With `from_csv` (a directory holding train.csv and test.csv, or the train CSV with `test_csv`)
  the authors' puzzles are used: `train_size` subsamples train (0 = all), `min_guesses` filters
  on the CSV rating (`min_backtracks` does not apply). Otherwise puzzles are generated (see
  module docstring), and the stats files hold both ratings of every puzzle. The output
  folder follows `claim_dataset_folder` (reused when built with the same arguments;
  replaced only with `force` when built with others).
  """
  out_dir = Path(out_dir)
  least = 0 if from_csv is not None else 1  # from a CSV, 0 = all rows
  check_setting("train_size", train_size, least)
  check_setting("test_size", test_size, least)
  check_setting("num_aug", num_aug, 0)
  args: dict[str, Any] = dict(
    builder="sudoku",
    version=1,
    train_size=train_size,
    test_size=test_size,
    num_aug=num_aug,
    seed=seed,
  )
  if from_csv is not None:
    train_csv = Path(from_csv) / "train.csv" if Path(from_csv).is_dir() else Path(from_csv)
    test_path = Path(test_csv) if test_csv else train_csv.parent / "test.csv"
    args.update(
      from_csv=str(train_csv.resolve()), test_csv=str(test_path.resolve()), min_guesses=min_guesses
    )
  else:
    args.update(
      difficulty=difficulty,
      **generator_settings(difficulty, blanks, climb_steps, min_guesses, min_backtracks),
    )
  if claim_dataset_folder(out_dir, args, force):
    return out_dir
  t0 = time.time()

  ratings: dict[str, np.ndarray] = {}
  if from_csv is not None:
    q_tr, a_tr, r_tr = read_sudoku_csv(args["from_csv"], min_guesses)
    q_te, a_te, r_te = read_sudoku_csv(args["test_csv"], min_guesses)
    if train_size and train_size < len(q_tr):
      keep = np.random.default_rng([seed, 2]).choice(len(q_tr), train_size, replace=False)
      q_tr, a_tr, r_tr = q_tr[keep], a_tr[keep], r_tr[keep]
    if test_size and test_size < len(q_te):
      q_te, a_te, r_te = q_te[:test_size], a_te[:test_size], r_te[:test_size]
  else:
    q, a, r, bt = generate_puzzles(
      train_size + test_size,
      seed,
      difficulty,
      blanks=args["blanks"],
      climb_steps=args["climb_steps"],
      min_guesses=args["min_guesses"],
      min_backtracks=args.get("min_backtracks"),
      workers=workers,
      progress=progress,
    )
    q_tr, a_tr, r_tr = q[:train_size], a[:train_size], r[:train_size]
    q_te, a_te, r_te = q[train_size:], a[train_size:], r[train_size:]
    ratings = {"train_backtracks": bt[:train_size], "test_backtracks": bt[train_size:]}

  train = make_split(q_tr, a_tr, num_aug, np.random.default_rng([seed, 1]))
  test = make_split(q_te, a_te, 0, np.random.default_rng([seed, 3]))
  ratings = {"train": r_tr, "test": r_te, **ratings}
  stats = {
    "train_rating": rating_summary(r_tr),
    "test_rating": rating_summary(r_te),
    "train_clues": rating_summary((q_tr > 0).sum(1)),
    "test_clues": rating_summary((q_te > 0).sum(1)),
  }
  stats.update({k: rating_summary(v) for k, v in ratings.items() if k.endswith("backtracks")})
  what = "rating (CSV)" if from_csv is not None else "rating (guesses)"

  def line(s: str) -> str:
    more = (
      f", backtracks mean {stats[s + '_backtracks'].get('mean', 0):.2f}"
      if s + "_backtracks" in stats
      else ""
    )
    return (
      f"{s}: {stats[s + '_rating']['count']} puzzles, {what} mean "
      f"{stats[s + '_rating'].get('mean', 0):.2f}{more}, clues mean "
      f"{stats[s + '_clues'].get('mean', 0):.1f}"
    )

  print("; ".join(line(s) for s in ("train", "test")))
  return write_dataset(
    out_dir,
    {"train": single_set(train, VOCAB_SIZE), "test": single_set(test, VOCAB_SIZE)},
    started=t0,
    build_args=args,
    extra_files={
      "sudoku_stats.json": json.dumps(stats, indent=1),
      "sudoku_ratings.json": json.dumps({k: v.tolist() for k, v in ratings.items()}),
    },
  )


def main(argv: list[str] | None = None) -> int:
  """Command-line entry point (see module docstring)."""
  p = _cli.builder_parser(__doc__.split("\n")[0], "a Sudoku", workers=True)
  p.add_argument(
    "--train-size",
    type=int,
    default=1000,
    help="training puzzles (with --from-csv: a random subset, 0 = all)",
  )
  p.add_argument(
    "--test-size",
    type=int,
    default=1000,
    help="test puzzles (with --from-csv: the first ones, 0 = all)",
  )
  p.add_argument(
    "--num-aug", type=int, default=1000, help="symmetry transforms per training puzzle"
  )
  p.add_argument("--difficulty", choices=sorted(PRESETS), default="hard", help="generator preset")
  p.add_argument(
    "--min-guesses",
    type=int,
    default=None,
    help="keep puzzles rated at least this (default: the preset's)",
  )
  p.add_argument(
    "--min-backtracks",
    type=int,
    default=None,
    help="keep puzzles with at least this many backtracks (generated only)",
  )
  p.add_argument(
    "--climb-steps",
    type=int,
    default=None,
    help="hill-climbing steps per puzzle (default: the preset's)",
  )
  p.add_argument(
    "--blanks", type=int, default=None, help="most blank cells, 1-81 (default: the preset's)"
  )
  p.add_argument(
    "--from-csv", default=None, help="authors' CSV directory (train.csv, test.csv) or train CSV"
  )
  p.add_argument(
    "--test-csv", default=None, help="test CSV (default: test.csv beside the train CSV)"
  )
  p.add_argument("--quiet", action="store_true", help="no progress bar")
  a = p.parse_args(argv)
  build_sudoku(
    a.out,
    train_size=a.train_size,
    test_size=a.test_size,
    num_aug=a.num_aug,
    seed=a.seed,
    difficulty=a.difficulty,
    min_guesses=a.min_guesses,
    climb_steps=a.climb_steps,
    min_backtracks=a.min_backtracks,
    blanks=a.blanks,
    from_csv=a.from_csv,
    test_csv=a.test_csv,
    workers=a.workers,
    force=a.force,
    progress=not a.quiet,
  )
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
