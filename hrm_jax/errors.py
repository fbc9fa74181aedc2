"""The one base class of mistakes a user can make and fix (no dependencies)."""
from __future__ import annotations


class UserError(Exception):
  """A bad input, file or setting. `str(e)` says what is wrong; `hint` what to change.

  Command-line tools print these as one line (plus the hint) and exit with
  `exit_code`, without a traceback (see `hrm_jax.cli.guard`).
  """
  exit_code = 2

  def __init__(self, message: str = "", hint: str | None = None):
    super().__init__(message)
    self.hint = hint
