"""Data parallelism: multi-host start-up, the device mesh, and batch placement.

One mesh axis, "data", spans every device of every process. Batches (and the
ACT carry, one slot per batch row) are split along it; parameters and
optimizer state are replicated. The mesh axis is `AxisType.Auto`: current JAX
makes `jax.make_mesh` axes Explicit by default (sharding in types), which would
require every op of the model to state how batch-sharded operands combine; with
Auto the compiler propagates the shardings and inserts the gradient all-reduce.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from hrm_jax.config import ConfigError

DATA = "data"

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
    jax.distributed.initialize(num_processes=_env_int("JAX_NUM_PROCESSES"),
                               process_id=_env_int("JAX_PROCESS_ID"))
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


def local_batch_size(mesh: Mesh, global_batch_size: int, what: str = "global batch size") -> int:
  """Rows this process feeds per global batch; ConfigError if it does not split evenly.

  `what` names the batch in the message (e.g. "config.train.global_batch_size").
  """
  if global_batch_size % mesh.size:
    fits = max(mesh.size, global_batch_size // mesh.size * mesh.size)
    raise ConfigError(f"{what} = {global_batch_size} is not divisible by the {mesh.size} "
                      f"devices", hint=f"use a multiple of {mesh.size}, e.g. {fits}")
  return global_batch_size // jax.process_count()


def shard_batch(mesh: Mesh, local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
  """This process's rows of a global batch -> global arrays split along "data"."""
  sharding = batch_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local.items()}


def replicate(mesh: Mesh, tree):
  """Put a pytree of host or device arrays on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))


def to_host(tree):
  """A pytree of (possibly multi-host sharded) global arrays -> full numpy arrays on every host."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, jax.device_get(tree))
  return multihost_utils.process_allgather(tree, tiled=True)
