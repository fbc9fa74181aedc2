"""Maze grids: tokens, text, BFS distances, the tie-broken solver and the path checker.

Shortest paths are rarely unique, so the stored label follows a fixed tie-break: BFS
distances from the goal, then from the start always step to the first neighbour (up, down,
left, right) one step closer to the goal. `check_path` scores a prediction by validity and
optimality instead of exact match. `hrm_jax.data.maze` re-exports the public names.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from hrm_jax.errors import UserError

CHARSET = "# SGo"
PAD, WALL, FREE, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
VOCAB_SIZE = 6
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # tie-break order: up, down, left, right
_CHAR_TO_TOKEN = np.zeros(256, np.int64)
_CHAR_TO_TOKEN[[ord(ch) for ch in CHARSET]] = np.arange(1, len(CHARSET) + 1)


class MazeError(UserError, ValueError):
  """A maze, CSV row or generator setting is invalid; the message says which and why."""


def bfs_distances(free: np.ndarray, source: tuple[int, int]) -> np.ndarray:
  """BFS move counts from `source` over a boolean free-cell grid [n, m]; -1 where unreachable."""
  n, m = free.shape
  dist = np.full((n, m), -1, np.int64)
  flat_free = free.ravel().tolist()
  d = [-1] * (n * m)
  s = source[0] * m + source[1]
  d[s] = 0
  queue = deque([s])
  while queue:
    u = queue.popleft()
    r, c = divmod(u, m)
    nd = d[u] + 1
    for dr, dc in _STEPS:
      rr, cc = r + dr, c + dc
      if 0 <= rr < n and 0 <= cc < m:
        v = rr * m + cc
        if flat_free[v] and d[v] < 0:
          d[v] = nd
          queue.append(v)
  dist.ravel()[:] = d
  return dist


def find_cell(grid: np.ndarray, token: int, what: str) -> tuple[int, int]:
  """(row, col) of the one cell holding `token`; MazeError naming `what` otherwise."""
  where = np.argwhere(grid == token)
  if len(where) != 1:
    raise MazeError(
      f"maze must have exactly one {what} cell ({CHARSET[token - 1]!r}), found {len(where)}"
    )
  return int(where[0, 0]), int(where[0, 1])


def _as_square(grid: np.ndarray | str, what: str) -> np.ndarray:
  """A token grid [n, n] from a token array ([n*n] or [n, n]) or a character string."""
  if isinstance(grid, str):
    grid = chars_to_tokens(grid)
  arr = np.asarray(grid)
  if arr.ndim == 1:
    n = int(round(len(arr) ** 0.5))
    if n * n != len(arr):
      raise MazeError(f"{what}: {len(arr)} cells is not a square grid")
    arr = arr.reshape(n, n)
  if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
    raise MazeError(f"{what}: expected a square grid, got shape {arr.shape}")
  return arr.astype(np.int64)


def chars_to_tokens(text: str) -> np.ndarray:
  """Map a string over "# SGo" to tokens 1..5 (flat int64 array)."""
  bad = set(text) - set(CHARSET)
  if bad:
    raise MazeError(f"unknown maze character(s) {sorted(bad)!r}; allowed {CHARSET!r}")
  return _CHAR_TO_TOKEN[np.frombuffer(text.encode("ascii"), np.uint8)]


def tokens_to_chars(tokens: np.ndarray) -> str:
  """Inverse of chars_to_tokens for a flat or 2-D token array (PAD is not allowed)."""
  flat = np.asarray(tokens).ravel()
  if flat.size and (flat.min() < 1 or flat.max() > len(CHARSET)):
    raise MazeError("maze tokens must be in 1..5 to be written as characters")
  return "".join(CHARSET[t - 1] for t in flat.tolist())


def solve(maze: np.ndarray | str) -> np.ndarray:
  """Return the label grid [n, n]: the maze with the tie-broken shortest S->G path marked PATH.

  Raises MazeError if the maze is malformed or has no path from start to goal.
  """
  grid = _as_square(maze, "maze")
  start, goal = find_cell(grid, START, "start"), find_cell(grid, GOAL, "goal")
  if not np.isin(grid, (WALL, FREE, START, GOAL)).all():
    raise MazeError("maze input may only hold wall, free, start and goal tokens")
  dist = bfs_distances(grid != WALL, goal)
  if dist[start] < 0:
    raise MazeError("maze has no path from start to goal")
  label = grid.copy()
  n = grid.shape[0]
  r, c = start
  while dist[r, c] > 1:
    for dr, dc in _STEPS:
      rr, cc = r + dr, c + dc
      if 0 <= rr < n and 0 <= cc < n and dist[rr, cc] == dist[r, c] - 1:
        r, c = rr, cc
        break
    label[r, c] = PATH
  return label


def check_path(maze_grid: np.ndarray | str, predicted: np.ndarray | str) -> tuple[bool, bool]:
  """Score a predicted label grid against a maze: returns (valid, optimal).

  valid: the PATH cells all lie on free cells of the maze and, together with S and G,
  form one simple 4-neighbour chain from S to G (S and G have one chain neighbour each,
  every path cell two, and the chain is connected). optimal: valid and its length (path
  cells + 1 moves) equals the BFS shortest distance. Other cells of the prediction are
  not looked at. Both grids may be token arrays ([n*n] or [n, n]) or character strings.
  """
  grid = _as_square(maze_grid, "maze")
  pred = _as_square(predicted, "prediction")
  if pred.shape != grid.shape:
    raise MazeError(f"prediction shape {pred.shape} differs from maze shape {grid.shape}")
  start, goal = find_cell(grid, START, "start"), find_cell(grid, GOAL, "goal")
  on_path = pred == PATH
  if (on_path & (grid != FREE)).any():
    return False, False
  chain = on_path.copy()
  chain[start] = chain[goal] = True
  padded = np.pad(chain, 1)
  degree = padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
  if degree[start] != 1 or degree[goal] != 1 or (degree[on_path] != 2).any():
    return False, False
  reach = bfs_distances(chain, start)
  if reach[goal] < 0 or (reach[chain] < 0).any():
    return False, False
  shortest = bfs_distances(grid != WALL, goal)[start]
  return True, bool(on_path.sum() + 1 == shortest)
