"""Single operations behind docs/performance.md's CPU findings, timed alone (ms, the fastest
of 20 calls):

  python benchmarks/ops.py

- AdamATan2's angle on 27M elements (the paper model's parameters): jnp.arctan2 against
  optim.atan2_nonneg, with an add of the same arrays as the memory-bound floor.
- One SwiGLU gate/up projection of the small config ([2592, 128] x [128, 1024], bf16
  inputs): f32 accumulator out, that rounded to bf16, and a bf16-result dot.
- One attention gradient contraction of the small config (32 x 2 heads of 81 x 81 by
  81 x 64, bf16): A^T B over the token axis as the gradient has it, the same after an
  explicit transpose (XLA folds it back), that transpose behind lax.optimization_barrier,
  and A B of the same shapes.
- The attention logits q k^T of the small config from token-major [B, T, N, H] q and k
  (bf16): on swapaxes views (XLA's CPU backend runs the dot in float32 on upcast copies of
  operands that are only transposed views) and on copies reshaped to [B*N, T, H]
  (`layers.attend`'s layout).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import machine  # benchmarks/machine.py: what ran, on what

from hrm_jax import optim


def _ms(f, *args, reps: int = 20) -> float:
  f = jax.jit(f)
  jax.block_until_ready(f(*args))
  best = float("inf")
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    best = min(best, time.perf_counter() - t)
  return 1e3 * best


def _row(title: str, cases: dict, *args) -> None:
  print(title + ": " + ", ".join(f"{name} {_ms(f, *args):.3f}" for name, f in cases.items()))


def main():
  print(machine.describe())
  k = jax.random.split(jax.random.key(0), 4)
  m = jax.random.normal(k[0], (27_000_000,)) * 1e-3
  v = jnp.abs(jax.random.normal(k[1], (27_000_000,))) * 1e-3
  angle = {"jnp.arctan2": jnp.arctan2, "atan2_nonneg": optim.atan2_nonneg, "add": jnp.add}
  _row("atan2 on 27M elements, ms", angle, m, v)

  x = jax.random.normal(k[2], (2592, 128)).astype(jnp.bfloat16)
  w = jax.random.normal(k[3], (128, 1024)).astype(jnp.bfloat16)
  f32_out = lambda x, w: jnp.einsum("mk,kn->mn", x, w, preferred_element_type=jnp.float32)
  dot = {
    "f32 out": f32_out,
    "f32 out -> bf16": lambda x, w: f32_out(x, w).astype(jnp.bfloat16),
    "bf16 out": lambda x, w: jnp.einsum("mk,kn->mn", x, w),
  }
  _row("gate/up projection, bf16 inputs, ms", dot, x, w)

  g = jax.random.normal(k[0], (32, 2, 81, 81)).astype(jnp.bfloat16)
  q = jax.random.normal(k[1], (32, 2, 81, 64)).astype(jnp.bfloat16)
  f32 = jnp.float32
  swap = lambda g: jnp.swapaxes(g, 2, 3)
  barrier = jax.lax.optimization_barrier
  grad = {
    "A^T B": lambda g, q: jnp.einsum("bnts,bnth->bnsh", g, q, preferred_element_type=f32),
    "transposed": lambda g, q: jnp.einsum(
      "bnst,bnth->bnsh", swap(g), q, preferred_element_type=f32
    ),
    "barrier": lambda g, q: jnp.einsum(
      "bnst,bnth->bnsh", barrier(swap(g)), q, preferred_element_type=f32
    ),
    "A B": lambda g, q: jnp.einsum("bnts,bnsh->bnth", g, q, preferred_element_type=f32),
  }
  _row("attention gradient contraction, bf16, ms", grad, g, q)

  q = jax.random.normal(k[2], (32, 81, 2, 64)).astype(jnp.bfloat16)  # [B, T, N, H]
  heads = lambda x: jnp.swapaxes(x, 1, 2)
  merged = lambda x: heads(x).reshape(64, 81, 64)
  logits = {
    "swapaxes views": lambda q: jnp.einsum(
      "bnth,bnsh->bnts", heads(q), heads(q), preferred_element_type=f32
    ),
    "reshaped copies": lambda q: jnp.einsum(
      "xth,xsh->xts", merged(q), merged(q), preferred_element_type=f32
    ),
  }
  _row("attention logits from token-major q, k, bf16, ms", logits, q)


if __name__ == "__main__":
  main()
