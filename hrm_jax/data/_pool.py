"""Worker processes for the data builders: one helper, output independent of the worker count.

Every builder maps a pure function over jobs in order, so its output is byte-identical for
any number of workers. The start method is chosen so that no script can hang:

* fork (fast) on Linux while no JAX backend runs threads in this process;
* otherwise spawn, but only when the main script can be imported again without side
  effects (spawned workers import it): a script that calls a builder at top level, without
  an ``if __name__ == "__main__":`` guard, would start the build again in every worker;
  then the work runs in this process instead, with a one-line note.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

_noted = False
_OWN_PACKAGES = ("hrm_jax.", "experiments.")  # their command-line modules guard their mains


def default_workers() -> int:
  """The CPUs this process may run on."""
  if hasattr(os, "sched_getaffinity"):
    return max(1, len(os.sched_getaffinity(0)))
  return max(1, os.cpu_count() or 1)


def _is_main_guard(test: ast.expr) -> bool:
  return "__name__" in ast.unparse(test)


def main_is_import_safe() -> bool:
  """True when importing the main script again runs no code beyond definitions.

  Top-level statements that call something (outside ``if __name__ == "__main__":``,
  function and class bodies) make it unsafe; so does a main file that cannot be read.
  This project's own modules run with ``python -m`` are safe.
  """
  main = sys.modules.get("__main__")
  path = getattr(main, "__file__", None)
  if path is None:  # interactive or `python -c`: spawned workers import no main script
    return True
  spec = getattr(main, "__spec__", None)
  if spec is not None and spec.name.startswith(_OWN_PACKAGES):
    return True
  try:
    tree = ast.parse(Path(path).read_text())
  except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
    return False
  for node in tree.body:
    if isinstance(
      node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    ):
      continue
    if isinstance(node, ast.If) and _is_main_guard(node.test):
      continue
    if any(isinstance(n, ast.Call) for n in ast.walk(node)):
      return False
  return True


def _jax_backend_running() -> bool:
  bridge = sys.modules.get("jax._src.xla_bridge")
  return bool(getattr(bridge, "_backends", None))


def start_method() -> str | None:
  """'fork', 'spawn', or None (work in this process), by the rule of the module docstring."""
  if sys.platform.startswith("linux") and not _jax_backend_running():
    return "fork"
  if main_is_import_safe():
    return "spawn"
  return None


class Workers:
  """A pool of `workers` processes (None: all CPUs) whose `map` returns results in order.

  With one worker, or when no start method is safe, the work runs in this process.
  Use as a context manager; `size` is the number of processes actually working.
  """

  def __init__(self, workers: int | None = None):
    global _noted
    wanted = default_workers() if workers is None else int(workers)
    if wanted < 1:
      from hrm_jax.data.format import BuildSettingError

      raise BuildSettingError(f"workers (--workers) must be at least 1, got {wanted}")
    method = start_method() if wanted > 1 else None
    if wanted > 1 and method is None and not _noted:
      script = getattr(sys.modules.get("__main__"), "__file__", "the main script")
      print(
        f"note: {script} runs code outside an `if __name__ == \"__main__\":` guard "
        "(worker processes would run it again), so this runs in one process; add "
        f"the guard to use {wanted} workers",
        file=sys.stderr,
      )
      _noted = True
    self._pool = (
      ProcessPoolExecutor(wanted, mp_context=multiprocessing.get_context(method))
      if method
      else None
    )
    self.size = wanted if self._pool else 1

  def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any], chunksize: int = 1) -> Iterator[Any]:
    """fn(job) for every job, in job order."""
    if self._pool is None:
      return map(fn, jobs)
    return self._pool.map(fn, jobs, chunksize=max(1, chunksize))

  def close(self) -> None:
    """Stop the workers (pending jobs are cancelled)."""
    if self._pool is not None:
      self._pool.shutdown(cancel_futures=True)
      self._pool = None

  def __enter__(self) -> "Workers":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def parallel_map(
  fn: Callable[[Any], Any],
  jobs: Iterable[Any],
  workers: int | None = None,
  desc: str = "",
  progress: bool = False,
  unit: str = "it",
) -> list[Any]:
  """[fn(job) for job in jobs] on up to `workers` processes, with an optional progress bar."""
  from tqdm import tqdm

  jobs = list(jobs)
  wanted = default_workers() if workers is None else workers
  with Workers(min(wanted, max(1, len(jobs))) if wanted >= 1 else wanted) as pool:
    results = pool.map(fn, jobs, chunksize=len(jobs) // (8 * pool.size))
    with tqdm(total=len(jobs), desc=desc, disable=not progress, unit=unit) as bar:
      out = []
      for result in results:
        out.append(result)
        bar.update()
  return out
