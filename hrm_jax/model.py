"""The shared inner model: parameters, input embedding, one segment, output heads.

What differs between architectures (the recursion and its modules' params) lives in
hrm_jax/archs, chosen by `config.arch`; everything here is common to all of them.
Parameters are a plain pytree (nested dicts of arrays):

  params = {
    "net": {                            # trained by AdamATan2
      "embed_tokens": [V, D],
      "embed_pos": [P+S, D],            # only with pos_encodings="learned"
      ...                               # the architecture's modules: hrm "H", "L"; trm "L"
      "lm_head": {"kernel": [D, V]},
      "q_head": {"kernel": [D, 2], "bias": [2]},
    },
    "puzzle_emb": [num_puzzle_identifiers, puzzle_emb_ndim],  # sign-SGD; absent if ndim 0
    "z0": {"H": [D], "L": [D]},         # fixed initial states, never trained (transformer: H)
  }
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from hrm_jax import archs, layers
from hrm_jax.config import HRMConfig
from hrm_jax.layers import lecun_trunc_normal, trunc_normal


def init(rng: jax.Array, config: HRMConfig) -> dict:
  """Freshly initialised parameters for `config` (reference init, SPEC section 1).

  A pure function: jit it (config static) or wrap it in jax.eval_shape for shapes alone.
  """
  cfg = config
  D, T, pdt = cfg.hidden_size, cfg.total_len, jnp.dtype(cfg.param_dtype)
  keys = jax.random.split(rng, 8)
  arch = archs.get(cfg.arch)
  net = {
    "embed_tokens": trunc_normal(D**-0.5)(keys[0], (cfg.vocab_size, D), pdt),
    **arch.init_net(keys[1:3], cfg),
    "lm_head": {"kernel": lecun_trunc_normal(keys[3], (D, cfg.vocab_size), pdt)},
    "q_head": {"kernel": jnp.zeros((D, 2), pdt), "bias": jnp.full((2,), -5.0, pdt)},
  }
  if cfg.pos_encodings == "learned":
    net["embed_pos"] = trunc_normal(D**-0.5)(keys[4], (T, D), pdt)
  params = {
    "net": net,
    "z0": {s: trunc_normal(1.0)(keys[5 + i], (D,), pdt) for i, s in enumerate(arch.STATES)},
  }
  if cfg.puzzle_emb_ndim > 0:
    params["puzzle_emb"] = jnp.zeros((cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim), pdt)
  return params


def count_params(params: dict) -> int:
  """Trained transformer parameters (the puzzle table and z0 are not counted)."""
  return sum(x.size for x in jax.tree.leaves(params["net"]))


def input_embedding(
  net: dict, inputs_BxS: jax.Array, puzzle_rows_BxE: jax.Array | None, cfg: HRMConfig
) -> jax.Array:
  """Token embedding with the puzzle prefix and positions, scaled by sqrt(D): [B, P+S, D]."""
  dt, D = cfg.dtype, cfg.hidden_size
  x_BxSxD = jnp.take(net["embed_tokens"], inputs_BxS, axis=0).astype(dt)
  if cfg.prefix_len:
    B, E = puzzle_rows_BxE.shape
    pad = cfg.prefix_len * D - E
    prefix = jnp.pad(puzzle_rows_BxE, ((0, 0), (0, pad))).reshape(B, cfg.prefix_len, D)
    x_BxSxD = jnp.concatenate([prefix.astype(dt), x_BxSxD], axis=1)
  if cfg.pos_encodings == "learned":
    x_BxSxD = 0.707106781 * (x_BxSxD + net["embed_pos"].astype(dt))
  return (math.sqrt(D) * x_BxSxD).astype(dt)


def recursion(net: dict, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg: HRMConfig):
  """One segment of `cfg.arch`'s recursion: new (z_H, z_L), [B, P+S, D] each."""
  return archs.get(cfg.arch).recursion(net, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg)


def output_heads(net: dict, z_H_BxTxD: jax.Array, cfg: HRMConfig):
  """logits [B, S, V] over the task positions; q_halt, q_continue [B] in float32."""
  kernel = net["lm_head"]["kernel"].astype(cfg.dtype)
  logits = layers.einsum32("btd,dv->btv", z_H_BxTxD, kernel)
  logits_BxSxV = logits[:, cfg.prefix_len :].astype(cfg.dtype)
  q_Bx2 = z_H_BxTxD[:, 0].astype(jnp.float32) @ net["q_head"]["kernel"].astype(jnp.float32)
  q_Bx2 = q_Bx2 + net["q_head"]["bias"].astype(jnp.float32)
  return logits_BxSxV, q_Bx2[:, 0], q_Bx2[:, 1]
