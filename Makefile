# make test   ruff, mypy, then the test suite on 2 cores (HYPOTHESIS_PROFILE=dev by default, ci in CI)
# make demo   the main demo (pass options with DEMO_ARGS, e.g. make demo DEMO_ARGS=--quick)
# make lessons every lesson in full, one at a time: pictures to docs/img/, numbers to docs/lessons.json
#              (LESSONS="05 08" runs only those)
# make bench  every script in benchmarks/
# make clean  remove .venv, out/ and build artefacts
# The first target that needs it creates .venv and installs the package (editable) with its dev extra.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HYPOTHESIS_PROFILE ?= dev
PYTEST_ARGS ?=
DEMO_ARGS ?=

export HYPOTHESIS_PROFILE

.PHONY: test demo lessons bench clean venv

venv: $(VENV)/.installed

# Re-installs when pyproject.toml changes (new dependency, new extra, new entry point).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Two test workers on 2 cores: one BLAS thread each, or they oversubscribe the cores.
# pytest's exit code goes straight to make: exit 5 (no tests collected) fails the target.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(BIN)/python demos/main.py $(DEMO_ARGS)

lessons: $(VENV)/.installed
	$(BIN)/python demos/lessons.py $(LESSONS)

bench: $(VENV)/.installed
	@set -e; found=0; \
	for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		found=1; echo "== $$script"; $(BIN)/python "$$script"; \
	done; \
	[ $$found = 1 ] || echo "no benchmarks yet (benchmarks/*.py)"

clean:
	rm -rf $(VENV) out build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
