"""What the CPU can do: its flags are read from cpuinfo, and a bf16 run on a CPU without
bf16 dot instructions is told that float32 is faster there."""

import pytest

from hrm_jax.training import hardware

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx avx2 fma f16c
"""
ZEN4 = ZEN3.replace("AMD EPYC 7B13", "AMD EPYC 9B14").replace("fma", "fma avx512f avx512_bf16")
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes sve bf16 i8mm
"""


@pytest.mark.parametrize(
  "text, model, dots",
  [
    (ZEN3, "AMD EPYC 7B13", []),
    (ZEN4, "AMD EPYC 9B14", ["avx512_bf16"]),
    (GRAVITON3, None, ["bf16"]),
  ],
)
def test_cpu_flags_and_bf16_dots_from_cpuinfo(tmp_path, text, model, dots):
  (tmp_path / "cpuinfo").write_text(text)
  name, flags = hardware.cpu_flags(tmp_path / "cpuinfo")
  if model:
    assert name == model
  assert hardware.bf16_dots(flags) == dots


def test_flags_are_unknown_without_cpuinfo(tmp_path):
  _, flags = hardware.cpu_flags(tmp_path / "missing")
  assert flags is None and hardware.bf16_dots(flags) is None


def test_bf16_advice_only_for_bf16_on_a_cpu_known_to_lack_bf16_dots(tmp_path):
  (tmp_path / "cpuinfo").write_text(ZEN3)
  zen3 = hardware.cpu_flags(tmp_path / "cpuinfo")[1]
  advice = hardware.bf16_advice("bfloat16", "cpu", zen3)
  assert advice.startswith("note:") and "compute_dtype=float32" in advice
  assert hardware.bf16_advice("float32", "cpu", zen3) is None
  assert hardware.bf16_advice("bfloat16", "gpu", zen3) is None
  assert hardware.bf16_advice("bfloat16", "cpu", zen3 | {"avx512_bf16"}) is None
  assert hardware.bf16_advice("bfloat16", "cpu", None) is None  # unknown: say nothing
