"""`make demo`: train a small HRM on CPU to compute prefix parities, next to a one-pass baseline.

  python -m experiments.demo [--out runs/demo] [--steps N] [--data DIR]

1. Builds random 32-bit strings (experiments/configs/parity.py:cpu); the label at
   each bit is the parity of the string up to that bit, so the answer at the end
   depends on every bit before it: a running state has to travel the whole string.
2. Trains the HRM of that config (recurrent: N H-cycles x T L-cycles per segment,
   several ACT segments with deep supervision and Q-learned halting).
3. Trains the same network the same way as a one-pass model (1 H cycle, 1 L
   cycle, 1 segment: a plain transformer of the same depth and width).
4. Evaluates both on held-out strings and writes OUT/report.md with the
   comparison, learning curves and drawn test strings.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import time
from pathlib import Path

from hrm_jax import errors
from hrm_jax.errors import Interrupted, UserError

MARKER = "demo_output.json"  # marks a folder as the demo's own output (it may replace it)
OUTPUTS = ["hrm", "one_pass", "plots", "report.md"]  # what the demo writes into --out


def one_pass(cfg):
  """The same network and training, without recurrence: N = T = 1, one segment."""
  c = cfg.copy_and_resolve_references()
  c.model.h_cycles = c.model.l_cycles = c.model.halt_max_steps = c.eval.halt_max_steps = 1
  c.variant = "one-pass"
  return c


def write_demo_report(out: Path, runs: dict, total_s: float) -> Path:
  """OUT/report.md comparing the runs: table, learning curves, the same test strings drawn."""
  from hrm_jax.training import records, render, report

  plots = out / "plots"
  plots.mkdir(parents=True, exist_ok=True)
  report.plot_curves(
    {
      name: records.read_records(Path(r["summary"]["run_dir"]) / "metrics.jsonl")
      for name, r in runs.items()
    },
    plots / "learning_curves.png",
  )
  hrm = runs["HRM"]
  cfg = hrm["cfg"]
  idx = report.pick_examples(hrm["predictions"], 4)
  for name, r in runs.items():
    predictions = r["predictions"]
    render.draw_examples(
      cfg.task,
      *(predictions[k][idx] for k in ("inputs", "labels", "pred")),
      plots / f"strings_{name.lower().replace(' ', '_')}.png",
      titles=[f"test #{int(predictions['example_index'][i])}" for i in idx],
    )
  m, t = cfg.model, cfg.train
  table = {
    name: {
      **r["summary"]["eval"],
      "parameters": r["summary"]["params"],
      "train_seconds": r["summary"]["train_seconds"],
    }
    for name, r in runs.items()
  }
  stats = json.loads((Path(cfg.data.path) / "parity_stats.json").read_text())
  lines = [
    "# Demo: prefix parity on CPU, HRM against a one-pass transformer",
    "",
    f"Task: random {cfg.data.build.length}-bit strings; at every bit the model outputs the "
    f"parity (XOR) of the string up to that bit. Train {cfg.data.build.train_size} strings, "
    f"held-out test {cfg.data.build.test_size} (evaluated: "
    f"{int(hrm['summary']['eval']['examples'])}); {stats['odd_string_fraction']:.0%} of the "
    "strings have odd parity. The last answer depends on all bits, so a fixed-depth network "
    "must carry a running state along the string; a recurrent one can iterate the local "
    "rule parity_i = parity_(i-1) XOR bit_i.",
    "",
    f"Network: D={m.hidden_size}, {m.num_heads} heads, H/L layers {m.h_layers}/{m.l_layers}. "
    f"HRM: N={m.h_cycles} H-cycles x T={m.l_cycles} L-cycles per segment, up to "
    f"{m.halt_max_steps} segments. One-pass: N=T=1, 1 segment. Both: {t.steps} updates of "
    f"batch {t.global_batch_size}, lr {cfg.optim.lr}, AdamATan2, {cfg.model.loss_type} loss, "
    f"Q-loss weight {m.q_loss_weight} (the reference's: 0.5).",
    "",
    f"Total demo time (data, both trainings, evaluations, report): {total_s / 60:.1f} min.",
    "",
    "## Held-out results",
    "",
    "`exact_accuracy`: every parity of the string right after `segments` segments; "
    "`prefix_right`: the fraction of leading bits right before the first error; `halt/`: "
    "the answer at the first segment where the Q head halts.",
    "",
    report.metrics_table(table),
    "",
    "![learning curves](plots/learning_curves.png)",
    "",
  ]
  for name in runs:
    lines += [
      f"## Test strings: {name}",
      "",
      "Bits (black = 1, read row by row), the true prefix parities, the model's answer "
      "(red crosses: wrong bits).",
      "",
      f"![{name}](plots/strings_{name.lower().replace(' ', '_')}.png)",
      "",
    ]
  path = out / "report.md"
  path.write_text("\n".join(lines))
  return path


def _train_on(name: str, cfg, cpu: int, results) -> None:
  """Train one config pinned to one CPU (a spawned process); put (name, summary) on `results`.

  A user's mistake or an interruption comes back as a value (the parent reports it in one
  line) instead of a traceback.
  """
  os.sched_setaffinity(0, {cpu})
  from hrm_jax.training import train

  try:
    out = train.train(cfg)
  except Interrupted as e:
    out = e
  except KeyboardInterrupt:  # outside the training loop (set-up, final evaluation)
    out = Interrupted(
      "interrupted outside its training loop; rerun to resume from its last checkpoint"
    )
  except UserError as e:
    out = UserError(str(e), e.hint)  # (a plain UserError: every subclass pickles the same)
  results.put((name, out))


def _collect(procs: dict, results) -> dict:
  """(name -> summary or exception) from the runs, until each has answered or ended."""
  got = {}
  while len(got) < len(procs):
    try:
      name, out = results.get(timeout=1.0)
      got[name] = out
    except queue.Empty:
      if not any(p.is_alive() for name, p in procs.items() if name not in got):
        break  # a run ended without an answer (killed before its loop)
  return got


def train_all(cfgs: dict) -> dict:
  """Train every config; side by side, one CPU each, when the machine has a CPU per run.

  A small model does not get faster from a second core (measured: the same step time on
  1 and 2 cores), so two runs on two cores take the time of one. Ctrl-C stops every run
  after its current update with a checkpoint (rerunning the demo resumes them).
  """
  cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
  if len(cpus) < len(cfgs):
    from hrm_jax.training import train

    return {name: train.train(c) for name, c in cfgs.items()}
  ctx = multiprocessing.get_context("spawn")
  results = ctx.Queue()
  procs = {
    name: ctx.Process(target=_train_on, args=(name, c, cpu, results))
    for (name, c), cpu in zip(cfgs.items(), cpus)
  }
  for p in procs.values():
    p.start()
  try:
    got = _collect(procs, results)
  except (
    KeyboardInterrupt
  ):  # SIGTERM: each run saves a checkpoint and stops (hrm_jax.training.train)
    for p in procs.values():
      p.terminate()
    got = _collect(procs, results)
  finally:
    for p in procs.values():
      p.join()
  failed = [
    (name, got.get(name, Interrupted("stopped without an answer")))
    for name in cfgs
    if not isinstance(got.get(name), dict)
  ]
  if failed:
    message = "; ".join(f"{name}: {e}" for name, e in failed)
    if any(isinstance(e, Interrupted) for _, e in failed):
      raise Interrupted(message)
    raise UserError(message, failed[0][1].hint)
  return {name: got[name] for name in cfgs}


def main(argv: list[str] | None = None) -> int:
  """Run the demo; prints the results and the report's path."""
  from hrm_jax.data import _cli

  p = _cli.parser(__doc__.split("\n")[0])
  p.add_argument(
    "--out",
    default="runs/demo",
    help="output folder: new, empty, or an earlier demo's (whose output it replaces)",
  )
  p.add_argument(
    "--steps", type=int, default=0, help="override the number of updates (0: the config's)"
  )
  p.add_argument("--data", default="", help="dataset directory (empty: the config's)")
  a = p.parse_args(argv)
  t0 = time.time()
  from experiments.configs import parity
  from hrm_jax.data._atomic import claim_marked_folder
  from hrm_jax.training import experiment

  out = claim_marked_folder(a.out, MARKER, OUTPUTS, "experiments.demo output")
  cfg = parity.get_config("cpu")
  cfg.run_dir = str(out / "hrm")
  if a.steps:
    cfg.train.steps = a.steps
    cfg.train.eval_every = min(cfg.train.eval_every, a.steps)
  if a.data:
    cfg.data.path = a.data
  experiment.ensure_dataset(cfg)
  print(f"dataset ready at {cfg.data.path} ({time.time() - t0:.0f} s)")
  base = one_pass(cfg)
  base.run_dir = str(out / "one_pass")
  base.train.progress = False  # one progress bar (the HRM's); the baseline prints evaluations
  cfgs = {"HRM": cfg, "one-pass": base}
  print(f"--- training HRM and the one-pass model: {cfg.train.steps} updates each")
  runs = {
    name: {"cfg": cfgs[name], "summary": s, "predictions": s.pop("predictions")}
    for name, s in train_all(cfgs).items()
  }
  total = time.time() - t0
  path = write_demo_report(out, runs, total)
  for name, r in runs.items():
    ev = r["summary"]["eval"]
    print(
      f"{name:9s} exact {ev['exact_accuracy']:.3f}  prefix right {ev['prefix_right']:.3f}  "
      f"token {ev['token_accuracy']:.3f}  train {r['summary']['train_seconds']:.0f} s"
    )
  print(f"demo finished in {total / 60:.1f} min; report: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
