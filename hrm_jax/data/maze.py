"""Maze-Hard: random-wall mazes whose start-goal shortest path is long, in the HRM format.

Tokens (the authors' character set "# SGo", PAD = 0)::

    0 PAD   1 wall '#'   2 free ' '   3 start 'S'   4 goal 'G'   5 path 'o'

The input is the maze; the label is the same grid with the cells of one shortest path
from S to G (S and G excluded) marked 'o'. Walls are drawn independently per cell with a
density sampled uniformly from [0.3, 0.5]; start and goal are a random pair whose shortest
path is longer than `min_path` moves. Shortest paths are rarely unique, so the stored one
follows a fixed tie-break: BFS distances from the goal, then from the start always step to
the first neighbour (up, down, left, right) one step closer to the goal. `check_path`
scores a prediction by validity and optimality instead of exact match.

Generation is rejection sampling made cheap with bit-parallel BFS: each grid row is a
uint64 bit mask, a batch of candidate mazes is expanded one BFS layer per numpy op, and a
double sweep (farthest cell from a random cell, then farthest from that) bounds each
maze's diameter. Every maze has its own RNG seeded by (seed, split, index), so output is
byte-identical whatever the number of worker processes.

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
from collections import deque
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data._pool import parallel_map
from hrm_jax.data.format import (DatasetMetadata, PuzzleSetBuilder, check_setting,
                                 claim_dataset_folder, write_dataset)
from hrm_jax.errors import UserError

CHARSET = "# SGo"
PAD, WALL, FREE, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
MAX_SIZE = 64  # one uint64 per row in the bit-parallel BFS
DENSITY_RANGE = (0.3, 0.5)
PAPER_SIZE, PAPER_MIN_PATH = 30, 110  # Maze-Hard: 30x30, shortest path longer than 110 moves
_BATCH = 256  # candidate mazes drawn per RNG step (part of the seeded procedure: keep fixed)
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # tie-break order: up, down, left, right
_SPLIT_CODES = {"train": 0, "test": 1}
_CHAR_TO_TOKEN = np.zeros(256, np.int64)
_CHAR_TO_TOKEN[[ord(ch) for ch in CHARSET]] = np.arange(1, len(CHARSET) + 1)


class MazeError(UserError, ValueError):
    """A maze, CSV row or generator setting is invalid; the message says which and why."""


# ----------------------------------------------------------------------------- BFS helpers

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
    full[..., :packed.shape[2]] = packed
    return full.view("<u8")[..., 0].astype(np.uint64)


def _cells_to_bits(cells: np.ndarray, n: int) -> np.ndarray:
    """One-hot bit masks [B, n] uint64 for flat cell indices [B]."""
    bits = np.zeros((len(cells), n), np.uint64)
    bits[np.arange(len(cells)), cells // n] = np.left_shift(np.uint64(1), (cells % n).astype(np.uint64))
    return bits


def bfs_distances(free: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """BFS move counts from `source` over a boolean free-cell grid [n, m]; -1 where unreachable."""
    n, m = free.shape
    dist = np.full((n, m), -1, np.int64)
    flat_free = free.ravel().tolist()
    d = [-1] * (n * m)
    s = source[0] * m + source[1]
    d[s] = 0
    queue = deque([s])
    while queue:
        u = queue.popleft()
        r, c = divmod(u, m)
        nd = d[u] + 1
        for dr, dc in _STEPS:
            rr, cc = r + dr, c + dc
            if 0 <= rr < n and 0 <= cc < m:
                v = rr * m + cc
                if flat_free[v] and d[v] < 0:
                    d[v] = nd
                    queue.append(v)
    dist.ravel()[:] = d
    return dist


def _find(grid: np.ndarray, token: int, what: str) -> tuple[int, int]:
    where = np.argwhere(grid == token)
    if len(where) != 1:
        raise MazeError(f"maze must have exactly one {what} cell ({CHARSET[token - 1]!r}), found {len(where)}")
    return int(where[0, 0]), int(where[0, 1])


def _as_square(grid: np.ndarray | str, what: str) -> np.ndarray:
    """A token grid [n, n] from a token array ([n*n] or [n, n]) or a character string."""
    if isinstance(grid, str):
        grid = chars_to_tokens(grid)
    arr = np.asarray(grid)
    if arr.ndim == 1:
        n = int(round(len(arr) ** 0.5))
        if n * n != len(arr):
            raise MazeError(f"{what}: {len(arr)} cells is not a square grid")
        arr = arr.reshape(n, n)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise MazeError(f"{what}: expected a square grid, got shape {arr.shape}")
    return arr.astype(np.int64)


def chars_to_tokens(text: str) -> np.ndarray:
    """Map a string over "# SGo" to tokens 1..5 (flat int64 array)."""
    bad = set(text) - set(CHARSET)
    if bad:
        raise MazeError(f"unknown maze character(s) {sorted(bad)!r}; allowed {CHARSET!r}")
    return _CHAR_TO_TOKEN[np.frombuffer(text.encode("ascii"), np.uint8)]


def tokens_to_chars(tokens: np.ndarray) -> str:
    """Inverse of chars_to_tokens for a flat or 2-D token array (PAD is not allowed)."""
    flat = np.asarray(tokens).ravel()
    if flat.size and (flat.min() < 1 or flat.max() > len(CHARSET)):
        raise MazeError("maze tokens must be in 1..5 to be written as characters")
    return "".join(CHARSET[t - 1] for t in flat.tolist())


# ----------------------------------------------------------------------------- solving / checking

def solve(maze: np.ndarray | str) -> np.ndarray:
    """Return the label grid [n, n]: the maze with the tie-broken shortest S->G path marked PATH.

    Raises MazeError if the maze is malformed or has no path from start to goal.
    """
    grid = _as_square(maze, "maze")
    start, goal = _find(grid, START, "start"), _find(grid, GOAL, "goal")
    if not np.isin(grid, (WALL, FREE, START, GOAL)).all():
        raise MazeError("maze input may only hold wall, free, start and goal tokens")
    dist = bfs_distances(grid != WALL, goal)
    if dist[start] < 0:
        raise MazeError("maze has no path from start to goal")
    label = grid.copy()
    n = grid.shape[0]
    r, c = start
    while dist[r, c] > 1:
        for dr, dc in _STEPS:
            rr, cc = r + dr, c + dc
            if 0 <= rr < n and 0 <= cc < n and dist[rr, cc] == dist[r, c] - 1:
                r, c = rr, cc
                break
        label[r, c] = PATH
    return label


def check_path(maze_grid: np.ndarray | str, predicted: np.ndarray | str) -> tuple[bool, bool]:
    """Score a predicted label grid against a maze: returns (valid, optimal).

    valid: the PATH cells all lie on free cells of the maze and, together with S and G,
    form one simple 4-neighbour chain from S to G (S and G have one chain neighbour each,
    every path cell two, and the chain is connected). optimal: valid and its length (path
    cells + 1 moves) equals the BFS shortest distance. Other cells of the prediction are
    not looked at. Both grids may be token arrays ([n*n] or [n, n]) or character strings.
    """
    grid = _as_square(maze_grid, "maze")
    pred = _as_square(predicted, "prediction")
    if pred.shape != grid.shape:
        raise MazeError(f"prediction shape {pred.shape} differs from maze shape {grid.shape}")
    start, goal = _find(grid, START, "start"), _find(grid, GOAL, "goal")
    on_path = pred == PATH
    if (on_path & (grid != FREE)).any():
        return False, False
    chain = on_path.copy()
    chain[start] = chain[goal] = True
    padded = np.pad(chain, 1)
    degree = (padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:])
    if degree[start] != 1 or degree[goal] != 1 or (degree[on_path] != 2).any():
        return False, False
    reach = bfs_distances(chain, start)
    if reach[goal] < 0 or (reach[chain] < 0).any():
        return False, False
    shortest = bfs_distances(grid != WALL, goal)[start]
    return True, bool(on_path.sum() + 1 == shortest)


# ----------------------------------------------------------------------------- generation

def _item_rng(seed: int, split: str, index: int, retry: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index), int(retry)])


def generate_maze(rng: np.random.Generator, size: int = 30, min_path: int = 110,
                  max_batches: int = 2000) -> tuple[np.ndarray, np.ndarray, dict]:
    """Draw one maze with shortest S-G path > `min_path` moves from `rng`.

    Returns (inputs [size*size] uint8, labels [size*size] uint8, info) where info holds
    'path_len' (moves), 'wall_prob' (the per-cell wall probability drawn from
    DENSITY_RANGE) and 'wall_density' (the realised wall fraction). Raises MazeError if
    `max_batches` batches of candidates produce none (min_path too long for the size).
    """
    _check_settings(size, min_path)
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
        rows = _pack_rows(free)
        idx = np.flatnonzero(ok)
        src = np.array([np.flatnonzero(free[b].ravel())[int(picks[b, 0] * counts[b])] for b in idx])
        ecc1, far1 = _bit_sweep(rows[idx], _cells_to_bits(src, n))
        keep = 2 * ecc1 > min_path
        if not keep.any():
            continue
        idx, far1 = idx[keep], far1[keep]
        ecc2, _ = _bit_sweep(rows[idx], _cells_to_bits(far1, n))
        hit = np.flatnonzero(ecc2 > min_path)
        if len(hit) == 0:
            continue
        b, u = int(idx[hit[0]]), int(far1[hit[0]])
        return _place_pair(free[b], divmod(u, n), picks[b, 1:], min_path, float(density[b]))
    raise MazeError(f"no {size}x{size} maze with a path longer than {min_path} found in "
                    f"{max_batches * _BATCH} tries; lower --min-path")


def _place_pair(free: np.ndarray, u: tuple[int, int], picks: np.ndarray, min_path: int,
                prob: float) -> tuple[np.ndarray, np.ndarray, dict]:
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
    info = {"path_len": int(d_s[goal]), "wall_prob": prob, "wall_density": float((grid == WALL).mean())}
    return grid.ravel(), label.ravel(), info


def default_min_path(size: int) -> int:
    """The shortest-path threshold for `size`: Maze-Hard's 110 at 30x30, scaled by area."""
    return int(round(PAPER_MIN_PATH * size * size / PAPER_SIZE ** 2))


def _check_settings(size: int, min_path: int) -> None:
    if not 2 <= size <= MAX_SIZE:
        raise MazeError(f"maze size must be in [2, {MAX_SIZE}], got {size}")
    if min_path < 0 or min_path >= size * size // 2:
        raise MazeError(f"min_path (--min-path) must be in [0, {size * size // 2}) for size "
                        f"{size}, got {min_path}; leave it out for the default "
                        f"{default_min_path(size)}")


def _generate_one(job: tuple[int, str, int, int, int, int]) -> tuple[np.ndarray, np.ndarray, dict]:
    seed, split, index, retry, size, min_path = job
    return generate_maze(_item_rng(seed, split, index, retry), size, min_path)


def generate_mazes(count: int, seed: int = 0, split: str = "train", size: int = 30,
                   min_path: int = 110, workers: int | None = None, progress: bool = True,
                   exclude: set[bytes] | None = None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Generate `count` distinct mazes for `split` ("train" or "test").

    Returns (inputs [count, size*size] uint8, labels [count, size*size] uint8, infos).
    Maze i depends only on (seed, split, i), so the result is the same for any `workers`
    (default: all CPUs). A maze equal to an earlier one or to one in `exclude` (e.g. the
    train inputs when generating test) is redrawn with the next retry seed.
    """
    if split not in _SPLIT_CODES:
        raise MazeError(f"split must be 'train' or 'test', got {split!r}")
    _check_settings(size, min_path)
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
    return (np.stack([r[0] for r in results]), np.stack([r[1] for r in results]),
            [r[2] for r in results])


# ----------------------------------------------------------------------------- CSV (authors' format)

def write_csv(path: str | os.PathLike, inputs: np.ndarray, labels: np.ndarray,
              ratings: list[int] | None = None, source: str = "hrm_jax") -> None:
    """Write mazes in the authors' CSV layout: header, then rows (source, question, answer, rating)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["source", "question", "answer", "rating"])
        for i, (q, a) in enumerate(zip(inputs, labels)):
            writer.writerow([source, tokens_to_chars(q), tokens_to_chars(a),
                             ratings[i] if ratings is not None else 0])


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
        if bfs_distances(grid != WALL, _find(grid, GOAL, "goal"))[_find(grid, START, "start")] < 0:
            raise MazeError("maze has no path from start to goal")
        raise MazeError("answer is not a connected S-G path")
    return qt.astype(np.uint8), at.astype(np.uint8)


# ----------------------------------------------------------------------------- dataset build

def dihedral(grid: np.ndarray, tid: int) -> np.ndarray:
    """Dihedral transform `tid` in 0..7, numbered as in the authors' `dihedral_transform`:
    0 identity, 1-3 rotate 90/180/270 degrees anticlockwise, 4 left-right flip,
    5 up-down flip, 6 transpose, 7 anti-transpose."""
    if tid < 4:
        return np.rot90(grid, tid)
    if tid == 4:
        return np.fliplr(grid)
    if tid == 5:
        return np.flipud(grid)
    if tid == 6:
        return grid.T
    if tid == 7:
        return np.rot90(grid, 2).T
    raise ValueError(f"dihedral transform id must be in 0..7, got {tid}")


def _split_set(inputs: np.ndarray, labels: np.ndarray, aug: bool):
    n = int(round(inputs.shape[1] ** 0.5))
    builder = PuzzleSetBuilder(n * n, dtype=np.uint8)
    for q, a in zip(inputs, labels):
        builder.begin_group()
        for tid in range(8 if aug else 1):
            builder.add_puzzle(0, dihedral(q.reshape(n, n), tid).ravel(),
                               dihedral(a.reshape(n, n), tid).ravel())
    data = builder.build()
    meta = DatasetMetadata(pad_id=PAD, ignore_label_id=PAD, blank_identifier_id=0,
                           vocab_size=VOCAB_SIZE, seq_len=n * n, num_puzzle_identifiers=1,
                           total_groups=data.num_groups, mean_puzzle_examples=1.0, sets=["all"])
    return meta, {"all": data}


def _stats(infos: list[dict]) -> dict:
    lengths = np.array([i["path_len"] for i in infos]) if infos else np.zeros(1)
    out = {"count": len(infos), "path_len_mean": float(lengths.mean()),
           "path_len_min": int(lengths.min()), "path_len_max": int(lengths.max())}
    for p in (10, 50, 90, 99):
        out[f"path_len_p{p}"] = float(np.percentile(lengths, p))
    if infos and "wall_density" in infos[0]:
        out["wall_density_mean"] = float(np.mean([i["wall_density"] for i in infos]))
    return out


def build_maze_dataset(out_dir: str | os.PathLike, size: int = 30, train_size: int = 1000,
                       test_size: int = 1000, min_path: int | None = None, seed: int = 0,
                       aug: bool = False, from_csv: str | os.PathLike | None = None,
                       workers: int | None = None, force: bool = False,
                       progress: bool = True) -> Path:
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
        _check_settings(size, min_path)
        check_setting("train_size", train_size, 1)
        check_setting("test_size", test_size, 1)
    args = {"builder": "maze", "version": 1, "size": size, "train_size": train_size,
            "test_size": test_size, "min_path": min_path, "seed": seed, "aug": bool(aug),
            "from_csv": str(Path(from_csv).resolve()) if from_csv else None}
    if claim_dataset_folder(out_dir, args, force):
        return Path(out_dir)
    t0 = time.time()
    if from_csv:
        folder = Path(from_csv)
        data = {s: read_csv(folder / f"{s}.csv", size) for s in ("train", "test")}
        infos = {s: [{"path_len": int((lab == PATH).sum(1)[i]) + 1} for i in range(len(lab))]
                 for s, (_, lab) in data.items()}
    else:
        tr_in, tr_lab, tr_info = generate_mazes(train_size, seed, "train", size, min_path, workers, progress)
        te_in, te_lab, te_info = generate_mazes(test_size, seed, "test", size, min_path, workers, progress,
                                                exclude={q.tobytes() for q in tr_in})
        data = {"train": (tr_in, tr_lab), "test": (te_in, te_lab)}
        infos = {"train": tr_info, "test": te_info}
    splits = {s: _split_set(q, a, aug and s == "train") for s, (q, a) in data.items()}
    stats = {s: _stats(i) for s, i in infos.items()}
    print(summary_line(stats))
    return write_dataset(out_dir, splits, ["<blank>"], started=t0, extra_files={
        "build_args.json": json.dumps(args, indent=1), "maze_stats.json": json.dumps(stats, indent=1)})


def summary_line(stats: dict) -> str:
    """One line of a maze_stats.json: count and shortest-path lengths per split."""
    return "; ".join(f"{s}: {v['count']} mazes, path length mean {v['path_len_mean']:.1f} "
                     f"(min {v['path_len_min']}, max {v['path_len_max']})"
                     for s, v in stats.items() if "count" in v)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    p = _cli.parser("Build the Maze-Hard dataset in the HRM format.")
    p.add_argument("--out", required=True, help="output dataset directory")
    p.add_argument("--size", type=int, default=PAPER_SIZE, help="grid side")
    p.add_argument("--train-size", type=int, default=1000, help="training mazes")
    p.add_argument("--test-size", type=int, default=1000, help="held-out mazes")
    p.add_argument("--min-path", type=int, default=None,
                   help="keep mazes with shortest path > this (default: 110 scaled to the size's "
                        "area, 110 at 30x30)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--aug", action="store_true", help="add the 8 dihedral transforms of training mazes")
    p.add_argument("--from-csv", default=None, help="directory with the authors' train.csv and test.csv")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    p.add_argument("--force", action="store_true",
                   help="replace a maze dataset built there with other arguments")
    a = p.parse_args(argv)
    build_maze_dataset(a.out, a.size, a.train_size, a.test_size, a.min_path, a.seed, a.aug,
                       a.from_csv, a.workers, a.force)
    return 0


if __name__ == "__main__":
    sys.exit(errors.guard(main))
