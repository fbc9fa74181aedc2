"""hrm_jax.training.model_dir on a run directory and a model directory: one format, no warnings."""

import logging

import jax
import numpy as np
import pytest

from hrm_jax import HRMConfig
from hrm_jax.training import checkpoint, model_dir
from tests import tiny as tiny_run


def test_run_dir_loads_without_orbax_warnings(tmp_path, caplog):
  params, cfg = tiny_run.save_run_checkpoint(tmp_path / "run", 1)
  assert {"ema", "train", "loader"} <= {p.name for p in (tmp_path / "run/checkpoints/1").iterdir()}
  absl_log = logging.getLogger("absl")
  filters = list(absl_log.filters)
  with caplog.at_level(logging.INFO):
    got, config, meta = model_dir.load_model(tmp_path / "run")
    model_dir.save_model(tmp_path / "model", got, config, meta)
  assert config == cfg and meta == {"task": "maze"}
  jax.tree.map(np.testing.assert_array_equal, got, params)
  loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  assert not loud, loud
  assert absl_log.filters == filters  # the filter is only there while a model is read


def test_only_the_skipped_item_warnings_are_dropped():
  quiet = model_dir._ExpectedOrbaxWarnings()

  def record(msg, *args):
    return logging.LogRecord("absl", logging.WARNING, __file__, 1, msg, args, None)

  skipped = (
    'Item "%s" was found in the checkpoint, but could not be restored. Please provide '
    'a `CheckpointHandlerRegistry`, or call `restore` with an appropriate '
    '`CheckpointArgs` subclass.'
  )
  for name in model_dir.RUN_ONLY_ITEMS:
    assert not quiet.filter(record(skipped, name))
  assert quiet.filter(record(skipped, "params"))  # an item a model needs: still said
  assert quiet.filter(record("Could not read checkpoint metadata"))
  assert not quiet.filter(
    record(
      "[process=0][thread=MainThread] Skipping merge of OCDBT "
      "checkpoints: No per-process OCDBT checkpoint subdirs found in "
      "/x/params.orbax-checkpoint-tmp, "
    )
  )


def test_one_config_doc_for_models_and_run_checkpoints(tmp_path):
  """The run checkpoints' `config` item is model_dir's document; bad meta fails before a write."""
  assert checkpoint.config_doc is model_dir.config_doc
  cfg = HRMConfig(**tiny_run.MAZE4x4)
  doc = model_dir.config_doc(cfg, {"task": "maze"})
  assert doc["format"] == model_dir.FORMAT and model_dir.config_from_dict(doc["config"]) == cfg
  with pytest.raises(model_dir.ModelDirError, match="cannot be stored as JSON"):
    model_dir.save_model(tmp_path / "m", {}, cfg, {"bad": object()})
  assert not (tmp_path / "m").exists()
