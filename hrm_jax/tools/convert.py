"""`hrm-convert` / `python -m hrm_jax.tools.convert`: the command line of hrm_jax.interop.convert.

    python -m hrm_jax.tools.convert CHECKPOINT_FILE OUT_DIR [--seq-len N | --task T | --data DIR]
    python -m hrm_jax.tools.convert --to-torch MODEL_DIR OUT_FILE [--bare-keys] [--force]

What import and export read and write, and where seq_len comes from: the docstring of
hrm_jax.interop.convert (printed at the end of --help).
"""

from __future__ import annotations

import argparse
import sys

from hrm_jax import errors, tasks
from hrm_jax.interop import convert
from hrm_jax.interop.convert import TORCH_PREFIX, export_checkpoint, import_checkpoint


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
    prog="python -m hrm_jax.tools.convert",
    description="Import the authors' PyTorch checkpoints into hrm_jax, and export back.",
    epilog=convert.__doc__.partition("\n\n")[2].partition("\n\n")[2],  # after the usage
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument("source", help="reference checkpoint file (or, with --to-torch, a model dir)")
  p.add_argument("dest", help="output model directory (or, with --to-torch, the state_dict file)")
  p.add_argument("--to-torch", action="store_true", help="export an hrm_jax model to PyTorch")
  p.add_argument(
    "--bare-keys",
    action="store_true",
    help="with --to-torch: keys 'inner.*' instead of '_orig_mod.model.inner.*'",
  )
  p.add_argument("--config-yaml", help="the reference all_config.yaml (default: beside the file)")
  p.add_argument("--seq-len", type=int, help="task sequence length (81 Sudoku, 900 Maze/ARC)")
  p.add_argument("--task", choices=tasks.names(), help="task the model was trained on")
  p.add_argument("--data", help="dataset directory (reads seq_len from its dataset.json)")
  p.add_argument("--data-path", help="with --to-torch: data_path to write in all_config.yaml")
  p.add_argument(
    "--force",
    action="store_true",
    help="overwrite an existing output (with "
    "--to-torch: the file and the all_config.yaml beside it)",
  )
  return p


def main(argv: list[str] | None = None) -> int:
  """CLI entry point; returns 0. Bad input raises a UserError (one line via `errors.guard`)."""
  args = _parser().parse_args(argv)
  if args.to_torch:
    out, yml = export_checkpoint(
      args.source, args.dest, bare_keys=args.bare_keys, data_path=args.data_path, force=args.force
    )
    print(
      f"wrote {out} ({'inner.*' if args.bare_keys else TORCH_PREFIX + 'inner.*'} keys) and {yml}"
    )
    return 0
  path, config, meta = import_checkpoint(
    args.source,
    args.dest,
    config_yaml=args.config_yaml,
    seq_len=args.seq_len,
    task=args.task,
    data_dir=args.data,
    force=args.force,
  )
  print(f"wrote {path}")
  print(
    f"  task={meta['task']} seq_len={config.seq_len} (from {meta['seq_len_source']}) "
    f"vocab={config.vocab_size} puzzle_ids={config.num_puzzle_identifiers} "
    f"D={config.hidden_size} H/L layers={config.h_layers}/{config.l_layers} "
    f"cycles={config.h_cycles}x{config.l_cycles} halt_max_steps={config.halt_max_steps} "
    f"compute={config.compute_dtype}"
  )
  if meta.get("ignored_arch_keys"):
    print(f"  note: arch keys not used by hrm_jax: {meta['ignored_arch_keys']}")
  return 0


def cli() -> None:
  """The `hrm-convert` console script: `main` with one-line errors; exits with its status."""
  sys.exit(errors.guard(main))


if __name__ == "__main__":
  cli()
