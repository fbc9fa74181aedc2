"""A dataset folder as read: dataset.json's metadata, the split arrays, their checks, readers.

The layout is described in `hrm_jax.data.format`, which re-exports everything here.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.errors import UserError

FIELDS = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")
_CHUNK_ROWS = 1 << 16


class DatasetFormatError(UserError, ValueError):
  """A dataset file is missing, unreadable or inconsistent; the message names the file."""


@dataclasses.dataclass
class DatasetMetadata:
  """Per-split metadata, the contents of `{split}/dataset.json` (same keys, same order)."""

  pad_id: int
  ignore_label_id: int | None
  blank_identifier_id: int
  vocab_size: int
  seq_len: int
  num_puzzle_identifiers: int
  total_groups: int
  mean_puzzle_examples: float
  sets: list[str]

  def to_dict(self) -> dict[str, Any]:
    """Return a JSON-ready dict in the authors' key order."""
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, raw: Any, where: str = "dataset.json") -> "DatasetMetadata":
    """Build from a parsed JSON object, checking keys and types; extra keys are ignored."""
    if not isinstance(raw, dict):
      raise DatasetFormatError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in raw]
    if missing:
      raise DatasetFormatError(f"{where}: missing key(s) {missing}")

    def _int(name: str, optional: bool = False) -> int | None:
      value = raw[name]
      if value is None and optional:
        return None
      if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetFormatError(f"{where}: {name} must be an integer, got {value!r}")
      return value

    mean = raw["mean_puzzle_examples"]
    if isinstance(mean, bool) or not isinstance(mean, (int, float)):
      raise DatasetFormatError(f"{where}: mean_puzzle_examples must be a number, got {mean!r}")
    sets = raw["sets"]
    if not isinstance(sets, list) or not sets or not all(isinstance(s, str) and s for s in sets):
      raise DatasetFormatError(f"{where}: sets must be a non-empty list of names, got {sets!r}")
    meta = cls(
      pad_id=_int("pad_id"),
      ignore_label_id=_int("ignore_label_id", optional=True),
      blank_identifier_id=_int("blank_identifier_id"),
      vocab_size=_int("vocab_size"),
      seq_len=_int("seq_len"),
      num_puzzle_identifiers=_int("num_puzzle_identifiers"),
      total_groups=_int("total_groups"),
      mean_puzzle_examples=float(mean),
      sets=list(sets),
    )
    for name in ("vocab_size", "seq_len", "num_puzzle_identifiers"):
      if getattr(meta, name) <= 0:
        raise DatasetFormatError(f"{where}: {name} must be positive, got {getattr(meta, name)}")
    if not 0 <= meta.pad_id < meta.vocab_size:
      raise DatasetFormatError(
        f"{where}: pad_id {meta.pad_id} outside vocab [0, {meta.vocab_size})"
      )
    if not 0 <= meta.blank_identifier_id < meta.num_puzzle_identifiers:
      raise DatasetFormatError(
        f"{where}: blank_identifier_id {meta.blank_identifier_id} outside "
        f"[0, {meta.num_puzzle_identifiers})"
      )
    return meta


@dataclasses.dataclass
class SplitSet:
  """One `{set}` of one split as numpy arrays (possibly read-only memmaps).

  inputs, labels: [num_examples, seq_len] integer (int32 from PuzzleSetBuilder, uint8 in the
  authors' files); puzzle_identifiers: [num_puzzles] int32; puzzle_indices: [num_puzzles + 1]
  int32; group_indices: [num_groups + 1] int32.
  """

  inputs: np.ndarray
  labels: np.ndarray
  puzzle_identifiers: np.ndarray
  puzzle_indices: np.ndarray
  group_indices: np.ndarray

  @property
  def num_examples(self) -> int:
    """Rows of inputs and labels."""
    return int(self.inputs.shape[0])

  @property
  def num_puzzles(self) -> int:
    """Entries of puzzle_identifiers."""
    return int(self.puzzle_identifiers.shape[0])

  @property
  def num_groups(self) -> int:
    """Runs of puzzles that group_indices delimit."""
    return int(self.group_indices.shape[0]) - 1


# ----------------------------------------------------------------------------- validation


def _check_offsets(name: str, offsets: np.ndarray, end: int, what: str) -> None:
  if offsets.ndim != 1 or offsets.size < 1:
    raise DatasetFormatError(
      f"{name}: must be 1-D with at least one entry, got shape {offsets.shape}"
    )
  if offsets[0] != 0:
    raise DatasetFormatError(f"{name}: must start at 0, starts at {offsets[0]}")
  if offsets.size > 1 and np.any(np.diff(offsets) < 0):
    bad = int(np.argmax(np.diff(offsets) < 0))
    raise DatasetFormatError(
      f"{name}: decreases at position {bad + 1} ({offsets[bad]} -> {offsets[bad + 1]})"
    )
  if offsets[-1] != end:
    raise DatasetFormatError(f"{name}: must end at {what} = {end}, ends at {offsets[-1]}")


def _check_range(
  name: str, array: np.ndarray, low: int, high: int, extra: tuple[int, ...] = ()
) -> None:
  """Every value v must satisfy low <= v < high or v in extra; scanned in chunks (for memmaps)."""
  width = int(np.prod(array.shape[1:])) if array.ndim > 1 else 1  # explicit: works for 0 rows
  flat = array.reshape(array.shape[0], width)
  for start in range(0, flat.shape[0], _CHUNK_ROWS):
    chunk = np.asarray(flat[start : start + _CHUNK_ROWS])
    if chunk.size == 0 or (low <= int(chunk.min()) and int(chunk.max()) < high):
      continue
    chunk = chunk.astype(np.int64)
    ok = (chunk >= low) & (chunk < high)
    for value in extra:
      ok |= chunk == value
    if not ok.all():
      row, col = np.argwhere(~ok)[0]
      raise DatasetFormatError(
        f"{name}: value {chunk[row, col]} at row {start + row} is outside [{low}, {high})"
        + (f" and not one of {list(extra)}" if extra else "")
      )


def validate_split_set(meta: DatasetMetadata, data: SplitSet, where: str) -> None:
  """Check shapes, dtypes, index monotonicity and value ranges; `where` prefixes file names."""

  def fname(field: str) -> str:
    return f"{where}__{field}.npy"

  for field in FIELDS:
    array = getattr(data, field)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iu":
      raise DatasetFormatError(
        f"{fname(field)}: must be an integer array, got "
        f"{getattr(array, 'dtype', type(array).__name__)}"
      )
  for field in ("inputs", "labels"):
    array = getattr(data, field)
    if array.ndim != 2 or array.shape[1] != meta.seq_len:
      raise DatasetFormatError(
        f"{fname(field)}: shape {array.shape}, expected [num_examples, {meta.seq_len}]"
      )
  if data.labels.shape != data.inputs.shape:
    raise DatasetFormatError(
      f"{fname('labels')}: shape {data.labels.shape} differs from inputs {data.inputs.shape}"
    )
  if data.puzzle_identifiers.ndim != 1:
    raise DatasetFormatError(
      f"{fname('puzzle_identifiers')}: must be 1-D, got shape {data.puzzle_identifiers.shape}"
    )
  if data.puzzle_indices.shape != (data.num_puzzles + 1,):
    raise DatasetFormatError(
      f"{fname('puzzle_indices')}: shape {data.puzzle_indices.shape}, expected "
      f"({data.num_puzzles + 1},) = num_puzzles + 1"
    )
  _check_offsets(fname("puzzle_indices"), data.puzzle_indices, data.num_examples, "num_examples")
  _check_offsets(fname("group_indices"), data.group_indices, data.num_puzzles, "num_puzzles")
  _check_range(fname("puzzle_identifiers"), data.puzzle_identifiers, 0, meta.num_puzzle_identifiers)
  _check_range(fname("inputs"), data.inputs, 0, meta.vocab_size)
  extra = (IGNORE_LABEL,) + ((meta.ignore_label_id,) if meta.ignore_label_id is not None else ())
  _check_range(fname("labels"), data.labels, 0, meta.vocab_size, extra)


def check_split(meta: DatasetMetadata, sets: dict[str, SplitSet], where: str) -> None:
  """Check every set of one split against its metadata; `where` is the split folder."""
  if list(sets) != list(meta.sets):
    raise DatasetFormatError(
      f"{where}/dataset.json: sets {meta.sets} but data given for {list(sets)}"
    )
  for set_name, data in sets.items():
    validate_split_set(meta, data, f"{where}/{set_name}")
  groups = sum(data.num_groups for data in sets.values())
  if groups != meta.total_groups:
    raise DatasetFormatError(
      f"{where}/dataset.json: total_groups is {meta.total_groups} "
      f"but the group_indices hold {groups} groups"
    )


# ----------------------------------------------------------------------------- reading


def _load_json(path: Path) -> Any:
  if not path.is_file():
    raise DatasetFormatError(f"{path}: file is missing")
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise DatasetFormatError(f"{path}: not valid JSON ({e})") from e


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
  if not path.is_file():
    raise DatasetFormatError(f"{path}: file is missing")
  try:
    array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
  except (OSError, ValueError, EOFError) as e:
    raise DatasetFormatError(f"{path}: corrupt or truncated .npy file ({e})") from e
  if not isinstance(array, np.ndarray):
    raise DatasetFormatError(f"{path}: expected a single .npy array")
  return array


def read_metadata(data_dir: str | os.PathLike, split: str) -> DatasetMetadata:
  """Read and check `{data_dir}/{split}/dataset.json`."""
  path = Path(data_dir) / split / "dataset.json"
  return DatasetMetadata.from_dict(_load_json(path), where=str(path))


def read_split(
  data_dir: str | os.PathLike, split: str, mmap: bool = True
) -> tuple[DatasetMetadata, dict[str, SplitSet]]:
  """Read and validate one split. inputs/labels are read-only memmaps when `mmap`.

  Index arrays are always loaded into memory as int32. Raises DatasetFormatError naming
  the offending file for anything missing, corrupt, truncated or inconsistent.
  """
  split_dir = Path(data_dir) / split
  meta = read_metadata(data_dir, split)
  sets: dict[str, SplitSet] = {}
  for set_name in meta.sets:
    arrays = {}
    for field in FIELDS:
      path = split_dir / f"{set_name}__{field}.npy"
      big = field in ("inputs", "labels")
      array = _load_npy(path, mmap=mmap and big)
      if not big:
        if array.dtype.kind not in "iu":
          raise DatasetFormatError(f"{path}: must be an integer array, got {array.dtype}")
        array = array.astype(np.int32)
      arrays[field] = array
    sets[set_name] = SplitSet(**arrays)
  check_split(meta, sets, str(split_dir))
  return meta, sets


def read_identifiers(data_dir: str | os.PathLike) -> list[str]:
  """Read `{data_dir}/identifiers.json`: the list of puzzle-identifier names."""
  path = Path(data_dir) / "identifiers.json"
  identifiers = _load_json(path)
  if not isinstance(identifiers, list) or not all(isinstance(s, str) for s in identifiers):
    raise DatasetFormatError(f"{path}: expected a JSON list of strings")
  return identifiers
