"""Evaluation on the test split, and `python -m hrm_jax.evaluate --checkpoint DIR`.

Every test example runs for `K` ACT segments (the reference's evaluation). The
same pass also records, per example, the answer at the first segment where the
Q head says halt ("halting at evaluation"): without halting a slot simply keeps
refining the same example, so the trajectory up to that segment is identical.
Reported: exact and token accuracy and mean segments for both, plus the task's
own metrics (maze paths, Sudoku validity, ARC pass@k).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from hrm_jax import act, experiment, parallel, tasks
from hrm_jax.config import HRMConfig
from hrm_jax.data.format import read_split
from hrm_jax.data.loader import eval_batches

IGNORE = -100


def make_eval_fn(config: HRMConfig, num_segments: int, halt_rule: str):
  """jit-able `(params, batch) -> outputs` running `num_segments` ACT segments.

  outputs: pred [B,S] and q [B] (sigmoid q_halt) after the last segment;
  halt_pred [B,S], halt_q [B], halt_steps [B] at the first segment where the
  halting rule fires ("q_halt": q_halt > 0; "q_halt_gt_continue": q_halt > q_continue),
  or the last segment if it never does.
  """
  def run(params, batch):
    B = batch["inputs"].shape[0]
    carry = act.initial_carry(batch, config)
    init = dict(halt_pred=jnp.zeros_like(batch["inputs"]), halt_q=jnp.zeros((B,), jnp.float32),
                halt_steps=jnp.zeros((B,), jnp.int32), done=jnp.zeros((B,), bool))

    def body(state, i):
      carry, rec = state
      carry, out = act.apply(params, carry, batch, config=config, train=False,
                             halt_max_steps=num_segments)
      pred = jnp.argmax(out["logits"], axis=-1).astype(jnp.int32)
      q_halt, q_cont = out["q_halt_logits"], out["q_continue_logits"]
      fire = q_halt > 0 if halt_rule == "q_halt" else q_halt > q_cont
      now = ~rec["done"] & (fire | (i == num_segments - 1))
      rec = dict(halt_pred=jnp.where(now[:, None], pred, rec["halt_pred"]),
                 halt_q=jnp.where(now, jax.nn.sigmoid(q_halt), rec["halt_q"]),
                 halt_steps=jnp.where(now, i + 1, rec["halt_steps"]), done=rec["done"] | now)
      return (carry, rec), (pred, jax.nn.sigmoid(q_halt))

    (_, rec), (preds, qs) = lax.scan(body, (carry, init), jnp.arange(num_segments))
    return dict(pred=preds[-1], q=qs[-1], halt_pred=rec["halt_pred"], halt_q=rec["halt_q"],
                halt_steps=rec["halt_steps"])

  return run


def predict(params, config: HRMConfig, data_dir: Path, mesh, *, num_segments: int,
            halt_rule: str = "q_halt_gt_continue", global_batch_size: int = 256,
            max_examples: int = 0, eval_fn=None) -> dict[str, np.ndarray]:
  """Run the model over the test split; returns host arrays of the real (unpadded) rows.

  Keys: inputs, labels, puzzle_identifiers, example_index [N, ...] and the
  outputs of `make_eval_fn`. `params` should be replicated on `mesh`.
  """
  if eval_fn is None:
    eval_fn = jax.jit(make_eval_fn(config, num_segments, halt_rule))
  parallel.local_batch_size(mesh, global_batch_size)
  rows = []
  for local in eval_batches(data_dir, "test", global_batch_size=global_batch_size,
                            process_index=jax.process_index(), process_count=jax.process_count()):
    batch = parallel.shard_batch(mesh, local)
    model_in = {k: batch[k] for k in ("inputs", "labels", "puzzle_identifiers")}
    out = parallel.to_host({**eval_fn(params, model_in), **batch})
    keep = out.pop("mask")
    rows.append({k: v[keep] for k, v in out.items()})
    if max_examples and sum(len(r["inputs"]) for r in rows) >= max_examples:
      break
  got = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
  if max_examples:
    got = {k: v[:max_examples] for k, v in got.items()}
  return got


def _accuracies(pred, labels) -> tuple[np.ndarray, np.ndarray]:
  mask = labels != IGNORE
  correct = (pred == labels) & mask
  exact = correct.sum(1) == mask.sum(1)
  token = correct.sum(1) / np.maximum(mask.sum(1), 1)
  return exact, token


TASK_METRICS = {"maze": ("valid_path", "optimal_path"), "sudoku": ("valid_solution",),
                "parity": ("prefix_right",), "arc": ()}


def metric_names(task: str, pass_k: int = 10) -> tuple[str, ...]:
  """Every key `score` returns for `task` (to check a metric name before a run starts)."""
  own = TASK_METRICS[task] + (tuple(f"pass@{k}" for k in sorted({1, 2, pass_k}))
                              if task == "arc" else ())
  per_rule = ("exact_accuracy", "token_accuracy") + own
  return ("examples", *per_rule, *("halt/" + n for n in per_rule), "segments", "halt/segments")


def score(task: str, got: dict[str, np.ndarray], data_dir: Path, num_segments: int,
          pass_k: int = 10) -> dict[str, float]:
  """Metrics of `predict`'s output. Plain names: K segments; "halt/" names: halting at eval."""
  metrics = {"examples": float(len(got["inputs"]))}
  for prefix, pred in (("", got["pred"]), ("halt/", got["halt_pred"])):
    exact, token = _accuracies(pred, got["labels"])
    metrics[prefix + "exact_accuracy"] = float(exact.mean())
    metrics[prefix + "token_accuracy"] = float(token.mean())
    if task == "maze":
      for k, v in tasks.maze_path_metrics(got["inputs"], pred).items():
        metrics[prefix + k] = float(v.mean())
    elif task == "parity":
      for k, v in tasks.parity_metrics(got["labels"], pred).items():
        metrics[prefix + k] = float(v.mean())
    elif task == "sudoku":
      for k, v in tasks.sudoku_metrics(got["inputs"], pred).items():
        metrics[prefix + k] = float(v.mean())
    elif task == "arc":
      _, sets = read_split(data_dir, "test")
      data = next(iter(sets.values()))
      puzzle = np.searchsorted(data.puzzle_indices, got["example_index"], side="right") - 1
      pair = got["example_index"] - data.puzzle_indices[puzzle]
      q = got["q"] if not prefix else got["halt_q"]
      ks = tuple(sorted({1, 2, pass_k}))
      metrics.update({prefix + k: v for k, v in tasks.arc_metrics(
          data_dir, got["puzzle_identifiers"], pair, pred, got["labels"], q, ks).items()})
  metrics["segments"] = float(num_segments)
  metrics["halt/segments"] = float(got["halt_steps"].mean())
  return metrics


def evaluate(params, config: HRMConfig, task: str, data_dir: Path, mesh, *, num_segments: int,
             halt_rule: str = "q_halt_gt_continue", global_batch_size: int = 256,
             max_examples: int = 0, pass_k: int = 10, eval_fn=None):
  """`predict` then `score`: returns (metrics, predictions)."""
  got = predict(params, config, data_dir, mesh, num_segments=num_segments, halt_rule=halt_rule,
                global_batch_size=global_batch_size, max_examples=max_examples, eval_fn=eval_fn)
  return score(task, got, data_dir, num_segments, pass_k), got


# ----------------------------------------------------------------------------- CLI

def load_for_eval(checkpoint: str | Path, use_ema: bool = True):
  """(params, config, meta) from a run directory, a checkpoint root or step, or a model dir."""
  from absl import logging as absl_logging
  from hrm_jax import export
  absl_logging.set_verbosity(absl_logging.ERROR)  # orbax warns about the items it skips
  path = Path(checkpoint)
  if (path / "checkpoints").is_dir():
    path = path / "checkpoints"
  params, config, meta = export.load_model(path)
  step_dir = export.resolve_model_dir(path)
  if use_ema and (step_dir / "ema").is_dir():
    import orbax.checkpoint as ocp
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, params)
    params = ocp.StandardCheckpointer().restore(step_dir / "ema", abstract)
    meta = {**meta, "evaluated_params": "ema"}
  return params, config, {**meta, "step_dir": str(step_dir)}


def main(argv: list[str] | None = None) -> int:
  """`python -m hrm_jax.evaluate --checkpoint DIR [--data DIR] [--task T] ...`."""
  p = argparse.ArgumentParser(description="Evaluate a saved hrm_jax run or converted model.")
  p.add_argument("--checkpoint", required=True,
                 help="run dir, its checkpoints/ dir, one step dir, or a model dir (export)")
  p.add_argument("--data", default="", help="dataset dir (default: the one the run used)")
  p.add_argument("--task", default="", help="maze|sudoku|arc|parity (default: from the checkpoint)")
  p.add_argument("--segments", type=int, default=0, help="ACT segments (default: halt_max_steps)")
  p.add_argument("--halt-rule", default="q_halt_gt_continue", choices=("q_halt", "q_halt_gt_continue"))
  p.add_argument("--batch-size", type=int, default=256)
  p.add_argument("--max-examples", type=int, default=0)
  p.add_argument("--pass-k", type=int, default=10)
  p.add_argument("--no-ema", action="store_true", help="evaluate the raw, not the EMA, parameters")
  p.add_argument("--out", default="", help="also write the metrics as JSON here")
  a = p.parse_args(argv)
  parallel.maybe_initialize_distributed()
  params, config, meta = load_for_eval(a.checkpoint, use_ema=not a.no_ema)
  task = a.task or meta.get("task", "")
  data = Path(a.data or meta.get("data_path", ""))
  if task not in experiment.TASKS:
    p.error("the checkpoint does not name its task; pass --task")
  if not (data / "test" / "dataset.json").is_file():
    p.error(f"test split not found under {str(data)!r}; pass --data")
  mesh = parallel.make_mesh()
  params = parallel.replicate(mesh, params)
  segments = a.segments or config.halt_max_steps
  metrics, _ = evaluate(params, config, task, data, mesh, num_segments=segments,
                        halt_rule=a.halt_rule, global_batch_size=a.batch_size,
                        max_examples=a.max_examples, pass_k=a.pass_k)
  print(json.dumps({"checkpoint": meta["step_dir"], "task": task, **metrics}, indent=1))
  if a.out:
    Path(a.out).write_text(json.dumps(metrics, indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
