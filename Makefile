# Two entry points, each self-contained from a fresh clone:
#   make demo  -> create .venv, install a CPU torch and deepalloc, run the demo
#   make test  -> create .venv, install deepalloc[dev], run lint, types, layering and tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
OUT ?= deepalloc-report

.PHONY: demo test lint typecheck layers pytest test-all clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m deepalloc demo --output $(OUT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check deepalloc tests benchmarks examples
	$(VENV)/bin/ruff format --check deepalloc tests benchmarks examples

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

layers: $(VENV)/.installed
	$(VENV)/bin/lint-imports

pytest: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

test: lint typecheck layers pytest

test-all: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m ""

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
