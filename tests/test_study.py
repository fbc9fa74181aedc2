"""The study harness at toy size: refusals before training, a 2 x 2 grid killed and resumed,
and the report from results."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.configs import study as study_configs
from hrm_jax.training import study, study_report

ROOT = Path(__file__).resolve().parents[1]


def toy(tmp_path: Path):
  """The toy study, writing under tmp_path."""
  s = study_configs.get_config("toy")
  s.out = str(tmp_path / "study")
  s.tasks.parity.data.path = str(tmp_path / "data")
  return s


def test_bad_studies_are_refused_before_training(tmp_path):
  s = toy(tmp_path)
  with s.unlocked():
    s.archs["nope"] = {"model": {"arch": "nope"}}
  with pytest.raises(study.StudyError, match="unknown arch 'nope'"):
    study.plan(s)
  s = toy(tmp_path)
  with s.unlocked():
    s.archs["TRM"] = {"model": {"arch": "trm", "h_layers": 0, "l_layers": 1}}
  s.match = "none"
  with pytest.raises(study.StudyError, match="parameters vs the reference"):
    study.plan(s)
  s = toy(tmp_path)
  s.max_hours = 1e-9
  with pytest.raises(study.StudyError, match="estimated at"):
    study.plan(s)
  assert not (tmp_path / "study").exists()  # nothing trained


def test_width_matching_resizes_within_the_tolerance(tmp_path):
  s = toy(tmp_path)
  with s.unlocked():
    s.archs["TRM"] = {"model": {"arch": "trm", "h_layers": 0, "l_layers": 1}}
  cells = {c.arch: c for c in study.plan(s)}
  assert abs(cells["TRM"].params / cells["HRM"].params - 1) <= s.tolerance
  assert cells["TRM"].cfg.model.hidden_size > cells["HRM"].cfg.model.hidden_size


def _command(s) -> list[str]:
  return [
    sys.executable,
    "-m",
    "experiments.study",
    "--config=experiments/configs/study.py:toy",
    f"--config.out={s.out}",
    f"--config.tasks.parity.data.path={s.tasks.parity.data.path}",
  ]


def test_grid_killed_then_resumed_and_reported(tmp_path):
  s = toy(tmp_path)
  done = [Path(s.out) / "parity" / a / f"seed{n}" / study.DONE for a in s.archs for n in s.seeds]
  proc = subprocess.Popen(_command(s), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  t0 = time.time()
  while not any(p.is_file() for p in done) and proc.poll() is None and time.time() - t0 < 120:
    time.sleep(0.2)
  os.kill(proc.pid, signal.SIGTERM)
  out = proc.communicate(timeout=120)[0].decode()
  first = {p: p.stat().st_mtime_ns for p in done if p.is_file()}
  assert first and len(first) < len(done), out
  assert proc.returncode != 0 and "rerun the same command" in out, out
  rerun = subprocess.run(_command(s), cwd=ROOT, capture_output=True, text=True, timeout=240)
  assert rerun.returncode == 0, rerun.stdout + rerun.stderr
  assert f"{len(first)} done" in rerun.stdout  # the finished runs were skipped ...
  assert all(p.stat().st_mtime_ns == t for p, t in first.items())  # ... and not redone
  results = json.loads((Path(s.out) / "results.json").read_text())
  hrm = results["tasks"]["parity"]["HRM"]
  assert hrm["exact_accuracy"]["n"] == 2 and hrm["seeds"] == [0, 1]
  report = (Path(s.out) / "report.md").read_text()
  assert "| HRM |" in report and "| one-pass |" in report
  assert hrm["harder/exact_accuracy"]["n"] == 2 and "| exact acc (harder set) |" in report
  assert "Harder set: 64 held-out examples built with seed=1, train_size=16" in report
  for png in ("parity_curves.png", "parity_test_time.png"):
    assert (Path(s.out) / "plots" / png).stat().st_size > 0


def _record(arch: str, seed: int, acc: float) -> dict:
  metrics = {
    "exact_accuracy": acc,
    "token_accuracy": acc,
    "halt/exact_accuracy": acc,
    "halt/segments": 1.0,
  }
  rows = [
    dict(segments=1, restarts=k, compute=k, **metrics, **{"halt/compute": float(k)}) for k in (1, 4)
  ]
  rows[1]["halt/exact_accuracy"] = acc + 0.1
  return dict(
    task="parity",
    arch=arch,
    seed=seed,
    params=1000,
    train_flops=1e9,
    train_seconds=10.0,
    eval=metrics,
    test_time=rows,
  )


def test_report_from_results_states_the_winner_or_no_difference(tmp_path):
  s = toy(tmp_path)
  clear = [_record("HRM", n, 0.9 + 0.01 * n) for n in (0, 1)]
  clear += [_record("one-pass", n, 0.2 + 0.01 * n) for n in (0, 1)]
  text = study_report.write_report(s, clear, 60.0).read_text()
  assert "HRM (0.905 +- 0.007) wins by 0.700" in text
  assert "Test-time compute raised" in text
  close = [_record("HRM", n, 0.5 + 0.2 * n) for n in (0, 1)]
  close += [_record("one-pass", n, 0.55) for n in (0, 1)]
  assert "no clear difference" in study_report.write_report(s, close, 60.0).read_text()
  assert json.loads((Path(s.out) / "results.json").read_text())["budget"] == "updates"


def test_cpu_study_plans_every_arch_matched(tmp_path):
  s = study_configs.get_config("cpu")
  for name, t in s.tasks.items():  # the same shapes from a few examples
    t.data.path = str(tmp_path / name)
    t.data.build.update(train_size=64, test_size=16)
  cells = study.plan(s)
  assert len(cells) == len(s.tasks) * len(s.archs) * len(s.seeds)
  for c in cells:
    ref = next(r for r in cells if r.task == c.task and r.arch == s.reference)
    assert abs(c.params / ref.params - 1) <= s.tolerance, c.name
    assert c.cfg.train.steps == ref.cfg.train.steps  # equal updates
  grid = next(c for c in cells if c.task == "reach")
  assert grid.harder.endswith("reach-harder") and grid.harder_in_train == 0
  assert all(not c.harder for c in cells if c.task == "parity")
  mlp = next(c for c in cells if c.arch == "TRM-MLP").cfg.model
  assert mlp.mlp_t and mlp.pos_encodings == "none"


def test_harder_set_counts_its_examples_also_in_train(tmp_path):
  from hrm_jax.data.format import read_split
  from hrm_jax.training import experiment

  s = toy(tmp_path)
  experiment.ensure_dataset(s.tasks.parity, progress=False)
  path, in_train = study.harder_dataset(s, "parity", s.tasks.parity)
  rows = lambda d, split: [x.tobytes() for x in read_split(d, split)[1]["all"].inputs]

  train = set(rows(s.tasks.parity.data.path, "train"))
  assert in_train == len(set(rows(path, "test")) & train) > 0  # 12 bits: some strings repeat
  assert study.harder_dataset(s, "maze", s.tasks.parity) == ("", 0)
  with s.unlocked():
    s.harder.parity = {"no_such_field": 1}
  with pytest.raises(study.StudyError, match="study.harder.parity"):
    study.harder_dataset(s, "parity", s.tasks.parity)


def test_estimate_counts_training_and_every_evaluation(tmp_path):
  from hrm_jax import flops

  s = toy(tmp_path)
  cell = study.plan(s)[0]
  train, evals = study.cell_flops(cell, s.test_time)
  assert train == cell.flops_per_step * cell.cfg.train.steps
  per_example = flops.segment_flops(study._model(cell.cfg), 1) * 2  # 2 trained segments
  # 64 examples: evaluations at steps 3 and 6, the sweep's K=2 point (its K=1 point is the
  # evaluation at 6) and the harder set
  assert evals == pytest.approx(per_example * 64 * (2 + 2 + 1))
  with s.unlocked():
    s.test_time.restarts = (1, 2, 4)
  more = study.cell_flops(cell, s.test_time)[1]
  assert more - evals == pytest.approx(per_example * 64 * 4)
  s.test_time.max_compute = 2.0  # drops the K=4 point: back to the first count
  assert study.cell_flops(cell, s.test_time)[1] == pytest.approx(evals)
