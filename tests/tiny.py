"""What the tests share: the tiny model configs and batches, and a tiny maze experiment."""

from pathlib import Path

import numpy as np

from experiments.configs import maze
from hrm_jax.config import HRMConfig

# The model-level tests' HRM: 2 cycles of 1+1 blocks, 3 ACT segments.
TINY = HRMConfig(
  vocab_size=6,
  seq_len=8,
  num_puzzle_identifiers=5,
  puzzle_emb_ndim=40,
  hidden_size=32,
  num_heads=2,
  h_layers=1,
  l_layers=1,
  h_cycles=2,
  l_cycles=2,
  halt_max_steps=3,
)
# The Tiny Recursive Model on the same task: one module, a 3-token puzzle prefix, no Q-continue.
TINY_TRM = TINY.replace(arch="trm", h_layers=0, l_layers=2, puzzle_emb_len=3, no_act_continue=True)


def batch(B=3, cfg=TINY, seed=0):
  """A random labelled batch of `B` rows for `cfg` (tokens 1..vocab-1, any puzzle id)."""
  rng = np.random.default_rng(seed)
  return {
    "inputs": rng.integers(1, cfg.vocab_size, (B, cfg.seq_len)).astype(np.int32),
    "labels": rng.integers(1, cfg.vocab_size, (B, cfg.seq_len)).astype(np.int32),
    "puzzle_identifiers": rng.integers(0, cfg.num_puzzle_identifiers, (B,)).astype(np.int32),
  }


DATA_ARGS = dict(generator="perfect", size=5, min_path=4, train_size=256, test_size=64, seed=0)


def build_data(root: Path) -> Path:
  """The tiny dataset (5x5 perfect mazes), built once per directory."""
  from hrm_jax import tasks

  return tasks.build_dataset("maze", root / "maze5", dict(DATA_ARGS), progress=False)


def config(run_dir: Path, data_dir: Path, **train):
  """A few-second maze run: 2 cycles of 1+1 tiny blocks, 2 segments, batch 16."""
  c = maze.get_config("cpu")
  c.run_dir = str(run_dir)
  c.data.path = str(data_dir)
  c.data.build.update(DATA_ARGS)
  m = c.model
  m.hidden_size, m.num_heads, m.expansion = 32, 1, 2.0
  m.h_layers, m.l_layers, m.h_cycles, m.l_cycles, m.halt_max_steps = 1, 1, 2, 1, 2
  c.optim.lr, c.optim.lr_warmup_steps = 3e-3, 5
  t = c.train
  t.global_batch_size, t.steps, t.eval_every, t.log_every, t.checkpoint_every = 16, 40, 40, 10, 20
  t.progress = False
  t.update(train)
  c.eval.global_batch_size, c.eval.max_examples, c.eval.num_render = 32, 64, 2
  return c


def flags(run_dir: Path, data_dir: Path, **train) -> list[str]:
  """The same config as command-line flags of `python -m experiments.maze`."""
  c = config(run_dir, data_dir, **train)
  out = [
    "--config=experiments/configs/maze.py:cpu",
    f"--config.run_dir={run_dir}",
    f"--config.data.path={data_dir}",
  ]
  for section in ("model", "optim", "train", "eval"):
    for k, v in c[section].items():
      out.append(f"--config.{section}.{k}={v}")
  for k, v in DATA_ARGS.items():
    out.append(f"--config.data.build.{k}={v}")
  return out


MAZE4x4 = dict(
  vocab_size=6,
  seq_len=16,
  num_puzzle_identifiers=1,
  puzzle_emb_ndim=16,
  hidden_size=16,
  num_heads=1,
  h_layers=1,
  l_layers=1,
  h_cycles=1,
  l_cycles=1,
  halt_max_steps=2,
)  # the smallest model of 4x4 mazes, for checkpoint-format tests


def save_run_checkpoint(run_dir: Path, step: int, metric: float = 0.5):
  """A training run's checkpoint (EMA and the run-only items included) of a fresh MAZE4x4
  model, written by `hrm_jax.training.checkpoint`; returns (params, config)."""
  import jax
  import jax.numpy as jnp

  from hrm_jax import HRMConfig, TrainState, model
  from hrm_jax.training import checkpoint

  cfg = HRMConfig(**MAZE4x4)
  params = model.init(jax.random.key(0), cfg)
  state = TrainState(step=jnp.int32(step), params=params, opt_state={"mu": params}, ema=params)
  ck = checkpoint.Checkpoints(run_dir / "checkpoints")
  ck.save(
    step,
    state=state,
    carry={"z": jnp.zeros(2)},
    rng=jnp.zeros(2, jnp.uint32),
    loader_state={"epoch": 0},
    config=cfg,
    meta={"task": "maze"},
    metrics={"exact_accuracy": metric},
  )
  ck.close()
  return params, cfg
