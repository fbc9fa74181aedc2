"""Fields shared by every task's experiment config (ml_collections ConfigDict).

A task file (maze.py, sudoku.py, arc.py, parity.py) starts from `base_config()` and
sets the task, the dataset and its builder, and the variant's sizes (its `cpu` variant:
`cpu_demo`'s shared part, then its own fields; the TRM paper's variants: `trm_paper`). Every field
has a sentinel default of the right type (0, "" or False = "derive/off"), so
that command-line overrides are type-checked and unknown keys are rejected.
"""

from __future__ import annotations

import dataclasses

import ml_collections

from hrm_jax.config import HRMConfig
from hrm_jax.train_step import OptimConfig

# HRMConfig fields that come from the dataset's metadata, not from the config.
DATASET_FIELDS = ("vocab_size", "seq_len", "num_puzzle_identifiers")


def paper_model() -> ml_collections.ConfigDict:
  """The paper's HRM (SPEC section 1): 27.3M parameters for Sudoku.

  One field per HRMConfig hyper-parameter at its default (see hrm_jax/config.py for what
  each means), except the dataset's fields and the reference's bfloat16 activations.
  """
  fields = dataclasses.asdict(HRMConfig())
  for name in DATASET_FIELDS:
    del fields[name]
  fields["compute_dtype"] = "bfloat16"  # the reference's forward_dtype
  return ml_collections.ConfigDict(fields)


def paper_optim() -> ml_collections.ConfigDict:
  """The reference's AdamATan2 + sign-SGD settings (SPEC section 4): OptimConfig's defaults,
  but for total_steps, which the run derives (see hrm_jax/train_step.py for each field)."""
  fields = dataclasses.asdict(OptimConfig())
  del fields["total_steps"]
  return ml_collections.ConfigDict(fields)


def base_config() -> ml_collections.ConfigDict:
  """Every field with the reference's Sudoku/Maze settings; tasks override what differs."""
  c = ml_collections.ConfigDict()  # the whole experiment
  c.task = "maze"  # task family: a name of hrm_jax.tasks (builder, metrics, plots)
  c.variant = "paper"  # name of the variant this config came from (for the record)
  c.run_dir = ""  # output dir ("": runs/<task>-<variant>[-seed<N>][-<hash>])
  c.seed = 0  # seed of the parameters, the loader and ACT exploration

  c.data = ml_collections.ConfigDict()  # where the data comes from
  c.data.path = ""  # dataset directory in the HRM format; built if missing
  c.data.build = ml_collections.ConfigDict()  # builder arguments (task-specific, see task file)

  c.model = paper_model()  # HRMConfig fields (vocab/seq_len/puzzle ids: from the dataset)

  c.optim = paper_optim()  # AdamATan2 + sign-SGD settings (SPEC section 4)

  c.train = ml_collections.ConfigDict()  # the training loop
  c.train.global_batch_size = 768  # examples per update, summed over all devices and hosts
  c.train.epochs = 20000  # passes over the training groups (sets the step count)
  c.train.steps = 0  # updates to run (0 = derived from epochs)
  c.train.eval_interval = 2000  # epochs between evaluations
  c.train.eval_every = 0  # updates between evaluations (0 = from eval_interval)
  c.train.log_every = 50  # updates between metric records / progress-bar refreshes
  c.train.checkpoint_every = 1000  # updates between checkpoints (also at each evaluation)
  c.train.keep_checkpoints = 3  # most recent checkpoints kept (the best one is kept too)
  c.train.keep_eval_checkpoints = False  # also keep every checkpoint saved at an evaluation
  c.train.best_metric = "exact_accuracy"  # evaluation metric that picks the best checkpoint
  c.train.ema_rate = 0.0  # EMA of the parameters (e.g. 0.999; 0 = off), used at eval
  c.train.param_sharding = "replicated"  # or "fsdp": params/optimizer state split over devices
  c.train.time_limit_s = 0.0  # stop (with a checkpoint) after this many seconds (0 = none)
  c.train.progress = True  # show a tqdm progress bar
  c.train.wandb = False  # also log to Weights & Biases (needs wandb installed)
  c.train.tensorboard = False  # also log to TensorBoard (needs tensorboard or tensorboardX)

  c.eval = ml_collections.ConfigDict()  # evaluation on the test split
  c.eval.global_batch_size = 768  # examples per evaluation batch (last one padded)
  c.eval.halt_max_steps = 0  # segments at evaluation (0 = model.halt_max_steps)
  c.eval.halt_rule = "model"  # halting at eval: the trained rule, "q_halt" or "q_halt_gt_continue"
  c.eval.max_examples = 0  # periodic evaluations: the first N test examples (0 = all)
  c.eval.final_max_examples = 0  # the evaluation at the end: first N test examples (0 = all)
  c.eval.pass_ks = (1, 2, 5, 10, 100, 1000)  # ARC: the K of pass@K (each by both rules)
  c.eval.num_render = 4  # test puzzles drawn in the report
  return c


def cpu_model(m: ml_collections.ConfigDict) -> None:
  """Shrink a paper model in place to something a 2-core CPU trains in minutes."""
  m.hidden_size = 64
  m.num_heads = 4
  m.h_layers = 2
  m.l_layers = 2
  m.h_cycles = 3
  m.l_cycles = 2
  m.pos_encodings = "learned"  # absolute positions: a flattened grid's row ends are visible
  m.puzzle_emb_ndim = 0
  m.halt_max_steps = 1
  m.compute_dtype = "float32"  # bf16 is slower than f32 on these CPUs at this size


def trm_model(m: ml_collections.ConfigDict, h_cycles: int, l_cycles: int, mlp_t: bool = False):
  """Turn a model into the Tiny Recursive Model of the TRM paper, in place (its arch/trm.yaml).

  One module of 2 blocks, h_cycles x (l_cycles L-updates + one H-update) per segment,
  halting on q_halt alone, a 16-token puzzle prefix (when there is a puzzle embedding).
  mlp_t: TRM-MLP, the token-mixing SwiGLU instead of attention, no positions (Sudoku).
  """
  m.arch = "trm"
  m.h_layers, m.l_layers = 0, 2
  m.h_cycles, m.l_cycles = h_cycles, l_cycles
  m.puzzle_emb_len = 16 if m.puzzle_emb_ndim else 0
  m.no_act_continue = True
  if mlp_t:
    m.mlp_t, m.pos_encodings = True, "none"


def transformer_model(m: ml_collections.ConfigDict, layers: int = 8) -> None:
  """Turn a model into the TRM release's transformer baseline, in place: one pass of
  `layers` blocks per ACT step, no cycles, Q-learned halting with Q-continue."""
  m.arch = "transformer"
  m.h_layers, m.l_layers = layers, 0
  m.h_cycles = m.l_cycles = 1


# The TRM paper's models (trm_paper's `kind`): TRM, TRM-MLP and the transformer baseline.
TRM_KINDS = ("trm", "trm_mlp", "transformer")


def trm_paper(c: ml_collections.ConfigDict, kind: str, h_cycles: int, l_cycles: int) -> None:
  """One of the TRM paper's runs, in place: its model of `kind` (a TRM_KINDS name; the
  cycles are TRM's) and the EMA of the weights (0.999) its README trains every model with."""
  if kind == "transformer":
    transformer_model(c.model)
  else:
    trm_model(c.model, h_cycles, l_cycles, mlp_t=kind == "trm_mlp")
  c.train.ema_rate = 0.999


def parse_variant(variant: str | None, allowed: tuple[str, ...]) -> str:
  """The variant name after the ':' of --config=FILE:VARIANT, checked."""
  variant = variant or allowed[0]
  if variant not in allowed:
    raise ValueError(f"unknown config variant {variant!r}; choose one of {allowed}")
  return variant


def cpu_demo(c: ml_collections.ConfigDict) -> None:
  """The CPU variants' shared part, in place (sizes measured on a 2-core machine); each task's
  config then sets its own dataset and sizes."""
  cpu_model(c.model)
  c.optim.lr = 2e-3
  c.optim.lr_warmup_steps = 100
  c.optim.lr_min_ratio = 0.1
  c.optim.weight_decay = 0.1
  c.optim.puzzle_emb_lr = 1e-2
  c.optim.puzzle_emb_weight_decay = 0.1
  c.train.global_batch_size = 64
  c.train.steps = 1200
  c.train.eval_every = 400
  c.train.log_every = 25
  c.train.checkpoint_every = 400
  c.eval.global_batch_size = 256
  c.eval.max_examples = 0
