"""Runs that refuse to mix: the run-dir lock, resume against the saved config, dataset checks,
a corrupted latest checkpoint, retention of evaluation checkpoints, the authors' step count."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments.configs import maze, parity
from hrm_jax import TrainState, tasks
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.data.format import DatasetMetadata
from hrm_jax.training import checkpoint, experiment, records, runlock, train
from tests import tiny as tiny_run

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return tiny_run.build_data(tmp_path_factory.mktemp("data"))


RUN20 = dict(steps=20, eval_every=20, checkpoint_every=10)  # checkpoints 10 and 20


@pytest.fixture(scope="module")
def run20(tmp_path_factory, data):
  """A finished tiny run (trained once; tests work on copies)."""
  run_dir = tmp_path_factory.mktemp("run20") / "run"
  train.train(tiny_run.config(run_dir, data, **RUN20), write_report=False)
  return run_dir


def _copy(run_dir: Path, to: Path) -> Path:
  shutil.copytree(run_dir, to)
  return to


def _steps(run_dir: Path) -> list[int]:
  root = run_dir / "checkpoints"
  return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []


# ----------------------------------------------------------------------------- the lock


def test_lock_held_by_a_live_process_refuses_then_stale_lock_is_taken_over(tmp_path, capsys):
  holder = subprocess.Popen(
    [
      sys.executable,
      "-c",
      "import sys, time; from hrm_jax.training.runlock import RunLock; "
      f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(120)",
    ],
    cwd=REPO,
    env=ENV,
    stdout=subprocess.PIPE,
    text=True,
  )
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(runlock.RunLocked, match=f"pid {holder.pid} on .* in use|in use") as err:
      runlock.RunLock(tmp_path).acquire()
    assert str(holder.pid) in str(err.value) and "--config.run_dir" in err.value.hint
  finally:
    holder.kill()  # SIGKILL: the lock file stays
    holder.wait()
  assert json.loads((tmp_path / "lock").read_text())["pid"] == holder.pid
  with runlock.RunLock(tmp_path):
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"stale lock of pid {holder.pid}" in out
    with pytest.raises(runlock.RunLocked):  # one holder, even in one process
      runlock.RunLock(tmp_path).acquire()
  assert not (tmp_path / "lock").exists()  # released on exit


def test_second_training_on_a_locked_run_dir_is_one_line(tmp_path, data):
  run_dir = tmp_path / "run"
  with runlock.RunLock(run_dir):  # held by this (live) process
    p = subprocess.run(
      [sys.executable, "-m", "experiments.maze", *tiny_run.flags(run_dir, data)],
      cwd=REPO,
      env=ENV,
      capture_output=True,
      text=True,
      timeout=120,
    )
  assert p.returncode == 2
  err = p.stderr.strip().splitlines()
  assert len(err) == 2 and "in use by another training" in err[0] and err[1].startswith("hint:")
  assert not (run_dir / "checkpoints").exists()


# ----------------------------------------------------------------------------- resume


def test_resume_accepts_a_config_saved_before_new_fields_existed(tmp_path):
  """A run saved by an older release (no arch field, the halting rule by name) resumes; a
  real change next to it is still refused."""
  cfg = maze.get_config("cpu")
  saved = json.loads(cfg.to_json())
  del saved["model"]["arch"], saved["model"]["mlp_t"]
  saved["eval"]["halt_rule"] = "q_halt_gt_continue"
  assert experiment.check_resume(saved, cfg, tmp_path) == []
  saved["model"]["hidden_size"] += 1
  with pytest.raises(ConfigError, match="model.hidden_size"):
    experiment.check_resume(saved, cfg, tmp_path)


def test_resume_refuses_other_settings_and_allows_safe_ones(tmp_path, data, run20, capsys):
  run_dir = _copy(run20, tmp_path / "run")
  saved = (run_dir / "config.json").read_text()

  other = tiny_run.config(run_dir, data, steps=20, eval_every=20, checkpoint_every=10)
  other.model.h_cycles, other.seed = 3, 1
  with pytest.raises(ConfigError, match=r"model\.h_cycles: 2 -> 3, seed: 0 -> 1") as err:
    train.train(other, write_report=False)
  assert "--config.run_dir" in err.value.hint
  longer = tiny_run.config(run_dir, data, steps=30, eval_every=20, checkpoint_every=10)
  with pytest.raises(ConfigError, match=r"train\.steps: 20 -> 30"):  # cosine LR: refused
    train.train(longer, write_report=False)
  assert (run_dir / "config.json").read_text() == saved  # the saved config stays the truth

  capsys.readouterr()
  again = tiny_run.config(run_dir, data, steps=20, eval_every=20, checkpoint_every=10)
  summary = train.train(again, write_report=False)  # finished: nothing trained again
  out = capsys.readouterr().out
  assert "run already finished at step 20" in out and "resumed" not in out
  assert summary["steps"] == 20 and summary["finished"]
  evals = [
    r["step"] for r in records.read_records(run_dir / "metrics.jsonl") if r["kind"] == "eval"
  ]
  assert evals == [20]  # evaluated once at the end

  (run_dir / "summary.json").unlink()
  shutil.rmtree(run_dir / "checkpoints" / "20")  # as if killed after step 10
  safe = tiny_run.config(run_dir, data, steps=20, eval_every=5, checkpoint_every=10, log_every=5)
  safe.eval.num_render = 1
  train.train(safe, write_report=False)
  out = capsys.readouterr().out
  assert "resumed from" in out and "train.eval_every: 20 -> 5" in out
  evals = [
    r["step"] for r in records.read_records(run_dir / "metrics.jsonl") if r["kind"] == "eval"
  ]
  assert evals == [15, 20]


def test_more_steps_resume_when_the_learning_rate_is_constant(tmp_path, data, capsys):
  run_dir = tmp_path / "run"
  for steps in (10, 20):
    cfg = tiny_run.config(run_dir, data, steps=steps, eval_every=10, checkpoint_every=10)
    cfg.optim.lr_min_ratio = 1.0  # the reference's constant rate
    summary = train.train(cfg, write_report=False)
  out = capsys.readouterr().out
  assert "with changed settings: train.steps: 10 -> 20" in out and summary["steps"] == 20
  assert json.loads((run_dir / "config.json").read_text())["train"]["steps"] == 20


def test_a_folder_of_other_files_is_not_taken_as_a_run_dir(tmp_path, data):
  mine = tmp_path / "mine"
  mine.mkdir()
  (mine / "config.json").write_text("my own")
  with pytest.raises(ConfigError, match="holds other files \\(config.json\\), not a run"):
    train.train(tiny_run.config(mine, data))
  assert [p.name for p in mine.iterdir()] == ["config.json"]
  assert (mine / "config.json").read_text() == "my own"


def test_changed_dataset_is_refused(tmp_path, data):
  # Without build_args.json (as the authors' data) only the run's record of the data tells.
  copy = tmp_path / "data"
  shutil.copytree(data, copy)
  (copy / "build_args.json").unlink()
  run_dir = tmp_path / "run"
  cfg = tiny_run.config(run_dir, copy, steps=10, eval_every=10, checkpoint_every=5)
  train.train(cfg, write_report=False)
  shutil.rmtree(run_dir / "checkpoints" / "10")  # as if killed after step 5
  shutil.rmtree(copy)
  tasks.build_dataset("maze", copy, {**tiny_run.DATA_ARGS, "seed": 1}, progress=False)
  (copy / "build_args.json").unlink()
  with pytest.raises(ConfigError, match="changed since this run started"):
    train.train(cfg, write_report=False)


def test_dataset_built_with_other_arguments_is_refused(tmp_path, data, capsys):
  cfg = tiny_run.config(tmp_path / "run", data)
  assert experiment.ensure_dataset(cfg, progress=False) == Path(data)  # same arguments: reused
  assert "reusing" in capsys.readouterr().out
  cfg.data.build.seed = 1
  with pytest.raises(ConfigError, match="config.data.path: .*seed 0 -> 1") as err:
    experiment.ensure_dataset(cfg, progress=False)
  assert "--config.data.path" in err.value.hint
  bare = tmp_path / "bare"  # no build_args.json (authors' data): used as is
  shutil.copytree(data, bare)
  (bare / "build_args.json").unlink()
  cfg.data.path = str(bare)
  assert experiment.ensure_dataset(cfg, progress=False) == bare


def test_a_run_that_fails_before_training_leaves_no_empty_run_dir(tmp_path):
  mine = tmp_path / "mine"
  mine.mkdir()
  (mine / "notes.txt").write_text("mine")  # not a dataset: the build is refused
  with pytest.raises(ConfigError, match="config.data.path"):
    train.train(tiny_run.config(tmp_path / "run", mine))
  assert not (tmp_path / "run").exists()
  assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_default_run_dirs_do_not_collide():
  base = parity.get_config("cpu")
  one_pass = parity.get_config("cpu")
  one_pass.model.h_cycles = one_pass.model.l_cycles = one_pass.model.halt_max_steps = 1
  one_pass.eval.halt_max_steps, one_pass.train.steps = 1, 4500
  seed1 = parity.get_config("cpu")
  seed1.seed = 1
  cadence = parity.get_config("cpu")
  cadence.train.log_every, cadence.eval.num_render = 7, 1  # safe fields: same run
  dirs = [experiment.run_dir(c, base) for c in (base, one_pass, seed1, cadence)]
  assert dirs[0] == Path("runs/parity-cpu") and dirs[2] == Path("runs/parity-cpu-seed1")
  assert dirs[3] == dirs[0] and len(set(dirs[:3])) == 3
  assert dirs[1] == experiment.run_dir(one_pass, base)  # stable
  assert str(dirs[1]).startswith("runs/parity-cpu-") and "seed" not in str(dirs[1])


# ----------------------------------------------------------------------------- datasets, metrics


def test_task_and_dataset_must_match(tmp_path, data):
  par = tasks.build_dataset(
    "parity",
    tmp_path / "parity",
    dict(length=8, train_size=64, test_size=16, seed=0),
    progress=False,
  )
  cfg = tiny_run.config(tmp_path / "run", par)
  with pytest.raises(ConfigError, match="holds a parity dataset"):
    experiment.settings(cfg)
  bare = tmp_path / "bare"  # no build_args.json (authors' data)
  shutil.copytree(par, bare)
  (bare / "build_args.json").unlink()
  with pytest.raises(ConfigError, match="vocab_size 4, seq_len 9 is not maze data"):
    experiment.settings(tiny_run.config(tmp_path / "run", bare))
  sudoku = parity.get_config("cpu")
  sudoku.task, sudoku.data.path = "sudoku", str(data)
  with pytest.raises(ConfigError, match="holds a maze dataset"):
    experiment.settings(sudoku)


def test_unknown_best_metric_fails_before_training(tmp_path):
  cfg = tiny_run.config(tmp_path / "run", tmp_path / "data")
  cfg.train.best_metric = "exact_acc"
  with pytest.raises(ConfigError, match="train.best_metric .* exact_accuracy"):
    train.train(cfg)
  assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


def test_steps_and_evaluations_as_the_authors_count():
  meta = DatasetMetadata(
    pad_id=0,
    ignore_label_id=0,
    blank_identifier_id=0,
    vocab_size=11,
    seq_len=81,
    num_puzzle_identifiers=1,
    total_groups=1000,
    mean_puzzle_examples=1.0,
    sets=["all"],
  )
  t = maze.get_config("paper").train  # 20000 epochs, eval every 2000
  run, schedule, at = experiment.schedule(t, meta)
  assert (run, schedule) == (26040, 26041)  # int(2000 * 1000 / 768) = 2604 x 10
  assert at == tuple(2604 * i for i in range(1, 11))
  t = maze.get_config("cpu").train  # steps 1200, eval every 400
  assert experiment.schedule(t, meta) == (1200, 1200, (400, 800, 1200))
  t.steps, t.eval_every = 1000, 400
  assert experiment.schedule(t, meta)[2] == (400, 800, 1000)  # and once at the end
  t.global_batch_size = 2000
  with pytest.raises(ConfigError, match="more than one pass over the training split"):
    experiment.schedule(t, meta)
  bad = maze.get_config("paper")
  bad.train.epochs = 20001
  with pytest.raises(ConfigError, match="multiple of train.eval_interval"):
    experiment.check(bad)


def test_final_evaluation_uses_final_max_examples(tmp_path, data):
  run_dir = tmp_path / "run"
  cfg = tiny_run.config(run_dir, data, steps=10, eval_every=5, checkpoint_every=10, log_every=5)
  cfg.eval.max_examples, cfg.eval.final_max_examples = 32, 0  # the test split has 64
  summary = train.train(cfg, write_report=False)
  evals = [
    (r["step"], r["examples"])
    for r in records.read_records(run_dir / "metrics.jsonl")
    if r["kind"] == "eval"
  ]
  assert evals == [(5, 32), (10, 64)] and summary["eval"]["examples"] == 64


# ----------------------------------------------------------------------------- checkpoints


def test_keeps_every_evaluation_checkpoint(tmp_path):
  ckpts = checkpoint.Checkpoints(tmp_path / "checkpoints", keep=1, keep_evaluated=True)
  model_cfg = HRMConfig(**tiny_run.config(tmp_path, tmp_path).model.to_dict())
  tree = {"w": np.zeros(3, np.float32)}
  for step, acc in ((1, 0.5), (2, None), (3, 0.9), (4, 0.1), (5, None), (6, None)):
    state = TrainState(step=np.int32(step), params=tree, opt_state=tree)
    ckpts.save(
      step,
      state=state,
      carry=tree,
      rng=np.zeros(2, np.uint32),
      loader_state={"iteration": 0, "batch": step},
      config=model_cfg,
      meta={},
      metrics=None if acc is None else {"exact_accuracy": acc},
    )
  ckpts.close()
  assert _steps(tmp_path) == [1, 3, 4, 6]


def test_corrupted_latest_checkpoint_falls_back_to_the_previous(tmp_path, data, run20, capsys):
  run_dir, kw = _copy(run20, tmp_path / "run"), RUN20
  assert _steps(run_dir) == [10, 20]
  for f in (run_dir / "checkpoints" / "20" / "params").rglob("d/*"):
    f.write_bytes(b"\0" * 100)  # the arrays of step 20 are gone
  (run_dir / "summary.json").unlink()
  capsys.readouterr()
  summary = train.train(tiny_run.config(run_dir, data, **kw), write_report=False)
  out = capsys.readouterr().out.splitlines()
  line = next(ln for ln in out if "cannot be read" in ln)
  assert line.startswith("checkpoint 20 cannot be read (") and "resuming from step 10" in line
  assert (run_dir / "corrupt_checkpoints" / "20").is_dir()
  assert summary["steps"] == 20 and _steps(run_dir) == [10, 20]

  (run_dir / "config.json").unlink()  # e.g. a run of an older version
  other = tiny_run.config(run_dir, data, **kw)
  other.model.hidden_size = 64  # other shapes: nothing is readable
  with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in .* can be read"):
    train.train(other, write_report=False)
  assert _steps(run_dir) == [10, 20]  # and nothing was moved


# ----------------------------------------------------------------------------- the command line


def _cli(*args, env=None, timeout=120):
  p = subprocess.run(
    [sys.executable, "-m", "experiments.maze", *args],
    cwd=REPO,
    env={**ENV, **(env or {})},
    capture_output=True,
    text=True,
    timeout=timeout,
  )
  return p.returncode, p.stderr.strip().splitlines()


def test_cli_errors_are_one_line(tmp_path, data):
  rc, err = _cli("--config=experiments/configs/maze.py:cpu", "--config.train.stepz=3")
  assert rc == 2 and err == [
    "error: unknown config key config.train.stepz",
    "hint: did you mean --config.train.steps?",
  ]
  rc, err = _cli("--config=experiments/configs/maze.py:nope")
  assert rc == 2 and len(err) == 1 and "unknown config variant 'nope'" in err[0]
  rc, err = _cli(
    *tiny_run.flags(tmp_path / "run", data),
    "--config.train.global_batch_size=12",
    env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
  )
  assert (
    rc == 2
    and err[0] == ("error: config.train.global_batch_size = 12 is not divisible by the 8 devices")
    and len(err) == 2
  )
  rc, err = _cli(
    *tiny_run.flags(tmp_path / "run", data),
    "--config.eval.global_batch_size=12",
    env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
  )
  assert rc == 2 and "config.eval.global_batch_size = 12" in err[0]
  blocked = tmp_path / "file"
  blocked.write_text("not a folder")
  rc, err = _cli(*tiny_run.flags(blocked / "run", data))
  assert rc == 2 and len(err) == 2 and "is not writable" in err[0]


def test_cli_bad_data_is_one_line(tmp_path, data):
  bad = tmp_path / "data"
  shutil.copytree(data, bad)
  inputs = bad / "train" / "all__inputs.npy"
  arr = np.load(inputs)
  arr[3, 5] = 9  # maze vocabulary: 0..5
  np.save(inputs, arr)
  rc, err = _cli(*tiny_run.flags(tmp_path / "run", bad))
  assert rc == 2 and len(err) == 1 and "value 9 at row 3 is outside [0, 6)" in err[0]
  inputs.write_bytes(inputs.read_bytes()[:200])  # truncated
  rc, err = _cli(*tiny_run.flags(tmp_path / "run", bad))
  assert rc == 2 and len(err) == 1 and "all__inputs.npy" in err[0]


@pytest.mark.slow
def test_cli_nonfinite_loss_and_ctrl_c(tmp_path, data):
  args = [
    *tiny_run.flags(tmp_path / "nan", data, log_every=1),
    "--config.optim.lr=1e30",
    "--config.optim.lr_warmup_steps=0",
  ]
  rc, err = _cli(*args)
  assert rc == 3 and len(err) == 2 and "non-finite" in err[0]
  assert "no checkpoint was saved before it" in err[0] or "last good checkpoint: step" in err[0]

  run_dir = tmp_path / "run"
  flags = tiny_run.flags(run_dir, data, steps=100000, checkpoint_every=50, eval_every=100000)
  for sig, word, code in ((signal.SIGINT, "interrupted", 130), (signal.SIGTERM, "terminated", 143)):
    before = max(_steps(run_dir), default=0)
    proc = subprocess.Popen(
      [sys.executable, "-m", "experiments.maze", *flags],
      cwd=REPO,
      env=ENV,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
    )
    deadline = time.time() + 120
    while max(_steps(run_dir), default=0) <= before and time.time() < deadline:
      assert proc.poll() is None, proc.stderr.read()[-2000:]
      time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code
    last = stderr.strip().splitlines()[-1]
    step = max(_steps(run_dir))
    assert last == f"{word} at step {step}; checkpoint saved; rerun the same command to resume"
    assert "Traceback" not in stderr and not (run_dir / "lock").exists()


@pytest.mark.slow
def test_paper_config_that_cannot_fit_is_refused_before_running(tmp_path):
  """The paper Maze config on a CPU: XLA's memory analysis says ~750 GiB; one line, a batch."""
  d = tasks.build_dataset(
    "maze",
    tmp_path / "maze29",
    dict(  # a batch of 768 needs 768 mazes
      generator="perfect", size=29, train_size=800, test_size=8, min_path=10
    ),
    progress=False,
  )
  built_as = [
    f"--config.data.build.{k}={v}"
    for k, v in dict(generator="perfect", size=29, train_size=800, test_size=8, min_path=10).items()
  ]
  rc, err = _cli(
    "--config=experiments/configs/maze.py",
    f"--config.data.path={d}",
    *built_as,
    f"--config.run_dir={tmp_path / 'run'}",
    env={"XLA_FLAGS": ""},
    timeout=300,
  )
  assert rc == 2 and len(err) == 2 and err[0].startswith("error: the train step needs ")
  assert "lower config.train.global_batch_size (now 768): about" in err[1]
  assert not _steps(tmp_path / "run")


def test_tensorboard_message_names_the_missing_package(tmp_path, capsys):
  import importlib.util

  if importlib.util.find_spec("tensorboardX") or importlib.util.find_spec("tensorboard"):
    pytest.skip("a TensorBoard writer is installed")
  records.Recorder(tmp_path, None, tensorboard=True).close()
  out = capsys.readouterr().out
  missing = "tensorboard" if importlib.util.find_spec("torch") else "tensorboardX"
  assert out.count("\n") == 1 and f"the {missing!r} package is not installed" in out
