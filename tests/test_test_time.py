"""Test-time restarts: K=1 without noise is the plain evaluation; K>1 batches K noisy runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hrm_jax import model
from hrm_jax.training import inference, test_time
from tests import tiny


@pytest.fixture(scope="module")
def setup():
  params = model.init(jax.random.key(0), tiny.TINY)
  return params, {k: jnp.asarray(v) for k, v in tiny.batch(4).items()}


def test_one_restart_without_noise_is_the_plain_evaluation(setup):
  params, batch = setup
  plain = jax.jit(inference.make_eval_fn(tiny.TINY, 3))(params, batch)
  one = jax.jit(test_time.make_restart_eval_fn(tiny.TINY, 3, restarts=1))(params, batch)
  for k, v in plain.items():
    np.testing.assert_array_equal(np.asarray(one[k]), np.asarray(v), err_msg=k)
  np.testing.assert_array_equal(one["restart_segments"], plain["halt_steps"])


def test_noise_changes_the_states_and_restarts_batch_over_k(setup):
  params, batch = setup
  cfg = tiny.TINY
  clean = test_time.noisy_carry(params, batch, cfg, jax.random.key(1), 0.0)
  noisy = test_time.noisy_carry(params, batch, cfg, jax.random.key(1), 1.0)
  assert not np.allclose(clean.z_H, noisy.z_H) and not np.allclose(clean.z_L, noisy.z_L)
  out = jax.jit(test_time.make_restart_eval_fn(cfg, 3, restarts=3, noise=1.0, select="vote"))(
    params, batch
  )
  assert out["halt_pred"].shape == (4, cfg.seq_len) and out["restart_segments"].shape == (4,)
  assert np.all(out["restart_segments"] >= out["halt_steps"])
  assert np.all((out["restart_agree"] > 0) & (out["restart_agree"] <= 1))


def test_vote_picks_the_majority_and_q_the_most_confident():
  pred = jnp.asarray([[[1, 2]], [[3, 4]], [[3, 4]]])  # K=3 restarts, B=1, S=2
  q = jnp.asarray([[0.9], [0.1], [0.2]])
  assert int(test_time.choose(pred, q, "vote")[0]) in (1, 2)
  assert int(test_time.choose(pred, q, "q")[0]) == 0


def test_bad_settings_are_refused():
  with pytest.raises(test_time.TestTimeError, match="restarts"):
    test_time.check(0, 0.0, "q")
  with pytest.raises(test_time.TestTimeError, match="selection"):
    test_time.check(2, 0.1, "best")


def test_sweep_points_cross_segments_and_restarts_under_the_cap():
  grid = test_time.points(4, (1.0, 4.0), (1, 4))
  assert grid == ((4, 1), (4, 4), (16, 1), (16, 4))
  assert test_time.points(4, (1.0, 4.0), (1, 4), max_compute=4.0) == grid[:3]
  assert test_time.points(1, (0.5, 1.0), (1,)) == ((1, 1),)  # at least one segment, once
