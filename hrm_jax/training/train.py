"""The training loop: data-parallel HRM training with deep supervision, evaluation,
checkpoints that resume exactly, and a report at the end.

  lock RUN_DIR; a resume must match RUN_DIR/config.json (experiment.check_resume)
  state, carry  <- restored from RUN_DIR/checkpoints, or freshly initialised
  for step in start+1 .. total:
    batch  <- the loader's next global batch, split over the "data" mesh axis (prepared
              PREFETCH batches ahead on a thread, data.loader.Prefetch)
    state, carry <- train_step(state, carry, batch, fold_in(key, step))   # one ACT segment
    every log_every: metrics -> progress bar + metrics.jsonl (stop on a non-finite loss),
              fetched while the next update runs: no host synchronisation between records
    at each step of experiment.schedule's eval_at (the last: total): evaluate the test split
    every checkpoint_every (and at evaluations, the time limit, Ctrl-C): save

The ACT carry streams across steps: slots that halted take the next batch's
rows, the others keep refining their example. Everything a step depends on
(parameters, optimizer state, EMA, carry, loader position, step) is in the
checkpoint and the step's PRNG key is `fold_in(key, step)`, so a run killed at
any point and started again with the same command ends bit-identical.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging as absl_logging
from ml_collections import ConfigDict
from tqdm import tqdm

from hrm_jax import act, model
from hrm_jax.data.loader import Prefetch, TrainLoader
from hrm_jax.errors import Interrupted, UserError
from hrm_jax.train_step import init_train_state, make_train_step, reduce_metrics
from hrm_jax.training import (
  checkpoint,
  evaluate,
  experiment,
  hardware,
  inference,
  parallel,
  records,
  runlock,
  stopping,
)

PREFETCH = 2  # training batches prepared and placed on the devices ahead of the step


def train(cfg: ConfigDict, *, devices=None, write_report: bool = True) -> dict:
  """Run, or resume, the experiment described by `cfg`; returns a summary dict.

  The run directory is locked for the run's lifetime (a second training on it is
  refused). A resume must use the config the run started with, up to the fields of
  `experiment.SAFE_FIELDS`; a finished run is not trained again. Ctrl-C saves a
  checkpoint and raises `errors.Interrupted`.

  Args:
    cfg: an experiment ConfigDict (experiments/configs/*.py).
    devices: devices of the mesh (default: all devices of all processes).
    write_report: write report.md and plots into the run directory at the end.
  Returns:
    {"run_dir", "steps", "train_seconds", "eval": final evaluation metrics, ...,
     "predictions": the final evaluation's per-example arrays (see inference.predict),
     or None when a finished run's saved summary is returned}.
  """
  experiment.check(cfg)  # bad values fail before any data or compilation
  absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save at INFO
  parallel.maybe_initialize_distributed()
  lead = jax.process_index() == 0
  run_dir = experiment.run_dir(cfg)
  if lead:
    print(f"run dir: {run_dir}")
    experiment.check_run_dir(run_dir)
    dtype = cfg.model.get("compute_dtype", "float32")
    if advice := hardware.bf16_advice(dtype, jax.default_backend(), hardware.cpu_flags()[1]):
      print(advice)
  created = not run_dir.exists()
  try:
    with runlock.RunLock(run_dir, enabled=lead):
      ckpts = checkpoint.Checkpoints(
        run_dir / "checkpoints",
        cfg.train.keep_checkpoints,
        cfg.train.best_metric,
        cfg.train.keep_eval_checkpoints,
      )
      try:
        return _train(cfg, run_dir, ckpts, devices, write_report, lead)
      finally:
        ckpts.close()
  except BaseException:
    if created and lead:  # a run that failed before its first save leaves no empty dirs
      for empty in (run_dir / "checkpoints", run_dir):
        with contextlib.suppress(OSError):
          empty.rmdir()
    raise


def _read_json(path: Path):
  try:
    return json.loads(path.read_text())
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    raise UserError(f"{path}: cannot be read ({e})") from e


def _write_text(path: Path, text: str) -> None:
  try:
    path.write_text(text)
  except OSError as e:
    raise UserError(f"{path}: cannot be written ({e.strerror or e})") from e


def _train(
  cfg, run_dir: Path, ckpts: checkpoint.Checkpoints, devices, write_report: bool, lead: bool
) -> dict:
  """`train` inside the run directory's lock."""
  resuming = ckpts.latest_step() is not None
  saved = _read_json(run_dir / "config.json") if resuming else None
  changes = experiment.check_resume(saved, cfg, run_dir / "config.json") if saved else []
  if lead:
    experiment.ensure_dataset(cfg, progress=cfg.train.progress)
  parallel.sync("dataset ready")
  s = experiment.settings(cfg)
  saved_data = _read_json(run_dir / "data_identity.json") if resuming else None
  if saved_data:
    experiment.check_same_dataset(saved_data, s.data_path)
  mesh = parallel.make_mesh(devices)
  parallel.check_batch_size(mesh, cfg.train.global_batch_size, "config.train.global_batch_size")
  parallel.check_batch_size(mesh, cfg.eval.global_batch_size, "config.eval.global_batch_size")
  if lead:
    _write_text(run_dir / "config.json", cfg.to_json(indent=1))
    _write_text(
      run_dir / "data_identity.json", json.dumps(experiment.dataset_identity(s.data_path), indent=1)
    )
  meta = {"task": cfg.task, "data_path": str(s.data_path), "run_config": cfg.to_dict()}
  repl, rows = parallel.replicated(mesh), parallel.batch_sharded(mesh)
  B, ema_rate = cfg.train.global_batch_size, cfg.train.ema_rate

  # ---- state: fresh, then overwritten by the latest readable checkpoint if there is one
  k_init, k_run = jax.random.split(jax.random.key(cfg.seed))
  init_state = lambda k: init_train_state(model.init(k, s.model), s.optim, ema_rate)
  net_sh = parallel.net_sharding(mesh, cfg.train.param_sharding)  # fsdp: gathered per step
  state_sh = parallel.state_shardings(
    mesh, jax.eval_shape(init_state, k_init), cfg.train.param_sharding
  )
  state = jax.jit(init_state, out_shardings=state_sh)(k_init)
  batch_shape = {
    "inputs": (B, s.model.seq_len),
    "labels": (B, s.model.seq_len),
    "puzzle_identifiers": (B,),
  }
  zero_batch = lambda: {k: jnp.zeros(v, jnp.int32) for k, v in batch_shape.items()}
  carry = jax.jit(lambda: act.initial_carry(zero_batch(), s.model), out_shardings=rows)()
  key_data = jax.jit(jax.random.key_data, out_shardings=repl)  # a global array: multi-host saves
  loader = TrainLoader(
    s.data_path,
    "train",
    global_batch_size=B,
    seed=cfg.seed,
    process_index=jax.process_index(),
    process_count=jax.process_count(),
  )
  start, restored = ckpts.restore_latest(state=state, carry=carry, rng=key_data(k_run))
  if restored is not None:
    state, carry = restored["state"], restored["carry"]
    k_run = jax.random.wrap_key_data(np.asarray(restored["rng"]))  # uncommitted, like a fresh key
    loader.restore(restored["loader"])

  eval_fn = jax.jit(inference.make_eval_fn(s.model, s.eval_steps, cfg.eval.halt_rule))

  def run_eval(final: bool):
    # ARC: RUN_DIR/submission.json (ARC Prize format) is the latest evaluation's answers,
    # RUN_DIR/submissions/step_N.json those of every evaluation
    submission = run_dir / "submission.json" if lead and cfg.task == "arc" else None
    params = state.eval_params  # under fsdp: the network gathered once, the table kept split
    if net_sh is not None:
      params = {**params, "net": jax.device_put(params["net"], net_sh)}
    metrics, predictions = evaluate.evaluate(
      params,
      s.model,
      cfg.task,
      s.data_path,
      mesh,
      num_segments=s.eval_steps,
      halt_rule=cfg.eval.halt_rule,
      global_batch_size=cfg.eval.global_batch_size,
      max_examples=cfg.eval.final_max_examples if final else cfg.eval.max_examples,
      pass_ks=cfg.eval.pass_ks,
      eval_fn=eval_fn,
      progress=lead and cfg.train.progress,
      submission_path=submission,
    )
    if submission is not None:
      (run_dir / "submissions").mkdir(exist_ok=True)
      at = int(jax.device_get(state.step))
      (run_dir / "submissions" / f"step_{at}.json").write_bytes(submission.read_bytes())
    return metrics, predictions

  def finish(step: int, eval_metrics: dict, predictions, train_seconds: float) -> dict:
    summary = {
      "run_dir": str(run_dir),
      "task": cfg.task,
      "variant": cfg.variant,
      "steps": step,
      "total_steps": s.total_steps,
      "train_seconds": round(train_seconds, 1),
      "params": model.count_params(state.params),
      "eval": eval_metrics,
      "finished": step == s.total_steps,
    }
    if lead:
      _write_text(run_dir / "summary.json", json.dumps(summary, indent=1))
      if write_report and predictions is not None:
        from hrm_jax.training import report

        report.write_report(run_dir, cfg, summary, predictions)
    return {**summary, "predictions": predictions}

  if start >= s.total_steps:  # a finished run started again: report, no training
    done = _read_json(run_dir / "summary.json")
    if done and done.get("steps") == start and done.get("finished"):
      print(f"run already finished at step {start}: {run_dir / 'summary.json'}")
      return {**done, "predictions": None}
    print(f"run already finished at step {start}; evaluating it")
    return finish(start, *run_eval(final=True), 0.0)
  if restored is not None:
    print(
      f"resumed from {ckpts.directory}/{start}"
      + (f" with changed settings: {', '.join(changes)}" if changes else "")
    )

  # ---- compiled step; refuse early if it cannot fit in memory
  step_fn = jax.jit(
    make_train_step(s.model, s.optim, ema_rate, net_sh),
    donate_argnums=(0, 1),
    out_shardings=(state_sh, rows, repl),
  )
  spec = {k: jax.ShapeDtypeStruct(v, jnp.int32, sharding=rows) for k, v in batch_shape.items()}
  step_fn = step_fn.lower(state, carry, spec, jax.random.fold_in(k_run, 0)).compile()
  parallel.check_memory(step_fn, mesh, B)
  recorder = records.Recorder(
    run_dir,
    resume_step=start,
    config=cfg.to_dict(),
    wandb=cfg.train.wandb,
    tensorboard=cfg.train.tensorboard,
    enabled=lead,
  )

  def save(step, metrics=None):
    if not stopping.all_finite(state.params):
      raise stopping.NonFiniteLossError(
        f"non-finite parameters at step {step}; not saving; {last_good()}",
        hint=stopping.NonFiniteLossError.HINT,
      )
    ckpts.save(
      step,
      state=state,
      carry=carry,
      rng=key_data(k_run),
      loader_state=batches.state(),  # the batches consumed, not those prefetched
      config=s.model,
      meta={**meta, "step": step},
      metrics=metrics,
    )

  def last_good() -> str:
    ckpts.wait()
    step = ckpts.latest_step()
    return (
      f"last good checkpoint: step {step} in {ckpts.directory}"
      if step
      else "no checkpoint was saved before it"
    )

  def record(first: int, last: int, sums: dict, seconds: float) -> None:
    means = reduce_metrics(sums, B, n_steps=last - first)
    if not np.isfinite(means["loss"]):
      raise stopping.NonFiniteLossError(
        f"non-finite loss ({means['loss']}) between steps {first + 1} and {last}; {last_good()}",
        hint=stopping.NonFiniteLossError.HINT,
      )
    means["examples_per_s"] = B * (last - first) / max(seconds, 1e-9)
    recorder.log(last, "train", means)
    bar.set_postfix(
      loss=f"{means['loss']:.3f}",
      acc=f"{means['accuracy']:.3f}",
      exact=f"{means['exact_accuracy']:.3f}",
    )

  # ---- the loop: batches prepared and placed on a thread, metrics fetched a step late
  t_start, eval_metrics, predictions = time.time(), {}, None
  window, eval_at, bar, step = records.MetricWindow(start), set(s.eval_at), None, start
  batches = Prefetch(loader, place=lambda b: parallel.shard_batch(mesh, b), depth=PREFETCH)
  try:
    with stopping.OnSignal() as ctrl_c:
      for step in range(start + 1, s.total_steps + 1):
        state, carry, m = step_fn(state, carry, next(batches), jax.random.fold_in(k_run, step))
        if bar is None:  # started after the first update: no compile in ETA
          bar = tqdm(
            total=s.total_steps,
            initial=step - 1,
            dynamic_ncols=True,
            disable=not (lead and cfg.train.progress),
            desc=f"{cfg.task}-{cfg.variant}",
          )
        window.flush(record)  # the last record's sums, copied while this update runs
        window.add(m)
        bar.update(1)
        last = step == s.total_steps
        signalled, out_of_time = stopping.agreed(
          step, ctrl_c.hit, t_start, cfg.train.time_limit_s, cfg.train.log_every
        )
        do_eval = step in eval_at
        do_save = do_eval or out_of_time or signalled or step % cfg.train.checkpoint_every == 0

        if step % cfg.train.log_every == 0 or do_save:
          window.close(step)
          if do_save:  # an evaluation, a checkpoint or a stop waits for the record
            window.flush(record)
        if do_eval:
          eval_metrics, predictions = run_eval(final=last)
          recorder.log(step, "eval", eval_metrics)
          tqdm.write(f"step {step}: eval {evaluate.headline(eval_metrics)}")
          window.t = time.time()
          bar.unpause()  # the evaluation's time is not training time
        if do_save:
          save(step, {k: v for k, v in eval_metrics.items()} if do_eval else None)
        if signalled:
          ckpts.wait()
          stop = Interrupted(
            f"{signalled} at step {step}; checkpoint saved; rerun the same command to resume"
          )
          stop.exit_code = 130 if signalled == "interrupted" else 143  # 128 + the signal
          raise stop
        if out_of_time and not last:
          tqdm.write(f"time limit of {cfg.train.time_limit_s}s reached at step {step}")
          break
  finally:
    batches.close()
    if bar is not None:
      bar.close()
    recorder.close()
  if predictions is None:  # stopped (time limit) before any evaluation
    eval_metrics, predictions = run_eval(final=False)
  return finish(step, eval_metrics, predictions, time.time() - t_start)
