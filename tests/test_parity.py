"""The prefix-parity dataset (the CPU demo's task) and its metric."""

import numpy as np
import pytest

from hrm_jax.data import parity
from hrm_jax.data.format import read_split
from hrm_jax.tasks import parity as parity_task


def test_encode_labels_are_prefix_parities():
  rng = np.random.default_rng(0)
  bits = rng.integers(0, 2, (50, 13))
  inputs, labels = parity.encode(bits)
  assert inputs.shape == labels.shape == (50, 14)
  assert (inputs[:, 0] == parity.BOS).all() and (labels[:, 0] == parity.PAD).all()
  for b, x, y in zip(bits, inputs, labels):
    np.testing.assert_array_equal(x[1:], b + parity.BIT0)
    running = 0
    for i, bit in enumerate(b):  # parity by an explicit running XOR
      running ^= int(bit)
      assert y[i + 1] == (parity.ODD if running else parity.EVEN)


def test_encode_rejects_non_bits():
  with pytest.raises(ValueError, match="0/1"):
    parity.encode(np.array([[0, 2, 1]]))


def test_first_error_and_metric():
  _, labels = parity.encode(np.array([[1, 0, 1, 1], [0, 0, 0, 0]]))
  preds = labels.copy()
  preds[0, 3] = 3 - preds[0, 3]  # third bit wrong (position 3 after the BOS)
  np.testing.assert_array_equal(parity.first_error(labels, preds), [2, 4])
  np.testing.assert_allclose(parity_task.parity_metrics(labels, preds)["prefix_right"], [0.5, 1.0])


def test_build_is_seeded_distinct_and_held_out(tmp_path):
  a = parity.build_parity_dataset(tmp_path / "a", length=10, train_size=300, test_size=100, seed=3)
  b = parity.build_parity_dataset(tmp_path / "b", length=10, train_size=300, test_size=100, seed=3)
  meta, train = read_split(a, "train")
  _, test = read_split(a, "test")
  assert meta.seq_len == 11 and meta.vocab_size == parity.VOCAB_SIZE and meta.ignore_label_id == 0
  x_tr, x_te = np.asarray(train["all"].inputs), np.asarray(test["all"].inputs)
  assert len({r.tobytes() for r in x_tr}) == 300
  assert not {r.tobytes() for r in x_tr} & {r.tobytes() for r in x_te}
  np.testing.assert_array_equal(x_tr, np.asarray(read_split(b, "train")[1]["all"].inputs))
  _, y = parity.encode(x_te[:, 1:] - parity.BIT0)
  np.testing.assert_array_equal(np.asarray(test["all"].labels), y)


def test_build_rejects_impossible_sizes(tmp_path):
  with pytest.raises(ValueError, match="too many"):
    parity.build_parity_dataset(tmp_path / "x", length=4, train_size=10, test_size=10)


@pytest.mark.parametrize("length", [16, 13])
def test_drawing_any_length(tmp_path, length):
  from hrm_jax.training import render

  inputs, labels = parity.encode(np.random.default_rng(0).integers(0, 2, (2, length)))
  preds = labels.copy()
  preds[1, -1] = 3 - preds[1, -1]
  render.draw_examples("parity", inputs, labels, preds, tmp_path / "p.png")
  assert (tmp_path / "p.png").stat().st_size > 1000
