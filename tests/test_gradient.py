"""The 1-step gradient: what it differentiates, and that its memory is flat in N*T."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import layers, model

CFG = hrm_jax.HRMConfig(
  vocab_size=6,
  seq_len=8,
  num_puzzle_identifiers=1,
  puzzle_emb_ndim=0,
  hidden_size=32,
  num_heads=2,
  h_layers=1,
  l_layers=1,
  h_cycles=2,
  l_cycles=2,
)


def _inputs(cfg, B=2):
  k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
  inputs = jax.random.randint(k1, (B, cfg.seq_len), 0, cfg.vocab_size)
  z_H = jax.random.normal(k2, (B, cfg.total_len, cfg.hidden_size))
  z_L = jax.random.normal(k3, (B, cfg.total_len, cfg.hidden_size))
  w = jax.random.normal(jax.random.key(2), (B, cfg.seq_len, cfg.vocab_size))
  return z_H, z_L, inputs, w


def _objective(hierarchy_fn, cfg):
  def f(net, z_H, z_L, inputs, w):
    x = model.input_embedding(net, inputs, None, cfg)
    z_H, _ = hierarchy_fn(net, z_H, z_L, x)
    logits, q_halt, _ = model.output_heads(net, z_H, cfg)
    return jnp.sum(logits * w) + jnp.sum(q_halt)

  return f


def _hand_unrolled(cfg):
  """Python loops; every step but the last L and last H sees stop_gradient'ed inputs."""
  sg = jax.lax.stop_gradient
  rope = layers.rope_tables(cfg)
  L = lambda p, zl, inj: layers.ReasoningModule(cfg, cfg.l_layers).apply(
    {"params": p["L"]}, zl, inj, rope
  )
  H = lambda p, zh, zl: layers.ReasoningModule(cfg, cfg.h_layers).apply(
    {"params": p["H"]}, zh, zl, rope
  )

  def hierarchy(net, z_H, z_L, x):
    for h in range(cfg.h_cycles):
      for l in range(cfg.l_cycles):
        last_l = h == cfg.h_cycles - 1 and l == cfg.l_cycles - 1
        if last_l:
          z_L = L(net, sg(z_L), sg(z_H) + x)
        else:
          z_L = L(sg(net), sg(z_L), sg(z_H) + sg(x))
      if h == cfg.h_cycles - 1:
        z_H = H(net, sg(z_H), z_L)
      else:
        z_H = H(sg(net), sg(z_H), sg(z_L))
    return z_H, z_L

  return hierarchy


@pytest.fixture(scope="module")
def grads():
  params = hrm_jax.init(jax.random.key(0), CFG)
  args = (params["net"],) + _inputs(CFG)
  out = {}
  for name, cfg, fn in [
    ("one_step", CFG, None),
    ("hand", CFG, _hand_unrolled(CFG)),
    ("bptt", CFG.replace(grad_mode="bptt"), None),
  ]:
    fn = fn or (lambda net, zh, zl, x, c=cfg: model.recursion(net, zh, zl, x, c))
    out[name] = jax.jit(jax.value_and_grad(_objective(fn, cfg), argnums=(0, 1, 2)))(*args)
  return out


def test_one_step_equals_hand_unrolled(grads):
  (v1, g1), (v2, g2) = grads["one_step"], grads["hand"]
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  # Two float32 compilations of the same sums (scans against Python loops) round apart by
  # up to ~2.4e-5 on gradient entries up to ~2.4 (1.5e-5 with RoPE tables built in-graph);
  # a gradient through the wrong steps differs by > 1e-2 (test_bptt_differs_from_one_step).
  chex.assert_trees_all_close(g1, g2, rtol=1e-4, atol=3e-5)


def test_one_step_stops_gradient_at_the_segment_start(grads):
  _, (g_net, g_zH, g_zL) = grads["one_step"]
  np.testing.assert_array_equal(g_zH, 0)
  np.testing.assert_array_equal(g_zL, 0)
  _, (_, b_zH, b_zL) = grads["bptt"]
  assert np.abs(b_zH).max() > 0 and np.abs(b_zL).max() > 0


def test_bptt_differs_from_one_step(grads):
  (v1, (g1, _, _)), (v2, (g2, _, _)) = grads["one_step"], grads["bptt"]
  np.testing.assert_allclose(v1, v2, rtol=1e-5)  # same forward
  diff = jax.tree.map(
    lambda a, b: float(jnp.abs(a - b).max() / (jnp.abs(b).max() + 1e-12)), g1["L"], g2["L"]
  )
  assert max(jax.tree.leaves(diff)) > 1e-2


def _temp_bytes(cfg):
  params = jax.eval_shape(lambda k: hrm_jax.init(k, cfg), jax.random.key(0))
  args = (params["net"],) + tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in _inputs(cfg))
  fn = _objective(lambda net, zh, zl, x: model.recursion(net, zh, zl, x, cfg), cfg)
  compiled = jax.jit(jax.grad(fn)).lower(*args).compile()
  return compiled.memory_analysis().temp_size_in_bytes


def test_compiled_memory_flat_for_one_step_growing_for_bptt():
  cycles = [(1, 2), (3, 4)]  # N*T = 2 and 12
  one = [_temp_bytes(CFG.replace(h_cycles=n, l_cycles=t)) for n, t in cycles]
  bptt = [_temp_bytes(CFG.replace(h_cycles=n, l_cycles=t, grad_mode="bptt")) for n, t in cycles]
  assert one[1] <= 1.05 * one[0], one
  assert bptt[1] > 3 * bptt[0], bptt
  assert bptt[1] > 3 * one[1], (bptt, one)


def test_trm_memory_flat_in_h_cycles():
  """TRM: the h_cycles-1 no-gradient cycles keep nothing for the backward pass."""
  trm = CFG.replace(arch="trm", h_layers=0, l_cycles=2)
  one, four = (_temp_bytes(trm.replace(h_cycles=n)) for n in (1, 4))
  assert four <= 1.05 * one, (one, four)
