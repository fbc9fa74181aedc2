"""ARC grids on the 30x30 token canvas, and the augmentations (dihedral x colour map) of them.

Encoding: every grid is drawn on a 30x30 canvas (900 tokens, vocab 12): PAD 0, EOS 1,
colour k -> k + 2. EOS fills the row just below the grid and the column just right of it
(inside the canvas). `hrm_jax.data.arc` re-exports the public names.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hrm_jax.data._dihedral import INVERSE_TID, dihedral
from hrm_jax.errors import UserError

GRID = 30
SEQ_LEN = GRID * GRID
PAD, EOS, COLOR_OFFSET = 0, 1, 2
VOCAB_SIZE = 12


class ArcError(UserError, ValueError):
  """Bad ARC input or setting: unknown version, malformed task file or grid, bad tokens."""


@dataclasses.dataclass(frozen=True)
class Aug:
  """The colour map `perm` (perm[c] = new colour, perm[0] = 0), then dihedral transform `tid`."""

  tid: int = 0
  perm: tuple[int, ...] = tuple(range(10))

  @property
  def name(self) -> str:
    """Suffix used in puzzle identifiers: t{tid}_{perm digits} (the authors' style)."""
    return f"t{self.tid}_{''.join(map(str, self.perm))}"

  @property
  def is_identity(self) -> bool:
    """True for the augmentation that changes nothing."""
    return self.tid == 0 and self.perm == tuple(range(10))


IDENTITY = Aug()


def augment_grid(grid: np.ndarray, aug: Aug) -> np.ndarray:
  """Apply an augmentation to a colour grid (values 0-9)."""
  return np.ascontiguousarray(dihedral(np.asarray(aug.perm, np.uint8)[np.asarray(grid)], aug.tid))


def inverse_transform(grid: np.ndarray, aug: Aug) -> np.ndarray:
  """Undo `augment_grid`: inverse dihedral transform, then the inverse colour map."""
  inverse = np.argsort(np.asarray(aug.perm)).astype(np.uint8)
  return np.ascontiguousarray(inverse[dihedral(np.asarray(grid), INVERSE_TID[aug.tid])])


def encode_grid(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
  """Colour grid [h, w] -> 900 tokens: colours + 2 at `offset`, EOS row below and column right."""
  grid = np.asarray(grid)
  h, w = grid.shape
  r, c = offset
  if r < 0 or c < 0 or r + h > GRID or c + w > GRID:
    raise ArcError(f"grid {h}x{w} at offset {offset} does not fit the {GRID}x{GRID} canvas")
  canvas = np.zeros((GRID, GRID), np.uint8)
  canvas[r : r + h, c : c + w] = grid + COLOR_OFFSET
  if r + h < GRID:
    canvas[r + h, c : c + w] = EOS
  if c + w < GRID:
    canvas[r : r + h, c + w] = EOS
  return canvas.ravel()


def decode_grid(tokens: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
  """900 tokens -> colour grid, cropped at EOS (or any non-colour token) from `origin`.

  Returns the largest-area rectangle of colour tokens anchored at `origin` whose rows are
  scanned downwards with a width that can only shrink (so a ragged prediction still gives
  a grid); an empty [0, 0] grid if the origin holds no colour.
  """
  canvas = np.asarray(tokens).reshape(GRID, GRID)[origin[0] :, origin[1] :].astype(np.int64)
  is_colour_RxC = (canvas >= COLOR_OFFSET) & (canvas < COLOR_OFFSET + 10)
  # colour run from the left edge of each row, then the width allowed down to that row
  runs_R = np.where(is_colour_RxC.all(1), canvas.shape[1], np.argmin(is_colour_RxC, axis=1))
  widths_R = np.minimum.accumulate(runs_R) if runs_R.size else runs_R
  areas_R = widths_R * np.arange(1, widths_R.size + 1)
  if not areas_R.size or areas_R.max() == 0:
    return np.zeros((0, 0), np.uint8)
  last = int(np.argmax(areas_R))  # the last row of the first largest area
  return (canvas[: last + 1, : widths_R[last]] - COLOR_OFFSET).astype(np.uint8)
