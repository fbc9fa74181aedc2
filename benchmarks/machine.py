"""What a benchmark ran: which hrm_jax it imported, and on what CPU.

Every timing benchmark prints `describe()` first, because two mistakes read as results:

- hrm_jax is installed editable (`make install`), so a benchmark run from a `git worktree`
  of another commit imports the checkout's hrm_jax unless PYTHONPATH names the worktree;
  the commit printed is the one of the code that ran.
- The project's CPU machines differ between sessions: an AMD EPYC with AVX-512 BF16 runs
  bf16 x bf16 matmuls natively (about 2x its f32 peak), one without (e.g. Zen 3) runs them
  on its f32 units plus converts (0.6x in one run), which turns every bf16 figure and the
  bf16/f32 MFU ratio upside down.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import jax

import hrm_jax
from hrm_jax.training import hardware


def _git(directory: Path, *args: str) -> str | None:
  try:
    done = subprocess.run(
      ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10
    )
  except (OSError, subprocess.TimeoutExpired):
    return None
  return done.stdout.strip() if done.returncode == 0 else None


def hrm_jax_source() -> str:
  """Where the imported hrm_jax lives and at which commit (with uncommitted changes or not)."""
  package = Path(hrm_jax.__file__).resolve().parent
  commit = _git(package, "rev-parse", "--short", "HEAD")
  if commit is None:
    return f"{package} (not in a git checkout)"
  dirty = _git(package, "status", "--porcelain", "--", ".")
  return f"{package} at {commit}" + (" + uncommitted changes" if dirty else "")


def describe() -> str:
  """Two lines: the hrm_jax that was imported, and the backend / CPU it runs on."""
  device = jax.devices()[0]
  lines = [f"hrm_jax: {hrm_jax_source()}"]
  if device.platform == "cpu":
    model, flags = hardware.cpu_flags()
    dots = hardware.bf16_dots(flags)
    if dots is None:
      bf16 = "bf16 dot instructions unknown (no /proc/cpuinfo)"
    elif dots:
      bf16 = f"bf16 dot instructions: {', '.join(dots)}"
    else:
      bf16 = (
        "no bf16 dot instructions (bf16 matmuls run on f32 units: bf16 figures do not transfer)"
      )
    lines.append(f"cpu: {model}, {os.cpu_count()} cores; {bf16}")
  else:
    lines.append(f"device: {device.device_kind} x {jax.device_count()} ({device.platform})")
  return "\n".join(lines)
