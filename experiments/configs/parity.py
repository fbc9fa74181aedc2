"""Prefix parity of bit strings (hrm_jax.data.parity): the `make demo` task.

Variant `cpu` (the only one): a small HRM that a 2-core CPU trains in minutes.

  python -m experiments.parity --config=experiments/configs/parity.py:cpu --config.model.h_cycles=3
"""
from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "parity"
  c.variant = common.parse_variant(variant, ("cpu",))
  c.data.path = "data/parity-32"
  c.data.build.length = 32           # bits per string (sequence: BOS + bits)
  c.data.build.train_size = 50000    # training strings
  c.data.build.test_size = 1000      # held-out strings (never in train)
  c.data.build.seed = 0              # generator seed
  common.cpu_demo(c, "parity")
  c.lock()                           # unknown keys are errors from here on
  return c
