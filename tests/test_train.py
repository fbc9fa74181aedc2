"""The training loop end to end on tiny mazes: it learns, and 8 devices match 1."""

import jax
import numpy as np
import pytest

from hrm_jax.tools import evaluate as evaluate_cli
from hrm_jax.training import model_dir, records, train
from tests import tiny as tiny_run


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return tiny_run.build_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, data):
  run_dir = tmp_path_factory.mktemp("tiny") / "run"
  summary = train.train(tiny_run.config(run_dir, data))
  return run_dir, summary


def test_loss_falls_and_accuracy_rises(tiny):
  run_dir, summary = tiny
  recs = records.read_records(run_dir / "metrics.jsonl")
  steps = [r for r in recs if r["kind"] == "train"]
  assert [r["step"] for r in steps] == [10, 20, 30, 40]
  assert steps[-1]["loss"] < 0.6 * steps[0]["loss"]
  assert steps[-1]["accuracy"] > steps[0]["accuracy"] + 0.1
  ev = summary["eval"]
  assert ev["examples"] == 64 and ev["token_accuracy"] > 0.7
  assert 1 <= ev["halt/segments"] <= 2 and ev["segments"] == 2
  assert {"valid_path", "optimal_path", "halt/exact_accuracy"} <= set(ev)
  assert (run_dir / "report.md").is_file()
  assert (run_dir / "plots" / "learning_curves.png").stat().st_size > 1000
  assert (run_dir / "plots" / "examples.png").stat().st_size > 1000


def test_evaluate_cli_reads_the_run(tiny, capsys):
  run_dir, summary = tiny
  assert (
    evaluate_cli.main(["--checkpoint", str(run_dir), "--max-examples", "64", "--batch-size", "32"])
    == 0
  )
  out = capsys.readouterr().out
  assert '"exact_accuracy"' in out
  params, config, meta = model_dir.load_model(run_dir / "checkpoints")  # the export layout
  assert meta["task"] == "maze" and config.hidden_size == 32


def test_eight_devices_match_one(tmp_path, data):
  assert jax.device_count() == 8
  kw = dict(steps=6, eval_every=6, log_every=2, checkpoint_every=6)
  runs = {}
  for n, mode in ((1, "replicated"), (8, "replicated"), (8, "fsdp")):
    run_dir = tmp_path / f"dev{n}-{mode}"
    cfg = tiny_run.config(run_dir, data, param_sharding=mode, **kw)
    cfg.eval.max_examples = 32
    train.train(cfg, devices=jax.devices()[:n], write_report=False)
    params, _, _ = model_dir.load_model(run_dir / "checkpoints")
    recs = records.read_records(run_dir / "metrics.jsonl")
    runs[n, mode] = (params, [r["loss"] for r in recs if r["kind"] == "train"])
  one = runs[1, "replicated"]
  for got in (runs[8, "replicated"], runs[8, "fsdp"]):
    np.testing.assert_allclose(one[1], got[1], rtol=1e-4)
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4), one[0], got[0]
    )
