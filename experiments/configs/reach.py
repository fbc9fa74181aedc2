"""Reachability (flood fill) on 8x8 grids: the CPU study's 2-D grid task (one variant, `cpu`).

python -m experiments.reach --config=experiments/configs/reach.py
"""

from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "reach"
  c.variant = common.parse_variant(variant, ("cpu",))
  c.data.path = "data/reach-8"
  c.data.build.size = 8  # grid side, the outer wall ring included (6x6 inner cells)
  c.data.build.density = 0.4  # wall probability of an inner cell
  c.data.build.train_size = 10000  # training grids
  c.data.build.test_size = 1000  # held-out grids (never in train)
  c.data.build.min_depth = 8  # keep grids whose flood reaches cells this many moves away
  c.data.build.seed = 0  # generator seed
  common.cpu_demo(c)
  m = c.model
  m.pos_encodings = "rope"  # relative positions: the 4 neighbours are the offsets +-1, +-8
  m.halt_max_steps = 2  # deep supervision: up to 2 segments per grid
  m.loss_type = "softmax"  # softmax cross entropy
  m.q_loss_weight = 0.05  # as parity's: the Q losses spike as grids get solved
  c.train.steps = 600  # updates
  c.train.eval_every = 200  # updates between evaluations
  c.train.checkpoint_every = 200  # updates between checkpoints
  c.lock()  # unknown keys are errors from here on
  return c
