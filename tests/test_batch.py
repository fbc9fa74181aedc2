"""Batches without labels: inference runs on inputs alone, losses and training refuse them."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import train_step
from hrm_jax.batch import IGNORE_LABEL, BatchError, labels_of, validate_batch
from tests.tiny import TINY
from tests.tiny import batch as _batch

PARAMS = hrm_jax.init(jax.random.key(0), TINY)


def _unlabeled(batch):
  return {k: v for k, v in batch.items() if k != "labels"}


class ApplyWithoutLabels(chex.TestCase):
  """`apply` at evaluation gives the same answer with or without the labels."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_same_outputs_as_with_labels(self):
    step = self.variant(functools.partial(hrm_jax.apply, config=TINY))
    labeled = _batch(seed=3)
    unlabeled = _unlabeled(labeled)
    carry_l = hrm_jax.initial_carry(labeled, TINY)
    carry_u = hrm_jax.initial_carry(unlabeled, TINY)
    chex.assert_trees_all_equal_shapes_and_dtypes(carry_l, carry_u)
    for _ in range(2):  # the second call runs on the carry the first one returned
      carry_l, out_l = step(PARAMS, carry_l, labeled)
      carry_u, out_u = step(PARAMS, carry_u, unlabeled)
      chex.assert_trees_all_close(out_u, out_l)
      chex.assert_trees_all_close(
        (carry_u.z_H, carry_u.z_L, carry_u.steps, carry_u.halted),
        (carry_l.z_H, carry_l.z_L, carry_l.steps, carry_l.halted),
      )
    np.testing.assert_array_equal(carry_u.labels, IGNORE_LABEL)  # all-ignored stand-ins

  @chex.variants(with_jit=True, without_jit=True)
  def test_training_step_names_the_missing_labels(self):
    step = self.variant(functools.partial(hrm_jax.apply, config=TINY, train=True))
    batch = _unlabeled(_batch())
    with self.assertRaisesRegex(BatchError, r"missing field\(s\) \['labels'\]"):
      step(PARAMS, hrm_jax.initial_carry(batch, TINY), batch, rng=jax.random.key(0))


def test_train_step_without_labels_is_a_batch_error():
  oc = train_step.OptimConfig()
  state = train_step.init_train_state(PARAMS, oc)
  step = train_step.make_train_step(TINY, oc)
  batch = _unlabeled(_batch())
  with pytest.raises(BatchError, match=r"missing field\(s\) \['labels'\]; training and losses"):
    step(state, hrm_jax.initial_carry(batch, TINY), batch, jax.random.key(0))


def test_validate_batch_and_labels_of():
  batch = _unlabeled(_batch())
  validate_batch(batch, TINY, labels_required=False)
  with pytest.raises(BatchError, match="labels"):
    validate_batch(batch, TINY)
  with pytest.raises(BatchError, match=r"missing field\(s\) \['puzzle_identifiers'\]"):
    validate_batch({"inputs": batch["inputs"]}, TINY, labels_required=False)
  with pytest.raises(BatchError, match="a batch is a dict"):
    validate_batch([batch["inputs"]], TINY, labels_required=False)
  bad = {**batch, "inputs": np.full_like(batch["inputs"], TINY.vocab_size)}
  with pytest.raises(BatchError, match=r"batch\['inputs'\] holds 24 value\(s\) outside"):
    hrm_jax.apply(PARAMS, hrm_jax.initial_carry(bad, TINY), bad, config=TINY)
  labels = labels_of(batch)
  assert labels.shape == batch["inputs"].shape and labels.dtype == jnp.int32
  assert (np.asarray(labels) == IGNORE_LABEL).all()
  with_labels = _batch()
  assert labels_of(with_labels) is with_labels["labels"]
