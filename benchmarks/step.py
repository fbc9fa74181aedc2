"""Train-step benchmark: compile time, step time, puzzles/s, FLOPs and MFU on this machine.

  python benchmarks/step.py                       # paper config + small config, f32 and bf16
  python benchmarks/step.py --configs small --dtypes bfloat16 --steps 5

The matmul peak is measured in the same run (f32, and bf16 inputs accumulated in
float32 via preferred_element_type), and MFU is the step's analytic FLOP rate
over the peak of its compute dtype.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import hrm_jax

CONFIGS = {
  # The paper's Sudoku model (27.3M params); a small batch so a CPU step takes seconds.
  "paper": (hrm_jax.HRMConfig(), 8),
  # A CPU-sized model of the kind the demo trains.
  "small": (
    hrm_jax.HRMConfig(
      hidden_size=128, num_heads=2, h_layers=2, l_layers=2, puzzle_emb_ndim=0, halt_max_steps=4
    ),
    32,
  ),
}


def matmul_peak(dtype: str, n: int = 2048, reps: int = 5) -> float:
  """Measured FLOP/s of an n x n x n matmul accumulating in float32."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32).astype(dtype)
  f = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
  f(a, b).block_until_ready()
  times = []
  for _ in range(reps):
    t = time.perf_counter()
    f(a, b).block_until_ready()
    times.append(time.perf_counter() - t)
  return 2 * n**3 / min(times)


def block_flops_per_token(cfg: hrm_jax.HRMConfig) -> float:
  """Forward matmul FLOPs of one block for one token (projections + attention)."""
  D, F, T = cfg.hidden_size, cfg.mlp_width, cfg.total_len
  proj = 2 * (D * 3 * D + D * D + D * 2 * F + F * D)
  attn = 2 * 2 * T * D  # q k^T and attn @ v
  return proj + attn


def train_step_flops(cfg: hrm_jax.HRMConfig, batch: int) -> float:
  """Analytic FLOPs of one train step (forward, Q-target segment, backward)."""
  tokens = batch * cfg.total_len
  per_block = block_flops_per_token(cfg) * tokens
  segment_blocks = cfg.h_cycles * cfg.l_cycles * cfg.l_layers + cfg.h_cycles * cfg.h_layers
  grad_blocks = segment_blocks if cfg.grad_mode == "bptt" else cfg.l_layers + cfg.h_layers
  head = 2 * tokens * cfg.hidden_size * cfg.vocab_size
  forward = segment_blocks * per_block + head
  target = segment_blocks * per_block if cfg.halt_max_steps > 1 else 0
  backward = 2 * (grad_blocks * per_block + head)
  return forward + target + backward


def bench(name: str, cfg: hrm_jax.HRMConfig, batch: int, steps: int, peaks: dict) -> dict:
  oc = hrm_jax.OptimConfig(lr_warmup_steps=10, total_steps=1000)
  rng = np.random.default_rng(0)
  data = {
    "inputs": rng.integers(1, cfg.vocab_size, (batch, cfg.seq_len)).astype(np.int32),
    "labels": rng.integers(1, cfg.vocab_size, (batch, cfg.seq_len)).astype(np.int32),
    "puzzle_identifiers": np.zeros((batch,), np.int32),
  }
  params = hrm_jax.init(jax.random.key(0), cfg)
  state = hrm_jax.init_train_state(params, oc)
  carry = hrm_jax.initial_carry(data, cfg)
  step = jax.jit(hrm_jax.make_train_step(cfg, oc), donate_argnums=(0, 1))

  t = time.perf_counter()
  compiled = step.lower(state, carry, data, jax.random.key(0)).compile()
  compile_s = time.perf_counter() - t
  xla_flops = (compiled.cost_analysis() or {}).get("flops", float("nan"))
  state, carry, m = compiled(state, carry, data, jax.random.key(0))
  jax.block_until_ready(m)
  times = []
  for i in range(steps):
    t = time.perf_counter()
    state, carry, m = compiled(state, carry, data, jax.random.key(i + 1))
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
  step_s = statistics.median(times)
  flops = train_step_flops(cfg, batch)
  peak = peaks[cfg.compute_dtype]
  return {
    "config": name,
    "dtype": cfg.compute_dtype,
    "params": hrm_jax.count_params(params),
    "batch": batch,
    "compile_s": compile_s,
    "step_s": step_s,
    "puzzles_per_s": batch / step_s,
    "gflop_step": flops / 1e9,
    "xla_gflop_step": xla_flops / 1e9,
    "tflops_per_s": flops / step_s / 1e12,
    "mfu": flops / step_s / peak,
  }


def cycles_sweep(cfg: hrm_jax.HRMConfig, batch: int) -> None:
  """Compile time and compiled temp memory of the train step as N*T grows."""
  oc = hrm_jax.OptimConfig()
  data = {
    "inputs": jax.ShapeDtypeStruct((batch, cfg.seq_len), jnp.int32),
    "labels": jax.ShapeDtypeStruct((batch, cfg.seq_len), jnp.int32),
    "puzzle_identifiers": jax.ShapeDtypeStruct((batch,), jnp.int32),
  }
  print(f"{'grad_mode':9} {'N':>2} {'T':>2} {'compile s':>9} {'temp MiB':>9}")
  for mode in ("one_step", "bptt"):
    for n, t in ((1, 1), (2, 2), (4, 4), (8, 8)):
      c = cfg.replace(h_cycles=n, l_cycles=t, grad_mode=mode)
      state = jax.eval_shape(
        lambda k: hrm_jax.init_train_state(hrm_jax.init(k, c), oc), jax.random.key(0)
      )
      carry = jax.eval_shape(lambda: hrm_jax.initial_carry(data, c))
      start = time.perf_counter()
      compiled = (
        jax.jit(hrm_jax.make_train_step(c, oc))
        .lower(state, carry, data, jax.random.key(0))
        .compile()
      )
      secs = time.perf_counter() - start
      mib = compiled.memory_analysis().temp_size_in_bytes / 2**20
      print(f"{mode:9} {n:>2} {t:>2} {secs:>9.1f} {mib:>9.1f}", flush=True)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--configs", default="paper,small", help="comma list of: paper, small")
  ap.add_argument("--dtypes", default="float32,bfloat16", help="compute dtypes to run")
  ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
  ap.add_argument(
    "--sweep",
    action="store_true",
    help="also print compile time / temp memory vs H_cycles*L_cycles",
  )
  args = ap.parse_args()

  print(f"devices: {jax.devices()}")
  peaks = {"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}
  print(
    f"matmul peak: f32 {peaks['float32'] / 1e12:.3f} TFLOP/s, "
    f"bf16 inputs + f32 accumulation {peaks['bfloat16'] / 1e12:.3f} TFLOP/s "
    f"(ratio {peaks['bfloat16'] / peaks['float32']:.2f})"
  )
  header = (
    f"{'config':7} {'dtype':9} {'params':>11} {'batch':>5} {'compile s':>9} "
    f"{'step s':>8} {'puzzles/s':>9} {'GFLOP/step':>10} {'XLA GFLOP':>9} "
    f"{'TFLOP/s':>8} {'MFU':>6}"
  )
  print(header)
  for name in args.configs.split(","):
    cfg, batch = CONFIGS[name]
    for dtype in args.dtypes.split(","):
      r = bench(name, cfg.replace(compute_dtype=dtype), batch, args.steps, peaks)
      print(
        f"{r['config']:7} {r['dtype']:9} {r['params']:>11,} {r['batch']:>5} "
        f"{r['compile_s']:>9.1f} {r['step_s']:>8.3f} {r['puzzles_per_s']:>9.1f} "
        f"{r['gflop_step']:>10.1f} {r['xla_gflop_step']:>9.1f} {r['tflops_per_s']:>8.3f} "
        f"{r['mfu']:>6.1%}",
        flush=True,
      )
  if args.sweep:
    cycles_sweep(*CONFIGS["small"])


if __name__ == "__main__":
  main()
