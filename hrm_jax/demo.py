"""`make demo`: train a small HRM on CPU to solve held-out mazes, next to a one-pass baseline.

  python -m hrm_jax.demo [--out runs/demo] [--steps N]

1. Builds small perfect mazes (experiments/configs/maze.py:cpu): every maze has a
   single start-to-goal path, so exact match is a fair score, and finding it
   takes many sequential steps.
2. Trains the HRM of that config (recurrent: N H-cycles x T L-cycles per segment,
   several ACT segments with deep supervision and Q-learned halting).
3. Trains the same network the same way as a one-pass model (1 H cycle, 1 L
   cycle, 1 segment: a plain transformer of the same depth and width).
4. Evaluates both on the held-out mazes and writes OUT/report.md with the
   comparison, learning curves and drawn test mazes.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


def one_pass(cfg):
  """The same network and training, without recurrence: N = T = 1, one segment."""
  c = cfg.copy_and_resolve_references()
  c.model.h_cycles = c.model.l_cycles = c.model.halt_max_steps = 1
  c.variant = "one-pass"
  return c


def write_demo_report(out: Path, runs: dict, total_s: float) -> Path:
  """OUT/report.md comparing the runs: table, learning curves, the same test mazes drawn."""
  from hrm_jax import records, render, report
  plots = out / "plots"
  plots.mkdir(parents=True, exist_ok=True)
  report.plot_curves({name: records.read_records(Path(r["summary"]["run_dir"]) / "metrics.jsonl")
                      for name, r in runs.items()}, plots / "learning_curves.png")
  hrm = runs["HRM"]
  idx = report.pick_examples(hrm["got"], 4)
  for name, r in runs.items():
    got = r["got"]
    render.draw_examples("maze", got["inputs"][idx], got["labels"][idx], got["pred"][idx],
                         plots / f"mazes_{name.lower().replace(' ', '_')}.png",
                         titles=[f"test #{int(got['example_index'][i])}" for i in idx])
  cfg = hrm["cfg"]
  m, t = cfg.model, cfg.train
  table = {name: {**r["summary"]["eval"], "parameters": r["summary"]["params"],
                  "train_seconds": r["summary"]["train_seconds"]} for name, r in runs.items()}
  stats = json.loads((Path(cfg.data.path) / "maze_stats.json").read_text())
  lines = [
      "# Demo: small mazes on CPU, HRM against a one-pass transformer",
      "",
      f"Task: {cfg.data.build.size}x{cfg.data.build.size} perfect mazes "
      f"({(cfg.data.build.size + 1) // 2}x{(cfg.data.build.size + 1) // 2} rooms, one path between "
      f"any two cells); the model marks the start-to-goal path. Train {cfg.data.build.train_size}, "
      f"held-out test {cfg.data.build.test_size} (evaluated: {int(hrm['summary']['eval']['examples'])}); "
      f"test path length {stats['test']['path_len_min']}-{stats['test']['path_len_max']} moves, "
      f"mean {stats['test']['path_len_mean']:.1f}.",
      "",
      f"Network: D={m.hidden_size}, {m.num_heads} heads, H/L layers {m.h_layers}/{m.l_layers}. "
      f"HRM: N={m.h_cycles} H-cycles x T={m.l_cycles} L-cycles per segment, up to "
      f"{m.halt_max_steps} segments. One-pass: N=T=1, 1 segment. Both: {t.steps} updates of "
      f"batch {t.global_batch_size}, lr {cfg.optim.lr}, AdamATan2, {cfg.model.loss_type} loss.",
      "",
      f"Total demo time (data, both trainings, evaluations, report): {total_s / 60:.1f} min.",
      "",
      "## Held-out results",
      "",
      "`exact_accuracy`: the whole grid right; `optimal_path`: a valid shortest path; `halt/`: "
      "answer at the first segment where the Q head halts.",
      "",
      report.metrics_table(table),
      "",
      "![learning curves](plots/learning_curves.png)",
      "",
  ]
  for name in runs:
    lines += [f"## Test mazes: {name}", "",
              "Maze, the true path, the model's answer (red crosses: wrong cells). "
              "Start green, goal red, path blue.", "",
              f"![{name}](plots/mazes_{name.lower().replace(' ', '_')}.png)", ""]
  path = out / "report.md"
  path.write_text("\n".join(lines))
  return path


def main(argv: list[str] | None = None) -> int:
  """Run the demo; prints the results and the report's path."""
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--out", default="runs/demo", help="output directory (replaced)")
  p.add_argument("--steps", type=int, default=0, help="override the number of updates")
  a = p.parse_args(argv)
  t0 = time.time()
  from experiments.configs import maze
  from hrm_jax import experiment, train
  out = Path(a.out)
  shutil.rmtree(out, ignore_errors=True)
  cfg = maze.get_config("cpu")
  cfg.run_dir = str(out / "hrm")
  if a.steps:
    cfg.train.steps = a.steps
  experiment.ensure_dataset(cfg)
  print(f"dataset ready at {cfg.data.path} ({time.time() - t0:.0f} s)")
  runs = {}
  for name, c in (("HRM", cfg), ("one-pass", one_pass(cfg))):
    if name != "HRM":
      c.run_dir = str(out / "one_pass")
    print(f"--- training {name}: {c.train.steps} updates")
    summary = train.train(c)
    runs[name] = {"cfg": c, "summary": summary, "got": summary.pop("predictions")}
  total = time.time() - t0
  path = write_demo_report(out, runs, total)
  for name, r in runs.items():
    ev = r["summary"]["eval"]
    print(f"{name:9s} exact {ev['exact_accuracy']:.3f}  optimal path {ev['optimal_path']:.3f}  "
          f"token {ev['token_accuracy']:.3f}  train {r['summary']['train_seconds']:.0f} s")
  print(f"demo finished in {total / 60:.1f} min; report: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
