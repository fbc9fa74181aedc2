"""Prefix parity of random bit strings: the CPU demo's task.

    python -m hrm_jax.data.parity --out data/parity-32 --length 32 --train-size 50000

Input: a BOS token, then `length` random bits. Label at every bit: the parity (XOR)
of all bits up to and including it. The answer at position i depends on every bit
before it, so it cannot be looked up: a network must carry a running state along
the string. A recurrent model can iterate one local rule
(parity_i = parity_{i-1} XOR bit_i) for as many steps as the string needs; a
one-pass transformer of fixed depth has to compute all prefixes at once, the
textbook hard case for shallow attention models (and the "prefix sums" task of the
recurrent-network reasoning literature).

Tokens: PAD 0, bit 0 -> 1, bit 1 -> 2, BOS 3. Labels: even -> 1, odd -> 2, and PAD
(ignored) at the BOS. One puzzle identifier "<blank>"; test strings never occur in train.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data.format import (
  BuildSettingError,
  check_setting,
  claim_dataset_folder,
  independent_examples,
  write_dataset,
)

PAD, BIT0, BIT1, BOS = 0, 1, 2, 3
EVEN, ODD = 1, 2
VOCAB_SIZE = 4


def encode(bits_NxL: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, labels) [N, L+1] uint8 of bit strings [N, L] (0/1)."""
  bits = np.asarray(bits_NxL, np.uint8)
  if bits.ndim != 2 or bits.size and bits.max() > 1:
    raise ValueError(f"bits must be a [N, L] array of 0/1, got shape {bits.shape}")
  n = bits.shape[0]
  inputs = np.concatenate([np.full((n, 1), BOS, np.uint8), bits + BIT0], axis=1)
  parity = np.cumsum(bits, axis=1, dtype=np.int64) % 2
  labels = np.concatenate([np.full((n, 1), PAD, np.uint8), (parity + EVEN).astype(np.uint8)], 1)
  return inputs, labels


def first_error(labels_NxS: np.ndarray, preds_NxS: np.ndarray) -> np.ndarray:
  """Per example: how many leading bits are right (the string length when all are) [N]."""
  labels = np.asarray(labels_NxS)[:, 1:]
  wrong = np.asarray(preds_NxS)[:, 1:] != labels
  return np.where(wrong.any(1), wrong.argmax(1), labels.shape[1])


def build_parity_dataset(
  out_dir: str | Path,
  length: int = 32,
  train_size: int = 50000,
  test_size: int = 1000,
  seed: int = 0,
  force: bool = False,
  progress: bool = False,
) -> Path:
  """Write (or reuse, when built with the same arguments) a prefix-parity dataset.

  Strings are distinct within and across splits, so the test split is held out.
  `progress` is accepted for a uniform builder signature (building takes a second).
  """
  del progress
  for name, value in (("length", length), ("train_size", train_size), ("test_size", test_size)):
    check_setting(name, value, 1)
  if train_size + test_size > 2 ** min(length, 62) // 2:
    raise BuildSettingError(
      f"{train_size} + {test_size} distinct strings are too many for "
      f"{length} bits; ask for fewer or longer strings"
    )
  args = {
    "builder": "parity",
    "version": 1,
    "length": length,
    "train_size": train_size,
    "test_size": test_size,
    "seed": seed,
  }
  if claim_dataset_folder(out_dir, args, force):
    return Path(out_dir)
  t0 = time.time()
  rng = np.random.default_rng([seed, 2])
  need = train_size + test_size
  bits = np.zeros((0, length), np.uint8)
  while len(bits) < need:  # draw, then drop repeats keeping first occurrences in draw order
    more = rng.integers(0, 2, (need - len(bits) + 16, length), dtype=np.uint8)
    bits = np.concatenate([bits, more])
    _, first = np.unique(bits, axis=0, return_index=True)
    bits = bits[np.sort(first)]
  bits = bits[:need]
  inputs, labels = encode(bits)
  cut = {"train": slice(0, train_size), "test": slice(train_size, need)}
  splits = {
    name: independent_examples(inputs[s], labels[s], VOCAB_SIZE, PAD) for name, s in cut.items()
  }
  stats = {
    "ones_fraction": float(bits.mean()),
    "odd_string_fraction": float((bits.sum(1) % 2).mean()),
  }
  stats_file = {"parity_stats.json": json.dumps(stats, indent=1)}
  return write_dataset(out_dir, splits, started=t0, build_args=args, extra_files=stats_file)


def main(argv: list[str] | None = None) -> int:
  """Command-line builder."""
  p = _cli.builder_parser(
    "Build a prefix-parity dataset in the HRM format.",
    "a parity",
    unit="strings",
    train_size=50000,
    test_size=1000,
  )
  p.add_argument("--length", type=int, default=32, help="bits per string")
  a = p.parse_args(argv)
  build_parity_dataset(a.out, a.length, a.train_size, a.test_size, a.seed, a.force)
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
