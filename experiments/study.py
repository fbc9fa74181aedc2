"""`python -m experiments.study`: a grid of architectures x seeds on equal budgets, one report.

  python -m experiments.study --config=experiments/configs/study.py:cpu [--config.FIELD=VALUE]

Every check (unknown architecture or task, parameter counts that cannot be matched, a study
estimated over its max_hours) runs before any training. The runs go to
OUT/TASK/ARCH/seedN (normal run directories: a killed study continues where it stopped, and
finished runs are not redone); the report to OUT/report.md, OUT/results.json, OUT/plots/.
"""

from __future__ import annotations

import sys
import time

from hrm_jax import errors

DEFAULT = "experiments/configs/study.py:cpu"


def _show_line(line: str, _last=["", ""]) -> None:
  """The grid's progress on one line: rewritten in place on a terminal; elsewhere (a log)
  printed when the run counts change, not at every new ETA."""
  counts = line.split(", ETA")[0]
  if sys.stdout.isatty():
    print("\r" + line.ljust(len(_last[0])), end="", flush=True)
  elif counts != _last[1]:
    print(line, flush=True)
  _last[0], _last[1] = line, counts


def main(argv: list[str] | None = None) -> int:
  """Plan, check, run the grid and write the report; prints the report's path."""
  from experiments import main as entry
  from hrm_jax.training import study, study_report

  t0 = time.time()
  cfg = entry._load(DEFAULT, list(sys.argv[1:] if argv is None else argv))
  cells = study.plan(cfg)
  for task in cfg.tasks:
    sizes = ", ".join(
      f"{c.arch} {c.params:,}" for c in cells if c.task == task and c.seed == cfg.seeds[0]
    )
    print(f"{task}: parameters {sizes}")
  print(
    f"{len(cells)} runs, budget: equal {cfg.budget}, estimated "
    f"{study.estimate_hours(cfg, cells) * 60:.0f} min on {study.workers(cfg)} worker(s)"
  )
  records = study.run_grid(cfg, cells, show=_show_line)
  if sys.stdout.isatty():
    print()
  path = study_report.write_report(cfg, records, time.time() - t0)
  print(f"report: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
