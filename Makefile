# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest schemas bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(DEV_STAMP) lint typecheck pytest

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src cli tests examples benchmarks
	$(VENV)/bin/ruff format --check src cli tests examples benchmarks

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

pytest: $(DEV_STAMP)
	$(VENV)/bin/pytest

schemas: $(STAMP)
	$(PY) -m embodex.schemas specs/schemas

bench: $(DEV_STAMP)
	$(PY) benchmarks/packaging.py
	$(PY) benchmarks/qc.py
	$(PY) benchmarks/trust.py

clean:
	rm -rf $(VENV) demo-output .bench
