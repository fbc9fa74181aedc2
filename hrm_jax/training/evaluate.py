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
  valid_path, optimal_path  maze; valid_solution: Sudoku; prefix_right: parity
  pass@K, pass@K/per_input  ARC, for every K of eval.pass_ks (see `hrm_jax.tasks`): `pass@K`
                            a task counts only if ALL its test inputs are in the top K (the
                            HRM evaluation); `/per_input` a task counts the FRACTION of its
                            test inputs in the top K (the TRM evaluator)
  lm_loss, q_halt_loss,     the authors' eval losses at the final segment: per example the
  q_halt_accuracy           reference's loss head (`losses.act_loss`), averaged over the
                            examples with a label (their count is the reference's `count`)
  segments, halt/segments   segments run (K), mean segments when halting

An ARC evaluation also writes `submission.json` in the ARC Prize format (see
`tasks.arc_submission`) when given a path.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

import numpy as np

from hrm_jax import act, tasks
from hrm_jax.config import HRMConfig
from hrm_jax.data.format import read_metadata, read_split
from hrm_jax.errors import UserError
from hrm_jax.training import inference

DEFAULT_PASS_KS = (1, 2, 5, 10, 100, 1000)
TASK_METRICS = {"maze": ("valid_path", "optimal_path"), "sudoku": ("valid_solution",),
                "parity": ("prefix_right",), "arc": ()}
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
  own = TASK_METRICS[task]
  if task == "arc":
    own += tuple(f"pass@{k}{rule}" for k in pass_ks_of(pass_ks) for rule in tasks.PASS_RULES)
  per_rule = ("exact_accuracy", "token_accuracy") + own
  return ("examples", "exact_accuracy", "exact_accuracy_stderr", *per_rule[1:],
          *("halt/" + n for n in per_rule), *LOSS_METRICS, "segments", "halt/segments")


HEADLINE_PASS_KS = (1, 2)   # the pass@K shown in one-line summaries (all are in the metrics)


def headline(metrics: dict[str, float]) -> str:
  """One short line of the metrics a person reads first (accuracies, task metrics, pass@1/2,
  with halting at evaluation, segments); the full set is in `metrics`."""
  keep = [k for k in metrics if not k.startswith(("pass@", "halt/pass@"))
          and k not in ("examples", "exact_accuracy_stderr", "segments", *LOSS_METRICS[:2])]
  keep += [k for k in metrics
           if k.startswith("pass@") and int(k[5:].split("/")[0]) in HEADLINE_PASS_KS]
  return " ".join(f"{k}={metrics[k]:.4f}" for k in keep)


def _arc_pairs(data_dir: Path, example_index_N: np.ndarray) -> np.ndarray:
  """The test-input index (within its task) of each test example."""
  data = next(iter(read_split(data_dir, "test")[1].values()))
  puzzle = np.searchsorted(data.puzzle_indices, example_index_N, side="right") - 1
  return example_index_N - data.puzzle_indices[puzzle]


def score(task: str, got: dict[str, np.ndarray], data_dir: Path | None, num_segments: int,
          pass_ks: int | Iterable[int] = DEFAULT_PASS_KS, *,
          submission_path: Path | None = None) -> dict[str, float]:
  """Metrics of `predict`'s output (module docstring), keyed and ordered as `metric_names`.

  ARC: with `submission_path`, also writes the ARC Prize submission of the K-segment
  answers there (`tasks.arc_submission`).
  """
  ks = pass_ks_of(pass_ks)
  n = len(got["inputs"])
  metrics = {"examples": float(n)}
  for prefix, pred in (("", got["pred"]), ("halt/", got["halt_pred"])):
    exact, token = tasks.accuracies(pred, got["labels"])
    metrics[prefix + "exact_accuracy"] = float(exact.mean())
    metrics[prefix + "token_accuracy"] = float(token.mean())
    if task == "maze":
      own = tasks.maze_path_metrics(got["inputs"], pred)
    elif task == "parity":
      own = tasks.parity_metrics(got["labels"], pred)
    elif task == "sudoku":
      own = tasks.sudoku_metrics(got["inputs"], pred)
    else:
      own = {}
    metrics.update({prefix + k: float(v.mean()) for k, v in own.items()})
    if task == "arc":
      q = got["halt_q"] if prefix else got["q"]
      if not prefix or not (np.array_equal(pred, got["pred"]) and np.array_equal(q, got["q"])):
        # (halting answers equal to the K-segment ones are not voted on twice)
        ranked, truths = tasks.arc_rank(data_dir, got["puzzle_identifiers"],
                                        _arc_pairs(data_dir, got["example_index"]), pred,
                                        got["labels"], q)
      metrics.update({prefix + k: v for k, v in tasks.pass_at_k(ranked, truths, ks).items()})
      if not prefix and submission_path is not None:
        write_submission(tasks.arc_submission(ranked, tasks.arc_test_inputs(data_dir)),
                         submission_path)
  p = metrics["exact_accuracy"]
  metrics["exact_accuracy_stderr"] = math.sqrt(p * (1 - p) / n) if n else 0.0
  labelled = got["labelled"].astype(bool)
  count = max(int(labelled.sum()), 1)
  metrics["lm_loss"] = float(got["lm_loss"][labelled].sum() / count)
  metrics["q_halt_loss"] = float(got["q_halt_loss"][labelled].sum() / count)
  metrics["q_halt_accuracy"] = float((got["q_halt_correct"] & labelled).sum() / count)
  metrics["segments"] = float(num_segments)
  metrics["halt/segments"] = float(got["halt_steps"].mean())
  names = metric_names(task, ks)
  assert set(names) == set(metrics), (set(names) ^ set(metrics))
  return {k: metrics[k] for k in names}


def write_submission(submission: dict, path: Path) -> Path:
  """Write an ARC Prize submission dict as JSON at `path` (parent folders created)."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(json.dumps(submission))
  tmp.replace(path)
  return path


def evaluate(params, config: HRMConfig, task: str, data_dir: Path, mesh, *, num_segments: int,
             halt_rule: str = act.DEFAULT_HALT_RULE, global_batch_size: int = 256,
             max_examples: int = 0, pass_ks: int | Iterable[int] = DEFAULT_PASS_KS,
             eval_fn=None, progress: bool = False, submission_path: Path | None = None):
  """`predict` then `score`: returns (metrics, predictions).

  ARC: with `submission_path`, the ARC Prize `submission.json` is written there.
  """
  got = inference.predict(params, config, data_dir, mesh, num_segments=num_segments, halt_rule=halt_rule,
                global_batch_size=global_batch_size, max_examples=max_examples, eval_fn=eval_fn,
                progress=progress)
  return score(task, got, data_dir, num_segments, pass_ks, submission_path=submission_path), got


def check_dataset(config: HRMConfig, task: str, data_dir: Path) -> None:
  """Raise EvaluateError unless `data_dir`'s test split fits the model and `task`.

  Compared: the task of the builder recorded in build_args.json (when it names
  one) and the test split's seq_len, vocab_size and num_puzzle_identifiers.
  """
  from hrm_jax.training.experiment import BUILDER_TASKS  # (experiment imports this module)
  if not (data_dir / "test" / "dataset.json").is_file():
    raise EvaluateError(f"no test split under {str(data_dir)!r} (expected test/dataset.json)",
                        hint="pass the dataset directory with --data")
  try:
    builder = json.loads((data_dir / "build_args.json").read_text()).get("builder")
  except (OSError, ValueError, AttributeError):
    builder = None
  built_for = BUILDER_TASKS.get(builder, task) if isinstance(builder, str) else task
  if built_for != task:
    raise EvaluateError(f"{data_dir} is a {built_for} dataset (build_args.json: builder "
                        f"{builder!r}); the checkpoint is a {task} model",
                        hint="pass the dataset the model was trained for with --data")
  meta = read_metadata(data_dir, "test")
  wrong = [f"{k} {getattr(meta, k)} (model: {getattr(config, k)})"
           for k in ("seq_len", "vocab_size", "num_puzzle_identifiers")
           if getattr(meta, k) != getattr(config, k)]
  if wrong:
    raise EvaluateError(f"{data_dir} does not fit this {task} model: " + ", ".join(wrong),
                        hint="pass the dataset the model was trained on with --data")
