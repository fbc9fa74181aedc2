"""The HRM on-disk dataset format, compatible with the authors' builders and loader.

Layout of a dataset directory::

    DIR/identifiers.json                 list of puzzle-identifier names, index = id ("<blank>" at 0)
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

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.data._atomic import (OutputFolderError, atomic_directory, check_location, is_empty,
                                  read_manifest, refuse_foreign)
from hrm_jax.errors import UserError

FIELDS = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")
IGNORE_LABEL_ID = -100  # what the loader turns the dataset's ignore label into
_CHUNK_ROWS = 1 << 16


class DatasetFormatError(UserError, ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


class BuildSettingError(UserError, ValueError):
    """A builder argument is out of its valid range; the message names it and the range."""


def check_setting(name: str, value: int, low: int, high: int | None = None) -> None:
    """Refuse a builder argument outside [low, high] (one line naming the argument)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f"at least {low}"
        flag = "--" + name.replace("_", "-")
        raise BuildSettingError(f"{name} ({flag}) must be an integer {bound}, got {value!r}")


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
            pad_id=_int("pad_id"), ignore_label_id=_int("ignore_label_id", optional=True),
            blank_identifier_id=_int("blank_identifier_id"), vocab_size=_int("vocab_size"),
            seq_len=_int("seq_len"), num_puzzle_identifiers=_int("num_puzzle_identifiers"),
            total_groups=_int("total_groups"), mean_puzzle_examples=float(mean), sets=list(sets))
        for name in ("vocab_size", "seq_len", "num_puzzle_identifiers"):
            if getattr(meta, name) <= 0:
                raise DatasetFormatError(f"{where}: {name} must be positive, got {getattr(meta, name)}")
        if not 0 <= meta.pad_id < meta.vocab_size:
            raise DatasetFormatError(f"{where}: pad_id {meta.pad_id} outside vocab [0, {meta.vocab_size})")
        if not 0 <= meta.blank_identifier_id < meta.num_puzzle_identifiers:
            raise DatasetFormatError(f"{where}: blank_identifier_id {meta.blank_identifier_id} outside "
                                     f"[0, {meta.num_puzzle_identifiers})")
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
        return int(self.inputs.shape[0])

    @property
    def num_puzzles(self) -> int:
        return int(self.puzzle_identifiers.shape[0])

    @property
    def num_groups(self) -> int:
        return int(self.group_indices.shape[0]) - 1


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
        if inputs_kS.shape != labels_kS.shape or inputs_kS.ndim != 2 or inputs_kS.shape[1] != self.seq_len:
            raise ValueError(f"puzzle arrays must be [k, {self.seq_len}] and equal in shape; got "
                             f"inputs {inputs_kS.shape}, labels {labels_kS.shape}")
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
            group_indices=np.asarray(self._group_indices, np.int32))


def independent_examples(inputs_NxS: np.ndarray, labels_NxS: np.ndarray, vocab_size: int,
                         pad_id: int = 0) -> tuple[DatasetMetadata, dict[str, SplitSet]]:
    """One split (set "all") of N unrelated examples: each its own puzzle and group, id 0.

    The layout of generated tasks without augmentation (perfect mazes, parity); the
    pad token doubles as the ignored label.
    """
    inputs, labels = np.asarray(inputs_NxS), np.asarray(labels_NxS)
    n = inputs.shape[0]
    offsets = np.arange(n + 1, dtype=np.int32)
    data = SplitSet(inputs=inputs, labels=labels, puzzle_identifiers=np.zeros(n, np.int32),
                    puzzle_indices=offsets, group_indices=offsets.copy())
    meta = DatasetMetadata(pad_id=pad_id, ignore_label_id=pad_id, blank_identifier_id=0,
                           vocab_size=vocab_size, seq_len=inputs.shape[1], num_puzzle_identifiers=1,
                           total_groups=n, mean_puzzle_examples=1.0, sets=["all"])
    return meta, {"all": data}


# ----------------------------------------------------------------------------- validation

def _check_offsets(name: str, offsets: np.ndarray, end: int, what: str) -> None:
    if offsets.ndim != 1 or offsets.size < 1:
        raise DatasetFormatError(f"{name}: must be 1-D with at least one entry, got shape {offsets.shape}")
    if offsets[0] != 0:
        raise DatasetFormatError(f"{name}: must start at 0, starts at {offsets[0]}")
    if offsets.size > 1 and np.any(np.diff(offsets) < 0):
        bad = int(np.argmax(np.diff(offsets) < 0))
        raise DatasetFormatError(f"{name}: decreases at position {bad + 1} ({offsets[bad]} -> {offsets[bad + 1]})")
    if offsets[-1] != end:
        raise DatasetFormatError(f"{name}: must end at {what} = {end}, ends at {offsets[-1]}")


def _check_range(name: str, array: np.ndarray, low: int, high: int, extra: tuple[int, ...] = ()) -> None:
    """Every value v must satisfy low <= v < high or v in extra; scanned in chunks (memmap friendly)."""
    width = int(np.prod(array.shape[1:])) if array.ndim > 1 else 1  # explicit: works for 0 rows
    flat = array.reshape(array.shape[0], width)
    for start in range(0, flat.shape[0], _CHUNK_ROWS):
        chunk = np.asarray(flat[start:start + _CHUNK_ROWS])
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
                + (f" and not one of {list(extra)}" if extra else ""))


def validate_split_set(meta: DatasetMetadata, data: SplitSet, where: str) -> None:
    """Check shapes, dtypes, index monotonicity and value ranges; `where` prefixes file names."""
    def fname(field: str) -> str:
        return f"{where}__{field}.npy"

    for field in FIELDS:
        array = getattr(data, field)
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "iu":
            raise DatasetFormatError(f"{fname(field)}: must be an integer array, got "
                                     f"{getattr(array, 'dtype', type(array).__name__)}")
    for field in ("inputs", "labels"):
        array = getattr(data, field)
        if array.ndim != 2 or array.shape[1] != meta.seq_len:
            raise DatasetFormatError(f"{fname(field)}: shape {array.shape}, expected [num_examples, {meta.seq_len}]")
    if data.labels.shape != data.inputs.shape:
        raise DatasetFormatError(f"{fname('labels')}: shape {data.labels.shape} differs from inputs {data.inputs.shape}")
    if data.puzzle_identifiers.ndim != 1:
        raise DatasetFormatError(f"{fname('puzzle_identifiers')}: must be 1-D, got shape {data.puzzle_identifiers.shape}")
    if data.puzzle_indices.shape != (data.num_puzzles + 1,):
        raise DatasetFormatError(f"{fname('puzzle_indices')}: shape {data.puzzle_indices.shape}, expected "
                                 f"({data.num_puzzles + 1},) = num_puzzles + 1")
    _check_offsets(fname("puzzle_indices"), data.puzzle_indices, data.num_examples, "num_examples")
    _check_offsets(fname("group_indices"), data.group_indices, data.num_puzzles, "num_puzzles")
    _check_range(fname("puzzle_identifiers"), data.puzzle_identifiers, 0, meta.num_puzzle_identifiers)
    _check_range(fname("inputs"), data.inputs, 0, meta.vocab_size)
    extra = (IGNORE_LABEL_ID,) + ((meta.ignore_label_id,) if meta.ignore_label_id is not None else ())
    _check_range(fname("labels"), data.labels, 0, meta.vocab_size, extra)


def _check_split(meta: DatasetMetadata, sets: dict[str, SplitSet], where: str) -> None:
    if list(sets) != list(meta.sets):
        raise DatasetFormatError(f"{where}/dataset.json: sets {meta.sets} but data given for {list(sets)}")
    for set_name, data in sets.items():
        validate_split_set(meta, data, f"{where}/{set_name}")
    groups = sum(data.num_groups for data in sets.values())
    if groups != meta.total_groups:
        raise DatasetFormatError(f"{where}/dataset.json: total_groups is {meta.total_groups} "
                                 f"but the group_indices hold {groups} groups")


# ----------------------------------------------------------------------------- writing

def write_dataset(out_dir: str | os.PathLike,
                  splits: dict[str, tuple[DatasetMetadata, dict[str, SplitSet]]],
                  identifiers: list[str],
                  extra_files: dict[str, bytes | str] | None = None,
                  started: float | None = None) -> Path:
    """Validate and write a whole dataset directory atomically; returns its path.

    `splits` maps a split name ("train", "test") to (metadata, {set name: SplitSet}).
    `extra_files` maps relative paths (e.g. "build_args.json") to contents written beside.
    Everything goes into a temporary directory next to `out_dir` whose files are moved in
    at the end, so on any error nothing half-written is left and `out_dir` is untouched.
    `out_dir` must be missing, empty or hold a dataset: then only that dataset's own files
    are replaced (see `hrm_jax.data._atomic`). Prints one line (with the time since
    `started`, a `time.time()`, when given).
    """
    out_dir = Path(out_dir)
    if not isinstance(identifiers, list) or not all(isinstance(s, str) for s in identifiers):
        raise DatasetFormatError("identifiers.json: identifiers must be a list of strings")
    for split, (meta, sets) in splits.items():
        _check_split(meta, sets, split)
        if meta.num_puzzle_identifiers != len(identifiers):
            raise DatasetFormatError(f"{split}/dataset.json: num_puzzle_identifiers is "
                                     f"{meta.num_puzzle_identifiers} but identifiers.json has {len(identifiers)}")
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
        files += [f"{split}/{name}__{field}.npy" for name in sets if isinstance(name, str)
                  for field in FIELDS]
    return sorted(set(files))


def claim_dataset_folder(out_dir: str | os.PathLike, args: dict[str, Any],
                         force: bool = False) -> bool:
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
            hint="choose another --out (or delete that folder yourself)")
    wanted = json.loads(json.dumps(args))
    if recorded == wanted:
        if not force and build_args_match(out, args):
            print(f"{out}: reusing the {builder} dataset built with these arguments "
                  "(--force rebuilds it)")
            return True
        return False
    if not force:
        diff = [f"{k} {recorded.get(k)!r} -> {wanted.get(k)!r}"
                for k in sorted(set(recorded) | set(wanted)) if recorded.get(k) != wanted.get(k)]
        raise OutputFolderError(
            f"{out}: holds a {builder} dataset built with other arguments ({'; '.join(diff)})",
            hint="pass --force (force=True) to replace it, or choose another --out")
    return False


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


def read_split(data_dir: str | os.PathLike, split: str,
               mmap: bool = True) -> tuple[DatasetMetadata, dict[str, SplitSet]]:
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
    _check_split(meta, sets, str(split_dir))
    return meta, sets


def read_identifiers(data_dir: str | os.PathLike) -> list[str]:
    """Read `{data_dir}/identifiers.json`: the list of puzzle-identifier names."""
    path = Path(data_dir) / "identifiers.json"
    identifiers = _load_json(path)
    if not isinstance(identifiers, list) or not all(isinstance(s, str) for s in identifiers):
        raise DatasetFormatError(f"{path}: expected a JSON list of strings")
    return identifiers


def build_args_match(out_dir: str | os.PathLike, args: dict[str, Any],
                     filename: str = "build_args.json") -> bool:
    """True if `out_dir` holds a complete dataset built with exactly `args` (builders' cache check)."""
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
