"""Study configs (`python -m experiments.study --config=experiments/configs/study.py:VARIANT`).

Variants: `cpu` (prefix parity and 7x7 mazes, 3 seeds, sized for 60 minutes on 2 cores),
`paper` (Sudoku-Extreme-1k and Maze-Hard-1k at the published settings, for an accelerator
host) and `toy` (two architectures, two seeds, a few updates: the test suite's grid).
An architecture is the task's config with overrides {section: {field: value}}, or a function
of the config (the demo's one-pass twin); `reference` is the one the others match in size
(hrm_jax.training.study says how each field is used).
"""

import ml_collections

from experiments import demo
from experiments.configs import common, maze, parity, sudoku

ONE_SEGMENT = {"halt_max_steps": 1}
ARCHS = {  # every architecture of a study, by name
  "HRM": {"model": {"arch": "hrm"}},
  "one-pass": demo.one_pass,  # HRM with N = T = 1 and one segment: its fixed-depth twin
  "TRM": {"model": {"arch": "trm", "h_layers": 0, "no_act_continue": True}},
  "TRM-MLP": {
    "model": {"arch": "trm", "h_layers": 0, "no_act_continue": True, "mlp_t": True},
  },
  "transformer": {  # the fixed-depth baseline (hrm_jax/archs/transformer.py)
    "model": {"arch": "transformer", "h_cycles": 1, "l_cycles": 1, **ONE_SEGMENT},
    "eval": {"halt_max_steps": 1},
  },
}


def _archs(names, **model) -> ml_collections.ConfigDict:
  """The named architectures, each with the extra model fields `model` (e.g. positions)."""
  out = ml_collections.ConfigDict()
  for name in names:
    spec = ARCHS[name]
    if not callable(spec):
      spec = {**spec, "model": {**spec["model"], **(model if name == "TRM-MLP" else {})}}
    out[name] = spec
  return out


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
  s.flops_per_s = 5e9  # training FLOP/s of one worker assumed by the estimate
  s.test_time = ml_collections.ConfigDict()
  s.test_time.segments_x = (1.0, 2.0, 4.0)  # evaluations at these multiples of trained segments
  s.test_time.restarts = (1, 8)  # K of K restarts from noisy initial states (1: plain)
  s.test_time.noise = 0.1  # std of the Gaussian noise on z_H and z_L
  s.test_time.select = "vote"  # the restart kept: "vote" (majority) or "q" (Q-head confidence)
  s.tasks = ml_collections.ConfigDict()
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
  elif s.name == "cpu":
    s.tasks.parity = parity.get_config("cpu")
    m = maze.get_config("cpu")
    s.tasks.maze = m
    s.archs = _archs(tuple(ARCHS), pos_encodings="learned")
  else:
    s.tasks.sudoku = sudoku.get_config("paper")
    s.tasks.maze = maze.get_config("paper")
    s.archs = _archs(("HRM", "TRM", "TRM-MLP", "transformer"), pos_encodings="none")
    s.seeds = (0,)
    s.max_hours = 72.0
    s.flops_per_s = 2e14  # one accelerator, bf16
    s.test_time.restarts = (1, 16)
  s.lock()
  return s
