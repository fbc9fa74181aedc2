"""Mapping between the reference's PyTorch state_dict names and hrm_jax params.

The reference (HierarchicalReasoningModel_ACTV1, and the TRM release's
TinyRecursiveReasoningModel_ACTV1 and Model_ACTV2 baseline) names its tensors "inner.*";
wrapped in ACTLossHead they get "model." in front and, compiled by pretrain.py,
"_orig_mod." before that. Linear weights are [out, in] there and [in, out]
(Dense kernels) here. This is the single place that knows those names;
checkpoint import/export builds on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from hrm_jax import archs
from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError

PREFIXES = ("_orig_mod.", "model.")
# torch suffix of inner.{H,L}_level.layers.{i}.* -> our path under net[level][f"layers_{i}"]
_LAYER = {
  "self_attn.qkv_proj.weight": ("attn", "qkv"),
  "self_attn.o_proj.weight": ("attn", "out"),
  "mlp_t.gate_up_proj.weight": ("mlp_t", "gate_up"),  # TRM-MLP's token mixer
  "mlp_t.down_proj.weight": ("mlp_t", "down"),
  "mlp.gate_up_proj.weight": ("mlp", "gate_up"),
  "mlp.down_proj.weight": ("mlp", "down"),
}


class StateDictError(UserError, ValueError):
  """A state_dict whose keys or shapes do not match the configuration."""


def strip_prefix(key: str) -> str:
  """'_orig_mod.model.inner.x' -> 'inner.x'."""
  for p in PREFIXES:
    if key.startswith(p):
      key = key[len(p) :]
  return key


def name_map(config: HRMConfig) -> Iterator[tuple[str, tuple[str, ...], bool]]:
  """Yields (torch_key, params_path, transposed) for every tensor of `config`'s model.

  The same names serve every arch: HRM has inner.H_level and inner.L_level, TRM only
  inner.L_level (h_layers 0), the transformer baseline only inner.H_level (l_layers 0)
  and no L_init; with mlp_t the blocks hold mlp_t.* instead of self_attn.*.
  """
  for state in archs.get(config.arch).STATES:
    yield f"inner.{state}_init", ("z0", state), False
  yield "inner.embed_tokens.embedding_weight", ("net", "embed_tokens"), False
  if config.pos_encodings == "learned":
    yield "inner.embed_pos.embedding_weight", ("net", "embed_pos"), False
  yield "inner.lm_head.weight", ("net", "lm_head", "kernel"), True
  yield "inner.q_head.weight", ("net", "q_head", "kernel"), True
  yield "inner.q_head.bias", ("net", "q_head", "bias"), False
  if config.puzzle_emb_ndim > 0:
    yield "inner.puzzle_emb.weights", ("puzzle_emb",), False
  mixer = "mlp_t" if config.mlp_t else "self_attn"
  layer = {k: v for k, v in _LAYER.items() if k.split(".")[0] in (mixer, "mlp")}
  for level, n_layers in (("H", config.h_layers), ("L", config.l_layers)):
    for i in range(n_layers):
      for suffix, (block, proj) in layer.items():
        yield (
          f"inner.{level}_level.layers.{i}.{suffix}",
          ("net", level, f"layers_{i}", block, proj, "kernel"),
          True,
        )


def _get(tree, path):
  for p in path:
    tree = tree[p]
  return tree


def _set(tree, path, value):
  for p in path[:-1]:
    tree = tree.setdefault(p, {})
  tree[path[-1]] = value


def params_from_state_dict(
  state_dict: Mapping[str, np.ndarray], config: HRMConfig, expected: dict | None = None
) -> dict:
  """Reference state_dict (numpy arrays, any of the known prefixes) -> hrm_jax params.

  `expected` (e.g. `jax.eval_shape(init, ...)`) enables the shape check; every
  missing, unexpected or mis-shaped key is named in one StateDictError.
  Arrays are not copied unless a transpose is needed.
  """
  sd = {strip_prefix(k): v for k, v in state_dict.items()}
  params, missing, problems = {}, [], []
  used = set()
  for key, path, transposed in name_map(config):
    if key not in sd:
      missing.append(key)
      continue
    used.add(key)
    value = np.asarray(sd[key])
    if transposed:
      value = value.T
    if expected is not None:
      want = tuple(_get(expected, path).shape)
      if tuple(value.shape) != want:
        shape = tuple(sd[key].shape)
        want_torch = want[::-1] if transposed else want
        problems.append(f"{key}: shape {shape}, the config needs {want_torch}")
    _set(params, path, value)
  unexpected = sorted(set(sd) - used)
  if missing or unexpected or problems:
    lines = []
    if missing:
      lines.append(f"missing keys: {missing}")
    if unexpected:
      lines.append(f"unexpected keys: {unexpected}")
    lines += problems
    raise StateDictError("state_dict does not match the config: " + "; ".join(lines))
  return params


def state_dict_from_params(params: dict, config: HRMConfig, prefix: str = "") -> dict:
  """hrm_jax params -> reference state_dict of numpy arrays (keys `prefix + 'inner.*'`)."""
  out = {}
  for key, path, transposed in name_map(config):
    value = np.asarray(_get(params, path))
    out[prefix + key] = np.ascontiguousarray(value.T) if transposed else value
  return out
