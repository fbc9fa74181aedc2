"""Training-loop overhead: a real experiments run's updates/s against the bare compiled step.

  python benchmarks/loop.py                                 # maze:cpu (the demo): 3 rounds of 300
  python benchmarks/loop.py --config sudoku:paper --steps 200 --set train.global_batch_size=64

The loop figure comes from the run's own records (metrics.jsonl: examples/s of each window
between two records, evaluation time excluded), without the first window (warm-up). The bare
figure is the same compiled train step (same model, optimizer, shapes, shardings) called back
to back on one batch already on the devices, timed to the last result, before and after each
run (their mean is the round's bare rate; a measurement between two runs serves both).
Overhead = 1 - loop/bare, the median of the rounds:
what data loading, placement, dispatch, records and asynchronous checkpoints cost the run.
"""

from __future__ import annotations

import argparse
import ast
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _parse(argv):
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--config", default="maze:cpu", help="task:variant of experiments/configs")
  ap.add_argument("--steps", type=int, default=300, help="updates of the run")
  ap.add_argument("--log-every", type=int, default=50, help="updates between records")
  ap.add_argument(
    "--repeats", type=int, default=3, help="runs, each between two bare measurements (median)"
  )
  ap.add_argument(
    "--set", action="append", default=[], metavar="FIELD=VALUE", help="config overrides"
  )
  return ap.parse_args(argv)


def _cast(old, text: str):
  """`text` as a value of `old`'s type (a --set override)."""
  if isinstance(old, bool):
    return text.lower() in ("1", "true", "yes")
  if isinstance(old, (tuple, list)):
    return type(old)(ast.literal_eval(text))
  return type(old)(text)


def loop_rate(cfg, run_dir: Path) -> float:
  """Updates/s of a real training run of `cfg` into `run_dir`, from its records."""
  from hrm_jax.training import records, train

  train.train(cfg, write_report=False)
  rates = [
    r["examples_per_s"] / cfg.train.global_batch_size
    for r in records.read_records(run_dir / "metrics.jsonl")
    if r["kind"] == "train"
  ][1:]
  return statistics.median(rates)


def bare_rate(cfg, steps: int) -> float:
  """Updates/s of the run's compiled train step alone, on one batch placed once."""
  import jax
  import jax.numpy as jnp

  from hrm_jax import act, model
  from hrm_jax.data.loader import TrainLoader
  from hrm_jax.train_step import init_train_state, make_train_step
  from hrm_jax.training import experiment, parallel

  s = experiment.settings(cfg)
  mesh, mode = parallel.make_mesh(), cfg.train.param_sharding
  rows, repl = parallel.batch_sharded(mesh), parallel.replicated(mesh)
  init = lambda k: init_train_state(model.init(k, s.model), s.optim, cfg.train.ema_rate)
  key = jax.random.key(cfg.seed)
  state_sh = parallel.state_shardings(mesh, jax.eval_shape(init, key), mode)
  state = jax.jit(init, out_shardings=state_sh)(key)
  host = next(TrainLoader(s.data_path, global_batch_size=cfg.train.global_batch_size))
  batch = parallel.shard_batch(mesh, host)
  zeros = {k: jnp.zeros(v.shape, jnp.int32) for k, v in host.items()}
  carry = jax.jit(lambda: act.initial_carry(zeros, s.model), out_shardings=rows)()
  step = jax.jit(
    make_train_step(s.model, s.optim, cfg.train.ema_rate, parallel.net_sharding(mesh, mode)),
    donate_argnums=(0, 1),
    out_shardings=(state_sh, rows, repl),
  )
  keys = [jax.random.fold_in(key, i) for i in range(steps + 5)]
  for i in range(5):  # compile and warm up
    state, carry, m = step(state, carry, batch, keys[i])
  jax.block_until_ready(m)
  t = time.perf_counter()
  for i in range(5, steps + 5):
    state, carry, m = step(state, carry, batch, keys[i])
  jax.block_until_ready((state, m))
  return steps / (time.perf_counter() - t)


def main(argv=None) -> None:
  """Run the config's training and its bare step; print both rates and the overhead."""
  args = _parse(argv)
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/, from anywhere
  import importlib

  import machine  # benchmarks/machine.py: what ran, on what

  print(machine.describe())
  task, _, variant = args.config.partition(":")
  cfg = importlib.import_module(f"experiments.configs.{task}").get_config(variant or None)
  t = cfg.train
  t.steps, t.epochs, t.log_every, t.progress = args.steps, 0, args.log_every, False
  t.eval_every, t.checkpoint_every = args.steps, args.steps
  for item in args.set:
    field, _, value = item.partition("=")
    *path, name = field.split(".")
    section = functools.reduce(getattr, path, cfg)
    section[name] = _cast(section[name], value)
  cfg.eval.max_examples = cfg.eval.final_max_examples = cfg.eval.global_batch_size
  print(f"{args.config}: global batch {cfg.train.global_batch_size}, {args.steps} updates")
  from hrm_jax.training import experiment

  experiment.ensure_dataset(cfg)  # the bare step reads a batch before the first run builds it
  bare, overheads = [bare_rate(cfg, args.steps)], []
  for i in range(args.repeats):  # the bare rate on both sides of each run: a shared machine drifts
    with tempfile.TemporaryDirectory() as tmp:
      cfg.run_dir = str(Path(tmp) / "run")
      loop = loop_rate(cfg, Path(cfg.run_dir))
    bare.append(bare_rate(cfg, args.steps))
    overheads.append(1 - loop / ((bare[-2] + bare[-1]) / 2))
    print(
      f"  round {i + 1}: bare {bare[-2]:6.2f} / {bare[-1]:6.2f} updates/s, loop {loop:6.2f} "
      f"updates/s, overhead {100 * overheads[-1]:5.1f}%",
      flush=True,
    )
  print(
    f"  overhead: median {100 * statistics.median(overheads):.1f}% "
    f"(min {100 * min(overheads):.1f}%, max {100 * max(overheads):.1f}%; target <= 5%)"
  )


if __name__ == "__main__":
  main()
