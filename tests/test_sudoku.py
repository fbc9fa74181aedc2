"""Sudoku generator: uniqueness (independent solver), augmentations, symmetry key, CSV, caching."""
import json

import numpy as np
import pytest

from hrm_jax.data import format as fmt
from hrm_jax.data import sudoku
from hrm_jax.data.augment import apply_transforms, canonical_key, is_valid_solution, random_transforms


def _count_solutions(grid, limit=2):
    """Independent plain backtracking counter (no shared code with the generator's solver)."""
    g = [int(v) for v in grid]

    def ok(cell, v):
        r, c = divmod(cell, 9)
        br, bc = r // 3 * 3, c // 3 * 3
        return all(g[r * 9 + i] != v and g[i * 9 + c] != v and g[(br + i // 3) * 9 + bc + i % 3] != v
                   for i in range(9))

    def rec():
        best, options = None, None
        for cell in range(81):
            if g[cell] == 0:
                opts = [v for v in range(1, 10) if ok(cell, v)]
                if best is None or len(opts) < len(options):
                    best, options = cell, opts
                    if len(opts) <= 1:
                        break
        if best is None:
            return 1
        total = 0
        for v in options:
            g[best] = v
            total += rec()
            g[best] = 0
            if total >= limit:
                break
        return total

    return rec()


@pytest.fixture(scope="module")
def puzzles():
    return sudoku.generate_puzzles(4, seed=5, difficulty="hard", climb_steps=2, min_guesses=0,
                                   workers=1, progress=False)


def test_generated_puzzles_unique_and_minimal(puzzles):
    q, a, ratings = puzzles
    assert q.shape == a.shape == (4, 81) and ratings.shape == (4,)
    for p, s in zip(q, a):
        assert is_valid_solution(s) and np.all((p == 0) | (p == s))
        assert _count_solutions(p) == 1
    for clue in np.flatnonzero(q[0])[:3]:  # minimal: removing a clue breaks uniqueness
        reduced = q[0].copy()
        reduced[clue] = 0
        assert _count_solutions(reduced) >= 2
    assert len({canonical_key(p) for p in q}) == 4


def test_easy_keeps_clues():
    q, a, _ = sudoku.generate_puzzles(3, seed=1, difficulty="easy", workers=1, progress=False)
    assert ((q == 0).sum(1) <= 40).all() and all(_count_solutions(p) == 1 for p in q)


def test_augmentations_keep_validity_and_key(puzzles):
    q, a, _ = puzzles
    cell_src, digit_map = random_transforms(np.random.default_rng(0), 20)
    for i, (p, s) in enumerate(zip(q[:2], a[:2])):
        tp, ts = apply_transforms(p, cell_src, digit_map), apply_transforms(s, cell_src, digit_map)
        key = canonical_key(p)
        for x, y in zip(tp, ts):
            assert is_valid_solution(y) and np.all((x == 0) | (x == y))
            assert canonical_key(x) == key
        if i == 0:
            assert _count_solutions(tp[0]) == 1
    assert canonical_key(q[0]) != canonical_key(q[1])


def test_build_deterministic_cached_and_disjoint(tmp_path):
    kw = dict(train_size=3, test_size=2, num_aug=4, seed=11, difficulty="medium", progress=False)
    d1 = sudoku.build_sudoku(tmp_path / "a", workers=1, **kw)
    d2 = sudoku.build_sudoku(tmp_path / "b", workers=2, **kw)
    for f in sorted(p.relative_to(d1) for p in d1.rglob("*") if p.is_file()):
        assert (d1 / f).read_bytes() == (d2 / f).read_bytes(), f
    meta, sets = fmt.read_split(d1, "train")
    tr = sets["all"]
    assert (meta.vocab_size, meta.seq_len, meta.total_groups) == (11, 81, 3)
    assert tr.inputs.shape == (15, 81) and tr.group_indices.tolist() == [0, 5, 10, 15]
    assert tr.inputs.min() >= 1 and tr.labels.min() >= 2
    _, test_sets = fmt.read_split(d1, "test")
    train_keys = {canonical_key(x - 1) for x in tr.inputs}
    assert len(train_keys) == 3
    assert not train_keys & {canonical_key(x - 1) for x in test_sets["all"].inputs}
    assert fmt.read_identifiers(d1) == ["<blank>"]
    stamp = (d1 / "train" / "all__inputs.npy").stat().st_mtime_ns
    sudoku.build_sudoku(tmp_path / "a", workers=1, **kw)  # cached: not rewritten
    assert (d1 / "train" / "all__inputs.npy").stat().st_mtime_ns == stamp


def _write_csv(path, rows, header="source,question,answer,rating"):  # Sudoku-Extreme's header
    path.write_text("\n".join([header] + rows) + "\n")


def test_csv_build_and_errors(tmp_path, puzzles):
    q, a, _ = puzzles
    rows = [f"x,{''.join('.' if v == 0 else str(v) for v in p)},{''.join(map(str, s))},{i}"
            for i, (p, s) in enumerate(zip(q, a))]
    _write_csv(tmp_path / "train.csv", rows[:3])
    _write_csv(tmp_path / "test.csv", rows[3:])
    out = sudoku.build_sudoku(tmp_path / "ds", from_csv=tmp_path, train_size=0, test_size=0, num_aug=2, progress=False)
    _, sets = fmt.read_split(out, "train")
    np.testing.assert_array_equal(sets["all"].inputs[0], q[0] + 1)
    bad_cases = {
        "row 3: expected 4 fields": rows[:1] + ["x,1,2"],
        "row 2: question must be 81": [rows[0].replace(",", ",1", 1)],
        "row 2: rating must be an integer": [rows[0].rsplit(",", 1)[0] + ",hard"],
        "row 2: answer is not a valid": [",".join(rows[0].split(",")[:2] + ["1" * 81, "0"])],
        "row 2: answer contradicts a clue": [",".join(rows[0].split(",")[:2]
                                                      + [rows[1].split(",")[2], "0"])],
    }
    for message, body in bad_cases.items():
        _write_csv(tmp_path / "train.csv", body)
        with pytest.raises(fmt.DatasetFormatError, match=message):
            sudoku.build_sudoku(tmp_path / "bad", from_csv=tmp_path, progress=False)
        assert not (tmp_path / "bad").exists()
    _write_csv(tmp_path / "train.csv", rows, header="q,a")
    with pytest.raises(fmt.DatasetFormatError, match="header must be source,question,answer"):
        sudoku.read_sudoku_csv(tmp_path / "train.csv")
    _write_csv(tmp_path / "train.csv", rows, header="source,q,a,rating")  # the short form reads too
    np.testing.assert_array_equal(sudoku.read_sudoku_csv(tmp_path / "train.csv")[0], q)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_small(tmp_path, capsys):
    sudoku.main(["--out", str(tmp_path / "cli"), "--train-size", "2", "--test-size", "1", "--num-aug", "1",
                 "--difficulty", "easy", "--workers", "1", "--quiet"])
    stats = json.loads((tmp_path / "cli" / "sudoku_stats.json").read_text())
    assert stats["train_rating"]["count"] == 2
