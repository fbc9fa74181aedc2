"""The argument parsers of the data builders' command lines: shared options, help with defaults."""

from __future__ import annotations

import argparse


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
  """Appends "(default: X)" to each option's help, except where there is nothing to show."""

  def _get_help_string(self, action: argparse.Action) -> str:
    nothing = action.default is None or action.default is False or action.default == ""
    if nothing or action.required:
      return action.help or ""
    return super()._get_help_string(action)


def parser(description: str) -> argparse.ArgumentParser:
  """An ArgumentParser whose --help lists every option's default."""
  return argparse.ArgumentParser(description=description, formatter_class=DefaultsFormatter)


def builder_parser(
  description: str,
  dataset: str,
  *,
  unit: str | None = None,
  train_size: int | None = None,
  test_size: int | None = None,
  seed_help: str = "generator seed",
  workers: bool = False,
) -> argparse.ArgumentParser:
  """`parser` with the options dataset builders share.

  Always --out, --seed and --force (whose help names `dataset`, e.g. "a maze"); with `unit`
  (e.g. "mazes") --train-size and --test-size with these defaults; with `workers`, --workers.
  """
  p = parser(description)
  p.add_argument("--out", required=True, help="output dataset directory")
  if unit is not None:
    p.add_argument("--train-size", type=int, default=train_size, help=f"training {unit}")
    p.add_argument("--test-size", type=int, default=test_size, help=f"held-out {unit}")
  p.add_argument("--seed", type=int, default=0, help=seed_help)
  if workers:
    p.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
  p.add_argument(
    "--force",
    action="store_true",
    help=f"replace {dataset} dataset built there with other arguments",
  )
  return p
