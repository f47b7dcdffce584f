# aniso-repro: `make reproduce` (the main job) and `make test` (what CI runs).
# Both create the virtual environment in .venv/ when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= quick

.PHONY: reproduce test unit notebooks-smoke bench clean-cache

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Every notebook on the default (quick) profile into results/, then the report.
reproduce: $(STAMP)
	$(PY) ci/run_notebooks.py --profile $(PROFILE) --out results

# Unit tests, then every notebook on the smoke profile through papermill and nbval.
test: $(STAMP)
	$(PY) -m pytest -q tests
	$(PY) ci/run_notebooks.py --profile smoke --out ci/out --nbval

unit: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean-cache:
	rm -rf .cache/aniso
