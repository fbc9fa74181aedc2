"""A fast 9x9 Sudoku solver on one 729-bit Python integer.

Bit `d * 81 + cell` is set while digit d+1 is still possible in `cell` (cell = row * 9 + col).
Propagation applies naked singles (a cell with one candidate) and hidden singles (a digit
with one place in a row, column or box) bit-parallel over all units at once; search branches
on a cell with the fewest candidates (lowest index first, digits ascending), so the number of
guesses is a deterministic property of the grid as given.

Two ratings come from this search: `rate` (branching nodes until the first solution) and
`backtracks` (dead ends of the complete search; Sudoku-Extreme's measure). `_sudoku_kernel`
runs the same search compiled with numba when numba is installed, with identical results;
this module's own code is the reference and the fallback (`python_search`).

Grids are sequences of 81 ints, 0 for blank and 1..9 for digits.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from hrm_jax.data import _sudoku_kernel as _kernel

_FULL = (1 << 729) - 1
_CELLS = (1 << 81) - 1
_DIGIT_SPREAD = sum(1 << (81 * d) for d in range(9))
_DIGIT_SHIFTS = [81 * d for d in range(9)]
# For every unit type: the bit of the unit's first cell for every (digit, unit), the shifts
# that walk the unit's 9 cells, and the multiplier that spreads a first-cell flag over the unit.
# A cell is the unit of its 9 digits: its "first cell" bits are digit 1's plane.
_CELL = (_CELLS, _DIGIT_SHIFTS, _DIGIT_SPREAD)
_ROW = (sum(1 << (d * 81 + r * 9) for d in range(9) for r in range(9)), list(range(9)), 0x1FF)
_COL = (
  sum(1 << (d * 81 + c) for d in range(9) for c in range(9)),
  [9 * r for r in range(9)],
  sum(1 << (9 * r) for r in range(9)),
)
_BOX_SHIFTS = [9 * i + j for i in range(3) for j in range(3)]
_BOX = (
  sum(1 << (d * 81 + 27 * br + 3 * bc) for d in range(9) for br in range(3) for bc in range(3)),
  _BOX_SHIFTS,
  sum(1 << s for s in _BOX_SHIFTS),
)
_UNITS = (_CELL, _ROW, _COL, _BOX)  # cells first: naked singles, then hidden ones


def _peers(cell: int) -> set[int]:
  r, c = divmod(cell, 9)
  out = {r * 9 + i for i in range(9)} | {i * 9 + c for i in range(9)}
  out |= {(r // 3 * 3 + i) * 9 + c // 3 * 3 + j for i in range(3) for j in range(3)}
  return out - {cell}


def _elimination_masks() -> list[int]:
  """mask[d*81+cell] clears every candidate that placing digit d+1 in cell rules out."""
  masks = []
  for d in range(9):
    for cell in range(81):
      m = sum(1 << (e * 81 + cell) for e in range(9) if e != d)
      m |= sum(1 << (d * 81 + p) for p in _peers(cell))
      masks.append(_FULL & ~m)
  return masks


_ELIM = _elimination_masks()


def _propagate(x: int, placed: int) -> tuple[int, int] | None:
  """Apply naked and hidden singles to a fixpoint; None on a contradiction."""
  while True:
    singles = 0
    for lsb, shifts, spread in _UNITS:
      once = twice = 0  # the slots with at least one candidate place, with at least two
      for s in shifts:
        b = (x >> s) & lsb
        twice |= once & b
        once |= b
      if once != lsb:
        return None  # a cell without candidates, or a digit without a place in some unit
      singles |= ((once & ~twice) * spread) & x
    new = singles & ~placed
    if not new:
      return x, placed
    while new:
      low = new & -new
      if not x & low:
        return None
      x &= _ELIM[low.bit_length() - 1]
      placed |= low
      new ^= low


def _branch_cell(x: int) -> int:
  """Lowest-index cell with two candidates, else the lowest with the fewest (>1)."""
  once = twice = thrice = 0
  for s in _DIGIT_SHIFTS:
    b = (x >> s) & _CELLS
    thrice |= twice & b
    twice |= once & b
    once |= b
  two = twice & ~thrice
  if two:
    return (two & -two).bit_length() - 1
  best, best_n = -1, 10
  for cell in range(81):
    n = ((x >> cell) & _DIGIT_SPREAD).bit_count()
    if 1 < n < best_n:
      best, best_n = cell, n
  return best


def _search(
  x: int, placed: int, limit: int, sols: list[int], stats: list[int], rng: random.Random | None
) -> int:
  """Depth-first search; stats[0] += branching nodes, stats[1] += dead ends."""
  state = _propagate(x, placed)
  if state is None:
    stats[1] += 1
    return 0
  x, placed = state
  if x.bit_count() == 81:
    sols.append(x)
    return 1
  cell = _branch_cell(x)
  digits = [d for d in range(9) if (x >> (d * 81 + cell)) & 1]
  if rng is not None:
    rng.shuffle(digits)
  stats[0] += 1
  found = 0
  for d in digits:
    bit = d * 81 + cell
    found += _search(x & _ELIM[bit], placed | (1 << bit), limit - found, sols, stats, rng)
    if found >= limit:
      break
  return found


def _encode(grid: Sequence[int]) -> tuple[int, int] | None:
  x, placed, elim = _FULL, 0, _ELIM
  cell = -1
  for v in grid:
    cell += 1
    if v:
      bit = (v - 1) * 81 + cell
      if not (x >> bit) & 1:
        return None  # clashing givens
      x &= elim[bit]
      placed |= 1 << bit
  return x, placed


def _decode(x: int) -> list[int]:
  grid = [0] * 81
  for d in range(9):
    plane = (x >> (81 * d)) & _CELLS
    while plane:
      low = plane & -plane
      grid[low.bit_length() - 1] = d + 1
      plane ^= low
  return grid


def _checked(grid: Sequence[int]) -> list[int]:
  grid = [int(v) for v in grid]
  if len(grid) != 81 or any(not 0 <= v <= 9 for v in grid):
    raise ValueError("a grid is 81 values in 0..9")
  return grid


def python_search(grid: Sequence[int], limit: int) -> tuple[list[list[int]], int, int]:
  """The pure-Python search: (up to `limit` solutions, branching nodes, dead ends)."""
  enc = _encode(grid if isinstance(grid, list) else [int(v) for v in grid])
  if enc is None:
    return [], 0, 1  # givens that clash: the root is a dead end
  sols: list[int] = []
  stats = [0, 0]
  _search(enc[0], enc[1], limit, sols, stats, None)
  return [_decode(s) for s in sols], stats[0], stats[1]


def python_remove_clues(grid: Sequence[int], order: Sequence[int], max_blanks: int) -> list[int]:
  """The pure-Python `remove_clues`."""
  grid = [int(v) for v in grid]
  blanks = grid.count(0)
  for cell in order:
    if blanks >= max_blanks:
      break
    value, grid[cell] = grid[cell], 0
    if len(python_search(grid, 2)[0]) == 1:
      blanks += 1
    else:
      grid[cell] = value
  return grid


def _run(grid: Sequence[int], limit: int) -> tuple[list[list[int]], int, int]:
  if _kernel.AVAILABLE:
    sols, guesses, dead = _kernel.search(np.asarray(grid, np.uint8), limit)
    return sols.tolist(), guesses, dead
  return python_search(grid, limit)


def solve(grid: Sequence[int], limit: int = 2) -> tuple[list[list[int]], int]:
  """Return (up to `limit` solutions, guesses made); guesses = branching nodes visited."""
  sols, guesses, _ = _run(_checked(grid), limit)
  return sols, guesses


def count_solutions(grid: Sequence[int], limit: int = 2) -> int:
  """Number of solutions, counted up to `limit` (no input checks: the generator's hot path)."""
  return len(_run(grid, limit)[0])


def rate(grid: Sequence[int]) -> int:
  """Difficulty: guesses the deterministic solver needs to find the first solution."""
  return _run(_checked(grid), 1)[1]


def backtracks(grid: Sequence[int]) -> int:
  """Backtrack rating: dead ends of the complete search that finds and proves the solution.

  Precisely: the depth-first search of this module (after every placement, naked and hidden
  singles are propagated to a fixpoint; it branches on the lowest-index cell with the fewest
  candidates, trying its digits in ascending order), run to the end with limit 2, so that a
  unique puzzle's whole tree is searched. A dead end is a node where propagation fails: a cell
  without candidates, a digit without a place in a row, column or box, or two singles that
  clash. Each dead end is one guess undone. For a unique puzzle the count equals the guesses
  the same search makes with binary decisions ("cell = digit", else "cell != digit"; a cell's
  last candidate is forced, not guessed): leaves - 1 of the tree. That is the count tdoku
  reports and that Sudoku-Extreme's rating column holds (mean ~22), but tdoku propagates
  more (locked candidates as well) and branches on band configurations, so it needs fewer
  guesses on the same puzzle: on magictour's top1465 (randomly transformed) this rating
  averages 43.9, tdoku's own benchmark 9.05 for tdoku and 43.5 for Norvig's singles solver.
  Equal means here are thus the weaker difficulty. 0: singles alone solve the puzzle.
  """
  return _run(_checked(grid), 2)[2]


def remove_clues(grid: Sequence[int], order: Sequence[int], max_blanks: int = 81) -> list[int]:
  """Blank the clues at the cells of `order`, in turn, where the solution stays unique.

  Stops once the grid has `max_blanks` blanks; cells of `order` already blank are kept blank.
  """
  if _kernel.AVAILABLE:
    return _kernel.remove_clues(
      np.asarray(grid, np.uint8), np.asarray(order, np.int64), max_blanks
    ).tolist()
  return python_remove_clues(grid, order, max_blanks)


def warm_up() -> None:
  """Compile (or load from numba's cache) the kernel now, e.g. before forking workers."""
  if _kernel.AVAILABLE:
    remove_clues([0] * 81, [], 81)
    _run([0] * 81, 1)


def random_solution(rng: random.Random) -> list[int]:
  """A uniformly-shuffled search from the empty grid: a random complete valid grid."""
  sols: list[int] = []
  _search(_FULL, 0, 1, sols, [0, 0], rng)
  return _decode(sols[0])
