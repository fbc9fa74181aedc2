"""The hrm_jax model-checkpoint layout: parameters plus the config that built them.

A model directory is one orbax checkpoint with two items::

    DIR/params/    the params pytree (orbax StandardSave; numpy or jax leaves)
    DIR/config/    JSON (orbax JsonSave): {"format", "config": HRMConfig fields, "meta": {...}}

`meta` carries what the config cannot: the task name ("sudoku", "maze", "arc"),
where the weights came from, the dataset path, and so on. The same two items
inside a CheckpointManager step directory (ROOT/<step>/{params,config}) load too,
so `load_model` accepts either a model directory or such a ROOT (latest step).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError

FORMAT = "hrm_jax.model/1"
_CHUNK_BYTES = 16 << 20
# Items of a training run's step directory (hrm_jax.training.checkpoint) that a model load skips.
RUN_ONLY_ITEMS = ("ema", "train", "loader", "metrics")


class ModelDirError(UserError, ValueError):
  """A directory that is not a loadable hrm_jax model checkpoint."""


class ModelExistsError(UserError, FileExistsError):
  """`save_model` would overwrite an existing directory (pass force=True)."""


def config_to_dict(config: HRMConfig) -> dict[str, Any]:
  """HRMConfig -> plain JSON-ready dict of its fields."""
  return dataclasses.asdict(config)


def config_doc(config: HRMConfig, meta: dict[str, Any] | None = None) -> dict[str, Any]:
  """The JSON of the `config` item: {"format", "config": HRMConfig fields, "meta"}.

  ModelDirError if `meta` is not JSON-able (checked here, before any file is written).
  """
  doc = {"format": FORMAT, "config": config_to_dict(config), "meta": dict(meta or {})}
  try:
    json.dumps(doc)
  except (TypeError, ValueError) as e:
    raise ModelDirError(f"the model's meta cannot be stored as JSON ({e})") from e
  return doc


def config_from_dict(raw: dict[str, Any]) -> HRMConfig:
  """Plain dict -> HRMConfig; unknown keys are an error naming them."""
  names = {f.name for f in dataclasses.fields(HRMConfig)}
  unknown = sorted(set(raw) - names)
  if unknown:
    raise ModelDirError(f"config has unknown field(s) {unknown}")
  return HRMConfig(**raw)


class _ExpectedOrbaxWarnings(logging.Filter):
  """Drop the orbax warnings that reading or writing a model directory always causes.

  Reading a run's step directory skips its run-only items (RUN_ONLY_ITEMS) on
  purpose; writing plain zarr arrays (no OCDBT) leaves no OCDBT data to merge.
  Every other record passes.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    msg = record.getMessage()
    skipped_item = "could not be restored" in msg and any(
      msg.startswith(f'Item "{name}" was found') for name in RUN_ONLY_ITEMS
    )
    no_ocdbt_merge = "Skipping merge of OCDBT checkpoints: No per-process OCDBT" in msg
    return not (skipped_item or no_ocdbt_merge)


@contextlib.contextmanager
def _quiet_expected_warnings():
  """While a model is read or written, orbax's (absl's) logger drops only the expected ones."""
  log, quiet = logging.getLogger("absl"), _ExpectedOrbaxWarnings()
  log.addFilter(quiet)
  try:
    yield
  finally:
    log.removeFilter(quiet)


def _checkpointer():
  """Composite checkpointer for {params, config}.

  The params item uses orbax's PyTree handler (StandardRestore reads what it
  writes) with numpy leaves written in place instead of deep-copied first, as
  plain zarr arrays (no OCDBT) in chunks of at most 16 MiB: the encoder then holds
  one chunk at a time, so a large puzzle table is not duplicated in memory.
  Reading accepts OCDBT checkpoints too (e.g. a CheckpointManager's StandardSave).
  """
  import orbax.checkpoint as ocp

  th = ocp.type_handlers
  registry = th.create_type_handler_registry(
    (np.ndarray, th.NumpyHandler(deepcopy_host_arrays=False)),
    (jax.Array, th.ArrayHandler()),
    (int, th.ScalarHandler()),
    (float, th.ScalarHandler()),
    (np.number, th.ScalarHandler()),
  )
  return ocp.Checkpointer(
    ocp.CompositeCheckpointHandler(
      params=ocp.PyTreeCheckpointHandler(type_handler_registry=registry, use_ocdbt=False),
      config=ocp.JsonCheckpointHandler(),
    )
  )


def save_model(
  directory: str | os.PathLike,
  params: dict,
  config: HRMConfig,
  meta: dict[str, Any] | None = None,
  *,
  force: bool = False,
) -> Path:
  """Write `params` + `config` (+ JSON-able `meta`) as an orbax checkpoint at `directory`.

  Numpy leaves are written without a device copy. With force=True an existing
  directory is replaced; otherwise it is an error. Returns the absolute path.
  """
  import orbax.checkpoint as ocp

  path = Path(directory).absolute()
  if path.exists() and not force:
    raise ModelExistsError(f"{path} already exists (pass force=True / --force to overwrite)")
  doc = config_doc(config, meta)
  # Bounded chunks: the encoder then buffers one chunk at a time, not a whole table.
  save_args = jax.tree.map(lambda _: ocp.SaveArgs(chunk_byte_size=_CHUNK_BYTES), params)
  with _quiet_expected_warnings():
    _checkpointer().save(
      path,
      args=ocp.args.Composite(
        params=ocp.args.PyTreeSave(params, save_args=save_args), config=ocp.args.JsonSave(doc)
      ),
      force=force,
    )
  return path


def resolve_model_dir(directory: str | os.PathLike) -> Path:
  """A model directory, or the newest numeric step of a CheckpointManager root or run dir."""
  path = Path(directory).absolute()
  if not path.is_dir():
    raise ModelDirError(f"{path}: no such checkpoint directory")
  if (path / "checkpoints").is_dir():  # a training run directory (hrm_jax.training.checkpoint)
    path = path / "checkpoints"
  if (path / "params").is_dir() and (path / "config").is_dir():
    return path
  steps = sorted(
    (int(p.name), p)
    for p in path.iterdir()
    if p.is_dir() and p.name.isdigit() and (p / "params").is_dir()
  )
  if steps:
    return steps[-1][1]
  raise ModelDirError(
    f"{path} is not an hrm_jax model checkpoint: expected params/ and config/ "
    "inside it (written by hrm_jax.training.model_dir.save_model or "
    "hrm_jax.tools.convert), or numbered step directories holding them"
  )


def read_config(directory: str | os.PathLike) -> tuple[HRMConfig, dict[str, Any]]:
  """Only the (config, meta) of a model directory; no arrays are read."""
  import orbax.checkpoint as ocp

  path = resolve_model_dir(directory)
  try:
    with _quiet_expected_warnings():
      doc = _checkpointer().restore(path, args=ocp.args.Composite(config=ocp.args.JsonRestore()))[
        "config"
      ]
  except (OSError, ValueError, KeyError) as e:
    raise ModelDirError(f"{path / 'config'}: unreadable hrm_jax config ({e})") from e
  if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
    raise ModelDirError(f"{path / 'config'}: not an hrm_jax config (no 'config' object)")
  return config_from_dict(doc["config"]), dict(doc.get("meta") or {})


def load_model(
  directory: str | os.PathLike, *, as_numpy: bool = False
) -> tuple[dict, HRMConfig, dict[str, Any]]:
  """Read a model directory written by `save_model`: returns (params, config, meta).

  Leaves come back as jax arrays, or as numpy arrays with as_numpy=True (no device
  copy, e.g. for export). Shapes are checked against the config.
  """
  import orbax.checkpoint as ocp

  from hrm_jax import model

  path = resolve_model_dir(directory)
  config, meta = read_config(path)
  abstract = jax.eval_shape(lambda k: model.init(k, config), jax.random.key(0))
  with _quiet_expected_warnings():
    stored = _checkpointer().metadata(path).item_metadata["params"].tree

  def target(want, have):
    if tuple(have.shape) != tuple(want.shape):
      raise ModelDirError(
        f"{path}: stored array of shape {tuple(have.shape)} where the config "
        f"needs {tuple(want.shape)}"
      )
    if as_numpy:
      return np.empty(have.shape, have.dtype)  # only a target: restore allocates its own
    return jax.ShapeDtypeStruct(have.shape, have.dtype)

  try:
    abstract = jax.tree.map(target, abstract, stored)
  except ValueError as e:
    if isinstance(e, ModelDirError):
      raise
    raise ModelDirError(f"{path}: stored parameter tree does not match the config: {e}") from e
  restore_args = jax.tree.map(
    lambda a: ocp.RestoreArgs(restore_type=np.ndarray)
    if isinstance(a, np.ndarray)
    else ocp.ArrayRestoreArgs(sharding=jax.sharding.SingleDeviceSharding(jax.devices()[0])),
    abstract,
  )
  with _quiet_expected_warnings():
    restored = _checkpointer().restore(
      path,
      args=ocp.args.Composite(params=ocp.args.PyTreeRestore(abstract, restore_args=restore_args)),
    )
  return restored["params"], config, meta


# ---------------------------------------------------------------------------- reading a run's model

# in the tracebacks of orbax's left-over reads on a closed event loop (the first frame, the end)
_NOISE = ("in call_soon_threadsafe", "Event loop is closed")


def _without_async_noise(text: str) -> str:
  """`text` minus the tracebacks of orbax's left-over reads (even a last one cut short)."""
  blocks, keep = text.split("Traceback (most recent call last):"), []
  for i, block in enumerate(blocks):
    if i == 0 or not any(n in block for n in _NOISE):
      keep.append(block if i == 0 else "Traceback (most recent call last):" + block)
  return "".join(keep)


def _drop_orbax_unraisable() -> None:
  """From now on, drop the 'Exception ignored in <coroutine ...>' reports of orbax's reads.

  After a failed read, orbax leaves its other read coroutines unfinished; each is
  reported when it is garbage collected (often at exit, after our error line).
  """
  previous = sys.unraisablehook
  if getattr(previous, "_drops_orbax", False):
    return

  def hook(unraisable):
    code = getattr(unraisable.object, "cr_code", None)
    if code is None or "orbax" not in code.co_filename:
      previous(unraisable)

  hook._drops_orbax = True
  sys.unraisablehook = hook


def _read_checkpoint(read, step_dir: Path):
  """`read()`, with a failure of a damaged checkpoint turned into one ModelDirError.

  When orbax fails on one array, its other pending reads finish on a closed event
  loop and each prints an 'Event loop is closed' traceback; they are held back
  (stderr is buffered until the reads settle) so the cause is not buried.
  """
  real, buffer = sys.stderr, io.StringIO()
  sys.stderr = buffer
  try:
    return read()
  except UserError:
    raise
  except Exception as e:
    _drop_orbax_unraisable()
    gc.collect()  # finalise the abandoned read coroutines now, not at exit
    size, quiet_since, start = -1, time.time(), time.time()
    while time.time() - quiet_since < 0.3 and time.time() - start < 3:  # let the reads settle
      time.sleep(0.05)
      if buffer.tell() != size:
        size, quiet_since = buffer.tell(), time.time()
    cause = e
    while cause.__cause__ is not None:
      cause = cause.__cause__
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    first = first if len(first) <= 300 else first[:300] + "..."
    steps = (
      sorted(int(p.name) for p in step_dir.parent.iterdir() if p.name.isdigit() and p != step_dir)
      if step_dir.parent.is_dir()
      else []
    )
    hint = (
      f"it may be damaged or incomplete; try another step, e.g. --checkpoint "
      f"{step_dir.parent / str(steps[-1])}"
      if steps
      else "it may be damaged or incomplete (an interrupted save or a partial copy)"
    )
    raise ModelDirError(
      f"cannot read the checkpoint {step_dir}: {type(cause).__name__}: {first}", hint=hint
    ) from e
  finally:
    sys.stderr = real
    sys.stderr.write(_without_async_noise(buffer.getvalue()))


def load_for_eval(checkpoint: str | Path, use_ema: bool = True):
  """(params, config, meta) from a run directory, a checkpoint root or step, or a model dir.

  The step is found by `resolve_model_dir`. Raises ModelDirError for a path that is no
  checkpoint and for one that cannot be read (e.g. a damaged array file).
  """
  step_dir = resolve_model_dir(checkpoint)

  def read():
    params, config, meta = load_model(step_dir)
    if use_ema and (step_dir / "ema").is_dir():
      import orbax.checkpoint as ocp

      abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, params)
      params = ocp.StandardCheckpointer().restore(step_dir / "ema", abstract)
      meta = {**meta, "evaluated_params": "ema"}
    return params, config, meta

  params, config, meta = _read_checkpoint(read, step_dir)
  return params, config, {**meta, "step_dir": str(step_dir)}
