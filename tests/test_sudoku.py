"""Sudoku generator: uniqueness (independent solver), ratings, kernel, augmentations, CSV, cache."""

import hashlib
import json
import random

import numpy as np
import pytest

from hrm_jax.data import _sudoku_kernel, sudoku
from hrm_jax.data import _sudoku_solver as solver
from hrm_jax.data import format as fmt
from hrm_jax.data.augment import (
  apply_transforms,
  canonical_key,
  is_valid_solution,
  random_transforms,
)


def _count_solutions(grid, limit=2):
  """Independent plain backtracking counter (no shared code with the generator's solver)."""
  g = [int(v) for v in grid]

  def ok(cell, v):
    r, c = divmod(cell, 9)
    br, bc = r // 3 * 3, c // 3 * 3
    return all(
      g[r * 9 + i] != v and g[i * 9 + c] != v and g[(br + i // 3) * 9 + bc + i % 3] != v
      for i in range(9)
    )

  def rec():
    best, options = None, None
    for cell in range(81):
      if g[cell] == 0:
        opts = [v for v in range(1, 10) if ok(cell, v)]
        if best is None or len(opts) < len(options):
          best, options = cell, opts
          if len(opts) <= 1:
            break
    if best is None:
      return 1
    total = 0
    for v in options:
      g[best] = v
      total += rec()
      g[best] = 0
      if total >= limit:
        break
    return total

  return rec()


def _backtracks(grid):
  """Independent count of the documented rating (plain sets, one single placed at a time)."""
  units = (
    [[r * 9 + c for c in range(9)] for r in range(9)]
    + [[r * 9 + c for r in range(9)] for c in range(9)]
    + [[(b // 3 * 3 + i // 3) * 9 + b % 3 * 3 + i % 3 for i in range(9)] for b in range(9)]
  )
  peers = [set().union(*[u for u in units if cell in u]) - {cell} for cell in range(81)]

  def assign(cand, cell, v):
    cand[cell] = {v}
    for p in peers[cell]:
      cand[p].discard(v)

  def propagate(cand, done):
    while True:
      if any(not c for c in cand):
        return False
      move = next(
        (
          (cell, min(cand[cell])) for cell in range(81) if cell not in done and len(cand[cell]) == 1
        ),
        None,
      )
      for u in units if move is None else []:
        for v in range(1, 10):
          places = [cell for cell in u if v in cand[cell]]
          if not places:
            return False
          if len(places) == 1 and places[0] not in done:
            move = (places[0], v)
            break
        if move:
          break
      if move is None:
        return True
      if move[1] not in cand[move[0]]:
        return False
      assign(cand, *move)
      done.add(move[0])

  dead, found = 0, 0

  def search(cand, done):  # stops at the second solution
    nonlocal dead, found
    if not propagate(cand, done):
      dead += 1
      return
    open_cells = [cell for cell in range(81) if len(cand[cell]) > 1]
    if not open_cells:
      found += 1
      return
    cell = min(open_cells, key=lambda c: (len(cand[c]), c))
    for v in sorted(cand[cell]):
      if found < 2:
        child = [set(c) for c in cand]
        assign(child, cell, v)
        search(child, done | {cell})

  cand, done = [set(range(1, 10)) for _ in range(81)], set()
  for cell, v in enumerate(int(x) for x in grid):
    if v:
      assign(cand, cell, v)
      done.add(cell)
  search(cand, done)
  return dead


def _grids(n, seed=0):
  """Random grids: a valid solution with 35-70 cells blanked, every 10th with a wrong clue."""
  rng = random.Random(seed)
  grids = []
  for i in range(n):
    g = solver.random_solution(rng)
    for cell in rng.sample(range(81), rng.randint(35, 70)):
      g[cell] = 0
    if i % 10 == 9:
      g[rng.randrange(81)] = rng.randint(1, 9)
    grids.append(g)
  return grids


def test_backtracks_rating_matches_its_definition():
  solved = solver.random_solution(random.Random(3))
  assert solver.backtracks(solved) == 0 and solver.rate(solved) == 0
  for g in _grids(20, seed=1):
    assert solver.backtracks(g) == _backtracks(g)
  q = sudoku.generate_puzzles(3, seed=2, difficulty="medium", workers=1, progress=False).puzzles
  for p in q:  # unique: dead ends = binary guesses = sum over branching nodes of (digits - 1)
    assert solver.backtracks(p) == _backtracks(p)


@pytest.mark.skipif(not _sudoku_kernel.AVAILABLE, reason="numba not installed")
def test_kernel_equals_python_solver():
  rng = random.Random(0)
  for g in _grids(60):
    for limit in (1, 2, 3):
      sols, guesses, dead = _sudoku_kernel.search(np.asarray(g, np.uint8), limit)
      assert (sols.tolist(), guesses, dead) == solver.python_search(g, limit)
    order = rng.sample(range(81), 81)
    assert _sudoku_kernel.remove_clues(
      np.asarray(g, np.uint8), np.asarray(order), 60
    ).tolist() == solver.python_remove_clues(g, order, 60)


def test_hard_puzzles_are_the_earlier_generators(monkeypatch):
  """The puzzles of a seed are those of the generator before the kernel, with or without it."""
  q, a, guesses, _ = sudoku.generate_puzzles(
    3, seed=0, difficulty="hard", workers=1, progress=False
  )
  assert hashlib.sha1(q.tobytes() + a.tobytes()).hexdigest().startswith("faeefa495e96")
  assert guesses.tolist() == [4, 5, 8]
  monkeypatch.setattr(_sudoku_kernel, "AVAILABLE", False)
  slow = sudoku.generate_puzzles(2, seed=0, difficulty="hard", workers=1, progress=False)
  np.testing.assert_array_equal(slow.puzzles, q[:2])


def test_extreme_climbs_on_backtracks():
  start = [sudoku.make_candidate(4, i, 81, 0, 1, "backtracks") for i in range(3)]
  climbed = [sudoku.make_candidate(4, i, 81, 6, 1, "backtracks") for i in range(3)]
  for s, c in zip(start, climbed):
    assert c.backtracks >= s.backtracks and c.backtracks == solver.backtracks(c.puzzle)
    assert _count_solutions(c.puzzle) == 1 and c.solution == s.solution
  assert sum(c.backtracks for c in climbed) > sum(s.backtracks for s in start)
  one = sudoku.generate_puzzles(
    2, seed=4, difficulty="extreme", climb_steps=4, workers=1, progress=False
  )
  two = sudoku.generate_puzzles(
    2, seed=4, difficulty="extreme", climb_steps=4, workers=2, progress=False
  )
  for x, y in zip(one, two):
    np.testing.assert_array_equal(x, y)
  assert sudoku.generator_settings("extreme", climb_steps=4)["climb_on"] == "backtracks"
  assert "climb_on" not in sudoku.generator_settings("hard")  # its build arguments unchanged


@pytest.fixture(scope="module")
def puzzles():
  return sudoku.generate_puzzles(
    4, seed=5, difficulty="hard", climb_steps=2, min_guesses=0, workers=1, progress=False
  )


def test_generated_puzzles_unique_and_minimal(puzzles):
  q, a, ratings, backtracks = puzzles
  assert q.shape == a.shape == (4, 81) and ratings.shape == backtracks.shape == (4,)
  assert ratings.tolist() == [solver.rate(p) for p in q]
  assert backtracks.tolist() == [_backtracks(p) for p in q]
  for p, s in zip(q, a):
    assert is_valid_solution(s) and np.all((p == 0) | (p == s))
    assert _count_solutions(p) == 1
  for clue in np.flatnonzero(q[0])[:3]:  # minimal: removing a clue breaks uniqueness
    reduced = q[0].copy()
    reduced[clue] = 0
    assert _count_solutions(reduced) >= 2
  assert len({canonical_key(p) for p in q}) == 4


def test_easy_keeps_clues():
  q, a, _, _ = sudoku.generate_puzzles(3, seed=1, difficulty="easy", workers=1, progress=False)
  assert ((q == 0).sum(1) <= 40).all() and all(_count_solutions(p) == 1 for p in q)


def test_augmentations_keep_validity_and_key(puzzles):
  q, a, _, _ = puzzles
  cell_src, digit_map = random_transforms(np.random.default_rng(0), 20)
  for i, (p, s) in enumerate(zip(q[:2], a[:2])):
    tp, ts = apply_transforms(p, cell_src, digit_map), apply_transforms(s, cell_src, digit_map)
    key = canonical_key(p)
    for x, y in zip(tp, ts):
      assert is_valid_solution(y) and np.all((x == 0) | (x == y))
      assert canonical_key(x) == key
    if i == 0:
      assert _count_solutions(tp[0]) == 1
  assert canonical_key(q[0]) != canonical_key(q[1])


def test_build_deterministic_cached_and_disjoint(tmp_path):
  kw = dict(train_size=3, test_size=2, num_aug=4, seed=11, difficulty="medium", progress=False)
  d1 = sudoku.build_sudoku(tmp_path / "a", workers=1, **kw)
  d2 = sudoku.build_sudoku(tmp_path / "b", workers=2, **kw)
  for f in sorted(p.relative_to(d1) for p in d1.rglob("*") if p.is_file()):
    assert (d1 / f).read_bytes() == (d2 / f).read_bytes(), f
  meta, sets = fmt.read_split(d1, "train")
  tr = sets["all"]
  assert (meta.vocab_size, meta.seq_len, meta.total_groups) == (11, 81, 3)
  assert tr.inputs.shape == (15, 81) and tr.group_indices.tolist() == [0, 5, 10, 15]
  assert tr.inputs.min() >= 1 and tr.labels.min() >= 2
  _, test_sets = fmt.read_split(d1, "test")
  train_keys = {canonical_key(x - 1) for x in tr.inputs}
  assert len(train_keys) == 3
  assert not train_keys & {canonical_key(x - 1) for x in test_sets["all"].inputs}
  assert fmt.read_identifiers(d1) == ["<blank>"]
  stamp = (d1 / "train" / "all__inputs.npy").stat().st_mtime_ns
  sudoku.build_sudoku(tmp_path / "a", workers=1, **kw)  # cached: not rewritten
  assert (d1 / "train" / "all__inputs.npy").stat().st_mtime_ns == stamp


def _write_csv(path, rows, header="source,question,answer,rating"):  # Sudoku-Extreme's header
  path.write_text("\n".join([header] + rows) + "\n")


def test_csv_build_and_errors(tmp_path, puzzles):
  q, a, _, _ = puzzles
  rows = [
    f"x,{''.join('.' if v == 0 else str(v) for v in p)},{''.join(map(str, s))},{i}"
    for i, (p, s) in enumerate(zip(q, a))
  ]
  _write_csv(tmp_path / "train.csv", rows[:3])
  _write_csv(tmp_path / "test.csv", rows[3:])
  out = sudoku.build_sudoku(
    tmp_path / "ds", from_csv=tmp_path, train_size=0, test_size=0, num_aug=2, progress=False
  )
  _, sets = fmt.read_split(out, "train")
  np.testing.assert_array_equal(sets["all"].inputs[0], q[0] + 1)
  bad_cases = {
    "row 3: expected 4 fields": rows[:1] + ["x,1,2"],
    "row 2: question must be 81": [rows[0].replace(",", ",1", 1)],
    "row 2: rating must be an integer": [rows[0].rsplit(",", 1)[0] + ",hard"],
    "row 2: answer is not a valid": [",".join(rows[0].split(",")[:2] + ["1" * 81, "0"])],
    "row 2: answer contradicts a clue": [
      ",".join(rows[0].split(",")[:2] + [rows[1].split(",")[2], "0"])
    ],
  }
  for message, body in bad_cases.items():
    _write_csv(tmp_path / "train.csv", body)
    with pytest.raises(fmt.DatasetFormatError, match=message):
      sudoku.build_sudoku(tmp_path / "bad", from_csv=tmp_path, progress=False)
    assert not (tmp_path / "bad").exists()
  _write_csv(tmp_path / "train.csv", rows, header="q,a")
  with pytest.raises(fmt.DatasetFormatError, match="header must be source,question,answer"):
    sudoku.read_sudoku_csv(tmp_path / "train.csv")
  _write_csv(tmp_path / "train.csv", rows, header="source,q,a,rating")  # the short form reads too
  np.testing.assert_array_equal(sudoku.read_sudoku_csv(tmp_path / "train.csv")[0], q)
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_small(tmp_path, capsys):
  sudoku.main(
    [
      "--out",
      str(tmp_path / "cli"),
      "--train-size",
      "2",
      "--test-size",
      "1",
      "--num-aug",
      "1",
      "--difficulty",
      "easy",
      "--workers",
      "1",
      "--quiet",
    ]
  )
  stats = json.loads((tmp_path / "cli" / "sudoku_stats.json").read_text())
  assert stats["train_rating"]["count"] == stats["train_backtracks"]["count"] == 2
