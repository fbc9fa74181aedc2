"""Losses and metrics of the ACT head (SPEC section 3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from hrm_jax.batch import IGNORE_LABEL

# Backends whose devices have no float64 arithmetic (jax_enable_x64 notwithstanding).
NO_FLOAT64_BACKENDS = frozenset({"tpu", "METAL"})


def stablemax_in_float64(backend: str) -> bool:
  """Whether the stablemax loss is computed in float64 on `backend` (a jax backend name):
  only with jax_enable_x64 on and a backend that has float64, else the float32 form."""
  return bool(jax.config.jax_enable_x64) and backend not in NO_FLOAT64_BACKENDS


def log_stablemax(logits: jax.Array) -> jax.Array:
  """log(s(x) / sum_j s(x_j)) with s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)."""
  s = jnp.where(logits < 0, 1 / (1 - logits + 1e-30), logits + 1)
  return jnp.log(s / jnp.sum(s, axis=-1, keepdims=True))


def _log_s(x: jax.Array) -> jax.Array:
  """log s(x) without cancellation: log1p(x) or -log1p(-x)."""
  return jnp.where(x < 0, -jnp.log1p(-jnp.minimum(x, 0)), jnp.log1p(jnp.maximum(x, 0)))


def stablemax_cross_entropy(
  logits: jax.Array, labels: jax.Array, ignore_label: int = IGNORE_LABEL
) -> jax.Array:
  """Per-token stablemax cross entropy, 0 where the label is ignored.

  With jax_enable_x64 on, computed in float64 as the reference does, except on a
  backend without float64 (`stablemax_in_float64`: TPU). Otherwise a float32 form
  without cancellation: -log p = softplus(log sum_{j!=y} s_j - log s_y), within ~1e-6
  relative of float64 even for near-zero losses.
  """
  mask = labels != ignore_label
  safe = jnp.where(mask, labels, 0)
  if stablemax_in_float64(jax.default_backend()):
    logp = log_stablemax(logits.astype(jnp.float64))
    nll = -jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    return jnp.where(mask, nll, 0.0)
  x = logits.astype(jnp.float32)
  log_s = _log_s(x)
  is_label = jax.nn.one_hot(safe, x.shape[-1], dtype=bool)
  log_s_label = jnp.sum(jnp.where(is_label, log_s, 0.0), axis=-1)
  log_others = jax.nn.logsumexp(jnp.where(is_label, -jnp.inf, log_s), axis=-1)
  return jnp.where(mask, jax.nn.softplus(log_others - log_s_label), 0.0)


def softmax_cross_entropy(
  logits: jax.Array, labels: jax.Array, ignore_label: int = IGNORE_LABEL
) -> jax.Array:
  """Per-token softmax cross entropy in float32, 0 where the label is ignored."""
  mask = labels != ignore_label
  ce = optax.softmax_cross_entropy_with_integer_labels(
    logits.astype(jnp.float32), jnp.where(mask, labels, 0)
  )
  return jnp.where(mask, ce, 0.0)


def act_loss(
  outputs: dict,
  labels_BxS: jax.Array,
  carry,
  loss_type: str = "stablemax",
  q_loss_weight: float = 0.5,
):
  """The reference's ACTLossHead: total loss summed over the batch, and metric sums.

  Args:
    outputs: from `apply`/`segment` (logits, q_halt_logits, q_continue_logits,
      optionally target_q_continue).
    labels_BxS: the labels of the slots' current examples (new_carry.labels).
    carry: the new carry (its halted/steps select the metric rows).
  Returns:
    (loss, metrics): loss is lm_loss + q_loss_weight * (q_halt_loss + q_continue_loss)
    (the reference's weight is 0.5), a sum over slots (divide by the global batch for
    the gradient); metrics are sums over halted slots with at least one label (divide
    by `count`). As in the reference, q_continue_loss (loss and metric) exists only
    where the outputs carry a target_q_continue (training with Q-continue).
  """
  logits = outputs["logits"]
  mask = labels_BxS != IGNORE_LABEL
  cnt_B = mask.sum(-1)
  div_B = jnp.maximum(cnt_B, 1)[:, None]
  correct = mask & (jnp.argmax(logits, axis=-1) == labels_BxS)
  seq_ok_B = correct.sum(-1) == cnt_B

  ce_fn = stablemax_cross_entropy if loss_type == "stablemax" else softmax_cross_entropy
  lm_loss = jnp.sum(ce_fn(logits, labels_BxS) / div_B)
  q_halt = outputs["q_halt_logits"]
  q_halt_loss = jnp.sum(optax.sigmoid_binary_cross_entropy(q_halt, seq_ok_B.astype(q_halt.dtype)))
  q_losses = {"q_halt_loss": q_halt_loss}
  if "target_q_continue" in outputs:
    q_losses["q_continue_loss"] = jnp.sum(
      optax.sigmoid_binary_cross_entropy(outputs["q_continue_logits"], outputs["target_q_continue"])
    )
  loss = lm_loss + q_loss_weight * sum(q_losses.values())

  valid_B = carry.halted & (cnt_B > 0)
  metrics = {
    "count": valid_B.sum(),
    "accuracy": jnp.sum(jnp.where(valid_B, correct.sum(-1) / div_B[:, 0], 0.0)),
    "exact_accuracy": jnp.sum(valid_B & seq_ok_B),
    "q_halt_accuracy": jnp.sum(valid_B & ((q_halt >= 0) == seq_ok_B)),
    "steps": jnp.sum(jnp.where(valid_B, carry.steps, 0)),
    "lm_loss": lm_loss,
    **q_losses,
  }
  return loss, metrics
