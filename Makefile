# Everything runs inside .venv, created on first use with nothing but Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONTENT ?= content
DIST ?= dist

.PHONY: serve build test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/kg serve --content $(CONTENT)

build: $(STAMP)
	$(BIN)/kg build --content $(CONTENT) --out $(DIST)

test: $(STAMP)
	$(BIN)/ruff check kg server tests bench
	$(BIN)/ruff format --check kg server tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) $(DIST) .pytest_cache .mypy_cache .ruff_cache
