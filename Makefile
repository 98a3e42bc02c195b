# make test   ruff, mypy, then the test suite on 2 cores (HYPOTHESIS_PROFILE=dev by default, ci in CI)
# make demo   the main demo (pass options with DEMO_ARGS, e.g. make demo DEMO_ARGS=--quick)
# make lessons every lesson in full, one at a time: pictures to docs/img/, numbers to docs/lessons.json
#              (LESSONS="05 08" runs only those)
# make bench  every script in benchmarks/ but the minutes-long trainings (BENCH_BY_HAND)
# make docs   the documentation site into site/ (offline, strict: a broken link or unreadable docstring fails)
# make notebook  run docs/tutorial.ipynb in a fresh kernel and store it with its outputs (after editing it)
# make clean  remove .venv, out/ and build artefacts
# The first target that needs it creates .venv and installs the package (editable) with its dev extra;
# afterwards `source .venv/bin/activate` puts `tinygrad-seq`, pytest and mypy on the PATH.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HYPOTHESIS_PROFILE ?= dev
PYTEST_ARGS ?=
DEMO_ARGS ?=

export HYPOTHESIS_PROFILE

.PHONY: test demo lessons bench docs notebook clean venv FORCE

venv: $(VENV)/.installed

# Re-installs when pyproject.toml changes (new dependency, new extra, new entry point) or a module of the
# package is added or removed. The editable install is setuptools' strict mode: a tree of links that mypy
# and editors read like any installed package (the default mode maps nn/ to tinygrad_seq.nn with an import
# hook that static tools cannot follow); a new file needs the re-install, which this rule does.
PACKAGE_FILES := $(sort $(wildcard tinygrad_seq/*.py tinygrad_seq/*.js tinygrad_seq/*.css nn/*.py nn/*/*.py))

$(VENV)/.files: FORCE
	@mkdir -p $(VENV)
	@echo "$(PACKAGE_FILES)" | cmp -s - $@ || echo "$(PACKAGE_FILES)" > $@

$(VENV)/.installed: pyproject.toml $(VENV)/.files
	@echo "make: installing tinygrad-seq with its dev extra into $(VENV)/ (once, about 2 minutes; again only"
	@echo "      when pyproject.toml changes or a module is added). Then: source $(VENV)/bin/activate"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" --config-settings editable_mode=strict
	touch $@

# Two test workers on 2 cores: one BLAS thread each, or they oversubscribe the cores. --dist loadgroup
# keeps the tests marked xdist_group(name) on one worker (the docs site is built once, not per worker).
# pytest's exit code goes straight to make: exit 5 (no tests collected) fails the target.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(BIN)/python demos/main.py $(DEMO_ARGS)

lessons: $(VENV)/.installed
	$(BIN)/python demos/lessons.py $(LESSONS)

# trainings of minutes each (and the module they read texts with): run by hand, see their docstrings
BENCH_BY_HAND := austen.py austen_heldout.py lm_sweep.py

bench: $(VENV)/.installed
	@set -e; found=0; \
	for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		case " $(BENCH_BY_HAND) " in *" $$(basename $$script) "*) continue;; esac; \
		found=1; echo "== $$script"; $(BIN)/python "$$script"; \
	done; \
	[ $$found = 1 ] || echo "no benchmarks yet (benchmarks/*.py)"

# mkdocs.yml sets strict mode too; NO_MKDOCS_2_WARNING silences the theme's banner about a future MkDocs
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# the notebook is stored with its outputs (a code host and the site show them without running it);
# tests/test_notebook.py fails when they are not what it produces now
notebook: $(VENV)/.installed
	OPENBLAS_NUM_THREADS=1 $(BIN)/python docs/notebook.py

clean:
	rm -rf $(VENV) out site build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
