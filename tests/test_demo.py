"""`make demo`: the one-pass twin, and (slow) the whole demo on a few updates."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import demo
from experiments.configs import parity


def test_one_pass_twin_differs_only_in_recurrence():
  cfg = parity.get_config("cpu")
  twin = demo.one_pass(cfg)
  assert (twin.model.h_cycles, twin.model.l_cycles, twin.model.halt_max_steps) == (1, 1, 1)
  assert twin.eval.halt_max_steps == 1
  for key in ("hidden_size", "num_heads", "h_layers", "l_layers", "pos_encodings", "loss_type"):
    assert twin.model[key] == cfg.model[key]
  assert twin.optim.to_dict() == cfg.optim.to_dict()
  assert twin.train.to_dict() == cfg.train.to_dict()
  assert cfg.model.h_cycles * cfg.model.l_cycles > 1  # the original is untouched


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
  out = tmp_path / "demo"
  assert demo.main(["--out", str(out), "--steps", "3", "--data", str(tmp_path / "data")]) == 0
  text = (out / "report.md").read_text()
  assert "| exact_accuracy |" in text and "one-pass" in text
  for png in ("learning_curves.png", "strings_hrm.png", "strings_one-pass.png"):
    assert (out / "plots" / png).stat().st_size > 1000


@pytest.mark.slow
def test_ctrl_c_stops_both_runs_with_a_checkpoint_in_one_line(tmp_path):
  """SIGINT to the demo's own process only (not its workers): each run saves and stops."""
  repo = Path(__file__).resolve().parents[1]
  out = tmp_path / "demo"
  proc = subprocess.Popen(
    [
      sys.executable,
      "-m",
      "experiments.demo",
      "--out",
      str(out),
      "--steps",
      "100000",
      "--data",
      str(tmp_path / "data"),
    ],
    cwd=repo,
    env={**os.environ, "PYTHONPATH": str(repo)},
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
  )
  deadline = time.time() + 240
  while not (out / "hrm" / "metrics.jsonl").is_file() and time.time() < deadline:
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    time.sleep(0.2)
  time.sleep(2)
  proc.send_signal(signal.SIGINT)
  _, stderr = proc.communicate(timeout=240)
  assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
  last = stderr.strip().splitlines()[-1]
  assert last.startswith("HRM: terminated at step ") and "checkpoint saved" in last, last
  assert any(p.name.isdigit() for p in (out / "hrm" / "checkpoints").iterdir())


def test_demo_refuses_a_folder_that_is_not_its_output(tmp_path):
  from hrm_jax.data._atomic import OutputFolderError

  out = tmp_path / "mine"
  out.mkdir()
  (out / "thesis.tex").write_text("years of work")
  with pytest.raises(OutputFolderError, match="not empty"):
    demo.main(["--out", str(out), "--steps", "1", "--data", str(tmp_path / "data")])
  assert [p.name for p in out.iterdir()] == ["thesis.tex"]
  assert (out / "thesis.tex").read_text() == "years of work"
  assert not (tmp_path / "data").exists()


def test_demo_replaces_only_its_own_earlier_output(tmp_path):
  from hrm_jax.data._atomic import claim_marked_folder

  out = tmp_path / "demo"
  claim_marked_folder(out, demo.MARKER, demo.OUTPUTS, "experiments.demo output")
  (out / "hrm" / "checkpoints").mkdir(parents=True)
  (out / "hrm" / "checkpoints" / "1").write_text("old run")
  (out / "report.md").write_text("old report")
  (out / "my_notes.md").write_text("mine")
  claim_marked_folder(out, demo.MARKER, demo.OUTPUTS, "experiments.demo output")
  assert sorted(p.name for p in out.iterdir()) == [demo.MARKER, "my_notes.md"]
  assert (out / "my_notes.md").read_text() == "mine"


def test_a_tampered_marker_removes_nothing_outside(tmp_path):
  import json

  from hrm_jax.data._atomic import claim_marked_folder

  out = tmp_path / "demo"
  out.mkdir()
  (tmp_path / "beside.txt").write_text("keep")
  (out / "kept.txt").write_text("keep")
  (out / demo.MARKER).write_text(
    json.dumps({"owned": [".", "", "..", "../beside.txt", str(tmp_path / "beside.txt")]})
  )
  claim_marked_folder(out, demo.MARKER, demo.OUTPUTS, "experiments.demo output")
  assert (tmp_path / "beside.txt").read_text() == "keep" and (out / "kept.txt").is_file()
