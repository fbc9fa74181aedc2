"""The reachability dataset (the CPU study's grid task), its metric, drawing and solve text."""

from collections import deque

import numpy as np
import pytest

from hrm_jax.data import reach
from hrm_jax.data.format import BuildSettingError, read_split
from hrm_jax.tasks import PuzzleError
from hrm_jax.tasks import reach as reach_task


def flood(grid):
  """Cells reachable from the source, by an explicit breadth-first search."""
  n = grid.shape[0]
  src = tuple(np.argwhere(grid == reach.SOURCE)[0])
  seen, todo = {src}, deque([src])
  while todo:
    r, c = todo.popleft()
    for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
      if 0 <= rr < n and 0 <= cc < n and grid[rr, cc] != reach.WALL and (rr, cc) not in seen:
        seen.add((rr, cc))
        todo.append((rr, cc))
  return seen


def test_build_is_seeded_distinct_held_out_and_labelled_by_the_flood(tmp_path):
  kw = dict(size=7, train_size=200, test_size=50, min_depth=6, seed=3)
  a = reach.build_reach_dataset(tmp_path / "a", **kw)
  b = reach.build_reach_dataset(tmp_path / "b", **kw)
  meta, train = read_split(a, "train")
  _, test = read_split(a, "test")
  assert meta.seq_len == 49 and meta.vocab_size == reach.VOCAB_SIZE and meta.ignore_label_id == 0
  x_tr, x_te = np.asarray(train["all"].inputs), np.asarray(test["all"].inputs)
  assert len({r.tobytes() for r in x_tr}) == 200
  assert not {r.tobytes() for r in x_tr} & {r.tobytes() for r in x_te}
  np.testing.assert_array_equal(x_tr, np.asarray(read_split(b, "train")[1]["all"].inputs))
  for x, y in zip(x_te, np.asarray(test["all"].labels)):
    grid, labels = x.reshape(7, 7), y.reshape(7, 7)
    ring = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    assert (ring == reach.WALL).all() and (grid == reach.SOURCE).sum() == 1
    want = np.zeros_like(labels)  # PAD at walls and the source
    for r, c in zip(*np.nonzero(grid == reach.FREE)):
      want[r, c] = reach.REACHED if (r, c) in flood(grid) else reach.FREE
    np.testing.assert_array_equal(labels, want)
    assert (labels == reach.FREE).any()  # never "everything reached"
    assert reach.label(grid)[1].max() >= 6


def test_build_rejects_bad_settings(tmp_path):
  with pytest.raises(BuildSettingError, match="density"):
    reach.build_reach_dataset(tmp_path / "x", density=1.0)
  with pytest.raises(BuildSettingError, match="min_depth"):
    reach.build_reach_dataset(tmp_path / "y", size=4, min_depth=3)
  with pytest.raises(BuildSettingError, match="in 1000 draws"):
    reach.build_reach_dataset(tmp_path / "z", size=4, min_depth=2, density=0.9)
  with pytest.raises(BuildSettingError, match="cannot draw 20 \\+ 5 distinct"):
    reach.build_reach_dataset(tmp_path / "w", size=4, min_depth=0, train_size=20, test_size=5)


def test_depth_right():
  grid = np.full((5, 5), reach.WALL)
  grid[2, 1:4] = reach.FREE  # a corridor: source, depth 1, depth 2
  grid[2, 1] = reach.SOURCE
  grid[1, 1] = reach.FREE  # depth 1, above the source
  labels = reach.label(grid)[0].ravel().astype(np.int64)
  labels[labels == reach.PAD] = -100
  wrong_far, wrong_near = labels.copy(), labels.copy()
  wrong_far[2 * 5 + 3] = reach.FREE
  wrong_near[1 * 5 + 1] = reach.FREE
  got = reach_task.flood_depth_right(
    np.stack([grid.ravel()] * 3), np.stack([labels] * 3), np.stack([labels, wrong_far, wrong_near])
  )
  np.testing.assert_allclose(got, [1.0, 0.5, 0.0])


def test_solve_text_round_trip_and_errors():
  text = "#####\n#S  #\n## ##\n#  ##\n#####\n\n#####\n# #S#\n#####\n#   #\n#####\n"
  grids = reach_task.split_grids(text, 5)
  assert len(grids) == 2 and reach_task.render(grids[0]) == text.split("\n\n")[0]
  with pytest.raises(PuzzleError, match="exactly one source"):
    reach_task.split_grids("#####\n#   #\n#   #\n#   #\n#####\n", 5)
  with pytest.raises(PuzzleError, match="outer ring"):
    reach_task.split_grids("#####\n S  #\n#   #\n#   #\n#####\n", 5)
  with pytest.raises(PuzzleError, match="5 rows of 5"):
    reach_task.split_grids("###\n#S#\n###\n", 5)
  labels = reach.label(grids[0].reshape(5, 5))[0].ravel()  # 5 free cells, all reached
  lines, ok = reach_task.TASK.answer(0, grids[0], labels, "", None)
  assert ok and lines[-1] == "all right: yes (5 of 5 free cells)"
  assert (
    reach_task.render(reach_task.answer_grid(grids[0], labels))
    == "#####\n#Soo#\n##o##\n#oo##\n#####"
  )
  labels[2 * 5 + 2] = reach.FREE
  assert reach_task.TASK.answer(0, grids[0], labels, "", None)[1] is False


def test_drawing(tmp_path):
  from hrm_jax.training import render

  rng = np.random.default_rng(0)
  x, y, _ = zip(*(reach.random_grid(rng, 6, 0.3, 3) for _ in range(2)))
  labels = np.where(np.stack(y) == reach.PAD, -100, np.stack(y))
  preds = np.where(labels == -100, 0, labels)
  preds[1, preds[1].argmax()] = reach.FREE
  render.draw_examples("reach", np.stack(x), labels, preds, tmp_path / "r.png")
  assert (tmp_path / "r.png").stat().st_size > 1000
