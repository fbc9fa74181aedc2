"""TFDS builders for the three task families (optional extra: tensorflow-datasets, array-record).

Registers `hrm_sudoku`, `hrm_maze` and `hrm_arc` as `tfds.core.GeneratorBasedBuilder`s. They
run the hrm_jax generators (cached HRM-format directory under the TFDS download dir), then
write one record per example in order (shuffling disabled) with ``file_format="array_record"``,
readable through `tfds.data_source` — no TensorFlow needed. Each record holds::

    inputs, labels      uint8 [seq_len]
    puzzle_identifier   int32  (index into identifiers.json)
    puzzle_index        int32  (puzzle of this example within its split)
    group_index         int32  (group of that puzzle within its split)

Example::

    from hrm_jax.data import tfds_builders as tb
    source = tb.data_source("hrm_maze/small_10x10", data_dir="data/tfds")  # builds if needed
    source["train"][0]["inputs"]
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:
  import tensorflow_datasets as tfds
except ImportError as e:  # pragma: no cover - exercised only without the extra
  raise ImportError(
    "hrm_jax.data.tfds_builders needs the optional extra: "
    "pip install tensorflow-datasets array-record (TensorFlow is not required)"
  ) from e


@dataclasses.dataclass(eq=False)
class HrmConfig(tfds.core.BuilderConfig):
  """A named set of keyword arguments for the family's hrm_jax build function."""

  build_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


class _HrmBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared logic: build the HRM-format directory, then emit its examples in order."""

  VERSION = tfds.core.Version("1.0.0")
  SEQ_LEN = 0
  build_fn: Callable[..., Path]

  def _info(self) -> tfds.core.DatasetInfo:
    seq = tfds.features.Tensor(shape=(self.SEQ_LEN,), dtype=np.uint8)
    return tfds.core.DatasetInfo(
      builder=self,
      description=self.__doc__,
      disable_shuffling=True,
      features=tfds.features.FeaturesDict(
        {
          "inputs": seq,
          "labels": seq,
          "puzzle_identifier": tfds.features.Scalar(dtype=np.int32),
          "puzzle_index": tfds.features.Scalar(dtype=np.int32),
          "group_index": tfds.features.Scalar(dtype=np.int32),
        }
      ),
    )

  def _split_generators(self, dl_manager):
    source = Path(dl_manager.download_dir) / f"hrm_{self.name}_{self.builder_config.name}"
    out = type(self).build_fn(source, progress=False, **self.builder_config.build_kwargs)
    return {
      split: self._generate_examples(out, split)
      for split in ("train", "test")
      if (Path(out) / split / "dataset.json").is_file()
    }

  def _generate_examples(self, data_dir, split):
    from hrm_jax.data.format import read_split

    _, sets = read_split(data_dir, split)
    key = 0
    for data in sets.values():
      puzzle_of = (
        np.searchsorted(data.puzzle_indices, np.arange(data.num_examples), side="right") - 1
      )
      group_of = np.searchsorted(data.group_indices, np.arange(data.num_puzzles), side="right") - 1
      for i in range(data.num_examples):
        p = int(puzzle_of[i])
        yield (
          key,
          {
            "inputs": np.asarray(data.inputs[i], np.uint8),
            "labels": np.asarray(data.labels[i], np.uint8),
            "puzzle_identifier": int(data.puzzle_identifiers[p]),
            "puzzle_index": p,
            "group_index": int(group_of[p]),
          },
        )
        key += 1


def _sudoku(out, **kw):
  from hrm_jax.data.sudoku import build_sudoku

  return build_sudoku(out, **kw)


def _maze(out, **kw):
  from hrm_jax.data.maze import build_maze_dataset

  return build_maze_dataset(out, **kw)


def _arc(out, **kw):
  from hrm_jax.data.arc import build_arc_dataset

  return build_arc_dataset(out, **kw)


class HrmSudoku(_HrmBuilder):
  """Sudoku-Extreme-like puzzles (81 tokens, vocab 11) from hrm_jax.data.sudoku."""

  SEQ_LEN = 81
  build_fn = staticmethod(_sudoku)
  BUILDER_CONFIGS = [
    HrmConfig(
      name="extreme_1k",
      description="1000 hard train x 1000 augs, 1000 test",
      build_kwargs=dict(train_size=1000, test_size=1000, num_aug=1000, difficulty="hard"),
    ),
    HrmConfig(
      name="easy_demo",
      description="small easy set for CPU demos",
      build_kwargs=dict(train_size=200, test_size=200, num_aug=10, difficulty="easy"),
    ),
  ]


class HrmMaze(_HrmBuilder):
  """Maze-Hard (30x30, vocab 6) and small mazes from hrm_jax.data.maze."""

  SEQ_LEN = 900
  build_fn = staticmethod(_maze)
  BUILDER_CONFIGS = [
    HrmConfig(
      name="hard_30x30_1k",
      description="1000/1000 mazes, shortest path > 110",
      build_kwargs=dict(size=30, train_size=1000, test_size=1000, min_path=110),
    ),
    HrmConfig(
      name="small_10x10",
      description="10x10 mazes, shortest path > 16, for CPU demos",
      build_kwargs=dict(size=10, train_size=1000, test_size=200, min_path=16),
    ),
  ]

  def _info(self):
    size = self.builder_config.build_kwargs.get("size", 30)
    self.SEQ_LEN = size * size
    return super()._info()


class HrmArc(_HrmBuilder):
  """ARC-AGI-1 / ARC-AGI-2 with augmentations (30x30 EOS canvas, vocab 12) from hrm_jax.data.arc."""

  SEQ_LEN = 900
  build_fn = staticmethod(_arc)
  BUILDER_CONFIGS = [
    HrmConfig(name="agi1_aug1000", build_kwargs=dict(version="arc-agi-1", num_aug=1000)),
    HrmConfig(name="agi2_aug1000", build_kwargs=dict(version="arc-agi-2", num_aug=1000)),
  ]


def data_source(
  name: str, data_dir: str | os.PathLike, config: HrmConfig | None = None, prepare: bool = True
) -> dict[str, Any]:
  """Build (if `prepare`) and open `name` ("hrm_maze/small_10x10", ...) as array_record sources.

  `config` overrides the named config (e.g. a tiny one for tests); returns {split: source}.
  """
  family = name.split("/")[0]
  builders = {"hrm_sudoku": HrmSudoku, "hrm_maze": HrmMaze, "hrm_arc": HrmArc}
  if family not in builders:
    raise ValueError(f"unknown HRM TFDS dataset {family!r}; known: {sorted(builders)}")
  kwargs = (
    {"config": config}
    if config is not None
    else ({"config": name.split("/")[1]} if "/" in name else {})
  )
  builder = builders[family](data_dir=str(data_dir), file_format="array_record", **kwargs)
  if prepare:
    builder.download_and_prepare()
  return builder.as_data_source()
