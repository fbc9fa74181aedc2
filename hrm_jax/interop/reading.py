"""Reading the authors' files: torch.save'd state_dicts (as numpy) and all_config.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.errors import UserError

TORCH_HINT = (
  "this command needs PyTorch, which hrm_jax does not install by default: "
  "pip install 'hrm_jax[torch]'  (or: pip install torch==2.13.0; the CPU build "
  "is enough)"
)


class ConvertError(UserError, ValueError):
  """A checkpoint or option that cannot be converted; the message says why."""


def import_torch():
  """The torch module, or a ConvertError saying how to install it."""
  try:
    import torch
  except ImportError as e:
    raise ConvertError(TORCH_HINT) from e
  return torch


def _to_numpy(tensor) -> np.ndarray:
  """torch tensor -> numpy array sharing its memory (bfloat16 via ml_dtypes)."""
  torch = import_torch()
  tensor = tensor.detach()
  if tensor.dtype == torch.bfloat16:
    import ml_dtypes

    return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
  return tensor.numpy()


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Read a torch.save'd state_dict as numpy arrays (memory-mapped when possible)."""
  torch = import_torch()
  path = Path(path)
  if not path.is_file():
    raise ConvertError(f"{path}: no such checkpoint file")
  try:
    try:
      sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # legacy (non-zip) serialization cannot be memory-mapped
      sd = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
    said = [ln.strip() for ln in str(e).splitlines() if ln.strip()]  # torch's last line: the cause
    raise ConvertError(
      f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}"
      f"{': ' + said[-1][:200] if said else ''})"
    ) from e
  if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
    sd = sd["model"]
  if not isinstance(sd, dict) or not all(hasattr(v, "shape") for v in sd.values()):
    raise ConvertError(f"{path}: expected a state_dict (a mapping of names to tensors)")
  out = {}
  for key in list(sd):
    out[key] = _to_numpy(sd.pop(key))
  return out


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
  """Read an all_config.yaml as a dict."""
  import yaml

  try:
    with open(path) as f:
      doc = yaml.safe_load(f)
  except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
    raise ConvertError(
      f"{path}: not a readable YAML file ({type(e).__name__}: "
      f"{str(e).splitlines()[0] if str(e) else ''})"
    ) from e
  if not isinstance(doc, dict) or not isinstance(doc.get("arch"), dict):
    raise ConvertError(f"{path}: expected the reference's all_config.yaml with an 'arch:' section")
  return doc
