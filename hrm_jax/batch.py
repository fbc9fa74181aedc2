"""Batch layout and its validation.

A batch is a dict: inputs [B, S] int32 token ids, labels [B, S] int32 (-100 =
ignored), puzzle_identifiers [B] int32. Labels are needed only for losses and
training: inference runs on inputs and puzzle_identifiers alone (`labels_of`
stands in all-ignored labels). Shape errors are caught at trace time; value
errors (tokens outside the vocabulary) only for concrete arrays, i.e. when
called outside jit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError

IGNORE_LABEL = -100
FIELDS = ("inputs", "labels", "puzzle_identifiers")
INPUT_FIELDS = ("inputs", "puzzle_identifiers")  # all that inference needs


class BatchError(UserError, ValueError):
  """A batch that does not fit the model's configuration."""


def _concrete(x) -> np.ndarray | None:
  if isinstance(x, jax.core.Tracer):
    return None
  return np.asarray(x)


def labels_of(batch: dict) -> jax.Array:
  """The batch's labels, or all IGNORE_LABEL (the inputs' shape) for an unlabeled batch."""
  if "labels" in batch:
    return batch["labels"]
  return jnp.full(batch["inputs"].shape, IGNORE_LABEL, jnp.int32)


def validate_batch(
  batch: dict, config: HRMConfig, carry=None, *, labels_required: bool = True
) -> None:
  """Raise BatchError naming the problem if `batch` cannot be fed to `config`'s model.

  `labels_required=False` (inference) accepts a batch of only inputs and
  puzzle_identifiers; losses and training need the labels too.
  """
  if not hasattr(batch, "keys"):
    raise BatchError(f"a batch is a dict of arrays {list(FIELDS)}, got {type(batch).__name__}")
  need = FIELDS if labels_required else INPUT_FIELDS
  missing = [f for f in need if f not in batch]
  if missing:
    why = "training and losses need" if labels_required and "labels" in missing else "expected"
    raise BatchError(
      f"batch is missing field(s) {missing}; {why} {list(need)}"
      + ("" if labels_required else " (labels are optional for inference)")
    )
  inputs, labels, pids = batch["inputs"], labels_of(batch), batch["puzzle_identifiers"]
  if len(inputs.shape) != 2:
    raise BatchError(f"batch['inputs'] must be [batch, seq_len], got shape {inputs.shape}")
  B, S = inputs.shape
  if S != config.seq_len:
    raise BatchError(
      f"batch['inputs'] has sequence length {S}, the config says seq_len={config.seq_len}"
    )
  if tuple(labels.shape) != (B, S):
    raise BatchError(f"batch['labels'] has shape {labels.shape}, inputs have {inputs.shape}")
  if tuple(pids.shape) != (B,):
    raise BatchError(f"batch['puzzle_identifiers'] has shape {pids.shape}, expected ({B},)")
  for name in (f for f in FIELDS if f in batch):
    if not np.issubdtype(batch[name].dtype, np.integer):
      raise BatchError(f"batch['{name}'] must be integer, got {batch[name].dtype}")
  if carry is not None and carry.inputs.shape != inputs.shape:
    raise BatchError(
      f"carry holds examples of shape {carry.inputs.shape}, the batch has "
      f"{inputs.shape}; build the carry with initial_carry(batch, config)"
    )
  checks = (
    ("inputs", inputs, 0, config.vocab_size, ()),
    ("labels", labels, 0, config.vocab_size, (IGNORE_LABEL,)),
    ("puzzle_identifiers", pids, 0, config.num_puzzle_identifiers, ()),
  )
  for name, arr, lo, hi, allowed in checks:
    if name not in batch:
      continue
    values = _concrete(arr)
    if values is None or values.size == 0:
      continue
    bad = (values < lo) | (values >= hi)
    for a in allowed:
      bad &= values != a
    if bad.any():
      example = values[bad].flat[0]
      raise BatchError(
        f"batch['{name}'] holds {int(bad.sum())} value(s) outside [{lo}, {hi})"
        f" (e.g. {example}); check the dataset's vocab_size / "
        "num_puzzle_identifiers against the config"
      )
