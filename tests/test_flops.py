"""hrm_jax.flops: the analytic matmul count of a block against XLA's count of the same block."""

import jax
import jax.numpy as jnp
import pytest

from hrm_jax import flops, layers
from tests.tiny import TINY_TRM


@pytest.mark.parametrize(
  "cfg",
  [TINY_TRM, TINY_TRM.replace(mlp_t=True, pos_encodings="none")],
  ids=["attention", "mlp_t"],
)
def test_block_flops_match_xla(cfg):
  """XLA counts every op, the analytic count only matmuls: at most a few % apart."""
  B, T, D = 3, cfg.total_len, cfg.hidden_size
  block, x = layers.Block(cfg), jnp.zeros((B, T, D))
  rope = layers.rope_tables(cfg) if cfg.pos_encodings == "rope" else None
  params = block.init(jax.random.key(0), x, rope)
  compiled = jax.jit(lambda p, x: block.apply(p, x, rope)).lower(params, x).compile()
  xla = compiled.cost_analysis()["flops"]
  analytic = flops.block_flops_per_token(cfg) * B * T
  assert analytic <= xla <= 1.1 * analytic, (analytic, xla)
