"""AdamATan2, sparse sign-SGD and the LR schedule against hand computations."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import hrm_jax
from hrm_jax.config import ConfigError


def test_adam_atan2_matches_hand_computation():
  rng = np.random.default_rng(0)
  p = rng.normal(size=(5, 3)).astype(np.float32)
  grads = [rng.normal(size=(5, 3)).astype(np.float32) * s for s in (1.0, 1e-3, 10.0)]
  lr, wd, b1, b2 = 1e-2, 0.1, 0.9, 0.95
  tx = hrm_jax.adam_atan2(lr, b1=b1, b2=b2, weight_decay=wd)
  params, state = {"w": jnp.asarray(p)}, tx.init({"w": jnp.asarray(p)})
  m = np.zeros_like(p, np.float64)
  v = np.zeros_like(p, np.float64)
  ref = p.astype(np.float64)
  for t, g in enumerate(grads, start=1):
    updates, state = tx.update({"w": jnp.asarray(g)}, state, params)
    params = optax.apply_updates(params, updates)
    ref = ref * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
    ref = ref - lr / (1 - b1**t) * np.arctan2(m, np.sqrt(v) / np.sqrt(1 - b2**t))
    np.testing.assert_allclose(params["w"], ref, rtol=1e-6, atol=1e-7)
  assert int(state.count) == 3


def test_atan2_nonneg_within_2_5_ulp_of_float64_atan2():
  rng = np.random.default_rng(0)
  z = np.linspace(0, 1, 200_001)  # |y| / x over [0, 1], then its reciprocals, at all scales
  y = np.concatenate([z, 1 / z[1:], rng.normal(size=10_000) * 1e-3]) * rng.choice([-1, 1], 410_001)
  x = np.concatenate([np.ones(400_001), np.abs(rng.normal(size=10_000)) * 1e-3])
  y, x = y.astype(np.float32), x.astype(np.float32)
  got = np.asarray(jax.jit(hrm_jax.optim.atan2_nonneg)(y, x), np.float64)
  want = np.arctan2(y.astype(np.float64), x.astype(np.float64))
  ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
  assert np.max(np.abs(got - want) / ulp) <= 2.5  # measured 2.06 (jnp.arctan2: 1.43)
  edges = hrm_jax.optim.atan2_nonneg(jnp.array([0.0, 3.0, -3.0, -0.0]), jnp.zeros(4))
  np.testing.assert_array_equal(edges, np.float32([0.0, math.pi / 2, -math.pi / 2, 0.0]))


def test_adam_atan2_first_step_is_sign_driven_and_zero_grad_only_decays():
  tx = hrm_jax.adam_atan2(1e-3, weight_decay=0.1)
  p = {"w": jnp.array([1.0, 1.0, 1.0])}
  updates, _ = tx.update({"w": jnp.array([1e-9, -5.0, 0.0])}, tx.init(p), p)
  new = optax.apply_updates(p, updates)["w"]
  step = 1e-3 * math.atan(0.1) / 0.1
  np.testing.assert_allclose(new, [1 - 1e-4 - step, 1 - 1e-4 + step, 1 - 1e-4], rtol=1e-6)


def test_sign_sgd_touches_only_used_rows_and_sums_duplicates():
  table = jnp.arange(24, dtype=jnp.float32).reshape(6, 4) / 10
  ids = jnp.array([1, 4, 1], jnp.int32)
  g = jnp.array([[1.0, -1.0, 2.0, 0.0], [0.5, 0.5, -0.5, 0.0], [-3.0, -1.0, -1.0, 0.0]])
  new = np.asarray(hrm_jax.sparse_sign_sgd(table, ids, g, lr=0.1, weight_decay=0.5))
  old = np.asarray(table)
  for r in (0, 2, 3, 5):
    np.testing.assert_array_equal(new[r], old[r])  # bit-identical: not even decayed
  summed = np.array([-2.0, -2.0, 1.0, 0.0])  # rows 0 and 2 of g share id 1
  np.testing.assert_allclose(new[1], old[1] * 0.95 - 0.1 * np.sign(summed), rtol=1e-6)
  np.testing.assert_allclose(new[4], old[4] * 0.95 - 0.1 * np.sign(g[1]), rtol=1e-6)


def test_schedule_warmup_then_cosine_to_floor():
  f = lambda s: float(hrm_jax.lr_factor(s, warmup_steps=10, total_steps=110, min_ratio=0.1))
  assert f(0) == 0.0 and abs(f(5) - 0.5) < 1e-7
  assert abs(f(10) - 1.0) < 1e-6
  assert abs(f(60) - (0.1 + 0.9 * 0.5)) < 1e-6
  assert abs(f(110) - 0.1) < 1e-6 and abs(f(500) - 0.1) < 1e-6
  assert float(hrm_jax.lr_factor(7, warmup_steps=0, total_steps=20, min_ratio=1.0)) == 1.0


def test_optimizer_schedule_uses_the_incremented_step():
  oc = hrm_jax.OptimConfig(lr=1.0, lr_warmup_steps=4, total_steps=100, weight_decay=0.0)
  tx = hrm_jax.make_optimizer(oc)
  p = {"w": jnp.zeros(())}
  state = tx.init(p)
  updates, state = tx.update({"w": jnp.ones(())}, state, p)
  # First update uses lr * 1/4 (step 1 of a 4-step warmup), as the reference.
  np.testing.assert_allclose(updates["w"], -0.25 * math.atan(0.1) / 0.1, rtol=1e-6)


@pytest.mark.parametrize(
  "field,value,message",
  [
    ("lr", -1e-4, "OptimConfig.lr must be >= 0, got -0.0001"),
    ("lr_warmup_steps", -1, "OptimConfig.lr_warmup_steps must be >= 0"),
    ("puzzle_emb_weight_decay", float("nan"), "OptimConfig.puzzle_emb_weight_decay must be >= 0"),
    ("beta1", 1.0, r"OptimConfig.beta1 must lie in \[0, 1\), got 1.0"),
    ("beta2", -0.5, r"OptimConfig.beta2 must lie in \[0, 1\)"),
  ],
)
def test_optim_config_refuses_out_of_range_values(field, value, message):
  with pytest.raises(ConfigError, match=message):
    hrm_jax.OptimConfig(**{field: value})


def test_train_step_keeps_the_parameter_ema():
  """With ema_rate the state carries ema <- rate * ema + (1 - rate) * params after each update."""
  from tests.tiny import TINY
  from tests.tiny import batch as _batch

  params, oc, rate = hrm_jax.init(jax.random.key(0), TINY), hrm_jax.OptimConfig(), 0.75
  assert hrm_jax.init_train_state(params, oc).ema is None
  state = hrm_jax.init_train_state(params, oc, ema_rate=rate)
  assert state.eval_params is state.ema
  step = jax.jit(hrm_jax.make_train_step(TINY, oc, ema_rate=rate))
  batch = _batch()
  new, _, _ = step(state, hrm_jax.initial_carry(batch, TINY), batch, jax.random.key(1))
  want = jax.tree.map(lambda e, p: rate * e + (1 - rate) * p, params, new.params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), new.ema, want)
  with pytest.raises(ConfigError, match=r"ema_rate must lie in \[0, 1\)"):
    hrm_jax.make_train_step(TINY, oc, ema_rate=1.0)
  with pytest.raises(ConfigError, match="the state lacks an EMA and the step's ema_rate is 0.75"):
    step(
      hrm_jax.init_train_state(params, oc),
      hrm_jax.initial_carry(batch, TINY),
      batch,
      jax.random.key(1),
    )
