# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv if missing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint format test test-all demo bench clean

$(STAMP): requirements.txt setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)  ## formatting and lint rules of pyproject.toml (ruff); part of `make test`
	$(BIN)/ruff format --check -q .
	$(BIN)/ruff check -q .

format: $(STAMP)  ## apply the formatter and the safe lint fixes
	$(BIN)/ruff format -q .
	$(BIN)/ruff check -q --fix .

test: $(STAMP) lint  ## lint, then the fast suite (CI)
	$(BIN)/python -m pytest -q -n 2 --durations=15

test-all: $(STAMP)  ## everything, slow tests included
	$(BIN)/python -m pytest -q -n 2 -m "" --durations=25

demo: $(STAMP)  ## small end-to-end job on CPU
	$(BIN)/python -m experiments.demo

bench: $(STAMP)
	$(BIN)/python benchmarks/step.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
