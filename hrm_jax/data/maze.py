"""Maze-Hard: random-wall mazes whose start-goal shortest path is long, in the HRM format.

Tokens (the authors' character set "# SGo", PAD = 0)::

    0 PAD   1 wall '#'   2 free ' '   3 start 'S'   4 goal 'G'   5 path 'o'

The input is the maze; the label is the same grid with the cells of one shortest path
from S to G (S and G excluded) marked 'o'. Walls are drawn independently per cell with a
density sampled uniformly from [0.3, 0.5]; start and goal are a random pair whose shortest
path is longer than `min_path` moves. Shortest paths are rarely unique, so the stored one
follows a fixed tie-break and `check_path` scores a prediction by validity and optimality
instead of exact match.

This module reads and writes the authors' CSV files and builds the dataset; the grids, the
solver and the checker live in `hrm_jax.data._maze_grid`, the seeded generator in
`hrm_jax.data._maze_gen`, and both are importable from here.

CLI: ``python -m hrm_jax.data.maze --out DIR --size 30 --train-size 1000 --test-size 1000
--min-path 110 --seed 0`` (``--from-csv DIR`` reads the authors' train.csv / test.csv;
without ``--min-path`` it is derived from the size, 110 at 30x30: `default_min_path`).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data._dihedral import dihedral
from hrm_jax.data._maze_gen import (
  DENSITY_RANGE,
  MAX_SIZE,
  PAPER_MIN_PATH,
  PAPER_SIZE,
  check_settings,
  default_min_path,
  generate_maze,
  generate_mazes,
)
from hrm_jax.data._maze_grid import (
  CHARSET,
  FREE,
  GOAL,
  PAD,
  PATH,
  START,
  VOCAB_SIZE,
  WALL,
  MazeError,
  bfs_distances,
  chars_to_tokens,
  check_path,
  find_cell,
  solve,
  tokens_to_chars,
)
from hrm_jax.data.format import (
  PuzzleSetBuilder,
  check_setting,
  claim_dataset_folder,
  single_set,
  write_dataset,
)

__all__ = [
  "CHARSET", "DENSITY_RANGE", "FREE", "GOAL", "MAX_SIZE", "PAD", "PAPER_MIN_PATH", "PAPER_SIZE",
  "PATH", "START", "VOCAB_SIZE", "WALL", "MazeError", "bfs_distances", "build_maze_dataset",
  "chars_to_tokens", "check_path", "default_min_path", "dihedral", "generate_maze",
  "generate_mazes", "main", "read_csv", "solve", "summary_line", "tokens_to_chars", "write_csv",
]  # fmt: skip


# ------------------------------------------------------------------------ CSV (authors' format)


def write_csv(
  path: str | os.PathLike,
  inputs: np.ndarray,
  labels: np.ndarray,
  ratings: list[int] | None = None,
  source: str = "hrm_jax",
) -> None:
  """Write mazes in the authors' CSV layout: a header, then source, question, answer, rating."""
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["source", "question", "answer", "rating"])
    for i, (q, a) in enumerate(zip(inputs, labels)):
      writer.writerow(
        [source, tokens_to_chars(q), tokens_to_chars(a), ratings[i] if ratings is not None else 0]
      )


def read_csv(path: str | os.PathLike, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Read an authors'-format maze CSV into (inputs, labels) [N, n*n] uint8, validating every row.

  Each row must have 4 fields, square grids of one size (equal to `size` if given) over
  "# SGo", one S and one G, an answer that equals the question except for 'o' on free
  cells, and a valid S-G path. Raises MazeError naming the file and row otherwise.
  """
  path = Path(path)
  if not path.is_file():
    raise MazeError(f"{path}: CSV file not found")
  inputs, labels = [], []
  with open(path, newline="") as f:
    reader = csv.reader(f)
    header = next(reader, None)
    if header is None:
      raise MazeError(f"{path}: empty CSV (expected a header row)")
    for line, row in enumerate(reader, start=2):
      try:
        inputs_row, label_row = _parse_row(row, size)
      except MazeError as e:
        raise MazeError(f"{path}, row {line}: {e}") from None
      size = int(round(len(inputs_row) ** 0.5))
      inputs.append(inputs_row)
      labels.append(label_row)
  if not inputs:
    raise MazeError(f"{path}: no mazes in the file")
  return np.stack(inputs), np.stack(labels)


def _parse_row(row: list[str], size: int | None) -> tuple[np.ndarray, np.ndarray]:
  if len(row) != 4:
    raise MazeError(f"expected 4 fields (source, question, answer, rating), got {len(row)}")
  _, q, a, _ = row
  n = int(round(len(q) ** 0.5))
  if n * n != len(q) or len(a) != len(q):
    raise MazeError(f"question/answer of {len(q)}/{len(a)} characters are not one square grid")
  if size is not None and n != size:
    raise MazeError(f"grid is {n}x{n}, expected {size}x{size}")
  qt, at = chars_to_tokens(q), chars_to_tokens(a)
  grid = qt.reshape(n, n)
  if (qt == PATH).any():
    raise MazeError("question contains path cells 'o'")
  if not ((at == qt) | ((qt == FREE) & (at == PATH))).all():
    raise MazeError("answer differs from question outside free cells marked 'o'")
  valid, _ = check_path(grid, at.reshape(n, n))
  if not valid:
    if (
      bfs_distances(grid != WALL, find_cell(grid, GOAL, "goal"))[find_cell(grid, START, "start")]
      < 0
    ):
      raise MazeError("maze has no path from start to goal")
    raise MazeError("answer is not a connected S-G path")
  return qt.astype(np.uint8), at.astype(np.uint8)


# ----------------------------------------------------------------------------- dataset build


def _split_set(inputs: np.ndarray, labels: np.ndarray, aug: bool):
  n = int(round(inputs.shape[1] ** 0.5))
  builder = PuzzleSetBuilder(n * n, dtype=np.uint8)
  for q, a in zip(inputs, labels):
    builder.begin_group()
    for tid in range(8 if aug else 1):
      builder.add_puzzle(
        0, dihedral(q.reshape(n, n), tid).ravel(), dihedral(a.reshape(n, n), tid).ravel()
      )
  data = builder.build()
  return single_set(data, VOCAB_SIZE, PAD)


def _stats(infos: list[dict]) -> dict:
  lengths = np.array([i["path_len"] for i in infos]) if infos else np.zeros(1)
  out = {
    "count": len(infos),
    "path_len_mean": float(lengths.mean()),
    "path_len_min": int(lengths.min()),
    "path_len_max": int(lengths.max()),
  }
  for p in (10, 50, 90, 99):
    out[f"path_len_p{p}"] = float(np.percentile(lengths, p))
  if infos and "wall_density" in infos[0]:
    out["wall_density_mean"] = float(np.mean([i["wall_density"] for i in infos]))
  return out


def build_maze_dataset(
  out_dir: str | os.PathLike,
  size: int = 30,
  train_size: int = 1000,
  test_size: int = 1000,
  min_path: int | None = None,
  seed: int = 0,
  aug: bool = False,
  from_csv: str | os.PathLike | None = None,
  workers: int | None = None,
  force: bool = False,
  progress: bool = True,
) -> Path:
  """Build (or reuse) a Maze-Hard dataset directory; returns its path.

  Generated: `train_size` / `test_size` mazes of `size`x`size` with path > `min_path`
  (default: `default_min_path(size)`, 110 for 30x30).
  From CSV: `from_csv` is a directory holding the authors' train.csv and test.csv (sizes
  and min_path are then ignored except that `size` is checked). `aug` adds the 8 dihedral
  transforms of every training maze as one group (the authors' builder has this off by
  default). The output folder follows `claim_dataset_folder`: reused when built with the
  same arguments, replaced only with `force` when built with others.
  Extra files: build_args.json and maze_stats.json (path-length distribution).
  """
  if min_path is None and size is not None:
    min_path = default_min_path(size)
  if not from_csv:
    check_settings(size, min_path)
    check_setting("train_size", train_size, 1)
    check_setting("test_size", test_size, 1)
  args = {
    "builder": "maze",
    "version": 1,
    "size": size,
    "train_size": train_size,
    "test_size": test_size,
    "min_path": min_path,
    "seed": seed,
    "aug": bool(aug),
    "from_csv": str(Path(from_csv).resolve()) if from_csv else None,
  }
  if claim_dataset_folder(out_dir, args, force):
    return Path(out_dir)
  t0 = time.time()
  if from_csv:
    folder = Path(from_csv)
    data = {s: read_csv(folder / f"{s}.csv", size) for s in ("train", "test")}
    infos = {
      s: [{"path_len": int((lab == PATH).sum(1)[i]) + 1} for i in range(len(lab))]
      for s, (_, lab) in data.items()
    }
  else:
    tr_in, tr_lab, tr_info = generate_mazes(
      train_size, seed, "train", size, min_path, workers, progress
    )
    te_in, te_lab, te_info = generate_mazes(
      test_size,
      seed,
      "test",
      size,
      min_path,
      workers,
      progress,
      exclude={q.tobytes() for q in tr_in},
    )
    data = {"train": (tr_in, tr_lab), "test": (te_in, te_lab)}
    infos = {"train": tr_info, "test": te_info}
  splits = {s: _split_set(q, a, aug and s == "train") for s, (q, a) in data.items()}
  stats = {s: _stats(i) for s, i in infos.items()}
  print(summary_line(stats))
  stats_file = {"maze_stats.json": json.dumps(stats, indent=1)}
  return write_dataset(out_dir, splits, started=t0, build_args=args, extra_files=stats_file)


def summary_line(stats: dict) -> str:
  """One line of a maze_stats.json: count and shortest-path lengths per split."""
  return "; ".join(
    f"{s}: {v['count']} mazes, path length mean {v['path_len_mean']:.1f} "
    f"(min {v['path_len_min']}, max {v['path_len_max']})"
    for s, v in stats.items()
    if "count" in v
  )


def main(argv: list[str] | None = None) -> int:
  """CLI entry point (see the module docstring)."""
  p = _cli.builder_parser(
    "Build the Maze-Hard dataset in the HRM format.",
    "a maze",
    unit="mazes",
    train_size=1000,
    test_size=1000,
    workers=True,
  )
  p.add_argument("--size", type=int, default=PAPER_SIZE, help="grid side")
  p.add_argument(
    "--min-path",
    type=int,
    default=None,
    help="keep mazes with shortest path > this (default: 110 scaled to the size's "
    "area, 110 at 30x30)",
  )
  p.add_argument(
    "--aug", action="store_true", help="add the 8 dihedral transforms of training mazes"
  )
  p.add_argument(
    "--from-csv", default=None, help="directory with the authors' train.csv and test.csv"
  )
  a = p.parse_args(argv)
  build_maze_dataset(
    a.out,
    a.size,
    a.train_size,
    a.test_size,
    a.min_path,
    a.seed,
    a.aug,
    a.from_csv,
    a.workers,
    a.force,
  )
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
