"""End-of-run report: `report.md` with the final table, learning curves and drawn test puzzles."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hrm_jax import records, render  # noqa: E402


def plot_curves(runs: dict[str, list[dict]], path: Path) -> None:
  """Train loss, train exact accuracy and test exact accuracy against steps, one line per run."""
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
  for name, recs in runs.items():
    train = [r for r in recs if r["kind"] == "train"]
    test = [r for r in recs if r["kind"] == "eval"]
    steps = [r["step"] for r in train]
    axes[0].plot(steps, [r["loss"] for r in train], label=name)
    axes[1].plot(steps, [r["exact_accuracy"] for r in train], label=name)
    if test:
      axes[2].plot([r["step"] for r in test], [r["exact_accuracy"] for r in test], "o-",
                   label=f"{name} ({test[-1]['segments']:.0f} segments)")
      if "halt/exact_accuracy" in test[-1]:
        axes[2].plot([r["step"] for r in test], [r["halt/exact_accuracy"] for r in test], "x--",
                     label=f"{name} (halting)")
  titles = ("train loss", "train exact accuracy (halted slots)", "test exact accuracy")
  for ax, title in zip(axes, titles):
    ax.set_title(title)
    ax.set_xlabel("update")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  axes[0].set_yscale("log")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def pick_examples(got: dict, n: int) -> np.ndarray:
  """Indices of up to n test examples: some solved, some not when there are both."""
  mask = got["labels"] != -100
  ok = np.all((got["pred"] == got["labels"]) | ~mask, axis=1)
  right, wrong = np.flatnonzero(ok), np.flatnonzero(~ok)
  n_wrong = min(len(wrong), n // 2)
  return np.concatenate([right[:n - n_wrong], wrong[:n_wrong]]).astype(int)


def metrics_table(columns: dict[str, dict]) -> str:
  """A markdown table: one row per metric, one column per run."""
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


def write_report(run_dir: Path, cfg, summary: dict, got: dict) -> Path:
  """Write RUN_DIR/report.md and RUN_DIR/plots/*.png for one finished run."""
  run_dir = Path(run_dir)
  plots = run_dir / "plots"
  plots.mkdir(exist_ok=True)
  recs = records.read_records(run_dir / "metrics.jsonl")
  plot_curves({f"{cfg.task}-{cfg.variant}": recs}, plots / "learning_curves.png")
  idx = pick_examples(got, cfg.eval.num_render)
  if len(idx):
    render.draw_examples(cfg.task, got["inputs"][idx], got["labels"][idx], got["pred"][idx],
                         plots / "examples.png", titles=[f"test #{int(got['example_index'][i])}"
                                                         for i in idx])
  ev = summary["eval"]
  m = cfg.model
  text = [
      f"# {cfg.task} ({cfg.variant})",
      "",
      f"{summary['steps']} updates of batch {cfg.train.global_batch_size} in "
      f"{summary['train_seconds']:.0f} s; {summary['params']:,} parameters "
      f"(D={m.hidden_size}, H/L layers {m.h_layers}/{m.l_layers}, cycles N={m.h_cycles} "
      f"T={m.l_cycles}, halt_max_steps {m.halt_max_steps}). Dataset: `{cfg.data.path}`, "
      f"{int(ev.get('examples', 0))} test examples.",
      "",
      "## Test metrics",
      "",
      f"Plain names: every example runs {ev.get('segments', 0):.0f} ACT segments; `halt/`: "
      f"the answer at the first segment where the Q head halts ({cfg.eval.halt_rule}).",
      "",
      metrics_table({"final": ev}),
      "",
      "## Learning curves",
      "",
      "![learning curves](plots/learning_curves.png)",
      "",
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
