"""Maze-Hard generation: random walls, rejection-sampled for a long start-goal shortest path.

Walls are drawn independently per cell with a density sampled uniformly from
DENSITY_RANGE; start and goal are a random pair whose shortest path is longer than
`min_path` moves. Rejection sampling is made cheap with bit-parallel BFS: each grid row is
a uint64 bit mask, a batch of candidate mazes is expanded one BFS layer per numpy op, and a
double sweep (farthest cell from a random cell, then farthest from that) bounds each maze's
diameter. Every maze has its own RNG seeded by (seed, split, index), so output is
byte-identical whatever the number of worker processes. `hrm_jax.data.maze` re-exports the
public names.
"""

from __future__ import annotations

import numpy as np

from hrm_jax.data._maze_grid import FREE, GOAL, START, WALL, MazeError, bfs_distances, solve
from hrm_jax.data._pool import parallel_map
from hrm_jax.data.format import check_setting

MAX_SIZE = 64  # one uint64 per row in the bit-parallel BFS
DENSITY_RANGE = (0.3, 0.5)
PAPER_SIZE, PAPER_MIN_PATH = 30, 110  # Maze-Hard: 30x30, shortest path longer than 110 moves
_BATCH = 256  # candidate mazes drawn per RNG step (part of the seeded procedure: keep fixed)
_SPLIT_CODES = {"train": 0, "test": 1}


def _bit_sweep(free_rows: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Bit-parallel BFS on a batch: free_rows, source [B, n] uint64 -> (eccentricity, farthest cell).

  The farthest cell is the first (row-major) cell of the last non-empty BFS layer.
  """
  open_rows = free_rows & ~source  # free cells not reached yet
  frontier = source
  layers, alive = [source], [np.ones(len(source), bool)]
  one = np.uint64(1)
  side = np.empty_like(source)
  while True:
    grow = np.left_shift(frontier, one)
    grow |= np.right_shift(frontier, one, out=side)
    grow[:, 1:] |= frontier[:, :-1]
    grow[:, :-1] |= frontier[:, 1:]
    grow &= open_rows
    live = grow.any(axis=1)
    if not live.any():
      break
    open_rows ^= grow
    layers.append(grow)
    alive.append(live)
    frontier = grow
  alive_db = np.stack(alive)
  ecc = alive_db.shape[0] - 1 - np.argmax(alive_db[::-1], axis=0)
  last = np.stack([layers[d][b] for b, d in enumerate(ecc.tolist())])  # [B, n]
  row = np.argmax(last != 0, axis=1)
  bits = last[np.arange(len(last)), row]
  low = bits & (~bits + one)  # lowest set bit
  col = np.round(np.log2(low.astype(np.float64))).astype(np.int64)
  return ecc, row * free_rows.shape[1] + col


def _pack_rows(free: np.ndarray) -> np.ndarray:
  """Boolean grids [B, n, n] -> row bit masks [B, n] uint64 (bit c = column c)."""
  packed = np.packbits(free, axis=2, bitorder="little")
  full = np.zeros(free.shape[:2] + (8,), np.uint8)
  full[..., : packed.shape[2]] = packed
  return full.view("<u8")[..., 0].astype(np.uint64)


def _cells_to_bits(cells: np.ndarray, n: int) -> np.ndarray:
  """One-hot bit masks [B, n] uint64 for flat cell indices [B]."""
  bits = np.zeros((len(cells), n), np.uint64)
  bits[np.arange(len(cells)), cells // n] = np.left_shift(
    np.uint64(1), (cells % n).astype(np.uint64)
  )
  return bits


def _item_rng(seed: int, split: str, index: int, retry: int = 0) -> np.random.Generator:
  return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index), int(retry)])


def generate_maze(
  rng: np.random.Generator, size: int = 30, min_path: int = 110, max_batches: int = 2000
) -> tuple[np.ndarray, np.ndarray, dict]:
  """Draw one maze with shortest S-G path > `min_path` moves from `rng`.

  Returns (inputs [size*size] uint8, labels [size*size] uint8, info) where info holds
  'path_len' (moves), 'wall_prob' (the per-cell wall probability drawn from
  DENSITY_RANGE) and 'wall_density' (the realised wall fraction). Raises MazeError if
  `max_batches` batches of candidates produce none (min_path too long for the size).
  """
  check_settings(size, min_path)
  n = size
  lo, hi = DENSITY_RANGE
  for _ in range(max_batches):
    density = rng.uniform(lo, hi, size=_BATCH)
    walls = rng.random((_BATCH, n, n)) < density[:, None, None]
    picks = rng.random((_BATCH, 3))  # first sweep source, start choice, goal choice
    free = ~walls
    counts = free.reshape(_BATCH, -1).sum(1)
    ok = counts > min_path + 1
    if not ok.any():
      continue
    row_bits = _pack_rows(free)
    idx = np.flatnonzero(ok)
    src = np.array([np.flatnonzero(free[b].ravel())[int(picks[b, 0] * counts[b])] for b in idx])
    ecc1, far1 = _bit_sweep(row_bits[idx], _cells_to_bits(src, n))
    keep = 2 * ecc1 > min_path
    if not keep.any():
      continue
    idx, far1 = idx[keep], far1[keep]
    ecc2, _ = _bit_sweep(row_bits[idx], _cells_to_bits(far1, n))
    hit = np.flatnonzero(ecc2 > min_path)
    if len(hit) == 0:
      continue
    b, u = int(idx[hit[0]]), int(far1[hit[0]])
    return _place_pair(free[b], divmod(u, n), picks[b, 1:], min_path, float(density[b]))
  raise MazeError(
    f"no {size}x{size} maze with a path longer than {min_path} found in "
    f"{max_batches * _BATCH} tries; lower --min-path"
  )


def _place_pair(
  free: np.ndarray, u: tuple[int, int], picks: np.ndarray, min_path: int, prob: float
) -> tuple[np.ndarray, np.ndarray, dict]:
  """Choose start and goal at random among far pairs of the component of `u`, then solve."""
  d_u = bfs_distances(free, u)
  v = np.unravel_index(int(np.argmax(d_u)), d_u.shape)
  d_v = bfs_distances(free, v)
  candidates = np.flatnonzero((np.maximum(d_u, d_v) > min_path).ravel())
  start = np.unravel_index(int(candidates[int(picks[0] * len(candidates))]), free.shape)
  d_s = bfs_distances(free, start)
  far = np.flatnonzero((d_s > min_path).ravel())
  goal = np.unravel_index(int(far[int(picks[1] * len(far))]), free.shape)
  grid = np.where(free, FREE, WALL).astype(np.uint8)
  grid[start], grid[goal] = START, GOAL
  label = solve(grid).astype(np.uint8)
  info = {
    "path_len": int(d_s[goal]),
    "wall_prob": prob,
    "wall_density": float((grid == WALL).mean()),
  }
  return grid.ravel(), label.ravel(), info


def default_min_path(size: int) -> int:
  """The shortest-path threshold for `size`: Maze-Hard's 110 at 30x30, scaled by area."""
  return int(round(PAPER_MIN_PATH * size * size / PAPER_SIZE**2))


def check_settings(size: int, min_path: int) -> None:
  """Refuse a grid size outside [2, MAX_SIZE] or a min_path the size cannot reach."""
  if not 2 <= size <= MAX_SIZE:
    raise MazeError(f"maze size must be in [2, {MAX_SIZE}], got {size}")
  if min_path < 0 or min_path >= size * size // 2:
    raise MazeError(
      f"min_path (--min-path) must be in [0, {size * size // 2}) for size "
      f"{size}, got {min_path}; leave it out for the default "
      f"{default_min_path(size)}"
    )


def _generate_one(job: tuple[int, str, int, int, int, int]) -> tuple[np.ndarray, np.ndarray, dict]:
  seed, split, index, retry, size, min_path = job
  return generate_maze(_item_rng(seed, split, index, retry), size, min_path)


def generate_mazes(
  count: int,
  seed: int = 0,
  split: str = "train",
  size: int = 30,
  min_path: int = 110,
  workers: int | None = None,
  progress: bool = True,
  exclude: set[bytes] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
  """Generate `count` distinct mazes for `split` ("train" or "test").

  Returns (inputs [count, size*size] uint8, labels [count, size*size] uint8, infos).
  Maze i depends only on (seed, split, i), so the result is the same for any `workers`
  (default: all CPUs). A maze equal to an earlier one or to one in `exclude` (e.g. the
  train inputs when generating test) is redrawn with the next retry seed.
  """
  if split not in _SPLIT_CODES:
    raise MazeError(f"split must be 'train' or 'test', got {split!r}")
  check_settings(size, min_path)
  check_setting("count", count, 0)
  jobs = [(seed, split, i, 0, size, min_path) for i in range(count)]
  results = parallel_map(_generate_one, jobs, workers, f"maze {split}", progress, "maze")
  seen = set(exclude or ())
  for i in range(count):
    retry = 0
    while results[i][0].tobytes() in seen:
      retry += 1
      results[i] = _generate_one((seed, split, i, retry, size, min_path))
    seen.add(results[i][0].tobytes())
  if count == 0:
    empty = np.zeros((0, size * size), np.uint8)
    return empty, empty.copy(), []
  return (
    np.stack([r[0] for r in results]),
    np.stack([r[1] for r in results]),
    [r[2] for r in results],
  )
