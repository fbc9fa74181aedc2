"""Sudoku experiments. Variants: `paper` (Sudoku-Extreme-like, 1k puzzles x 1000
augmentations, the reference's settings), `cpu` (easy Sudoku on a small model), and the
TRM paper's runs on the same data: `trm_mlp` (its best Sudoku model), `trm` (attention)
and `transformer` (its baseline: 8 blocks, one pass per ACT step).

  python -m experiments.sudoku --config=experiments/configs/sudoku.py:cpu
"""

from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "sudoku"
  c.variant = common.parse_variant(variant, ("paper", "cpu", *common.TRM_KINDS))
  c.data.path = "data/sudoku-hard-1k-aug-1000"
  c.data.build.train_size = 1000  # training puzzles
  c.data.build.test_size = 1000  # held-out puzzles
  c.data.build.num_aug = 1000  # symmetry augmentations per training puzzle
  c.data.build.difficulty = "hard"  # generator preset: "easy", "medium", "hard" or "extreme"
  c.data.build.seed = 0  # generator seed
  if (
    c.variant in common.TRM_KINDS
  ):  # params: trm 6,828,034, trm_mlp 5,028,866, transformer 27,275,266
    common.trm_paper(c, c.variant, h_cycles=3, l_cycles=6)
    c.train.epochs, c.train.eval_interval = 50000, 5000
  if c.variant == "cpu":
    common.cpu_demo(c)
    c.data.path = "data/sudoku-easy-demo"
    c.data.build.train_size = 2000
    c.data.build.test_size = 512
    c.data.build.num_aug = 10
    c.data.build.difficulty = "easy"
  else:  # as the authors, keep every evaluation's checkpoint: 10 x 0.5 GB
    c.train.keep_eval_checkpoints = True
  c.lock()  # unknown keys are errors from here on
  return c
