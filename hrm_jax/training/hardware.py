"""What this machine's CPU can do, where that changes the advice a run should print.

A CPU with bf16 dot instructions (x86 AVX-512 BF16 or AMX, aarch64 BF16) runs bf16 matmuls
at about twice its f32 rate; one without runs them on its f32 units plus converts, slower
than float32 (0.6x in one measured run, docs/performance.md). The paper configs keep the
reference's bfloat16 either way; a run on such a CPU says once that float32 is faster there.
"""

from __future__ import annotations

import platform
from pathlib import Path

BF16_DOT_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # /proc/cpuinfo names (x86, x86, aarch64)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str] | None]:
  """The CPU's model name and feature flags; flags are None where the OS does not list them."""
  model = platform.machine()  # replaced by the model name where cpuinfo gives one
  try:
    text = cpuinfo.read_text()
  except OSError:
    return model, None
  flags: set[str] = set()
  for line in text.splitlines():
    key, _, value = line.partition(":")
    key = key.strip().lower()
    if key == "model name" and value.strip():
      model = value.strip()
    elif key in ("flags", "features"):
      flags.update(value.split())
  return model, flags


def bf16_dots(flags: set[str] | None) -> list[str] | None:
  """The bf16 dot instructions among `flags` (empty: none), or None when flags are unknown."""
  return None if flags is None else sorted(set(BF16_DOT_FLAGS) & flags)


def bf16_advice(compute_dtype: str, backend: str, flags: set[str] | None) -> str | None:
  """One line for a bf16 run on a CPU known to lack bf16 dot instructions, else None."""
  if compute_dtype != "bfloat16" or backend != "cpu" or bf16_dots(flags) != []:
    return None
  return (
    "note: this CPU has no bf16 dot instructions (AVX-512 BF16, AMX or ARM BF16), so bf16 "
    "matmuls run slower than float32 here: --config.model.compute_dtype=float32 trains faster"
  )
