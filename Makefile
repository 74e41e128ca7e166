# Two entry points, each self-contained from a fresh clone:
#   make demo  -> create .venv, install a CPU torch and deepalloc, run the demo
#   make test  -> create .venv, install deepalloc[dev,docs], run lint, types, layering,
#                 tests and the documentation build (make docs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
OUT ?= deepalloc-report

.PHONY: demo test lint typecheck layers pytest docs test-all test-matrix clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m deepalloc demo --output $(OUT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check deepalloc tests benchmarks examples docs
	$(VENV)/bin/ruff format --check deepalloc tests benchmarks examples docs

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

layers: $(VENV)/.installed
	$(VENV)/bin/lint-imports

pytest: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

# The documentation site, docs/_build/html/index.html: API pages from the docstrings, the
# user guide, and the gallery, which runs every example in its small setting. Warnings
# (a broken reference, a docstring Sphinx cannot parse) are errors; all are reported.
docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -b html -W --keep-going -n -q docs docs/_build/html

test: lint typecheck layers docs pytest

test-all: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m ""

# The suite under other machines' floating-point kernels and thread counts, in random
# order (pytest-randomly prints the seed; replay an order with --randomly-seed=N).
MATRIX ?= MKL_CBWR=AVX2 MKL_CBWR=COMPATIBLE MKL_CBWR=AVX512 ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1 OMP_NUM_THREADS=2
test-matrix: $(VENV)/.installed
	@for setting in $(MATRIX); do \
		echo "== $$setting"; \
		env $$setting $(PY) -m pytest -q -n 2 -p randomly || exit 1; \
	done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
	rm -rf docs/_build docs/api/generated docs/auto_examples docs/sg_execution_times.rst
