"""Running a model over puzzles: ACT segments with the answer at the first halt.

`make_eval_fn` is the one place where "the answer at the first segment where the
halting rule fires" is computed (a `lax.scan` over the segments); `predict` runs
it over a dataset's test split on a mesh, `solve` over token rows on one device
(the solve CLI and library callers).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from hrm_jax import act, losses
from hrm_jax.batch import IGNORE_LABEL, labels_of
from hrm_jax.config import HRMConfig
from hrm_jax.data.format import read_split
from hrm_jax.data.loader import eval_batches
from hrm_jax.training import parallel

HALT_RULES = act.HALT_RULES
CHUNK = 64  # puzzles per model call in `solve` (the last call is padded to the same shape)


def _final_segment_losses(out: dict, labels_BxS, loss_type: str) -> dict:
  """Per example, the reference's loss head (`losses.act_loss`) on that example alone."""

  def row(logits, q_halt, q_continue, labels):
    carry = types.SimpleNamespace(halted=jnp.ones((1,), bool), steps=jnp.ones((1,), jnp.int32))
    _, m = losses.act_loss(
      {
        "logits": logits[None],
        "q_halt_logits": q_halt[None],
        "q_continue_logits": q_continue[None],
      },
      labels[None],
      carry,
      loss_type,
    )
    return dict(
      labelled=m["count"] > 0,
      lm_loss=m["lm_loss"],
      q_halt_loss=m["q_halt_loss"],
      q_halt_correct=m["q_halt_accuracy"] > 0,
    )

  return jax.vmap(row)(out["logits"], out["q_halt_logits"], out["q_continue_logits"], labels_BxS)


def make_eval_fn(config: HRMConfig, num_segments: int, halt_rule: str = act.DEFAULT_HALT_RULE):
  """jit-able `(params, batch) -> outputs` running `num_segments` ACT segments.

  The batch may lack labels (inference): the loss head then sees only ignored labels.

  outputs: pred [B,S] and q [B] (sigmoid q_halt) after the last segment, with the
  loss head's per-example values there (labelled, lm_loss, q_halt_loss,
  q_halt_correct [B]); halt_pred [B,S], halt_q [B], halt_steps [B] at the first
  segment where the halting rule fires ("q_halt": q_halt > 0;
  "q_halt_gt_continue": q_halt > q_continue; "model": the rule the config trains with), or
  the last segment if it never does.

  `run(params, batch, carry)` may start from a given carry (default: `act.initial_carry`,
  every slot halted); a carry whose slots are not halted keeps its states and rows, which is
  how `hrm_jax.training.test_time` starts restarts from perturbed states.
  """
  halt_rule = act.resolve_halt_rule(halt_rule, config)

  def run(params, batch, carry=None):
    B = batch["inputs"].shape[0]
    carry = act.initial_carry(batch, config) if carry is None else carry
    init = dict(
      halt_pred=jnp.zeros_like(batch["inputs"]),
      halt_q=jnp.zeros((B,), jnp.float32),
      halt_steps=jnp.zeros((B,), jnp.int32),
      done=jnp.zeros((B,), bool),
    )

    def body(state, i):
      carry, rec = state
      carry, out = act.apply(
        params, carry, batch, config=config, train=False, halt_max_steps=num_segments
      )
      pred = jnp.argmax(out["logits"], axis=-1).astype(jnp.int32)
      q_halt, q_cont = out["q_halt_logits"], out["q_continue_logits"]
      fire = act.halt_fires(q_halt, q_cont, halt_rule)
      now = ~rec["done"] & (fire | (i == num_segments - 1))
      rec = dict(
        halt_pred=jnp.where(now[:, None], pred, rec["halt_pred"]),
        halt_q=jnp.where(now, jax.nn.sigmoid(q_halt), rec["halt_q"]),
        halt_steps=jnp.where(now, i + 1, rec["halt_steps"]),
        done=rec["done"] | now,
      )
      row_losses = _final_segment_losses(out, labels_of(batch), config.loss_type)
      return (carry, rec), (pred, jax.nn.sigmoid(q_halt), row_losses)

    (_, rec), (preds, qs, row_losses) = lax.scan(body, (carry, init), jnp.arange(num_segments))
    return dict(
      pred=preds[-1],
      q=qs[-1],
      halt_pred=rec["halt_pred"],
      halt_q=rec["halt_q"],
      halt_steps=rec["halt_steps"],
      **{k: v[-1] for k, v in row_losses.items()},
    )

  return run


def _num_batches(data_dir: Path, global_batch_size: int, max_examples: int) -> int:
  sizes = [d.num_examples for d in read_split(data_dir, "test")[1].values()]
  n = sum(-(-s // global_batch_size) for s in sizes)
  return min(n, -(-max_examples // global_batch_size)) if max_examples else n


def predict(
  params,
  config: HRMConfig,
  data_dir: Path,
  mesh,
  *,
  num_segments: int,
  halt_rule: str = act.DEFAULT_HALT_RULE,
  global_batch_size: int = 256,
  max_examples: int = 0,
  eval_fn=None,
  progress: bool = False,
) -> dict[str, np.ndarray]:
  """Run the model over the test split; returns host arrays of the real (unpadded) rows.

  Keys: inputs, labels, puzzle_identifiers, example_index [N, ...] and the
  outputs of `make_eval_fn`. `params` should be replicated on `mesh`.
  `progress`: a tqdm bar over the evaluation batches (on stderr).
  """
  from tqdm import tqdm

  if eval_fn is None:
    eval_fn = jax.jit(make_eval_fn(config, num_segments, halt_rule))
  parallel.check_batch_size(mesh, global_batch_size, "the evaluation batch size")
  host_batches = []  # each evaluated batch's real rows, on the host
  batches = eval_batches(
    data_dir,
    "test",
    global_batch_size=global_batch_size,
    process_index=jax.process_index(),
    process_count=jax.process_count(),
  )
  bar = tqdm(
    total=_num_batches(data_dir, global_batch_size, max_examples),
    desc="eval",
    unit="batch",
    disable=not progress,
    leave=False,
    dynamic_ncols=True,
  )
  with bar:
    for local in batches:
      batch = parallel.shard_batch(mesh, local)
      model_in = {k: batch[k] for k in ("inputs", "labels", "puzzle_identifiers")}
      out = parallel.to_host({**eval_fn(params, model_in), **batch})
      keep = out.pop("mask")
      host_batches.append({k: v[keep] for k, v in out.items()})
      bar.update(1)
      if max_examples and sum(len(b["inputs"]) for b in host_batches) >= max_examples:
        break
  predictions = {k: np.concatenate([b[k] for b in host_batches]) for k in host_batches[0]}
  if max_examples:
    predictions = {k: v[:max_examples] for k, v in predictions.items()}
  return predictions


@dataclasses.dataclass
class Solution:
  """Model answers for a batch of puzzles (one row each)."""

  prediction: np.ndarray  # [N, S] int32 tokens: argmax of the logits at the halting segment
  segments: np.ndarray  # [N] int32 segments run until the halt
  confidence: np.ndarray  # [N] float32 sigmoid(q_halt) at the halting segment
  halted_by_q: np.ndarray  # [N] bool: the halting rule fired before the segment limit
  restart_segments: np.ndarray | None = None  # [N] segments over all K restarts (with K)


@functools.lru_cache(maxsize=8)
def jitted_eval_fn(
  config: HRMConfig,
  num_segments: int,
  halt_rule: str,
  restarts: int | None = None,
  noise: float = 0.0,
  select: str = "q",
):
  """The jitted `make_eval_fn`, or with `restarts` K the jitted K noisy restarts of
  `hrm_jax.training.test_time` (scale `noise`, the answer kept by `select`)."""
  if restarts is None:
    return jax.jit(make_eval_fn(config, num_segments, halt_rule))
  from hrm_jax.training import test_time

  return jax.jit(
    test_time.make_restart_eval_fn(
      config, num_segments, halt_rule, restarts=restarts, noise=noise, select=select
    )
  )


def solve(
  params: dict,
  config: HRMConfig,
  inputs,
  puzzle_identifiers=None,
  *,
  max_steps: int | None = None,
  eval_halt: str = act.DEFAULT_HALT_RULE,
  restarts: int | None = None,
  restart_noise: float = 0.0,
  restart_select: str = "q",
) -> Solution:
  """Run ACT on token rows `inputs` [N, S]; return each row's answer at its halting segment.

  `eval_halt`: "q_halt" (q_halt > 0), "q_halt_gt_continue" (q_halt > q_continue)
  or "none" (the answer after all segments); at most `max_steps` (default:
  config.halt_max_steps) segments. The segments are run by `make_eval_fn`,
  in calls of CHUNK rows. `restarts` K: K noisy restarts batched on the device (see
  `jitted_eval_fn`); the Solution then also has `restart_segments`.
  """
  eval_halt = act.resolve_halt_rule(eval_halt, config)
  inputs = np.asarray(inputs, np.int32)
  if inputs.ndim == 1:
    inputs = inputs[None]
  n = len(inputs)
  pids = (
    np.zeros(n, np.int32)
    if puzzle_identifiers is None
    else np.broadcast_to(np.asarray(puzzle_identifiers, np.int32), (n,))
  )
  segments = int(max_steps or config.halt_max_steps)
  rule = act.DEFAULT_HALT_RULE if eval_halt == "none" else eval_halt
  run = jitted_eval_fn(config, segments, rule, restarts, float(restart_noise), restart_select)
  size = min(n, CHUNK)
  parts = []
  for lo in range(0, n, size):
    row_ids = np.arange(lo, lo + size) % n  # the last chunk repeats rows to keep one shape
    # The evaluator's loss head reads labels: all ignored here (nothing to compare with).
    batch = {
      "inputs": jnp.asarray(inputs[row_ids]),
      "puzzle_identifiers": jnp.asarray(pids[row_ids]),
      "labels": jnp.full((size, inputs.shape[1]), IGNORE_LABEL, jnp.int32),
    }
    out = jax.device_get(run(params, batch))
    parts.append({k: np.asarray(v)[: min(size, n - lo)] for k, v in out.items()})
  outputs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  spent = outputs.get("restart_segments")
  spent = None if spent is None else spent.astype(np.int32)
  if eval_halt == "none":
    return Solution(
      outputs["pred"].astype(np.int32),
      np.full(n, segments, np.int32),
      outputs["q"].astype(np.float32),
      np.zeros(n, bool),
      spent,
    )
  steps = outputs["halt_steps"].astype(np.int32)
  return Solution(
    outputs["halt_pred"].astype(np.int32),
    steps,
    outputs["halt_q"].astype(np.float32),
    steps < segments,
    spent,
  )
