# Two entry points: `make demo` and `make test`. Both build .venv from this repo's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Bugsink, a Sentry-compatible server the SDK is tested against, in a venv of its own.
BUGSINK_VENV := .venv-bugsink

.PHONY: demo test bench clean browser

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

# Chromium for the dashboard's browser test (tests/server/browser), from the system's packages:
# as root, or through sudo without a password. When it cannot be installed the test is skipped,
# except under CI, where it fails.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"; \
	  $$install >/dev/null 2>&1 || { $$sudo apt-get update -qq && $$install; } >/dev/null 2>&1 || \
	  echo "make: could not install chromium: the browser test is skipped (fails under CI)" >&2; }

test: $(VENV)/.installed-dev $(BUGSINK_VENV)/.installed browser
	TRACEFIX_BUGSINK_PYTHON=$(CURDIR)/$(BUGSINK_VENV)/bin/python $(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf $(VENV) $(BUGSINK_VENV) build src/*.egg-info
