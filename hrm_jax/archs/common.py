"""Recursion pieces every architecture shares: one module call, L-steps, a full cycle."""

from __future__ import annotations

from typing import Callable

import jax
from jax import lax

from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.layers import ReasoningModule, rope_tables

# f(z, injection) -> z, all [B, P+S, D]: one call of a reasoning module with fixed params.
ModuleFn = Callable[[jax.Array, jax.Array], jax.Array]


def require_positive(cfg: HRMConfig, *names: str) -> None:
  """ConfigError unless every named field of `cfg` is a positive integer for its arch."""
  for name in names:
    if getattr(cfg, name) < 1:
      raise ConfigError(
        f"HRMConfig.{name} must be a positive integer for arch={cfg.arch!r}, "
        f"got {getattr(cfg, name)}"
      )


def positions(cfg: HRMConfig):
  """The RoPE tables the blocks take, or None when the config has no rotary positions."""
  return rope_tables(cfg) if cfg.pos_encodings == "rope" else None


def module_fn(cfg: HRMConfig, num_layers: int, module_params: dict) -> ModuleFn:
  """f(z, injection) = blocks(z + injection) with the given Linen params."""
  module, rope = ReasoningModule(cfg, num_layers), positions(cfg)
  return lambda z, injection: module.apply({"params": module_params}, z, injection, rope)


def init_module(key: jax.Array, cfg: HRMConfig, num_layers: int) -> dict:
  """Fresh Linen params of one reasoning module of `num_layers` blocks."""
  dummy_BxTxD = jax.numpy.zeros((1, cfg.total_len, cfg.hidden_size), cfg.dtype)
  module = ReasoningModule(cfg, num_layers)
  return module.init(key, dummy_BxTxD, dummy_BxTxD, positions(cfg))["params"]


def l_steps(l_fn: ModuleFn, z_H, z_L, x, n: int):
  """n low-level updates z_L = l_fn(z_L, z_H + x) with z_H held fixed (a scan: flat in n)."""
  z_L, _ = lax.scan(lambda zl, _: (l_fn(zl, z_H + x), None), z_L, None, length=n)
  return z_L


def cycle(l_fn: ModuleFn, h_fn: ModuleFn, z, x, n_l: int):
  """One high-level cycle: n_l L-steps, then z_H = h_fn(z_H, z_L). z = (z_H, z_L)."""
  z_H, z_L = z
  z_L = l_steps(l_fn, z_H, z_L, x, n_l)
  return h_fn(z_H, z_L), z_L


def cycles(l_fn: ModuleFn, h_fn: ModuleFn, z, x, n_h: int, n_l: int):
  """n_h cycles as one scan (compile time flat in n_h). Returns (z_H, z_L)."""
  z, _ = lax.scan(lambda z, _: (cycle(l_fn, h_fn, z, x, n_l), None), z, None, length=n_h)
  return z
