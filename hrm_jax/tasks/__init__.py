"""The task registry: every module here that exports `TASK` (a `base.Task`) is a task.

  tasks.get("sudoku")        the Task (an unknown name: UnknownTaskError listing the known)
  tasks.names()              ("arc", "maze", "parity", "reach", "sudoku")
  tasks.for_builder("perfect_maze")   the task whose data that builder writes (or None)

Adding a task is adding one module (see base.Task for what it implements).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path
from typing import Any

from hrm_jax.config import ConfigError
from hrm_jax.tasks.base import DatasetTaskError, PuzzleError, Puzzles, Task, accuracies, builder_of


class UnknownTaskError(ConfigError):
  """A task name that no module of hrm_jax.tasks defines."""


@functools.cache
def _registry() -> dict[str, Task]:
  """name -> Task of every module of this package that exports TASK, by name."""
  found: dict[str, Task] = {}
  for info in pkgutil.iter_modules(__path__):
    task = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TASK", None)
    if isinstance(task, Task):
      if task.name in found:
        raise RuntimeError(f"two task modules define the task {task.name!r}")
      found[task.name] = task
  return dict(sorted(found.items()))


def names() -> tuple[str, ...]:
  """The known task names, sorted."""
  return tuple(_registry())


def get(name: str, what: str = "task") -> Task:
  """The task called `name`; UnknownTaskError (naming `what`, e.g. 'config.task') otherwise."""
  task = _registry().get(name)
  if task is None:
    raise UnknownTaskError(f"unknown {what} {name!r}; the known tasks are {', '.join(names())}")
  return task


def for_builder(builder: str | None) -> Task | None:
  """The task whose datasets the builder `builder` (as build_args.json records it) writes."""
  return next((t for t in _registry().values() if builder in t.builders), None)


def check_built_for(name: str, data_dir: Path, where: str = "", hint: str | None = None) -> None:
  """Raise DatasetTaskError when `data_dir`'s build_args.json names another task's builder.

  `where` names the dataset in the message (default: the path); a dataset without
  build_args.json (e.g. the authors') passes.
  """
  builder = builder_of(data_dir)
  other = for_builder(builder)
  if other is not None and other.name != name:
    raise DatasetTaskError(
      f"{where or data_dir} holds a {other.name} dataset (build_args.json: builder "
      f"{builder!r}), not a {name} one",
      hint=hint or f"point it at a {name} dataset, or use a {other.name} model or config",
    )


def build_dataset(task: str, path: Path, build: dict[str, Any], progress: bool = True) -> Path:
  """Build the dataset of `task` at `path` with the builder arguments `build`."""
  return get(task).build(Path(path), dict(build), progress=progress)


__all__ = [
  "DatasetTaskError",
  "PuzzleError",
  "Puzzles",
  "Task",
  "UnknownTaskError",
  "accuracies",
  "build_dataset",
  "check_built_for",
  "for_builder",
  "get",
  "names",
]
