"""The one entry point of `python -m experiments.{maze,sudoku,arc,parity,reach}` (`run_task`).

  python -m experiments.maze --config=experiments/configs/maze.py:cpu --config.train.steps=200

The config file is loaded and locked by ml_collections: an unknown key or a
value of the wrong type is refused while parsing flags, the remaining value
checks run before any dataset is read or anything is compiled. Every mistake
is one line (plus a hint) on stderr and a non-zero exit; `--verbose` adds the
traceback. Without `--config.run_dir` the run goes to
`runs/<task>-<variant>[-seed<N>][-<hash of the other changed fields>]`.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from absl import flags
from ml_collections import config_flags

from hrm_jax import errors
from hrm_jax.config import ConfigError

CONFIGS = Path(__file__).resolve().parent / "configs"
USAGE = """usage: python -m experiments.TASK [--config=FILE[:VARIANT]] [--config.FIELD=VALUE ...]
                                [--verbose] [--help]"""


def _load(default_config: str, argv: list[str]):
  """The ConfigDict that `argv` describes (absl + ml_collections parsing, errors as ConfigError)."""
  fv = flags.FlagValues()
  holder = config_flags.DEFINE_config_file(
    "config", default_config, "experiment config file", flag_values=fv, sys_argv=["prog", *argv]
  )
  try:
    rest = fv(["prog", *argv])
    cfg = holder.value
    cfg.to_dict()  # a config file that failed to load raises here
  except flags.UnrecognizedFlagError as e:
    raise ConfigError(
      f"unknown flag --{e.flagname}",
      hint="flags: --config=FILE[:VARIANT], --config.FIELD=VALUE, --verbose, "
      "--help (lists the fields)",
    ) from e
  except (flags.Error, OSError, ValueError, AttributeError, KeyError) as e:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    message = lines[-1] if lines else type(e).__name__
    for prefix in ("ValueError: ", "FATAL Flags parsing error: "):
      message = message.removeprefix(prefix)
    raise ConfigError(f"bad --config: {message}") from e
  if len(rest) > 1:
    raise ConfigError(f"unexpected arguments: {' '.join(rest[1:])}", hint=USAGE.splitlines()[0])
  return cfg


def _fields(cfg, prefix: str = "config.") -> dict:
  from hrm_jax.training.experiment import flatten

  return {prefix + k: v for k, v in flatten(cfg.to_dict()).items()}


def parse(default_config: str, argv: list[str]):
  """(config, the unmodified variant's config) from the command line; ConfigError if bad."""
  overrides = [i for i, a in enumerate(argv) if a.startswith("--config.")]
  values = {
    i + 1
    for i in overrides
    if "=" not in argv[i]  # `--config.FIELD VALUE`
    and i + 1 < len(argv)
    and not argv[i + 1].startswith("-")
  }
  defaults = _load(
    default_config, [a for i, a in enumerate(argv) if i not in overrides and i not in values]
  )
  known = _fields(defaults)
  for i in overrides:
    key = argv[i][2:].split("=", 1)[0]
    if key not in known and not any(k.startswith(key + ".") for k in known):
      strip = lambda k: k.removeprefix("config.")  # the shared prefix is no likeness
      near = difflib.get_close_matches(strip(key), [strip(k) for k in known], n=1)
      raise ConfigError(
        f"unknown config key {key}",
        hint=f"did you mean --config.{near[0]}?" if near else "--help lists every field",
      )
  return _load(default_config, argv), defaults


def main(default_config: str, argv: list[str] | None = None) -> int:
  """Parse the command line, train (or resume), print the summary; returns the exit status."""
  argv = list(sys.argv[1:] if argv is None else argv)
  if any(a in ("-h", "--help", "--helpfull", "--helpshort") for a in argv):
    cfg, _ = parse(
      default_config, [a for a in argv if not a.startswith("-h") and not a.startswith("--help")]
    )
    print(
      USAGE + "\n\nfields of this config (each settable as --config.FIELD=VALUE; their "
      "comments are in experiments/configs/common.py and the task's file):"
    )
    for k, v in _fields(cfg).items():
      shown = v if isinstance(v, str) else repr(v) if isinstance(v, tuple) else json.dumps(v)
      print(f"  --{k}={shown}")  # tuples as the flag parser reads them
    return 0
  cfg, defaults = parse(default_config, argv)
  from hrm_jax.training import experiment, train

  if not cfg.run_dir:
    cfg.run_dir = str(experiment.run_dir(cfg, defaults))
  summary = train.train(cfg)
  summary.pop("predictions", None)
  print(json.dumps(summary, indent=1))
  return 0


def config_file(task: str) -> Path:
  """experiments/configs/TASK.py, the default --config of `python -m experiments.TASK`."""
  return CONFIGS / f"{task}.py"


def run_task(task: str) -> None:
  """`python -m experiments.TASK`: `main` on the task's config file with one-line errors;
  exits with its status."""
  default_config = str(config_file(task))
  sys.exit(errors.guard(lambda argv: main(default_config, argv)))
