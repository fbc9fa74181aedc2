"""The Hierarchical Reasoning Model's recursion: a slow module H over a fast module L.

params["net"] entries: "H" and "L", the Linen params of two ReasoningModules of h_layers
and l_layers blocks (torch names inner.H_level.* and inner.L_level.*).
"""

from __future__ import annotations

from jax import lax

from hrm_jax.archs import common
from hrm_jax.config import HRMConfig

STATES = ("H", "L")  # the recurrent states, each with its fixed initial vector in z0


def check_config(cfg: HRMConfig) -> None:
  """HRM needs both modules."""
  common.require_positive(cfg, "h_layers", "l_layers")


def init_net(keys, cfg: HRMConfig) -> dict:
  """Fresh params of the H and L modules."""
  return {
    "H": common.init_module(keys[0], cfg, cfg.h_layers),
    "L": common.init_module(keys[1], cfg, cfg.l_layers),
  }


def _fns(net: dict, cfg: HRMConfig):
  return (
    common.module_fn(cfg, cfg.l_layers, net["L"]),
    common.module_fn(cfg, cfg.h_layers, net["H"]),
  )


def recursion(net: dict, z_H_BxTxD, z_L_BxTxD, x_BxTxD, cfg: HRMConfig):
  """Hierarchical convergence of one segment: N H-updates, each after T L-updates.

  With grad_mode="one_step" every step but the last L and the last H update sees
  only stop_gradient'ed inputs (parameters, injection and states), so nothing of
  them is kept for the backward pass: memory is O(1) in N*T. With "bptt" the
  gradient flows through all N*T steps.
  """
  N, T = cfg.h_cycles, cfg.l_cycles
  if cfg.grad_mode == "bptt":
    return common.cycles(*_fns(net, cfg), (z_H_BxTxD, z_L_BxTxD), x_BxTxD, N, T)
  net_ng, x_ng, z_H, z_L = lax.stop_gradient((net, x_BxTxD, z_H_BxTxD, z_L_BxTxD))
  l_ng, h_ng = _fns(net_ng, cfg)
  z_H, z_L = common.cycles(l_ng, h_ng, (z_H, z_L), x_ng, N - 1, T)
  z_L = common.l_steps(l_ng, z_H, z_L, x_ng, T - 1)
  l_fn, h_fn = _fns(net, cfg)
  z_L = l_fn(z_L, z_H + x_BxTxD)
  return h_fn(z_H, z_L), z_L


def segment_blocks(cfg: HRMConfig) -> tuple[int, int]:
  """(blocks one segment runs, blocks the gradient flows through): N*T L-steps, N H-steps."""
  run = cfg.h_cycles * (cfg.l_cycles * cfg.l_layers + cfg.h_layers)
  return run, run if cfg.grad_mode == "bptt" else cfg.l_layers + cfg.h_layers
