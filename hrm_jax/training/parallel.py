"""Data parallelism: multi-host start-up, the device mesh, batch placement, memory fit.

One mesh axis, "data", spans every device of every process. Batches (and the
ACT carry, one slot per batch row) are split along it. Parameters, optimizer
state and EMA are replicated (train.param_sharding = "replicated") or, with
"fsdp", each leaf split along its largest dimension divisible by the device count
(`state_shardings`); the puzzle-embedding table is split by rows in both modes
(by columns when the rows do not divide evenly).
The mesh axis is `AxisType.Auto`: current JAX
makes `jax.make_mesh` axes Explicit by default (sharding in types), which would
require every op of the model to state how batch-sharded operands combine; with
Auto the compiler propagates the shardings and inserts the gradient all-reduce.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from hrm_jax.config import ConfigError

DATA = "data"
PARAM_SHARDINGS = ("replicated", "fsdp")  # train.param_sharding
# Under fsdp, leaves smaller than this many elements stay replicated: gathering them
# would cost more in latency than the memory they take.
FSDP_MIN_SIZE = 4096
PUZZLE_TABLE = "puzzle_emb"  # the params key (and EMA key) of the sign-SGD table

# Environment variables that announce a multi-process job (jax.distributed can
# read the rest of the set-up from them or from the cluster itself).
_MULTI_HOST_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES")


def _is_multi_host_env() -> bool:
  if any(os.environ.get(k) for k in _MULTI_HOST_ENV):
    return True
  for count in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
    if int(os.environ.get(count, "1") or 1) > 1:
      return True
  hosts = os.environ.get("TPU_WORKER_HOSTNAMES") or os.environ.get("MEGASCALE_COORDINATOR_ADDRESS")
  return bool(hosts and "," in hosts)


def _env_int(name: str) -> int | None:
  value = os.environ.get(name, "").strip()
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ConfigError(f"{name}={value!r} is not an integer") from None


def maybe_initialize_distributed() -> bool:
  """Call `jax.distributed.initialize()` when the environment describes a multi-host job.

  A cluster JAX detects itself (SLURM, Open MPI, Cloud TPU, Kubernetes) needs nothing more;
  elsewhere set JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES and
  JAX_PROCESS_ID on every process (JAX itself reads only the first of the three).
  Safe to call more than once. Returns True if this is a multi-process run.
  """
  if _is_multi_host_env() and not jax.distributed.is_initialized():
    jax.distributed.initialize(
      num_processes=_env_int("JAX_NUM_PROCESSES"), process_id=_env_int("JAX_PROCESS_ID")
    )
  return jax.process_count() > 1


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis "data" over `devices` (default: all devices of all processes)."""
  devices = list(jax.devices() if devices is None else devices)
  return Mesh(np.asarray(devices), (DATA,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Sharding of parameters, optimizer state and scalars: a full copy on every device."""
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Sharding of anything with a leading batch axis: split along "data"."""
  return NamedSharding(mesh, P(DATA))


def _split_dim(shape: tuple[int, ...], n: int) -> int | None:
  """The largest dimension of `shape` divisible by `n` (the first of equals), or None."""
  fits = [i for i, d in enumerate(shape) if d % n == 0 and d >= n]
  return max(fits, key=lambda i: (shape[i], -i)) if fits else None


def _along(dim: int | None, ndim: int) -> P:
  return P() if dim is None else P(*(DATA if i == dim else None for i in range(ndim)))


def leaf_spec(path, shape: tuple[int, ...], n: int, mode: str) -> P:
  """PartitionSpec of one state leaf at pytree `path` on `n` devices under `mode`.

  The puzzle table (any leaf under a "puzzle_emb" key: parameters, EMA) is split in every
  mode: by rows when its row count divides by n, else along its embedding columns (its rows'
  gather and sign-SGD scatter stay local), else replicated. Under "fsdp" every other leaf
  of at least FSDP_MIN_SIZE elements is split along `_split_dim`; the rest is replicated.
  """
  if any(getattr(k, "key", None) == PUZZLE_TABLE for k in path):
    rows_N, cols_E = shape
    return _along(0 if rows_N % n == 0 else 1 if cols_E % n == 0 else None, 2)
  if mode == "fsdp" and math.prod(shape) >= FSDP_MIN_SIZE:
    return _along(_split_dim(shape, n), len(shape))
  return P()


def state_shardings(mesh: Mesh, tree, mode: str = "replicated"):
  """NamedShardings for a pytree of state (arrays or ShapeDtypeStructs), by `leaf_spec`."""
  if mode not in PARAM_SHARDINGS:
    raise ConfigError(f"param_sharding {mode!r} is unknown", hint=f"use one of {PARAM_SHARDINGS}")
  return jax.tree_util.tree_map_with_path(
    lambda path, x: NamedSharding(mesh, leaf_spec(path, tuple(x.shape), mesh.size, mode)), tree
  )


def net_sharding(mesh: Mesh, mode: str):
  """Where the train step gathers params["net"] for its passes (make_train_step's
  `net_sharding`): replicated under "fsdp" (one all-gather per step), else None."""
  return replicated(mesh) if mode == "fsdp" else None


def device_bytes(tree) -> dict:
  """Bytes each device holds of a pytree of jax.Arrays (their addressable shards)."""
  out: dict = {}
  for x in jax.tree.leaves(tree):
    for shard in x.addressable_shards:
      out[shard.device] = out.get(shard.device, 0) + shard.data.nbytes
  return out


def check_batch_size(mesh: Mesh, global_batch_size: int, what: str = "global batch size") -> None:
  """ConfigError unless `global_batch_size` splits evenly over the devices of `mesh`.

  `what` names the batch in the message (e.g. "config.train.global_batch_size").
  """
  if global_batch_size % mesh.size:
    fits = max(mesh.size, global_batch_size // mesh.size * mesh.size)
    raise ConfigError(
      f"{what} = {global_batch_size} is not divisible by the {mesh.size} devices",
      hint=f"use a multiple of {mesh.size}, e.g. {fits}",
    )


local_batch_size = check_batch_size  # the old name, still called by hrm_jax/tools/evaluate.py


def _free_device_bytes(device) -> int | None:
  """Memory free for one more allocation on `device`: its allocator's limit minus what is in
  use, or, on the host platform, MemAvailable shared by its local devices."""
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
  if device.platform != "cpu":
    return None
  try:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return int(info["MemAvailable"].split()[0]) * 1024 // max(1, jax.local_device_count())
  except (OSError, KeyError, ValueError):
    return None


def allocated_bytes(compiled) -> int | None:
  """Bytes per device a compiled step allocates beyond its inputs (XLA's memory analysis:
  temporaries and outputs, less the outputs that reuse donated inputs); None where the
  backend does not report it."""
  try:
    m = compiled.memory_analysis()
    return m.temp_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
  except Exception:  # noqa: BLE001 -- not every backend reports it
    return None


def check_memory(compiled, mesh, global_batch_size: int) -> None:
  """Refuse a compiled train step that cannot fit: what it allocates (`allocated_bytes`)
  against the memory free per device."""
  need = allocated_bytes(compiled)
  if need is None:
    return
  device = next(d for d in mesh.devices.flat if d.process_index == jax.process_index())
  free = _free_device_bytes(device)  # this process's: others' devices cannot be queried
  if free is None or need <= free:
    return
  n = mesh.size
  fits = int(global_batch_size * 0.8 * free / need) // n * n
  gib = lambda b: f"{b / 2**30:.1f} GiB"
  hint = (
    f"lower config.train.global_batch_size (now {global_batch_size}): about {fits} would fit"
    if fits >= n
    else "use a smaller model or a machine with more memory"
  )
  raise ConfigError(
    f"the train step needs {gib(need)} per device beyond its inputs and "
    f"{gib(free)} is free ({device.platform}, "
    f"{n} device(s), XLA's memory analysis)",
    hint=hint,
  )


def shard_batch(mesh: Mesh, local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
  """This process's rows of a global batch -> global arrays split along "data"."""
  sharding = batch_sharded(mesh)
  return {
    k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local.items()
  }


def replicate(mesh: Mesh, tree):
  """Put a pytree of host or device arrays on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))


def each_process(*values: int) -> np.ndarray:
  """[processes, len(values)]: `values` as each process has them, by process index: a
  collective every process must reach at the same point of its program (with one
  process, the values as given)."""
  mine = np.asarray(values, np.int32)
  if jax.process_count() == 1:
    return mine[None]
  return np.asarray(multihost_utils.process_allgather(mine)).reshape(-1, len(values))


def any_process(*flags: bool) -> tuple[bool, ...]:
  """Each flag OR-ed over all processes (a collective, as `each_process`)."""
  return tuple(bool(f) for f in each_process(*flags).any(axis=0))


def sync(name: str) -> None:
  """Wait until every process reaches `sync(name)` (nothing with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def to_host(tree):
  """A pytree of (possibly multi-host sharded) global arrays -> full numpy arrays on every host."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, jax.device_get(tree))
  return multihost_utils.process_allgather(tree, tiled=True)
