"""Run records: metrics as JSON lines in the run directory, and optional W&B / TensorBoard.

`metrics.jsonl` holds one object per record: {"step", "kind" ("train"|"eval"),
"time", ...metrics}. On resume, records past the restored step are dropped, so
a killed-and-resumed run leaves the same file as an uninterrupted one (up to
the wall-clock "time" fields).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp


def read_records(path: Path) -> list[dict]:
  """All records of a metrics.jsonl file (a torn last line is skipped)."""
  out = []
  if not Path(path).is_file():
    return out
  for line in Path(path).read_text().splitlines():
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError:
      continue
  return out


def _tensorboard_writer():
  """A SummaryWriter class (tensorboardX's, or torch's, which needs the tensorboard package),
  or None after one line naming the package to install."""
  try:
    from tensorboardX import SummaryWriter

    return SummaryWriter
  except ImportError:
    pass
  try:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter
  except ImportError as e:
    missing = getattr(e, "name", None) or "tensorboard"
  if missing.startswith("torch"):
    missing = "tensorboardX"  # no torch either: the lighter of the two writers
  print(
    f"train.tensorboard is set but the {missing!r} package is not installed "
    f"(pip install {missing}): not logging to TensorBoard"
  )
  return None


class Recorder:
  """Append-only metric log; only process 0 writes.

  Args:
    run_dir: where metrics.jsonl goes.
    resume_step: drop existing records with step > this (None: start a new file).
    config: the run's config as a dict (for W&B / TensorBoard).
    wandb, tensorboard: also log there; skipped with a message if not installed.
    enabled: False on processes other than 0.
  """

  def __init__(
    self,
    run_dir: Path,
    resume_step: int | None,
    config: dict | None = None,
    wandb: bool = False,
    tensorboard: bool = False,
    enabled: bool = True,
  ):
    self.path = Path(run_dir) / "metrics.jsonl"
    self.enabled = enabled
    self.t0 = time.time()
    self._wandb = self._tb = None
    if not enabled:
      return
    kept = [
      r for r in read_records(self.path) if resume_step is not None and r["step"] <= resume_step
    ]
    self.path.parent.mkdir(parents=True, exist_ok=True)
    self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    if wandb:
      try:
        import wandb as wb

        self._wandb = wb.init(
          project="hrm_jax",
          config=config,
          dir=str(run_dir),
          name=Path(run_dir).name,
          resume="allow",
        )
      except ImportError:
        print("train.wandb is set but wandb is not installed: not logging to W&B")
    if tensorboard:
      writer = _tensorboard_writer()
      if writer is not None:
        self._tb = writer(str(Path(run_dir) / "tensorboard"))

  def log(self, step: int, kind: str, metrics: dict) -> None:
    """Record `metrics` (floats) at `step`; kind is "train" or "eval"."""
    if not self.enabled:
      return
    record = {"step": int(step), "kind": kind, "time": round(time.time() - self.t0, 3), **metrics}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._wandb is not None:
      self._wandb.log({f"{kind}/{k}": v for k, v in metrics.items()}, step=int(step))
    if self._tb is not None:
      for k, v in metrics.items():
        self._tb.add_scalar(f"{kind}/{k}", v, int(step))

  def close(self) -> None:
    if self._wandb is not None:
      self._wandb.finish()
    if self._tb is not None:
      self._tb.close()


class MetricWindow:
  """Metric sums of the updates since the last record, fetched without stalling the loop:
  `close` starts their copy to the host and `flush` (called once the next update is
  dispatched, or at once before a save) writes them; `t` is when the window began."""

  def __init__(self, start: int):
    self.sums, self.start, self.pending, self.t = None, start, None, time.time()
    self._add = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b))  # one dispatch per update

  def add(self, metrics: dict) -> None:
    self.sums = metrics if self.sums is None else self._add(self.sums, metrics)

  def close(self, step: int) -> None:
    for x in jax.tree.leaves(self.sums):
      x.copy_to_host_async()
    self.pending, self.sums, self.start = (self.start, step, self.sums), None, step

  def flush(self, write) -> None:
    """write(first, last, host sums, seconds) for the closed window, if there is one."""
    if self.pending is not None:
      (first, last, sums), self.pending = self.pending, None
      host = jax.device_get(sums)
      now = time.time()
      write(first, last, host, now - self.t)
      self.t = now
