"""What a user can get wrong, and how every command-line tool shows it: one line, no traceback.

  UserError    the base class of mistakes a user can fix (`hint`: what to change)
  Interrupted  a handled Ctrl-C (or SIGTERM)
  guard        runs a tool's `main(argv)`: a UserError or Ctrl-C becomes one line on stderr

  def main(argv=None) -> int: ...             # raises UserError for bad input
  if __name__ == "__main__":
    sys.exit(errors.guard(main))

`--verbose` anywhere on the command line (or HRM_JAX_VERBOSE=1) also prints the
traceback; it is removed from argv before `main` sees it.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Callable, Sequence


class UserError(Exception):
  """A bad input, file or setting. `str(e)` says what is wrong; `hint` what to change.

  Command-line tools print these as one line (plus the hint) and exit with
  `exit_code`, without a traceback (see `guard`).
  """

  exit_code = 2

  def __init__(self, message: str = "", hint: str | None = None):
    super().__init__(message)
    self.hint = hint


class Interrupted(KeyboardInterrupt):
  """Ctrl-C (or SIGTERM), handled: `str(e)` says what was kept and how to go on."""

  exit_code = 130


VERBOSE_FLAG = "--verbose"


def is_verbose(argv: Sequence[str] | None = None) -> bool:
  """True when the user asked for tracebacks."""
  argv = sys.argv[1:] if argv is None else argv
  return VERBOSE_FLAG in argv or os.environ.get("HRM_JAX_VERBOSE", "") not in ("", "0")


def report(e: BaseException, verbose: bool = False) -> int:
  """Print a UserError (or Ctrl-C) the way every tool does; returns the exit code."""
  if verbose:
    traceback.print_exception(e)
  if isinstance(e, KeyboardInterrupt):
    print(str(e) or "interrupted", file=sys.stderr)
    return getattr(e, "exit_code", 130)
  print(f"error: {e}", file=sys.stderr)
  if getattr(e, "hint", None):
    print(f"hint: {e.hint}", file=sys.stderr)
  return getattr(e, "exit_code", 2)


def guard(main: Callable[[list[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
  """Run `main(argv)`; a UserError or Ctrl-C becomes one line on stderr and an exit code."""
  argv = list(sys.argv[1:] if argv is None else argv)
  verbose = is_verbose(argv)
  argv = [a for a in argv if a != VERBOSE_FLAG]
  try:
    return main(argv) or 0
  except (UserError, KeyboardInterrupt) as e:
    return report(e, verbose)
