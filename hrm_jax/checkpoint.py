"""Run checkpoints: an orbax CheckpointManager over everything a resumed run needs.

Layout of `RUN_DIR/checkpoints/<step>/` (one orbax composite checkpoint)::

    params/      the parameters (StandardSave)          -- the model, as hrm_jax.export reads it
    config/      JSON {"format", "config": HRMConfig fields, "meta": {task, data_path, run config}}
    ema/         EMA of the parameters (only with train.ema_rate > 0)
    train/       update count, optimizer state, PRNG key data and the streamed ACT carry
    loader/      JSON: the training loader's state

`params` + `config` are the layout of `hrm_jax.export`, so `export.load_model`
and `python -m hrm_jax.evaluate --checkpoint` read a run's checkpoints as they
read a converted model. The last `keep` checkpoints are kept, plus the best one
by an evaluation metric.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as ocm

from hrm_jax.config import HRMConfig
from hrm_jax.export import FORMAT


class _QuietUnscoredSaves(logging.Filter):
  """Drop orbax's warning for checkpoints saved between evaluations (no metric: expected)."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_QuietUnscoredSaves())


def config_doc(config: HRMConfig, meta: dict[str, Any]) -> dict[str, Any]:
  """The JSON stored in the `config` item (the hrm_jax.export format)."""
  return {"format": FORMAT, "config": dataclasses.asdict(config), "meta": meta}


class Checkpoints:
  """Save and restore whole training states under `directory`.

  Args:
    directory: the checkpoint root (created if missing).
    keep: how many of the most recent checkpoints to keep.
    best_metric: evaluation metric (a key of the `metrics` passed to `save`)
      whose highest value marks a checkpoint to keep as well.
  """

  def __init__(self, directory: str | Path, keep: int = 3, best_metric: str = "exact_accuracy"):
    self.directory = Path(directory).absolute()
    policy = ocm.AnyPreservationPolicy([
        ocm.LatestN(n=keep),
        ocm.BestN(get_metric_fn=lambda m: m[best_metric], n=1,
                  keep_checkpoints_without_metrics=False),
    ])
    options = ocp.CheckpointManagerOptions(preservation_policy=policy, create=True,
                                           best_fn=lambda m: m[best_metric], best_mode="max",
                                           keep_checkpoints_without_metrics=True,
                                           enable_async_checkpointing=True)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    """The newest complete checkpoint's step, or None."""
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    """The step with the best evaluation metric, or None if no evaluation was saved."""
    return self.manager.best_step()

  def save(self, step: int, *, params, opt_state, carry, rng, loader_state: dict, ema=None,
           config: HRMConfig, meta: dict[str, Any], metrics: dict | None = None,
           step_state=None) -> None:
    """Start an asynchronous save of one training state (see the module docstring)."""
    items = dict(
        params=ocp.args.StandardSave(params),
        config=ocp.args.JsonSave(config_doc(config, meta)),
        train=ocp.args.StandardSave({"step": step_state, "opt_state": opt_state, "carry": carry,
                                     "rng": rng}),
        loader=ocp.args.JsonSave(loader_state),
    )
    if ema is not None:
      items["ema"] = ocp.args.StandardSave(ema)
    self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)

  def restore(self, step: int, *, params, opt_state, carry, rng, ema=None, step_state=None) -> dict:
    """Read checkpoint `step` into the structure, shapes and shardings of the given trees.

    The arguments are templates (arrays or jax.ShapeDtypeStruct with shardings).
    Returns a dict with params, opt_state, carry, rng, ema and loader (its state).
    """
    abstract = lambda tree: jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
    items = dict(
        params=ocp.args.StandardRestore(abstract(params)),
        train=ocp.args.StandardRestore(abstract({"step": step_state, "opt_state": opt_state,
                                                 "carry": carry, "rng": rng})),
        loader=ocp.args.JsonRestore(),
    )
    if ema is not None:
      items["ema"] = ocp.args.StandardRestore(abstract(ema))
    got = self.manager.restore(step, args=ocp.args.Composite(**items))
    return {"params": got["params"], "ema": got.get("ema") if ema is not None else None,
            "loader": got["loader"], **got["train"]}

  def wait(self) -> None:
    """Block until pending asynchronous saves are on disk."""
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
