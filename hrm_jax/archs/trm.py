"""The Tiny Recursive Model's recursion: one module of l_layers blocks updates both states.

params["net"] entry: "L", the Linen params of one ReasoningModule (torch names
inner.L_level.*). h_layers must be 0 (TRM has no H module: rejecting it beats ignoring it).
With mlp_t the blocks mix tokens by a SwiGLU over the token axis instead of attention.
"""

from __future__ import annotations

from jax import lax

from hrm_jax.archs import common
from hrm_jax.config import ConfigError, HRMConfig

STATES = ("H", "L")  # the recurrent states, each with its fixed initial vector in z0


def check_config(cfg: HRMConfig) -> None:
  """TRM has a single module: h_layers must be 0."""
  common.require_positive(cfg, "l_layers")
  if cfg.h_layers:
    raise ConfigError(
      f"HRMConfig.h_layers must be 0 for arch='trm' (one module of l_layers "
      f"blocks), got {cfg.h_layers}"
    )


def init_net(keys, cfg: HRMConfig) -> dict:
  """Fresh params of the one reasoning module."""
  return {"L": common.init_module(keys[1], cfg, cfg.l_layers)}


def recursion(net: dict, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg: HRMConfig):
  """One segment: h_cycles cycles of (l_cycles x z_L = f(z_L, z_H + x); z_H = f(z_H, z_L)).

  With grad_mode="one_step" (TRM's rule) the first h_cycles-1 cycles see only
  stop_gradient'ed inputs and the gradient flows through the whole last cycle
  (l_cycles + 1 calls of f); memory is flat in h_cycles. "bptt": through every cycle.
  """
  f = common.module_fn(cfg, cfg.l_layers, net["L"])
  N, T = cfg.h_cycles, cfg.l_cycles
  z = (z_H_BxTxD, z_L_BxTxD)
  if cfg.grad_mode == "bptt":
    return common.cycles(f, f, z, x_BxTxD, N, T)
  net_ng, x_ng, z = lax.stop_gradient((net, x_BxTxD, z))
  f_ng = common.module_fn(cfg, cfg.l_layers, net_ng["L"])
  z = common.cycles(f_ng, f_ng, z, x_ng, N - 1, T)
  return common.cycle(f, f, z, x_BxTxD, T)


def segment_blocks(cfg: HRMConfig) -> tuple[int, int]:
  """(blocks one segment runs, blocks the gradient flows through): each of N cycles is T
  updates of z_L and one of z_H; the gradient runs through the whole last cycle."""
  per_cycle = (cfg.l_cycles + 1) * cfg.l_layers
  run = cfg.h_cycles * per_cycle
  return run, run if cfg.grad_mode == "bptt" else per_cycle
