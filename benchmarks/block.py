"""One post-norm block (and its attention and SwiGLU alone): forward and forward+backward
milliseconds in float32 and bfloat16, to see where a dtype gains or loses.

  python benchmarks/block.py                 # the HRM paper block (D 512, 8 heads), batch 8
  python benchmarks/block.py --size small    # D 128, 2 heads, batch 32

The train step is mostly these calls (forward in the no-grad cycles, forward+backward in the
1-step gradient), so a bf16 row no faster than its f32 row points at the part to look into
(docs/performance.md). Medians of 10 calls after a warm-up; the inputs are random.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import machine  # noqa: E402  (benchmarks/machine.py: what ran, on what)
import step  # noqa: E402  (benchmarks/step.py: the configs)

from hrm_jax import layers  # noqa: E402


def _ms(f, *args, reps: int = 10) -> float:
  jax.block_until_ready(f(*args))
  times = []
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    times.append(time.perf_counter() - t)
  return 1e3 * statistics.median(times)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--size", default="paper", choices=step.SIZES)
  args = ap.parse_args()
  batch = step.BATCH[args.size]
  print(machine.describe())
  print(f"{'dtype':9} {'part':6} {'fwd ms':>8} {'fwd+bwd ms':>10}")
  for dtype in ("float32", "bfloat16"):
    cfg = step.config("hrm", args.size).replace(compute_dtype=dtype)
    x = jax.random.normal(jax.random.key(0), (batch, cfg.total_len, cfg.hidden_size))
    x, rope = x.astype(dtype), layers.rope_tables(cfg)
    parts = {
      "block": (layers.Block(cfg), (rope,)),
      "attn": (layers.Attention(cfg), (rope,)),
      "mlp": (layers.SwiGLU(cfg), ()),
    }
    for name, (module, extra) in parts.items():
      params = jax.jit(module.init)(jax.random.key(1), x, *extra)
      f = lambda p, x, m=module, e=extra: m.apply(p, x, *e)
      grad = jax.grad(lambda p, x, f=f: jnp.sum(f(p, x).astype(jnp.float32)), argnums=(0, 1))
      fwd, both = _ms(jax.jit(f), params, x), _ms(jax.jit(grad), params, x)
      print(f"{dtype:9} {name:6} {fwd:>8.2f} {both:>10.2f}", flush=True)


if __name__ == "__main__":
  main()
