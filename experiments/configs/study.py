"""Study configs (`python -m experiments.study --config=experiments/configs/study.py:VARIANT`).

Variants: `cpu` (prefix parity and 8x8 reachability grids, 3 seeds, on 2 cores),
`paper` (Sudoku-Extreme-1k and Maze-Hard-1k at the published settings, for an accelerator
host) and `toy` (two architectures, two seeds, a few updates: the test suite's grid).
An architecture is the task's config with overrides {section: {field: value}}, or a function
of the config (the demo's one-pass twin); `reference` is the one the others match in size
(hrm_jax.training.study says how each field is used).
"""

import ml_collections

from experiments import demo
from experiments.configs import common, maze, parity, reach, sudoku


def _blocks(cfg) -> int:
  """Blocks of the task's HRM (h_layers + l_layers): the depth every architecture gets."""
  return cfg.model.h_layers + cfg.model.l_layers


def _with(cfg, **model):
  """A copy of `cfg` with the model fields `model`."""
  c = cfg.copy_and_resolve_references()
  c.model.update(model)
  return c


def trm(cfg):
  """TRM (attention): one module of as many blocks as the HRM's two (matched by depth)."""
  return _with(cfg, arch="trm", h_layers=0, l_layers=_blocks(cfg), no_act_continue=True)


def trm_mlp(cfg):
  """TRM-MLP: TRM whose blocks mix tokens by an MLP over positions, so no position code."""
  return _with(trm(cfg), mlp_t=True, pos_encodings="none")


def transformer(cfg):
  """The fixed-depth baseline (hrm_jax/archs/transformer.py): the HRM's blocks in one pass,
  one segment."""
  c = _with(cfg, arch="transformer", h_layers=_blocks(cfg), l_layers=0, h_cycles=1, l_cycles=1)
  c.model.halt_max_steps = c.eval.halt_max_steps = 1
  return c


# Every architecture of a study, by name: a function of the task's config. Each gets the
# HRM's number of blocks (depth); the study's `match` rule then resizes the width only where
# the parameter counts still differ by more than `tolerance` (the planner prints the counts).
ARCHS = {
  "HRM": lambda cfg: cfg.copy_and_resolve_references(),
  "one-pass": demo.one_pass,  # HRM with N = T = 1 and one segment: its fixed-depth twin
  "TRM": trm,
  "TRM-MLP": trm_mlp,
  "transformer": transformer,
}


def _archs(names) -> ml_collections.ConfigDict:
  """The named architectures of ARCHS."""
  return ml_collections.ConfigDict({name: ARCHS[name] for name in names})


def get_config(variant: str | None = None):
  """The locked study ConfigDict of one variant."""
  s = ml_collections.ConfigDict()
  s.name = common.parse_variant(variant, ("cpu", "paper", "toy"))
  s.out = f"runs/study-{s.name}"  # the study's folder: OUT/TASK/ARCH/seedN runs, the report
  s.reference = "HRM"  # the architecture whose size (and FLOPs) the others match
  s.seeds = (0, 1, 2)
  s.budget = "updates"  # "updates", "flops" (as the reference's) or "seconds" (each run)
  s.seconds = 0.0  # the budget per run with budget="seconds"
  s.match = "width"  # parameters matched by "width" (hidden_size), "depth" (layers) or "none"
  s.tolerance = 0.10  # largest relative parameter difference to the reference
  s.workers = 0  # runs side by side, one core each (0: one per available core)
  s.max_hours = 1.0  # refuse a study estimated longer than this
  s.flops_per_s = 5e9  # FLOP/s of one worker (training and evaluation) assumed by the estimate
  s.test_time = ml_collections.ConfigDict()
  s.test_time.segments_x = (1.0, 2.0, 4.0)  # evaluations at these multiples of trained segments
  s.test_time.restarts = (1, 8)  # K of K restarts from noisy initial states (1: plain)
  s.test_time.max_compute = 0.0  # skip points whose segments x K exceeds this x trained (0: none)
  s.test_time.noise = 0.1  # std of the Gaussian noise on z_H and z_L
  s.test_time.select = "vote"  # the restart kept: "vote" (majority) or "q" (Q-head confidence)
  s.test_time.max_examples = 0  # held-out examples of the sweep (0: as eval.final_max_examples)
  s.tasks = ml_collections.ConfigDict()
  # task -> builder fields of a harder held-out set at the trained size (its own column)
  s.harder = ml_collections.ConfigDict()
  if s.name == "toy":
    p = parity.get_config("cpu")
    p.data.path = "data/parity-12-toy"
    p.data.build.update(length=12, train_size=256, test_size=64)
    m = p.model
    m.hidden_size, m.num_heads, m.h_layers, m.l_layers = 16, 1, 1, 1
    m.h_cycles, m.l_cycles, m.halt_max_steps = 1, 2, 2
    p.train.update(global_batch_size=16, steps=6, eval_every=3, log_every=3, checkpoint_every=3)
    p.eval.global_batch_size = 64
    s.tasks.parity = p
    s.archs = _archs(("HRM", "one-pass"))
    s.seeds = (0, 1)
    s.test_time.segments_x, s.test_time.restarts = (1.0,), (1, 2)
    s.harder.parity = {"seed": 1, "train_size": 16}  # not harder: another draw, for the tests
  elif s.name == "cpu":  # 32.9 min measured on the idle 2-core machine (docs/study)
    p = parity.get_config("cpu")
    p.train.update(steps=600, eval_every=200, checkpoint_every=200)  # the demo: 1500 updates
    r = reach.get_config("cpu")
    r.model.halt_max_steps = 1  # one segment per update: half the cost of the config's two
    # the config: 600 updates of 64 grids; here 300 of 48 (probe, HRM: 0.81 exact in 139 s)
    r.train.update(steps=300, eval_every=150, checkpoint_every=150, global_batch_size=48)
    for t in (p, r):  # 256 of the 1000 held-out examples; the sweep reuses the final evaluation
      t.eval.max_examples = t.eval.final_max_examples = 256
    s.tasks.parity, s.tasks.reach = p, r
    # one-pass left out: on these tasks it is the transformer's computation (4 blocks, 1 pass)
    s.archs = _archs(("HRM", "TRM", "TRM-MLP", "transformer"))
    # measured: the 32.9-min run of 2026-12-04 on the idle machine (estimated 50 min at 2.4e10)
    s.flops_per_s = 3.6e10
    s.test_time.segments_x = (1.0, 4.0)
    s.test_time.restarts = (1, 4)
    s.test_time.max_compute = 4.0  # 4x the segments or 4 restarts, not both (16x: most time)
    # Grids whose flood reaches >= 13 moves (trained: >= 8, mean 9.5), deeper than the
    # transformer's 4 blocks can propagate one step each. Parity has none: longer strings
    # would change the model's seq_len.
    s.harder.reach = {"min_depth": 13, "seed": 1, "train_size": 1, "test_size": 500}
  else:
    s.tasks.sudoku = sudoku.get_config("paper")
    s.tasks.maze = maze.get_config("paper")
    s.archs = _archs(("HRM", "TRM", "TRM-MLP", "transformer"))
    s.seeds = (0,)
    s.max_hours = 72.0
    s.flops_per_s = 2e14  # one accelerator, bf16
    s.test_time.restarts = (1, 16)
  s.lock()
  return s
