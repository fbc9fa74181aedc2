"""Adaptive computation time (SPEC section 2): the carry, its reset, and one ACT step.

`apply(params, carry, batch, ...)` is the public pure function: it resets halted
slots to the new batch rows, runs one segment, and decides which slots halt.
"""

from __future__ import annotations

import typing
from typing import Literal

import flax.struct
import jax
import jax.numpy as jnp
from jax import lax

from hrm_jax import model
from hrm_jax.batch import labels_of, validate_batch
from hrm_jax.config import HRMConfig

EvalHalt = Literal["model", "q_halt", "q_halt_gt_continue", "none"]
HALT_RULES: tuple[str, ...] = typing.get_args(EvalHalt)
# The halting rule at evaluation wherever a caller does not choose one: the model's own.
DEFAULT_HALT_RULE: EvalHalt = "model"


def trained_halt_rule(cfg: HRMConfig) -> EvalHalt:
  """The rule `cfg` trains with: q_halt > q_continue, or q_halt > 0 without Q-continue."""
  return "q_halt" if cfg.no_act_continue else "q_halt_gt_continue"


def resolve_halt_rule(rule: EvalHalt, cfg: HRMConfig) -> EvalHalt:
  """`rule` with "model" replaced by the rule `cfg` trains with; ValueError if unknown."""
  if rule not in HALT_RULES:
    raise ValueError(f"the halting rule must be one of {HALT_RULES}, got {rule!r}")
  return trained_halt_rule(cfg) if rule == "model" else rule


def halt_fires(q_halt_B: jax.Array, q_continue_B: jax.Array, rule: EvalHalt) -> jax.Array:
  """[B] bool: does the halting `rule` say stop? ("none": never; the segment limit still does.)

  "q_halt": q_halt > 0; "q_halt_gt_continue": q_halt > q_continue. Resolve "model" first
  (`resolve_halt_rule`).
  """
  if rule == "none":
    return jnp.zeros(q_halt_B.shape, bool)
  if rule == "q_halt":
    return q_halt_B > 0
  if rule == "q_halt_gt_continue":
    return q_halt_B > q_continue_B
  raise ValueError(f"halt_fires needs a resolved rule (see resolve_halt_rule), got {rule!r}")


@flax.struct.dataclass
class Carry:
  """State streamed across ACT steps; one slot per batch row."""

  z_H: jax.Array  # [B, P+S, D] high-level state
  z_L: jax.Array  # [B, P+S, D] low-level state (arch="transformer": zeros, never read)
  steps: jax.Array  # [B] int32 segments run on the current example
  halted: jax.Array  # [B] bool: the slot takes a new example next call
  inputs: jax.Array  # [B, S] int32 current example of each slot
  labels: jax.Array  # [B, S] int32
  puzzle_identifiers: jax.Array  # [B] int32


def initial_carry(batch: dict, config: HRMConfig) -> Carry:
  """A carry with every slot halted, so the first call loads the whole batch.

  The batch may lack labels (inference); only its shapes and dtypes are used.
  """
  B = batch["inputs"].shape[0]
  shape = (B, config.total_len, config.hidden_size)
  # Distinct buffers for every field, so the carry can be donated to a jitted step.
  return Carry(
    z_H=jnp.zeros(shape, config.dtype),
    z_L=jnp.zeros(shape, config.dtype),
    steps=jnp.zeros((B,), jnp.int32),
    halted=jnp.ones((B,), bool),
    inputs=jnp.zeros_like(batch["inputs"]),
    labels=jnp.zeros_like(labels_of(batch)),
    puzzle_identifiers=jnp.zeros_like(batch["puzzle_identifiers"]),
  )


def reset_carry(params: dict, carry: Carry, batch: dict, config: HRMConfig) -> Carry:
  """Halted slots restart from (z_H0, z_L0) with the new row; running slots keep theirs.

  An unlabeled batch (inference) gives the new rows all-ignored labels.
  """
  h = carry.halted
  take = lambda new, old: jnp.where(h.reshape(h.shape + (1,) * (new.ndim - 1)), new, old)
  z0 = lax.stop_gradient(params["z0"])
  return Carry(
    z_H=take(z0["H"].astype(config.dtype)[None, None], carry.z_H),
    # An arch without an L state (the transformer) carries z_L through unread.
    z_L=take(z0["L"].astype(config.dtype)[None, None], carry.z_L) if "L" in z0 else carry.z_L,
    steps=jnp.where(h, 0, carry.steps),
    halted=h,
    inputs=take(batch["inputs"], carry.inputs),
    labels=take(labels_of(batch), carry.labels),
    puzzle_identifiers=take(batch["puzzle_identifiers"], carry.puzzle_identifiers),
  )


def puzzle_rows(params: dict, puzzle_identifiers_B: jax.Array) -> jax.Array | None:
  """The puzzle-embedding rows of the slots' examples, [B, puzzle_emb_ndim]."""
  if "puzzle_emb" not in params:
    return None
  return jnp.take(params["puzzle_emb"], puzzle_identifiers_B, axis=0)


def _q_continue_target(net, x_BxTxD, z, is_last_B, cfg: HRMConfig) -> jax.Array:
  """Q-continue target: one more segment from the new carry z, without gradient (gamma 1)."""
  net_ng, x_ng, (z_H, z_L) = lax.stop_gradient((net, x_BxTxD, z))
  next_z_H, _ = model.recursion(net_ng, z_H, z_L, x_ng, cfg)
  _, next_q_halt, next_q_continue = model.output_heads(net_ng, next_z_H, cfg)
  target = jnp.where(is_last_B, next_q_halt, jnp.maximum(next_q_halt, next_q_continue))
  return lax.stop_gradient(jax.nn.sigmoid(target))


def segment(
  params: dict,
  carry: Carry,
  rows_BxE,
  *,
  config: HRMConfig,
  train: bool,
  rng: jax.Array | None = None,
  halt_max_steps: int | None = None,
  eval_halt: EvalHalt = "none",
):
  """One ACT step on an already reset carry; `rows_BxE` are the slots' puzzle rows.

  Separated from `apply` so that a train step can differentiate w.r.t. the rows.
  Returns (new_carry, outputs) with outputs logits [B,S,V], q_halt_logits [B],
  q_continue_logits [B] and, in training with halting and Q-continue (not
  `config.no_act_continue`), target_q_continue [B].
  """
  cfg = config
  max_steps = cfg.halt_max_steps if halt_max_steps is None else halt_max_steps
  net = params["net"]
  x_BxTxD = model.input_embedding(net, carry.inputs, rows_BxE, cfg)
  z_H, z_L = model.recursion(net, carry.z_H, carry.z_L, x_BxTxD, cfg)
  logits, q_halt, q_continue = model.output_heads(net, z_H, cfg)
  z_H, z_L = lax.stop_gradient((z_H, z_L))
  out = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}

  steps = carry.steps + 1
  is_last = steps >= max_steps
  halted = is_last
  q_halt_ng, q_continue_ng = lax.stop_gradient((q_halt, q_continue))
  if train and max_steps > 1:
    if rng is None:
      raise ValueError("apply(train=True) needs an rng for halting exploration")
    halted = halted | halt_fires(q_halt_ng, q_continue_ng, trained_halt_rule(cfg))
    k_explore, k_min = jax.random.split(rng)
    explore = jax.random.uniform(k_explore, q_halt.shape) < cfg.halt_exploration_prob
    min_halt = explore * jax.random.randint(k_min, steps.shape, 2, max_steps + 1)
    halted = halted & (steps >= min_halt)
    if not cfg.no_act_continue:
      out["target_q_continue"] = _q_continue_target(net, x_BxTxD, (z_H, z_L), is_last, cfg)
  else:
    halted = halted | halt_fires(q_halt_ng, q_continue_ng, resolve_halt_rule(eval_halt, cfg))

  new_carry = carry.replace(z_H=z_H, z_L=z_L, steps=steps, halted=halted)
  return new_carry, out


def apply(
  params: dict,
  carry: Carry,
  batch: dict,
  *,
  config: HRMConfig,
  train: bool = False,
  rng: jax.Array | None = None,
  halt_max_steps: int | None = None,
  eval_halt: EvalHalt = "none",
):
  """One ACT step of the model: a pure function; jit it (the keyword arguments static).

  Args:
    params: the pytree from `hrm_jax.init`.
    carry: from `initial_carry` or the previous call.
    batch: dict with inputs [B,S] int32, labels [B,S] int32 (-100 = ignored),
      puzzle_identifiers [B] int32. Rows are taken only by halted slots.
      Labels may be left out at evaluation (train=False); training needs them.
    config: the model's HRMConfig (static).
    train: training mode: Q-learned halting with exploration, and the Q target
      (none with config.no_act_continue: halting on q_halt > 0 alone).
    rng: PRNG key, required when train=True.
    halt_max_steps: override the number of segments before a forced halt
      (e.g. more at evaluation than in training).
    eval_halt: halting at evaluation: "none" (the reference: run max steps),
      "q_halt" (stop when q_halt > 0) or "q_halt_gt_continue".
  Returns:
    (new_carry, outputs): see `segment`.

  Shapes are checked at trace time; called outside jit (eager, slower), the batch
  values are checked too.
  """
  validate_batch(batch, config, carry=carry, labels_required=train)
  carry = reset_carry(params, carry, batch, config)
  rows = puzzle_rows(params, carry.puzzle_identifiers)
  return segment(
    params,
    carry,
    rows,
    config=config,
    train=train,
    rng=rng,
    halt_max_steps=halt_max_steps,
    eval_halt=eval_halt,
  )
