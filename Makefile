# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint openapi bench reliability demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/casetrail serve

demo: $(INSTALLED)
	$(BIN)/casetrail demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --dist loadfile

openapi: $(INSTALLED)
	$(BIN)/casetrail export-openapi --out openapi/openapi.json

bench: $(INSTALLED)
	$(BIN)/python -m bench

# The full reliability harness (tests/reliability, see README "Reliability"): kill -9 cycles,
# concurrency, the hostile corpus and a minute of load per store, one test at a time; writes
# tests/reliability/results.md. `make test` runs its short version.
reliability: $(INSTALLED)
	CASETRAIL_RELIABILITY=full $(BIN)/pytest -m reliability tests/reliability

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
