"""The HRM on-disk dataset format and its writing side: what every dataset builder shares.

The format is compatible with the authors' builders and loader. This module writes datasets
(`write_dataset`, `claim_dataset_folder`, `PuzzleSetBuilder`, `independent_examples`,
`distinct_examples`, `check_setting`); the metadata, the split arrays, their checks and the
readers live in `hrm_jax.data._dataset` and are importable from here too.

Layout of a dataset directory::

    DIR/identifiers.json                 puzzle-identifier names, index = id ("<blank>" at 0)
    DIR/{split}/dataset.json             DatasetMetadata as a JSON object
    DIR/{split}/{set}__inputs.npy        [num_examples, seq_len] integer tokens
    DIR/{split}/{set}__labels.npy        [num_examples, seq_len] integer tokens
    DIR/{split}/{set}__puzzle_identifiers.npy  [num_puzzles] int32
    DIR/{split}/{set}__puzzle_indices.npy      [num_puzzles + 1] int32, example offsets
    DIR/{split}/{set}__group_indices.npy       [num_groups + 1] int32, puzzle offsets

Beside them a builder writes build_args.json (its arguments: the cache key and the builder's
name), its own *_stats.json files and build_files.json (every file the build wrote: what a
rebuild with --force may replace; see `claim_dataset_folder` and `hrm_jax.data._atomic`).

A *puzzle* is a run of examples sharing one identifier; a *group* is a run of puzzles
(an original and its augmentations). The authors store inputs/labels as uint8 and the
index arrays as int32; any integer dtype is accepted for inputs/labels on reading.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.data._atomic import (
  OutputFolderError,
  atomic_directory,
  check_location,
  is_empty,
  read_manifest,
  refuse_foreign,
)
from hrm_jax.data._dataset import (
  FIELDS,
  DatasetFormatError,
  DatasetMetadata,
  SplitSet,
  check_split,
  read_identifiers,
  read_metadata,
  read_split,
  validate_split_set,
)
from hrm_jax.errors import UserError

__all__ = [
  "FIELDS", "BuildSettingError", "DatasetFormatError", "DatasetMetadata", "OutputFolderError",
  "PuzzleSetBuilder", "SplitSet", "build_args_match", "check_setting", "claim_dataset_folder",
  "dataset_files", "distinct_examples", "independent_examples", "read_identifiers",
  "read_metadata", "read_split", "validate_split_set", "write_dataset",
]  # fmt: skip


class BuildSettingError(UserError, ValueError):
  """A builder argument is out of its valid range; the message names it and the range."""


def check_setting(name: str, value: int, low: int, high: int | None = None) -> None:
  """Refuse a builder argument outside [low, high] (one line naming the argument)."""
  if (
    isinstance(value, bool)
    or not isinstance(value, int)
    or value < low
    or (high is not None and value > high)
  ):
    bound = f"in [{low}, {high}]" if high is not None else f"at least {low}"
    flag = "--" + name.replace("_", "-")
    raise BuildSettingError(f"{name} ({flag}) must be an integer {bound}, got {value!r}")


class PuzzleSetBuilder:
  """Accumulate groups of puzzles and turn them into a SplitSet.

  Usage: `b.begin_group(); b.add_puzzle(0, inputs_kS, labels_kS); ...; b.build()`.
  A group is closed by the next `begin_group()` or by `build()`; empty groups are dropped.
  """

  def __init__(self, seq_len: int, dtype: np.dtype | type = np.int32):
    self.seq_len = int(seq_len)
    self.dtype = np.dtype(dtype)
    self._inputs: list[np.ndarray] = []
    self._labels: list[np.ndarray] = []
    self._identifiers: list[int] = []
    self._puzzle_indices = [0]
    self._group_indices = [0]
    self._num_examples = 0
    self._in_group = False

  def begin_group(self) -> None:
    """Start a new group (closing the current one if it has puzzles)."""
    self._close_group()
    self._in_group = True

  def _close_group(self) -> None:
    if self._in_group and len(self._identifiers) > self._group_indices[-1]:
      self._group_indices.append(len(self._identifiers))
    self._in_group = False

  def add_puzzle(self, identifier: int, inputs: np.ndarray, labels: np.ndarray) -> None:
    """Append one puzzle of k examples: inputs, labels [k, seq_len] (or [seq_len] for k=1)."""
    if not self._in_group:
      raise RuntimeError("call begin_group() before add_puzzle()")
    inputs_kS = np.asarray(inputs)
    labels_kS = np.asarray(labels)
    if inputs_kS.ndim == 1:
      inputs_kS, labels_kS = inputs_kS[None], labels_kS.reshape(1, -1)
    if (
      inputs_kS.shape != labels_kS.shape
      or inputs_kS.ndim != 2
      or inputs_kS.shape[1] != self.seq_len
    ):
      raise ValueError(
        f"puzzle arrays must be [k, {self.seq_len}] and equal in shape; got "
        f"inputs {inputs_kS.shape}, labels {labels_kS.shape}"
      )
    if inputs_kS.shape[0] == 0:
      raise ValueError("a puzzle needs at least one example")
    self._inputs.append(inputs_kS.astype(self.dtype))
    self._labels.append(labels_kS.astype(self.dtype))
    self._identifiers.append(int(identifier))
    self._num_examples += inputs_kS.shape[0]
    self._puzzle_indices.append(self._num_examples)

  def build(self) -> SplitSet:
    """Return the accumulated SplitSet (the builder may keep being used afterwards)."""
    self._close_group()
    empty = np.zeros((0, self.seq_len), self.dtype)
    return SplitSet(
      inputs=np.concatenate(self._inputs) if self._inputs else empty,
      labels=np.concatenate(self._labels) if self._labels else empty.copy(),
      puzzle_identifiers=np.asarray(self._identifiers, np.int32),
      puzzle_indices=np.asarray(self._puzzle_indices, np.int32),
      group_indices=np.asarray(self._group_indices, np.int32),
    )


def independent_examples(
  inputs_NxS: np.ndarray, labels_NxS: np.ndarray, vocab_size: int, pad_id: int = 0
) -> tuple[DatasetMetadata, dict[str, SplitSet]]:
  """One split (set "all") of N unrelated examples: each its own puzzle and group, id 0.

  The layout of generated tasks without augmentation (perfect mazes, parity); the
  pad token doubles as the ignored label.
  """
  inputs, labels = np.asarray(inputs_NxS), np.asarray(labels_NxS)
  n = inputs.shape[0]
  offsets = np.arange(n + 1, dtype=np.int32)
  data = SplitSet(
    inputs=inputs,
    labels=labels,
    puzzle_identifiers=np.zeros(n, np.int32),
    puzzle_indices=offsets,
    group_indices=offsets.copy(),
  )
  return single_set(data, vocab_size, pad_id)


def distinct_examples(
  draw: Callable[[], tuple], counts: dict[str, int], what: str, progress: bool = False
) -> dict[str, list[tuple]]:
  """split -> `count` draws of `draw()` (tuples whose first item is the input array), with
  inputs distinct within and across splits, drawn in the order of `counts`.

  A generator whose inputs repeat too often for the counts (more than 50 draws an example,
  plus 1000) raises BuildSettingError naming `what` ("4x4-room mazes with ...").
  """
  from tqdm import tqdm

  seen, out, tries = set(), {}, 0
  limit = 50 * sum(counts.values()) + 1000
  bar = tqdm(total=sum(counts.values()), unit="ex", disable=not progress, leave=False)
  for split, count in counts.items():
    out[split] = []
    while len(out[split]) < count:
      tries += 1
      if tries > limit:
        total = " + ".join(str(c) for c in counts.values())
        raise BuildSettingError(f"cannot draw {total} distinct {what}; ask for fewer")
      example = draw()
      key = np.asarray(example[0]).tobytes()
      if key not in seen:
        seen.add(key)
        out[split].append(example)
        bar.update()
  bar.close()
  return out


def single_set(
  data: SplitSet,
  vocab_size: int,
  pad_id: int = 0,
  num_puzzle_identifiers: int = 1,
  mean_puzzle_examples: float = 1.0,
) -> tuple[DatasetMetadata, dict[str, SplitSet]]:
  """(metadata, {"all": data}): one split of a single set, as every builder here writes it.

  The pad token doubles as the ignored label and identifier 0 is the blank one; the
  sequence length and the group count come from `data`.
  """
  meta = DatasetMetadata(
    pad_id=pad_id,
    ignore_label_id=pad_id,
    blank_identifier_id=0,
    vocab_size=vocab_size,
    seq_len=int(data.inputs.shape[1]),
    num_puzzle_identifiers=num_puzzle_identifiers,
    total_groups=data.num_groups,
    mean_puzzle_examples=mean_puzzle_examples,
    sets=["all"],
  )
  return meta, {"all": data}


# ----------------------------------------------------------------------------- writing


def write_dataset(
  out_dir: str | os.PathLike,
  splits: dict[str, tuple[DatasetMetadata, dict[str, SplitSet]]],
  identifiers: list[str] | None = None,
  extra_files: dict[str, bytes | str] | None = None,
  started: float | None = None,
  build_args: dict | None = None,
) -> Path:
  """Validate and write a whole dataset directory atomically; returns its path.

  `splits` maps a split name ("train", "test") to (metadata, {set name: SplitSet}).
  `identifiers`: the puzzle identifiers' names (default: the one "<blank>" of a dataset
  without puzzle identities). `build_args` (the builder's settings) go to build_args.json;
  `extra_files` maps other relative paths (e.g. "maze_stats.json") to contents written beside.
  Everything goes into a temporary directory next to `out_dir` whose files are moved in
  at the end, so on any error nothing half-written is left and `out_dir` is untouched.
  `out_dir` must be missing, empty or hold a dataset: then only that dataset's own files
  are replaced (see `hrm_jax.data._atomic`). Prints one line (with the time since
  `started`, a `time.time()`, when given).
  """
  out_dir = Path(out_dir)
  identifiers = ["<blank>"] if identifiers is None else identifiers
  if build_args is not None:
    args_file = json.dumps(build_args, indent=1, sort_keys=True)
    extra_files = {"build_args.json": args_file, **(extra_files or {})}
  if not isinstance(identifiers, list) or not all(isinstance(s, str) for s in identifiers):
    raise DatasetFormatError("identifiers.json: identifiers must be a list of strings")
  for split, (meta, sets) in splits.items():
    check_split(meta, sets, split)
    if meta.num_puzzle_identifiers != len(identifiers):
      raise DatasetFormatError(
        f"{split}/dataset.json: num_puzzle_identifiers is "
        f"{meta.num_puzzle_identifiers} but identifiers.json has {len(identifiers)}"
      )
  for rel in extra_files or {}:
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
      raise ValueError(f"extra file path must be relative and inside the dataset: {rel!r}")

  check_location(out_dir)
  replace = None if is_empty(out_dir) else dataset_files(out_dir, list(extra_files or {}))
  with atomic_directory(out_dir, replace) as tmp:
    for split, (meta, sets) in splits.items():
      split_dir = tmp / split
      split_dir.mkdir(parents=True)
      with open(split_dir / "dataset.json", "w") as f:
        json.dump(meta.to_dict(), f)
      for set_name, data in sets.items():
        for field in FIELDS:
          array = getattr(data, field)
          if field not in ("inputs", "labels"):
            array = array.astype(np.int32)
          np.save(split_dir / f"{set_name}__{field}.npy", np.ascontiguousarray(array))
    with open(tmp / "identifiers.json", "w") as f:
      json.dump(identifiers, f)
    for rel, content in (extra_files or {}).items():
      path = tmp / rel
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(content.encode() if isinstance(content, str) else content)
  took = f" in {time.time() - started:.1f} s" if started is not None else ""
  print(f"wrote {out_dir}{' (replacing the dataset there)' if replace else ''}{took}")
  return out_dir


def dataset_files(out_dir: Path, extra_names: list[str] = ()) -> list[str] | None:
  """The files of the dataset in `out_dir` (what a rebuild may replace); None if none is there.

  The build's `MANIFEST` when it has one; for a dataset written before manifests, the
  files the format defines plus `build_args.json`, `identifiers.json` and `extra_names`.
  """
  listed = read_manifest(out_dir)
  if listed is not None:
    return listed
  splits = sorted(p.name for p in out_dir.iterdir() if (p / "dataset.json").is_file())
  if not splits and not (out_dir / "build_args.json").is_file():
    return None
  files = ["build_args.json", "identifiers.json", *extra_names]
  for split in splits:
    files.append(f"{split}/dataset.json")
    try:
      sets = json.loads((out_dir / split / "dataset.json").read_text()).get("sets", [])
    except (OSError, ValueError, AttributeError):
      sets = []
    files += [
      f"{split}/{name}__{field}.npy" for name in sets if isinstance(name, str) for field in FIELDS
    ]
  return sorted(set(files))


def claim_dataset_folder(
  out_dir: str | os.PathLike, args: dict[str, Any], force: bool = False
) -> bool:
  """The rule every builder applies to its output folder before it builds.

  Returns True when `out_dir` already holds a complete dataset built with exactly `args`
  (a cache hit: reuse it; prints one line) unless `force`; False when the builder may
  write: the folder is missing or empty, or holds a dataset of the same builder
  (`args["builder"]`) that is incomplete, or built with other arguments and `force`.
  Raises OutputFolderError for anything else: the current directory, a file in the way,
  a folder of other files or datasets, a dataset of another builder, or other arguments
  without `force`. A rebuild then replaces only that dataset's own files.
  """
  out = check_location(out_dir)
  if is_empty(out):
    return False
  builder = args.get("builder", "?")
  try:
    recorded = json.loads((out / "build_args.json").read_text())
  except (OSError, ValueError):
    recorded = None
  if not isinstance(recorded, dict):
    raise refuse_foreign(out, f"{builder} dataset (no build_args.json)")
  if recorded.get("builder") != builder:
    raise OutputFolderError(
      f"{out}: holds a {recorded.get('builder', 'unknown')} dataset, not a {builder} one",
      hint="choose another --out (or delete that folder yourself)",
    )
  wanted = json.loads(json.dumps(args))
  if recorded == wanted:
    if not force and build_args_match(out, args):
      print(
        f"{out}: reusing the {builder} dataset built with these arguments (--force rebuilds it)"
      )
      return True
    return False
  if not force:
    diff = [
      f"{k} {recorded.get(k)!r} -> {wanted.get(k)!r}"
      for k in sorted(set(recorded) | set(wanted))
      if recorded.get(k) != wanted.get(k)
    ]
    raise OutputFolderError(
      f"{out}: holds a {builder} dataset built with other arguments ({'; '.join(diff)})",
      hint="pass --force (force=True) to replace it, or choose another --out",
    )
  return False


def build_args_match(
  out_dir: str | os.PathLike, args: dict[str, Any], filename: str = "build_args.json"
) -> bool:
  """True if `out_dir` holds a complete dataset built with exactly `args` (the cache check)."""
  path = Path(out_dir) / filename
  try:
    with open(path) as f:
      recorded = json.load(f)
  except (OSError, ValueError):
    return False
  if recorded != json.loads(json.dumps(args)):
    return False
  try:
    for split_dir in Path(out_dir).iterdir():
      if (split_dir / "dataset.json").is_file():
        read_split(out_dir, split_dir.name)
    read_identifiers(out_dir)
  except DatasetFormatError:
    return False
  return True
