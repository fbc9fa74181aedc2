"""The task registry: discovery, the interface every task implements, names and builders."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hrm_jax import tasks
from hrm_jax.errors import UserError


def test_every_task_implements_the_interface():
  assert tasks.names() == ("arc", "maze", "parity", "reach", "sudoku")
  for name in tasks.names():
    task = tasks.get(name)
    assert isinstance(task, tasks.Task) and task.name == name
    assert task.vocab_size > 0 and task.builders and task.length_text
    assert task.solve_help and task.solve_inputs
    for method in ("build", "metrics", "draw", "read", "puzzles", "format", "answer"):
      assert getattr(type(task), method) is not getattr(tasks.Task, method), (name, method)
    assert all(isinstance(m, str) for m in task.metric_names((1, 2)))
    if task.seq_len is not None:  # the paper's dataset has the task's shape
      assert task.requirement(task.seq_len, task.vocab_size) is None
    assert task.requirement(7, task.vocab_size + 1)  # names what it needs


def test_unknown_names_list_the_known_ones():
  with pytest.raises(
    tasks.UnknownTaskError, match="the known tasks are arc, maze, parity, reach, sudoku"
  ):
    tasks.get("chess")
  with pytest.raises(UserError, match="unknown config.task 'chess'"):
    tasks.get("chess", "config.task")


def test_builders_name_their_task(tmp_path):
  want = {
    "maze": "maze",
    "perfect_maze": "maze",
    "sudoku": "sudoku",
    "arc": "arc",
    "parity": "parity",
    "reach": "reach",
  }
  assert {b: tasks.for_builder(b).name for b in want} == want
  assert tasks.for_builder("nope") is None and tasks.for_builder(None) is None
  (tmp_path / "build_args.json").write_text(json.dumps({"builder": "perfect_maze"}))
  tasks.check_built_for("maze", tmp_path)
  with pytest.raises(tasks.DatasetTaskError, match="holds a maze dataset .* not a sudoku one"):
    tasks.check_built_for("sudoku", tmp_path)
  tasks.check_built_for("sudoku", tmp_path / "no_build_args")  # e.g. the authors' datasets


def test_task_shapes():
  maze, parity, sudoku = (tasks.get(n) for n in ("maze", "parity", "sudoku"))
  assert (
    maze.requirement(49, 6) is None and maze.requirement(50, 6) == "vocab_size 6, a square grid"
  )
  assert parity.requirement(33, 4) is None and parity.requirement(1, 4)
  assert sudoku.requirement(81, 11) is None and sudoku.requirement(900, 11)


def test_shared_accuracy():
  labels = np.array([[1, 2, -100], [1, 2, 3]])
  exact, token = tasks.accuracies(np.array([[1, 2, 9], [1, 0, 3]]), labels)
  assert exact.tolist() == [True, False]
  np.testing.assert_allclose(token, [1.0, 2 / 3])


def test_a_new_module_is_a_new_task(tmp_path, monkeypatch):
  (tmp_path / "toy_task.py").write_text(
    "from hrm_jax.tasks.base import Task\n\n"
    "class Toy(Task):\n  name = 'toy'\n  builders = ('toy_builder',)\n\nTASK = Toy()\n"
  )
  monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(tmp_path)])
  tasks._registry.cache_clear()
  try:
    assert "toy" in tasks.names() and tasks.for_builder("toy_builder").name == "toy"
    assert not tasks.get("toy").solve_help and tasks.get("toy").metric_names((1,)) == ()
  finally:
    monkeypatch.undo()
    tasks._registry.cache_clear()
    sys.modules.pop("hrm_jax.tasks.toy_task", None)
  assert "toy" not in tasks.names()


def test_importing_the_tasks_loads_no_plotting_or_builders():
  code = (
    "import sys; from hrm_jax import tasks; tasks.names(); "
    "print(sorted(m for m in ('matplotlib', 'hrm_jax.data.sudoku', 'numba') "
    "if m in sys.modules))"
  )
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]", out
