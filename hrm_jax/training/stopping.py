"""Why a run stops early, and how every process agrees on it: a signal (Ctrl-C, or SIGTERM,
a scheduler's preemption notice), the time limit, or a non-finite loss or parameters."""

from __future__ import annotations

import signal
import threading
import time

import jax
import jax.numpy as jnp
from tqdm import tqdm

from hrm_jax.errors import UserError
from hrm_jax.training import parallel


class NonFiniteLossError(UserError, RuntimeError):
  """Training produced a NaN/inf loss or parameters; the last good checkpoint is kept."""

  exit_code = 3
  HINT = (
    "lower optim.lr or raise optim.lr_warmup_steps, and start a new run "
    "(--config.run_dir): resuming repeats the same updates"
  )


def all_finite(tree) -> bool:
  """Whether every floating-point leaf of `tree` is free of NaN and inf."""
  leaves = [
    jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)
  ]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True


class OnSignal:
  """While active, the first Ctrl-C (or SIGTERM) only sets `hit` to "interrupted" (or
  "terminated"), so the loop can save and stop; a second one acts at once. Inactive
  outside the main thread (signals go there)."""

  SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}

  def __init__(self):
    self.hit, self._prev = None, {}

  def _handle(self, signum, frame):
    self.hit = self.SIGNALS[signum]
    signal.signal(signum, self._prev[signum])
    tqdm.write(
      f"{signal.Signals(signum).name}: stopping after this update with a checkpoint "
      "(again: at once)"
    )

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._prev = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
    return self

  def __exit__(self, *exc):
    for s, handler in self._prev.items():
      signal.signal(s, handler)


def agreed(
  step: int, hit: str | None, t_start: float, time_limit_s: float, every: int
) -> tuple[str | None, bool]:
  """(why a signal stops the run at this update, or None; whether the time limit of
  `time_limit_s` seconds since `t_start` is reached (0: none)), alike on every process:
  with several, agreed on every `every` steps (a collective), not between."""
  late = bool(time_limit_s) and time.time() - t_start > time_limit_s
  if jax.process_count() == 1:
    return hit, late
  if step % every:
    return None, False
  any_hit, any_late = parallel.any_process(hit is not None, late)
  return (hit or "stopped by another process's signal") if any_hit else None, any_late
