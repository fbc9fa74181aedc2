"""Run checkpoints: an orbax CheckpointManager over everything a resumed run needs.

Layout of `RUN_DIR/checkpoints/<step>/` (one orbax composite checkpoint)::

    params/      TrainState.params (StandardSave): the model, as hrm_jax.training.model_dir
                 reads it
    config/      JSON {"format", "config": HRMConfig fields, "meta": {task, data_path, run config}}
    ema/         TrainState.ema (only with an EMA: train.ema_rate > 0)
    train/       TrainState.step and .opt_state, PRNG key data and the streamed ACT carry
    loader/      JSON: the training loader's state

`params` + `config` are the layout of `hrm_jax.training.model_dir` (its `config_doc`
writes the JSON), so `model_dir.load_model` and `python -m hrm_jax.tools.evaluate
--checkpoint` read a run's checkpoints as they read a converted model. Kept: the last
`keep` checkpoints, the best one by an evaluation metric and, with `keep_evaluated`, every
checkpoint saved at an evaluation (as the authors keep them: their ARC figure came from one
of those).
A checkpoint that cannot be read is moved aside to `RUN_DIR/corrupt_checkpoints/`
when an older one can, and the run resumes from that (`restore_latest`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as ocm

from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError
from hrm_jax.train_step import TrainState
from hrm_jax.training import parallel
from hrm_jax.training.model_dir import config_doc


class _QuietUnscoredSaves(logging.Filter):
  """Drop orbax's warning for checkpoints saved between evaluations (no metric: expected)."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_QuietUnscoredSaves())


class _QuietFailedSiblingReads(logging.Filter):
  """After one array of a checkpoint fails to read, orbax abandons its other reads; those
  that failed too are logged by asyncio ("Task/Future exception was never retrieved"), with
  a traceback each, when they are collected. `Checkpoints.restore_latest` has already said
  in one line why the checkpoint is unreadable: drop them (those of TensorStore reads)."""

  NEVER_RETRIEVED = ("Task exception was never retrieved", "Future exception was never retrieved")

  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (
      message.startswith(self.NEVER_RETRIEVED)
      and ("async_deserialize" in message or "tensorstore_spec" in message)
    )


logging.getLogger("asyncio").addFilter(_QuietFailedSiblingReads())


def _drop_abandoned_read_errors(hook):
  """After one array of a checkpoint fails to read, the other reads end through
  sys.unraisablehook with a traceback each: TensorStore completes them into orbax's closed
  event loop ("Event loop is closed"), or their coroutine is closed mid-read and orbax
  re-raises the GeneratorExit as "Encountered error while reading array index". Drop those;
  `Checkpoints.restore_latest` has said in one line why the checkpoint is unreadable."""

  def filtered(unraisable):
    e = unraisable.exc_value
    closed_loop = isinstance(e, RuntimeError) and str(e) == "Event loop is closed"
    abandoned = isinstance(e.__cause__, GeneratorExit) and str(e).startswith(
      "Encountered error while reading array index"
    )
    if not (closed_loop or abandoned):
      hook(unraisable)

  filtered.drops_abandoned_read_errors = True
  return filtered


if not getattr(sys.unraisablehook, "drops_abandoned_read_errors", False):
  sys.unraisablehook = _drop_abandoned_read_errors(sys.unraisablehook)


class CheckpointError(UserError):
  """No checkpoint of a run can be read."""


@dataclasses.dataclass
class _Evaluated(ocm.PreservationPolicy):
  """Keep every checkpoint saved with evaluation metrics."""

  def should_preserve(self, checkpoints, *, context):
    return [info.metrics is not None for info in checkpoints]


def _cause(e: BaseException) -> str:
  """The root cause's first line (orbax/TensorStore errors run to a hundred lines)."""
  while (e.__cause__ or e.__context__) is not None:
    e = e.__cause__ or e.__context__
  line = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
  return line.split(" See full TensorStore details")[0][:240]


class Checkpoints:
  """Save and restore whole training states under `directory`.

  Args:
    directory: the checkpoint root (created if missing).
    keep: how many of the most recent checkpoints to keep.
    best_metric: evaluation metric (a key of the `metrics` passed to `save`)
      whose highest value marks a checkpoint to keep as well.
    keep_evaluated: also keep every checkpoint saved with metrics (at an evaluation).
  """

  def __init__(
    self,
    directory: str | Path,
    keep: int = 3,
    best_metric: str = "exact_accuracy",
    keep_evaluated: bool = False,
  ):
    self.directory = Path(directory).absolute()
    policies = [
      ocm.LatestN(n=keep),
      ocm.BestN(
        get_metric_fn=lambda m: m[best_metric], n=1, keep_checkpoints_without_metrics=False
      ),
    ]
    if keep_evaluated:
      policies.append(_Evaluated())
    policy = ocm.AnyPreservationPolicy(policies)
    options = ocp.CheckpointManagerOptions(
      preservation_policy=policy,
      create=True,
      best_fn=lambda m: m[best_metric],
      best_mode="max",
      keep_checkpoints_without_metrics=True,
      enable_async_checkpointing=True,
    )
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    """The newest complete checkpoint's step, or None."""
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    """The step with the best evaluation metric, or None if no evaluation was saved."""
    return self.manager.best_step()

  def save(
    self,
    step: int,
    *,
    state: TrainState,
    carry,
    rng,
    loader_state: dict,
    config: HRMConfig,
    meta: dict[str, Any],
    metrics: dict | None = None,
  ) -> None:
    """Start an asynchronous save of one training state (see the module docstring)."""
    items = dict(
      params=ocp.args.StandardSave(state.params),
      config=ocp.args.JsonSave(config_doc(config, meta)),
      train=ocp.args.StandardSave(self._train_item(state, carry, rng)),
      loader=ocp.args.JsonSave(loader_state),
    )
    if state.ema is not None:
      items["ema"] = ocp.args.StandardSave(state.ema)
    self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)

  @staticmethod
  def _train_item(state: TrainState, carry, rng) -> dict:
    """The tree of the `train` item."""
    return {"step": state.step, "opt_state": state.opt_state, "carry": carry, "rng": rng}

  def restore(self, step: int, *, state: TrainState, carry, rng) -> dict:
    """Read checkpoint `step` into the structure, shapes and shardings of the given trees.

    The arguments are templates (arrays or jax.ShapeDtypeStruct with shardings); the
    EMA is read when `state` has one. Returns a dict with state (a TrainState), carry,
    rng and loader (its state).
    """
    abstract = lambda tree: ocp.args.StandardRestore(
      jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
    )
    items = dict(
      params=abstract(state.params),
      train=abstract(self._train_item(state, carry, rng)),
      loader=ocp.args.JsonRestore(),
    )
    if state.ema is not None:
      items["ema"] = abstract(state.ema)
    got = self.manager.restore(step, args=ocp.args.Composite(**items))
    train = got["train"]
    restored = TrainState(
      step=train["step"],
      params=got["params"],
      opt_state=train["opt_state"],
      ema=got["ema"] if state.ema is not None else None,
    )
    return {
      "state": restored,
      "carry": train["carry"],
      "rng": train["rng"],
      "loader": got["loader"],
    }

  def restore_latest(self, **templates) -> tuple[int, dict | None]:
    """(step, state) of the newest readable checkpoint, or (0, None) if there is none.

    `templates` as for `restore`. Newer checkpoints that fail to read while an older
    one reads are moved to `../corrupt_checkpoints/<step>`, with one printed line each;
    if none reads, CheckpointError names the newest one and why. With several processes,
    every one must have read the same step (a read that failed on some hosts only is a
    CheckpointError, and nothing is moved); process 0 moves the unreadable ones.
    """
    steps, failed = sorted(self.manager.all_steps(), reverse=True), []
    step, got = None, None
    for candidate in steps:
      try:
        got = self.restore(candidate, **templates)
      except Exception as e:  # noqa: BLE001 -- orbax/TensorStore raise many kinds
        failed.append((candidate, e))
        continue
      step = candidate
      break
    read = parallel.each_process(-1 if step is None else step)[:, 0].tolist()
    if len(set(read)) > 1:  # a read that failed on some hosts only: nothing is moved
      seen = ", ".join(
        f"process {i}: " + (f"step {r}" if r >= 0 else "none") for i, r in enumerate(read)
      )
      raise CheckpointError(
        f"the processes read different checkpoints ({seen}); nothing was moved",
        hint="check that every host sees the same run directory, and run the command again",
      )
    if step is None:
      if failed:
        bad, e = failed[0]
        raise CheckpointError(
          f"no checkpoint in {self.directory} can be read (newest: step {bad}: {_cause(e)})",
          hint="resume with the config the run was started with, or pass a new --config.run_dir",
        )
      return 0, None
    aside = self.directory.parent / "corrupt_checkpoints"
    for bad, e in failed if jax.process_index() == 0 else ():  # one process moves them
      aside.mkdir(parents=True, exist_ok=True)
      shutil.move(str(self.directory / str(bad)), str(aside / str(bad)))
      print(
        f"checkpoint {bad} cannot be read ({_cause(e)}); moved to {aside / str(bad)}; "
        f"resuming from step {step}"
      )
    if failed:
      parallel.sync("corrupt checkpoints moved")
      self.manager.reload()
    return step, got

  def wait(self) -> None:
    """Block until pending asynchronous saves are on disk."""
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
