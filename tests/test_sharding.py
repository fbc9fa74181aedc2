"""Parameter sharding on 8 simulated devices: fsdp updates as replicated does, the puzzle
table is split by rows in both modes, and fsdp holds fewer bytes per device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from hrm_jax import act, model
from hrm_jax.config import ConfigError
from hrm_jax.optim import OptimConfig
from hrm_jax.train_step import init_train_state, make_train_step
from hrm_jax.training import parallel
from tests import tiny

CFG = tiny.TINY.replace(num_puzzle_identifiers=64)  # rows divisible by the 8 devices
OC = OptimConfig(lr=1e-2, lr_warmup_steps=0, puzzle_emb_lr=1e-2)


def _one_step(mode: str):
  """State after one update under `mode`, with its shardings."""
  mesh = parallel.make_mesh()
  rows = parallel.batch_sharded(mesh)
  init = lambda k: init_train_state(model.init(k, CFG), OC, ema_rate=0.5)
  key = jax.random.key(0)
  sh = parallel.state_shardings(mesh, jax.eval_shape(init, key), mode)
  state = jax.jit(init, out_shardings=sh)(key)
  before = parallel.device_bytes(state)
  host = tiny.batch(8, CFG)
  zeros = {k: jnp.zeros(v.shape, jnp.int32) for k, v in host.items()}
  carry = jax.jit(lambda: act.initial_carry(zeros, CFG), out_shardings=rows)()
  batch = parallel.shard_batch(mesh, host)
  step = jax.jit(
    make_train_step(CFG, OC, 0.5, parallel.net_sharding(mesh, mode)),
    out_shardings=(sh, rows, parallel.replicated(mesh)),
  )
  step = step.lower(state, carry, batch, key).compile()
  hlo = step.as_text()
  for i in range(2):  # the second step moves the puzzle rows the first one touched
    state, carry, _ = step(state, carry, batch, jax.random.key(i))
  return state, sh, before, hlo


def _moves_whole_table(hlo: str) -> bool:
  """Whether any collective of the compiled step carries the full [64, 40] table."""
  ops = ("all-gather", "all-reduce", "all-to-all", "collective-permute", "reduce-scatter")
  return any(
    "f32[64,40]" in line and any(f" {op}(" in line or f" {op}-start(" in line for op in ops)
    for line in hlo.splitlines()
  )


def test_fsdp_update_equals_replicated_and_table_is_split_by_rows():
  assert jax.device_count() == 8
  rep, rep_sh, rep_bytes, rep_hlo = _one_step("replicated")
  fsdp, fsdp_sh, fsdp_bytes, fsdp_hlo = _one_step("fsdp")
  # the sign-SGD touches the batch's rows only: no collective moves the whole table
  assert not _moves_whole_table(rep_hlo) and not _moves_whole_table(fsdp_hlo)
  assert " all-gather(" in fsdp_hlo  # (the check sees collectives: fsdp gathers weights)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), rep, fsdp)
  assert np.abs(np.asarray(rep.params["puzzle_emb"])).sum() > 0  # the table did move
  for state in (rep, fsdp):
    assert state.params["puzzle_emb"].sharding.spec == P(parallel.DATA, None)
    assert state.ema["puzzle_emb"].sharding.spec == P(parallel.DATA, None)
  specs = {s.spec for s in jax.tree.leaves(fsdp_sh.params["net"])}
  assert P() in specs and len(specs) > 1  # small leaves replicated, large ones split
  assert {s.spec for s in jax.tree.leaves(rep_sh.params["net"])} == {P()}
  mu_specs = [s.spec for s in jax.tree.leaves(fsdp_sh.opt_state.mu)]
  assert mu_specs == [s.spec for s in jax.tree.leaves(fsdp_sh.params["net"])]
  assert max(fsdp_bytes.values()) < max(rep_bytes.values())
  assert max(parallel.device_bytes(fsdp).values()) == max(fsdp_bytes.values())


def test_leaf_rules():
  key = jax.tree_util.DictKey
  assert parallel.leaf_spec((key("net"),), (64, 96), 8, "fsdp") == P(None, parallel.DATA)
  assert parallel.leaf_spec((key("net"),), (64, 96), 8, "replicated") == P()
  assert parallel.leaf_spec((key("net"),), (63, 97), 8, "fsdp") == P()  # indivisible
  assert parallel.leaf_spec((key("net"),), (8, 8), 8, "fsdp") == P()  # small
  table = (key("params"), key("puzzle_emb"))
  assert parallel.leaf_spec(table, (64, 40), 8, "replicated") == P(parallel.DATA, None)
  assert parallel.leaf_spec(table, (5, 512), 8, "replicated") == P(None, parallel.DATA)
  assert parallel.leaf_spec(table, (5, 7), 8, "fsdp") == P()
  with pytest.raises(ConfigError, match="param_sharding"):
    parallel.state_shardings(parallel.make_mesh(), {}, "zero3")
