"""ACT carry semantics: reset of halted slots, exploration, halting at evaluation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import act
from tests.tiny import TINY, TINY_TRM
from tests.tiny import batch as _batch

# The library does not jit itself: the tests that step repeatedly jit once here.
apply = functools.partial(
  jax.jit, static_argnames=("config", "train", "halt_max_steps", "eval_halt")
)(hrm_jax.apply)


def _params(q_bias=(-5.0, 0.0), cfg=TINY):
  params = jax.jit(hrm_jax.init, static_argnums=1)(jax.random.key(0), cfg)
  params["net"]["q_head"]["bias"] = jnp.array(q_bias, jnp.float32)
  return params


def test_reset_takes_new_row_only_in_halted_slots():
  params = _params()
  old, new = _batch(seed=1), _batch(seed=2)
  carry = hrm_jax.initial_carry(old, TINY)
  carry, _ = apply(params, carry, old, config=TINY)  # all slots load `old`
  carry = carry.replace(halted=jnp.array([True, False, False]))
  reset = hrm_jax.reset_carry(params, carry, new, TINY)
  np.testing.assert_array_equal(reset.inputs[0], new["inputs"][0])
  np.testing.assert_array_equal(reset.inputs[1:], old["inputs"][1:])
  np.testing.assert_array_equal(reset.labels[1:], old["labels"][1:])
  np.testing.assert_array_equal(reset.steps, [0, 1, 1])
  np.testing.assert_array_equal(reset.z_H[0], np.broadcast_to(params["z0"]["H"], (10, 32)))
  np.testing.assert_array_equal(reset.z_L[1:], carry.z_L[1:])
  # The running slots' outputs do not depend on the new rows at all.
  _, out_a = apply(params, carry, new, config=TINY)
  _, out_b = apply(params, carry, old, config=TINY)
  np.testing.assert_array_equal(out_a["logits"][1:], out_b["logits"][1:])


def _halting_steps(params, prob, n_calls=6, B=64, cfg=TINY):
  cfg = cfg.replace(halt_max_steps=5, halt_exploration_prob=prob)
  batch = _batch(B=B, cfg=cfg)
  carry = hrm_jax.initial_carry(batch, cfg)
  step = jax.jit(lambda c, k: hrm_jax.apply(params, c, batch, config=cfg, train=True, rng=k))
  halts = []
  for i in range(n_calls):
    carry, out = step(carry, jax.random.key(i))
    halts.append(np.asarray(carry.steps)[np.asarray(carry.halted)])
    if cfg.no_act_continue:
      assert "target_q_continue" not in out
    else:
      assert out["target_q_continue"].shape == (B,)
  return np.concatenate(halts)


def test_exploration_never_halts_before_min_halt_steps():
  eager = _params(q_bias=(10.0, -10.0))  # Q always votes to halt
  assert set(_halting_steps(eager, prob=0.0)) == {1}
  steps = _halting_steps(eager, prob=1.0)
  assert steps.min() >= 2 and steps.max() <= 5
  assert len(set(steps)) >= 3  # min_halt_steps ~ U{2..5}


def test_forced_halt_at_max_steps_when_q_says_continue():
  steps = _halting_steps(_params(q_bias=(-10.0, 10.0)), prob=0.0)
  assert set(steps) == {5}


def test_eval_runs_max_steps_unless_halting_at_evaluation_is_asked():
  params = _params(q_bias=(10.0, -10.0))
  batch = _batch()
  carry = hrm_jax.initial_carry(batch, TINY)
  c1, _ = hrm_jax.apply(params, carry, batch, config=TINY)
  assert not np.asarray(c1.halted).any()
  c2, _ = hrm_jax.apply(params, carry, batch, config=TINY, eval_halt="q_halt")
  assert np.asarray(c2.halted).all()
  c3, _ = hrm_jax.apply(params, carry, batch, config=TINY, halt_max_steps=1)
  assert np.asarray(c3.halted).all()


def test_no_act_continue_halts_on_q_halt_alone():
  """TRM's rule: q_halt > 0 halts even when q_continue is larger; no Q target is computed."""
  params = _params(q_bias=(1.0, 10.0), cfg=TINY_TRM)
  assert set(_halting_steps(params, prob=0.0, cfg=TINY_TRM)) == {1}
  with_q_continue = TINY_TRM.replace(no_act_continue=False)
  assert set(_halting_steps(params, prob=0.0, cfg=with_q_continue)) == {5}


def test_the_model_halting_rule_is_the_one_it_trains_with():
  """ "model" resolves to q_halt > q_continue for HRM and to q_halt > 0 without Q-continue."""
  assert act.resolve_halt_rule("model", TINY) == "q_halt_gt_continue"
  assert act.resolve_halt_rule("model", TINY_TRM) == "q_halt"
  assert act.resolve_halt_rule("none", TINY_TRM) == "none"
  with pytest.raises(ValueError, match="one of"):
    act.resolve_halt_rule("q_cont", TINY)
