# Two entry points: `make demo` and `make test`. Both build .venv from this repo's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Bugsink, a Sentry-compatible server the SDK is tested against, in a venv of its own.
BUGSINK_VENV := .venv-bugsink

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

$(BUGSINK_VENV)/.installed:
	$(PYTHON) -m venv $(BUGSINK_VENV)
	$(BUGSINK_VENV)/bin/python -m pip install -q "bugsink>=2.6"
	touch $@

demo: $(VENV)/.installed-dev
	$(BIN)/python examples/demo.py

test: $(VENV)/.installed-dev $(BUGSINK_VENV)/.installed
	TRACEFIX_BUGSINK_PYTHON=$(CURDIR)/$(BUGSINK_VENV)/bin/python $(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf $(VENV) $(BUGSINK_VENV) build src/*.egg-info
