"""Evaluation metrics on hand-made predictions: ARC voting and pass@k, maze paths, Sudoku."""
import json

import numpy as np

from hrm_jax import evaluate, tasks
from hrm_jax.data import arc, maze


def test_vote_ranks_by_votes_then_q():
  a, b, c = np.array([[1]]), np.array([[2]]), np.array([[3, 3]])
  ranked = tasks.vote([("t", a, 0.1), ("t", b, 0.9), ("t", a, 0.3), ("t", c, 0.95),
                       ("t", b, 0.7)])["t"]
  assert [g.tolist() for g, _, _ in ranked] == [[[2]], [[1]], [[3, 3]]]  # 2 votes each: q decides
  assert [n for _, n, _ in ranked] == [2, 2, 1]
  np.testing.assert_allclose(ranked[0][2], 0.8)


def test_pass_at_k_needs_every_test_output():
  right, wrong = np.array([[5]]), np.array([[6]])
  cands = [(("t1", 0), right, 0.9),                                   # t1: pair 0 top-1
           (("t1", 1), wrong, 0.9), (("t1", 1), right, 0.1),          # t1: pair 1 only top-2
           (("t2", 0), wrong, 0.5), (("t2", 0), wrong, 0.5), (("t2", 0), right, 0.9),  # top-2
           (("t3", 0), wrong, 0.5)]                                   # t3: never right
  truths = {("t1", 0): right, ("t1", 1): right, ("t2", 0): right, ("t3", 0): right,
            ("t4", 0): right}                                         # t4: no prediction at all
  got = tasks.pass_at_k(tasks.vote(cands), truths, (1, 2, 10))
  assert got == {"pass@1": 0.0, "pass@2": 0.5, "pass@10": 0.5}  # t1, t2 of 4 tasks


def test_arc_metrics_inverts_augmentations(tmp_path):
  truth = np.array([[1, 2, 0], [3, 4, 5]], np.uint8)
  augs = [arc.Aug(), arc.Aug(1, (0, 2, 1, 3, 4, 5, 6, 7, 8, 9)), arc.Aug(5, tuple(range(10)))]
  (tmp_path / "arc_augmentations.json").write_text(json.dumps(
      {"puzzles": [None] + [["task", a.tid, "".join(map(str, a.perm))] for a in augs]}))
  labels = np.stack([arc.encode_grid(arc.augment_grid(truth, a)) for a in augs]).astype(np.int32)
  preds = labels.copy()
  preds[0] = arc.encode_grid(np.zeros((2, 3), np.uint8))    # the identity copy is wrong
  pids, pairs = np.arange(1, 4), np.zeros(3, int)
  got = tasks.arc_metrics(tmp_path, pids, pairs, preds, labels, np.array([0.9, 0.2, 0.2]), (1, 2))
  assert got == {"pass@1": 1.0, "pass@2": 1.0}              # two inverted votes beat one
  preds[1] = arc.encode_grid(arc.augment_grid(np.zeros((2, 3), np.uint8), augs[1]))  # 2 wrong votes
  got = tasks.arc_metrics(tmp_path, pids, pairs, preds, labels, np.array([0.9, 0.2, 0.2]), (1, 2))
  assert got == {"pass@1": 0.0, "pass@2": 1.0}


def test_maze_and_sudoku_metrics():
  grid = maze.chars_to_tokens("#####"
                              "#S  #"
                              "# # #"
                              "#  G#"
                              "#####")
  label = maze.solve(grid.reshape(5, 5)).ravel()
  other = grid.copy()
  other[[11, 16, 17]] = maze.PATH                             # the other shortest path: valid, optimal
  broken = grid.copy()
  broken[[7, 8]] = maze.PATH                               # does not reach the goal
  got = tasks.maze_path_metrics(np.stack([grid] * 3), np.stack([label, other, broken]))
  assert got["valid_path"].tolist() == [True, True, False]
  assert got["optimal_path"].tolist() == [True, True, False]

  base = np.array([[(r * 3 + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)]).ravel()
  solution = base + 1                                       # tokens: digit + 1
  puzzle = solution.copy()
  puzzle[::2] = 1                                           # blanks
  swapped = solution.copy()
  swapped[[1, 3]] = swapped[[3, 1]]                         # keeps givens? cell 1,3 are givens
  got = tasks.sudoku_metrics(np.stack([puzzle] * 2), np.stack([solution, swapped]))
  assert got["valid_solution"].tolist() == [True, False]


def test_metric_names_are_what_score_returns():
  rng = np.random.default_rng(0)
  for task, vocab, S in (("maze", 6, 16), ("sudoku", 11, 81), ("parity", 4, 16)):
    labels = rng.integers(1, vocab, (3, S)).astype(np.int32)
    got = {"inputs": labels, "labels": labels, "pred": labels, "halt_pred": labels,
           "halt_steps": np.ones(3, np.int32)}
    assert set(evaluate.score(task, got, None, 2)) == set(evaluate.metric_names(task)), task
