# Everything runs inside .venv, created on first use with nothing but Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONTENT ?= content
DIST ?= dist

.PHONY: serve build test lint typecheck bench screenshots clean

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
	$(BIN)/ruff check kg server tests bench tools
	$(BIN)/ruff format --check kg server tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# Every benchmark in one run, each against its peers started by the script itself (wrk, nginx
# and Virtuoso from Debian, rdflib-endpoint from PyPI into .bench/): medians and ratios; then
# the issue's goals in one table from the figures the scripts recorded (bench/goals.py).
bench: $(STAMP)
	rm -rf .bench/figures
	$(BIN)/python bench/build.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/mix.py
	$(BIN)/python bench/query_lane.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/dumps.py
	$(BIN)/python bench/goals.py

# PNGs of the main pages at desktop and mobile width (needs Debian's chromium, chromium-driver).
screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) $(DIST) .pytest_cache .mypy_cache .ruff_cache
