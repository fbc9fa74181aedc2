"""The `arch:` section of the authors' all_config.yaml <-> HRMConfig fields, for every arch.

Three releases' model classes map to an `HRMConfig.arch`: the HRM release's
HierarchicalReasoningModel_ACTV1 ("hrm"), and the TRM release's
TinyRecursiveReasoningModel_ACTV1 ("trm") and its transformer baseline Model_ACTV2
("transformer"). The class name after "@" decides; each has its own yaml keys.
"""

from __future__ import annotations

from typing import Any

from hrm_jax.config import HRMConfig

# arch -> the reference's `arch.name` written on export (import matches the class name).
NAMES = {
  "hrm": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
  "trm": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
  "transformer": "recursive_reasoning.transformers_baseline@Model_ACTV2",
}
# reference arch key -> HRMConfig field, the keys every arch has
_COMMON = {
  "H_cycles": "h_cycles",
  "H_layers": "h_layers",
  "hidden_size": "hidden_size",
  "num_heads": "num_heads",
  "expansion": "expansion",
  "puzzle_emb_ndim": "puzzle_emb_ndim",
  "pos_encodings": "pos_encodings",
  "rope_theta": "rope_theta",
  "rms_norm_eps": "rms_norm_eps",
  "halt_max_steps": "halt_max_steps",
  "halt_exploration_prob": "halt_exploration_prob",
  "forward_dtype": "compute_dtype",
}
_CYCLES = {"L_cycles": "l_cycles", "L_layers": "l_layers"}
_TRM = {"mlp_t": "mlp_t", "puzzle_emb_len": "puzzle_emb_len", "no_ACT_continue": "no_act_continue"}
FIELDS = {
  "hrm": {**_COMMON, **_CYCLES},
  "trm": {**_COMMON, **_CYCLES, **_TRM},
  "transformer": _COMMON,
}
# Values the release's config class takes when the yaml leaves a key out, or that its
# code implies (the baseline has no L module and one pass per step).
DEFAULTS = {
  "hrm": {},
  "trm": {"mlp_t": False, "puzzle_emb_len": 16, "no_act_continue": True},
  "transformer": {"l_layers": 0, "l_cycles": 1, "h_cycles": 1},
}
# Fields the release's class cannot express: exporting another value would change the model.
_TRM_ONLY = ("mlp_t", "puzzle_emb_len", "no_act_continue")
_FIXED = {"hrm": _TRM_ONLY, "trm": (), "transformer": _TRM_ONLY}
# The reasoning modules (inner.{level}_level.*) whose tensors each arch's checkpoint holds.
LEVELS = {"hrm": ("H", "L"), "trm": ("L",), "transformer": ("H",)}


def arch_of_name(name: str) -> str | None:
  """The HRMConfig.arch of a reference `arch.name`, None when no release has that class."""
  cls = str(name).rpartition("@")[2]
  return next((a for a, n in NAMES.items() if n.rpartition("@")[2] == cls), None)


def arch_of_tensors(keys) -> str | None:
  """The arch whose modules the (prefix-stripped) state_dict `keys` hold, None if unclear."""
  levels = tuple(lv for lv in ("H", "L") if any(k.startswith(f"inner.{lv}_level.") for k in keys))
  return next((a for a, lv in LEVELS.items() if lv == levels), None)


def fields_from_arch(arch: str, section: dict[str, Any]) -> dict[str, Any]:
  """HRMConfig fields of `arch` from a yaml `arch:` section; pops the keys it used."""
  fields = dict(DEFAULTS[arch])
  for key, field in FIELDS[arch].items():
    if key in section:
      fields[field] = section.pop(key)
  return fields


def arch_section(config: HRMConfig) -> dict[str, Any]:
  """The yaml `arch:` keys of `config` (name and loss aside); ValueError if inexpressible."""
  default = HRMConfig()
  for field in _FIXED[config.arch]:
    if getattr(config, field) != getattr(default, field):
      raise ValueError(
        f"the {NAMES[config.arch]} release has no {field}: export needs "
        f"HRMConfig.{field}={getattr(default, field)!r}, got {getattr(config, field)!r}"
      )
  out = {}
  for key, field in FIELDS[config.arch].items():
    value = getattr(config, field)
    out[key] = int(value) if field == "expansion" and float(value).is_integer() else value
  return out
