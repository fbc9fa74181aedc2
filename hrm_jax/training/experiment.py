"""From an experiment ConfigDict to checked settings: model, optimizer, steps, dataset, run dir.

Everything here runs on the host before any tracing or compilation, so a bad
value fails fast with a message naming the field. Also the rules of a run
directory: its default name, and which config changes a resume may make
(`SAFE_FIELDS`); the config saved in the run directory is the truth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ml_collections import ConfigDict

from hrm_jax import act, tasks
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.data.format import DatasetFormatError, DatasetMetadata, read_metadata
from hrm_jax.train_step import OptimConfig
from hrm_jax.training import parallel

HALT_RULES = tuple(r for r in act.HALT_RULES if r != "none")  # eval.halt_rule

# Fields a resumed run may change: they decide when to evaluate, log or save, and how
# evaluations are batched, subsampled, scored (which pass@K) and drawn, never what is
# trained. Changing anything else (model, data, optimizer, seed, the segments or halting
# rule at evaluation) is a new run.
SAFE_FIELDS = frozenset(
  ["run_dir"]
  + [
    f"train.{k}"
    for k in (
      "eval_interval",
      "eval_every",
      "log_every",
      "checkpoint_every",
      "keep_checkpoints",
      "keep_eval_checkpoints",
      "best_metric",
      "time_limit_s",
      "progress",
      "wandb",
      "tensorboard",
      "param_sharding",  # where the state lives, not what it computes
    )
  ]
  + [
    f"eval.{k}"
    for k in ("global_batch_size", "max_examples", "final_max_examples", "num_render", "pass_ks")
  ]
)
# The run's length: safe to change on resume only while the learning rate does not depend on
# it (optim.lr_min_ratio = 1: constant after warm-up, the reference default); with a cosine
# decay the updates already made followed the old schedule.
LENGTH_FIELDS = frozenset(["train.steps", "train.epochs"])


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a run needs, derived from the ConfigDict and the dataset's metadata."""

  model: HRMConfig
  optim: OptimConfig
  data_path: Path
  run_dir: Path
  total_steps: int  # updates the run makes
  schedule_steps: int  # length of the learning-rate schedule (the authors' total_steps)
  eval_at: tuple[int, ...]  # the updates after which the test split is evaluated (last: the end)
  eval_steps: int  # ACT segments at evaluation
  train_meta: DatasetMetadata


def _fail(field: str, value, want: str):
  raise ConfigError(f"config.{field} = {value!r}: {want}")


def check(cfg: ConfigDict) -> None:
  """Validate the values that do not depend on the dataset; raises ConfigError."""
  tasks.get(cfg.task, "config.task")  # an unknown task: a ConfigError naming the known ones
  for section, cls, derived in (
    ("model", HRMConfig, set()),
    ("optim", OptimConfig, {"total_steps"}),
  ):
    fields = {f.name for f in dataclasses.fields(cls)} - derived
    unknown = sorted(set(cfg[section].keys()) - fields)
    if unknown:
      raise ConfigError(f"config.{section} has unknown field(s) {unknown}")
    cls(**cfg[section].to_dict())  # raises ConfigError naming the field
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
  if t.param_sharding not in parallel.PARAM_SHARDINGS:
    _fail("train.param_sharding", t.param_sharding, f"must be one of {parallel.PARAM_SHARDINGS}")
  e = cfg.eval
  if e.global_batch_size < 1:
    _fail("eval.global_batch_size", e.global_batch_size, "must be a positive integer")
  if e.halt_max_steps < 0 or e.max_examples < 0 or e.final_max_examples < 0 or e.num_render < 0:
    raise ConfigError(
      "config.eval: halt_max_steps, max_examples, final_max_examples and num_render must be >= 0"
    )
  if (
    isinstance(e.pass_ks, (str, bytes))
    or not hasattr(e.pass_ks, "__iter__")
    or not e.pass_ks
    or not all(isinstance(k, int) and k >= 1 for k in e.pass_ks)
  ):
    _fail("eval.pass_ks", e.pass_ks, "must be a tuple of positive integers, e.g. (1, 2, 10)")
  if e.halt_rule not in HALT_RULES:
    _fail("eval.halt_rule", e.halt_rule, f"must be one of {HALT_RULES}")
  if not cfg.data.path:
    _fail("data.path", cfg.data.path, "must name the dataset directory")
  if not (t.steps or t.eval_every) and t.eval_interval and t.epochs % t.eval_interval:
    _fail(
      "train.epochs",
      t.epochs,
      f"must be a multiple of train.eval_interval "
      f"({t.eval_interval}), as in the authors' pretrain.py",
    )
  from hrm_jax.training.evaluate import metric_names  # evaluate imports this module

  names = metric_names(cfg.task, cfg.eval.pass_ks)
  if t.best_metric not in names:
    _fail(
      "train.best_metric",
      t.best_metric,
      f"must be an evaluation metric of {cfg.task}: " + ", ".join(names),
    )


def ensure_dataset(cfg: ConfigDict, progress: bool = True) -> Path:
  """The dataset directory, built with `cfg.data.build` when it does not exist yet.

  A dataset this library built (it has build_args.json) must have been built with
  `cfg.data.build`: the builder reuses it (one line) or refuses it, naming the arguments
  that differ; a damaged one is reported (ConfigError), never silently rebuilt. A dataset
  without build_args.json (e.g. the authors' own) is used as it is.
  """
  path = Path(cfg.data.path)
  built = (path / "train" / "dataset.json").is_file()
  if built and not (path / "build_args.json").is_file():
    return path
  from hrm_jax.data.format import OutputFolderError, read_split

  if built:  # a damaged dataset is reported, not silently rebuilt
    try:
      for split in ("train", "test"):
        read_split(path, split)
    except DatasetFormatError as e:
      raise ConfigError(f"config.data.path = {str(path)!r}: {e}") from e
  else:
    print(f"dataset {path} not found: building it ({cfg.task}, {cfg.data.build.to_dict()})")
  try:
    tasks.get(cfg.task).build(path, cfg.data.build.to_dict(), progress=progress)
  except OutputFolderError as e:
    raise ConfigError(
      f"config.data.path: {e}",
      hint=(
        "point --config.data.path at another folder, or make config.data.build match the "
        "dataset's build_args.json"
      ),
    ) from e
  return path


def schedule(train: ConfigDict, meta: DatasetMetadata) -> tuple[int, int, tuple[int, ...]]:
  """(updates run, LR-schedule length, evaluation steps) as the authors' pretrain.py counts.

  With train.epochs, the schedule is int(epochs * total_groups * mean_puzzle_examples /
  global_batch_size) updates and training runs epochs / eval_interval intervals of
  int(eval_interval * ... / global_batch_size) updates each (their loader's full batches
  per interval; exact for one-example puzzles, the mean for ARC), never past the schedule,
  with an evaluation after each: so 20000 epochs of 1000 Sudoku at batch 768 schedule
  26041 updates and run 26040, evaluated every 2604. With train.steps (or an explicit
  train.eval_every), evaluations come every eval_every updates and once at the end.
  """
  per_epoch = meta.total_groups * meta.mean_puzzle_examples / train.global_batch_size
  if per_epoch < 1:  # the loader forms full batches within one pass
    drawn = int(meta.total_groups * meta.mean_puzzle_examples)
    raise ConfigError(
      f"config.train.global_batch_size = {train.global_batch_size} is more "
      f"than one pass over the training split draws (~{drawn} examples)",
      hint=f"use a batch of at most {drawn}",
    )
  total = train.steps or int(train.epochs * per_epoch)
  if total < 1:
    raise ConfigError(
      f"the run would have no update: {train.epochs} epochs of "
      f"{per_epoch:.3f} batches; raise train.epochs or set train.steps"
    )
  if train.steps or train.eval_every or not train.eval_interval:
    every = train.eval_every or (
      int(train.eval_interval * per_epoch) if train.eval_interval else total
    )
    if every < 1:
      raise ConfigError(
        f"config.train.eval_interval = {train.eval_interval} epochs is less "
        f"than one batch ({per_epoch:.3f} batches per epoch)"
      )
    at = sorted(set(range(every, total + 1, every)) | {total})
    return total, total, tuple(at)
  per_interval = int(train.eval_interval * per_epoch)
  if per_interval < 1:
    raise ConfigError(
      f"config.train.eval_interval = {train.eval_interval} epochs is less "
      f"than one batch ({per_epoch:.3f} batches per epoch)"
    )
  at = sorted(
    {min(total, (i + 1) * per_interval) for i in range(train.epochs // train.eval_interval)}
  )
  return at[-1], total, tuple(at)


def check_dataset(task: str, data_path: Path, meta: DatasetMetadata) -> None:
  """Refuse a dataset of another task (its build_args.json, its vocabulary and length)."""
  where = f"config.data.path = {str(data_path)!r}"
  tasks.check_built_for(
    task, data_path, where, hint=f"point --config.data.path at a {task} dataset"
  )
  need = tasks.get(task).requirement(meta.seq_len, meta.vocab_size)
  if need:
    raise ConfigError(
      f"{where}: vocab_size {meta.vocab_size}, seq_len {meta.seq_len} is not {task} data ({need})"
    )


def settings(cfg: ConfigDict, data_path: Path | None = None) -> Settings:
  """Derive the run's settings from a checked `cfg` (see `check`) and the dataset's metadata."""
  data_path = Path(data_path or cfg.data.path)
  try:
    meta = read_metadata(data_path, "train")
    read_metadata(data_path, "test")
  except DatasetFormatError as e:
    raise ConfigError(f"config.data.path = {str(data_path)!r}: {e}") from e
  check_dataset(cfg.task, data_path, meta)
  model = HRMConfig(
    vocab_size=meta.vocab_size,
    seq_len=meta.seq_len,
    num_puzzle_identifiers=meta.num_puzzle_identifiers,
    **cfg.model.to_dict(),
  )
  total, schedule_steps, eval_at = schedule(cfg.train, meta)
  optim = OptimConfig(total_steps=schedule_steps, **cfg.optim.to_dict())
  return Settings(
    model=model,
    optim=optim,
    data_path=data_path,
    run_dir=run_dir(cfg),
    total_steps=total,
    schedule_steps=schedule_steps,
    eval_at=eval_at,
    eval_steps=cfg.eval.halt_max_steps or model.halt_max_steps,
    train_meta=meta,
  )


# ----------------------------------------------------------------------------- run directories


def flatten(tree: dict, prefix: str = "") -> dict:
  """{"a": {"b": 1}} -> {"a.b": 1}: the dotted names the command line uses."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def _as_dict(cfg) -> dict:
  """A config as plain JSON values (tuples become lists, as in a saved config.json)."""
  return json.loads(json.dumps(cfg) if isinstance(cfg, dict) else cfg.to_json())


def differences(old, new) -> dict[str, tuple]:
  """{dotted field: (old value, new value)} where two configs (ConfigDicts or dicts) differ."""
  a, b = flatten(_as_dict(old)), flatten(_as_dict(new))
  missing = "(absent)"
  return {
    k: (a.get(k, missing), b.get(k, missing))
    for k in sorted(set(a) | set(b))
    if a.get(k, missing) != b.get(k, missing)
  }


def _show(v) -> str:
  return repr(v) if isinstance(v, str) else json.dumps(v)


def run_dir(cfg: ConfigDict, defaults: ConfigDict | None = None) -> Path:
  """`config.run_dir`, or the default `runs/{task}-{variant}[-seed{N}][-{hash}]`.

  `defaults` is the unmodified variant (experiments/main.py passes it): the suffix
  names its seed if that differs, and hashes the other changed fields outside
  SAFE_FIELDS, so `--config.seed=1` or a one-pass baseline get directories of
  their own. Without `defaults` every such field goes into the hash.
  """
  if cfg.run_dir:
    return Path(cfg.run_dir)
  fields = flatten(_as_dict(cfg))
  changed = set(differences(defaults, cfg)) if defaults is not None else set(fields)
  changed -= SAFE_FIELDS | {"seed", "variant", "task"}
  name = f"runs/{cfg.task}-{cfg.variant}"
  if defaults is None or cfg.seed != defaults.seed:
    name += f"-seed{cfg.seed}"
  if changed:
    text = json.dumps({k: fields.get(k) for k in sorted(changed)}, sort_keys=True)
    name += "-" + hashlib.sha1(text.encode()).hexdigest()[:6]
  return Path(name)


# What only a training writes into its run directory (one of them marks a folder as a run's).
RUN_MARKS = ("checkpoints", "metrics.jsonl", "data_identity.json", "lock")


def check_run_dir(path: Path) -> None:
  """Refuse a run directory that holds files but none a training writes: it is not a run's,
  and a training would overwrite config.json, report.md, ... there."""
  try:
    entries = sorted(p.name for p in Path(path).iterdir())
  except (FileNotFoundError, NotADirectoryError):
    return  # created (or refused as not writable) by the lock
  if entries and not set(entries) & set(RUN_MARKS):
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise ConfigError(
      f"config.run_dir = {str(path)!r} holds other files ({shown}), not a run",
      hint="pass a new or empty folder as --config.run_dir",
    )


def dataset_identity(data_path: Path) -> dict:
  """What identifies a dataset's contents, cheaply: its build_args.json, every split's
  dataset.json, and each .npy file's size and a hash of its first MiB."""

  def read(path: Path):
    try:
      return json.loads(path.read_text())
    except (OSError, ValueError):
      return None

  out = {"build_args": read(data_path / "build_args.json")}
  for split in ("train", "test"):
    files = {}
    for npy in sorted((data_path / split).glob("*.npy")):
      with open(npy, "rb") as f:
        head = hashlib.sha1(f.read(1 << 20)).hexdigest()[:16]
      files[npy.name] = f"{npy.stat().st_size}:{head}"
    out[split] = {"dataset.json": read(data_path / split / "dataset.json"), "files": files}
  return out


def check_same_dataset(saved: dict, data_path: Path) -> None:
  """Refuse to resume on a dataset whose contents changed since the run started."""
  diffs = differences(saved, dataset_identity(data_path))
  if diffs:
    shown = ", ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in list(diffs.items())[:3])
    raise ConfigError(
      f"the dataset {str(data_path)!r} changed since this run started ({shown}"
      f"{', ...' if len(diffs) > 3 else ''})",
      hint="pass a new --config.run_dir to train on it, or rebuild the old one",
    )


def _same_meaning(key: str, old, new, cfg: ConfigDict) -> bool:
  """Whether a saved value and a new one that differ in text mean the same run: a model field
  that an older release did not have, at its default, and a halting rule named either by
  its name or as "model"."""
  defaults = {f.name: f.default for f in dataclasses.fields(HRMConfig)}
  field = key.removeprefix("model.")
  if key.startswith("model.") and old == "(absent)" and defaults.get(field, old) == new:
    return True
  if key == "eval.halt_rule":
    return {old, new} == {"model", act.trained_halt_rule(HRMConfig(**cfg.model.to_dict()))}
  return False


def check_resume(saved: dict, cfg: ConfigDict, where: Path) -> list[str]:
  """Compare a run's saved config with the new one; returns the allowed changes as text.

  Raises ConfigError listing every difference outside SAFE_FIELDS (and the run's length
  when the learning rate decays over it).
  """
  diffs = {k: v for k, v in differences(saved, cfg).items() if not _same_meaning(k, *v, cfg)}
  constant_lr = saved.get("optim", {}).get("lr_min_ratio") == 1.0 == cfg.optim.lr_min_ratio
  allowed = SAFE_FIELDS | (LENGTH_FIELDS if constant_lr else frozenset())
  bad = [
    f"{k}: {_show(a)} -> {_show(b)}"
    + (" (the cosine learning rate decays over it)" if k in LENGTH_FIELDS else "")
    for k, (a, b) in diffs.items()
    if k not in allowed
  ]
  if bad:
    raise ConfigError(
      f"the config differs from the one this run was started with ({where}): " + ", ".join(bad),
      hint="pass a new --config.run_dir to start another run, or rerun with "
      "the saved values to resume this one",
    )
  return [f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in diffs.items() if k != "run_dir"]
