"""Figures of test puzzles: one row per example (input | truth | model), drawn by its task."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hrm_jax import tasks  # noqa: E402


def draw_examples(task: str | tasks.Task, inputs, labels, preds, path, titles=None) -> None:
  """One row per example (input | truth | model, drawn by `task.draw`), saved as a PNG."""
  task = tasks.get(task) if isinstance(task, str) else task
  n = len(inputs)
  fig, axes = plt.subplots(n, 3, figsize=(7.5, task.row_height * n), squeeze=False)
  for i in range(n):
    task.draw(axes[i], np.asarray(inputs[i]), np.asarray(labels[i]), np.asarray(preds[i]))
    if titles:
      axes[i][0].set_ylabel(titles[i], fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
