"""A study: {architectures} x {seeds} per task under one budget rule, matched in size, run in
pinned parallel processes that resume, then one report (see `hrm_jax.training.study_report`).

The study ConfigDict (experiments/configs/study.py) holds: tasks (name -> the task's full
experiment config), archs (name -> overrides {section: {field: value}} of that config, or a
function config -> config), reference (the architecture whose size and budget the others
match), seeds, budget ("updates" | "flops" | "seconds", with `seconds` for the last), match
("width" | "depth" | "none") within `tolerance`, workers (0: one per core), max_hours with
flops_per_s (the estimate that refuses a study too large), test_time (segments_x,
restarts, max_compute, noise, select, max_examples) and harder (task -> builder fields of a
harder held-out set at the trained size, evaluated as its own column). Each cell is a normal run
directory OUT/TASK/ARCH/seedN; a cell is done when its DONE file is there, so a killed study
continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

from ml_collections import ConfigDict

from hrm_jax import archs
from hrm_jax.errors import Interrupted, UserError

BUDGETS = ("updates", "flops", "seconds")
MATCHES = ("width", "depth", "none")
DONE = "study_eval.json"  # in a cell's run directory: trained and evaluated at test time
HARDER_KEYS = ("examples", "exact_accuracy", "token_accuracy", "halt/exact_accuracy")
ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class StudyError(UserError, ValueError):
  """A study that cannot be run as configured."""


@dataclasses.dataclass
class Cell:
  """One run of the grid."""

  task: str
  arch: str
  seed: int
  cfg: ConfigDict  # its experiment config (run_dir set)
  params: int
  flops_per_step: float
  harder: str = ""  # the harder held-out dataset's directory ("": none for this task)
  harder_in_train: int = 0  # of its test examples, those also in the training split

  @property
  def run_dir(self) -> Path:
    """The cell's run directory."""
    return Path(self.cfg.run_dir)

  @property
  def name(self) -> str:
    """TASK/ARCH/seedN."""
    return f"{self.task}/{self.arch}/seed{self.seed}"


def _derive(base: ConfigDict, name: str, spec) -> ConfigDict:
  """The task's config with one architecture's overrides (or function) applied."""
  cfg = spec(base) if callable(spec) else base.copy_and_resolve_references()
  if not callable(spec):
    for section, fields in spec.items():
      for k, v in fields.items():
        try:
          cfg[section][k] = v
        except (AttributeError, KeyError, TypeError) as e:
          raise StudyError(f"architecture {name!r}: bad override {section}.{k}={v!r} ({e})") from e
  arch = cfg.model.arch
  if arch not in archs.REGISTRY:
    raise StudyError(
      f"architecture {name!r}: unknown arch {arch!r}; known: {', '.join(archs.REGISTRY)}"
    )
  cfg.variant = name
  return cfg


def _model(cfg: ConfigDict):
  from hrm_jax.training import experiment

  try:
    return experiment.settings(cfg).model
  except ValueError as e:
    raise StudyError(f"{cfg.task}/{cfg.variant}: {e}") from e


def count_params(cfg: ConfigDict) -> int:
  """Parameters of the model `cfg` builds (shapes only: nothing is initialised)."""
  import jax
  import numpy as np

  from hrm_jax import model

  m = _model(cfg)
  shapes = jax.eval_shape(lambda k: model.init(k, m), jax.random.key(0))
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def _candidates(cfg: ConfigDict, match: str) -> list[ConfigDict]:
  """Configs of other widths (hidden_size: multiples of 2 x heads) or depths (layers)."""
  out, m = [], cfg.model
  if match == "width":
    step = 2 * m.num_heads
    sizes = range(step, 4 * m.hidden_size + 1, step)
  else:
    sizes = range(1, 4 * max(m.l_layers, 1) + 1)
  for n in sizes:
    c = cfg.copy_and_resolve_references()
    if match == "width":
      c.model.hidden_size = n
    else:
      c.model.l_layers = n
      c.model.h_layers = n if m.h_layers else 0
    out.append(c)
  return out


def match_params(cfg: ConfigDict, target: int, match: str, tolerance: float) -> ConfigDict:
  """`cfg` resized (width or depth) to the closest parameter count to `target`; StudyError
  with the numbers when no size comes within `tolerance`."""
  have = count_params(cfg)
  off = lambda n: abs(n - target) / target
  if off(have) <= tolerance:
    return cfg
  if match == "none":
    raise StudyError(
      f"{cfg.task}/{cfg.variant}: {have:,} parameters vs the reference's {target:,} "
      f"({have / target - 1:+.0%}, beyond {tolerance:.0%})",
      hint="set study.match to width or depth, or resize it in its overrides",
    )
  best = min(((count_params(c), c) for c in _candidates(cfg, match)), key=lambda t: off(t[0]))
  if off(best[0]) > tolerance:
    raise StudyError(
      f"{cfg.task}/{cfg.variant}: {have:,} parameters vs the reference's {target:,}; the "
      f"closest {match} gives {best[0]:,} ({best[0] / target - 1:+.0%}, beyond {tolerance:.0%})",
      hint="change study.match, study.tolerance or the architecture's overrides",
    )
  return best[1]


def _steps(cfg: ConfigDict) -> int:
  from hrm_jax.training import experiment

  return experiment.settings(cfg).total_steps


def _set_steps(cfg: ConfigDict, steps: int, evals: int) -> None:
  t = cfg.train
  t.steps = max(int(steps), 1)
  t.eval_every = t.checkpoint_every = max(t.steps // max(evals, 1), 1)


def harder_dataset(study: ConfigDict, task: str, base: ConfigDict) -> tuple[str, int]:
  """(directory, test examples also in base's train split) of the task's harder held-out
  set: base's builder with study.harder[task]'s fields, at DATA_PATH-harder; ("", 0)
  without one."""
  import numpy as np

  from hrm_jax.data.format import read_split
  from hrm_jax.training import experiment

  if task not in study.harder:
    return "", 0
  cfg = base.copy_and_resolve_references()
  cfg.data.path = f"{base.data.path}-harder"
  try:
    cfg.data.build.update(dict(study.harder[task]))
  except (AttributeError, KeyError, TypeError) as e:
    raise StudyError(f"study.harder.{task}: not a field of its builder ({e})") from e
  path = experiment.ensure_dataset(cfg, progress=False)
  rows = lambda d, split: {
    x.tobytes() for s in read_split(d, split)[1].values() for x in np.asarray(s.inputs)
  }
  return str(path), len(rows(path, "test") & rows(base.data.path, "train"))


def plan(study: ConfigDict) -> list[Cell]:
  """Every cell of the grid, sized, matched and budgeted; StudyError before any training
  (unknown task or architecture, unmatched parameters, an estimate over study.max_hours)."""
  from hrm_jax import flops, tasks
  from hrm_jax.training import experiment

  if study.budget not in BUDGETS:
    raise StudyError(f"study.budget must be one of {BUDGETS}, got {study.budget!r}")
  if study.match not in MATCHES:
    raise StudyError(f"study.match must be one of {MATCHES}, got {study.match!r}")
  if study.reference not in study.archs:
    raise StudyError(f"study.reference {study.reference!r} is not one of study.archs")
  cells = []
  for task, base in study.tasks.items():
    if base.task not in tasks.names():
      raise StudyError(f"unknown task {base.task!r}; known: {', '.join(tasks.names())}")
    derived = {name: _derive(base, name, spec) for name, spec in study.archs.items()}
    for cfg in derived.values():
      cfg.train.progress = False
    experiment.ensure_dataset(derived[study.reference], progress=False)
    harder = harder_dataset(study, task, base)
    ref = derived[study.reference]
    target = count_params(ref)
    ref_steps = _steps(ref)
    evals = max(ref_steps // max(ref.train.eval_every, 1), 1)
    ref_flops = flops.train_step_flops(_model(ref), ref.train.global_batch_size)
    for name, cfg in derived.items():
      cfg = match_params(cfg, target, study.match, study.tolerance)
      per_step = flops.train_step_flops(_model(cfg), cfg.train.global_batch_size)
      if study.budget == "flops":
        _set_steps(cfg, round(ref_steps * ref_flops / per_step), evals)
      elif study.budget == "updates":
        _set_steps(cfg, ref_steps, evals)
      else:  # equal wall-clock: the time limit stops the run (its schedule spans 10x the steps)
        _set_steps(cfg, 10 * ref_steps, evals)
        cfg.train.time_limit_s = float(study.seconds)
      for seed in study.seeds:
        c = cfg.copy_and_resolve_references()
        c.seed = int(seed)
        c.run_dir = str(Path(study.out) / task / name / f"seed{seed}")
        cells.append(Cell(task, name, int(seed), c, count_params(c), per_step, *harder))
  hours = estimate_hours(study, cells)
  if hours > study.max_hours:
    raise StudyError(
      f"the study is estimated at {hours:.1f} h on {workers(study)} worker(s) (limit "
      f"study.max_hours={study.max_hours})",
      hint="fewer seeds, architectures or steps, or raise study.max_hours",
    )
  return cells


def workers(study: ConfigDict) -> int:
  """Processes run side by side: study.workers, or one per available core (0)."""
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  return max(1, min(int(study.workers) or cores, cores))


def _test_examples(data_path, limit: int) -> int:
  """Examples an evaluation of `data_path`'s test split reads with max_examples=`limit`."""
  from hrm_jax.data.format import read_metadata

  meta = read_metadata(Path(data_path), "test")
  total = round(meta.total_groups * meta.mean_puzzle_examples)
  return min(limit, total) if limit else total


def _sweep(cell: Cell, test_time: ConfigDict) -> tuple[tuple[tuple[int, int], ...], int]:
  """(the (segments, restarts) points of the cell's test-time sweep, its examples limit)."""
  from hrm_jax.training import test_time as tt

  trained = _model(cell.cfg).halt_max_steps
  pts = tt.points(
    trained, tuple(test_time.segments_x), tuple(test_time.restarts), test_time.max_compute
  )
  return pts, int(test_time.max_examples) or cell.cfg.eval.final_max_examples


def cell_flops(cell: Cell, test_time: ConfigDict) -> tuple[float, float]:
  """(training, evaluation) analytic FLOPs of one cell: the updates; the evaluations during
  training, the test-time sweep (its plain point reused when it can be) and the harder set."""
  from hrm_jax import flops
  from hrm_jax.training import experiment

  s = experiment.settings(cell.cfg)
  seg = flops.segment_flops(s.model, 1)
  e = cell.cfg.eval
  during = [e.max_examples] * (len(s.eval_at) - 1) + [e.final_max_examples]
  segments = sum(_test_examples(s.data_path, n) * s.eval_steps for n in during)
  pts, limit = _sweep(cell, test_time)
  reused = limit == e.final_max_examples
  n = _test_examples(s.data_path, limit)
  segments += sum(n * p * k for p, k in pts if not (reused and k == 1 and p == s.eval_steps))
  if cell.harder:
    segments += _test_examples(cell.harder, e.final_max_examples) * s.eval_steps
  return cell.flops_per_step * cell.cfg.train.steps, seg * segments


def estimate_hours(study: ConfigDict, cells: list[Cell]) -> float:
  """The grid's training and evaluation FLOPs (`cell_flops`) over study.flops_per_s (or its
  seconds, with the seconds budget, plus the evaluations), shared by the workers."""
  train, evals = zip(*(cell_flops(c, study.test_time) for c in cells)) if cells else ((), ())
  if study.budget == "seconds":
    total = len(cells) * float(study.seconds) + sum(evals) / float(study.flops_per_s)
  else:
    total = (sum(train) + sum(evals)) / float(study.flops_per_s)
  return total / workers(study) / 3600


def run_cell(cell: Cell, test_time: ConfigDict) -> dict:
  """Train (or resume) one cell, then its test-time compute sweep; writes and returns DONE."""
  from hrm_jax.training import evaluate, experiment, model_dir, parallel, train
  from hrm_jax.training import test_time as tt

  summary = train.train(cell.cfg, write_report=False)
  summary.pop("predictions", None)
  params, config, _ = model_dir.load_for_eval(cell.run_dir)
  mesh = parallel.make_mesh()
  params = parallel.replicate(mesh, params)
  trained = config.halt_max_steps
  points, n_examples = _sweep(cell, test_time)
  plain = experiment.settings(cell.cfg).eval_steps
  rows = tt.sweep(
    params,
    config,
    cell.cfg.task,
    experiment.settings(cell.cfg).data_path,
    mesh,
    points=points,
    noise=float(test_time.noise),
    select=test_time.select,
    halt_rule=cell.cfg.eval.halt_rule,
    global_batch_size=cell.cfg.eval.global_batch_size,
    max_examples=n_examples,
    known={plain: summary["eval"]} if n_examples == cell.cfg.eval.final_max_examples else None,
  )
  extra = {}  # the harder held-out set's metrics (plain evaluation, as the final one)
  if cell.harder:
    m, _ = evaluate.evaluate(
      params,
      config,
      cell.cfg.task,
      Path(cell.harder),
      mesh,
      num_segments=plain,
      halt_rule=cell.cfg.eval.halt_rule,
      global_batch_size=cell.cfg.eval.global_batch_size,
      max_examples=cell.cfg.eval.final_max_examples,
      pass_ks=(1,),
    )
    extra = {"harder": {k: m[k] for k in HARDER_KEYS}, "harder_in_train": cell.harder_in_train}
  done = {
    "task": cell.task,
    "arch": cell.arch,
    "seed": cell.seed,
    "params": cell.params,
    "steps": summary["steps"],
    "train_flops": cell.flops_per_step * summary["steps"],
    "train_seconds": summary["train_seconds"],
    "eval": summary["eval"],
    "trained_segments": trained,
    "test_time": rows,
    **extra,
  }
  (cell.run_dir / DONE).write_text(json.dumps(done, indent=1))
  return done


def _child(cell: Cell, test_time: ConfigDict, cpu: int | None) -> None:
  """A spawned process: pinned to `cpu`, output into the cell's log, exit status 0 when done."""
  if cpu is not None:
    os.sched_setaffinity(0, {cpu})
  cell.run_dir.parent.mkdir(parents=True, exist_ok=True)
  log = open(cell.run_dir.parent / f"seed{cell.seed}.log", "a")
  os.dup2(log.fileno(), 1)
  os.dup2(log.fileno(), 2)
  try:
    run_cell(cell, test_time)
  except (UserError, KeyboardInterrupt) as e:
    print(f"{cell.name}: {e}", file=sys.stderr, flush=True)
    sys.exit(1)


def _progress(done: int, running: int, left: int, t0: float, finished_here: int) -> str:
  """The grid's one progress line: runs done / running / left and an ETA."""
  line = f"study: {done} done, {running} running, {left} left"
  if finished_here and (running or left):
    per_run = (time.time() - t0) / finished_here
    line += f", ETA {per_run * (running + left) / max(running, 1) / 60:.1f} min"
  return line


def run_grid(study: ConfigDict, cells: list[Cell], show=print) -> list[dict]:
  """Run the cells not done yet, up to `workers(study)` at a time (one process each, pinned to
  one core, one XLA thread); returns every cell's DONE record. SIGTERM/Ctrl-C stops the runs
  with checkpoints (rerun to continue) and raises Interrupted."""
  import multiprocessing

  todo = [c for c in cells if not (c.run_dir / DONE).is_file()]
  n_done, t0, finished_here = len(cells) - len(todo), time.time(), 0
  cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
  n = workers(study)
  ctx = multiprocessing.get_context("spawn")
  running: dict[int, tuple] = {}  # slot -> (process, cell)
  failed = []
  previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
  flags = os.environ.get("XLA_FLAGS", "")
  os.environ["XLA_FLAGS"] = f"{flags} {ONE_THREAD}".strip()
  try:
    while todo or running:
      for slot in [s for s in range(n) if s not in running][: len(todo)]:
        cell = todo.pop(0)
        cpu = cpus[slot % len(cpus)] if cpus and n > 1 else None
        p = ctx.Process(target=_child, args=(cell, study.test_time, cpu))
        p.start()
        running[slot] = (p, cell)
      show(_progress(n_done, len(running), len(todo), t0, finished_here))
      time.sleep(0.5)
      for slot, (p, cell) in list(running.items()):
        if not p.is_alive():
          p.join()
          del running[slot]
          if p.exitcode == 0 and (cell.run_dir / DONE).is_file():
            n_done, finished_here = n_done + 1, finished_here + 1
          else:
            failed.append(cell)
  except KeyboardInterrupt:
    for p, _ in running.values():
      p.terminate()  # each run saves a checkpoint and stops
    for p, _ in running.values():
      p.join()
    raise Interrupted(
      f"study stopped with {n_done} of {len(cells)} runs done; rerun the same command to continue"
    ) from None
  finally:
    os.environ["XLA_FLAGS"] = flags
    signal.signal(signal.SIGTERM, previous)
  show(_progress(n_done, 0, 0, t0, finished_here))
  if failed:
    logs = ", ".join(str(c.run_dir.parent / f"seed{c.seed}.log") for c in failed)
    raise StudyError(
      f"{len(failed)} run(s) failed: {', '.join(c.name for c in failed)}; see {logs}"
    )
  return [json.loads((c.run_dir / DONE).read_text()) for c in cells]
