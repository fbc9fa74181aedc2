"""The 8 dihedral transforms of a grid, numbered as in the authors' builders (maze, ARC)."""

from __future__ import annotations

import numpy as np

INVERSE_TID = (0, 3, 2, 1, 4, 5, 6, 7)  # dihedral(dihedral(g, t), INVERSE_TID[t]) == g


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
