"""Training-state memory per device under each train.param_sharding mode.

  python benchmarks/memory.py                          # ARC-AGI-1 paper model, this machine
  python benchmarks/memory.py --devices 8              # on 8 simulated CPU devices
  python benchmarks/memory.py --abstract --devices 16  # planned bytes only: nothing allocated

The state is what a run keeps between steps (hrm_jax.TrainState: parameters, AdamATan2
moments, EMA), initialised on the devices with the shardings the training loop gives it
(`parallel.state_shardings`); bytes per device are the sizes of each device's addressable
shards (`parallel.device_bytes`). `--abstract` computes the same figures from the shardings'
shard shapes without allocating, for sizes this machine cannot hold. The puzzle table's rows
(ARC: one per augmented puzzle, ~961k for ARC-AGI-1 with 1000 augmentations) dominate.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path


def _parse(argv):
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--config", default="arc:arc1", help="task:variant of experiments/configs")
  ap.add_argument("--vocab", type=int, default=12, help="the dataset's vocab_size")
  ap.add_argument("--seq-len", type=int, default=900, help="the dataset's seq_len")
  ap.add_argument("--identifiers", type=int, default=961_000, help="puzzle-table rows")
  ap.add_argument("--ema", type=float, default=0.0, help="train.ema_rate (> 0: an EMA copy)")
  ap.add_argument("--devices", type=int, default=0, help="simulate this many CPU devices")
  ap.add_argument("--abstract", action="store_true", help="plan only, allocate nothing")
  return ap.parse_args(argv)


def main(argv=None) -> None:
  """Print the per-device bytes of the training state in each mode."""
  args = _parse(argv)
  if args.devices:  # before JAX initialises its backends
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    os.environ["JAX_PLATFORMS"] = "cpu"
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/, from anywhere
  import importlib

  import jax

  from hrm_jax import model
  from hrm_jax.config import HRMConfig
  from hrm_jax.optim import OptimConfig
  from hrm_jax.train_step import init_train_state
  from hrm_jax.training import parallel

  task, _, variant = args.config.partition(":")
  cfg = importlib.import_module(f"experiments.configs.{task}").get_config(variant or None)
  mc = HRMConfig(
    **{
      **cfg.model.to_dict(),
      "vocab_size": args.vocab,
      "seq_len": args.seq_len,
      "num_puzzle_identifiers": args.identifiers,
    }
  )
  oc = OptimConfig(**cfg.optim.to_dict())
  mesh = parallel.make_mesh()
  init = lambda k: init_train_state(model.init(k, mc), oc, args.ema)
  key = jax.random.key(0)
  shapes = jax.eval_shape(init, key)
  print(
    f"{args.config}: {model.count_params(shapes.params):,} params, puzzle table "
    f"{mc.num_puzzle_identifiers:,} x {mc.puzzle_emb_ndim}, {mesh.size} "
    f"{jax.devices()[0].platform} device(s){' (planned)' if args.abstract else ''}"
  )
  for mode in parallel.PARAM_SHARDINGS:
    sh = parallel.state_shardings(mesh, shapes, mode)
    if args.abstract:
      per_device = sum(
        math.prod(s.shard_shape(x.shape)) * x.dtype.itemsize
        for x, s in zip(jax.tree.leaves(shapes), jax.tree.leaves(sh))
      )
    else:
      state = jax.jit(init, out_shardings=sh)(key)
      per_device = max(parallel.device_bytes(state).values())
      del state
    print(f"  {mode:>10}: {per_device / 2**30:8.3f} GiB per device (largest)")


if __name__ == "__main__":
  main()
