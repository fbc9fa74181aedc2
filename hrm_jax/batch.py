"""Batch layout and its validation.

A batch is a dict: inputs [B, S] int32 token ids, labels [B, S] int32 (-100 =
ignored), puzzle_identifiers [B] int32. Shape errors are caught at trace time;
value errors (tokens outside the vocabulary) only for concrete arrays, i.e.
when called outside jit.
"""
from __future__ import annotations

import jax
import numpy as np

from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError

IGNORE_LABEL = -100
FIELDS = ("inputs", "labels", "puzzle_identifiers")


class BatchError(UserError, ValueError):
  """A batch that does not fit the model's configuration."""


def _concrete(x) -> np.ndarray | None:
  if isinstance(x, jax.core.Tracer):
    return None
  return np.asarray(x)


def validate_batch(batch: dict, config: HRMConfig, carry=None) -> None:
  """Raise BatchError naming the problem if `batch` cannot be fed to `config`'s model."""
  missing = [f for f in FIELDS if f not in batch]
  if missing:
    raise BatchError(f"batch is missing field(s) {missing}; expected {list(FIELDS)}")
  inputs, labels, pids = (batch[f] for f in FIELDS)
  if len(inputs.shape) != 2:
    raise BatchError(f"batch['inputs'] must be [batch, seq_len], got shape {inputs.shape}")
  B, S = inputs.shape
  if S != config.seq_len:
    raise BatchError(f"batch['inputs'] has sequence length {S}, the config says "
                     f"seq_len={config.seq_len}")
  if tuple(labels.shape) != (B, S):
    raise BatchError(f"batch['labels'] has shape {labels.shape}, inputs have {inputs.shape}")
  if tuple(pids.shape) != (B,):
    raise BatchError(f"batch['puzzle_identifiers'] has shape {pids.shape}, expected ({B},)")
  for name in FIELDS:
    if not np.issubdtype(batch[name].dtype, np.integer):
      raise BatchError(f"batch['{name}'] must be integer, got {batch[name].dtype}")
  if carry is not None and carry.inputs.shape != inputs.shape:
    raise BatchError(f"carry holds examples of shape {carry.inputs.shape}, the batch has "
                     f"{inputs.shape}; build the carry with initial_carry(batch, config)")
  checks = (("inputs", inputs, 0, config.vocab_size, ()),
            ("labels", labels, 0, config.vocab_size, (IGNORE_LABEL,)),
            ("puzzle_identifiers", pids, 0, config.num_puzzle_identifiers, ()))
  for name, arr, lo, hi, allowed in checks:
    values = _concrete(arr)
    if values is None or values.size == 0:
      continue
    bad = (values < lo) | (values >= hi)
    for a in allowed:
      bad &= values != a
    if bad.any():
      example = values[bad].flat[0]
      raise BatchError(f"batch['{name}'] holds {int(bad.sum())} value(s) outside [{lo}, {hi})"
                       f" (e.g. {example}); check the dataset's vocab_size / "
                       "num_puzzle_identifiers against the config")
