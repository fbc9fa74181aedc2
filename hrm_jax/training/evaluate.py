"""Evaluation on the test split (the command line: `python -m hrm_jax.tools.evaluate`).

Every test example runs for `K` ACT segments (the reference's evaluation). The
same pass also records, per example, the answer at the first segment where the
Q head says halt ("halting at evaluation"): without halting a slot simply keeps
refining the same example, so the trajectory up to that segment is identical.

Reported (`metric_names` lists them in order; plain names: after K segments,
"halt/" names: halting at evaluation):

  examples                  test examples scored (a subsample when eval.max_examples is set)
  exact_accuracy            share of examples with every labelled token right
  exact_accuracy_stderr     its standard error, sqrt(p (1 - p) / examples)
  token_accuracy            mean share of labelled tokens right
  (the task's own)          the metrics of the task's module (`hrm_jax.tasks.get(task)`), e.g.
                            valid_path and optimal_path (maze), or pass@K and pass@K/per_input
                            for every K of eval.pass_ks (ARC)
  lm_loss, q_halt_loss,     the authors' eval losses at the final segment: per example the
  q_halt_accuracy           reference's loss head (`losses.act_loss`), averaged over the
                            examples with a label (their count is the reference's `count`)
  segments, halt/segments   segments run (K), mean segments when halting

With `restarts` R (the CLI's --restarts), each example runs R noisy restarts batched on the
device (`hrm_jax.training.test_time`), the metrics are the kept restart's, and three keys
are added: restarts (R), restart_segments (mean segments run over all R restarts until each
one's halt: the test-time compute) and restart_agree (mean share of restarts whose halting
answer is the kept one).

A task may also write a file of its answers when given a path (ARC: `submission.json`
in the ARC Prize format, see `hrm_jax.tasks.arc.arc_submission`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np

from hrm_jax import act, tasks
from hrm_jax.config import HRMConfig
from hrm_jax.data.format import read_metadata
from hrm_jax.errors import UserError
from hrm_jax.training import inference

DEFAULT_PASS_KS = (1, 2, 5, 10, 100, 1000)
LOSS_METRICS = ("lm_loss", "q_halt_loss", "q_halt_accuracy")


class EvaluateError(UserError, ValueError):
  """A checkpoint that cannot be read, or a dataset that does not fit it."""


def pass_ks_of(pass_ks: int | Iterable[int] = DEFAULT_PASS_KS) -> tuple[int, ...]:
  """The sorted distinct K of pass@K; an int K means (1, 2, K) (the former `eval.pass_k`)."""
  ks = (1, 2, pass_ks) if isinstance(pass_ks, (int, np.integer)) else tuple(pass_ks)
  if not ks or any(int(k) != k or k < 1 for k in ks):
    raise EvaluateError(f"pass@K needs positive integers K, got {pass_ks!r}")
  return tuple(sorted({int(k) for k in ks}))


def metric_names(task: str, pass_ks: int | Iterable[int] = DEFAULT_PASS_KS) -> tuple[str, ...]:
  """Every key `score` returns for `task`, in its order (to check a metric name before a run).

  `pass_ks`: eval.pass_ks (an int K is read as the former eval.pass_k: pass@1, @2, @K).
  """
  own = tasks.get(task).metric_names(pass_ks_of(pass_ks))
  per_rule = ("exact_accuracy", "token_accuracy") + own
  return (
    "examples",
    "exact_accuracy",
    "exact_accuracy_stderr",
    *per_rule[1:],
    *("halt/" + n for n in per_rule),
    *LOSS_METRICS,
    "segments",
    "halt/segments",
  )


HEADLINE_PASS_KS = (1, 2)  # the pass@K shown in one-line summaries (all are in the metrics)


def headline(metrics: dict[str, float]) -> str:
  """One short line of the metrics a person reads first (accuracies, task metrics, pass@1/2,
  with halting at evaluation, segments); the full set is in `metrics`."""
  keep = [
    k
    for k in metrics
    if not k.startswith(("pass@", "halt/pass@"))
    and k not in ("examples", "exact_accuracy_stderr", "segments", *LOSS_METRICS[:2])
  ]
  keep += [
    k for k in metrics if k.startswith("pass@") and int(k[5:].split("/")[0]) in HEADLINE_PASS_KS
  ]
  return " ".join(f"{k}={metrics[k]:.4f}" for k in keep)


def score(
  task: str,
  predictions: dict[str, np.ndarray],
  data_dir: Path | None,
  num_segments: int,
  pass_ks: int | Iterable[int] = DEFAULT_PASS_KS,
  *,
  submission_path: Path | None = None,
) -> dict[str, float]:
  """Metrics of `predict`'s output (module docstring), keyed and ordered as `metric_names`.

  `submission_path`: where the task writes a file of its K-segment answers, if it has one
  (ARC: the ARC Prize submission).
  """
  ks = pass_ks_of(pass_ks)
  the_task = tasks.get(task)
  n = len(predictions["inputs"])
  metrics = {"examples": float(n)}
  k_segment = (predictions["pred"], predictions.get("q"))
  for prefix, pred, q in (
    ("", *k_segment),
    ("halt/", predictions["halt_pred"], predictions.get("halt_q")),
  ):
    exact, token = tasks.accuracies(pred, predictions["labels"])
    metrics[prefix + "exact_accuracy"] = float(exact.mean())
    metrics[prefix + "token_accuracy"] = float(token.mean())
    if not prefix or not _same_answers((pred, q), k_segment):  # (no second pass for the same)
      own = the_task.metrics(
        predictions, pred, q, data_dir, ks, submission_path=None if prefix else submission_path
      )
    metrics.update({prefix + k: v for k, v in own.items()})
  p = metrics["exact_accuracy"]
  metrics["exact_accuracy_stderr"] = math.sqrt(p * (1 - p) / n) if n else 0.0
  labelled = predictions["labelled"].astype(bool)
  count = max(int(labelled.sum()), 1)
  metrics["lm_loss"] = float(predictions["lm_loss"][labelled].sum() / count)
  metrics["q_halt_loss"] = float(predictions["q_halt_loss"][labelled].sum() / count)
  metrics["q_halt_accuracy"] = float((predictions["q_halt_correct"] & labelled).sum() / count)
  metrics["segments"] = float(num_segments)
  metrics["halt/segments"] = float(predictions["halt_steps"].mean())
  names = metric_names(task, ks)
  assert set(names) == set(metrics), set(names) ^ set(metrics)
  return {k: metrics[k] for k in names}


def _same_answers(a: tuple, b: tuple) -> bool:
  """Whether two (answers, confidences or None) pairs are equal."""
  return all(
    x is y or (x is not None and y is not None and np.array_equal(x, y)) for x, y in zip(a, b)
  )


def evaluate(
  params,
  config: HRMConfig,
  task: str,
  data_dir: Path,
  mesh,
  *,
  num_segments: int,
  halt_rule: str = act.DEFAULT_HALT_RULE,
  global_batch_size: int = 256,
  max_examples: int = 0,
  pass_ks: int | Iterable[int] = DEFAULT_PASS_KS,
  eval_fn=None,
  progress: bool = False,
  submission_path: Path | None = None,
  restarts: int | None = None,
  restart_noise: float = 0.0,
  restart_select: str = "q",
):
  """`predict` then `score`: returns (metrics, predictions).

  `submission_path`: see `score` (ARC: the ARC Prize `submission.json` is written there).
  `restarts`, `restart_noise`, `restart_select`: K noisy restarts (module docstring; None:
  the plain evaluation), unless `eval_fn` is given.
  """
  if eval_fn is None and restarts is not None:
    eval_fn = inference.jitted_eval_fn(
      config, num_segments, halt_rule, int(restarts), float(restart_noise), restart_select
    )
  predictions = inference.predict(
    params,
    config,
    data_dir,
    mesh,
    num_segments=num_segments,
    halt_rule=halt_rule,
    global_batch_size=global_batch_size,
    max_examples=max_examples,
    eval_fn=eval_fn,
    progress=progress,
  )
  metrics = score(
    task, predictions, data_dir, num_segments, pass_ks, submission_path=submission_path
  )
  if "restart_segments" in predictions:
    metrics["restarts"] = float(restarts or 1)
    for k in ("restart_segments", "restart_agree"):
      metrics[k] = float(predictions[k].mean())
  return metrics, predictions


def check_dataset(config: HRMConfig, task: str, data_dir: Path) -> None:
  """Raise a UserError unless `data_dir`'s test split fits the model and `task`.

  Compared: the task of the builder recorded in build_args.json (when it names
  one: `tasks.check_built_for`) and the test split's seq_len, vocab_size and
  num_puzzle_identifiers.
  """
  if not (data_dir / "test" / "dataset.json").is_file():
    raise EvaluateError(
      f"no test split under {str(data_dir)!r} (expected test/dataset.json)",
      hint="pass the dataset directory with --data",
    )
  tasks.check_built_for(
    task, data_dir, hint="pass the dataset the model was trained for with --data"
  )
  meta = read_metadata(data_dir, "test")
  wrong = [
    f"{k} {getattr(meta, k)} (model: {getattr(config, k)})"
    for k in ("seq_len", "vocab_size", "num_puzzle_identifiers")
    if getattr(meta, k) != getattr(config, k)
  ]
  if wrong:
    raise EvaluateError(
      f"{data_dir} does not fit this {task} model: " + ", ".join(wrong),
      hint="pass the dataset the model was trained on with --data",
    )
