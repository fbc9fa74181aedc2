"""Shared entry point of `python -m experiments.{maze,sudoku,arc}`.

  python -m experiments.maze --config=experiments/configs/maze.py:cpu --config.train.steps=200

The config file is loaded and locked by ml_collections: an unknown key or a
value of the wrong type is rejected while parsing flags, and the remaining
value checks run before any dataset is read or anything is compiled.
"""
from __future__ import annotations

import json
import sys

from absl import app
from ml_collections import config_flags

from hrm_jax.config import ConfigError


def run(default_config: str) -> None:
  """Define --config (default `default_config`) and run training with it."""
  config = config_flags.DEFINE_config_file("config", default_config,
                                           "experiment config file, FILE[:VARIANT]")

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from hrm_jax import experiment, train
    cfg = config.value
    try:
      experiment.check(cfg)
    except ConfigError as e:
      sys.exit(f"bad config: {e}")
    summary = train.train(cfg)
    summary.pop("predictions", None)
    print(json.dumps(summary, indent=1))

  app.run(main)


