"""Builders never lose a user's file: the output-folder rule, reuse, --force, manifests, workers."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hrm_jax import errors, tasks
from hrm_jax.data import arc, maze, parity, perfect_maze, sudoku
from hrm_jax.data._atomic import MANIFEST, OutputFolderError
from hrm_jax.data.format import read_split

ROOT = Path(__file__).resolve().parents[1]
PARITY = dict(length=8, train_size=20, test_size=5)


def _tree(root: Path) -> dict:
  """Every file under `root` (hidden ones too) with its bytes."""
  return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _user_folder(path: Path) -> dict:
  (path / "sub").mkdir(parents=True)
  (path / "notes.txt").write_text("important\n")
  (path / "sub" / "data.bin").write_bytes(bytes(range(256)))
  return _tree(path)


def _one_error_line(capsys, *needles: str) -> str:
  captured = capsys.readouterr()
  lines = captured.err.splitlines()  # one line, and at most a hint line
  assert lines[0].startswith("error: ") and len(lines) <= 2, captured.err
  assert len(lines) == 1 or lines[1].startswith("hint: "), captured.err
  for needle in needles:
    assert needle in captured.err, captured.err
  return captured.err


def _no_leftovers(parent: Path) -> None:
  assert not [p.name for p in parent.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- every builder

BUILDERS = {  # CLI, small arguments
  "parity": (parity.main, ["--length", "8", "--train-size", "20", "--test-size", "5"]),
  "maze": (maze.main, ["--size", "8", "--train-size", "2", "--test-size", "1", "--workers", "1"]),
  "perfect_maze": (
    perfect_maze.main,
    ["--size", "5", "--train-size", "5", "--test-size", "2", "--min-path", "4"],
  ),
  "sudoku": (
    sudoku.main,
    [
      "--train-size",
      "2",
      "--test-size",
      "1",
      "--num-aug",
      "1",
      "--difficulty",
      "easy",
      "--workers",
      "1",
      "--quiet",
    ],
  ),
  "arc": (arc.main, ["--tasks", "007bbfb7", "--num-aug", "1", "--workers", "1"]),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_builder_refuses_a_folder_of_user_files(tmp_path, capsys, name):
  main, argv = BUILDERS[name]
  out = tmp_path / "d"
  before = _user_folder(out)
  assert errors.guard(main, ["--out", str(out), *argv]) == 2
  _one_error_line(capsys, str(out), "not empty", "nothing was changed")
  assert _tree(out) == before  # byte for byte
  _no_leftovers(tmp_path)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_builder_reuses_with_one_line_and_refuses_other_builders(tmp_path, capsys, name):
  main, argv = BUILDERS[name]
  out = tmp_path / "d"
  assert errors.guard(main, ["--out", str(out), *argv]) == 0
  built = _tree(out)
  capsys.readouterr()
  assert errors.guard(main, ["--out", str(out), *argv]) == 0
  assert capsys.readouterr().out.splitlines() == [
    f"{out}: reusing the {name} dataset built with these arguments (--force rebuilds it)"
  ]
  assert _tree(out) == built
  other = "maze" if name == "parity" else "parity"
  other_main, other_argv = BUILDERS[other]
  assert errors.guard(other_main, ["--out", str(out), *other_argv, "--force"]) == 2
  _one_error_line(capsys, f"holds a {name} dataset, not a {other} one")
  assert _tree(out) == built


def test_current_directory_is_refused(tmp_path, monkeypatch, capsys):
  work = tmp_path / "work"
  work.mkdir()
  monkeypatch.chdir(work)
  for out in (".", str(work), str(tmp_path)):
    assert errors.guard(parity.main, ["--out", out, *BUILDERS["parity"][1]]) == 2
    _one_error_line(capsys, "is the current directory (or holds it)", "--out data/NAME")
  assert list(work.iterdir()) == []
  _no_leftovers(tmp_path)


def test_a_file_in_the_way_is_refused(tmp_path, capsys):
  (tmp_path / "f").write_text("mine")
  assert errors.guard(parity.main, ["--out", str(tmp_path / "f"), *BUILDERS["parity"][1]]) == 2
  _one_error_line(capsys, "is a file, not a folder")
  assert (
    errors.guard(parity.main, ["--out", str(tmp_path / "f" / "x"), *BUILDERS["parity"][1]]) == 2
  )
  _one_error_line(capsys, "lies under the file")
  assert (tmp_path / "f").read_text() == "mine"


def test_a_parent_of_datasets_is_refused(tmp_path, capsys):
  parity.build_parity_dataset(tmp_path / "data" / "p8", **PARITY)
  maze.build_maze_dataset(
    tmp_path / "data" / "m8", size=8, train_size=2, test_size=1, workers=1, progress=False
  )
  before = _tree(tmp_path / "data")
  for force in ([], ["--force"]):
    argv = ["--out", str(tmp_path / "data"), *BUILDERS["parity"][1], *force]
    assert errors.guard(parity.main, argv) == 2
    _one_error_line(capsys, "holds other datasets (m8, p8)")
  assert _tree(tmp_path / "data") == before


def test_other_arguments_need_force_and_keep_unknown_files(tmp_path, capsys):
  out = parity.build_parity_dataset(tmp_path / "d", **PARITY)
  (out / "notes.txt").write_text("mine\n")
  (out / "train" / "my_predictions.npy").write_bytes(b"\x01\x02")
  before = _tree(out)
  capsys.readouterr()
  assert (
    errors.guard(
      parity.main, ["--out", str(out), "--length", "9", "--train-size", "20", "--test-size", "5"]
    )
    == 2
  )
  _one_error_line(capsys, "built with other arguments (length 8 -> 9)", "--force")
  assert _tree(out) == before
  parity.build_parity_dataset(out, **{**PARITY, "length": 9}, force=True)
  assert "replacing the dataset there" in capsys.readouterr().out
  assert read_split(out, "train")[0].seq_len == 10
  assert (out / "notes.txt").read_text() == "mine\n"
  assert (out / "train" / "my_predictions.npy").read_bytes() == b"\x01\x02"
  assert sorted(json.loads((out / MANIFEST).read_text())) == sorted(
    f for f in _tree(out) if f not in ("notes.txt", "train/my_predictions.npy")
  )
  _no_leftovers(tmp_path)


def test_replacement_removes_only_the_old_builds_files(tmp_path):
  """Files the old build listed go (even ones the new build does not write); others stay."""
  out = perfect_maze.build_perfect_mazes(
    tmp_path / "d", cells=3, train_size=4, test_size=2, min_path=4
  )
  stale = out / "stale_but_mine.json"
  stale.write_text("{}")
  manifest = json.loads((out / MANIFEST).read_text())
  # an older build that wrote one more file: it must go, being listed as the build's own
  (out / "old_extra.json").write_text("[]")
  (out / MANIFEST).write_text(json.dumps(manifest + ["old_extra.json"]))
  perfect_maze.build_perfect_mazes(out, cells=3, train_size=5, test_size=2, min_path=4, force=True)
  assert not (out / "old_extra.json").exists() and stale.read_text() == "{}"
  assert read_split(out, "train")[1]["all"].num_examples == 5


def test_a_dataset_without_manifest_is_replaced_by_its_format_files(tmp_path):
  out = parity.build_parity_dataset(tmp_path / "d", **PARITY)
  (out / MANIFEST).unlink()  # as written before manifests existed
  (out / "notes.txt").write_text("mine")
  parity.build_parity_dataset(out, **{**PARITY, "train_size": 30}, force=True)
  assert (out / "notes.txt").read_text() == "mine"
  assert read_split(out, "train")[1]["all"].num_examples == 30


def test_a_new_file_never_overwrites_a_user_file(tmp_path, capsys):
  out = parity.build_parity_dataset(tmp_path / "d", **PARITY)
  listed = [f for f in json.loads((out / MANIFEST).read_text()) if f != "parity_stats.json"]
  (out / MANIFEST).write_text(json.dumps(listed))  # parity_stats.json is now the user's
  (out / "parity_stats.json").write_text("the user's own")
  before = _tree(out)
  with pytest.raises(OutputFolderError, match="would overwrite .*parity_stats.json"):
    parity.build_parity_dataset(out, **PARITY, force=True)
  assert _tree(out) == before
  _no_leftovers(tmp_path)


def test_training_auto_build_refuses_a_folder_of_user_files(tmp_path):
  out = tmp_path / "d"
  before = _user_folder(out)
  with pytest.raises(OutputFolderError, match="not empty"):
    tasks.build_dataset("parity", out, dict(PARITY, seed=0), progress=False)
  assert _tree(out) == before
  tasks.build_dataset("parity", tmp_path / "empty", dict(PARITY, seed=0), progress=False)


def test_an_empty_folder_is_written_in_place(tmp_path):
  out = tmp_path / "d"
  out.mkdir()
  inode = out.stat().st_ino
  parity.build_parity_dataset(out, **PARITY)
  assert out.stat().st_ino == inode and read_split(out, "test")[0].seq_len == 9


# ----------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
  "main, argv, message",
  [
    (parity.main, ["--length", "0"], "length (--length) must be an integer at least 1, got 0"),
    (parity.main, ["--length", "3", "--train-size", "10"], "too many for 3 bits"),
    (parity.main, ["--test-size", "-1"], "test_size (--test-size) must be"),
    (sudoku.main, ["--train-size", "0"], "train_size (--train-size) must be an integer at least 1"),
    (sudoku.main, ["--blanks", "90"], "blanks (--blanks) must be an integer in [1, 81], got 90"),
    (sudoku.main, ["--num-aug", "-2"], "num_aug (--num-aug)"),
    (perfect_maze.main, ["--size", "8"], "odd grid size"),
    (perfect_maze.main, ["--train-size", "0"], "train_size (--train-size)"),
  ],
)
def test_builder_argument_errors_are_one_line(tmp_path, capsys, main, argv, message):
  assert errors.guard(main, ["--out", str(tmp_path / "o"), *argv]) == 2
  _one_error_line(capsys, message)
  assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("main", [parity.main, maze.main, perfect_maze.main, sudoku.main, arc.main])
def test_help_shows_defaults(capsys, main):
  with pytest.raises(SystemExit):
    main(["--help"])
  text = capsys.readouterr().out
  assert "(default: 0)" in text and "(default: None)" not in text  # every builder has --seed


def test_sudoku_cache_hit_prints_one_line(tmp_path, capsys):
  argv = ["--out", str(tmp_path / "s"), *BUILDERS["sudoku"][1]]
  assert errors.guard(sudoku.main, argv) == 0
  assert len(capsys.readouterr().out.splitlines()) == 2  # a summary and `wrote ...`
  assert errors.guard(sudoku.main, argv) == 0
  assert len(capsys.readouterr().out.splitlines()) == 1


# ----------------------------------------------------------------------------- byte-identical


def test_perfect_maze_and_parity_builds_are_byte_identical(tmp_path):
  for build, kw in (
    (parity.build_parity_dataset, PARITY),
    (perfect_maze.build_perfect_mazes, dict(cells=3, train_size=5, test_size=2, min_path=4)),
  ):
    a, b = (build(tmp_path / f"{build.__name__}-{i}", **kw) for i in (1, 2))
    assert _tree(a) == _tree(b) and "build_seconds" not in str(_tree(a))


# ----------------------------------------------------------------------------- unguarded scripts


def _run_script(tmp_path: Path, body: str, timeout: int = 120) -> subprocess.CompletedProcess:
  script = tmp_path / "script.py"
  script.write_text(textwrap.dedent(body))
  return subprocess.run(
    [sys.executable, str(script)],
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=timeout,
    env={**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"},
  )


SUDOKU_CALL = """
from hrm_jax.data.sudoku import build_sudoku
build_sudoku("{out}", train_size=3, test_size=2, num_aug=2, difficulty="easy", seed=4,
             workers=2, progress=False)
"""


@pytest.mark.parametrize(
  "jax_running, guarded, note",
  [
    (False, False, False),  # fork: nothing imports the script again
    (True, False, True),  # JAX threads rule out fork, the script spawn: in this process
    (True, True, False),  # guarded: spawned workers
  ],
)
def test_scripts_with_and_without_a_main_guard_finish(tmp_path, jax_running, guarded, note):
  """Today's hang: spawned workers re-ran an unguarded script's build, forever."""
  reference = sudoku.build_sudoku(
    tmp_path / "ref",
    train_size=3,
    test_size=2,
    num_aug=2,
    difficulty="easy",
    seed=4,
    workers=1,
    progress=False,
  )
  call = ("import jax; jax.devices()\n" if jax_running else "") + SUDOKU_CALL.format(
    out=tmp_path / "out"
  )
  if guarded:
    call = (
      "def main():\n" + textwrap.indent(call, "  ") + "\nif __name__ == '__main__':\n  main()\n"
    )
  result = _run_script(tmp_path, call)
  assert result.returncode == 0, result.stderr[-2000:]
  assert ("runs code outside an `if __name__" in result.stderr) == note, result.stderr[-2000:]
  assert _tree(tmp_path / "out") == _tree(reference)
