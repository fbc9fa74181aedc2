"""TFDS builders: build with array_record and read through tfds.data_source, without TensorFlow."""

import sys

import numpy as np
import pytest

pytest.importorskip(
  "tensorflow_datasets", reason="optional extra 'tfds' (tensorflow-datasets) not installed"
)
pytest.importorskip("array_record", reason="optional extra 'tfds' (array-record) not installed")

from hrm_jax.data import tfds_builders as tb  # noqa: E402
from hrm_jax.data.format import read_split  # noqa: E402

CASES = {
  "hrm_maze": dict(size=8, train_size=5, test_size=3, min_path=10, workers=1),
  "hrm_sudoku": dict(train_size=4, test_size=2, num_aug=2, difficulty="easy", workers=1),
  "hrm_arc": dict(version="arc-agi-1", num_aug=2, task_ids=["007bbfb7", "00576224"], workers=1),
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_build_and_read_matches_hrm_format(tmp_path, family):
  import tensorflow_datasets as tfds

  cfg = tb.HrmConfig(name="tiny", build_kwargs=CASES[family])
  sources = tb.data_source(family, tmp_path, config=cfg)
  assert "tensorflow" not in sys.modules
  assert list((tmp_path / family / "tiny" / "1.0.0").glob("*.array_record*"))
  # the plain TFDS entry point reads the same files
  again = tfds.data_source(f"{family}/tiny", data_dir=str(tmp_path))
  hrm_dir = next((tmp_path / "downloads").glob(f"hrm_{family}_tiny"))
  for split, source in sources.items():
    _, sets = read_split(hrm_dir, split)
    data = sets["all"]
    assert len(source) == len(again[split]) == data.num_examples
    for i in range(data.num_examples):
      rec = source[i]
      np.testing.assert_array_equal(rec["inputs"], data.inputs[i])
      np.testing.assert_array_equal(rec["labels"], data.labels[i])
      p = rec["puzzle_index"]
      assert data.puzzle_indices[p] <= i < data.puzzle_indices[p + 1]
      assert rec["puzzle_identifier"] == data.puzzle_identifiers[p]
      g = rec["group_index"]
      assert data.group_indices[g] <= p < data.group_indices[g + 1]


def test_unknown_family(tmp_path):
  with pytest.raises(ValueError, match="unknown HRM TFDS dataset"):
    tb.data_source("hrm_chess", tmp_path)


def test_unguarded_script_finishes(tmp_path):
  """A script calling data_source at top level (no __main__ guard) used to hang forever."""
  import os
  import subprocess
  from pathlib import Path

  script = tmp_path / "script.py"
  script.write_text(
    "from hrm_jax.data import tfds_builders as tb\n"
    "cfg = tb.HrmConfig(name='tiny', build_kwargs=dict(size=8, train_size=5, test_size=3,"
    " min_path=10, workers=2))\n"
    "src = tb.data_source('hrm_maze', 'tfds', config=cfg)\n"
    "print(len(src['train']), len(src['test']))\n"
  )
  root = Path(__file__).resolve().parents[1]
  result = subprocess.run(
    [sys.executable, str(script)],
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=300,
    env={**os.environ, "PYTHONPATH": str(root)},
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.splitlines()[-1] == "5 3"
