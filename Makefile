# The two commands: `make demo` and `make test`. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_WORKERS ?= 2
export JIAOWEI_HOME ?= $(CURDIR)/var

.PHONY: demo test test-deps install install-test lint typecheck pytest serve clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "jiaowei needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make demo: set up, load the Shanghai 2020 demo (once) and serve it on SQLite.
demo: install
	$(BIN)/jiaowei demo --keep
	$(BIN)/jiaowei serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/jiaowei serve --host $(HOST) --port $(PORT)

## make test: lint, type checks and every test (SQLite, PostgreSQL, browser).
## The Debian packages come first: without root, a missing one stops it with the `sudo apt-get` line.
test: test-deps install-test lint typecheck pytest

test-deps:
	scripts/install-test-deps

lint: install-test
	$(BIN)/ruff check src tests benchmarks

typecheck: install-test
	$(BIN)/mypy

## Two pytest-xdist workers, each with its own PostgreSQL cluster and browser server. --dist loadfile
## keeps a module on one worker, so a module's fixtures (the demo loads) are set up once.
## (Not loadgroup: with pytest 9.2 it silently ignores xdist_group, pytest-xdist issue 1386.)
## PYTEST_WORKERS=0 runs everything in one process.
pytest: install-test test-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=20 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
