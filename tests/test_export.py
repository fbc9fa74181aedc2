"""hrm_jax.training.model_dir on a training run's directory and a model directory: no expected warnings."""
import logging

import jax
import numpy as np

import tiny_run
from hrm_jax.training import model_dir


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

  skipped = ('Item "%s" was found in the checkpoint, but could not be restored. Please provide '
             'a `CheckpointHandlerRegistry`, or call `restore` with an appropriate '
             '`CheckpointArgs` subclass.')
  for name in model_dir.RUN_ONLY_ITEMS:
    assert not quiet.filter(record(skipped, name))
  assert quiet.filter(record(skipped, "params"))  # an item a model needs: still said
  assert quiet.filter(record("Could not read checkpoint metadata"))
  assert not quiet.filter(record("[process=0][thread=MainThread] Skipping merge of OCDBT "
                                 "checkpoints: No per-process OCDBT checkpoint subdirs found in "
                                 "/x/params.orbax-checkpoint-tmp, "))
