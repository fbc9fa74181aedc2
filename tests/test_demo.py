"""`make demo`: the one-pass twin, and (slow) the whole demo on a few updates."""
import pytest

from experiments.configs import parity
from hrm_jax import demo


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
