"""The ARC task: voting over inverse-augmented answers, pass@K by two rules, the submission.

`pass@K`: a task counts only if ALL its test inputs are in the top K (HRM);
`pass@K/per_input`: a task counts the FRACTION of its test inputs in the top K
(TRM's evaluator); plus the ARC Prize `submission.json`.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.data import arc as arc_data
from hrm_jax.tasks.base import (
  PuzzleError,
  Puzzles,
  Task,
  grid_axes,
  mark_wrong,
  read_json,
  square,
  yes,
)

PASS_RULES = {
  "": "every test input of the task in the top K (HRM)",
  "/per_input": "fraction of the task's test inputs in the top K (TRM)",
}
PLACEHOLDER_GRID = ((0,),)  # an attempt for a test input without a (non-empty) answer
# Tokens PAD, EOS, then the ten ARC colours.
COLORS = (
  "#ffffff",
  "#bbbbbb",
  "#000000",
  "#0074d9",
  "#ff4136",
  "#2ecc40",
  "#ffdc00",
  "#aaaaaa",
  "#f012be",
  "#ff851b",
  "#7fdbff",
  "#870c25",
)


# ----------------------------------------------------------------------------- voting, pass@K


def vote(
  candidates: list[tuple[Any, np.ndarray, float]],
) -> dict[Any, list[tuple[np.ndarray, int, float]]]:
  """Pool the answers proposed for each test input and rank them.

  Args:
    candidates: (key, grid, q) triples: `key` names one test input (e.g. (task,
      pair index)), `grid` is an answer already mapped back by the inverse
      augmentation, `q` its sigmoid(q_halt).
  Returns:
    key -> [(grid, votes, mean q)], best first: more votes first, ties broken by
    the higher mean q.
  """
  pools: dict[Any, dict[bytes, list]] = collections.defaultdict(dict)
  for key, grid, q in candidates:
    grid = np.asarray(grid)
    ident = bytes(str(grid.shape), "ascii") + grid.astype(np.uint8).tobytes()
    entry = pools[key].setdefault(ident, [grid, 0, 0.0])
    entry[1] += 1
    entry[2] += float(q)
  ranked = {}
  for key, pool in pools.items():
    rows = [(g, n, s / n) for g, n, s in pool.values()]
    ranked[key] = sorted(rows, key=lambda r: (r[1], r[2]), reverse=True)
  return ranked


def pass_at_k(
  ranked: dict[Any, list],
  truths: dict[Any, np.ndarray],
  ks: tuple[int, ...],
  task_of=lambda key: key[0],
) -> dict[str, float]:
  """ARC pass@k by both rules, averaged over tasks, for every k in `ks`.

  `pass@k`: share of tasks whose every test output is among its top-k ranked
  answers (the HRM evaluation). `pass@k/per_input`: mean over tasks of the
  fraction of its test outputs among the top k (the TRM evaluator); the two are
  equal when every task has one test input. `truths` maps each key (one test
  input) to the true grid; a key with no candidate counts as wrong.
  """
  hits: dict[Any, list[list[bool]]] = collections.defaultdict(list)
  for key, truth in truths.items():
    answers = ranked.get(key, [])
    hits[task_of(key)].append(
      [
        any(g.shape == truth.shape and np.array_equal(g, truth) for g, _, _ in answers[:k])
        for k in ks
      ]
    )
  n = max(len(hits), 1)
  out = {}
  for i, k in enumerate(ks):
    out[f"pass@{k}"] = sum(all(h[i] for h in rows) for rows in hits.values()) / n
    out[f"pass@{k}/per_input"] = sum(np.mean([h[i] for h in rows]) for rows in hits.values()) / n
  return {k: float(v) for k, v in out.items()}


def arc_test_inputs(data_dir: Path) -> dict[str, int]:
  """Task name -> number of test inputs, for every task of the test split."""
  from hrm_jax.data.format import read_split

  augs = arc_data.read_augmentations(data_dir)
  counts: dict[str, int] = {}
  for data in read_split(data_dir, "test")[1].values():
    sizes = np.diff(data.puzzle_indices)
    for pid, size in zip(data.puzzle_identifiers, sizes):
      if augs[int(pid)] is not None:
        counts[augs[int(pid)][0]] = max(counts.get(augs[int(pid)][0], 0), int(size))
  return counts


def pair_indices(data_dir: Path, example_index_N: np.ndarray) -> np.ndarray:
  """The test-input index (within its task) of each test example."""
  from hrm_jax.data.format import read_split

  data = next(iter(read_split(data_dir, "test")[1].values()))
  puzzle = np.searchsorted(data.puzzle_indices, example_index_N, side="right") - 1
  return example_index_N - data.puzzle_indices[puzzle]


def arc_rank(
  data_dir: Path,
  puzzle_ids_N: np.ndarray,
  pair_index_N: np.ndarray,
  preds_NxS: np.ndarray,
  labels_NxS: np.ndarray,
  q_N: np.ndarray,
):
  """Decode every test prediction, undo its augmentation and vote: (ranked, truths).

  ranked: (task, pair) -> [(grid, votes, mean q)] best first (see `vote`);
  truths: (task, pair) -> the true grid in the task's own orientation and colours.
  """
  augs = arc_data.read_augmentations(data_dir)
  decode, invert = arc_data.decode_grid, arc_data.inverse_transform
  candidates, truths = [], {}
  for pid, pair, pred, label, q in zip(puzzle_ids_N, pair_index_N, preds_NxS, labels_NxS, q_N):
    record = augs[int(pid)]
    if record is None:
      continue
    task, aug = record
    key = (task, int(pair))
    if key not in truths:
      truths[key] = invert(decode(np.where(label == IGNORE_LABEL, 0, label)), aug)
    candidates.append((key, invert(decode(pred), aug), float(q)))
  return vote(candidates), truths


def arc_metrics(
  data_dir: Path,
  puzzle_ids_N: np.ndarray,
  pair_index_N: np.ndarray,
  preds_NxS: np.ndarray,
  labels_NxS: np.ndarray,
  q_N: np.ndarray,
  ks: tuple[int, ...],
) -> dict[str, float]:
  """ARC pass@k by both rules over the test split: decode, invert each augmentation, vote."""
  ranked, truths = arc_rank(data_dir, puzzle_ids_N, pair_index_N, preds_NxS, labels_NxS, q_N)
  return pass_at_k(ranked, truths, ks)


def arc_submission(ranked: dict[Any, list], test_inputs: dict[str, int]) -> dict[str, list]:
  """The ARC Prize submission: task -> [{"attempt_1": grid, "attempt_2": grid}] per test input.

  Attempts are the two best-ranked answers (lists of lists of ints, in the task's
  own orientation and colours); attempt_2 repeats attempt_1 when the votes agreed
  on one answer. A test input without a prediction, or an empty answer, gets
  PLACEHOLDER_GRID, so every task of `test_inputs` is present.
  """

  def as_list(grid):
    return np.asarray(grid if np.size(grid) else PLACEHOLDER_GRID).astype(int).tolist()

  out = {}
  for task in sorted(test_inputs):
    rows = []
    for pair in range(test_inputs[task]):
      answers = [as_list(g) for g, _, _ in ranked.get((task, pair), [])[:2]]
      answers = answers or [as_list(PLACEHOLDER_GRID)]
      rows.append({"attempt_1": answers[0], "attempt_2": answers[-1]})
    out[task] = rows
  return out


def write_submission(submission: dict, path: Path) -> Path:
  """Write an ARC Prize submission dict as JSON at `path` (parent folders created)."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(json.dumps(submission))
  tmp.replace(path)
  return path


# ----------------------------------------------------------------------------- task files


def parse(raw) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
  """An ARC task dict -> (test input grids, test output grids or None)."""
  if not isinstance(raw, dict) or not isinstance(raw.get("test"), list) or not raw["test"]:
    raise PuzzleError("an ARC task is a JSON object with a non-empty 'test' list")
  inputs, outputs = [], []
  try:
    for i, ex in enumerate(raw["test"]):
      if not isinstance(ex, dict) or "input" not in ex:
        raise PuzzleError(f"test[{i}] has no 'input' grid")
      inputs.append(arc_data.parse_grid(ex["input"], f"test[{i}].input"))
      outputs.append(
        arc_data.parse_grid(ex["output"], f"test[{i}].output") if "output" in ex else None
      )
  except arc_data.ArcError as e:
    raise PuzzleError(str(e)) from e
  return inputs, outputs


def render_grid(grid: np.ndarray) -> str:
  """Colour grid -> lines of digits."""
  if grid.size == 0:
    return "(empty grid)"
  return "\n".join("".join(str(int(v)) for v in row) for row in grid)


def puzzle_id(name: str, identifiers: list[str] | None) -> tuple[int, str | None]:
  """The puzzle id of task `name` (its un-augmented puzzle), or 0 with a warning."""
  if identifiers is None:
    return 0, (
      "no --identifiers given: the task's puzzle embedding is unknown, so the blank "
      "identifier 0 is used (ARC models need the task's own id to do well)"
    )
  if name in identifiers:
    return identifiers.index(name), None
  raise PuzzleError(
    f"task {name!r} is not among the model's {len(identifiers)} puzzle "
    "identifiers; an ARC model only knows the tasks it was trained with"
  )


# ----------------------------------------------------------------------------- the task


class Arc(Task):
  """ARC-AGI: grids on a 30x30 canvas; pass@K after voting over the augmentations."""

  name = "arc"
  seq_len = arc_data.SEQ_LEN
  vocab_size = arc_data.VOCAB_SIZE
  builders = ("arc",)
  length_text = f"{arc_data.SEQ_LEN} cells"
  solve_help = "ARC task JSON ({'train': [...], 'test': [{'input': ...}]})"
  solve_inputs = "an ARC task JSON: every test input is answered."
  numbered = False
  report_note = (
    "ARC: `pass@K` counts a task only if every one of its test inputs has the right "
    "answer among the K most voted (the HRM evaluation); `pass@K/per_input` counts "
    "the fraction of its test inputs that do (the TRM evaluator). The two attempts "
    "per test input are in `submission.json` (ARC Prize format; every evaluation's "
    "in `submissions/`)."
  )

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    build_args = dict(build_args)
    for key in ("extra_tasks", "task_ids"):
      build_args[key] = [x for x in build_args.get(key) or [] if x] or None
    return arc_data.build_arc_dataset(path, progress=progress, **build_args)

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"pass@{k}{rule}" for k in pass_ks for rule in PASS_RULES)

  def metrics(self, predictions, pred_NxS, q_N, data_dir, pass_ks, submission_path=None):
    pairs = pair_indices(data_dir, predictions["example_index"])
    ranked, truths = arc_rank(
      data_dir, predictions["puzzle_identifiers"], pairs, pred_NxS, predictions["labels"], q_N
    )
    if submission_path is not None:
      write_submission(arc_submission(ranked, arc_test_inputs(data_dir)), submission_path)
    return pass_at_k(ranked, truths, pass_ks)

  def draw(self, axes, inputs_S, labels_S, pred_S) -> None:
    from matplotlib.colors import ListedColormap

    grids = (
      square(inputs_S),
      square(np.where(labels_S == IGNORE_LABEL, 0, labels_S)),
      square(pred_S),
    )
    for ax, grid, title in zip(axes, grids, ("input", "truth", "model")):
      ax.imshow(grid, cmap=ListedColormap(COLORS), vmin=0, vmax=11, interpolation="nearest")
      grid_axes(ax, title)
    mark_wrong(axes[2], grids[2], square(labels_S))

  def add_solve_options(self, parser) -> None:
    parser.add_argument(
      "--identifiers", help="ARC: the dataset's identifiers.json (task -> puzzle id)"
    )
    parser.add_argument(
      "--name", help="ARC: task name in identifiers.json (default: the file's stem)"
    )

  def read(self, arg: str):
    return parse(read_json(arg, "ARC task"))

  def puzzles(self, raw, config, meta, args) -> Puzzles:
    grids, outputs = raw
    id_file = args.identifiers
    if not id_file and meta.get("data_path"):  # the dataset the model was trained on, if here
      guess = Path(meta["data_path"]) / "identifiers.json"
      id_file = str(guess) if guess.is_file() else None
    identifiers = read_json(id_file, "identifiers") if id_file else None
    pid, note = puzzle_id(args.name or Path(args.arc).stem, identifiers)
    return Puzzles(
      [arc_data.encode_grid(g).astype(np.int32) for g in grids],
      [f"test {i}" for i in range(len(grids))],
      truths=outputs,
      puzzle_id=pid,
      notes=("note: " + note,) if note else (),
    )

  def format(self, tokens_S: np.ndarray) -> str:
    return render_grid(arc_data.decode_grid(tokens_S))

  def answer(self, index, puzzle_S, pred_S, head, truth):
    grid = arc_data.decode_grid(pred_S)
    lines = [
      f"test {index}: predicted output {grid.shape[0]}x{grid.shape[1]}:",
      render_grid(grid),
      head,
    ]
    same = truth is not None and grid.shape == truth.shape and bool((grid == truth).all())
    if truth is not None:
      lines.append(f"matches the given output: {yes(same)}")
    return lines, same


TASK = Arc()
