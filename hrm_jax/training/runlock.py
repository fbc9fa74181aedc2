"""One training per run directory: `RUN_DIR/lock`, an flock-ed file naming its owner.

  with RunLock(run_dir):      # raises RunLocked if a live training holds it
    ...train...               # released on exit, on an exception and on Ctrl-C

The lock is an advisory `flock` on the file, which the kernel drops when the
owner dies, however it dies; the file also records the owner's pid and host
for the messages. A lock file left by a process that is gone (SIGKILL, a crash)
is stale: it is taken over with one printed line. On a filesystem without
flock the pid is checked instead (a lock from another host is then refused,
with a hint naming the file to delete once that run is known to be gone).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from hrm_jax.errors import UserError

LOCK_NAME = "lock"


class RunLocked(UserError):
  """Another training holds the run directory."""


def _pid_alive(pid) -> bool:
  if not isinstance(pid, int) or pid <= 0:
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # exists, owned by another user
  return True


class RunLock:
  """An exclusive lock on `run_dir` for the lifetime of one training (a context manager).

  Args:
    run_dir: the run directory (created if missing).
    enabled: False on processes other than 0 of a multi-host run (they take no lock).
  """

  def __init__(self, run_dir: str | os.PathLike, enabled: bool = True):
    self.path = Path(run_dir) / LOCK_NAME
    self.enabled = enabled
    self.owner = {"pid": os.getpid(), "host": socket.gethostname()}
    self._fd: int | None = None

  def _refuse(self, owner: dict) -> RunLocked:
    where = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
    since = f", since {owner['since']}" if owner.get("since") else ""
    return RunLocked(
      f"{self.path.parent} is in use by another training ({where}{since})",
      hint="wait for it to end, or pass another --config.run_dir",
    )

  def acquire(self) -> None:
    """Take the lock; raises RunLocked if a live training holds it."""
    if not self.enabled or self._fd is not None:
      return
    for _ in range(10):  # the file may be replaced while we open it
      try:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      except OSError as e:
        raise UserError(
          f"run directory {self.path.parent} is not writable ({e.strerror or e})",
          hint="pass a writable --config.run_dir",
        ) from e
      owner = _read(fd)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        os.close(fd)
        raise self._refuse(owner) from None
      except OSError:  # no flock here: judge by the recorded pid
        if owner.get("pid") != self.owner["pid"] and (
          owner.get("host") not in (None, self.owner["host"]) or _pid_alive(owner.get("pid"))
        ):
          os.close(fd)
          err = self._refuse(owner)
          err.hint = f"if that training is gone, delete {self.path}"
          raise err from None
      try:
        same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
      except FileNotFoundError:
        same = False
      if not same:  # released (unlinked) between open and flock
        os.close(fd)
        continue
      owner = _read(fd)
      if owner.get("pid") is not None:
        print(
          f"taking over the stale lock of pid {owner['pid']} on {owner.get('host', '?')} "
          f"(no longer running): {self.path}"
        )
      os.ftruncate(fd, 0)
      os.pwrite(
        fd, json.dumps({**self.owner, "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0
      )
      os.fsync(fd)
      self._fd = fd
      return
    raise RunLocked(f"{self.path}: could not take the lock (it keeps being replaced)")

  def release(self) -> None:
    """Give the lock back: remove the file, then drop the flock."""
    if self._fd is None:
      return
    fd, self._fd = self._fd, None
    try:
      if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
        self.path.unlink()
    except OSError:
      pass
    os.close(fd)

  def __enter__(self) -> "RunLock":
    self.acquire()
    return self

  def __exit__(self, *exc) -> None:
    self.release()


def _read(fd: int) -> dict:
  """The owner recorded in an open lock file ({} if empty or torn)."""
  try:
    raw = os.pread(fd, 4096, 0)
    owner = json.loads(raw) if raw.strip() else {}
  except (OSError, ValueError):
    return {}
  return owner if isinstance(owner, dict) else {}
