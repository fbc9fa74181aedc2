"""Task families: how each dataset is built, and the task's own evaluation metrics.

  maze    valid-path and optimal-path accuracy (`hrm_jax.data.maze.check_path`)
  sudoku  valid-solution accuracy (a complete grid that keeps the givens)
  arc     pass@1/2/K after voting over the inverse-augmented predictions
  parity  fraction of leading bits right (the CPU demo's prefix-parity strings)
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

IGNORE = -100


def build_dataset(task: str, path: Path, build: dict[str, Any], progress: bool = True) -> Path:
  """Build the dataset of `task` at `path` with the builder arguments `build`."""
  if task == "maze":
    build = dict(build)
    if build.pop("generator", "maze_hard") == "perfect":
      from hrm_jax.data.perfect_maze import build_perfect_mazes
      if build["size"] % 2 == 0 or build.pop("aug", False):
        raise ValueError("perfect mazes need an odd data.build.size and data.build.aug=False")
      return build_perfect_mazes(path, cells=(build.pop("size") + 1) // 2, progress=progress,
                                 **build)
    from hrm_jax.data.maze import build_maze_dataset
    return build_maze_dataset(path, progress=progress, **build)
  if task == "parity":
    from hrm_jax.data.parity import build_parity_dataset
    return build_parity_dataset(path, progress=progress, **build)
  if task == "sudoku":
    from hrm_jax.data.sudoku import build_sudoku
    return build_sudoku(path, progress=progress, **build)
  if task == "arc":
    from hrm_jax.data.arc import build_arc_dataset
    build = dict(build)
    for key in ("extra_tasks", "task_ids"):
      build[key] = [x for x in build.get(key) or [] if x] or None
    return build_arc_dataset(path, progress=progress, **build)
  raise ValueError(f"unknown task {task!r}")


# ----------------------------------------------------------------------------- maze / sudoku

def maze_path_metrics(inputs_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: is the predicted path valid, and valid and shortest? ([N] bool each)."""
  from hrm_jax.data.maze import MazeError, check_path
  valid, optimal = np.zeros(len(inputs_NxS), bool), np.zeros(len(inputs_NxS), bool)
  for i, (maze, pred) in enumerate(zip(inputs_NxS, preds_NxS)):
    try:
      valid[i], optimal[i] = check_path(maze, pred)
    except MazeError:  # e.g. a maze with no start (padding) or a malformed prediction
      pass
  return {"valid_path": valid, "optimal_path": optimal}


def sudoku_metrics(inputs_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: is the prediction a complete valid grid that keeps every given? ([N] bool)."""
  from hrm_jax.data.augment import is_valid_solution
  digits = preds_NxS.astype(np.int64) - 1          # token d + 1 -> digit d
  givens = inputs_NxS > 1
  keeps = np.all(~givens | (preds_NxS == inputs_NxS), axis=1)
  ok = np.array([k and is_valid_solution(d) for k, d in zip(keeps, digits)], bool)
  return {"valid_solution": ok}


def parity_metrics(labels_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: the fraction of the string's leading bits whose parity is right ([N] float)."""
  from hrm_jax.data.parity import first_error
  return {"prefix_right": first_error(labels_NxS, preds_NxS) / (labels_NxS.shape[1] - 1)}


# ----------------------------------------------------------------------------- ARC voting

def vote(candidates: list[tuple[Any, np.ndarray, float]]) -> dict[Any, list[tuple[np.ndarray, int, float]]]:
  """Pool the answers proposed for each test input and rank them.

  Args:
    candidates: (key, grid, q) triples: `key` names one test input (e.g. (task,
      pair index)), `grid` is an answer already mapped back by the inverse
      augmentation, `q` its sigmoid(q_halt).
  Returns:
    key -> [(grid, votes, mean q)], best first: more votes first, ties broken by
    the higher mean q.
  """
  pools: dict[Any, dict[bytes, list]] = collections.defaultdict(dict)
  for key, grid, q in candidates:
    grid = np.asarray(grid)
    ident = bytes(str(grid.shape), "ascii") + grid.astype(np.uint8).tobytes()
    entry = pools[key].setdefault(ident, [grid, 0, 0.0])
    entry[1] += 1
    entry[2] += float(q)
  ranked = {}
  for key, pool in pools.items():
    rows = [(g, n, s / n) for g, n, s in pool.values()]
    ranked[key] = sorted(rows, key=lambda r: (r[1], r[2]), reverse=True)
  return ranked


def pass_at_k(ranked: dict[Any, list], truths: dict[Any, np.ndarray], ks: tuple[int, ...],
              task_of=lambda key: key[0]) -> dict[str, float]:
  """Share of tasks whose every test output is among its top-k ranked answers, per k.

  `truths` maps each key to the true grid; a key with no candidate counts as wrong.
  """
  tasks: dict[Any, dict[int, bool]] = collections.defaultdict(lambda: {k: True for k in ks})
  for key, truth in truths.items():
    answers = ranked.get(key, [])
    for k in ks:
      hit = any(g.shape == truth.shape and np.array_equal(g, truth) for g, _, _ in answers[:k])
      tasks[task_of(key)][k] &= hit
  n = max(len(tasks), 1)
  return {f"pass@{k}": sum(t[k] for t in tasks.values()) / n for k in ks}


def arc_metrics(data_dir: Path, puzzle_ids_N: np.ndarray, pair_index_N: np.ndarray,
                preds_NxS: np.ndarray, labels_NxS: np.ndarray, q_N: np.ndarray,
                ks: tuple[int, ...]) -> dict[str, float]:
  """ARC pass@k over the test split: decode, invert each augmentation, vote, score."""
  from hrm_jax.data.arc import decode_grid, inverse_transform, read_augmentations
  augs = read_augmentations(data_dir)
  candidates, truths = [], {}
  for pid, pair, pred, label, q in zip(puzzle_ids_N, pair_index_N, preds_NxS, labels_NxS, q_N):
    record = augs[int(pid)]
    if record is None:
      continue
    task, aug = record
    key = (task, int(pair))
    label = np.where(label == IGNORE, 0, label)
    truths.setdefault(key, inverse_transform(decode_grid(label), aug))
    candidates.append((key, inverse_transform(decode_grid(pred), aug), float(q)))
  return pass_at_k(vote(candidates), truths, ks)
