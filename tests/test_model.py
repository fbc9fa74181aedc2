"""Shapes, parameter count, init, config and batch validation of the core model."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import model
from tests.tiny import TINY, TINY_TRM
from tests.tiny import batch as _batch


def test_paper_config_parameter_count():
  shapes = jax.eval_shape(lambda k: hrm_jax.init(k, hrm_jax.HRMConfig()), jax.random.key(0))
  assert hrm_jax.count_params(shapes) == 27_275_266
  assert shapes["puzzle_emb"].shape == (1, 512)  # counted separately


def test_init_follows_the_reference():
  p = hrm_jax.init(jax.random.key(0), TINY)
  np.testing.assert_array_equal(p["net"]["q_head"]["kernel"], 0)
  np.testing.assert_array_equal(p["net"]["q_head"]["bias"], -5)
  np.testing.assert_array_equal(p["puzzle_emb"], 0)
  k = np.asarray(p["net"]["L"]["layers_0"]["mlp"]["gate_up"]["kernel"])
  assert k.shape == (32, 2 * 256)  # round(4*32*2/3)=85 rounded up to 256
  std = 1 / np.sqrt(32)
  assert abs(k.std() / std - 1) < 0.05 and np.abs(k).max() <= 2 * std / 0.8796 + 1e-6
  assert TINY.prefix_len == 2  # ceil(40/32): the row is zero-padded to 2 prefix tokens


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_apply_shapes(pos):
  cfg = TINY.replace(pos_encodings=pos)
  params = hrm_jax.init(jax.random.key(0), cfg)
  batch = _batch()
  carry = hrm_jax.initial_carry(batch, cfg)
  carry, out = jax.jit(lambda p, c, b: hrm_jax.apply(p, c, b, config=cfg))(params, carry, batch)
  chex.assert_shape(out["logits"], (3, 8, 6))
  chex.assert_shape((out["q_halt_logits"], out["q_continue_logits"]), (3,))
  chex.assert_shape((carry.z_H, carry.z_L), (3, 10, 32))
  np.testing.assert_array_equal(carry.steps, 1)
  assert "target_q_continue" not in out


def test_bf16_compute_keeps_f32_params_and_q():
  cfg = TINY.replace(compute_dtype="bfloat16")
  params = hrm_jax.init(jax.random.key(0), cfg)
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(params))
  batch = _batch()
  fwd = jax.jit(
    lambda p, b, c: hrm_jax.apply(p, hrm_jax.initial_carry(b, c), b, config=c), static_argnums=2
  )
  carry, out = fwd(params, batch, cfg)
  assert out["logits"].dtype == jnp.bfloat16 and carry.z_H.dtype == jnp.bfloat16
  assert out["q_halt_logits"].dtype == jnp.float32
  f32 = fwd(params, batch, TINY)[1]
  np.testing.assert_allclose(out["logits"].astype(np.float32), f32["logits"], atol=0.1)


@pytest.mark.parametrize(
  "changes, match",
  [
    (dict(hidden_size=30, num_heads=4), "not divisible"),
    (dict(h_cycles=0), "h_cycles"),
    (dict(l_layers=0), "l_layers"),
    (dict(pos_encodings="alibi"), "pos_encodings"),
    (dict(halt_exploration_prob=1.5), "halt_exploration_prob"),
    (dict(arch="hrm2"), r"arch must be one of \('hrm', 'trm', 'transformer'\)"),
    (dict(arch="transformer"), "l_layers must be 0 for arch='transformer'"),
    (dict(h_layers=0), "h_layers must be a positive integer for arch='hrm'"),
    (dict(arch="trm"), "h_layers must be 0 for arch='trm'"),
    (dict(mlp_t=True), "mlp_t.*pos_encodings='none'"),
    (dict(puzzle_emb_len=1), r"puzzle_emb_len \(1\) cannot hold a 40-wide row.*>= 2"),
    (dict(puzzle_emb_len=-1), "puzzle_emb_len must be an integer >= 0"),
    (dict(puzzle_emb_ndim=0, puzzle_emb_len=4), "puzzle_emb_len needs a puzzle embedding"),
  ],
)
def test_bad_config(changes, match):
  with pytest.raises(hrm_jax.ConfigError, match=match):
    TINY.replace(**changes)


@pytest.mark.parametrize(
  "mutate, match",
  [
    (lambda b: b.update(inputs=b["inputs"] + 10), "inputs.*outside"),
    (lambda b: b.update(labels=b["labels"] - 50), "labels.*outside"),
    (lambda b: b.update(puzzle_identifiers=b["puzzle_identifiers"] + 9), "puzzle_identifiers"),
    (lambda b: b.update(inputs=b["inputs"][:, :5], labels=b["labels"][:, :5]), "sequence length 5"),
    (lambda b: b.update(labels=b["labels"][:2]), "labels.*shape"),
    (lambda b: b.pop("puzzle_identifiers"), "missing"),
    (lambda b: b.update(inputs=b["inputs"].astype(np.float32)), "integer"),
  ],
)
def test_bad_batch(mutate, match):
  params = jax.eval_shape(lambda k: hrm_jax.init(k, TINY), jax.random.key(0))
  batch = _batch()
  carry = hrm_jax.initial_carry(batch, TINY)
  mutate(batch)
  with pytest.raises(hrm_jax.BatchError, match=match):
    hrm_jax.apply(params, carry, batch, config=TINY)


def test_trm_params_prefix_and_token_mixer():
  p = jax.eval_shape(lambda k: hrm_jax.init(k, TINY_TRM), jax.random.key(0))
  assert set(p["net"]) == {"embed_tokens", "L", "lm_head", "q_head"}  # one module, no H
  assert set(p["net"]["L"]) == {"layers_0", "layers_1"}
  assert TINY_TRM.prefix_len == 3 and TINY_TRM.total_len == 11
  mixer = jax.eval_shape(
    lambda k: hrm_jax.init(k, TINY_TRM.replace(mlp_t=True, pos_encodings="none")), jax.random.key(0)
  )["net"]["L"]["layers_0"]
  assert set(mixer) == {"mlp_t", "mlp"}
  # The token SwiGLU works over P+S = 11 tokens: hidden round(4*11*2/3)=29 rounded up to 256.
  chex.assert_shape(mixer["mlp_t"]["gate_up"]["kernel"], (11, 512))
  chex.assert_shape(mixer["mlp_t"]["down"]["kernel"], (256, 11))


def test_ignored_labels_are_valid():
  batch = _batch()
  batch["labels"][0, :4] = -100
  hrm_jax.validate_batch(batch, TINY)


def test_params_are_a_plain_pytree():
  params = hrm_jax.init(jax.random.key(0), TINY)
  leaves, treedef = jax.tree.flatten(params)
  assert all(isinstance(x, jax.Array) for x in leaves)
  assert set(params) == {"net", "puzzle_emb", "z0"}
  assert model.count_params(params) == sum(x.size for x in jax.tree.leaves(params["net"]))
