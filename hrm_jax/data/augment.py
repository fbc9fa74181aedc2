"""Sudoku symmetry group: random validity-preserving transforms and an invariant key.

The group: relabel digits 1-9, transpose, permute the 3 bands and the 3 rows inside each
band, permute the 3 stacks and the 3 columns inside each stack. Grids are [..., 81] integer
arrays with 0 = blank and 1..9 = digits.
"""

from __future__ import annotations

import hashlib

import numpy as np

_CELL_ROW = np.arange(81) // 9
_CELL_COL = np.arange(81) % 9


def _line_perms(rng: np.random.Generator, n: int) -> np.ndarray:
  """[n, 9] permutations of 9 lines that keep bands (groups of 3) together."""
  bands = rng.permuted(np.tile(np.arange(3), (n, 1)), axis=1)  # [n, 3]
  inner = rng.permuted(np.tile(np.arange(3), (n, 3, 1)), axis=2)  # [n, 3, 3]
  return (bands[:, :, None] * 3 + inner).reshape(n, 9)


def random_transforms(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
  """Draw n random group elements as (cell_src [n, 81], digit_map [n, 10]).

  Applying one: new[i] = digit_map[old[cell_src[i]]]; digit_map[0] = 0 keeps blanks.
  """
  digit_map = np.concatenate(
    [np.zeros((n, 1), np.int64), rng.permuted(np.tile(np.arange(1, 10), (n, 1)), axis=1)], axis=1
  )
  transpose = rng.random(n) < 0.5  # [n]
  rows, cols = _line_perms(rng, n), _line_perms(rng, n)  # [n, 9] each
  src_row = rows[:, _CELL_ROW]  # [n, 81]
  src_col = cols[:, _CELL_COL]
  cell_src = np.where(transpose[:, None], src_col * 9 + src_row, src_row * 9 + src_col)
  return cell_src, digit_map


def apply_transforms(
  grids_n81: np.ndarray, cell_src_n81: np.ndarray, digit_map_n10: np.ndarray
) -> np.ndarray:
  """Apply transform i to grid i (or to a single [81] grid broadcast); returns [n, 81]."""
  grids_n81 = np.broadcast_to(np.asarray(grids_n81), cell_src_n81.shape)
  moved = np.take_along_axis(grids_n81, cell_src_n81, axis=1)
  return np.take_along_axis(digit_map_n10, moved.astype(np.int64), axis=1).astype(grids_n81.dtype)


def is_valid_solution(grid_81: np.ndarray) -> bool:
  """True if the grid is complete and every row, column and box holds 1..9 once."""
  g = np.asarray(grid_81).reshape(9, 9)
  boxes = g.reshape(3, 3, 3, 3).transpose(0, 2, 1, 3).reshape(9, 9)
  want = np.arange(1, 10)
  return all((np.sort(u, axis=1) == want).all() for u in (g, g.T, boxes))


def _relations(cells: np.ndarray, digits: np.ndarray, transposed: bool) -> list[np.ndarray]:
  r, c = cells // 9, cells % 9
  if transposed:
    r, c = c, r
  same = [
    r[:, None] == r[None],
    c[:, None] == c[None],
    (r // 3 * 3 + c // 3)[:, None] == (r // 3 * 3 + c // 3)[None],
    (r // 3)[:, None] == (r // 3)[None],
    (c // 3)[:, None] == (c // 3)[None],
    digits[:, None] == digits[None],
  ]
  eye = np.eye(len(cells), dtype=bool)
  return [(m & ~eye).astype(np.int64) for m in same]


def _refine(relations: list[np.ndarray], n: int) -> bytes:
  """Colour refinement (Weisfeiler-Lehman) with canonical colour names; returns the history."""
  colours = np.zeros(n, np.int64)
  history = [n.to_bytes(2, "little")]
  for _ in range(n + 1):
    onehot = np.eye(colours.max() + 1, dtype=np.int64)[colours]  # [n, k]
    signature = np.concatenate([colours[:, None]] + [rel @ onehot for rel in relations], axis=1)
    classes, new, counts = np.unique(signature, axis=0, return_inverse=True, return_counts=True)
    history.append(classes.astype(np.int16).tobytes() + counts.astype(np.int16).tobytes())
    new = new.reshape(-1)
    if new.max() == colours.max():
      break
    colours = new
  return b"".join(history)


def canonical_key(grid_81: np.ndarray) -> bytes:
  """A key equal for every two puzzles related by the symmetry group (digit relabelling included).

  It is a group invariant (colour refinement of the clue graph with the relations same row,
  column, box, band, stack and digit, minimised over transposition), so equivalent puzzles
  always share a key: using it to keep train and test apart is exact in that direction.
  Distinct puzzles sharing a key are possible in principle but not seen in practice; a
  collision only drops a puzzle that would have been allowed.
  """
  g = np.asarray(grid_81).reshape(81)
  cells = np.flatnonzero(g)
  digits = g[cells]
  keys = [_refine(_relations(cells, digits, t), len(cells)) for t in (False, True)]
  return hashlib.blake2b(min(keys), digest_size=16).digest()
