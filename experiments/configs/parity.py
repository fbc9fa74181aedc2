"""Prefix parity of bit strings (hrm_jax.data.parity): the `make demo` task.

Variants, each a small model that a 2-core CPU trains in minutes: `cpu` (HRM), `trm_cpu`
(TRM: one module of 2 blocks, 3 x 3 cycles) and `transformer_cpu` (the TRM release's
baseline: 4 blocks, one pass per ACT step).

  python -m experiments.parity --config=experiments/configs/parity.py:cpu --config.model.h_cycles=3
"""

from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "parity"
  c.variant = common.parse_variant(variant, ("cpu", "trm_cpu", "transformer_cpu"))
  c.data.path = "data/parity-32"
  c.data.build.length = 32  # bits per string (sequence: BOS + bits)
  c.data.build.train_size = 50000  # training strings
  c.data.build.test_size = 1000  # held-out strings (never in train)
  c.data.build.seed = 0  # generator seed
  common.cpu_demo(c)
  m = c.model
  m.pos_encodings = "rope"  # relative positions: "the bit before me" is one rotation
  m.h_cycles, m.l_cycles = 3, 3  # a deeper recursion per segment
  m.halt_max_steps = 4  # deep supervision: up to 4 segments per string
  m.loss_type = "softmax"  # softmax cross entropy
  m.q_loss_weight = 0.05  # at 0.5 the Q losses spike as strings get solved and derail it
  if c.variant == "trm_cpu":  # params: 131,714
    common.trm_model(m, h_cycles=3, l_cycles=3)
  elif c.variant == "transformer_cpu":  # params: 262,786
    common.transformer_model(m, layers=4)
  c.optim.lr = 1.5e-3  # 3e-3 learns faster on some seeds and collapses on others
  c.train.global_batch_size = 32  # strings per update
  c.train.steps = 1500  # updates
  c.train.eval_every = 500  # updates between evaluations
  c.train.checkpoint_every = 500  # updates between checkpoints
  c.lock()  # unknown keys are errors from here on
  return c
