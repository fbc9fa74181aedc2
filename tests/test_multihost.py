"""Multi-host training for real: separate processes joined by `jax.distributed` (a local
coordinator, CPU collectives over gloo), launched the way a cluster launches them.

Each process is `python -m experiments.maze ...` with JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES and JAX_PROCESS_ID set (what `parallel.maybe_initialize_distributed`
reads) and its own simulated CPU devices; each feeds its own slice of every global batch.
The reference is one process with the same total device count and global batch. The
metrics.jsonl records and every array of every checkpoint (parameters, EMA, optimizer
state, ACT carry, PRNG key, step) must be equal (bit for bit with 2 devices; to float32
rounding with 4, where the all-reduce sums in another order), and a two-process run
resumed from its checkpoint must end bit-identical to the uninterrupted one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests import tiny as tiny_run

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180
# A process that failed may then hang in jax.distributed's shutdown barrier: its output says.
FAILED = re.compile(r"^(Traceback \(most recent call last\)|error: )", re.MULTILINE)
TIMING_FIELDS = {"time", "examples_per_s"}  # wall-clock figures in metrics.jsonl: not compared
# What announces a cluster to JAX or to hrm_jax.training.parallel: none of it may leak in.
CLUSTER_ENV = ("JAX_", "SLURM_", "OMPI_", "PMI_", "TPU_", "MEGASCALE_", "COORDINATOR_ADDRESS")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return tiny_run.build_data(tmp_path_factory.mktemp("multihost_data"))


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(devices: int, **extra: str) -> dict[str, str]:
  env = {k: v for k, v in os.environ.items() if not k.startswith(CLUSTER_ENV)}
  env.update(
    XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
    JAX_PLATFORMS="cpu",
    PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    **extra,
  )
  return env


class _Job:
  """`processes` processes of one training run (1: a plain single-process run), all on
  `run_dir` (or on `run_dir[i]` for process i: hosts that do not see the same files)."""

  def __init__(
    self,
    name: str,
    run_dir: Path | list[Path],
    data: Path,
    *,
    processes: int,
    devices: int,
    **train,
  ):
    self.name, self.procs, self.logs, self.paths = name, [], [], []
    run_dirs = run_dir if isinstance(run_dir, list) else [run_dir] * processes
    address = f"127.0.0.1:{_free_port()}"
    log_dir = run_dirs[0].parent / f"{run_dirs[0].name}_logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for i in range(processes):
      extra = (
        dict(
          JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES=str(processes), JAX_PROCESS_ID=str(i)
        )
        if processes > 1
        else {}
      )
      cmd = [sys.executable, "-m", "experiments.maze", *tiny_run.flags(run_dirs[i], data, **train)]
      self.paths.append(log_dir / f"process{i}-{time.monotonic_ns()}.log")
      log = open(self.paths[-1], "w")
      self.logs.append(log)
      self.procs.append(
        subprocess.Popen(
          cmd, cwd=REPO, env=_env(devices, **extra), stdout=log, stderr=subprocess.STDOUT
        )
      )

  def tail(self, i: int, n: int = 3000) -> str:
    """The last `n` characters process `i` wrote (stdout and stderr)."""
    return self.paths[i].read_text(errors="replace")[-n:]

  def kill(self) -> None:
    for p in self.procs:
      if p.poll() is None:
        p.kill()
    for p in self.procs:
      p.wait()
    for log in self.logs:
      log.close()


def _wait(*jobs: _Job) -> None:
  """Wait for every process of `jobs`; the first failure (or the timeout) kills them all and
  fails with each process's output."""
  deadline = time.monotonic() + TIMEOUT_S
  try:
    while True:
      states = [(job, i, p.poll()) for job in jobs for i, p in enumerate(job.procs)]
      bad = [
        (job, i, rc)
        for job, i, rc in states
        if rc not in (None, 0) or (rc is None and FAILED.search(job.tail(i, 10**6)))
      ]
      timed_out = time.monotonic() > deadline
      if bad or timed_out:
        why = "; ".join(
          f"{job.name} process {i} " + (f"exited with {rc}" if rc is not None else "failed")
          for job, i, rc in bad
        )
        detail = "\n".join(
          f"--- {job.name} process {i} (rc {rc}), output tail:\n{job.tail(i)}"
          for job, i, rc in states
        )
        pytest.fail(f"{why or f'timed out after {TIMEOUT_S}s'}\n{detail}", pytrace=False)
      if all(rc == 0 for _, _, rc in states):
        return
      time.sleep(0.2)
  finally:
    for job in jobs:
      job.kill()


def _records(run_dir: Path) -> list[dict]:
  from hrm_jax.training import records

  return [
    {k: v for k, v in r.items() if k not in TIMING_FIELDS}
    for r in records.read_records(run_dir / "metrics.jsonl")
  ]


def _checkpoint(run_dir: Path, step: int) -> dict:
  """Every array item of checkpoint `step` as numpy, plus the loader's JSON state."""
  import jax
  import orbax.checkpoint as ocp

  path = run_dir / "checkpoints" / str(step)
  handler, out = ocp.PyTreeCheckpointHandler(), {}
  for item in ("params", "ema", "train"):
    tree = handler.metadata(path / item).tree
    args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
    out[item] = handler.restore(path / item, args=ocp.args.PyTreeRestore(restore_args=args))
  out["loader"] = ocp.JsonCheckpointHandler().restore(path / "loader")
  return out


def _assert_same_checkpoint(got_dir: Path, want_dir: Path, step: int, tol: float = 0.0) -> None:
  """Checkpoint `step` of two runs holds the same arrays: bit-equal, or with `tol` > 0 float
  arrays within tol * (their largest magnitude) (a different all-reduce order rounds
  differently); integer arrays (PRNG key, step) and the loader state always equal."""
  import jax

  got, want = _checkpoint(got_dir, step), _checkpoint(want_dir, step)
  assert got["loader"] == want["loader"]
  flat_got, flat_want = (jax.tree_util.tree_flatten_with_path(t)[0] for t in (got, want))
  assert [k for k, _ in flat_got] == [k for k, _ in flat_want]
  for (path, g), (_, w) in zip(flat_got, flat_want):
    what = f"checkpoint {step}: {jax.tree_util.keystr(path)}"
    if tol and np.issubdtype(np.asarray(w).dtype, np.floating):
      np.testing.assert_allclose(
        g, w, rtol=0, atol=tol * float(np.abs(w).max(initial=0)), err_msg=what
      )
    else:
      np.testing.assert_array_equal(g, w, err_msg=what)


def _assert_same_records(got_dir: Path, want_dir: Path, rel: float = 0.0) -> None:
  """metrics.jsonl of two runs: the same records, equal (or within relative `rel`)."""
  got, want = _records(got_dir), _records(want_dir)
  assert [(r["step"], r["kind"]) for r in got] == [(r["step"], r["kind"]) for r in want]
  for g, w in zip(got, want):
    g, w = ({k: v for k, v in r.items() if k != "kind"} for r in (g, w))  # approx: numbers
    assert g == (pytest.approx(w, rel=rel, abs=1e-9) if rel else w), f"step {w['step']}"


TRAIN = dict(steps=3, log_every=1, eval_every=3, checkpoint_every=2, ema_rate=0.9)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
  """(1 process x 2 devices, 2 processes x 1 device) runs of TRAIN: 3 updates (each
  logged), an evaluation at the end, checkpoints at 2 and 3."""
  root = tmp_path_factory.mktemp("multihost_runs")
  one, two = root / "one", root / "two"
  _wait(
    _Job("1-process run", one, data, processes=1, devices=2, **TRAIN),
    _Job("2-process run", two, data, processes=2, devices=1, **TRAIN),
  )
  return one, two


def test_two_processes_train_like_one(runs):
  """2 processes x 1 device == 1 process x 2 devices: records and checkpoints bit-equal."""
  one, two = runs
  assert [(r["step"], r["kind"]) for r in _records(one)] == [
    (1, "train"),
    (2, "train"),
    (3, "train"),
    (3, "eval"),
  ]
  _assert_same_records(two, one)
  for step in (2, 3):
    _assert_same_checkpoint(two, one, step)
  summary = json.loads((two / "summary.json").read_text())
  assert summary["steps"] == 3 and summary["finished"]


def test_two_processes_move_a_corrupt_checkpoint_aside_and_resume(data, runs, tmp_path):
  """The 2-process run with its newest checkpoint damaged (step 3's parameter arrays zeroed)
  and started again with the same command: both processes fail to read step 3 and restore
  step 2, process 0 alone moves step 3 to corrupt_checkpoints/ and says so in one line, and
  the run ends bit-identical to its undamaged self."""
  _, full = runs
  run = tmp_path / "two"
  shutil.copytree(full, run)
  damaged = [f for f in (run / "checkpoints" / "3" / "params").rglob("d/*") if f.is_file()]
  assert damaged
  for f in damaged:
    f.write_bytes(b"\0" * 100)
  (run / "summary.json").unlink()
  job = _Job("resumed 2-process run", run, data, processes=2, devices=1, **TRAIN)
  _wait(job)
  said = [ln for ln in job.tail(0, 10**6).splitlines() if "cannot be read" in ln]
  assert len(said) == 1 and said[0].startswith("checkpoint 3 cannot be read (")
  assert f"moved to {run / 'corrupt_checkpoints' / '3'}; resuming from step 2" in said[0]
  assert "cannot be read" not in job.tail(1, 10**6)
  assert (run / "corrupt_checkpoints" / "3" / "params").is_dir()
  _assert_same_records(run, full)
  _assert_same_checkpoint(run, full, 3)
  assert json.loads((run / "summary.json").read_text())["finished"]


def test_processes_that_read_different_checkpoints_stop_and_move_nothing(data, runs, tmp_path):
  """Process 1 sees step 3 damaged, process 0 sees it whole (hosts whose views of the run
  differ): instead of resuming from different steps, both stop with one line saying which
  step each read, and neither moves a checkpoint aside."""
  _, full = runs
  whole, damaged = tmp_path / "whole", tmp_path / "damaged"
  for run in (whole, damaged):
    shutil.copytree(full, run)
    (run / "summary.json").unlink()
  for f in (damaged / "checkpoints" / "3" / "params").rglob("d/*"):
    if f.is_file():
      f.write_bytes(b"\0" * 100)
  job = _Job("2-process run", [whole, damaged], data, processes=2, devices=1, **TRAIN)
  try:
    rcs = [p.wait(timeout=TIMEOUT_S) for p in job.procs]
    for i in (0, 1):
      out = job.tail(i, 10**6)
      lines = [ln for ln in out.splitlines() if ln.startswith("error: ")]
      assert lines and "the processes read different checkpoints" in lines[0], job.tail(i)
      assert "Traceback" not in out, job.tail(i)
      assert "(process 0: step 3, process 1: step 2); nothing was moved" in lines[0]
    assert rcs[0] == rcs[1] != 0
    assert not (whole / "corrupt_checkpoints").exists()
    assert not (damaged / "corrupt_checkpoints").exists()
  finally:
    job.kill()


@pytest.mark.slow
def test_two_processes_resume_from_their_checkpoint(data, tmp_path):
  """2 processes x 2 devices ~ 1 process x 4 devices (4-way all-reduces round in another
  order: equal to float32 rounding); the 2-process run, cut back to its step-2 checkpoint (as
  if killed after it) and started again with the same command on two fresh processes,
  restores it and ends bit-identical to its uninterrupted self."""
  train = dict(steps=4, log_every=1, eval_every=4, checkpoint_every=2, ema_rate=0.9)
  one, two, full = tmp_path / "one", tmp_path / "two", tmp_path / "two_uninterrupted"
  _wait(
    _Job("1-process run", one, data, processes=1, devices=4, **train),
    _Job("2-process run", two, data, processes=2, devices=2, **train),
  )
  assert [(r["step"], r["kind"]) for r in _records(one)] == [
    (1, "train"),
    (2, "train"),
    (3, "train"),
    (4, "train"),
    (4, "eval"),
  ]
  _assert_same_records(two, one, rel=1e-5)
  for step in (2, 4):
    _assert_same_checkpoint(two, one, step, tol=1e-5)

  shutil.copytree(two, full)
  shutil.rmtree(two / "checkpoints" / "4")
  (two / "summary.json").unlink()
  resumed = _Job("resumed 2-process run", two, data, processes=2, devices=2, **train)
  _wait(resumed)
  assert f"resumed from {two / 'checkpoints'}/2" in resumed.tail(0, 10**6)
  _assert_same_records(two, full)
  _assert_same_checkpoint(two, full, 4)
  assert json.loads((two / "summary.json").read_text())["finished"]


def test_a_signal_to_one_process_stops_both_with_a_checkpoint(data, tmp_path):
  """SIGTERM to process 1 only (a scheduler preempting one host): both processes agree at
  the next record step, save the same checkpoint and exit with 143; process 0 says why."""
  import signal

  train = dict(steps=100_000, log_every=1, eval_every=100_000, checkpoint_every=100_000)
  run = tmp_path / "run"
  job = _Job("2-process run", run, data, processes=2, devices=1, **train)
  try:
    deadline = time.monotonic() + TIMEOUT_S
    while not (run / "metrics.jsonl").exists() or not _records(run):
      assert time.monotonic() < deadline and all(p.poll() is None for p in job.procs), job.tail(0)
      time.sleep(0.2)
    job.procs[1].send_signal(signal.SIGTERM)
    rcs = [p.wait(timeout=TIMEOUT_S) for p in job.procs]
    assert rcs == [143, 143], f"{rcs}\n{job.tail(0)}\n{job.tail(1)}"
    saved = sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())
    assert len(saved) == 1 and 0 < saved[0] < 100_000
    assert f"stopped by another process's signal at step {saved[0]}" in job.tail(0)
    assert f"terminated at step {saved[0]}; checkpoint saved" in job.tail(1)
  finally:
    job.kill()
