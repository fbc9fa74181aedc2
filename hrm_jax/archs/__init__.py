"""The registry of architectures: a name of `HRMConfig.arch` -> the module implementing it.

An architecture module provides
  STATES                                the names of its recurrent states ("H", "L"); each
                                        has a fixed initial vector params["z0"][name]
  check_config(cfg)                     raise ConfigError for settings it cannot run
  init_net(keys, cfg) -> dict           its entries of params["net"] (keys: 2 PRNG keys)
  recursion(net, z_H, z_L, x, cfg)      one segment: (z_H, z_L) -> (z_H, z_L), [B, P+S, D]
  segment_blocks(cfg) -> (run, grad)    blocks one segment runs and the gradient flows through
                                        (hrm_jax.flops counts FLOPs from them)
and everything else (embeddings, puzzle prefix, heads, ACT) is shared (hrm_jax.model,
hrm_jax.act). Adding an architecture is adding its file and its name here. Modules are
imported on first use, so hrm_jax.config can read the names without an import cycle.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY = {
  "hrm": "hrm_jax.archs.hrm",  # Hierarchical Reasoning Model: modules H and L
  "trm": "hrm_jax.archs.trm",  # Tiny Recursive Model: one module for both states
  "transformer": "hrm_jax.archs.transformer",  # TRM release's baseline: one pass per ACT step
}


def get(name: str) -> ModuleType:
  """The module of architecture `name` (a key of REGISTRY; HRMConfig validates it)."""
  return importlib.import_module(REGISTRY[name])
