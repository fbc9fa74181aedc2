"""The transformer baseline of the TRM release: one pass of h_layers blocks per ACT step.

params["net"] entry: "H", the Linen params of one ReasoningModule of h_layers post-norm
blocks (torch names inner.H_level.*), and params["z0"] holds "H" alone (inner.H_init).
Per ACT step z_H = blocks(z_H + x), with the full gradient through that one pass; the
recursion has no cycles, so l_layers must be 0 and h_cycles = l_cycles = 1 (settings it
would otherwise ignore). The carry keeps its z_L field, a zero buffer that is never read.
"""

from __future__ import annotations

from hrm_jax.archs import common
from hrm_jax.config import ConfigError, HRMConfig

STATES = ("H",)  # the recurrent states, each with its fixed initial vector in z0
# Fields the baseline has no use for, and the only value each may take.
UNUSED = {"l_layers": 0, "h_cycles": 1, "l_cycles": 1}


def check_config(cfg: HRMConfig) -> None:
  """h_layers blocks, no L module, no cycles."""
  common.require_positive(cfg, "h_layers")
  for name, want in UNUSED.items():
    if getattr(cfg, name) != want:
      raise ConfigError(
        f"HRMConfig.{name} must be {want} for arch='transformer' (one pass of h_layers "
        f"blocks per ACT step), got {getattr(cfg, name)}"
      )


def init_net(keys, cfg: HRMConfig) -> dict:
  """Fresh params of the one module of h_layers blocks."""
  return {"H": common.init_module(keys[0], cfg, cfg.h_layers)}


def recursion(net: dict, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg: HRMConfig):
  """One ACT step: z_H = blocks(z_H + x), gradient through all of it; z_L is passed on.

  grad_mode does not matter here: one pass is both the 1-step and the full gradient.
  """
  z_H_BxTxD = common.module_fn(cfg, cfg.h_layers, net["H"])(z_H_BxTxD, x_BxTxD)
  return z_H_BxTxD, z_L_BxTxD


def segment_blocks(cfg: HRMConfig) -> tuple[int, int]:
  """(blocks one ACT step runs, blocks the gradient flows through): h_layers, all of them."""
  return cfg.h_layers, cfg.h_layers
