"""The report of a study (`hrm_jax.training.study`): results.json, report.md and its plots.

`aggregate` takes the cells' DONE records to mean +- std over seeds per architecture,
`conclusion` writes the paragraph the numbers support (the winner and by how much, or "no
clear difference" when the seed intervals overlap; what test-time compute gained), and
`write_report` writes OUT/results.json, OUT/report.md and OUT/plots/*.png.
"""

from __future__ import annotations

import json
from pathlib import Path

from ml_collections import ConfigDict

COLUMNS = (  # (results key, report heading): mean +- std over seeds per architecture
  ("exact_accuracy", "exact acc"),
  ("token_accuracy", "token acc"),
  ("halt/exact_accuracy", "exact acc (halting)"),
  ("halt/segments", "segments (halting)"),
  ("harder/exact_accuracy", "exact acc (harder set)"),  # only for tasks with study.harder
  ("params", "params"),
  ("train_flops", "train FLOPs"),
  ("train_seconds", "train s"),
)


def _stats(values) -> dict:
  import numpy as np

  v = np.asarray(values, float)
  return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}


def aggregate(records: list[dict]) -> dict:
  """{task: {arch: {column: {mean, std, n}, "test_time": [rows of means]}}} over seeds."""
  out: dict = {}
  for r in records:
    out.setdefault(r["task"], {}).setdefault(r["arch"], []).append(r)
  for task, by_arch in out.items():
    for arch, runs in by_arch.items():
      flat = [
        {
          **r["eval"],
          **{f"harder/{k}": v for k, v in r.get("harder", {}).items()},
          **{k: r[k] for k in ("params", "train_flops", "train_seconds")},
        }
        for r in runs
      ]
      row = {k: _stats([f[k] for f in flat]) for k, _ in COLUMNS if all(k in f for f in flat)}
      sweeps = [r["test_time"] for r in runs]
      row["test_time"] = [
        {
          **{k: sweeps[0][i][k] for k in ("segments", "restarts", "compute")},
          **{
            k: _stats([s[i][k] for s in sweeps])
            for k in ("exact_accuracy", "halt/exact_accuracy", "halt/compute")
          },
        }
        for i in range(len(sweeps[0]))
      ]
      row["seeds"] = sorted(r["seed"] for r in runs)
      by_arch[arch] = row
  return out


def _show(s: dict, key: str) -> str:
  m, d = s["mean"], s["std"]
  if key in ("params", "train_flops"):
    return f"{m:.3g}" + (f" +- {d:.2g}" if d else "")
  if key == "train_seconds":
    return f"{m:.0f} +- {d:.0f}"
  return f"{m:.3f} +- {d:.3f}"


def conclusion(task: str, by_arch: dict, key: str = "exact_accuracy") -> str:
  """A paragraph from the numbers: the best architecture by `key` against the runner-up
  (intervals mean +- std; "no clear difference" when they overlap), and test-time gains."""
  ranked = sorted(by_arch, key=lambda a: -by_arch[a][key]["mean"])
  fmt = lambda a: f"{a} ({_show(by_arch[a][key], key)})"
  if len(ranked) < 2:
    text = f"On {task}, only {fmt(ranked[0])} was run."
  else:
    (a, b), (sa, sb) = ranked[:2], (by_arch[ranked[0]][key], by_arch[ranked[1]][key])
    gap = sa["mean"] - sb["mean"]
    if sa["mean"] - sa["std"] <= sb["mean"] + sb["std"]:
      text = (
        f"On {task}, no clear difference between the best two by held-out {key}: {fmt(a)} "
        f"and {fmt(b)} (the seed intervals overlap)."
      )
    else:
      text = f"On {task}, {fmt(a)} wins by {gap:.3f} {key} over the runner-up {fmt(b)}."
    if len(ranked) > 2:
      text += " Then: " + ", ".join(fmt(x) for x in ranked[2:]) + "."
  gains = []
  for arch in ranked:
    rows = by_arch[arch]["test_time"]
    base = next((r for r in rows if r["restarts"] == 1), rows[0])
    best = max(rows, key=lambda r: r["halt/exact_accuracy"]["mean"])
    gain = best["halt/exact_accuracy"]["mean"] - base["halt/exact_accuracy"]["mean"]
    if gain > 0:
      gains.append(
        f"{arch} +{gain:.3f} ({best['segments']} segments x {best['restarts']} restarts)"
      )
  text += (
    " Test-time compute raised the halting accuracy of " + "; ".join(gains) + "."
    if gains
    else " More segments or restarts at test time did not raise any architecture's accuracy."
  )
  return text


def _eval_curve(run_dir: Path) -> tuple[list, list]:
  """(steps, held-out exact accuracy) of a run's evaluations (empty without its metrics)."""
  from hrm_jax.training import records

  path = run_dir / "metrics.jsonl"
  evals = [r for r in records.read_records(path) if r["kind"] == "eval"] if path.is_file() else []
  return [r["step"] for r in evals], [r["exact_accuracy"] for r in evals]


def _harder_note(study: ConfigDict, task: str, runs: list[dict]) -> list[str]:
  """The report's line on the task's harder held-out set (none: no lines)."""
  run = next((r for r in runs if "harder" in r), None)
  if run is None:
    return []
  spec = ", ".join(f"{k}={v}" for k, v in dict(study.harder[task]).items())
  return [
    f"Harder set: {run['harder']['examples']:.0f} held-out examples built with {spec} at the "
    f"trained size ({run['harder_in_train']} of its examples also in the training split).",
    "",
  ]


def write_report(study: ConfigDict, records: list[dict], total_s: float) -> Path:
  """OUT/results.json, OUT/report.md and OUT/plots/*.png from the cells' DONE records."""
  from hrm_jax.training import report

  out = Path(study.out)
  plots = out / "plots"
  plots.mkdir(parents=True, exist_ok=True)
  results = aggregate(records)
  (out / "results.json").write_text(
    json.dumps(
      {"budget": study.budget, "match": study.match, "tasks": results, "runs": records}, indent=1
    )
  )
  tt = study.test_time
  lines = [
    f"# Study `{study.name}`: {', '.join(study.archs)} on {', '.join(results)}",
    "",
    f"Budget rule: equal {study.budget}"
    + (
      f" ({study.seconds:.0f} s per run)"
      if study.budget == "seconds"
      else f" (as {study.reference})"
    )
    + f"; parameters matched to {study.reference} within {study.tolerance:.0%} by {study.match}. "
    f"Seeds {', '.join(map(str, study.seeds))}; mean +- std over seeds. Test-time compute: "
    f"{'/'.join(map(str, tt.segments_x))} x the trained segments, "
    f"{'/'.join(map(str, tt.restarts))} restarts (noise {tt.noise}, answer by {tt.select}). "
    f"Total time {total_s / 60:.1f} min.",
    "",
  ]
  for task, by_arch in results.items():
    curves = {
      arch: [_eval_curve(out / task / arch / f"seed{seed}") for seed in row["seeds"]]
      for arch, row in by_arch.items()
    }
    report.plot_seed_bands(curves, plots / f"{task}_curves.png", "held-out exact accuracy")
    points = {
      arch: [
        (
          r["compute"],
          r["halt/exact_accuracy"]["mean"],
          r["halt/exact_accuracy"]["std"],
          f"{r['segments']}x{r['restarts']}",
        )
        for r in row["test_time"]
      ]
      for arch, row in by_arch.items()
    }
    report.plot_test_time(points, plots / f"{task}_test_time.png")
    columns = [(k, h) for k, h in COLUMNS if all(k in row for row in by_arch.values())]
    lines += [
      f"## {task}",
      "",
      *_harder_note(study, task, [r for r in records if r["task"] == task]),
      "| architecture | " + " | ".join(h for _, h in columns) + " |",
      "|---|" + "---|" * len(columns),
      *(
        f"| {arch} | " + " | ".join(_show(row[k], k) for k, _ in columns) + " |"
        for arch, row in by_arch.items()
      ),
      "",
      conclusion(task, by_arch),
      "",
      f"![learning curves](plots/{task}_curves.png) "
      f"![test-time compute](plots/{task}_test_time.png)",
      "",
    ]
  path = out / "report.md"
  path.write_text("\n".join(lines))
  return path
