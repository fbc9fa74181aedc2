"""Where a train step's time goes, kernel by kernel: a profiler trace of the compiled step,
each kernel attributed to the model operation XLA compiled it from.

  python benchmarks/kernels.py                              # HRM small, bf16
  python benchmarks/kernels.py --size paper --dtypes float32,bfloat16 --top 30
  python benchmarks/kernels.py --sum '/attn/' --sum '/attn/(?!qkv|out)'   # + subtotals

Per dtype: the step time, its kernels' time by kind (matmuls, transposes and copies,
converts, reductions, other elementwise work of the model and its gradient, and the
"update": what runs outside the gradient, the optimizer and the metrics), then the
`--top` most costly (kernel kind, model operation) pairs with their share and how many
distinct kernels make them up.
Times are the kernels' own (jax.profiler's trace of `--steps` steps, per step; on a CPU,
XLA runs independent kernels side by side on its threads, so their sum can exceed the step
and a kernel that shared the cores reads slower than it runs alone); the kinds
come from the compiled HLO: a fusion is a matmul when it computes a dot, and it is named by
the op_name metadata of its root (e.g. `jvp()/mlp/gate_up/...k,kn->...n/dot_general`:
the no-grad cycles' SwiGLU up-projection; `transpose(jvp(...))`: the gradient). A bf16 step
whose matmuls shrank but whose other kinds did not is paying for work its dtype cannot speed
up (docs/performance.md).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import machine  # noqa: E402  (benchmarks/machine.py: what ran, on what)
import step  # noqa: E402  (benchmarks/step.py: the configs and the train step)
from hlo_census import INSTRUCTION, computations  # noqa: E402

_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OP_NAME = re.compile(r'op_name="([^"]+)"')
_NOISE = re.compile(r"jit\(train_step\)/|while/body/|closed_call/|ReasoningModule/|layers_\d+/")
_CONTAINERS = ("while", "conditional", "call")  # their time is their body's kernels'


def kind_of(body: str, op: str) -> str:
  """The kind of a kernel computing `body` (its HLO text) for model operation `op`."""
  if " dot(" in body or " convolution(" in body:
    return "matmul"
  if op != "?" and not op.startswith(("jvp(", "transpose(")):  # outside the gradient
    return "update"
  if " transpose(" in body or " copy(" in body or " concatenate(" in body:
    return "transpose/copy"
  if " reduce(" in body:
    return "reduction"
  if " convert(" in body:
    return "convert"
  return "elementwise"


def kernel_table(hlo: str) -> dict[str, tuple[str, str]]:
  """{kernel name: (kind, model operation)} for the kernels of a compiled module: fusions
  (kind from the computation they call) and unfused instructions."""
  comps, table = computations(hlo), {}
  for lines in comps.values():
    for line in lines:
      m = INSTRUCTION.match(line)  # (name, type, opcode, operands)
      if not m or m.group(3) in _CONTAINERS:
        continue
      called = _CALLS.search(line)
      body = "\n".join(comps.get(called.group(1), [])) if called else " " + line.split(" = ", 1)[1]
      op = _OP_NAME.search(line)
      op = _NOISE.sub("", op.group(1)) if op else "?"  # XLA's own copies have none
      table[m.group(1).lstrip("%")] = (kind_of(body, op), op)
  return table


def kernel_times(run, steps: int) -> dict[str, float]:
  """{kernel name: seconds per step} over `steps` calls of `run()` under jax.profiler."""
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir)
    for _ in range(steps):
      run()
    jax.profiler.stop_trace()
    (pb,) = Path(trace_dir).rglob("*.xplane.pb")
    data = jax.profiler.ProfileData.from_file(str(pb))
  times = collections.Counter()
  for plane in data.planes:
    for line in plane.lines:
      for event in line.events:
        times[event.name] += event.duration_ns * 1e-9 / steps
  return times


def profile(cfg, batch: int, steps: int, top: int, sums: list[str]) -> None:
  train_step, state, carry, data = step.setup(cfg, batch)
  compiled = train_step.lower(state, carry, data, jax.random.key(0)).compile()
  table = kernel_table(compiled.as_text())
  box = {"state": state, "carry": carry}

  def run():
    box["state"], box["carry"], m = compiled(box["state"], box["carry"], data, jax.random.key(1))
    jax.block_until_ready(m)

  for _ in range(2):  # warm-up
    run()
  t = time.perf_counter()
  for _ in range(steps):
    run()
  step_s = (time.perf_counter() - t) / steps
  times = kernel_times(run, steps)
  by_kind, by_op, calls = collections.Counter(), collections.Counter(), collections.Counter()
  for name, seconds in times.items():
    if name in table:
      by_kind[table[name][0]] += seconds
      by_op[table[name]] += seconds
      calls[table[name]] += 1
  total = sum(by_kind.values())
  print(
    f"\n{cfg.compute_dtype}: step {step_s * 1e3:.1f} ms (untraced), kernels {total * 1e3:.1f} ms"
  )
  print("  " + ", ".join(f"{k} {v * 1e3:.1f} ({v / total:.0%})" for k, v in by_kind.most_common()))
  print(f"  {'ms':>8} {'share':>6} {'kernels':>7}  kind / operation")
  for (kind, op), seconds in by_op.most_common(top):
    share = seconds / total
    print(f"  {seconds * 1e3:8.2f} {share:6.1%} {calls[(kind, op)]:7d}  {kind:14} {op[:100]}")
  for pattern in sums:
    seconds = sum(v for (_, op), v in by_op.items() if re.search(pattern, op))
    print(f"  operations matching {pattern!r}: {seconds * 1e3:.1f} ms ({seconds / total:.1%})")


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("--arch", default="hrm", choices=step.ARCHS)
  ap.add_argument("--size", default="small", choices=step.SIZES)
  ap.add_argument("--dtypes", default="bfloat16", help="comma list of compute dtypes")
  ap.add_argument("--steps", type=int, default=3, help="traced steps (per-step means)")
  ap.add_argument("--top", type=int, default=20, help="operations listed")
  ap.add_argument(
    "--sum", action="append", default=[], help="also total the operations matching this regex"
  )
  args = ap.parse_args()
  print(machine.describe())
  print(f"{args.arch} {args.size}, batch {step.BATCH[args.size]}, {jax.devices()[0].platform}")
  for dtype in args.dtypes.split(","):
    cfg = step.config(args.arch, args.size).replace(compute_dtype=dtype)
    profile(cfg, step.BATCH[args.size], args.steps, args.top, args.sum)


if __name__ == "__main__":
  main()
