"""Stablemax cross entropy against float64 numpy, and the ACT loss head."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax


def _stablemax_ce_f64(logits, labels):
  x = logits.astype(np.float64)
  s = np.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
  logp = np.log(s / s.sum(-1, keepdims=True))
  safe = np.where(labels == -100, 0, labels)
  ce = -np.take_along_axis(logp, safe[..., None], -1)[..., 0]
  return np.where(labels == -100, 0, ce)


@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0, 1e4])
def test_stablemax_float32_within_1e5_of_float64(scale):
  rng = np.random.default_rng(int(scale * 10))
  logits = (rng.normal(size=(64, 11)) * scale).astype(np.float32)
  labels = rng.integers(0, 11, 64).astype(np.int32)
  # Near-zero losses: the label logit dominates (the cancellation-prone case).
  logits[:16, :] = -5.0 * scale
  logits[np.arange(16), labels[:16]] = 50.0 * scale
  labels[-3:] = -100
  got = np.asarray(hrm_jax.stablemax_cross_entropy(jnp.asarray(logits), jnp.asarray(labels)))
  want = _stablemax_ce_f64(logits, labels)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)
  assert (got[-3:] == 0).all()


def test_stablemax_gradient_is_finite_for_extreme_logits():
  logits = jnp.array([[1e6, -1e6, 0.0, 3.0]], jnp.float32)
  g = jax.grad(lambda x: hrm_jax.stablemax_cross_entropy(x, jnp.array([1])).sum())(logits)
  assert np.isfinite(np.asarray(g)).all()


def test_softmax_cross_entropy():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  got = hrm_jax.softmax_cross_entropy(logits, jnp.array([0, -100]))
  want = -jax.nn.log_softmax(logits[0])[0]
  np.testing.assert_allclose(got, [want, 0.0], rtol=1e-6)


def test_act_loss_metrics_count_only_halted_supervised_rows():
  logits = jnp.zeros((3, 4, 5)).at[:, :, 2].set(5.0)
  labels = jnp.array([[2, 2, 2, 2], [2, 2, 3, -100], [-100] * 4], jnp.int32)
  carry = type("C", (), {})()
  carry.halted = jnp.array([True, True, True])
  carry.steps = jnp.array([2, 3, 4], jnp.int32)
  out = {
    "logits": logits,
    "q_halt_logits": jnp.array([1.0, -1.0, 1.0]),
    "q_continue_logits": jnp.zeros(3),
    "target_q_continue": jnp.full(3, 0.5),
  }
  loss, m = hrm_jax.act_loss(out, labels, carry)
  assert int(m["count"]) == 2  # the all-ignored row is not counted
  assert int(m["exact_accuracy"]) == 1 and int(m["q_halt_accuracy"]) == 2
  np.testing.assert_allclose(m["accuracy"], 1 + 2 / 3, rtol=1e-6)
  assert int(m["steps"]) == 5
  np.testing.assert_allclose(
    loss, m["lm_loss"] + 0.5 * (m["q_halt_loss"] + m["q_continue_loss"]), rtol=1e-6
  )
  loss_w, _ = hrm_jax.act_loss(out, labels, carry, q_loss_weight=0.05)
  np.testing.assert_allclose(
    loss_w, m["lm_loss"] + 0.05 * (m["q_halt_loss"] + m["q_continue_loss"]), rtol=1e-6
  )
  # Without a Q-continue target (evaluation, or no_act_continue) there is no such loss.
  no_target = {k: v for k, v in out.items() if k != "target_q_continue"}
  loss_h, m_h = hrm_jax.act_loss(no_target, labels, carry)
  assert "q_continue_loss" not in m_h
  np.testing.assert_allclose(loss_h, m["lm_loss"] + 0.5 * m["q_halt_loss"], rtol=1e-6)


def test_stablemax_in_float64_when_x64_is_on():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(8, 11)) * 5
  labels = rng.integers(0, 11, 8)
  with jax.enable_x64(True):
    got = hrm_jax.stablemax_cross_entropy(jnp.asarray(logits), jnp.asarray(labels))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), _stablemax_ce_f64(logits, labels), rtol=1e-12)


def test_stablemax_precision_rule_by_backend():
  from hrm_jax.losses import stablemax_in_float64

  assert not stablemax_in_float64("cpu") and not stablemax_in_float64("tpu")
  with jax.enable_x64(True):
    assert stablemax_in_float64("cpu") and stablemax_in_float64("gpu")
    assert not stablemax_in_float64("tpu")


def test_stablemax_float32_form_on_tpu_even_with_x64(monkeypatch):
  rng = np.random.default_rng(4)
  logits = rng.normal(size=(8, 11)) * 5
  labels = rng.integers(0, 11, 8)
  monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
  with jax.enable_x64(True):
    got = hrm_jax.stablemax_cross_entropy(jnp.asarray(logits), jnp.asarray(labels))
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(got), _stablemax_ce_f64(logits, labels), rtol=1e-5)


def test_reduce_metrics_over_a_window_of_steps():
  sums = {
    "count": 6,
    "exact_accuracy": 3,
    "steps": 12,
    "lm_loss": 40.0,
    "q_halt_loss": 8.0,
    "loss": 5.0,
    "lr": 2e-3,
  }
  got = hrm_jax.reduce_metrics(sums, global_batch=4, n_steps=2)
  assert got == {
    "halted": 3.0,
    "exact_accuracy": 0.5,
    "steps": 2.0,
    "lm_loss": 5.0,
    "q_halt_loss": 1.0,
    "loss": 2.5,
    "lr": 1e-3,
  }
