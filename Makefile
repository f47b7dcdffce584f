# aniso-repro: `make reproduce` (the main job) and `make test` (what CI runs).
# Both create the virtual environment in .venv/ from the lock file (requirements.txt) when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= default
# torch's OpenMP threads spin only briefly before they sleep (see lib/aniso/__init__.py): a shared machine does
# not collapse, an idle one keeps its speed.
export GOMP_SPINCOUNT := 1000

.PHONY: reproduce reproduce-long reproduce-calibrated calibrate report-gpu report test lint verify unit notebooks-smoke bench lab lock clean-cache

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Every notebook on the default profile into results/, then the report.
reproduce: $(STAMP)
	$(PY) ci/run_notebooks.py --profile $(PROFILE) --out results

# The second CPU regime (the long profile: the core claims on 300W at 10 epochs) into results-long/; it reuses the
# default's learning rates and every run the two regimes share from results/runs.
reproduce-long: $(STAMP)
	$(PY) ci/run_notebooks.py --profile long --out results-long

# The core claims on the calibrated benchmark (the long regime on the annotation-error model the calibration chose:
# Table 6's six losses and the anisotropy-against-re-weighting pair at 5 seeds, the family, Table 4 and the SGD pair
# at 3) into results-long-calibrated/; it refuses to start before the calibration has chosen.
reproduce-calibrated: $(STAMP)
	$(PY) ci/run_notebooks.py --profile long-calibrated --out results-long-calibrated

# The calibration of the synthetic benchmark's annotation error (docs/CALIBRATION.md) into results-calibration/:
# the five baselines on every candidate error model (stage 1), the two best at the long regime's protocol (stage 2),
# the chosen one's L1 and L2 at the converged profile's (on the CPU when no GPU is lent: hours). `make calibrate
# CHECK=None` chooses after stage 2 and leaves the check to a GPU session (it trains the check first, then
# `make calibrate` again judges it without training).
CHECK ?= converged
calibrate: $(STAMP)
	$(PY) ci/run_notebooks.py --profile calibration --out results-calibration -p check_profile $(CHECK)

# The converged regime's report (results-gpu/REPORT.md) from the runs GPU sessions committed (nothing trains).
report-gpu: $(STAMP)
	$(PY) -m aniso.regimes converged
	$(PY) -m aniso.regimes converged-calibrated

# The regimes' reports again, from one commit (nothing trains): results/README.md and results-long/README.md
# from their notebooks' sections (after a change to how verdicts are computed, make reproduce and make
# reproduce-long rewrite the sections first), results-gpu/REPORT.md, and the calibrated benchmark's once it has runs.
report: $(STAMP)
	$(PY) -m aniso.reporting results
	$(PY) -m aniso.reporting results-long
	$(PY) -m aniso.regimes converged
	$(PY) -m aniso.regimes converged-calibrated
	@test ! -d results-long-calibrated/sections || $(PY) -m aniso.reporting results-long-calibrated

# Lint first (seconds), then the committed run stores checked (seconds); unit tests (a committed run re-created bit for bit among them);
# every notebook on the smoke profile through papermill, the comparison notebooks with the user loss of examples/
# beside the built-in ones; two notebooks again through nbval against a fresh store; then the numbers the notebooks
# wrote checked against their runs; the calibration notebook on two candidates and two baselines.
USER_LOSS := ["my_losses:corner_weighted_l1"]
test: $(STAMP) lint
	$(PY) -m aniso.runs verify
	$(PY) -m pytest -q tests
	PYTHONPATH=examples $(PY) ci/run_notebooks.py --profile smoke --out ci/out --nbval table4 figure2 \
		-p extra_losses '$(USER_LOSS)'
	PYTHONPATH=examples ANISO_NOTEBOOK_RESULTS=ci/out $(PY) -m pytest -q tests/notebooks
	$(PY) ci/run_notebooks.py --profile smoke --only calibration --out ci/out-calibration -p stage2_profile smoke \
		-p check_profile smoke -p candidates '["N0", "N4"]' -p baselines '["l2", "l1"]'

# ruff's lint and the layers of lib/aniso (import-linter's contract in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Every record of the committed run stores (and scratch/runs) loads and matches its configuration; lists stale
# claims, checkpoints of stored runs and orphan temporaries (`$(PY) -m aniso.runs verify --prune` removes those).
verify: $(STAMP)
	$(PY) -m aniso.runs verify

unit: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# JupyterLab from the project's environment (as root it needs --allow-root), serving the whole clone: it opens in
# notebooks/, and the executed notebooks, tables and figures of every regime (results*/) are one folder up.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,) \
		--ServerApp.root_dir=$(CURDIR) --FileContentsManager.preferred_dir=notebooks

# Re-compile the lock file from requirements.in (pip-tools); then `make` re-installs from it.
lock: $(STAMP)
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links requirements.in

clean-cache:
	rm -rf .cache/aniso
