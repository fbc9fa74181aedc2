"""The training loop: data-parallel HRM training with deep supervision, evaluation,
checkpoints that resume exactly, and a report at the end.

  state, carry  <- restored from RUN_DIR/checkpoints, or freshly initialised
  for step in start+1 .. total:
    batch  <- the loader's next global batch, split over the "data" mesh axis
    state, carry <- train_step(state, carry, batch, fold_in(key, step))   # one ACT segment
    every log_every: metrics -> progress bar + metrics.jsonl (stop on a non-finite loss)
    every eval_every: evaluate the test split
    every checkpoint_every (and at evaluations, the end, the time limit): save

The ACT carry streams across steps: slots that halted take the next batch's
rows, the others keep refining their example. Everything a step depends on
(parameters, optimizer state, EMA, carry, loader position, step) is in the
checkpoint and the step's PRNG key is `fold_in(key, step)`, so a run killed at
any point and started again with the same command ends bit-identical.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging as absl_logging
from ml_collections import ConfigDict
from tqdm import tqdm

from hrm_jax import act, checkpoint, evaluate, experiment, model, parallel, records
from hrm_jax.data.loader import TrainLoader
from hrm_jax.train_step import TrainState, init_train_state, make_train_step, reduce_metrics


class NonFiniteLossError(RuntimeError):
  """Training produced a NaN/inf loss or parameters; the last good checkpoint is kept."""


def make_step(model_cfg, optim_cfg, ema_rate: float):
  """`(state, ema, carry, batch, rng) -> (state, ema, carry, metrics)`: one update + EMA."""
  train_step = make_train_step(model_cfg, optim_cfg)

  def step(state, ema, carry, batch, rng):
    state, carry, metrics = train_step(state, carry, batch, rng)
    if ema is not None:
      ema = jax.tree.map(lambda e, p: (ema_rate * e + (1 - ema_rate) * p).astype(e.dtype),
                         ema, state.params)
    return state, ema, carry, metrics

  return step


def _all_finite(tree) -> bool:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(x.dtype, jnp.inexact)]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True


def train(cfg: ConfigDict, *, devices=None, write_report: bool = True) -> dict:
  """Run, or resume, the experiment described by `cfg`; returns a summary dict.

  Args:
    cfg: an experiment ConfigDict (experiments/configs/*.py).
    devices: devices of the mesh (default: all devices of all processes).
    write_report: write report.md and plots into the run directory at the end.
  Returns:
    {"run_dir", "steps", "train_seconds", "eval": final evaluation metrics, ...,
     "predictions": the final evaluation's per-example arrays (see evaluate.predict)}.
  """
  experiment.check(cfg)                     # bad values fail before any data or compilation
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every save at INFO
  parallel.maybe_initialize_distributed()
  lead = jax.process_index() == 0
  if lead:
    experiment.ensure_dataset(cfg, progress=cfg.train.progress)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("dataset ready")
  s = experiment.settings(cfg)
  mesh = parallel.make_mesh(devices)
  parallel.local_batch_size(mesh, cfg.train.global_batch_size)
  parallel.local_batch_size(mesh, cfg.eval.global_batch_size)
  run_dir = s.run_dir
  if lead:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(cfg.to_json(indent=1))
  meta = {"task": cfg.task, "data_path": str(s.data_path), "run_config": cfg.to_dict()}
  repl, rows = parallel.replicated(mesh), parallel.batch_sharded(mesh)
  B, ema_rate = cfg.train.global_batch_size, cfg.train.ema_rate

  # ---- state: fresh, then overwritten by the latest checkpoint if there is one
  k_init, k_run = jax.random.split(jax.random.key(cfg.seed))
  state = jax.jit(lambda k: init_train_state(model.init(k, s.model), s.optim),
                  out_shardings=repl)(k_init)
  ema = jax.jit(lambda p: jax.tree.map(jnp.copy, p), out_shardings=repl)(state.params) \
      if ema_rate else None
  zero_batch = lambda: {"inputs": jnp.zeros((B, s.model.seq_len), jnp.int32),
                        "labels": jnp.zeros((B, s.model.seq_len), jnp.int32),
                        "puzzle_identifiers": jnp.zeros((B,), jnp.int32)}
  carry = jax.jit(lambda: act.initial_carry(zero_batch(), s.model), out_shardings=rows)()
  loader = TrainLoader(s.data_path, "train", global_batch_size=B, seed=cfg.seed,
                       process_index=jax.process_index(), process_count=jax.process_count())
  ckpts = checkpoint.Checkpoints(run_dir / "checkpoints", cfg.train.keep_checkpoints,
                                 cfg.train.best_metric)
  start = ckpts.latest_step() or 0
  if start:
    got = ckpts.restore(start, params=state.params, opt_state=state.opt_state, carry=carry,
                        rng=jax.random.key_data(k_run), ema=ema, step_state=state.step)
    state = TrainState(step=got["step"], params=got["params"], opt_state=got["opt_state"])
    carry, ema = got["carry"], got["ema"]
    k_run = jax.random.wrap_key_data(np.asarray(got["rng"]))  # uncommitted, like a fresh key
    loader.restore(got["loader"])
    print(f"resumed from {ckpts.directory}/{start}")
  recorder = records.Recorder(run_dir, resume_step=start, config=cfg.to_dict(),
                              wandb=cfg.train.wandb, tensorboard=cfg.train.tensorboard, enabled=lead)

  # ---- compiled functions
  step_fn = jax.jit(make_step(s.model, s.optim, ema_rate), donate_argnums=(0, 1, 2),
                    out_shardings=(repl, repl, rows, repl))
  eval_fn = jax.jit(evaluate.make_eval_fn(s.model, s.eval_steps, cfg.eval.halt_rule))

  def run_eval():
    metrics, got = evaluate.evaluate(
        ema if ema is not None else state.params, s.model, cfg.task, s.data_path, mesh,
        num_segments=s.eval_steps, halt_rule=cfg.eval.halt_rule,
        global_batch_size=cfg.eval.global_batch_size, max_examples=cfg.eval.max_examples,
        pass_k=cfg.eval.pass_k, eval_fn=eval_fn)
    return metrics, got

  def save(step, metrics=None):
    if not _all_finite(state.params):
      raise NonFiniteLossError(f"non-finite parameters at step {step}; not saving. "
                               f"Last good checkpoint: step {ckpts.latest_step()} in {ckpts.directory}")
    ckpts.save(step, params=state.params, opt_state=state.opt_state, carry=carry,
               rng=jax.random.key_data(k_run), loader_state=loader.state(), ema=ema,
               config=s.model, meta={**meta, "step": step}, metrics=metrics, step_state=state.step)

  # ---- the loop
  t_start, eval_metrics, got = time.time(), {}, None
  window, window_start, t_window = None, start, time.time()
  bar = tqdm(total=s.total_steps, initial=start, disable=not (lead and cfg.train.progress),
             desc=f"{cfg.task}-{cfg.variant}", dynamic_ncols=True)
  step = start
  try:
    for step in range(start + 1, s.total_steps + 1):
      batch = parallel.shard_batch(mesh, next(loader))
      state, ema, carry, m = step_fn(state, ema, carry, batch, jax.random.fold_in(k_run, step))
      window = m if window is None else jax.tree.map(jnp.add, window, m)
      bar.update(1)
      last = step == s.total_steps
      out_of_time = cfg.train.time_limit_s and time.time() - t_start > cfg.train.time_limit_s
      do_eval = step % s.eval_every == 0 or last
      do_save = do_eval or out_of_time or step % cfg.train.checkpoint_every == 0

      if step % cfg.train.log_every == 0 or do_save:
        means = reduce_metrics(jax.device_get(window), B, n_steps=step - window_start)
        if not np.isfinite(means["loss"]):
          raise NonFiniteLossError(
              f"non-finite loss ({means['loss']}) between steps {window_start + 1} and {step}. "
              f"Last good checkpoint: step {ckpts.latest_step()} in {ckpts.directory}")
        now = time.time()
        means["examples_per_s"] = B * (step - window_start) / max(now - t_window, 1e-9)
        recorder.log(step, "train", means)
        bar.set_postfix(loss=f"{means['loss']:.3f}", acc=f"{means['accuracy']:.3f}",
                        exact=f"{means['exact_accuracy']:.3f}", refresh=False)
        window, window_start, t_window = None, step, now
      if do_eval:
        eval_metrics, got = run_eval()
        recorder.log(step, "eval", eval_metrics)
        tqdm.write(f"step {step}: eval " + " ".join(
            f"{k}={v:.4f}" for k, v in eval_metrics.items() if "accuracy" in k or "path" in k
            or "pass" in k or "valid" in k or "prefix" in k))
        t_window = time.time()
      if do_save:
        save(step, {k: v for k, v in eval_metrics.items()} if do_eval else None)
      if out_of_time and not last:
        tqdm.write(f"time limit of {cfg.train.time_limit_s}s reached at step {step}")
        break
  finally:
    bar.close()
    ckpts.close()
    recorder.close()

  if got is None:  # nothing left to train (a finished run started again): evaluate anyway
    eval_metrics, got = run_eval()
  summary = {"run_dir": str(run_dir), "task": cfg.task, "variant": cfg.variant, "steps": step,
             "total_steps": s.total_steps, "train_seconds": round(time.time() - t_start, 1),
             "params": model.count_params(state.params), "eval": eval_metrics,
             "finished": step == s.total_steps}
  if lead:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if write_report and got is not None:
      from hrm_jax import report
      report.write_report(run_dir, cfg, summary, got)
  return {**summary, "predictions": got}
