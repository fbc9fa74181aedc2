"""`hrm_jax.apply` is a plain pure function: eager and jitted give the same step, every arch."""

import chex
import jax
from absl.testing import parameterized

import hrm_jax
from tests.tiny import TINY, TINY_TRM
from tests.tiny import batch as _batch

CONFIGS = {
  "hrm": TINY,
  "trm_mlp": TINY_TRM.replace(mlp_t=True, pos_encodings="none"),
  "transformer": TINY.replace(arch="transformer", h_layers=2, l_layers=0, h_cycles=1, l_cycles=1),
}
STATIC = ("config", "train", "halt_max_steps", "eval_halt")


class ApplyEagerAndJitted(chex.TestCase):
  """One train-mode ACT step, eager and under jit, against the jitted step."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*CONFIGS)
  def test_same_step(self, arch):
    cfg = CONFIGS[arch]
    params = jax.jit(hrm_jax.init, static_argnums=1)(jax.random.key(0), cfg)
    batch = _batch(cfg=cfg)
    carry = hrm_jax.initial_carry(batch, cfg)
    args = (params, carry, batch)
    kwargs = dict(config=cfg, train=True, rng=jax.random.key(1))
    want = jax.jit(hrm_jax.apply, static_argnames=STATIC)(*args, **kwargs)
    got = self.variant(hrm_jax.apply, static_argnames=STATIC)(*args, **kwargs)
    chex.assert_trees_all_close(got, want, atol=1e-4, rtol=1e-4)
    new_carry, out = got
    chex.assert_shape(out["logits"], (3, cfg.seq_len, cfg.vocab_size))
    chex.assert_shape((out["q_halt_logits"], out["q_continue_logits"]), (3,))
    chex.assert_trees_all_equal_shapes_and_dtypes(new_carry, carry)
    assert ("target_q_continue" in out) == (not cfg.no_act_continue)
