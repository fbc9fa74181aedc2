"""Experiment configs: variants, comments on every field, overrides, bad keys and values."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags
from ml_collections import config_flags

from experiments.configs import arc, maze, parity, reach, sudoku
from hrm_jax.config import ConfigError
from hrm_jax.training import experiment

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "experiments" / "configs"


def _parse(argv):
  fv = flags.FlagValues()
  holder = config_flags.DEFINE_config_file("config", flag_values=fv, sys_argv=["prog", *argv])
  fv(["prog", *argv])
  return holder.value


@pytest.mark.parametrize(
  "module,variants",
  [
    (maze, ("paper", "cpu", "trm", "transformer")),
    (sudoku, ("paper", "cpu", "trm", "trm_mlp", "transformer")),
    (arc, ("arc1", "arc2", "arc1_trm", "arc2_trm", "cpu")),
    (parity, ("cpu", "trm_cpu", "transformer_cpu")),
    (reach, ("cpu",)),
  ],
)
def test_variants_check(module, variants):
  for v in variants:
    c = module.get_config(v)
    assert c.variant == v
    experiment.check(c)
  with pytest.raises(ValueError, match="unknown config variant"):
    module.get_config("nope")


def test_paper_settings():
  for c in (maze.get_config("paper"), sudoku.get_config("paper")):
    assert (c.train.global_batch_size, c.train.epochs, c.train.eval_interval) == (768, 20000, 2000)
    assert (c.optim.lr, c.optim.puzzle_emb_lr, c.optim.weight_decay) == (1e-4, 1e-4, 1.0)
    assert (c.model.hidden_size, c.model.h_layers, c.model.l_layers) == (512, 4, 4)
    assert (c.model.h_cycles, c.model.l_cycles, c.model.halt_max_steps) == (2, 2, 16)
    assert c.optim.lr_warmup_steps == 2000 and c.model.compute_dtype == "bfloat16"
  c = arc.get_config("arc1")
  assert (c.optim.lr, c.optim.puzzle_emb_lr, c.optim.weight_decay) == (1e-4, 1e-2, 0.1)
  assert (c.train.epochs, c.data.build.version) == (100000, "arc-agi-1")
  assert arc.get_config("arc2").data.build.version == "arc-agi-2"


def test_trm_paper_settings():
  """The TRM release's README runs: its arch/trm.yaml model, EMA, its epochs per task."""
  for c, cycles, epochs in (
    (sudoku.get_config("trm_mlp"), (3, 6), (50000, 5000)),
    (sudoku.get_config("trm"), (3, 6), (50000, 5000)),
    (maze.get_config("trm"), (3, 4), (50000, 5000)),
    (arc.get_config("arc1_trm"), (3, 4), (100000, 10000)),
    (arc.get_config("arc2_trm"), (3, 4), (100000, 10000)),
  ):
    m = c.model
    assert (m.arch, m.h_layers, m.l_layers, (m.h_cycles, m.l_cycles)) == ("trm", 0, 2, cycles)
    assert (m.hidden_size, m.puzzle_emb_len, m.no_act_continue) == (512, 16, True)
    assert (c.train.epochs, c.train.eval_interval, c.train.ema_rate) == (*epochs, 0.999)
    assert c.train.global_batch_size == 768
  assert sudoku.get_config("trm_mlp").model.mlp_t and not sudoku.get_config("trm").model.mlp_t
  assert sudoku.get_config("trm_mlp").model.pos_encodings == "none"
  c = arc.get_config("arc2_trm")
  assert (c.optim.puzzle_emb_lr, c.optim.weight_decay, c.data.build.version) == (
    1e-2,
    0.1,
    "arc-agi-2",
  )
  for c in (sudoku.get_config("transformer"), maze.get_config("transformer")):
    m = c.model
    assert (m.arch, m.h_layers, m.l_layers, m.hidden_size, m.num_heads) == (
      "transformer",
      8,
      0,
      512,
      8,
    )
    assert not m.no_act_continue  # the baseline keeps Q-continue
  for v in ("trm_cpu", "transformer_cpu"):
    c = parity.get_config(v)
    assert c.model.arch == v.removesuffix("_cpu") and c.model.hidden_size == 64


def test_paper_variants_keep_every_evaluation_checkpoint():
  for c in (
    maze.get_config("paper"),
    sudoku.get_config("paper"),
    arc.get_config("arc1"),
    arc.get_config("arc2"),
  ):
    assert c.train.keep_eval_checkpoints and c.eval.final_max_examples == 0  # 0 = all
  for module in (maze, sudoku, arc, parity):
    assert not module.get_config("cpu").train.keep_eval_checkpoints


def test_every_field_has_a_comment():
  """Fields are defined in common.py (base_config, paper_model) and as c.data.build.* per task."""
  assign = re.compile(r"^\s*(c|m)\.[\w.]+ = ")
  for path in (
    CONFIGS / "common.py",
    CONFIGS / "maze.py",
    CONFIGS / "sudoku.py",
    CONFIGS / "arc.py",
    CONFIGS / "parity.py",
    CONFIGS / "reach.py",
  ):
    func = ""
    for line in path.read_text().splitlines():
      if line.startswith("def "):
        func = line
      defines = (
        path.name == "common.py"
        and ("base_config" in func or "paper_model" in func)
        or path.name != "common.py"
        and "c.data.build." in line
        and "  if" not in line
        and line.startswith("  c.")
      )
      if func and assign.match(line) and defines:
        assert "#" in line, f"{path.name}: field without a comment: {line.strip()}"


def test_overrides_and_bad_keys():
  c = _parse(
    [f"--config={CONFIGS}/maze.py:cpu", "--config.model.h_cycles=4", "--config.train.steps=7"]
  )
  assert c.model.h_cycles == 4 and c.train.steps == 7 and c.variant == "cpu"
  with pytest.raises(Exception, match="nope"):
    _parse([f"--config={CONFIGS}/maze.py:cpu", "--config.model.nope=1"])
  with pytest.raises(Exception):
    _parse([f"--config={CONFIGS}/maze.py", "--config.model.hidden_size=abc"])
  with pytest.raises(AttributeError):
    maze.get_config("cpu").train.new_field = 1  # locked


@pytest.mark.parametrize(
  "field,value,match",
  [
    ("model.hidden_size", 99, "hidden_size"),
    ("model.h_cycles", 0, "h_cycles"),
    ("train.global_batch_size", 0, "global_batch_size"),
    ("eval.halt_rule", "x", "halt_rule"),
    ("task", "chess", "task"),
    ("optim.beta2", 1.5, "beta2"),
    ("train.ema_rate", 1.0, "ema_rate"),
  ],
)
def test_bad_values_fail_fast(field, value, match):
  c = maze.get_config("cpu")
  section, _, key = field.rpartition(".")
  (c[section] if section else c)[key] = value
  with pytest.raises(ConfigError, match=match):
    experiment.check(c)


def test_cli_rejects_bad_config_before_work(tmp_path):
  cmd = [
    sys.executable,
    "-m",
    "experiments.maze",
    "--config=experiments/configs/maze.py:cpu",
    "--config.model.num_heads=3",
    f"--config.run_dir={tmp_path}/run",
    f"--config.data.path={tmp_path}/data",
  ]
  p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
  assert p.returncode != 0 and "hidden_size" in p.stderr
  assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()
  p = subprocess.run(
    cmd[:3] + ["--config.train.nope=1"], cwd=REPO, capture_output=True, text=True, timeout=120
  )
  assert p.returncode != 0 and "nope" in p.stderr
