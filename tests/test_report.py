"""The end-of-run report: best evaluation, an early stop, the subsample's error, no warnings."""

import warnings

import numpy as np
import pytest

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.data.loader import eval_batches
from hrm_jax.training import evaluate, records, report
from tests import tiny as tiny_run


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return tiny_run.build_data(tmp_path_factory.mktemp("data"))


def predictions(data, n: int, right: int) -> dict:
  """`predict`'s output on the first n test mazes, `right` of them answered exactly."""
  batch = next(eval_batches(data, "test", global_batch_size=n))
  pred = np.where(batch["labels"] == IGNORE_LABEL, batch["inputs"], batch["labels"])
  pred[right:, 0] = (pred[right:, 0] + 1) % 6  # a wrong token in the others
  pred = pred.astype(np.int32)
  return {
    "inputs": batch["inputs"],
    "labels": batch["labels"],
    "pred": pred,
    "puzzle_identifiers": batch["puzzle_identifiers"],
    "example_index": batch["example_index"],
    "halt_pred": pred,
    "halt_steps": np.ones(n, np.int32),
    "labelled": np.ones(n, bool),
    "lm_loss": np.zeros(n),
    "q_halt_loss": np.zeros(n),
    "q_halt_correct": np.ones(n, bool),
  }


def write_run(tmp_path, data, *, finished: bool, evals: list[tuple[int, float]]):
  """A run directory with metrics.jsonl (train + eval records), then its report."""
  cfg = tiny_run.config(tmp_path / "run", data)
  cfg.model.halt_max_steps = 1
  rec = records.Recorder(tmp_path / "run", resume_step=None)
  for step in range(10, 50, 10):
    rec.log(step, "train", {"loss": 1.0 / step, "accuracy": 0.5, "exact_accuracy": 0.0})
  got = predictions(data, 32, 8)
  final = evaluate.score("maze", got, data, 1)
  for step, exact in evals:
    rec.log(step, "eval", {**final, "exact_accuracy": exact})
  rec.close()
  summary = {
    "steps": evals[-1][0],
    "total_steps": 100,
    "train_seconds": 3.0,
    "params": 1234,
    "eval": final,
    "finished": finished,
  }
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # e.g. matplotlib's empty legend
    path = report.write_report(tmp_path / "run", cfg, summary, got)
  return path.read_text(), final


def test_report_names_the_best_step_an_early_stop_and_the_subsample(tmp_path, data):
  text, final = write_run(tmp_path, data, finished=False, evals=[(20, 0.5), (40, 0.25)])
  assert "Stopped early: at update 40 of 100" in text and "finished: false" in text
  assert "`train.best_metric` = `exact_accuracy` (highest): update 20" in text
  assert "Best of 2 evaluations" in text
  assert final["examples"] == 32 and final["exact_accuracy"] == 0.25
  se = np.sqrt(0.25 * 0.75 / 32)
  assert f"the first 32 of the 64 test examples; exact accuracy 0.2500 +- {se:.4f}" in text
  assert "runs 1 ACT segment;" in text  # not "1 ACT segments"
  assert "| lm_loss |" in text and "| q_halt_accuracy |" in text


def test_report_of_a_finished_run(tmp_path, data):
  text, _ = write_run(tmp_path, data, finished=True, evals=[(40, 0.25)])
  assert "Stopped early" not in text
  assert "update 40, the final one" in text and "Best of 1 evaluation " in text


def test_curves_without_evaluations_or_records_do_not_warn(tmp_path):
  recs = [
    {"step": s, "kind": "train", "loss": 1.0, "accuracy": 0.1 * s, "exact_accuracy": 0.0}
    for s in (1, 2)
  ]
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    report.plot_curves({"a": recs}, tmp_path / "a.png")
    report.plot_curves({"b": []}, tmp_path / "b.png")
  assert (tmp_path / "a.png").stat().st_size > 1000


def test_plural():
  assert [report.plural(n, "segment") for n in (1, 2, 1.0, 1.5)] == [
    "1 segment",
    "2 segments",
    "1 segment",
    "1.50 segments",
  ]
