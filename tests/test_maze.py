"""Maze-Hard generator: path validity/optimality (checked by an independent BFS), check_path,
determinism across worker counts, the authors' CSV format, and bad input."""

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from hrm_jax import errors
from hrm_jax.data import _maze_gen
from hrm_jax.data import maze as M
from hrm_jax.data.format import read_identifiers, read_split

SIZE, MIN_PATH = 10, 16


def _bfs(grid, src):
  """Independent reference BFS over non-wall cells of a token grid."""
  n = grid.shape[0]
  dist = {src: 0}
  q = deque([src])
  while q:
    r, c = q.popleft()
    for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
      if 0 <= rr < n and 0 <= cc < n and grid[rr, cc] != M.WALL and (rr, cc) not in dist:
        dist[(rr, cc)] = dist[(r, c)] + 1
        q.append((rr, cc))
  return dist


def _assert_shortest(q, a, min_path):
  n = int(round(len(q) ** 0.5))
  grid, label = q.reshape(n, n), a.reshape(n, n)
  start = tuple(np.argwhere(grid == M.START)[0])
  goal = tuple(np.argwhere(grid == M.GOAL)[0])
  shortest = _bfs(grid, start)[goal]
  assert shortest > min_path
  # label = maze with path marks on free cells only
  assert ((label == grid) | ((grid == M.FREE) & (label == M.PATH))).all()
  # walk the path from S: each step to the unique unvisited path/goal neighbour
  path = {tuple(p) for p in np.argwhere(label == M.PATH)}
  assert len(path) + 1 == shortest
  cur, seen, steps = start, {start}, 0
  while cur != goal:
    nxt = [
      p
      for p in (
        (cur[0] + 1, cur[1]),
        (cur[0] - 1, cur[1]),
        (cur[0], cur[1] + 1),
        (cur[0], cur[1] - 1),
      )
      if (p in path or p == goal) and p not in seen
    ]
    assert len(nxt) >= 1
    cur = nxt[0]
    seen.add(cur)
    steps += 1
  assert steps == shortest and seen == path | {start, goal}


@pytest.fixture(scope="module")
def small():
  return M.generate_mazes(
    12, seed=3, split="train", size=SIZE, min_path=MIN_PATH, workers=1, progress=False
  )


def test_generated_paths_valid_and_shortest(small):
  inputs, labels, infos = small
  assert inputs.shape == (12, SIZE * SIZE) and inputs.dtype == np.uint8
  assert len({q.tobytes() for q in inputs}) == 12
  for q, a, info in zip(inputs, labels, infos):
    _assert_shortest(q, a, MIN_PATH)
    assert 0.3 <= info["wall_prob"] <= 0.5 and 0.1 < info["wall_density"] < 0.7
    assert M.check_path(q, a) == (True, True)
    np.testing.assert_array_equal(M.solve(q).ravel(), a)  # tie-break is reproducible


def test_30x30_hard_maze():
  q, a, info = M.generate_maze(_maze_gen._item_rng(0, "train", 0), 30, 110)
  _assert_shortest(q, a, 110)
  assert info["path_len"] > 110


def test_check_path_alternatives_and_failures(small):
  open_maze = ["S   G", "     ", "  #  ", "     ", "     "]
  maze = "".join(open_maze)
  top = "".join(["SoooG", "     ", "  #  ", "     ", "     "])
  assert M.check_path(maze, top) == (True, True)
  detour = "".join(["S   G", "ooooo", "  #  ", "     ", "     "])
  assert M.check_path(maze, detour) == (True, False)
  broken = "".join(["Soo G", "     ", "  #  ", "     ", "     "])
  assert M.check_path(maze, broken) == (False, False)
  stray = "".join(["SoooG", "     ", "  #  ", "   o ", "     "])
  assert M.check_path(maze, stray) == (False, False)
  branch = "".join(["SoooG", "  o  ", "  #  ", "     ", "     "])
  assert M.check_path(maze, branch) == (False, False)
  walled = "".join(["S # G", "     ", "     ", "     ", "     "])
  through_wall = "".join(["SoooG", "     ", "     ", "     ", "     "])
  assert M.check_path(walled, through_wall) == (False, False)
  assert M.check_path(walled, "".join(["S # G", "ooooo", "     ", "     ", "     "])) == (
    True,
    True,
  )
  # another shortest path of a generated maze (different tie-break) is accepted too
  q, a, _ = small
  n = SIZE
  found_other = False
  for qi, ai in zip(q, a):
    alt = _alt_path(qi.reshape(n, n))
    assert M.check_path(qi, alt) == (True, True)
    found_other |= not np.array_equal(alt.ravel(), ai)
  assert found_other
  # a path one cell short is invalid
  cut = a[0].copy()
  cut[np.flatnonzero(cut == M.PATH)[0]] = M.FREE
  assert M.check_path(q[0], cut) == (False, False)


def _alt_path(grid):
  """Shortest path with the reverse tie-break order (right, left, down, up)."""
  goal = tuple(np.argwhere(grid == M.GOAL)[0])
  dist = _bfs(grid, goal)
  cur = tuple(np.argwhere(grid == M.START)[0])
  out = grid.copy()
  while dist[cur] > 1:
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
      p = (cur[0] + dr, cur[1] + dc)
      if p in dist and dist[p] == dist[cur] - 1:
        cur = p
        break
    out[cur] = M.PATH
  return out


def _tree_bytes(root: Path) -> dict:
  return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_deterministic_across_workers(tmp_path):
  kw = dict(size=8, train_size=6, test_size=4, min_path=10, seed=5, progress=False)
  a = M.build_maze_dataset(tmp_path / "a", workers=1, **kw)
  b = M.build_maze_dataset(tmp_path / "b", workers=2, **kw)
  assert _tree_bytes(a) == _tree_bytes(b)  # every file, maze_stats.json included (no timings)
  meta, sets = read_split(a, "test")
  assert meta.vocab_size == 6 and meta.seq_len == 64 and meta.ignore_label_id == 0
  assert sets["all"].inputs.shape == (4, 64)
  assert read_identifiers(a) == ["<blank>"]
  train = read_split(a, "train")[1]["all"].inputs
  assert not {x.tobytes() for x in train} & {x.tobytes() for x in sets["all"].inputs}
  # cached: same args -> same directory, untouched
  mtime = (a / "train" / "all__inputs.npy").stat().st_mtime_ns
  M.build_maze_dataset(tmp_path / "a", workers=1, **kw)
  assert (a / "train" / "all__inputs.npy").stat().st_mtime_ns == mtime


def test_dihedral_augmentation_keeps_paths_shortest(tmp_path):
  out = M.build_maze_dataset(
    tmp_path / "aug",
    size=8,
    train_size=3,
    test_size=2,
    min_path=10,
    seed=1,
    aug=True,
    workers=1,
    progress=False,
  )
  meta, sets = read_split(out, "train")
  data = sets["all"]
  assert data.inputs.shape[0] == 24 and meta.total_groups == 3
  assert list(data.group_indices) == [0, 8, 16, 24]
  for q, a in zip(data.inputs, data.labels):
    assert M.check_path(q, a) == (True, True)
  assert read_split(out, "test")[1]["all"].inputs.shape[0] == 2


def test_csv_round_trip(tmp_path, small):
  inputs, labels, infos = small
  folder = tmp_path / "csv"
  folder.mkdir()
  M.write_csv(folder / "train.csv", inputs[:8], labels[:8], [i["path_len"] for i in infos[:8]])
  M.write_csv(folder / "test.csv", inputs[8:], labels[8:])
  out = M.build_maze_dataset(tmp_path / "fromcsv", size=SIZE, from_csv=folder, progress=False)
  np.testing.assert_array_equal(read_split(out, "train")[1]["all"].labels, labels[:8])
  np.testing.assert_array_equal(read_split(out, "test")[1]["all"].inputs, inputs[8:])


def _csv(path, rows):
  path.write_text("source,question,answer,rating\n" + "".join(",".join(r) + "\n" for r in rows))


@pytest.mark.parametrize(
  "rows, size, message",
  [
    ([["s", "S  G", "SooG"]], None, "4 fields"),
    ([["s", "S  G ", "SooG ", "1"]], None, "not one square grid"),
    ([["s", "S#G   ###", "S#G   ###", "0"]], None, "answer is not a connected"),
    ([["s", "S#G###   ", "S#G###   ", "0"]], None, "no path"),
    ([["s", "S G?", "S G?", "0"]], None, "unknown maze character"),
    ([["s", "SG  ", "SG  ", "1"]], 3, "expected 3x3"),
    ([["s", "S#G#", "SoG#", "1"]], None, "answer differs"),
  ],
)
def test_bad_csv(tmp_path, rows, size, message):
  _csv(tmp_path / "train.csv", rows)
  _csv(tmp_path / "test.csv", rows)
  out = tmp_path / "out"
  with pytest.raises(M.MazeError, match=message):
    M.build_maze_dataset(out, size=size, from_csv=tmp_path, progress=False)
  assert not out.exists()
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_bad_settings_and_mazes():
  with pytest.raises(M.MazeError, match="no path"):
    M.solve("S#" + "#G")
  with pytest.raises(M.MazeError, match="exactly one start"):
    M.solve("    ")
  with pytest.raises(M.MazeError, match="min_path"):
    M.generate_mazes(1, size=6, min_path=40, workers=1, progress=False)
  with pytest.raises(M.MazeError, match="size"):
    M.generate_mazes(1, size=100, min_path=10, workers=1, progress=False)
  with pytest.raises(M.MazeError, match="prediction shape"):
    M.check_path("S  G", "SooG" + "    " * 3)


def test_cli(tmp_path, capsys):
  assert (
    M.main(
      [
        "--out",
        str(tmp_path / "cli"),
        "--size",
        "8",
        "--train-size",
        "2",
        "--test-size",
        "2",
        "--min-path",
        "10",
        "--workers",
        "1",
      ]
    )
    == 0
  )
  assert "path length mean" in capsys.readouterr().out
  with pytest.raises(M.MazeError, match="min_path"):
    M.main(["--out", str(tmp_path / "bad"), "--size", "8", "--min-path", "60", "--workers", "1"])


@pytest.mark.parametrize(
  "argv, message",
  [
    (["--train-size", "-5"], "train_size (--train-size) must be an integer at least 1, got -5"),
    (["--test-size", "0"], "test_size (--test-size) must be an integer at least 1, got 0"),
    (["--size", "8", "--min-path", "60"], "min_path (--min-path) must be in [0, 32)"),
    (["--size", "100"], "maze size must be in [2, 64]"),
    (
      ["--size", "8", "--workers", "0", "--train-size", "2", "--test-size", "1"],
      "workers (--workers) must be at least 1",
    ),
  ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
  assert errors.guard(M.main, ["--out", str(tmp_path / "o"), *argv]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and message in err, err
  assert not (tmp_path / "o").exists()


def test_small_size_gets_a_fitting_default_min_path(tmp_path, capsys):
  assert M.default_min_path(30) == 110 and M.default_min_path(10) == 12
  out = tmp_path / "m10"
  assert (
    errors.guard(
      M.main,
      [
        "--out",
        str(out),
        "--size",
        "10",
        "--train-size",
        "3",
        "--test-size",
        "2",
        "--workers",
        "1",
      ],
    )
    == 0
  )
  assert json.loads((out / "build_args.json").read_text())["min_path"] == 12
  train = read_split(out, "train")[1]["all"]
  for q, a in zip(train.inputs, train.labels):
    assert (a == M.PATH).sum() + 1 > 12 and M.check_path(q, a) == (True, True)


def test_help_shows_defaults(capsys):
  with pytest.raises(SystemExit):
    M.main(["--help"])
  text = capsys.readouterr().out
  assert "(default: 30)" in text and "(default: 1000)" in text and "(default: None)" not in text
