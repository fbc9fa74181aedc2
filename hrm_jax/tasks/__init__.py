"""Task families: how each dataset is built, and the task's own evaluation metrics.

  maze    valid-path and optimal-path accuracy (`hrm_jax.data.maze.check_path`)
  sudoku  valid-solution accuracy (a complete grid that keeps the givens)
  arc     pass@K after voting over the inverse-augmented predictions, by two rules:
          `pass@K` a task counts only if ALL its test inputs are in the top K (HRM);
          `pass@K/per_input` a task counts the FRACTION of its test inputs in the
          top K (TRM's evaluator); plus the ARC Prize `submission.json`
  parity  fraction of leading bits right (the CPU demo's prefix-parity strings)
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL


def build_dataset(task: str, path: Path, build: dict[str, Any], progress: bool = True) -> Path:
  """Build the dataset of `task` at `path` with the builder arguments `build`."""
  if task == "maze":
    build = dict(build)
    if build.pop("generator", "maze_hard") == "perfect":
      from hrm_jax.data.format import BuildSettingError
      from hrm_jax.data.perfect_maze import build_perfect_mazes, cells_for_size
      if build.pop("aug", False):
        raise BuildSettingError("perfect mazes have no augmentation: set data.build.aug=False")
      return build_perfect_mazes(path, cells=cells_for_size(build.pop("size")),
                                 progress=progress, **build)
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


# ---------------------------------------------------------------------- every task, maze, sudoku

def accuracies(preds_NxS: np.ndarray, labels_NxS: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per example: exact match ([N] bool: every labelled token right) and token accuracy ([N])."""
  mask = labels_NxS != IGNORE_LABEL
  correct = (preds_NxS == labels_NxS) & mask
  return correct.sum(1) == mask.sum(1), correct.sum(1) / np.maximum(mask.sum(1), 1)


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

def vote(candidates: list[tuple[Any, np.ndarray, float]]
         ) -> dict[Any, list[tuple[np.ndarray, int, float]]]:
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


PASS_RULES = {"": "every test input of the task in the top K (HRM)",
              "/per_input": "fraction of the task's test inputs in the top K (TRM)"}


def pass_at_k(ranked: dict[Any, list], truths: dict[Any, np.ndarray], ks: tuple[int, ...],
              task_of=lambda key: key[0]) -> dict[str, float]:
  """ARC pass@k by both rules, averaged over tasks, for every k in `ks`.

  `pass@k`: share of tasks whose every test output is among its top-k ranked
  answers (the HRM evaluation). `pass@k/per_input`: mean over tasks of the
  fraction of its test outputs among the top k (the TRM evaluator); the two are
  equal when every task has one test input. `truths` maps each key (one test
  input) to the true grid; a key with no candidate counts as wrong.
  """
  hits: dict[Any, list[list[bool]]] = collections.defaultdict(list)
  for key, truth in truths.items():
    answers = ranked.get(key, [])
    hits[task_of(key)].append([any(g.shape == truth.shape and np.array_equal(g, truth)
                                   for g, _, _ in answers[:k]) for k in ks])
  n = max(len(hits), 1)
  out = {}
  for i, k in enumerate(ks):
    out[f"pass@{k}"] = sum(all(h[i] for h in rows) for rows in hits.values()) / n
    out[f"pass@{k}/per_input"] = sum(np.mean([h[i] for h in rows]) for rows in hits.values()) / n
  return {k: float(v) for k, v in out.items()}


def arc_test_inputs(data_dir: Path) -> dict[str, int]:
  """Task name -> number of test inputs, for every task of the test split."""
  from hrm_jax.data.arc import read_augmentations
  from hrm_jax.data.format import read_split
  augs = read_augmentations(data_dir)
  counts: dict[str, int] = {}
  for data in read_split(data_dir, "test")[1].values():
    sizes = np.diff(data.puzzle_indices)
    for pid, size in zip(data.puzzle_identifiers, sizes):
      if augs[int(pid)] is not None:
        counts[augs[int(pid)][0]] = max(counts.get(augs[int(pid)][0], 0), int(size))
  return counts


def arc_rank(data_dir: Path, puzzle_ids_N: np.ndarray, pair_index_N: np.ndarray,
             preds_NxS: np.ndarray, labels_NxS: np.ndarray, q_N: np.ndarray):
  """Decode every test prediction, undo its augmentation and vote: (ranked, truths).

  ranked: (task, pair) -> [(grid, votes, mean q)] best first (see `vote`);
  truths: (task, pair) -> the true grid in the task's own orientation and colours.
  """
  from hrm_jax.data.arc import decode_grid, inverse_transform, read_augmentations
  augs = read_augmentations(data_dir)
  candidates, truths = [], {}
  for pid, pair, pred, label, q in zip(puzzle_ids_N, pair_index_N, preds_NxS, labels_NxS, q_N):
    record = augs[int(pid)]
    if record is None:
      continue
    task, aug = record
    key = (task, int(pair))
    if key not in truths:
      truths[key] = inverse_transform(decode_grid(np.where(label == IGNORE_LABEL, 0, label)), aug)
    candidates.append((key, inverse_transform(decode_grid(pred), aug), float(q)))
  return vote(candidates), truths


def arc_metrics(data_dir: Path, puzzle_ids_N: np.ndarray, pair_index_N: np.ndarray,
                preds_NxS: np.ndarray, labels_NxS: np.ndarray, q_N: np.ndarray,
                ks: tuple[int, ...]) -> dict[str, float]:
  """ARC pass@k by both rules over the test split: decode, invert each augmentation, vote."""
  ranked, truths = arc_rank(data_dir, puzzle_ids_N, pair_index_N, preds_NxS, labels_NxS, q_N)
  return pass_at_k(ranked, truths, ks)


PLACEHOLDER_GRID = ((0,),)  # an attempt for a test input without a (non-empty) answer


def arc_submission(ranked: dict[Any, list], test_inputs: dict[str, int]) -> dict[str, list]:
  """The ARC Prize submission: task -> [{"attempt_1": grid, "attempt_2": grid}] per test input.

  Attempts are the two best-ranked answers (lists of lists of ints, in the task's
  own orientation and colours); attempt_2 repeats attempt_1 when the votes agreed
  on one answer. A test input without a prediction, or an empty answer, gets
  PLACEHOLDER_GRID, so every task of `test_inputs` is present.
  """
  def as_list(grid):
    return np.asarray(grid if np.size(grid) else PLACEHOLDER_GRID).astype(int).tolist()

  out = {}
  for task in sorted(test_inputs):
    rows = []
    for pair in range(test_inputs[task]):
      answers = [as_list(g) for g, _, _ in ranked.get((task, pair), [])[:2]]
      answers = answers or [as_list(PLACEHOLDER_GRID)]
      rows.append({"attempt_1": answers[0], "attempt_2": answers[-1]})
    out[task] = rows
  return out
