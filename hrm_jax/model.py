"""The HRM inner model: parameters, input embedding, one segment, output heads.

Parameters are a plain pytree (nested dicts of arrays):

  params = {
    "net": {                            # trained by AdamATan2
      "embed_tokens": [V, D],
      "embed_pos": [P+S, D],            # only with pos_encodings="learned"
      "H": {...}, "L": {...},           # Linen params of the two ReasoningModules
      "lm_head": {"kernel": [D, V]},
      "q_head": {"kernel": [D, 2], "bias": [2]},
    },
    "puzzle_emb": [num_puzzle_identifiers, puzzle_emb_ndim],  # sign-SGD; absent if ndim 0
    "z0": {"H": [D], "L": [D]},         # fixed initial states, never trained
  }
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

from hrm_jax.config import HRMConfig
from hrm_jax.layers import ReasoningModule, lecun_trunc_normal, rope_tables, trunc_normal


def _modules(cfg: HRMConfig) -> tuple[ReasoningModule, ReasoningModule]:
  return (ReasoningModule(cfg, cfg.h_layers, name="H"), ReasoningModule(cfg, cfg.l_layers, name="L"))


def init(rng: jax.Array, config: HRMConfig) -> dict:
  """Freshly initialised parameters for `config` (reference init, SPEC section 1)."""
  return _init(rng, config)


@functools.partial(jax.jit, static_argnums=1)
def _init(rng: jax.Array, config: HRMConfig) -> dict:
  cfg = config
  D, T, pdt = cfg.hidden_size, cfg.total_len, jnp.dtype(cfg.param_dtype)
  keys = jax.random.split(rng, 8)
  h_mod, l_mod = _modules(cfg)
  dummy_BxTxD = jnp.zeros((1, T, D), cfg.dtype)
  rope = rope_tables(cfg) if cfg.pos_encodings == "rope" else None
  net = {
      "embed_tokens": trunc_normal(D ** -0.5)(keys[0], (cfg.vocab_size, D), pdt),
      "H": h_mod.init(keys[1], dummy_BxTxD, dummy_BxTxD, rope)["params"],
      "L": l_mod.init(keys[2], dummy_BxTxD, dummy_BxTxD, rope)["params"],
      "lm_head": {"kernel": lecun_trunc_normal(keys[3], (D, cfg.vocab_size), pdt)},
      "q_head": {"kernel": jnp.zeros((D, 2), pdt), "bias": jnp.full((2,), -5.0, pdt)},
  }
  if cfg.pos_encodings == "learned":
    net["embed_pos"] = trunc_normal(D ** -0.5)(keys[4], (T, D), pdt)
  params = {"net": net,
            "z0": {"H": trunc_normal(1.0)(keys[5], (D,), pdt),
                   "L": trunc_normal(1.0)(keys[6], (D,), pdt)}}
  if cfg.puzzle_emb_ndim > 0:
    params["puzzle_emb"] = jnp.zeros((cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim), pdt)
  return params


def count_params(params: dict) -> int:
  """Trained transformer parameters (the puzzle table and z0 are not counted)."""
  return sum(x.size for x in jax.tree.leaves(params["net"]))


def input_embedding(net: dict, inputs_BxS: jax.Array, puzzle_rows_BxE: jax.Array | None,
                    cfg: HRMConfig) -> jax.Array:
  """Token embedding with the puzzle prefix and positions, scaled by sqrt(D): [B, P+S, D]."""
  dt, D = cfg.dtype, cfg.hidden_size
  x_BxSxD = jnp.take(net["embed_tokens"], inputs_BxS, axis=0).astype(dt)
  if cfg.puzzle_emb_len:
    B, E = puzzle_rows_BxE.shape
    pad = cfg.puzzle_emb_len * D - E
    prefix = jnp.pad(puzzle_rows_BxE, ((0, 0), (0, pad))).reshape(B, cfg.puzzle_emb_len, D)
    x_BxSxD = jnp.concatenate([prefix.astype(dt), x_BxSxD], axis=1)
  if cfg.pos_encodings == "learned":
    x_BxSxD = 0.707106781 * (x_BxSxD + net["embed_pos"].astype(dt))
  return (math.sqrt(D) * x_BxSxD).astype(dt)


def _l_steps(l_fn, z_H, z_L, n: int):
  """n L updates with z_H held fixed (a scan, so compile time is flat in n)."""
  z_L, _ = lax.scan(lambda zl, _: (l_fn(zl, z_H), None), z_L, None, length=n)
  return z_L


def hierarchy(net: dict, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg: HRMConfig):
  """Hierarchical convergence of one segment: N H-updates, each after T L-updates.

  With grad_mode="one_step" every step but the last L and the last H update sees
  only stop_gradient'ed inputs (parameters, injection and states), so nothing of
  them is kept for the backward pass: memory is O(1) in N*T. With "bptt" the
  gradient flows through all N*T steps.
  """
  h_mod, l_mod = _modules(cfg)
  rope = rope_tables(cfg) if cfg.pos_encodings == "rope" else None

  def make_fns(p, x):
    l_fn = lambda zl, zh: l_mod.apply({"params": p["L"]}, zl, zh + x, rope)
    h_fn = lambda zh, zl: h_mod.apply({"params": p["H"]}, zh, zl, rope)
    return l_fn, h_fn

  def cycle(l_fn, h_fn, z, n_l):
    z_H, z_L = z
    z_L = _l_steps(l_fn, z_H, z_L, n_l)
    return h_fn(z_H, z_L), z_L

  N, T = cfg.h_cycles, cfg.l_cycles
  if cfg.grad_mode == "bptt":
    l_fn, h_fn = make_fns(net, x_BxTxD)
    z, _ = lax.scan(lambda z, _: (cycle(l_fn, h_fn, z, T), None), (z_H_BxTxD, z_L_BxTxD), None,
                    length=N)
    return z

  net_ng, x_ng, z_H, z_L = lax.stop_gradient((net, x_BxTxD, z_H_BxTxD, z_L_BxTxD))
  l_ng, h_ng = make_fns(net_ng, x_ng)
  (z_H, z_L), _ = lax.scan(lambda z, _: (cycle(l_ng, h_ng, z, T), None), (z_H, z_L), None,
                           length=N - 1)
  z_L = _l_steps(l_ng, z_H, z_L, T - 1)
  l_fn, h_fn = make_fns(net, x_BxTxD)
  z_L = l_fn(z_L, z_H)
  return h_fn(z_H, z_L), z_L


def output_heads(net: dict, z_H_BxTxD: jax.Array, cfg: HRMConfig):
  """logits [B, S, V] over the task positions; q_halt, q_continue [B] in float32."""
  kernel = net["lm_head"]["kernel"].astype(cfg.dtype)
  logits = jnp.einsum("btd,dv->btv", z_H_BxTxD, kernel, preferred_element_type=jnp.float32)
  logits_BxSxV = logits[:, cfg.puzzle_emb_len:].astype(cfg.dtype)
  q_Bx2 = z_H_BxTxD[:, 0].astype(jnp.float32) @ net["q_head"]["kernel"].astype(jnp.float32)
  q_Bx2 = q_Bx2 + net["q_head"]["bias"].astype(jnp.float32)
  return logits_BxSxV, q_Bx2[:, 0], q_Bx2[:, 1]
