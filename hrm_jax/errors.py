"""UserError: the base class of mistakes a user can fix; Interrupted: a handled Ctrl-C."""
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


class Interrupted(KeyboardInterrupt):
  """Ctrl-C (or SIGTERM), handled: `str(e)` says what was kept and how to go on."""
  exit_code = 130
