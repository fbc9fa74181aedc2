"""Test-time compute: K stochastic restarts of the ACT evaluation, batched over K on the device.

Every restart runs the evaluation scan of `inference.make_eval_fn` from the reset initial
states (z_H0, z_L0) plus Gaussian noise of scale `noise`; the K runs are one `jax.vmap`, not a
loop. Per example one restart's answer is kept, chosen by

  "q"     the Q head's confidence (the highest sigmoid(q_halt) at the answer's segment)
  "vote"  majority vote over the K answers (whole rows compared; ties: the most confident)

With K=1 and noise 0 the outputs are exactly those of the plain evaluation. More segments
than trained is the evaluation's own `num_segments`; `sweep` below crosses the two.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from hrm_jax import act
from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError
from hrm_jax.training import inference

Select = Literal["q", "vote"]
SELECT_RULES = ("q", "vote")


class TestTimeError(UserError, ValueError):
  """A restart setting out of range."""


def check(restarts: int, noise: float, select: str) -> None:
  """Raise TestTimeError unless restarts >= 1, noise >= 0 and select is a known rule."""
  if int(restarts) != restarts or restarts < 1:
    raise TestTimeError(f"restarts must be a positive integer, got {restarts!r}")
  if not noise >= 0:
    raise TestTimeError(f"the restart noise scale must be >= 0, got {noise!r}")
  if select not in SELECT_RULES:
    raise TestTimeError(f"the restart selection must be one of {SELECT_RULES}, got {select!r}")


def add_cli_options(parser) -> None:
  """The restart flags of the evaluate and solve CLIs: --restarts, --restart-noise,
  --restart-select (read back by `cli_options`)."""
  parser.add_argument(
    "--restarts",
    type=int,
    default=None,
    help="K noisy restarts batched on the device, one answer kept (omitted: one plain run)",
  )
  parser.add_argument(
    "--restart-noise", type=float, default=0.1, help="std of the noise on z_H, z_L (with K)"
  )
  parser.add_argument(
    "--restart-select",
    default="vote",
    choices=SELECT_RULES,
    help="the restart kept: majority vote or the Q head's confidence",
  )


def cli_options(args) -> dict:
  """{restarts, restart_noise, restart_select} of parsed `add_cli_options` flags, checked."""
  if args.restarts is not None:
    check(args.restarts, args.restart_noise, args.restart_select)
  return dict(
    restarts=args.restarts, restart_noise=args.restart_noise, restart_select=args.restart_select
  )


def noisy_carry(params: dict, batch: dict, config: HRMConfig, key, noise: float) -> act.Carry:
  """The evaluation's first carry after the reset, z_H/z_L plus N(0, noise^2), slots running.

  The slots are marked not halted so that the first segment keeps these states
  (`act.reset_carry` only resets halted slots).
  """
  carry = act.reset_carry(params, act.initial_carry(batch, config), batch, config)
  k_H, k_L = jax.random.split(key)
  shape, dtype = carry.z_H.shape, carry.z_H.dtype
  return carry.replace(
    z_H=carry.z_H + (noise * jax.random.normal(k_H, shape)).astype(dtype),
    z_L=carry.z_L + (noise * jax.random.normal(k_L, shape)).astype(dtype),
    halted=jnp.zeros_like(carry.halted),
  )


def choose(pred_KxBxS, q_KxB, select: Select) -> jax.Array:
  """[B] int32: the restart whose answer each example keeps (see the module docstring)."""
  if select == "q":
    return jnp.argmax(q_KxB, axis=0).astype(jnp.int32)
  same_KxKxB = jnp.all(pred_KxBxS[:, None] == pred_KxBxS[None], axis=-1)
  votes_KxB = same_KxKxB.sum(axis=1).astype(jnp.float32)
  return jnp.argmax(votes_KxB + 0.5 * jnp.clip(q_KxB, 0.0, 1.0), axis=0).astype(jnp.int32)


def make_restart_eval_fn(
  config: HRMConfig,
  num_segments: int,
  halt_rule: str = act.DEFAULT_HALT_RULE,
  *,
  restarts: int = 1,
  noise: float = 0.0,
  select: Select = "q",
  seed: int = 0,
):
  """jit-able `(params, batch) -> outputs`, the keys of `inference.make_eval_fn`'s outputs.

  The K-segment answer (pred, q and the loss values) and the answer at the halt (halt_pred,
  halt_q, halt_steps) are each the chosen restart's. Added: restart_segments [B], the
  segments run over all K restarts until each one's halt (the test-time compute spent), and
  restart_agree [B], the share of restarts whose halting answer is the chosen one. The noise
  comes from `seed` (the same draw for every batch of one shape).
  """
  check(restarts, noise, select)
  run = inference.make_eval_fn(config, num_segments, halt_rule)

  def run_restarts(params, batch):
    if restarts == 1:  # one run, no vmap: the plain evaluation's computation, bit for bit
      out = run(params, batch, noisy_carry(params, batch, config, jax.random.key(seed), noise))
      return {
        **out,
        "restart_segments": out["halt_steps"],
        "restart_agree": jnp.ones_like(out["q"]),
      }
    keys = jax.random.split(jax.random.key(seed), restarts)
    one = lambda key: run(params, batch, noisy_carry(params, batch, config, key, noise))
    out_K = jax.vmap(one)(keys)
    pick = lambda x_K, at_B: jnp.take_along_axis(
      x_K, at_B.reshape((1, -1) + (1,) * (x_K.ndim - 2)), axis=0
    )[0]
    at_final = choose(out_K["pred"], out_K["q"], select)
    at_halt = choose(out_K["halt_pred"], out_K["halt_q"], select)
    halt_keys = ("halt_pred", "halt_q", "halt_steps")
    out = {k: pick(v, at_halt if k in halt_keys else at_final) for k, v in out_K.items()}
    agree = jnp.all(out_K["halt_pred"] == out["halt_pred"][None], axis=-1)
    out["restart_segments"] = out_K["halt_steps"].sum(axis=0)
    out["restart_agree"] = agree.mean(axis=0)
    return out

  return run_restarts


def points(
  trained: int, segments_x: tuple[float, ...], restarts: tuple[int, ...], max_compute: float = 0
) -> tuple[tuple[int, int], ...]:
  """The (segments, restarts) pairs of a sweep: every multiple of the `trained` segments
  crossed with every K, less those whose segments x K exceeds `max_compute` x trained
  (0: no cap)."""
  segs = sorted({max(int(x * trained), 1) for x in segments_x})
  cap = max_compute * trained if max_compute else float("inf")
  return tuple((n, k) for n in segs for k in restarts if n * k <= cap)


def sweep(
  params,
  config: HRMConfig,
  task: str,
  data_dir,
  mesh,
  *,
  points: tuple[tuple[int, int], ...],
  noise: float = 0.0,
  select: Select = "q",
  halt_rule: str = act.DEFAULT_HALT_RULE,
  global_batch_size: int = 256,
  max_examples: int = 0,
  known: dict | None = None,
) -> list[dict]:
  """Evaluate at every (segments, restarts) pair of `points`; one row of metrics each.

  `known`: {segments: metrics} of plain evaluations already run (`evaluate.evaluate` with
  the same settings), reused for their one-restart rows instead of compiling them again.

  Row: segments, restarts, compute (segments x restarts), exact_accuracy and token_accuracy
  after all segments, halt/exact_accuracy and halt/segments with halting (the segments of
  the chosen restart), halt/compute (segments run over all restarts until their halts).
  """
  from hrm_jax.training import evaluate

  rows = []
  for n, k in points:
    if k == 1 and n in (known or {}):
      m = known[n]
      rows.append(_row(n, k, m, m["halt/segments"]))
      continue
    metrics, _ = evaluate.evaluate(
      params,
      config,
      task,
      data_dir,
      mesh,
      num_segments=n,
      halt_rule=halt_rule,
      global_batch_size=global_batch_size,
      max_examples=max_examples,
      pass_ks=(1,),
      restarts=k,
      restart_noise=noise if k > 1 else 0.0,
      restart_select=select,
    )
    rows.append(_row(n, k, metrics, metrics["restart_segments"]))
  return rows


def _row(segments: int, restarts: int, metrics: dict, compute: float) -> dict:
  """One row of `sweep`."""
  keep = ("exact_accuracy", "token_accuracy", "halt/exact_accuracy", "halt/segments")
  return dict(
    segments=segments,
    restarts=restarts,
    compute=segments * restarts,
    **{k: metrics[k] for k in keep},
    **{"halt/compute": compute},
  )
