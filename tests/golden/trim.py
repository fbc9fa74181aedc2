"""Copies the arrays the parity tests use from ../shared/golden into this folder.

Provenance: ../shared/golden/hrm_golden.npz and optim_golden.npz were computed by the
authors' PyTorch release (sapientinc/HRM commit 42410da, torch 2.13.0, CPU, float32)
on fixed weights; see that folder's README.md and optim_golden_README.md for exactly
how every array was made. This script only selects keys; values are unchanged.
Run from the repo root: python tests/golden/trim.py
"""

import pathlib

import numpy as np

SRC = pathlib.Path(__file__).resolve().parents[3] / "shared" / "golden"
DST = pathlib.Path(__file__).resolve().parent


def main():
  hrm = np.load(SRC / "hrm_golden.npz")
  keep = [
    k
    for k in hrm.files
    if k.startswith(("inner.", "unit/", "stablemax/", "eval/", "train/"))
    or k in ("inputs", "labels", "puzzle_identifiers")
  ]
  np.savez_compressed(DST / "hrm_golden.npz", **{k: hrm[k] for k in keep})
  opt = np.load(SRC / "optim_golden.npz")
  keep = [
    k
    for k in opt.files
    if not k.startswith(("initial/", "step1/adam/", "step2/adam/")) or k.endswith("/step")
  ]
  np.savez_compressed(DST / "optim_golden.npz", **{k: opt[k] for k in keep})
  for f in ("step_0", "step_0_plain.pt", "all_config.yaml"):
    (DST / "ckpt").mkdir(exist_ok=True)
    (DST / "ckpt" / f).write_bytes((SRC / "ckpt" / f).read_bytes())


if __name__ == "__main__":
  main()
