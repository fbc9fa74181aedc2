"""Train-step benchmark: compile time, step time, puzzles/s, FLOPs and MFU on this machine.

  python benchmarks/step.py                       # every arch at paper + small size, f32 + bf16
  python benchmarks/step.py --configs small --archs trm,trm_mlp --dtypes bfloat16 --steps 5
  python benchmarks/step.py --configs small --sweep   # + temp memory vs the cycles (HRM, TRM)

The archs are the Sudoku variants of experiments/configs/sudoku.py: HRM (`paper`), TRM,
TRM-MLP and the transformer baseline; `small` shrinks each (SMALL below).

The matmul peak is measured in the same run (f32, and bf16 inputs accumulated in
float32 via preferred_element_type), and MFU is the step's analytic FLOP rate
over the peak of its compute dtype. On a GPU or TPU the step's rate is also given against
the device's nominal dense bf16 peak (NOMINAL_BF16, the vendors' datasheets): "MFU nominal".

  python benchmarks/step.py --configs paper --archs hrm --dtypes bfloat16 --batch 768
  python benchmarks/step.py --configs paper --archs hrm --dtypes bfloat16 --fit

`--batch` sets the batch of every config (one device); `--fit` prints the largest batch whose
compiled train step fits in one device's memory (XLA's memory analysis: arguments,
temporaries and outputs, less the donated inputs; a multiple of 32 predicted from two
compiles, checked by a third).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import machine  # benchmarks/machine.py: what ran, on what
import numpy as np

import hrm_jax
from hrm_jax import flops as hrm_jax_flops
from hrm_jax.training import parallel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/, from anywhere

ARCHS = ("hrm", "trm", "trm_mlp", "transformer")  # the sudoku.py variants benchmarked
SIZES = ("paper", "small")
# The small size: a CPU-sized model of the kind the demo trains (HRM 2+2 blocks, the
# transformer 4, TRM its 2), no puzzle prefix, 4 ACT segments.
SMALL = dict(hidden_size=128, num_heads=2, puzzle_emb_ndim=0, puzzle_emb_len=0, halt_max_steps=4)
BATCH = {"paper": 8, "small": 32}  # paper: a small batch so that a CPU step takes seconds
# Dense bf16 matmul peaks in FLOP/s by device kind (a substring of jax's device_kind, the first
# match wins), from the vendors' datasheets; a cross-check is the measured peak beside it.
NOMINAL_BF16 = (
  ("H200", 989e12),
  ("H100", 989e12),  # SXM; the PCIe card is 756
  ("A100", 312e12),
  ("L4", 121e12),
  ("TPU v6 lite", 918e12),  # v6e
  ("TPU v5 lite", 197e12),  # v5e
  ("TPU v5", 459e12),  # v5p
  ("TPU v4", 275e12),
)


def nominal_bf16_peak(device) -> float | None:
  """The datasheet bf16 peak of `device` (None on a CPU or an unlisted kind)."""
  if device.platform == "cpu":
    return None
  return next((peak for kind, peak in NOMINAL_BF16 if kind in device.device_kind), None)


def config(arch: str, size: str) -> hrm_jax.HRMConfig:
  """The Sudoku model of `arch` at `size`: the experiment config's model (paper: the HRM
  paper's 27.3M model, the TRM paper's TRM, TRM-MLP and transformer baseline), or SMALL."""
  from experiments.configs import sudoku

  model = sudoku.get_config("paper" if arch == "hrm" else arch).model.to_dict()
  cfg = hrm_jax.HRMConfig(vocab_size=11, seq_len=81, **model)
  if size == "small":
    layers = {"hrm": dict(h_layers=2, l_layers=2), "transformer": dict(h_layers=4)}
    cfg = cfg.replace(**SMALL, **layers.get(arch, {}))
  return cfg


def matmul_peak(dtype: str, n: int | None = None, reps: int = 20) -> float:
  """Measured FLOP/s of an n x n x n matmul accumulating in float32 (n: 2048 on a CPU,
  8192 on an accelerator): the fastest of `reps` (on a shared machine fewer swing by 2x)."""
  n = n or (2048 if jax.default_backend() == "cpu" else 8192)
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


def setup(cfg: hrm_jax.HRMConfig, batch: int):
  """(jitted train step donating state and carry, state, carry, a random batch) of `cfg`."""
  oc = hrm_jax.OptimConfig(lr_warmup_steps=10, total_steps=1000)
  rng = np.random.default_rng(0)
  data = {
    "inputs": rng.integers(1, cfg.vocab_size, (batch, cfg.seq_len)).astype(np.int32),
    "labels": rng.integers(1, cfg.vocab_size, (batch, cfg.seq_len)).astype(np.int32),
    "puzzle_identifiers": np.zeros((batch,), np.int32),
  }
  state = hrm_jax.init_train_state(hrm_jax.init(jax.random.key(0), cfg), oc)
  carry = hrm_jax.initial_carry(data, cfg)
  return jax.jit(hrm_jax.make_train_step(cfg, oc), donate_argnums=(0, 1)), state, carry, data


def bench(name: str, cfg: hrm_jax.HRMConfig, batch: int, steps: int, peaks: dict) -> dict:
  step, state, carry, data = setup(cfg, batch)
  n_params = hrm_jax.count_params(state.params)
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
  flops = hrm_jax_flops.train_step_flops(cfg, batch)
  peak, nominal = peaks[cfg.compute_dtype], nominal_bf16_peak(jax.devices()[0])
  return {
    "config": name,
    "dtype": cfg.compute_dtype,
    "params": n_params,
    "batch": batch,
    "compile_s": compile_s,
    "step_s": step_s,
    "puzzles_per_s": batch / step_s,
    "gflop_step": flops / 1e9,
    "xla_gflop_step": xla_flops / 1e9,
    "tflops_per_s": flops / step_s / 1e12,
    "mfu": flops / step_s / peak,
    "mfu_nominal": flops / step_s / nominal if nominal else None,
  }


def compile_step(cfg: hrm_jax.HRMConfig, batch: int):
  """(compile seconds, the compiled train step) from abstract inputs; nothing runs."""
  oc = hrm_jax.OptimConfig()
  data = {
    "inputs": jax.ShapeDtypeStruct((batch, cfg.seq_len), jnp.int32),
    "labels": jax.ShapeDtypeStruct((batch, cfg.seq_len), jnp.int32),
    "puzzle_identifiers": jax.ShapeDtypeStruct((batch,), jnp.int32),
  }
  state = jax.eval_shape(
    lambda k: hrm_jax.init_train_state(hrm_jax.init(k, cfg), oc), jax.random.key(0)
  )
  carry = jax.eval_shape(lambda: hrm_jax.initial_carry(data, cfg))
  start = time.perf_counter()
  step = jax.jit(hrm_jax.make_train_step(cfg, oc))
  compiled = step.lower(state, carry, data, jax.random.key(0)).compile()
  return time.perf_counter() - start, compiled


def temp_memory(cfg: hrm_jax.HRMConfig, batch: int) -> tuple[float, int]:
  """(compile seconds, compiled temp bytes) of the train step; nothing runs."""
  secs, compiled = compile_step(cfg, batch)
  return secs, compiled.memory_analysis().temp_size_in_bytes


def step_bytes(cfg: hrm_jax.HRMConfig, batch: int) -> int:
  """Device bytes the train step holds at `batch`: its inputs plus what it allocates beyond
  them (`parallel.allocated_bytes`, the rule the training loop checks memory by)."""
  compiled = compile_step(cfg, batch)[1]
  return compiled.memory_analysis().argument_size_in_bytes + parallel.allocated_bytes(compiled)


def largest_batch(cfg: hrm_jax.HRMConfig, limit: int, unit: int = 32) -> tuple[int, int]:
  """(about the largest multiple of `unit` whose step fits in `limit` bytes, its bytes): the
  prediction of a line through the bytes at 2 and 4 units, lowered until a compile fits."""
  b0, b1 = 2 * unit, 4 * unit
  m0, m1 = step_bytes(cfg, b0), step_bytes(cfg, b1)
  per_example = max((m1 - m0) / (b1 - b0), 1.0)
  batch = max(unit, int((limit - m0) / per_example + b0) // unit * unit)
  need = step_bytes(cfg, batch)
  while batch > unit and need > limit:
    batch = max(unit, int(batch * limit / need) // unit * unit)
    need = step_bytes(cfg, batch)
  return batch, need


def cycles_sweep(arch: str, batch: int) -> None:
  """Compile time and compiled temp memory of the small train step as the cycles grow:
  HRM N = T (1-step gradient and BPTT); TRM N at the paper's T, then T at its N."""
  cfg = config(arch, "small").replace(compute_dtype="float32")
  if arch == "hrm":
    grid = [(m, n, n) for m in ("one_step", "bptt") for n in (1, 2, 4, 8)]
  else:
    N, T = cfg.h_cycles, cfg.l_cycles
    grid = [("one_step", n, T) for n in (1, 2, 4)] + [("one_step", N, t) for t in (1, 2, 4, 6)]
  print(f"{'arch':7} {'grad_mode':9} {'N':>2} {'T':>2} {'compile s':>9} {'temp bytes':>12}")
  for mode, n, t in grid:
    secs, temp = temp_memory(cfg.replace(h_cycles=n, l_cycles=t, grad_mode=mode), batch)
    print(f"{arch:7} {mode:9} {n:>2} {t:>2} {secs:>9.1f} {temp:>12,}", flush=True)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--configs", default="paper,small", help="comma list of sizes: paper, small")
  ap.add_argument("--archs", default=",".join(ARCHS), help=f"comma list of: {', '.join(ARCHS)}")
  ap.add_argument("--dtypes", default="float32,bfloat16", help="compute dtypes to run")
  ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
  ap.add_argument("--batch", type=int, help="batch of every config (default: BATCH by size)")
  ap.add_argument("--fit", action="store_true", help="print the largest batch that fits instead")
  ap.add_argument(
    "--sweep",
    action="store_true",
    help="also print compile time / temp memory vs the cycles (HRM and TRM, small size)",
  )
  args = ap.parse_args()

  device = jax.devices()[0]
  print(machine.describe())
  print(f"devices: {jax.devices()} ({device.device_kind})")
  if args.fit:
    limit = int((device.memory_stats() or {}).get("bytes_limit", 0))
    if not limit:
      sys.exit(f"error: {device.platform} reports no memory limit: --fit needs a GPU or TPU")
    print(f"device memory limit {limit / 2**30:.1f} GiB")
    for size in args.configs.split(","):
      for arch in args.archs.split(","):
        for dtype in args.dtypes.split(","):
          cfg = config(arch, size).replace(compute_dtype=dtype)
          batch, need = largest_batch(cfg, limit)
          gib = need / 2**30
          print(f"{arch}-{size} {dtype}: largest batch {batch} ({gib:.1f} GiB)", flush=True)
    return
  peaks = {"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}
  print(
    f"matmul peak: f32 {peaks['float32'] / 1e12:.3f} TFLOP/s, "
    f"bf16 inputs + f32 accumulation {peaks['bfloat16'] / 1e12:.3f} TFLOP/s "
    f"(ratio {peaks['bfloat16'] / peaks['float32']:.2f})"
  )
  header = (
    f"{'config':17} {'dtype':9} {'params':>11} {'batch':>5} {'compile s':>9} "
    f"{'step s':>8} {'puzzles/s':>9} {'GFLOP/step':>10} {'XLA GFLOP':>9} "
    f"{'TFLOP/s':>8} {'MFU':>6}" + (" MFU nominal" if nominal_bf16_peak(device) else "")
  )
  print(header)
  for size in args.configs.split(","):
    for arch in args.archs.split(","):
      name, cfg = f"{arch}-{size}", config(arch, size)
      mfu, batch = {}, args.batch or BATCH[size]
      for dtype in args.dtypes.split(","):
        r = bench(name, cfg.replace(compute_dtype=dtype), batch, args.steps, peaks)
        mfu[dtype] = r["mfu"]
        print(
          f"{r['config']:17} {r['dtype']:9} {r['params']:>11,} {r['batch']:>5} "
          f"{r['compile_s']:>9.1f} {r['step_s']:>8.3f} {r['puzzles_per_s']:>9.1f} "
          f"{r['gflop_step']:>10.1f} {r['xla_gflop_step']:>9.1f} {r['tflops_per_s']:>8.3f} "
          f"{r['mfu']:>6.1%}" + (f" {r['mfu_nominal']:>11.1%}" if r["mfu_nominal"] else ""),
          flush=True,
        )
      if {"float32", "bfloat16"} <= mfu.keys():  # issue 13's CPU target: >= 0.90
        print(f"{name:17} bf16 MFU / f32 MFU {mfu['bfloat16'] / mfu['float32']:.2f}")
  if args.sweep:
    for arch in ("hrm", "trm"):
      cycles_sweep(arch, BATCH["small"])


if __name__ == "__main__":
  main()
