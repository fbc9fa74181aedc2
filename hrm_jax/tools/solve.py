"""Solve puzzles with a saved model: the CLI (the function: `hrm_jax.training.inference.solve`).

    python -m hrm_jax.tools.solve --checkpoint DIR --sudoku "53..7....6..195...."
    python -m hrm_jax.tools.solve --checkpoint DIR --sudoku puzzles.txt
    python -m hrm_jax.tools.solve --checkpoint DIR --maze maze.txt
    python -m hrm_jax.tools.solve --checkpoint DIR --parity 0110100111
    python -m hrm_jax.tools.solve --checkpoint DIR --arc TASK.json [--identifiers identifiers.json]

The model runs `halt_max_steps` ACT segments (hrm_jax.training.inference.solve); each
answer is the one of the first segment where the halting rule fires (default
"model": the rule the model trains with, as at evaluation) and is printed with the
segments used and the halting confidence sigmoid(q_halt). Malformed puzzles
(wrong size, unknown characters) and puzzles without a solution (contradicting
or incompletable Sudoku givens, a maze without an S-G path) are refused in one
line before the model is loaded, with exit code 2. Each task's module in hrm_jax.tasks
reads, checks and prints its puzzles; a task that offers a reader gets its --NAME flag.
(`--help` lists what each flag accepts: the task's `solve_inputs`). `--restarts K`
(with `--restart-noise`, `--restart-select q|vote`) runs K noisy restarts batched on the
device and keeps one answer (`hrm_jax.training.test_time`).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

import numpy as np

from hrm_jax import act, errors, tasks
from hrm_jax.config import HRMConfig
from hrm_jax.errors import UserError
from hrm_jax.tasks import PuzzleError
from hrm_jax.training import inference, model_dir, test_time

__all__ = ["PuzzleError", "check_fits", "main", "run", "solvable_tasks"]


def solvable_tasks() -> list[tasks.Task]:
  """The tasks whose puzzles the CLI reads (those with a --NAME flag), by name."""
  return [t for t in map(tasks.get, tasks.names()) if t.solve_help]


def check_fits(task: tasks.Task, config: HRMConfig, meta: dict) -> None:
  """Raise PuzzleError unless the model (`config`, its directory's `meta`) is one of `task`."""
  known = meta.get("task")
  if known and known != task.name:
    raise PuzzleError(f"this checkpoint was trained on {known}, not {task.name}")
  need = task.requirement(config.seq_len, config.vocab_size)
  if need:
    raise PuzzleError(
      f"this checkpoint (seq_len {config.seq_len}, vocab {config.vocab_size}) "
      f"does not fit {task.name} ({need})"
    )


def run(args: argparse.Namespace) -> str:
  """Solve the puzzle(s) named by parsed CLI `args`; returns the text to print."""
  task = next(t for t in solvable_tasks() if getattr(args, t.name) is not None)
  raw = task.read(getattr(args, task.name))  # malformed input: refused before the model
  config, meta = model_dir.read_config(args.checkpoint)  # no arrays yet
  check_fits(task, config, meta)
  puzzles = task.puzzles(raw, config, meta, args)
  params, config, meta = model_dir.load_for_eval(args.checkpoint)
  inputs = np.stack(puzzles.tokens)
  sol = inference.solve(
    params,
    config,
    inputs,
    puzzles.puzzle_id,
    max_steps=args.max_steps,
    eval_halt=args.halt,
    **test_time.cli_options(args),
  )
  limit = int(args.max_steps or config.halt_max_steps)
  out, several, solved = list(puzzles.notes), len(inputs) > 1 and task.numbered, 0
  for i in range(len(inputs)):
    how = "halted by the Q head" if sol.halted_by_q[i] else "segment limit reached"
    head = (
      f"segments: {sol.segments[i]} of {limit} ({how}); "
      f"halting confidence sigmoid(q_halt) = {sol.confidence[i]:.4f}"
    )
    if sol.restart_segments is not None:
      head += f"; {args.restarts} restarts, {sol.restart_segments[i]} segments in all"
    if several:
      out.append(f"== {i + 1} of {len(inputs)}: {puzzles.names[i]} ==")
    truth = puzzles.truths[i] if puzzles.truths else None
    lines, ok = task.answer(i, inputs[i], sol.prediction[i], head, truth)
    out += lines
    solved += ok
  if several:
    out.append(f"solved: {solved} of {len(inputs)}")
  return "\n".join(out)


def _inputs() -> str:
  """The help's epilog: what each task's flag accepts."""
  lines = ["Inputs:"]
  for task in solvable_tasks():
    flag = f"  --{task.name}"
    lines.append(
      textwrap.fill(
        task.solve_inputs, 88, initial_indent=flag.ljust(12), subsequent_indent=" " * 12
      )
    )
  return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
    prog="python -m hrm_jax.tools.solve",
    description=__doc__.split("\n\n")[0],
    epilog=_inputs(),
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument(
    "--checkpoint",
    required=True,
    help="model directory (hrm_jax.tools.convert "
    "output, or a training run's directory or checkpoint)",
  )
  which = p.add_mutually_exclusive_group(required=True)
  for task in solvable_tasks():
    which.add_argument(f"--{task.name}", help=task.solve_help)
  for task in solvable_tasks():
    task.add_solve_options(p)
  p.add_argument(
    "--max-steps", type=int, help="segment limit (default: the model's halt_max_steps)"
  )
  p.add_argument(
    "--halt",
    default=act.DEFAULT_HALT_RULE,
    choices=inference.HALT_RULES,
    help="halting rule: the answer is the first segment's where it fires "
    f"(default {act.DEFAULT_HALT_RULE}: the rule it trains with, as at evaluation; 'none': "
    "the last segment's)",
  )
  test_time.add_cli_options(p)
  return p


def main(argv: list[str] | None = None) -> int:
  """CLI entry point: prints the answers. Bad input raises a UserError (see `errors.guard`)."""
  args = _parser().parse_args(argv)
  if args.max_steps is not None and args.max_steps < 1:
    raise UserError("--max-steps must be >= 1")
  test_time.cli_options(args)  # bad restart flags: refused before the model is read
  print(run(args))
  return 0


def cli() -> None:
  """The `hrm-solve` console script: `main` with one-line errors; exits with its status."""
  sys.exit(errors.guard(main))


if __name__ == "__main__":
  cli()
