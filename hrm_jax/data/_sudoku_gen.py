"""Seeded Sudoku puzzle generation: difficulty presets, hill climbing on a rating, dedup.

Difficulties:
  easy   unique puzzles with `blanks` (default 40) cells removed; almost all solve by singles.
  medium minimal puzzles (no clue can be removed without losing uniqueness).
  hard   minimal puzzles improved by `climb_steps` steps of hill climbing on the guesses rating
         (remove `climb_drop` clues, restore uniqueness with clues from the solution,
         re-minimise, keep when not easier), kept only when rated >= min_guesses.
  extreme the same climb, longer and on the backtracks rating: mean ~22 backtracks, the mean
         published for Sudoku-Extreme, though by our solver, which guesses more than tdoku,
         Sudoku-Extreme's rater (see `_sudoku_solver.backtracks`): an easier set than theirs.
Two ratings, both from the deterministic solver of `_sudoku_solver` (naked and hidden singles,
branching on the lowest-index cell with the fewest candidates):
  guesses    branching nodes visited until the first solution (`_sudoku_solver.rate`);
  backtracks dead ends of the complete search that finds the solution and proves it unique
             (`_sudoku_solver.backtracks`), the measure Sudoku-Extreme's rating column uses.
Puzzles are kept when rated >= min_guesses and >= min_backtracks (0 unless given).

Candidate puzzle i is a pure function of (seed, i), and candidates are accepted in index order
(rating filter, then dedup up to the symmetry group), so the output is byte-identical for a
given seed whatever the number of worker processes. `hrm_jax.data.sudoku` re-exports the
public names.
"""

from __future__ import annotations

import random
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from hrm_jax.data import _sudoku_solver as solver
from hrm_jax.data._pool import Workers
from hrm_jax.data.augment import canonical_key
from hrm_jax.data.format import BuildSettingError, check_setting

PRESETS: dict[str, dict[str, Any]] = {
  "easy": dict(blanks=40, climb_steps=0, min_guesses=0),
  "medium": dict(blanks=81, climb_steps=0, min_guesses=0),
  "hard": dict(blanks=81, climb_steps=5, min_guesses=3),
  "extreme": dict(blanks=81, climb_steps=50, climb_drop=1, climb_on="backtracks", min_guesses=0),
}
SETTING_DEFAULTS: dict[str, Any] = dict(climb_drop=2, climb_on="guesses", min_backtracks=0)
RATINGS = {"guesses": solver.rate, "backtracks": solver.backtracks}


# ----------------------------------------------------------------------------- one puzzle


def _remove_clues(grid: list[int], rng: random.Random, max_blanks: int = 81) -> list[int]:
  """Blank clues in random order while the solution stays unique (up to max_blanks blanks)."""
  order = [c for c in range(81) if grid[c]]
  rng.shuffle(order)
  return solver.remove_clues(grid, order, max_blanks)


def _restore_uniqueness(grid: list[int], solution: list[int], rng: random.Random) -> list[int]:
  """Add clues of `solution` where a second solution disagrees until the puzzle is unique."""
  grid = list(grid)
  while True:
    sols, _ = solver.solve(grid, 2)
    if len(sols) == 1:
      return grid
    other = sols[0] if sols[0] != solution else sols[1]
    cell = rng.choice([c for c in range(81) if other[c] != solution[c]])
    grid[cell] = solution[cell]


class Candidate(NamedTuple):
  """One generated puzzle: grids of 81 ints (0 = blank) and its two ratings."""

  puzzle: list[int]
  solution: list[int]
  guesses: int
  backtracks: int


def make_candidate(
  seed: int,
  index: int,
  blanks: int,
  climb_steps: int,
  climb_drop: int = 2,
  climb_on: str = "guesses",
) -> Candidate:
  """Candidate puzzle `index` of stream `seed`, climbed `climb_steps` steps on `climb_on`."""
  state = np.random.SeedSequence([seed, 0, index]).generate_state(2)
  rng = random.Random(int(state[0]) << 32 | int(state[1]))
  rate = RATINGS[climb_on]
  solution = solver.random_solution(rng)
  puzzle = _remove_clues(solution, rng, blanks)
  rating = rate(puzzle)
  for _ in range(climb_steps):
    trial = list(puzzle)
    for cell in rng.sample([c for c in range(81) if trial[c]], climb_drop):
      trial[cell] = 0
    trial = _remove_clues(_restore_uniqueness(trial, solution, rng), rng)
    trial_rating = rate(trial)
    if trial_rating >= rating:
      puzzle, rating = trial, trial_rating
  return Candidate(puzzle, solution, solver.rate(puzzle), solver.backtracks(puzzle))


def _candidate_job(job: tuple[Any, ...]) -> tuple[Candidate, bytes]:
  candidate = make_candidate(*job)
  return candidate, canonical_key(np.asarray(candidate.puzzle))


# ----------------------------------------------------------------------------- many puzzles


class Puzzles(NamedTuple):
  """Generated puzzles: puzzles, solutions [n, 81] uint8 (0 = blank); ratings [n] int32."""

  puzzles: np.ndarray
  solutions: np.ndarray
  guesses: np.ndarray
  backtracks: np.ndarray


def generate_puzzles(
  n: int,
  seed: int = 0,
  difficulty: str = "hard",
  *,
  blanks: int | None = None,
  climb_steps: int | None = None,
  min_guesses: int | None = None,
  min_backtracks: int | None = None,
  workers: int | None = None,
  progress: bool = True,
) -> Puzzles:
  """Generate n distinct puzzles (no two related by a symmetry), with both ratings.

  `difficulty` picks a preset from PRESETS; the keyword arguments override it.
  """
  cfg = {
    **SETTING_DEFAULTS,
    **generator_settings(difficulty, blanks, climb_steps, min_guesses, min_backtracks),
  }
  check_setting("n", n, 0)
  seen: set[bytes] = set()
  out: list[Candidate] = []
  next_index, tried = 0, 0
  solver.warm_up()  # once here rather than in every forked worker
  pool = Workers(workers)
  bar = tqdm(total=n, desc=f"sudoku {difficulty}", disable=not progress, unit="puzzle")
  settings = (cfg["blanks"], cfg["climb_steps"], cfg["climb_drop"], cfg["climb_on"])
  try:
    while len(out) < n:
      accept_rate = (len(out) + 1) / (tried + 1)
      size = pool.size
      chunk = max(4 * size, min(4096, int(1.2 * (n - len(out)) / accept_rate) + size))
      jobs = [(seed, i, *settings) for i in range(next_index, next_index + chunk)]
      next_index += chunk
      per_task = 4 if cfg["climb_steps"] < 20 else 1
      for candidate, key in pool.map(_candidate_job, jobs, chunksize=per_task):
        tried += 1
        if (
          len(out) >= n
          or candidate.guesses < cfg["min_guesses"]
          or candidate.backtracks < cfg["min_backtracks"]
          or key in seen
        ):
          continue
        seen.add(key)
        out.append(candidate)
        bar.update(1)
  finally:
    bar.close()
    pool.close()
  return Puzzles(
    np.asarray([c.puzzle for c in out], np.uint8).reshape(n, 81),
    np.asarray([c.solution for c in out], np.uint8).reshape(n, 81),
    np.asarray([c.guesses for c in out], np.int32),
    np.asarray([c.backtracks for c in out], np.int32),
  )


def generator_settings(
  difficulty: str = "hard",
  blanks: int | None = None,
  climb_steps: int | None = None,
  min_guesses: int | None = None,
  min_backtracks: int | None = None,
) -> dict:
  """The preset of `difficulty` with the given overrides, each checked against its range.

  Settings of SETTING_DEFAULTS appear only where the preset or an override sets them, so the
  build arguments of the older presets are what they were.
  """
  if difficulty not in PRESETS:
    raise BuildSettingError(
      f"difficulty (--difficulty) must be one of {sorted(PRESETS)}, got {difficulty!r}"
    )
  cfg = dict(PRESETS[difficulty])
  cfg.update(
    {
      k: v
      for k, v in dict(
        blanks=blanks,
        climb_steps=climb_steps,
        min_guesses=min_guesses,
        min_backtracks=min_backtracks,
      ).items()
      if v is not None
    }
  )
  full = {**SETTING_DEFAULTS, **cfg}
  check_setting("blanks", full["blanks"], 1, 81)
  check_setting("climb_steps", full["climb_steps"], 0)
  check_setting("min_guesses", full["min_guesses"], 0)
  check_setting("min_backtracks", full["min_backtracks"], 0)
  return cfg


def count_solutions(digits_81, limit: int = 2) -> int:
  """Solutions of a puzzle (81 digits, 0 = blank), counted up to `limit` (0: unsolvable)."""
  return solver.count_solutions([int(v) for v in np.asarray(digits_81).ravel()], limit)
