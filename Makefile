# Two commands do all set-up on a fresh Debian machine with Python 3.11, pip and make:
#   make run   - create .venv, install receipts, run `receipts audit s1`
#   make test  - install the test extras, run ruff, mypy and the whole pytest suite
#                (PostgreSQL tests against a throwaway server started and stopped here)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned so that pip takes the CPU build (see pyproject's `train` extra).
TORCH_PIN := torch==2.13.0

.PHONY: run test lint typecheck pytest docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,train]' '$(TORCH_PIN)'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/receipts audit s1

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

pytest: export RECEIPTS_REQUIRE_REPORT_TOOLS := 1
pytest: $(VENV)/.test-installed
	bash scripts/ensure-report-tools.sh
	bash scripts/with-postgres.sh bash scripts/with-prometheus.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

docs: $(VENV)/.installed
	$(BIN)/python -m receipts.docgen

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/ledger_ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
