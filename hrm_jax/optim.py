"""The reference's optimizers (SPEC section 4): settings, AdamATan2, sign-SGD, LR schedule."""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from hrm_jax.config import ConfigError


def lr_factor(step, *, warmup_steps: int, total_steps: int, min_ratio: float = 1.0):
  """Schedule multiplier at `step` (1-based, as the reference calls it after incrementing).

  Linear warmup from 0 over `warmup_steps`, then cosine from 1 down to `min_ratio`
  at `total_steps` and held there (min_ratio 1.0 = constant, the reference default).
  """
  step = jnp.asarray(step, jnp.float32)
  warm = step / max(1, warmup_steps)
  progress = jnp.minimum((step - warmup_steps) / max(1, total_steps - warmup_steps), 1.0)
  cosine = min_ratio + jnp.maximum(0.0, (1 - min_ratio) * 0.5 * (1 + jnp.cos(math.pi * progress)))
  return jnp.where(step < warmup_steps, warm, cosine)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Optimizer settings; defaults are the reference's Sudoku/Maze settings (SPEC section 4).

  Out-of-range values raise ConfigError naming the field when the config is built.
  """

  lr: float = 1e-4  # AdamATan2 base learning rate
  lr_min_ratio: float = 1.0  # cosine floor as a fraction of lr (1.0 = constant)
  lr_warmup_steps: int = 2000  # linear warmup updates
  total_steps: int = 100_000  # updates in the run (end of the cosine)
  beta1: float = 0.9  # AdamATan2 beta1
  beta2: float = 0.95  # AdamATan2 beta2
  weight_decay: float = 1.0  # AdamATan2 decoupled weight decay
  puzzle_emb_lr: float = 1e-4  # sign-SGD base learning rate of the puzzle table
  puzzle_emb_weight_decay: float = 1.0  # sign-SGD weight decay (touched rows only)

  NON_NEGATIVE = (
    "lr",
    "lr_min_ratio",
    "lr_warmup_steps",
    "weight_decay",
    "puzzle_emb_lr",
    "puzzle_emb_weight_decay",
  )
  UNIT_INTERVAL = ("beta1", "beta2")  # each in [0, 1)

  def __post_init__(self):
    for name in self.NON_NEGATIVE:
      value = getattr(self, name)
      if not value >= 0:
        raise ConfigError(f"OptimConfig.{name} must be >= 0, got {value!r}")
    for name in self.UNIT_INTERVAL:
      value = getattr(self, name)
      if not 0 <= value < 1:
        raise ConfigError(f"OptimConfig.{name} must lie in [0, 1), got {value!r}")

  def factor(self, step):
    """Schedule multiplier at 1-based update `step`."""
    return lr_factor(
      step,
      warmup_steps=self.lr_warmup_steps,
      total_steps=self.total_steps,
      min_ratio=self.lr_min_ratio,
    )


# atan(z) / z as a polynomial in z^2 on z in [0, 1] (degree 9: a least-squares fit, weighted
# towards minimax, of the float64 function).
_ATAN_COEFFS = (
  1.0,
  -0.33333179354667664,
  0.19996435940265656,
  -0.14247220754623413,
  0.10878002643585205,
  -0.08213742822408676,
  0.055027805268764496,
  -0.028490502387285233,
  0.009567203000187874,
  -0.0015092740068212152,
)


def atan2_nonneg(y: jax.Array, x: jax.Array) -> jax.Array:
  """atan2(y, x) for x >= 0 in float32 (atan2(0, 0) = 0), within 2.1 ulp of the exact value
  (jnp.arctan2: 1.4; tests/test_optim.py).

  One division and a polynomial: XLA's CPU atan2 costs 7x more, which at the paper size
  made it a sixth of a train step (docs/performance.md).
  """
  ay = jnp.abs(y)
  lo, hi = jnp.minimum(ay, x), jnp.maximum(ay, x)
  z = lo / jnp.where(hi > 0, hi, 1.0)  # in [0, 1]: atan(|y|/x), or its complement
  w, poly = z * z, jnp.float32(_ATAN_COEFFS[-1])
  for c in _ATAN_COEFFS[-2::-1]:
    poly = poly * w + jnp.float32(c)
  angle = z * poly
  angle = jnp.where(ay > x, jnp.float32(math.pi / 2) - angle, angle)
  return jnp.copysign(angle, y)


class AdamATan2State(NamedTuple):
  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def adam_atan2(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.95,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdamATan2 (no epsilon) with decoupled weight decay, as the reference's CUDA kernel:

    p <- p * (1 - lr * wd)
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))

  `learning_rate` is a float or a schedule of the 0-based update count.
  """

  def init_fn(params):
    zeros = lambda p: jnp.zeros_like(p, dtype=jnp.float32)
    return AdamATan2State(
      count=jnp.zeros([], jnp.int32), mu=jax.tree.map(zeros, params), nu=jax.tree.map(zeros, params)
    )

  def update_fn(grads, state, params):
    if params is None:
      raise ValueError("adam_atan2 needs params (for weight decay)")
    count = state.count + 1
    t = count.astype(jnp.float32)
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    mu = jax.tree.map(lambda m, g: m + (1 - b1) * (g - m), state.mu, grads)
    nu = jax.tree.map(lambda v, g: v + (1 - b2) * (g * g - v), state.nu, grads)
    step_size = lr / (1 - b1**t)
    v_scale = jnp.sqrt(1 - b2**t)

    def new_param(p, m, v):
      p32 = p.astype(jnp.float32) * (1 - lr * weight_decay)
      p32 = p32 - step_size * atan2_nonneg(m, jnp.sqrt(v) / v_scale)
      return p32.astype(p.dtype)

    updates = jax.tree.map(lambda p, m, v: new_param(p, m, v) - p, params, mu, nu)
    return updates, AdamATan2State(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def sparse_sign_sgd(
  table_NxE: jax.Array, ids_B: jax.Array, grads_BxE: jax.Array, lr, weight_decay: float
) -> jax.Array:
  """Sign-SGD on the puzzle-table rows a batch touched; other rows stay bit-identical.

  The per-row gradients of duplicate ids are summed first (as the reference's
  scatter_add), then w <- w * (1 - lr * wd) - lr * sign(g) on those rows only.
  No dense state or dense gradient of the table is ever formed.
  """
  same_BxB = (ids_B[:, None] == ids_B[None, :]).astype(grads_BxE.dtype)
  summed_BxE = jnp.matmul(same_BxB, grads_BxE, precision=jax.lax.Precision.HIGHEST)
  rows = jnp.take(table_NxE, ids_B, axis=0).astype(jnp.float32)
  new_rows = rows * (1 - lr * weight_decay) - lr * jnp.sign(summed_BxE)
  return table_NxE.at[ids_B].set(new_rows.astype(table_NxE.dtype))


def make_optimizer(oc: OptimConfig) -> optax.GradientTransformation:
  """AdamATan2 over params["net"], driven by the shared warmup + cosine schedule."""
  return adam_atan2(
    lambda count: oc.lr * oc.factor(count + 1),
    b1=oc.beta1,
    b2=oc.beta2,
    weight_decay=oc.weight_decay,
  )
