"""Import the authors' PyTorch checkpoints into hrm_jax, and export back.

    python -m hrm_jax.tools.convert CHECKPOINT_FILE OUT_DIR [--seq-len N | --task T | --data DIR]
    python -m hrm_jax.tools.convert --to-torch MODEL_DIR OUT_FILE [--bare-keys] [--force]

Import reads a state_dict saved by the reference's pretrain.py (keys
"_orig_mod.model.inner.*", or "model.inner.*" / bare "inner.*") and the
`all_config.yaml` beside it (or --config-yaml), and writes a model directory
(hrm_jax.training.model_dir layout). The reference checkpoint does not hold the sequence
length (RoPE tables are not saved), so seq_len comes from, in this order:
--seq-len; the dataset's dataset.json (--data, or the yaml's data_path when that
directory exists); the task (--task, or a task name in data_path: sudoku 81,
maze/arc 900). Otherwise the command stops and says so.

Export writes a state_dict the authors' code loads (prefix "_orig_mod.model."
as pretrain.py saves; --bare-keys for "inner.*") plus all_config.yaml beside it.

torch is an optional dependency, imported only by these two commands. Tensors
are converted one at a time and shared with numpy where possible (torch.load
with mmap), so the puzzle-embedding table is never held twice in float32.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax import tasks
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.interop import reference_arch, torch_names
from hrm_jax.interop.reading import ConvertError, import_torch, load_state_dict, read_yaml
from hrm_jax.training.model_dir import load_model, save_model

TORCH_PREFIX = "_orig_mod.model."
_LOSS_TYPES = {"stablemax_cross_entropy": "stablemax", "softmax_cross_entropy": "softmax"}


# ----------------------------------------------------------------------------- config


def _task_from_name(name: str | None) -> str | None:
  if not name:
    return None
  base = Path(str(name)).name.lower()
  hits = [t for t in tasks.names() if t in base]
  return hits[0] if len(hits) == 1 else None


def _dataset_meta(directory: Path):
  from hrm_jax.data.format import read_metadata

  for split in ("train", "test"):
    if (directory / split / "dataset.json").is_file():
      return read_metadata(directory, split)
  return None


def _data_path(all_config: dict[str, Any]) -> str | None:
  """The training data's path: HRM's `data_path`, or the first of TRM's `data_paths`."""
  paths = all_config.get("data_paths") or [None]
  return all_config.get("data_path") or (paths[0] if isinstance(paths, list) else paths)


def _mlp_t_seq_len(sd: dict[str, np.ndarray], fields: dict[str, Any]) -> int | None:
  """seq_len implied by an mlp_t checkpoint (its token mixer is [.., P+S] wide), else None."""
  w = sd.get("inner.L_level.layers.0.mlp_t.down_proj.weight")
  if w is None or not fields.get("mlp_t") or isinstance(fields.get("puzzle_emb_ndim"), str):
    return None
  ndim, D = int(fields.get("puzzle_emb_ndim", 0)), int(fields.get("hidden_size", 512))
  return int(w.shape[0]) - (fields.get("puzzle_emb_len") or -(-ndim // D))


def config_from_reference(
  all_config: dict[str, Any],
  state_dict: dict[str, np.ndarray],
  *,
  seq_len: int | None = None,
  task: str | None = None,
  data_dir: str | os.PathLike | None = None,
  search_dirs: tuple[Path, ...] = (),
) -> tuple[HRMConfig, dict]:
  """HRMConfig (+ meta) for a reference checkpoint from its all_config.yaml and tensor shapes.

  vocab_size comes from embed_tokens, num_puzzle_identifiers from the puzzle table,
  the rest from `arch:`. seq_len: the argument, else dataset.json of `data_dir` or of
  the yaml's data_path (tried as given and under `search_dirs`), else the task.
  """
  arch = dict(all_config["arch"])
  name = arch.pop("name", reference_arch.NAMES["hrm"])
  ours = reference_arch.arch_of_name(name)
  if ours is None:
    raise ConvertError(
      f"arch.name is {name!r}; only these can be converted: {sorted(reference_arch.NAMES.values())}"
    )
  loss = arch.pop("loss", {}) or {}
  fields: dict[str, Any] = {"arch": ours, **reference_arch.fields_from_arch(ours, arch)}
  if isinstance(fields.get("puzzle_emb_ndim"), str) and "hidden_size" in fields:
    fields["puzzle_emb_ndim"] = fields["hidden_size"]  # unresolved "${.hidden_size}"
  if "expansion" in fields:
    fields["expansion"] = float(fields["expansion"])
  loss_type = loss.get("loss_type", "stablemax_cross_entropy")
  if loss_type not in _LOSS_TYPES:
    raise ConvertError(f"arch.loss.loss_type {loss_type!r} is not one of {sorted(_LOSS_TYPES)}")
  fields["loss_type"] = _LOSS_TYPES[loss_type]
  ignored = sorted(arch)

  sd = {torch_names.strip_prefix(k): v for k, v in state_dict.items()}
  held = reference_arch.arch_of_tensors(sd)
  if held is not None and held != ours:
    raise ConvertError(
      f"the checkpoint holds the modules of arch {held!r} (inner.{{H,L}}_level: "
      f"{reference_arch.LEVELS[held]}) but its all_config.yaml names {name!r} (arch "
      f"{ours!r}): pass the all_config.yaml saved with this checkpoint (--config-yaml)"
    )
  embed = sd.get("inner.embed_tokens.embedding_weight")
  if embed is None or embed.ndim != 2:
    raise ConvertError(
      "state_dict has no 2-D inner.embed_tokens.embedding_weight: cannot tell the vocabulary size"
    )
  fields["vocab_size"] = int(embed.shape[0])
  table = sd.get("inner.puzzle_emb.weights")
  fields["num_puzzle_identifiers"] = int(table.shape[0]) if table is not None else 1
  dtypes = {str(v.dtype) for v in sd.values() if v.dtype.kind == "f" or "bfloat16" in str(v.dtype)}
  fields["param_dtype"] = "bfloat16" if dtypes == {"bfloat16"} else "float32"

  data_path = _data_path(all_config)
  meta: dict[str, Any] = {"arch_name": name, "data_path": data_path}
  if ignored:
    meta["ignored_arch_keys"] = ignored
  task = task or _task_from_name(data_path)
  ds_dirs = [Path(data_dir)] if data_dir else []
  if data_path:
    dp = Path(data_path)
    ds_dirs += [dp] + [d / dp for d in search_dirs if not dp.is_absolute()]
  ds_meta, ds_dir = None, None
  for d in ds_dirs:
    ds_meta = _dataset_meta(d)
    if ds_meta is not None:
      ds_dir = d
      break
  if data_dir and ds_meta is None:
    raise ConvertError(f"--data {data_dir}: no train/ or test/ dataset.json there")
  if ds_meta is not None:
    task = task or _task_from_name(str(ds_dir))
    for key, have in (
      ("vocab_size", fields["vocab_size"]),
      ("num_puzzle_identifiers", fields["num_puzzle_identifiers"]),
    ):
      if getattr(ds_meta, key) != have:
        raise ConvertError(
          f"dataset {ds_dir} has {key}={getattr(ds_meta, key)}, the checkpoint "
          f"has {have}: not the dataset this model was trained on"
        )
  mixed = _mlp_t_seq_len(sd, fields)
  if seq_len is not None:
    source = "--seq-len"
  elif ds_meta is not None:
    seq_len, source = ds_meta.seq_len, f"{ds_dir}/dataset.json"
  elif task is not None and tasks.get(task).seq_len is not None:
    seq_len, source = tasks.get(task).seq_len, f"task {task}"
  elif mixed is not None:
    seq_len, source = mixed, "the mlp_t weights"
  elif task is not None:  # e.g. parity: strings of any length, no paper dataset to go by
    raise ConvertError(
      f"the {task} task has no fixed sequence length: pass --seq-len N or --data DATASET_DIR"
    )
  else:
    raise ConvertError(
      "cannot tell the sequence length: the checkpoint does not store it, data_path "
      f"{data_path!r} is neither a dataset directory here nor names a known "
      "task. Pass --seq-len N, --task sudoku|maze|arc, or --data DATASET_DIR"
    )
  if mixed is not None and seq_len != mixed:
    raise ConvertError(
      f"HRMConfig.seq_len is {seq_len} ({source}), but the checkpoint's mlp_t blocks mix "
      f"the tokens of seq_len {mixed}: pass --seq-len {mixed} or the dataset it was trained on"
    )
  if task is not None and tasks.get(task).vocab_size != fields["vocab_size"]:
    raise ConvertError(
      f"task {task} has vocab_size {tasks.get(task).vocab_size}, the checkpoint's "
      f"embed_tokens has {fields['vocab_size']} rows"
    )
  fields["seq_len"] = int(seq_len)
  try:
    config = HRMConfig(**fields)
  except (ConfigError, TypeError) as e:
    raise ConvertError(f"the checkpoint's configuration is not usable: {e}") from e
  meta.update(
    task=task, seq_len_source=source, vocab_size=config.vocab_size, seq_len=config.seq_len
  )
  if ds_dir is not None:  # where hrm_jax.training.evaluate finds the data by default
    meta["data_path"] = str(ds_dir.absolute())
  return config, meta


def reference_yaml(config: HRMConfig, meta: dict[str, Any], data_path: str | None = None) -> dict:
  """An all_config.yaml dict for `config`, on top of the one imported with it if any."""
  doc = dict(meta.get("reference_config") or {})
  defaults = {
    "data_path": data_path or meta.get("data_path") or f"data/{meta.get('task') or 'dataset'}",
    "global_batch_size": 768,
    "epochs": 20000,
    "eval_interval": 2000,
    "lr": 1e-4,
    "lr_min_ratio": 1.0,
    "lr_warmup_steps": 2000,
    "weight_decay": 1.0,
    "beta1": 0.9,
    "beta2": 0.95,
    "puzzle_emb_lr": 1e-4,
    "puzzle_emb_weight_decay": 1.0,
    "seed": 0,
    "checkpoint_every_eval": False,
    "eval_save_outputs": [],
    "project_name": None,
    "run_name": None,
    "checkpoint_path": None,
  }
  for k, v in defaults.items():
    doc.setdefault(k, v)
  if data_path:
    doc["data_path"] = data_path
  if config.arch != "hrm":  # the TRM release reads a list of dataset paths
    path = doc.pop("data_path")
    if data_path or not doc.get("data_paths"):
      doc["data_paths"] = [path]
  arch = dict(doc.get("arch") or {})
  imported = meta.get("arch_name")
  same = imported and reference_arch.arch_of_name(imported) == config.arch
  arch["name"] = imported if same else reference_arch.NAMES[config.arch]
  loss = dict(arch.get("loss") or {"name": "losses@ACTLossHead"})
  loss["loss_type"] = {v: k for k, v in _LOSS_TYPES.items()}[config.loss_type]
  arch["loss"] = loss
  try:
    arch.update(reference_arch.arch_section(config))
  except ValueError as e:
    raise ConvertError(str(e)) from e
  doc["arch"] = arch
  return doc


# ----------------------------------------------------------------------------- the two directions


def import_checkpoint(
  checkpoint: str | os.PathLike,
  out_dir: str | os.PathLike,
  *,
  config_yaml: str | os.PathLike | None = None,
  seq_len: int | None = None,
  task: str | None = None,
  data_dir: str | os.PathLike | None = None,
  force: bool = False,
) -> tuple[Path, HRMConfig, dict]:
  """Reference checkpoint file -> hrm_jax model directory. Returns (path, config, meta)."""
  import jax

  from hrm_jax import model

  checkpoint = Path(checkpoint)
  if not checkpoint.is_file():
    raise ConvertError(
      f"{checkpoint}: no such checkpoint file"
      + (
        " (a directory: name the checkpoint file inside it, e.g. step_N)"
        if checkpoint.is_dir()
        else ""
      )
    )
  yaml_path = Path(config_yaml) if config_yaml else checkpoint.parent / "all_config.yaml"
  if not yaml_path.is_file():
    raise ConvertError(
      f"{yaml_path}: not found. The reference saves all_config.yaml beside its "
      "checkpoints; pass --config-yaml PATH to name it"
    )
  all_config = read_yaml(yaml_path)
  if Path(out_dir).exists() and not force:
    raise ConvertError(f"{out_dir} already exists; pass --force to overwrite it")
  sd = load_state_dict(checkpoint)
  config, meta = config_from_reference(
    all_config,
    sd,
    seq_len=seq_len,
    task=task,
    data_dir=data_dir,
    search_dirs=(Path.cwd(), checkpoint.parent, *checkpoint.parent.parents),
  )
  expected = jax.eval_shape(lambda k: model.init(k, config), jax.random.key(0))
  try:
    params = torch_names.params_from_state_dict(sd, config, expected)
  except torch_names.StateDictError as e:
    raise ConvertError(f"{checkpoint}: {e}") from e
  del sd
  meta.update(source=str(checkpoint.absolute()), reference_config=all_config)
  path = save_model(out_dir, params, config, meta, force=force)
  return path, config, meta


def export_checkpoint(
  model_dir: str | os.PathLike,
  out_file: str | os.PathLike,
  *,
  bare_keys: bool = False,
  data_path: str | None = None,
  force: bool = False,
) -> tuple[Path, Path]:
  """hrm_jax model directory -> reference state_dict file + all_config.yaml beside it.

  Neither an existing `out_file` nor an existing all_config.yaml beside it is
  overwritten unless force=True.
  """
  torch = import_torch()
  import yaml

  out_file = Path(out_file)
  yaml_file = out_file.parent / "all_config.yaml"
  if out_file.is_dir():
    raise ConvertError(
      f"{out_file} is a directory; name the state_dict file to write, e.g. {out_file / 'step_0'}"
    )
  existing = [str(p) for p in (out_file, yaml_file) if p.exists()]
  if existing and not force:
    raise ConvertError(
      f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}"
      "; pass --force to overwrite, or write to another folder"
    )
  params, config, meta = load_model(model_dir, as_numpy=True)
  sd = torch_names.state_dict_from_params(params, config, "" if bare_keys else TORCH_PREFIX)
  del params

  def tensor(a: np.ndarray):
    if a.dtype.name == "bfloat16":
      return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(a))

  state = {k: tensor(v) for k, v in sd.items()}
  del sd
  tmp = out_file.with_name(out_file.name + ".tmp")
  try:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, tmp)
    os.replace(tmp, out_file)
    with open(yaml_file, "w") as f:
      yaml.safe_dump(reference_yaml(config, meta, data_path), f, sort_keys=True)
  except OSError as e:
    with contextlib.suppress(OSError):
      tmp.unlink()
    raise ConvertError(f"cannot write {e.filename or out_file}: {e.strerror or e}") from e
  return out_file, yaml_file
