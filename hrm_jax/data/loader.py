"""Batches from an HRM-format dataset, with the authors' sampling semantics.

Training (TrainLoader): iteration t walks set `sets[t % len(sets)]`; it shuffles the groups with
`Generator(Philox(seed + t + 1))`, picks one random puzzle per group and packs that puzzle's
examples (in random order, cut where the batch is full) into global batches of a fixed size;
the incomplete last batch is dropped. The batch sequence is a pure function of the seed, and
`state()` / `restore()` (two integers) continue it exactly. `Prefetch` prepares (and places)
the next batches on a background thread; its `state()` is the position of the batches taken.

Evaluation (eval_batches): sequential global batches; the last one is padded with pad inputs,
ignore labels and the blank puzzle identifier, and `mask` marks the real rows.

Every process takes its contiguous slice [process_index * B/P, (process_index + 1) * B/P) of
each global batch. Batches are dicts of numpy arrays: inputs [b, S] int32, labels [b, S] int32
(the dataset's ignore label turned into `hrm_jax.batch.IGNORE_LABEL`), puzzle_identifiers [b] int32.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.data.format import DatasetMetadata, SplitSet, read_split

Batch = dict[str, np.ndarray]


def _local_size(global_batch_size: int, process_index: int, process_count: int) -> int:
  if global_batch_size <= 0 or process_count <= 0 or global_batch_size % process_count:
    raise ValueError(
      f"global_batch_size {global_batch_size} must be a positive multiple of "
      f"process_count {process_count}"
    )
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index {process_index} not in [0, {process_count})")
  return global_batch_size // process_count


def _collate(
  meta: DatasetMetadata, data: SplitSet, examples: np.ndarray, puzzles: np.ndarray
) -> Batch:
  labels = np.asarray(data.labels[examples], dtype=np.int32)
  if meta.ignore_label_id is not None:
    labels[labels == meta.ignore_label_id] = IGNORE_LABEL
  return {
    "inputs": np.asarray(data.inputs[examples], dtype=np.int32),
    "labels": labels,
    "puzzle_identifiers": data.puzzle_identifiers[puzzles].astype(np.int32),
  }


def plan_iteration(
  data: SplitSet,
  global_batch_size: int,
  seed: int,
  iteration: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
  """The full global batches of one pass: a list of (example_indices [B], puzzle_indices [B])."""
  rng = np.random.Generator(np.random.Philox(seed + iteration + 1))
  order = rng.permutation(data.num_groups)  # [G]
  puzzles = rng.integers(data.group_indices[order], data.group_indices[order + 1])  # [G]
  starts = data.puzzle_indices[puzzles].astype(np.int64)
  sizes = data.puzzle_indices[puzzles + 1] - starts  # [G]
  # How many examples each puzzle contributes: a puzzle that overflows the batch is cut.
  if sizes.size and sizes.max() <= 1:
    takes_g = sizes.astype(np.int64)  # one-example puzzles (Sudoku, Maze): nothing is cut
  else:
    takes, filled = [], 0
    for size in sizes.tolist():
      take = min(size, global_batch_size - filled)
      takes.append(take)
      filled = (filled + take) % global_batch_size
    takes_g = np.asarray(takes, np.int64)
  # A random order of each puzzle's examples, keeping the first `take`.
  owner = np.repeat(np.arange(len(sizes)), sizes)  # [E]
  ranked = np.lexsort((rng.random(owner.size), owner))  # grouped by owner
  first = np.cumsum(sizes) - sizes  # [G]
  local = ranked - first[owner]
  keep = (np.arange(owner.size) - first[owner]) < takes_g[owner]
  examples, batch_puzzles = (starts[owner] + local)[keep], puzzles[owner][keep]
  full = examples.size // global_batch_size * global_batch_size  # drop the last partial
  return list(
    zip(
      examples[:full].reshape(-1, global_batch_size),
      batch_puzzles[:full].reshape(-1, global_batch_size),
    )
  )


class TrainLoader:
  """Endless training batches; deterministic from `seed`, resumable through `state()`.

  Example::

      loader = TrainLoader("data/sudoku", global_batch_size=768, seed=0)
      batch = next(loader)          # {"inputs", "labels", "puzzle_identifiers"}
      ckpt = loader.state()         # {"iteration": int, "batch": int}
      loader.restore(ckpt)          # continues exactly after the batch last returned
  """

  def __init__(
    self,
    data_dir: str | os.PathLike,
    split: str = "train",
    *,
    global_batch_size: int,
    seed: int = 0,
    process_index: int = 0,
    process_count: int = 1,
  ):
    self.metadata, self._sets = read_split(data_dir, split)
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.local_batch_size = _local_size(global_batch_size, process_index, process_count)
    self._lo = process_index * self.local_batch_size
    self._iteration, self._batch = 0, 0
    self._plan: list[tuple[np.ndarray, np.ndarray]] | None = None

  @property
  def epoch(self) -> int:
    """Index of the current pass over the data (one pass = every set once)."""
    return self._iteration // len(self._sets)

  def state(self) -> dict[str, int]:
    """A small JSON-able state: restore() it into a fresh loader to continue exactly here."""
    return {"iteration": self._iteration, "batch": self._batch}

  def restore(self, state: dict[str, int]) -> None:
    """Continue from a state() taken earlier (same data, seed and batch size)."""
    self._iteration, self._batch = int(state["iteration"]), int(state["batch"])
    self._plan = None

  def __iter__(self) -> "TrainLoader":
    return self

  def __next__(self) -> Batch:
    empty_passes = 0
    while True:
      set_name = self.metadata.sets[self._iteration % len(self._sets)]
      if self._plan is None:
        self._plan = plan_iteration(
          self._sets[set_name], self.global_batch_size, self.seed, self._iteration
        )
      if self._batch < len(self._plan):
        break
      empty_passes = empty_passes + 1 if not self._plan else 0
      if empty_passes > 4 * len(self._sets):
        raise ValueError(
          f"no full batch of {self.global_batch_size} can be formed from this dataset"
        )
      self._iteration, self._batch, self._plan = self._iteration + 1, 0, None
    examples, puzzles = self._plan[self._batch]
    self._batch += 1
    hi = self._lo + self.local_batch_size
    return _collate(
      self.metadata, self._sets[set_name], examples[self._lo : hi], puzzles[self._lo : hi]
    )


class Prefetch:
  """`depth` batches of a TrainLoader prepared ahead on a background thread.

  Each batch is read and passed through `place` (e.g. a device_put onto the mesh) there,
  so up to `depth` placed batches wait while the consumer's step runs. `state()` is the
  loader's position after the last batch *taken* (not the ones prepared ahead): save it
  and `restore` it into a fresh loader to continue exactly. A loader error is raised by
  the `next` that would have returned the failed batch. Call `close()` when done.
  """

  def __init__(
    self, loader: TrainLoader, place: Callable[[Batch], Any] | None = None, depth: int = 2
  ):
    if depth < 1:
      raise ValueError(f"prefetch depth must be >= 1, got {depth}")
    self._loader, self._place = loader, place or (lambda b: b)
    self._state, self._error = loader.state(), None
    self._queue: queue.Queue = queue.Queue(maxsize=depth)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._fill, name="prefetch", daemon=True)
    self._thread.start()

  def _fill(self) -> None:
    while not self._stop.is_set():
      try:
        item = (self._place(next(self._loader)), self._loader.state(), None)
      except Exception as e:  # noqa: BLE001 -- handed to the consumer
        item = (None, None, e)
      while not self._stop.is_set():
        try:
          self._queue.put(item, timeout=0.1)
          break
        except queue.Full:
          continue
      if item[2] is not None:
        return

  def state(self) -> dict[str, int]:
    """The loader position after the batches returned so far."""
    return dict(self._state)

  def __iter__(self) -> "Prefetch":
    return self

  def __next__(self):
    if self._error is not None:
      raise self._error
    batch, state, self._error = self._queue.get()
    if self._error is not None:
      self.close()
      raise self._error
    self._state = state
    return batch

  def close(self) -> None:
    """Stop the thread (batches prepared ahead are dropped)."""
    self._stop.set()
    self._thread.join()

  def __enter__(self) -> "Prefetch":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def eval_batches(
  data_dir: str | os.PathLike,
  split: str = "test",
  *,
  global_batch_size: int,
  process_index: int = 0,
  process_count: int = 1,
) -> Iterator[Batch]:
  """Every example once, in order, in global batches; yields this process's padded slice.

  Extra keys: `mask` [b] bool (False on padding) and `example_index` [b] int32 (row in the
  set, -1 on padding). Sets are visited in `metadata.sets` order.
  """
  meta, sets = read_split(data_dir, split)
  local = _local_size(global_batch_size, process_index, process_count)
  for data in sets.values():
    for start in range(0, data.num_examples, global_batch_size):
      end = min(start + global_batch_size, data.num_examples)
      lo = min(start + process_index * local, end)
      hi = min(lo + local, end)
      examples = np.arange(lo, hi)
      puzzles = np.searchsorted(data.puzzle_indices, examples, side="right") - 1
      batch = _collate(meta, data, examples, puzzles)
      pad = local - (hi - lo)
      if pad:
        fill = {
          "inputs": meta.pad_id,
          "labels": IGNORE_LABEL,
          "puzzle_identifiers": meta.blank_identifier_id,
        }
        batch = {
          k: np.pad(v, [(0, pad)] + [(0, 0)] * (v.ndim - 1), constant_values=fill[k])
          for k, v in batch.items()
        }
      batch["mask"] = np.arange(local) < hi - lo
      batch["example_index"] = np.where(batch["mask"], np.arange(lo, lo + local), -1).astype(
        np.int32
      )
      yield batch
