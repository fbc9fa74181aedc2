"""The prefix-parity task (the CPU demo's): BOS + bits, the running parity as labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hrm_jax.data import parity as parity_data
from hrm_jax.tasks.base import (
  PuzzleError,
  Puzzles,
  Task,
  grid_axes,
  mark_wrong,
  text_or_file,
  where,
)


def parity_metrics(labels_NxS: np.ndarray, preds_NxS: np.ndarray) -> dict[str, np.ndarray]:
  """Per example: the fraction of the string's leading bits whose parity is right ([N] float)."""
  return {
    "prefix_right": parity_data.first_error(labels_NxS, preds_NxS) / (labels_NxS.shape[1] - 1)
  }


def split_parity(text: str, source: str | None = None) -> list[np.ndarray]:
  """Bit strings of '0'/'1' (one per line; spaces ignored) -> [L] uint8 arrays of 0/1."""
  found = []
  for no, raw in enumerate(text.splitlines() or [""], 1):
    bits = "".join(raw.split())
    if not bits:
      continue
    bad = sorted(set(bits) - set("01"))
    if bad:
      raise PuzzleError(
        f"{where(source, no, len(found))}bad parity character(s) {bad}: a string of 0 and 1 bits"
      )
    found.append(np.frombuffer(bits.encode(), np.uint8) - ord("0"))
  if not found:
    raise PuzzleError("no bits given: the parity task takes a string of 0 and 1")
  return found


def tokens_of(bits_L: np.ndarray, seq_len: int) -> np.ndarray:
  """The model input (BOS, then the bits) of one bit string; its length must fit seq_len."""
  if len(bits_L) != seq_len - 1:
    raise PuzzleError(f"this model reads strings of {seq_len - 1} bits, got {len(bits_L)}")
  return parity_data.encode(bits_L[None])[0][0].astype(np.int32)


def render(tokens: np.ndarray) -> str:
  """Predicted labels -> '0' even / '1' odd per bit ('?' for any other token; BOS dropped)."""
  names = {parity_data.EVEN: "0", parity_data.ODD: "1"}
  return "".join(names.get(int(t), "?") for t in np.asarray(tokens)[1:])


class Parity(Task):
  """Prefix parity of bit strings of any length (no paper dataset: seq_len None)."""

  name = "parity"
  vocab_size = parity_data.VOCAB_SIZE
  builders = ("parity",)
  length_text = "BOS + bits"
  row_height = 1.3
  solve_help = "a string of 0/1 bits, or a file of one per line"
  solve_inputs = "a string of 0/1 bits (the prefix-parity task), or a file of one per line."

  def takes_length(self, seq_len: int) -> bool:
    return seq_len >= 2

  def build(self, path: Path, build_args: dict[str, Any], progress: bool = True) -> Path:
    return parity_data.build_parity_dataset(path, progress=progress, **build_args)

  def metric_names(self, pass_ks: tuple[int, ...]) -> tuple[str, ...]:
    return ("prefix_right",)

  def metrics(self, predictions, pred_NxS, q_N, data_dir, pass_ks, submission_path=None):
    return {
      "prefix_right": float(parity_metrics(predictions["labels"], pred_NxS)["prefix_right"].mean())
    }

  def draw(self, axes, inputs_S, labels_S, pred_S) -> None:
    bits = np.asarray(inputs_S)[1:] - parity_data.BIT0  # 0/1
    truth = np.asarray(labels_S)[1:] - parity_data.EVEN  # 0 even / 1 odd
    guess = np.asarray(pred_S)[1:] - parity_data.EVEN
    width = 8 if bits.size % 8 == 0 else bits.size  # rows of 8 bits when the length allows
    titles = ("bits", "truth: prefix parity", "model")
    for ax, row, title in zip(axes, (bits, truth, guess), titles):
      ax.imshow(row.reshape(-1, width), cmap="Greys", vmin=-0.3, vmax=1.3, interpolation="nearest")
      grid_axes(ax, title)
    mark_wrong(axes[2], guess.reshape(-1, width), truth.reshape(-1, width))

  def read(self, arg: str) -> list[np.ndarray]:
    return split_parity(*text_or_file(arg, "parity"))

  def puzzles(self, raw, config, meta, args) -> Puzzles:
    return Puzzles(
      [tokens_of(b, config.seq_len) for b in raw], [f"string {k + 1}" for k in range(len(raw))]
    )

  def format(self, tokens_S: np.ndarray) -> str:
    return render(tokens_S)

  def answer(self, index, puzzle_S, pred_S, head, truth):
    bits = puzzle_S[1:] - parity_data.BIT0
    _, labels = parity_data.encode(bits[None])
    right = int(parity_data.first_error(labels, pred_S[None])[0])
    ok = right == len(bits)
    first = "all right" if ok else f"the first error is at bit {right + 1}"
    return (
      [
        f"bits:   {''.join(map(str, bits.tolist()))}",
        f"parity: {render(pred_S)}  (prefix parity: 0 even, 1 odd)",
        f"truth:  {render(labels[0])}",
        head,
        f"prefix right: {right} of {len(bits)} bits ({first})",
      ],
      ok,
    )


TASK = Parity()
