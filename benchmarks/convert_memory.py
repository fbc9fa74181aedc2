"""Peak memory of importing / exporting a checkpoint with a large puzzle-embedding table.

    python benchmarks/convert_memory.py [--rows 1000000] [--dim 512] [--workdir DIR]

Writes a synthetic reference checkpoint (tiny transformer, ROWS x DIM float32 puzzle
table, ~2 GiB at the defaults), then runs `hrm_jax.interop.convert` import and --to-torch
export, each in a fresh child process, and prints each child's peak RSS (VmHWM)
next to the table size. Holding two float32 copies of the table would show as a
peak above 2x the table; the converter stays near 1x (plus the interpreter/JAX).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys, json
def hwm():  # this process's own peak RSS (VmHWM is per address space: not inherited over exec)
  for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
      return int(line.split()[1])
import jax, jax.numpy as jnp
from hrm_jax.interop import convert
from hrm_jax.tools import convert as convert_cli
jnp.zeros(1).block_until_ready()
baseline = hwm()
code = convert_cli.main(sys.argv[1:])
print(json.dumps({"code": code, "baseline_kib": baseline, "peak_kib": hwm()}))
"""


def write_reference(path: Path, rows: int, dim: int) -> int:
  """A reference-style state_dict (D=dim, 1+1 layers) with a rows x dim table; returns its bytes."""
  import torch

  D, V, mlp = dim, 12, 256 * -(-round(4 * dim * 2 / 3) // 256)
  g = torch.Generator().manual_seed(0)
  sd = {
    "inner.H_init": torch.randn(D, generator=g),
    "inner.L_init": torch.randn(D, generator=g),
    "inner.embed_tokens.embedding_weight": torch.randn(V, D, generator=g) * 0.02,
    "inner.lm_head.weight": torch.randn(V, D, generator=g) * 0.02,
    "inner.q_head.weight": torch.zeros(2, D),
    "inner.q_head.bias": torch.full((2,), -5.0),
  }
  table = torch.empty(rows, dim)
  for start in range(0, rows, 1 << 16):  # fill in chunks: no second full-size temporary
    table[start : start + (1 << 16)].normal_(generator=g)
  sd["inner.puzzle_emb.weights"] = table
  for level in ("H", "L"):
    pre = f"inner.{level}_level.layers.0."
    sd[pre + "self_attn.qkv_proj.weight"] = torch.randn(3 * D, D, generator=g) * 0.02
    sd[pre + "self_attn.o_proj.weight"] = torch.randn(D, D, generator=g) * 0.02
    sd[pre + "mlp.gate_up_proj.weight"] = torch.randn(2 * mlp, D, generator=g) * 0.02
    sd[pre + "mlp.down_proj.weight"] = torch.randn(D, mlp, generator=g) * 0.02
  torch.save({"_orig_mod.model." + k: v for k, v in sd.items()}, path)
  arch = {
    "name": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
    "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
    "H_cycles": 1,
    "L_cycles": 1,
    "H_layers": 1,
    "L_layers": 1,
    "hidden_size": D,
    "num_heads": max(1, D // 64),
    "expansion": 4,
    "puzzle_emb_ndim": dim,
    "pos_encodings": "rope",
    "halt_max_steps": 2,
    "halt_exploration_prob": 0.1,
    "forward_dtype": "bfloat16",
  }
  (path.parent / "all_config.yaml").write_text(
    json.dumps({"arch": arch, "data_path": "data/arc-x"})
  )
  return table.numel() * 4


def run_child(args: list[str]) -> dict:
  out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
  if out.returncode:
    raise SystemExit(f"child failed:\n{out.stdout}\n{out.stderr}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
  """Run the benchmark; returns {'table_mib', 'import': {...}, 'export': {...}} in MiB."""
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--rows", type=int, default=1_000_000)
  p.add_argument("--dim", type=int, default=512)
  p.add_argument("--workdir", help="scratch directory (default: a temporary one, removed)")
  a = p.parse_args(argv)
  work = Path(a.workdir or tempfile.mkdtemp(prefix="hrm_convert_mem_"))
  work.mkdir(parents=True, exist_ok=True)
  try:
    ckpt = work / "ref" / "step_0"
    ckpt.parent.mkdir(exist_ok=True)
    table = write_reference(ckpt, a.rows, a.dim)
    result = {"table_mib": table / 2**20}
    for name, cmd in (
      ("import", [str(ckpt), str(work / "model"), "--force"]),
      ("export", ["--to-torch", str(work / "model"), str(work / "back" / "step_0"), "--force"]),
    ):
      t0 = time.time()
      r = run_child(cmd)
      result[name] = {
        "peak_mib": r["peak_kib"] / 1024,
        "baseline_mib": r["baseline_kib"] / 1024,
        "seconds": time.time() - t0,
      }
    print(f"puzzle table {a.rows} x {a.dim} float32 = {result['table_mib']:.0f} MiB")
    for name in ("import", "export"):
      r = result[name]
      print(
        f"{name}: peak RSS {r['peak_mib']:.0f} MiB (interpreter+imports {r['baseline_mib']:.0f}"
        f" MiB) = {(r['peak_mib'] - r['baseline_mib']) / result['table_mib']:.2f} x table, "
        f"{r['seconds']:.1f} s"
      )
    return result
  finally:
    if not a.workdir:
      shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  main()
