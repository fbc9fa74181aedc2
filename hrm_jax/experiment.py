"""From an experiment ConfigDict to checked settings: model, optimizer, steps, dataset.

Everything here runs on the host before any tracing or compilation, so a bad
value fails fast with a message naming the field.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ml_collections import ConfigDict

from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.data.format import DatasetFormatError, DatasetMetadata, read_metadata
from hrm_jax.train_step import OptimConfig

TASKS = ("maze", "sudoku", "arc", "parity")
HALT_RULES = ("q_halt", "q_halt_gt_continue")


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a run needs, derived from the ConfigDict and the dataset's metadata."""
  model: HRMConfig
  optim: OptimConfig
  data_path: Path
  run_dir: Path
  total_steps: int            # updates in the whole run
  eval_every: int             # updates between evaluations
  eval_steps: int             # ACT segments at evaluation
  train_meta: DatasetMetadata


def _fail(field: str, value, want: str):
  raise ConfigError(f"config.{field} = {value!r}: {want}")


def check(cfg: ConfigDict) -> None:
  """Validate the values that do not depend on the dataset; raises ConfigError."""
  if cfg.task not in TASKS:
    _fail("task", cfg.task, f"must be one of {TASKS}")
  model_fields = {f.name for f in dataclasses.fields(HRMConfig)}
  unknown = sorted(set(cfg.model.keys()) - model_fields)
  if unknown:
    raise ConfigError(f"config.model has unknown field(s) {unknown}")
  HRMConfig(**cfg.model.to_dict())  # raises ConfigError naming the field
  optim_fields = {f.name for f in dataclasses.fields(OptimConfig)} - {"total_steps"}
  unknown = sorted(set(cfg.optim.keys()) - optim_fields)
  if unknown:
    raise ConfigError(f"config.optim has unknown field(s) {unknown}")
  for name in ("lr", "puzzle_emb_lr", "weight_decay", "puzzle_emb_weight_decay", "lr_min_ratio",
               "lr_warmup_steps"):
    if cfg.optim[name] < 0:
      _fail(f"optim.{name}", cfg.optim[name], "must be >= 0")
  for name in ("beta1", "beta2"):
    if not 0 <= cfg.optim[name] < 1:
      _fail(f"optim.{name}", cfg.optim[name], "must lie in [0, 1)")
  t = cfg.train
  for name in ("global_batch_size", "log_every", "checkpoint_every", "keep_checkpoints"):
    if t[name] < 1:
      _fail(f"train.{name}", t[name], "must be a positive integer")
  for name in ("epochs", "steps", "eval_interval", "eval_every", "time_limit_s"):
    if t[name] < 0:
      _fail(f"train.{name}", t[name], "must be >= 0")
  if t.steps == 0 and t.epochs == 0:
    _fail("train.steps", t.steps, "set train.steps or train.epochs")
  if not 0 <= t.ema_rate < 1:
    _fail("train.ema_rate", t.ema_rate, "must lie in [0, 1) (0 = no EMA)")
  e = cfg.eval
  if e.global_batch_size < 1:
    _fail("eval.global_batch_size", e.global_batch_size, "must be a positive integer")
  if e.halt_max_steps < 0 or e.max_examples < 0 or e.num_render < 0 or e.pass_k < 2:
    raise ConfigError("config.eval: halt_max_steps, max_examples and num_render must be >= 0 "
                      "and pass_k >= 2")
  if e.halt_rule not in HALT_RULES:
    _fail("eval.halt_rule", e.halt_rule, f"must be one of {HALT_RULES}")
  if not cfg.data.path:
    _fail("data.path", cfg.data.path, "must name the dataset directory")


def ensure_dataset(cfg: ConfigDict, progress: bool = True) -> Path:
  """The dataset directory; built with `cfg.data.build` when it does not exist yet."""
  path = Path(cfg.data.path)
  if (path / "train" / "dataset.json").is_file():
    return path
  from hrm_jax import tasks
  print(f"dataset {path} not found: building it ({cfg.task}, {cfg.data.build.to_dict()})")
  tasks.build_dataset(cfg.task, path, cfg.data.build.to_dict(), progress=progress)
  return path


def settings(cfg: ConfigDict, data_path: Path | None = None) -> Settings:
  """Check `cfg` and derive the run's settings from it and the dataset's metadata."""
  check(cfg)
  data_path = Path(data_path or cfg.data.path)
  try:
    meta = read_metadata(data_path, "train")
    read_metadata(data_path, "test")
  except DatasetFormatError as e:
    raise ConfigError(f"config.data.path = {str(data_path)!r}: {e}") from e
  model = HRMConfig(vocab_size=meta.vocab_size, seq_len=meta.seq_len,
                    num_puzzle_identifiers=meta.num_puzzle_identifiers, **cfg.model.to_dict())
  t = cfg.train
  steps_per_epoch = meta.total_groups * meta.mean_puzzle_examples / t.global_batch_size
  total = t.steps or int(t.epochs * steps_per_epoch)
  if total < 1:
    raise ConfigError(f"the run would have no update: {t.epochs} epochs of "
                      f"{steps_per_epoch:.3f} batches; raise train.epochs or set train.steps")
  eval_every = t.eval_every or max(1, int(t.eval_interval * steps_per_epoch)) if (
      t.eval_every or t.eval_interval) else total
  optim = OptimConfig(total_steps=total, **cfg.optim.to_dict())
  run_dir = Path(cfg.run_dir or f"runs/{cfg.task}-{cfg.variant}")
  return Settings(model=model, optim=optim, data_path=data_path, run_dir=run_dir,
                  total_steps=total, eval_every=min(eval_every, total),
                  eval_steps=cfg.eval.halt_max_steps or model.halt_max_steps, train_meta=meta)
