"""Fields shared by every task's experiment config (ml_collections ConfigDict).

A task file (maze.py, sudoku.py, arc.py) starts from `base_config()` and sets
the task, the dataset and its builder, and the variant's sizes. Every field
has a sentinel default of the right type (0, "" or False = "derive/off"), so
that command-line overrides are type-checked and unknown keys are rejected.
"""
from __future__ import annotations

import ml_collections


def paper_model() -> ml_collections.ConfigDict:
  """The paper's HRM (SPEC section 1): 27.3M parameters for Sudoku."""
  m = ml_collections.ConfigDict()    # one field per HRMConfig hyper-parameter
  m.hidden_size = 512                # D: width of every token state
  m.num_heads = 8                    # attention heads (head_dim = D / heads)
  m.expansion = 4.0                  # SwiGLU width factor before the 2/3 and 256 rounding
  m.h_layers = 4                     # blocks in the high-level module H
  m.l_layers = 4                     # blocks in the low-level module L
  m.h_cycles = 2                     # N: H updates per segment
  m.l_cycles = 2                     # T: L updates per H update
  m.pos_encodings = "rope"           # "rope" or "learned"
  m.rope_theta = 10000.0             # RoPE base
  m.rms_norm_eps = 1e-5              # RMSNorm epsilon
  m.puzzle_emb_ndim = 512            # puzzle-embedding width (0 = no puzzle prefix)
  m.halt_max_steps = 16              # ACT: segments before a forced halt
  m.halt_exploration_prob = 0.1      # ACT: chance per slot to draw a minimum halting step
  m.grad_mode = "one_step"           # "one_step" (the paper's 1-step gradient) or "bptt"
  m.loss_type = "stablemax"          # "stablemax" or "softmax" cross entropy
  m.q_loss_weight = 0.5              # weight of the ACT Q-halt + Q-continue losses
  m.param_dtype = "float32"          # parameter storage dtype
  m.compute_dtype = "bfloat16"       # activation / matmul-input dtype (float32 accumulation)
  return m


def base_config() -> ml_collections.ConfigDict:
  """Every field with the reference's Sudoku/Maze settings; tasks override what differs."""
  c = ml_collections.ConfigDict()    # the whole experiment
  c.task = "maze"                    # task family: "maze", "sudoku" or "arc" (picks metrics/plots)
  c.variant = "paper"                # name of the variant this config came from (for the record)
  c.run_dir = ""                     # output dir ("": runs/<task>-<variant>[-seed<N>][-<hash>])
  c.seed = 0                         # seed of the parameters, the loader and ACT exploration

  c.data = ml_collections.ConfigDict()  # where the data comes from
  c.data.path = ""                   # dataset directory in the HRM format; built if missing
  c.data.build = ml_collections.ConfigDict()  # builder arguments (task-specific, see task file)

  c.model = paper_model()           # HRMConfig fields (vocab/seq_len/puzzle ids: from the dataset)

  c.optim = ml_collections.ConfigDict()  # AdamATan2 + sign-SGD settings (SPEC section 4)
  c.optim.lr = 1e-4                  # AdamATan2 base learning rate
  c.optim.lr_min_ratio = 1.0         # cosine floor as a fraction of lr (1.0 = constant)
  c.optim.lr_warmup_steps = 2000     # linear warmup updates
  c.optim.beta1 = 0.9                # AdamATan2 beta1
  c.optim.beta2 = 0.95               # AdamATan2 beta2
  c.optim.weight_decay = 1.0         # AdamATan2 decoupled weight decay
  c.optim.puzzle_emb_lr = 1e-4       # sign-SGD learning rate of the puzzle-embedding table
  c.optim.puzzle_emb_weight_decay = 1.0  # sign-SGD weight decay (touched rows only)

  c.train = ml_collections.ConfigDict()  # the training loop
  c.train.global_batch_size = 768    # examples per update, summed over all devices and hosts
  c.train.epochs = 20000             # passes over the training groups (sets the step count)
  c.train.steps = 0                  # updates to run (0 = derived from epochs)
  c.train.eval_interval = 2000       # epochs between evaluations
  c.train.eval_every = 0             # updates between evaluations (0 = from eval_interval)
  c.train.log_every = 50             # updates between metric records / progress-bar refreshes
  c.train.checkpoint_every = 1000    # updates between checkpoints (also at each evaluation)
  c.train.keep_checkpoints = 3       # most recent checkpoints kept (the best one is kept too)
  c.train.keep_eval_checkpoints = False  # also keep every checkpoint saved at an evaluation
  c.train.best_metric = "exact_accuracy"  # evaluation metric that picks the best checkpoint
  c.train.ema_rate = 0.0             # EMA of the parameters (e.g. 0.999; 0 = off), used at eval
  c.train.time_limit_s = 0.0         # stop (with a checkpoint) after this many seconds (0 = none)
  c.train.progress = True            # show a tqdm progress bar
  c.train.wandb = False              # also log to Weights & Biases (needs wandb installed)
  c.train.tensorboard = False        # also log to TensorBoard (needs tensorboard or tensorboardX)

  c.eval = ml_collections.ConfigDict()  # evaluation on the test split
  c.eval.global_batch_size = 768     # examples per evaluation batch (last one padded)
  c.eval.halt_max_steps = 0          # segments at evaluation (0 = model.halt_max_steps)
  c.eval.halt_rule = "q_halt_gt_continue"  # halting at eval: "q_halt" (q_halt > 0) or "q_halt_gt_continue"
  c.eval.max_examples = 0            # periodic evaluations: the first N test examples (0 = all)
  c.eval.final_max_examples = 0      # the evaluation at the end: first N test examples (0 = all)
  c.eval.pass_ks = (1, 2, 5, 10, 100, 1000)  # ARC: the K of pass@K (each by both rules)
  c.eval.num_render = 4              # test puzzles drawn in the report
  return c


def cpu_model(m: ml_collections.ConfigDict) -> None:
  """Shrink a paper model in place to something a 2-core CPU trains in minutes."""
  m.hidden_size = 64
  m.num_heads = 4
  m.h_layers = 2
  m.l_layers = 2
  m.h_cycles = 3
  m.l_cycles = 2
  m.pos_encodings = "learned"   # absolute positions: a flattened grid's row ends are visible
  m.puzzle_emb_ndim = 0
  m.halt_max_steps = 1
  m.compute_dtype = "float32"   # bf16 is slower than f32 on these CPUs at this size


def parse_variant(variant: str | None, allowed: tuple[str, ...]) -> str:
  """The variant name after the ':' of --config=FILE:VARIANT, checked."""
  variant = variant or allowed[0]
  if variant not in allowed:
    raise ValueError(f"unknown config variant {variant!r}; choose one of {allowed}")
  return variant


def cpu_demo(c: ml_collections.ConfigDict, task: str) -> None:
  """Turn `c` into the task's CPU variant in place (sizes measured on a 2-core machine)."""
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
  if task == "maze":
    c.data.path = "data/maze-7x7-perfect"
    c.data.build.generator = "perfect"
    c.data.build.size = 7
    c.data.build.train_size = 10000
    c.data.build.test_size = 1000
    c.data.build.min_path = 10
  elif task == "sudoku":
    c.data.path = "data/sudoku-easy-demo"
    c.data.build.train_size = 2000
    c.data.build.test_size = 512
    c.data.build.num_aug = 10
    c.data.build.difficulty = "easy"
  elif task == "parity":
    m = c.model
    m.pos_encodings = "rope"        # relative positions: "the bit before me" is one rotation
    m.h_cycles, m.l_cycles = 3, 3
    m.halt_max_steps = 4            # deep supervision: up to 4 segments per string
    m.loss_type = "softmax"
    m.q_loss_weight = 0.05          # at 0.5 the Q losses spike as strings get solved and derail it
    c.optim.lr = 1.5e-3             # 3e-3 learns faster on some seeds and collapses on others
    c.train.global_batch_size = 32
    c.train.steps = 1500
    c.train.eval_every = 500
    c.train.checkpoint_every = 500
  elif task == "arc":
    c.data.path = "data/arc-agi-1-cpu"
    c.data.build.num_aug = 8
    c.data.build.task_ids = ("3c9b0459", "6150a2bd", "67a3c6ac", "68b16354",   # training
                             "00576224", "03560426", "0692e18c", "0becf7df")   # evaluation
    c.model.puzzle_emb_ndim = 128
    c.model.hidden_size = 64
    c.model.num_heads = 1
    c.train.global_batch_size = 16
    c.train.steps = 200
    c.eval.global_batch_size = 32
