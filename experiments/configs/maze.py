"""Maze experiments. Variants: `paper` (Maze-Hard 30x30, 1k mazes, the reference's
settings), `cpu` (small mazes, the `make demo` task), and the TRM paper's runs on
Maze-Hard: `trm` (attention, 3 x 4 cycles as its README runs it) and `transformer`
(its baseline: 8 blocks, one pass per ACT step).

  python -m experiments.maze --config=experiments/configs/maze.py:cpu --config.model.h_cycles=4
"""

from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "maze"
  c.variant = common.parse_variant(variant, ("paper", "cpu", "trm", "transformer"))
  c.data.path = "data/maze-30x30-hard-1k"
  c.data.build.generator = "maze_hard"  # "maze_hard" (random walls) or "perfect" (spanning tree)
  c.data.build.size = 30  # grid side
  c.data.build.train_size = 1000  # training mazes
  c.data.build.test_size = 1000  # held-out mazes
  c.data.build.min_path = 110  # keep mazes whose shortest start-goal path is longer
  c.data.build.aug = False  # add the 8 dihedral copies of training mazes
  c.data.build.seed = 0  # generator seed
  if c.variant in common.TRM_KINDS:  # params: trm 6,822,914, transformer 27,270,146
    common.trm_paper(c, c.variant, h_cycles=3, l_cycles=4)
    c.train.epochs, c.train.eval_interval = 50000, 5000
  if c.variant == "cpu":
    common.cpu_demo(c)
    c.data.path = "data/maze-7x7-perfect"
    c.data.build.generator = "perfect"
    c.data.build.size = 7
    c.data.build.train_size = 10000
    c.data.build.test_size = 1000
    c.data.build.min_path = 10
  else:  # as the authors, keep every evaluation's checkpoint: 10 x 1.8 GB (ACT carry 1.4 GB)
    c.train.keep_eval_checkpoints = True
  c.lock()  # unknown keys are errors from here on
  return c
