"""errors.guard: a user's mistake is one line on stderr and exit 2; --verbose adds the traceback."""

from hrm_jax import errors
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.errors import UserError


def _bad(argv):
  assert "--verbose" not in argv
  HRMConfig(hidden_size=10, num_heads=3)


def test_user_error_is_one_line(capsys):
  assert errors.guard(_bad, []) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: HRMConfig.hidden_size (10) is not divisible")
  assert len(err.strip().splitlines()) == 1


def test_verbose_prints_traceback_and_hint(capsys):
  def main(argv):
    raise UserError("no such folder x", hint="pass --out y")

  assert errors.guard(main, ["--verbose"]) == 2
  err = capsys.readouterr().err
  assert "Traceback" in err and err.rstrip().endswith("hint: pass --out y")


def test_interrupt_and_success(capsys):
  def stop(argv):
    raise KeyboardInterrupt

  assert errors.guard(stop, []) == 130
  assert errors.guard(lambda argv: None, []) == 0
  assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


def test_other_errors_are_not_swallowed():
  def bug(argv):
    raise ZeroDivisionError

  try:
    errors.guard(bug, [])
  except ZeroDivisionError:
    return
  raise AssertionError("a programming error must keep its traceback")


def test_experiments_command_line(capsys):
  """experiments/main.py: unknown keys with a suggestion, both override spellings, --help."""
  import pytest

  from experiments import main

  maze = "experiments/configs/maze.py"
  cfg, defaults = main.parse(
    maze, [f"--config={maze}:cpu", "--config.train.steps", "7", "--config.model.h_cycles=1"]
  )
  assert (cfg.train.steps, cfg.model.h_cycles, defaults.train.steps) == (7, 1, 1200)
  with pytest.raises(ConfigError, match="unknown config key config.modle.h_cycles") as err:
    main.parse(maze, ["--config.modle.h_cycles=1"])
  assert err.value.hint == "did you mean --config.model.h_cycles?"
  with pytest.raises(ConfigError, match="bad --config: .*invalid literal"):
    main.parse(maze, ["--config.train.steps=1.5"])
  with pytest.raises(ConfigError, match="unexpected arguments: extra"):
    main.parse(maze, ["extra"])
  assert main.main(maze, [f"--config={maze}:cpu", "--help"]) == 0
  out = capsys.readouterr().out
  assert "--config.train.keep_eval_checkpoints=false" in out and "--config.model.h_cycles=3" in out


def test_every_task_entry_point_has_its_config():
  """`python -m experiments.TASK` runs `main.run_task(TASK)` on experiments/configs/TASK.py."""
  from experiments import main

  for task in ("maze", "sudoku", "arc", "parity"):
    assert main.config_file(task).is_file()
    shim = (main.CONFIGS.parent / f"{task}.py").read_text()
    assert f'main.run_task("{task}")' in shim
