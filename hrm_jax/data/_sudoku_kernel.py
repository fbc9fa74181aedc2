"""Compiled (numba) twin of `_sudoku_solver`'s search: the same propagation, branching and counts.

Every function here computes exactly what the pure-Python solver computes (a test checks it on
many grids), only about 30x faster, so a dataset is byte-identical with or without numba.
`AVAILABLE` is False when numba cannot be imported; `_sudoku_solver` then uses its own code.

State: one uint16 candidate mask per cell (bit d set while digit d+1 is possible) and a
"placed" flag per cell. Propagation rounds, as in `_sudoku_solver._propagate`: find every naked
single (an unplaced cell with one candidate) and hidden single (a digit with one place in a
row, column or box) of the current state, fail on a cell without candidates or a digit without
a place in a unit, then place the singles in ascending (digit, cell) order, failing when one was
eliminated by an earlier placement of the same round; repeat until a round finds none.
Branching: the lowest-index cell with the fewest candidates (>= 2), digits ascending.
"""

from __future__ import annotations

import numpy as np

try:  # optional: without numba the pure-Python solver is used
  import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
  numba = None

AVAILABLE = numba is not None


def _tables() -> tuple[np.ndarray, np.ndarray]:
  units = []
  for i in range(9):
    units.append([i * 9 + j for j in range(9)])
    units.append([j * 9 + i for j in range(9)])
    units.append([(i // 3 * 3 + j // 3) * 9 + i % 3 * 3 + j % 3 for j in range(9)])
  peers = []
  for cell in range(81):
    near = sorted({c for u in units if cell in u for c in u} - {cell})
    peers.append(near)
  return np.asarray(units, np.int64), np.asarray(peers, np.int64)


UNITS, PEERS = _tables()
ALL = 0x1FF
POP = np.asarray([bin(v).count("1") for v in range(512)], np.int64)

if AVAILABLE:
  _jit = numba.njit(cache=True, nogil=True)

  @_jit
  def _place(m, placed, cell, d, peers):
    bit = np.uint16(1 << d)
    m[cell] = bit
    placed[cell] = True
    for k in range(20):
      p = peers[cell, k]
      m[p] &= ~bit

  @_jit
  def _propagate(m, placed, units, peers, single):
    """Naked and hidden singles to a fixpoint (the module docstring's rounds)."""
    while True:
      for c in range(81):
        if m[c] == 0:
          return False
      found = False
      for c in range(81):
        v = m[c]
        if not placed[c] and (v & (v - 1)) == 0:
          single[c] = v
          found = True
        else:
          single[c] = 0
      for u in range(27):
        once = 0
        twice = 0
        for k in range(9):
          v = m[units[u, k]]
          twice |= once & v
          once |= v
        if once != ALL:
          return False
        only = once & ~twice
        if only:
          for k in range(9):
            c = units[u, k]
            hit = m[c] & only
            if hit and not placed[c]:
              single[c] |= hit
              found = True
      if not found:
        return True
      for d in range(9):
        bit = 1 << d
        for c in range(81):
          if single[c] & bit:
            if not m[c] & bit:
              return False
            _place(m, placed, c, d, peers)

  @_jit
  def _scratch():
    return (
      np.empty((82, 81), np.uint16),
      np.empty((82, 81), np.bool_),
      np.zeros(82, np.int64),
      np.zeros(82, np.int64),
      np.zeros(81, np.uint16),
    )

  @_jit
  def _search(grid, limit, sols, units, peers, scratch):
    """Depth-first search: (solutions found up to limit, branching nodes, dead ends).

    Solutions go to sols[:found] in search order; givens that clash are one dead end: (0, 0, 1).
    """
    ms, ps, cell_at, next_d, single = scratch
    ms[0, :] = ALL
    ps[0, :] = False
    for c in range(81):
      v = grid[c]
      if v:
        if not (ms[0, c] >> (v - 1)) & 1:
          return 0, 0, 1
        _place(ms[0], ps[0], c, v - 1, peers)
    found = 0
    guesses = 0
    dead = 0
    depth = 0
    entering = True
    while True:
      if entering:
        entering = False
        m = ms[depth]
        if not _propagate(m, ps[depth], units, peers, single):
          dead += 1
          depth -= 1
        else:
          best = -1
          best_n = 10
          for c in range(81):
            n = POP[m[c]]
            if 1 < n < best_n:
              best = c
              best_n = n
              if n == 2:
                break
          if best < 0:  # solved
            for c in range(81):
              v = m[c]
              d = 0
              while not (v >> d) & 1:
                d += 1
              sols[found, c] = d + 1
            found += 1
            if found >= limit:
              return found, guesses, dead
            depth -= 1
          else:
            guesses += 1
            cell_at[depth] = best
            next_d[depth] = 0
      if depth < 0:
        return found, guesses, dead
      c = cell_at[depth]
      v = ms[depth, c]
      d = next_d[depth]
      while d < 9 and not (v >> d) & 1:
        d += 1
      if d >= 9:
        depth -= 1
        continue
      next_d[depth] = d + 1
      ms[depth + 1, :] = ms[depth]
      ps[depth + 1, :] = ps[depth]
      _place(ms[depth + 1], ps[depth + 1], c, d, peers)
      depth += 1
      entering = True

  @_jit
  def _remove_clues(grid, order, max_blanks, units, peers):
    out = grid.copy()
    sols = np.zeros((2, 81), np.uint8)
    scratch = _scratch()
    blanks = 0
    for c in range(81):
      if out[c] == 0:
        blanks += 1
    for i in range(order.shape[0]):
      if blanks >= max_blanks:
        break
      c = order[i]
      value = out[c]
      out[c] = 0
      if _search(out, 2, sols, units, peers, scratch)[0] == 1:
        blanks += 1
      else:
        out[c] = value
    return out


def search(grid: np.ndarray, limit: int) -> tuple[np.ndarray, int, int]:
  """(solutions [found, 81] uint8, branching nodes, dead ends) of the deterministic search."""
  sols = np.zeros((max(1, limit), 81), np.uint8)
  found, guesses, dead = _search(
    np.ascontiguousarray(grid, np.uint8), limit, sols, UNITS, PEERS, _scratch()
  )
  return sols[:found], int(guesses), int(dead)


def remove_clues(grid: np.ndarray, order: np.ndarray, max_blanks: int) -> np.ndarray:
  """Blank the clues of `order` in turn where the solution stays unique (up to max_blanks)."""
  return _remove_clues(
    np.ascontiguousarray(grid, np.uint8),
    np.ascontiguousarray(order, np.int64),
    max_blanks,
    UNITS,
    PEERS,
  )
