"""The task interface (`Task`) and what every task shares: accuracy, puzzle text, drawing aids."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.batch import IGNORE_LABEL
from hrm_jax.config import ConfigError
from hrm_jax.errors import UserError


class PuzzleError(UserError, ValueError):
  """A puzzle that is malformed, has no solution or does not fit the model."""


class DatasetTaskError(ConfigError):
  """A dataset built for another task than the one asked for."""


def accuracies(preds_NxS: np.ndarray, labels_NxS: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per example: exact match ([N] bool: every labelled token right) and token accuracy ([N])."""
  mask = labels_NxS != IGNORE_LABEL
  correct = (preds_NxS == labels_NxS) & mask
  return correct.sum(1) == mask.sum(1), correct.sum(1) / np.maximum(mask.sum(1), 1)


@dataclasses.dataclass
class Puzzles:
  """What the solve CLI feeds the model: token rows [S] each, their names, the task's extras."""

  tokens: list[np.ndarray]
  names: list[str]
  truths: list[Any] | None = None  # per puzzle: what its answer is checked against (or None)
  puzzle_id: int = 0  # the puzzle identifier every row is answered with
  notes: tuple[str, ...] = ()  # lines printed before the answers


class Task:
  """One task family. A module of hrm_jax.tasks that exports `TASK = MyTask()` is registered.

  Subclasses set the class attributes and override the methods they support; the
  defaults say "not offered" (no solve parser, no own metrics).
  """

  name: str = ""
  seq_len: int | None = None  # the paper's dataset (None: no such dataset)
  vocab_size: int = 0  # tokens, PAD included
  builders: tuple[str, ...] = ()  # builder names a dataset's build_args.json may record
  length_text: str = ""  # the sequence lengths it takes, in words ("81 cells")
  row_height: float = 2.6  # inches per drawn example (input | truth | model)
  solve_help: str | None = None  # help of the solve CLI's --NAME flag (None: no flag)
  solve_inputs: str = ""  # what --NAME accepts, in full (the solve CLI's epilog)
  numbered: bool = True  # solve numbers several puzzles and counts the solved ones
  report_note: str = ""  # a paragraph for a run's report.md on the task's metrics

  # ----------------------------------------------------------------------- model and data

  def takes_length(self, seq_len: int) -> bool:
    """Whether a model or dataset of `seq_len` tokens can be this task's."""
    return seq_len == self.seq_len

  def requirement(self, seq_len: int, vocab_size: int) -> str | None:
    """None when a model or dataset of this shape is this task's, else what the task needs."""
    if vocab_size == self.vocab_size and self.takes_length(seq_len):
      return None
    return f"vocab_size {self.vocab_size}, {self.length_text}"

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    """Build the task's dataset at `path` with the builder arguments `build_args`."""
    raise NotImplementedError(f"the {self.name} task has no dataset builder")

  # ----------------------------------------------------------------------- evaluation

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    """The task's own metrics (after exact and token accuracy), in order."""
    return ()

  def metrics(
    self,
    predictions: dict[str, np.ndarray],
    pred_NxS: np.ndarray,
    q_N: np.ndarray | None,
    data_dir: Path | None,
    pass_ks: tuple[int, ...],
    submission_path: Path | None = None,
  ) -> dict[str, float]:
    """The task's own metrics of the answers `pred_NxS` (their sigmoid(q_halt) `q_N`) to the
    examples of `predictions` (inference.predict's output), keyed as `metric_names`."""
    return {}

  def draw(self, axes, inputs_S: np.ndarray, labels_S: np.ndarray, pred_S: np.ndarray) -> None:
    """Fill three matplotlib axes for one example: input, truth, model answer."""
    raise NotImplementedError(f"the {self.name} task cannot draw its examples")

  # ----------------------------------------------------------------------- the solve CLI

  def add_solve_options(self, parser) -> None:
    """Add the task's own solve CLI options (besides --NAME) to the argparse `parser`."""

  def read(self, arg: str) -> Any:
    """The --NAME argument (text or a file name), read and checked before the model loads."""
    raise NotImplementedError(f"the solve CLI does not read {self.name} puzzles")

  def puzzles(self, raw: Any, config, meta: dict, args) -> Puzzles:
    """`read`'s result as model inputs for the model `config` (meta: its model directory's)."""
    raise NotImplementedError(f"the solve CLI does not read {self.name} puzzles")

  def format(self, tokens_S: np.ndarray) -> str:
    """Tokens -> the text the solve CLI prints."""
    raise NotImplementedError(f"the solve CLI does not print {self.name} puzzles")

  def answer(
    self, index: int, puzzle_S: np.ndarray, pred_S: np.ndarray, head: str, truth: Any
  ) -> tuple[list[str], bool]:
    """The printed answer to puzzle `index` (`head`: its segments line), and whether it is
    right as the task's evaluation judges it."""
    raise NotImplementedError(f"the solve CLI does not answer {self.name} puzzles")


# ----------------------------------------------------------------------------- dataset check


def builder_of(data_dir: Path) -> str | None:
  """The builder recorded in `data_dir`'s build_args.json (None: no such file or record)."""
  try:
    builder = json.loads((Path(data_dir) / "build_args.json").read_text()).get("builder")
  except (OSError, ValueError, AttributeError):  # the authors' datasets have no build_args.json
    return None
  return builder if isinstance(builder, str) else None


# ----------------------------------------------------------------------------- puzzle text


def where(source: str | None, line: int, index: int) -> str:
  """The prefix of an error about puzzle `index` (0-based) starting at `line`."""
  if source:
    return f"{source} line {line}: "
  return f"puzzle {index + 1}: " if index else ""


def read_text(path: str, what: str) -> str:
  """The text of file `path`; a missing or unreadable file is a PuzzleError saying so."""
  p = Path(path)
  if not p.exists():
    raise PuzzleError(f"no such {what} file: {path}")
  try:
    return p.read_text()
  except (OSError, UnicodeDecodeError) as e:
    raise PuzzleError(f"cannot read the {what} file {path}: {e}") from e


def text_or_file(arg: str, what: str) -> tuple[str, str | None]:
  """(text, file name or None): `arg` itself, or the file it names.

  An argument that looks like a file name (a '/' or an extension) but names no
  file is refused as a missing file, not parsed as a puzzle.
  """
  try:
    is_path = "\n" not in arg and Path(arg).exists()
  except OSError:  # e.g. a name too long to be a file: puzzle text
    is_path = False
  if is_path:
    return read_text(arg, what), arg
  if "\n" not in arg and ("/" in arg or "\\" in arg or re.search(r"\.[A-Za-z]\w*$", arg)):
    raise PuzzleError(f"no such {what} file: {arg}")
  return arg, None


def read_json(path: str, what: str):
  """The JSON document in file `path`; a missing or malformed file is a PuzzleError."""
  try:
    return json.loads(read_text(path, what))
  except json.JSONDecodeError as e:
    raise PuzzleError(f"{path} is not valid JSON: {e}") from e


def yes(ok) -> str:
  """'yes' or 'no'."""
  return "yes" if ok else "no"


# ----------------------------------------------------------------------------- drawing aids


def square(tokens: np.ndarray) -> np.ndarray:
  """A flat square grid [n*n] -> [n, n]."""
  n = int(round(np.sqrt(np.asarray(tokens).size)))
  return np.asarray(tokens).reshape(n, n)


def mark_wrong(ax, pred: np.ndarray, truth: np.ndarray) -> None:
  """Red crosses on the cells of `pred` that differ from a labelled cell of `truth`."""
  rows, cols = np.nonzero((pred != truth) & (truth != IGNORE_LABEL))
  ax.scatter(cols, rows, marker="x", color="red", s=40, linewidths=2)


def grid_axes(ax, title: str) -> None:
  """A title and no ticks."""
  ax.set_title(title, fontsize=9)
  ax.set_xticks([])
  ax.set_yticks([])
