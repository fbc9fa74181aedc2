"""Loader: reference sampling semantics, exact resume, eval padding, per-process slices,
prefetch."""

import time

import numpy as np
import pytest

from hrm_jax.data import format as fmt
from hrm_jax.data.loader import Prefetch, TrainLoader, eval_batches, plan_iteration


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """7 groups of 1-3 puzzles with 1-3 examples each; each row's tokens encode its example index."""
  b = fmt.PuzzleSetBuilder(4)
  rng = np.random.default_rng(0)
  example = 0
  for g in range(7):
    b.begin_group()
    for _ in range(1 + g % 3):
      k = int(rng.integers(1, 4))
      tokens_kx4 = (np.arange(example, example + k)[:, None] + np.zeros(4, int)) % 50 + 1
      b.add_puzzle(1 + g, tokens_kx4, tokens_kx4 % 2)  # label 0 = ignore label
      example += k
  data = b.build()
  meta = fmt.DatasetMetadata(
    pad_id=0,
    ignore_label_id=0,
    blank_identifier_id=0,
    vocab_size=51,
    seq_len=4,
    num_puzzle_identifiers=8,
    total_groups=7,
    mean_puzzle_examples=2.0,
    sets=["all"],
  )
  out = tmp_path_factory.mktemp("loader") / "ds"
  fmt.write_dataset(
    out,
    {"train": (meta, {"all": data}), "test": (meta, {"all": data})},
    ["<blank>"] + [f"p{i}" for i in range(1, 8)],
  )
  return out, data


def _take(loader, n):
  return [next(loader) for _ in range(n)]


def test_batches_follow_reference_semantics(data_dir):
  out, data = data_dir
  loader = TrainLoader(out, global_batch_size=4, seed=3)
  for batch in _take(loader, 20):
    assert batch["inputs"].shape == (4, 4) and batch["inputs"].dtype == np.int32
    assert set(np.unique(batch["labels"])) <= {1, -100}
    ex = batch["inputs"][:, 0] - 1  # example index (all < 50 here)
    # each example is labelled with the identifier of its own puzzle
    puzzle = np.searchsorted(data.puzzle_indices, ex, side="right") - 1
    np.testing.assert_array_equal(batch["puzzle_identifiers"], data.puzzle_identifiers[puzzle])
    assert len(set(ex.tolist())) == 4
  # within one pass: one puzzle per group, each group inside a single batch, batches full
  for iteration in range(5):
    plan = plan_iteration(data, 3, seed=1, iteration=iteration)
    assert plan and all(len(ex) == 3 for ex, _ in plan)
    owner = {}
    for b, (ex, pz) in enumerate(plan):
      np.testing.assert_array_equal(np.searchsorted(data.puzzle_indices, ex, side="right") - 1, pz)
      for g, puzzle in zip(np.searchsorted(data.group_indices, pz, side="right") - 1, pz):
        assert owner.setdefault(int(g), (b, int(puzzle))) == (b, int(puzzle))


def test_same_seed_same_batches_and_resume(data_dir):
  out, _ = data_dir
  ref = _take(TrainLoader(out, global_batch_size=4, seed=7), 30)
  other = _take(TrainLoader(out, global_batch_size=4, seed=8), 30)
  assert any(not np.array_equal(a["inputs"], b["inputs"]) for a, b in zip(ref, other))
  first = TrainLoader(out, global_batch_size=4, seed=7)
  _take(first, 13)
  state = dict(first.state())
  resumed = TrainLoader(out, global_batch_size=4, seed=7)
  resumed.restore(state)
  for want, got in zip(ref[13:], _take(resumed, 17)):
    for k in want:
      np.testing.assert_array_equal(want[k], got[k])


def test_prefetch_runs_ahead_and_its_state_is_the_batches_taken(data_dir):
  out, _ = data_dir
  ref = _take(TrainLoader(out, global_batch_size=4, seed=7), 12)
  loader = TrainLoader(out, global_batch_size=4, seed=7)
  with Prefetch(loader, place=lambda b: {**b, "placed": True}, depth=2) as pre:
    got = _take(pre, 5)
    deadline = time.time() + 10
    while pre._queue.qsize() < 2 and time.time() < deadline:  # two batches wait, prepared
      time.sleep(0.01)
    assert pre._queue.qsize() == 2
    state = pre.state()
  assert all(b["placed"] for b in got)
  plain = TrainLoader(out, global_batch_size=4, seed=7)
  _take(plain, 5)
  assert state == plain.state() != loader.state()  # the taken ones, not the prepared ones
  resumed = TrainLoader(out, global_batch_size=4, seed=7)
  resumed.restore(state)
  for want, b in zip(ref, got + _take(resumed, 7)):
    for k in want:
      np.testing.assert_array_equal(want[k], b[k])
  with Prefetch(TrainLoader(out, global_batch_size=1000)) as bad:
    with pytest.raises(ValueError, match="no full batch"):
      next(bad)
    with pytest.raises(ValueError, match="no full batch"):
      next(bad)


def test_process_slices_tile_global_batch(data_dir):
  out, _ = data_dir
  full = _take(TrainLoader(out, global_batch_size=6, seed=2), 8)
  parts = [
    _take(TrainLoader(out, global_batch_size=6, seed=2, process_index=p, process_count=3), 8)
    for p in range(3)
  ]
  for i, batch in enumerate(full):
    for k in batch:
      np.testing.assert_array_equal(np.concatenate([parts[p][i][k] for p in range(3)]), batch[k])
  with pytest.raises(ValueError):
    TrainLoader(out, global_batch_size=5, process_count=2)


def test_too_small_dataset_raises(data_dir):
  out, _ = data_dir
  with pytest.raises(ValueError, match="no full batch"):
    next(TrainLoader(out, global_batch_size=1000))


@pytest.mark.parametrize("process_count", [1, 2])
def test_eval_padding_and_mask(data_dir, process_count):
  out, data = data_dir
  n = data.num_examples
  gathered = []
  per_process = [
    list(eval_batches(out, global_batch_size=8, process_index=p, process_count=process_count))
    for p in range(process_count)
  ]
  assert len({len(b) for b in per_process}) == 1 and len(per_process[0]) == -(-n // 8)
  for step in range(len(per_process[0])):
    for p in range(process_count):
      batch = per_process[p][step]
      assert batch["inputs"].shape == (8 // process_count, 4)
      m = batch["mask"]
      assert (batch["inputs"][~m] == 0).all() and (batch["labels"][~m] == -100).all()
      assert (batch["puzzle_identifiers"][~m] == 0).all() and (
        batch["example_index"][~m] == -1
      ).all()
      gathered += batch["example_index"][m].tolist()
      np.testing.assert_array_equal(batch["inputs"][m, 0] - 1, batch["example_index"][m] % 50)
  assert gathered == list(range(n))
