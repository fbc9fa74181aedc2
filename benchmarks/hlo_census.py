"""What XLA compiled into the train step: matmul operand types, and per recurrent loop kernels,
matmuls and converts.

  python benchmarks/hlo_census.py                               # HRM small, f32 and bf16
  python benchmarks/hlo_census.py --arch trm --size paper --dtypes bfloat16 --dump /tmp/hlo

Per dtype, the matmuls of the whole compiled (optimised) train step by their operands'
element types (a bf16 step whose matmuls take f32 operands runs them at the f32 rate), then
for every `while` loop whose body runs a matmul, one line: top-level kernels of one
iteration (fusions and other ops XLA launches), matmuls, and converts (inside fusions too)
with the elements they convert. The recurrent scans of the H/L cycles are these loops;
their iteration is the cost every cycle repeats.
A bf16 graph that converts far more elements than its f32 twin, or launches more kernels,
spends its time on dtype traffic rather than matmuls (docs/performance.md).
"""

from __future__ import annotations

import argparse
import collections
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import step  # noqa: E402  (benchmarks/step.py: the configs and the compiled step)

# An HLO instruction: "%name = TYPE op(operands)", TYPE an array type or a (tuple)
INSTRUCTION = re.compile(r"^(?:ROOT )?(%?[\w.\-]+) = (\(.*?\)|\S+) ([a-z][\w\-]*)\(([^)]*)\)?")
_CALLS = re.compile(r"(?:calls|to_apply|body|condition)=%?([\w.\-]+)")
_HEADER = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$")


def computations(hlo: str) -> dict[str, list[str]]:
  """{computation name: its instruction lines} of an HLO module's text."""
  comps, name = {}, None
  for line in hlo.splitlines():
    m = _HEADER.match(line)
    if m and not line.startswith(" "):
      name = m.group(1)
      comps[name] = []
    elif name and line.startswith("  "):
      comps[name].append(line.strip())
  return comps


def _elements(shape: str) -> int:
  dims = re.search(r"\[([\d,]*)\]", shape)
  return math.prod(int(d) for d in dims.group(1).split(",") if d) if dims else 1


def census(comps: dict[str, list[str]], name: str, top: bool = True) -> collections.Counter:
  """Counts of one computation, the computations it calls included (not nested loops):
  kernels (its top-level ops), dots, converts and converted elements."""
  c = collections.Counter()
  for line in comps.get(name, []):
    m = INSTRUCTION.match(line)
    if not m:
      continue
    _, shape, op, _ = m.groups()
    if top and op not in ("parameter", "get-tuple-element", "tuple", "constant", "bitcast"):
      c["kernels"] += 1
    if op in ("dot", "convolution"):
      c["dots"] += 1
    if op == "convert":
      c["converts"] += 1
      c["converted elements"] += _elements(shape)
    if op != "while":
      for callee in _CALLS.findall(line):
        c.update(census(comps, callee, top=False))
  return c


def dot_operand_types(comps: dict[str, list[str]]) -> collections.Counter:
  """Every matmul of the module (fused or not, forward and backward), counted by its
  operands' element types, e.g. {"bf16 x bf16": 40, "f32 x f32": 8}."""
  c = collections.Counter()
  for lines in comps.values():
    types = {}  # instruction name -> element type, within one computation
    for m in filter(None, map(INSTRUCTION.match, lines)):
      name, shape, op, operands = m.groups()
      types[name] = shape.split("[")[0]
      if op == "dot":
        c[" x ".join(types.get(a.strip(), "?") for a in operands.split(","))] += 1
  return c


def loop_bodies(comps: dict[str, list[str]]) -> list[str]:
  """The body computations of every while loop, in the order they appear."""
  return [
    re.search(r"body=%?([\w.\-]+)", line).group(1)
    for lines in comps.values()
    for line in lines
    if (m := INSTRUCTION.match(line)) and m.group(3) == "while"
  ]


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--arch", default="hrm", choices=step.ARCHS)
  ap.add_argument("--size", default="small", choices=step.SIZES)
  ap.add_argument("--dtypes", default="float32,bfloat16", help="compute dtypes, comma list")
  ap.add_argument("--dump", help="also write each optimised HLO module to this folder")
  args = ap.parse_args()
  print(f"{'dtype':9} {'loop body':40} {'kernels':>7} {'dots':>4} {'converts':>8} {'elements':>12}")
  for dtype in args.dtypes.split(","):
    cfg = step.config(args.arch, args.size).replace(compute_dtype=dtype)
    _, compiled = step.compile_step(cfg, step.BATCH[args.size])
    hlo = compiled.as_text()
    if args.dump:
      Path(args.dump).mkdir(parents=True, exist_ok=True)
      (Path(args.dump) / f"{args.arch}_{args.size}_{dtype}.hlo.txt").write_text(hlo)
    comps = computations(hlo)
    dots = ", ".join(f"{n} {k}" for k, n in sorted(dot_operand_types(comps).items()))
    print(f"{dtype:9} {'the whole step: matmuls by operand types':40} {dots}")
    for body in loop_bodies(comps):
      c = census(comps, body)
      if c["dots"]:
        print(
          f"{dtype:9} {body[:40]:40} {c['kernels']:>7} {c['dots']:>4} {c['converts']:>8} "
          f"{c['converted elements']:>12,}"
        )


if __name__ == "__main__":
  main()
