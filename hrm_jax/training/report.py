"""End-of-run report: `report.md` with the final table, learning curves and drawn test puzzles.

The report says which evaluation was best (by `train.best_metric`, the rule that
keeps the best checkpoint: the highest value), whether the run stopped before its
last update (summary `finished: false`), and, when the evaluation was a subsample of
the test split, its size and the standard error of the exact accuracy.
"""

from __future__ import annotations

import collections
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hrm_jax import tasks  # noqa: E402
from hrm_jax.training import records, render


def plural(n: float, word: str) -> str:
  """'1 ACT segment', '2 ACT segments', '1.5 ACT segments' (n printed without a needless .0)."""
  shown = f"{n:.0f}" if float(n).is_integer() else f"{n:.2f}"
  return f"{shown} {word}{'' if float(n) == 1 else 's'}"


def plot_curves(runs: dict[str, list[dict]], path: Path) -> None:
  """Train loss, train accuracy and test accuracy against updates, one colour per run.

  Accuracy panels show token accuracy (solid) next to exact accuracy (dashed): early
  in training exact accuracy is flat at 0 while token accuracy already moves.
  """
  fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
  for i, (name, recs) in enumerate(runs.items()):
    colour = f"C{i % 10}"
    train = [r for r in recs if r["kind"] == "train"]
    test = [r for r in recs if r["kind"] == "eval"]
    steps = [r["step"] for r in train]
    if train:
      axes[0].plot(steps, [r["loss"] for r in train], color=colour, label=name)
      axes[1].plot(steps, [r["accuracy"] for r in train], "-", color=colour, label=f"{name}: token")
      axes[1].plot(
        steps, [r["exact_accuracy"] for r in train], "--", color=colour, label=f"{name}: exact"
      )
    if test:
      at = [r["step"] for r in test]
      segments = plural(test[-1]["segments"], "segment")
      axes[2].plot(
        at,
        [r["token_accuracy"] for r in test],
        "o-",
        color=colour,
        label=f"{name}: token ({segments})",
      )
      axes[2].plot(
        at,
        [r["exact_accuracy"] for r in test],
        "s--",
        color=colour,
        label=f"{name}: exact ({segments})",
      )
      if "halt/exact_accuracy" in test[-1]:
        axes[2].plot(
          at,
          [r["halt/exact_accuracy"] for r in test],
          "x:",
          color=colour,
          label=f"{name}: exact (halting)",
        )
  titles = ("train loss", "train accuracy (halted slots)", "test accuracy")
  for ax, title in zip(axes, titles):
    ax.set_title(title)
    ax.set_xlabel("update")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a legend without entries warns
      ax.legend(fontsize=7)
  losses = [y for line in axes[0].lines for y in line.get_ydata()]
  if losses and min(losses) > 0:
    axes[0].set_yscale("log")
  for ax in axes[1:]:
    ax.set_ylim(-0.02, 1.02)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_halting(predictions: dict, num_segments: int, path: Path, sweep=None) -> None:
  """How many test puzzles halted at each segment and the share of them solved; with `sweep`
  ({K: metrics of an evaluation limited to K segments}) also exact accuracy against the mean
  segments used, after a fixed K and with the Q head halting (limit K)."""
  K = num_segments
  at = np.asarray(predictions["halt_steps"])
  ok = tasks.accuracies(predictions["halt_pred"], predictions["labels"])[0]
  fig, axes = plt.subplots(1, 2 if sweep else 1, figsize=(11 if sweep else 5.5, 3.6))
  if sweep:
    left, right = axes
    fixed = [m["exact_accuracy"] for m in sweep.values()]
    left.plot(list(sweep), fixed, "s--", label="K segments")
    used = [m["halt/segments"] for m in sweep.values()]
    left.plot(used, [m["halt/exact_accuracy"] for m in sweep.values()], "x:", label="halting")
    left.set(xlabel="segments used (mean)", ylabel="exact accuracy", ylim=(-0.02, 1.02))
    left.legend(loc="lower right")
  else:
    right = axes
  counts = np.bincount(at, minlength=K + 1)[1 : K + 1]
  right.bar(range(1, K + 1), counts)
  for k, n in enumerate(counts, 1):
    if n:
      right.annotate(f"{ok[at == k].mean():.0%} solved", (k, n), ha="center", va="bottom")
  right.set(xlabel="segment where it halted", ylabel="test puzzles", xticks=range(1, K + 1))
  right.set_ylim(0, 1.15 * max(counts.max(), 1))
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def pick_examples(predictions: dict, n: int) -> np.ndarray:
  """Indices of up to n test examples: some solved, some not when there are both."""
  ok, _ = tasks.accuracies(predictions["pred"], predictions["labels"])
  right, wrong = np.flatnonzero(ok), np.flatnonzero(~ok)
  n_wrong = min(len(wrong), n // 2)
  return np.concatenate([right[: n - n_wrong], wrong[:n_wrong]]).astype(int)


def metrics_table(columns: dict[str, dict]) -> str:
  """A markdown table: one row per metric (those of the first column), one column per run."""
  names = list(columns)
  keys = [k for k in next(iter(columns.values())) if k != "examples"]
  lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
  for k in keys:
    cells = []
    for n in names:
      v = columns[n].get(k)
      cells.append("" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)))
    lines.append(f"| {k} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def best_evaluation(recs: list[dict], metric: str) -> dict | None:
  """The evaluation record with the highest `metric` (the first of equals), or None."""
  evals = [r for r in recs if r["kind"] == "eval" and metric in r]
  return max(evals, key=lambda r: (r[metric], -r["step"])) if evals else None


def split_size(data_dir, split: str = "test") -> int | None:
  """Examples in one split of a dataset, or None when it cannot be read."""
  from hrm_jax.data.format import read_split

  try:
    return sum(d.num_examples for d in read_split(data_dir, split)[1].values())
  except Exception:  # the report still gets written when the dataset has moved
    return None


def _stopped_lines(summary: dict) -> list[str]:
  """A warning when the run stopped before its last update (summary `finished: false`)."""
  if summary.get("finished") is not False:
    return []
  steps, total = summary["steps"], summary.get("total_steps", summary["steps"])
  return [
    f"**Stopped early: at update {steps:,} of {total:,}** (summary.json `finished: "
    "false`: a time limit or an interruption). The metrics below are those of the "
    "evaluation at the stop; rerun the same command to continue.",
    "",
  ]


def _sample_lines(cfg, ev: dict) -> list[str]:
  """The final evaluation's sample: the whole test split, or a subsample with its error."""
  if "exact_accuracy" not in ev:
    return ["No evaluation was run."]
  n = int(ev.get("examples", 0))
  size = split_size(cfg.data.path)
  if size is None or n >= size:
    text = f"Final evaluation on the whole test split ({n:,} examples)."
  else:
    text = (
      f"Final evaluation on a subsample: the first {n:,} of the {size:,} test examples; "
      f"exact accuracy {ev['exact_accuracy']:.4f} +- "
      f"{ev.get('exact_accuracy_stderr', 0.0):.4f} (standard error, sqrt(p (1 - p) / n))."
    )
  periodic = cfg.eval.get("max_examples", 0)
  if periodic and periodic != n and (size is None or periodic < size):
    text += f" Periodic evaluations (learning curves) used the first {periodic:,}."
  return [text]


def _best_lines(cfg, recs: list[dict], ev: dict, last_step: int) -> list[str]:
  """Which evaluation was best by train.best_metric."""
  metric = cfg.train.best_metric
  best = best_evaluation(recs, metric)
  if best is None:
    return []
  n_evals = sum(r["kind"] == "eval" for r in recs)
  where = (
    f"update {best['step']:,}, the final one"
    if best["step"] == last_step
    else f"update {best['step']:,} ({metric} {best[metric]:.4f}; final: "
    f"{ev.get(metric, float('nan')):.4f})"
  )
  return [
    f"Best of {plural(n_evals, 'evaluation')} by `train.best_metric` = `{metric}` "
    f"(highest): {where}."
  ]


def write_report(run_dir: Path, cfg, summary: dict, predictions: dict) -> Path:
  """Write RUN_DIR/report.md and RUN_DIR/plots/*.png for one finished (or stopped) run."""
  run_dir = Path(run_dir)
  plots = run_dir / "plots"
  plots.mkdir(exist_ok=True)
  recs = records.read_records(run_dir / "metrics.jsonl")
  plot_curves({f"{cfg.task}-{cfg.variant}": recs}, plots / "learning_curves.png")
  task = tasks.get(cfg.task)
  idx = pick_examples(predictions, cfg.eval.num_render)
  if len(idx):
    render.draw_examples(
      task,
      *(predictions[k][idx] for k in ("inputs", "labels", "pred")),
      plots / "examples.png",
      titles=[f"test #{int(predictions['example_index'][i])}" for i in idx],
    )
  ev = summary["eval"]
  m = cfg.model
  segments = int(ev.get("segments", 0))
  halting = segments > 0 and "halt_steps" in predictions
  if halting:
    plot_halting(predictions, segments, plots / "halting.png")
  text = [
    f"# {cfg.task} ({cfg.variant})",
    "",
    *_stopped_lines(summary),
    f"{summary['steps']:,} updates of batch {cfg.train.global_batch_size} in "
    f"{summary['train_seconds']:.0f} s; {summary['params']:,} parameters "
    f"(D={m.hidden_size}, H/L layers {m.h_layers}/{m.l_layers}, cycles N={m.h_cycles} "
    f"T={m.l_cycles}, halt_max_steps {m.halt_max_steps}). Dataset: `{cfg.data.path}`.",
    "",
    "## Test metrics",
    "",
    *_sample_lines(cfg, ev),
    "",
    *_best_lines(cfg, recs, ev, summary["steps"]),
    "",
    f"Plain names: every example runs {plural(ev.get('segments', 0), 'ACT segment')}; "
    f"`halt/`: the answer at the first segment where the Q head halts ({cfg.eval.halt_rule}). "
    "`lm_loss`, `q_halt_loss`, `q_halt_accuracy`: the authors' evaluation losses at the "
    "final segment.",
    "",
  ]
  if task.report_note:
    text += [task.report_note, ""]
  text += [
    metrics_table({"final": ev}),
    "",
    "## Learning curves",
    "",
    "Token accuracy (solid) next to exact accuracy (dashed).",
    "",
    "![learning curves](plots/learning_curves.png)",
    "",
  ]
  if halting:
    text += [
      "## Halting",
      "",
      f"The segment where the Q head halted ({cfg.eval.halt_rule}, limit {segments}) on each "
      "test puzzle, and the share of those puzzles solved there.",
      "",
      "![halting](plots/halting.png)",
      "",
    ]
  if len(idx):
    text += [
      "## Test puzzles",
      "",
      "Input, truth and the model's answer (red crosses / digits: wrong cells).",
      "",
      "![examples](plots/examples.png)",
      "",
    ]
  path = run_dir / "report.md"
  path.write_text("\n".join(text))
  return path


def plot_seed_bands(curves: dict[str, list[tuple]], path: Path, ylabel: str) -> None:
  """One line per name (the mean over seeds) with a band of +- one std; `curves` maps a name
  to its seeds' (steps, values) pairs (each seed the same steps)."""
  fig, ax = plt.subplots(figsize=(6, 3.8))
  for i, (name, seeds) in enumerate(curves.items()):
    n = min(len(s[0]) for s in seeds)
    if not n:
      continue
    steps = np.asarray(seeds[0][0][:n])
    values = np.asarray([s[1][:n] for s in seeds], float)
    mean, std = values.mean(0), values.std(0)
    ax.plot(steps, mean, "o-", color=f"C{i % 10}", label=f"{name} ({len(seeds)} seeds)")
    ax.fill_between(steps, mean - std, mean + std, color=f"C{i % 10}", alpha=0.2)
  ax.set(xlabel="update", ylabel=ylabel, ylim=(-0.02, 1.02))
  ax.grid(alpha=0.3)
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_test_time(points: dict[str, list[tuple]], path: Path) -> None:
  """Accuracy against test-time compute (segments x restarts, log scale), one line per name;
  `points` maps a name to (compute, mean accuracy, std, label) tuples."""
  fig, ax = plt.subplots(figsize=(6, 3.8))
  named, stacked = set(), collections.Counter()  # each label once; a second at an x goes above
  for i, (name, rows) in enumerate(points.items()):
    rows = sorted(rows)
    x, y, err = (np.asarray([r[j] for r in rows], float) for j in range(3))
    ax.errorbar(x, y, yerr=err, fmt="o-", color=f"C{i % 10}", capsize=3, label=name)
    for xi, yi, *_, label in rows:
      if (xi, label) not in named:
        named.add((xi, label))
        up = 3 + 8 * stacked[xi]
        stacked[xi] += 1
        ax.annotate(label, (xi, yi), fontsize=6, xytext=(3, up), textcoords="offset points")
  ax.set(xlabel="test-time compute (segments x restarts)", ylabel="exact accuracy")
  ax.set_xscale("log", base=2)
  ax.set_ylim(-0.02, 1.02)
  ax.grid(alpha=0.3)
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
