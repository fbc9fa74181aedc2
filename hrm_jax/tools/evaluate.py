"""`python -m hrm_jax.tools.evaluate --checkpoint DIR`: evaluate a run or model on its test split.

Prints the metrics of `hrm_jax.training.evaluate` as JSON (see its docstring); with
`--restarts K` (`--restart-noise`, `--restart-select q|vote`) those of K noisy restarts
batched on the device, plus restarts, restart_segments and restart_agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax

from hrm_jax import act, errors, tasks
from hrm_jax.training import parallel, test_time
from hrm_jax.training.evaluate import (
  DEFAULT_PASS_KS,
  EvaluateError,
  check_dataset,
  evaluate,
  pass_ks_of,
)
from hrm_jax.training.model_dir import load_for_eval


def main(argv: list[str] | None = None) -> int:
  """`python -m hrm_jax.tools.evaluate --checkpoint DIR [--data DIR] [--task T] ...`."""
  from hrm_jax.data._cli import parser

  p = parser("Evaluate a saved hrm_jax run or converted model on its test split.")
  p.add_argument(
    "--checkpoint",
    required=True,
    help="run dir, its checkpoints/ dir, one step dir, or a model dir (export)",
  )
  p.add_argument("--data", default="", help="dataset dir (omitted: the one the run used)")
  p.add_argument(
    "--task", default="", help=f"{'|'.join(tasks.names())} (omitted: the checkpoint's)"
  )
  p.add_argument("--segments", type=int, default=0, help="ACT segments (0: halt_max_steps)")
  p.add_argument(
    "--halt-rule",
    default=act.DEFAULT_HALT_RULE,
    choices=[r for r in act.HALT_RULES if r != "none"],
    help="halting rule of the halt/ metrics ('model': the rule the model trains with)",
  )
  p.add_argument(
    "--batch-size",
    type=int,
    default=256,
    help="examples per batch (a multiple of the device count)",
  )
  p.add_argument("--max-examples", type=int, default=0, help="first N test examples (0: all)")
  p.add_argument(
    "--pass-ks",
    default=",".join(map(str, DEFAULT_PASS_KS)),
    help="ARC: the K of pass@K, comma-separated",
  )
  test_time.add_cli_options(p)
  p.add_argument("--no-ema", action="store_true", help="evaluate the raw, not the EMA, parameters")
  p.add_argument("--out", default="", help="also write the metrics as JSON to this file")
  p.add_argument(
    "--out-dir",
    default="",
    help="write metrics.json (and, for ARC, submission.json) into this folder",
  )
  p.add_argument("--no-progress", action="store_true", help="no progress bar")
  p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
  a = p.parse_args(argv)
  try:
    pass_ks = pass_ks_of(int(k) for k in a.pass_ks.split(",") if k.strip())
  except ValueError as e:
    raise EvaluateError(f"--pass-ks {a.pass_ks!r}: expected positive integers like 1,2,10") from e
  if a.segments < 0 or a.batch_size < 1 or a.max_examples < 0:
    raise EvaluateError("--segments and --max-examples must be >= 0 and --batch-size >= 1")
  restart = test_time.cli_options(a)
  parallel.maybe_initialize_distributed()
  params, config, meta = load_for_eval(a.checkpoint, use_ema=not a.no_ema)
  task = a.task or meta.get("task", "")
  if not task:
    raise EvaluateError(
      "the checkpoint does not name its task ('')",
      hint=f"pass --task, one of {', '.join(tasks.names())}",
    )
  tasks.get(task, "--task" if a.task else "checkpoint task")
  if a.task and meta.get("task") not in (None, "", a.task):
    raise EvaluateError(
      f"--task {a.task} but the checkpoint is a {meta['task']} model",
      hint="leave out --task to evaluate it as the task it was trained on",
    )
  data = Path(a.data or meta.get("data_path", ""))
  if not (a.data or meta.get("data_path")):
    raise EvaluateError("the checkpoint does not name its dataset", hint="pass --data DIR")
  check_dataset(config, task, data)
  mesh = parallel.make_mesh()
  parallel.local_batch_size(mesh, a.batch_size, "--batch-size")
  params = parallel.replicate(mesh, params)
  segments = a.segments or config.halt_max_steps
  out_dir = Path(a.out_dir) if a.out_dir else None
  lead = jax.process_index() == 0
  submission = out_dir / "submission.json" if out_dir and lead else None  # (tasks that write one)
  metrics, _ = evaluate(
    params,
    config,
    task,
    data,
    mesh,
    num_segments=segments,
    halt_rule=a.halt_rule,
    global_batch_size=a.batch_size,
    max_examples=a.max_examples,
    pass_ks=pass_ks,
    progress=lead and not a.no_progress,
    submission_path=submission,
    **restart,
  )
  report = {"checkpoint": meta["step_dir"], "task": task, "data": str(data), **metrics}
  if lead:
    print(json.dumps(report, indent=1))
    if a.out:
      Path(a.out).write_text(json.dumps(metrics, indent=1))
    if out_dir:
      out_dir.mkdir(parents=True, exist_ok=True)
      (out_dir / "metrics.json").write_text(json.dumps(report, indent=1))
  return 0


def cli() -> None:
  """The `hrm-evaluate` console script: `main` with one-line errors; exits with its status."""
  sys.exit(errors.guard(main))


if __name__ == "__main__":
  cli()
