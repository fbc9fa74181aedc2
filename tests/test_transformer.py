"""The transformer baseline (arch="transformer"): config rules, params, gradient, memory."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import act, losses
from tests import tiny

# Two post-norm blocks, one pass per ACT step, on the tiny task.
CFG = tiny.TINY.replace(arch="transformer", h_layers=2, l_layers=0, h_cycles=1, l_cycles=1)
OC = hrm_jax.OptimConfig(lr=3e-3, lr_warmup_steps=0, weight_decay=0.0)


@pytest.mark.parametrize(
  "field, value", [("h_layers", 0), ("l_layers", 1), ("h_cycles", 2), ("l_cycles", 3)]
)
def test_config_rejects_what_the_baseline_would_ignore(field, value):
  with pytest.raises(hrm_jax.ConfigError, match=f"HRMConfig.{field} must be"):
    CFG.replace(**{field: value})


def test_params_are_one_module_and_one_initial_state():
  params = jax.eval_shape(lambda k: hrm_jax.init(k, CFG), jax.random.key(0))
  assert set(params["net"]) == {"embed_tokens", "H", "lm_head", "q_head"}
  assert set(params["z0"]) == {"H"}
  per_block = sum(x.size for x in jax.tree.leaves(params["net"]["H"])) // CFG.h_layers
  D, V, W = CFG.hidden_size, CFG.vocab_size, CFG.mlp_width
  assert per_block == 4 * D * D + 3 * D * W  # qkv + o, gate_up + down
  assert hrm_jax.count_params(params) == 2 * per_block + 2 * V * D + 2 * D + 2


def _loss(net, params, carry, batch, rng):
  carry = act.reset_carry(params, carry, batch, CFG)
  rows = act.puzzle_rows(params, carry.puzzle_identifiers)
  new, out = act.segment({**params, "net": net}, carry, rows, config=CFG, train=True, rng=rng)
  return losses.act_loss(out, new.labels, new)[0], (new, out)


def test_gradient_reaches_every_parameter_and_z_L_is_never_read():
  params = hrm_jax.init(jax.random.key(0), CFG)
  batch = tiny.batch(cfg=CFG)
  carry = hrm_jax.initial_carry(batch, CFG)
  grad_fn = jax.jit(jax.grad(_loss, has_aux=True))
  grads, (new, out) = grad_fn(params["net"], params, carry, batch, jax.random.key(1))
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert float(jnp.abs(g).max()) > 0, jax.tree_util.keystr(path)
  assert "target_q_continue" in out  # Q-learned halting with Q-continue, as in the release
  # z_L is carried through untouched: a different z_L changes nothing.
  other = new.replace(z_L=jnp.ones_like(new.z_L), halted=jnp.zeros_like(new.halted))
  step = jax.jit(hrm_jax.apply, static_argnames=("config",))
  (c1, o1), (c2, o2) = (step(params, c, batch, config=CFG) for c in (new, other))
  chex.assert_trees_all_equal(o1, o2)
  np.testing.assert_array_equal(c1.z_L, new.z_L)


def test_trains_a_few_steps():
  params = hrm_jax.init(jax.random.key(0), CFG)
  batch = tiny.batch(B=8, cfg=CFG)
  state = hrm_jax.init_train_state(params, OC)
  carry = hrm_jax.initial_carry(batch, CFG)
  step = jax.jit(hrm_jax.make_train_step(CFG, OC))
  lm = []
  for i in range(12):
    state, carry, metrics = step(state, carry, batch, jax.random.key(i))
    lm.append(float(metrics["lm_loss"]))
  assert np.isfinite(lm).all() and int(state.step) == 12
  assert np.mean(lm[-3:]) < np.mean(lm[:3]), lm


def _temp_bytes(cfg, B=64):
  """Compiled temp memory of the gradient of one train-mode ACT step (activations dominate)."""
  batch = tiny.batch(B=B, cfg=cfg)
  params = hrm_jax.init(jax.random.key(0), cfg)
  carry = hrm_jax.initial_carry(batch, cfg)

  def loss(net, carry, batch, rng):
    new, out = act.apply({**params, "net": net}, carry, batch, config=cfg, train=True, rng=rng)
    return losses.act_loss(out, new.labels, new)[0]

  lowered = jax.jit(jax.grad(loss)).lower(params["net"], carry, batch, jax.random.key(0))
  return lowered.compile().memory_analysis().temp_size_in_bytes


def test_gradient_memory_grows_with_layers_only():
  """One pass of h_layers blocks: more blocks keep more activations; nothing is unrolled."""
  base = _temp_bytes(CFG.replace(h_layers=1))
  deeper = _temp_bytes(CFG.replace(h_layers=4))
  other = _temp_bytes(CFG.replace(h_layers=1, grad_mode="bptt", halt_max_steps=8))
  assert deeper > 2 * base, (base, deeper)
  assert other == base, (base, other)
