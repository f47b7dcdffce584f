"""What every notebook does first: check its parameters, open its results folder, load its runs.

papermill only warns about a parameter the notebook does not declare, so a
typo (``-p epoch 3`` for ``epochs``) would silently run the defaults. The
suite's runner (``ci/run_notebooks.py``) checks names against
``papermill.inspect_notebook`` before it starts; for papermill used directly
and for JupyterLab, :func:`check_parameters` (called in the cell right after
the parameters cell) compares papermill's injected cell with the declared one.

:func:`start` then resolves the results folder (relative to the repository,
so JupyterLab and papermill agree), points the run store at
``<results>/runs`` while still reusing the committed runs in
``results/runs``, loads or trains every run the notebook needs and prints a
header with the actual number of seeds.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from . import experiments, suite
from .runs import RunRecord, get_profile
from .runs.profiles import use_results_store
from .runs.store import REPO_ROOT

__all__ = ["check_parameters", "declared_names", "plan_arguments", "start", "Session"]

_INJECTED_MARK = "# Parameters"


def declared_names(source: str) -> list[str]:
    """Names assigned at the top level of a cell's source."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


# The parameters the notebooks declare, for a kernel that keeps no input history (nbval runs cells without it):
# then the declared cell cannot be read back, and these names are taken from the namespace instead.
_KNOWN = ("profile", "runs", "epochs", "device", "seed", "results_dir", "progress", "data_root_300w", "data_root_wflw",
          "data_root_aflw", "extra_losses", "a", "b", "a_values", "b_values", "archs", "show_epochs", "target_nme",
          "candidates", "baselines", "stage2_profile", "check_profile")


def check_parameters(namespace: dict) -> dict:
    """Fail on injected parameters that the notebook does not declare; return ``{name: value}`` of the declared ones.

    ``namespace`` is the notebook's ``globals()``; its input history ``In``
    ends with the calling cell, preceded by papermill's injected cell (when
    run by papermill) and, before that, the declared parameters cell. Without
    a history (a kernel that does not keep one), nothing can be checked and
    the known parameter names are read from the namespace.
    """
    history = [c for c in namespace.get("In", []) if c.strip()]
    if len(history) < 2:
        return {n: namespace[n] for n in _KNOWN if n in namespace}
    at = len(history) - 2
    injected = history[at].lstrip().startswith(_INJECTED_MARK)
    declared = declared_names(history[at - 1] if injected else history[at])
    if injected:
        unknown = [n for n in declared_names(history[at]) if n not in declared]
        if unknown:
            raise ValueError(f"unknown notebook parameter(s) {unknown}: this notebook takes {declared} "
                             f"(see `papermill --help-notebook <notebook>`)")
    return {n: namespace[n] for n in declared if n in namespace}


@dataclass
class Session:
    """A notebook's context: its parameters, results folder, cells and their runs (one record per seed)."""

    notebook: str
    profile: str
    params: dict
    results: Path
    roots: dict
    cells: dict
    records: dict[str, list[RunRecord]]
    source: str

    def runs(self) -> int:
        """Seeds per cell (the smallest, should cells differ)."""
        return min((len(r) for r in self.records.values()), default=0)

    def seeds_text(self) -> str:
        """Seeds per cell in words: one count, or the other cells' beside the core comparisons' where a profile gives
        those more (:attr:`aniso.runs.Profile.core_runs`, :func:`aniso.suite.is_core`)."""
        counts = {k: len(r) for k, r in self.records.items()}
        if len(set(counts.values())) <= 1:
            return str(self.runs())
        core = {k for k in counts if k in self.cells and suite.is_core(self.cells[k], self.profile)}
        text = lambda keys: " or ".join(str(n) for n in sorted({counts[k] for k in keys}))  # noqa: E731
        return f"{text(set(counts) - core)} ({text(core)} for the core comparisons: {suite.CORE_TEXT})"

    def run_ids(self) -> list[str]:
        return [r.id for recs in self.records.values() for r in recs]


_RUN_PARAMS = ("runs", "seed", "epochs", "device")
_CELL_PARAMS = experiments.CELL_PARAMS


def _as_list(name: str, value):
    """A list parameter given on papermill's command line arrives as text ('["a", "b"]' or 'a,b')."""
    if value is None or isinstance(value, (list, tuple)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = [p.strip() for p in text.split(",") if p.strip()]
        if isinstance(parsed, (list, tuple)):
            return list(parsed)
        return [parsed]
    raise ValueError(f"notebook parameter {name}={value!r} is invalid: expected a list (or None)")


def _parsed(params: dict) -> dict:
    """``params`` with every list parameter as a list (papermill's ``-p extra_losses '["m:f"]'`` gives text)."""
    return {k: _as_list(k, v) if k in _CELL_PARAMS else v for k, v in params.items()}


def plan_arguments(params: dict) -> dict:
    """The keyword arguments of :func:`aniso.experiments.plan` (and ``records``) for a notebook's parameters.

    What :func:`start` trains with, and what ``ci/run_notebooks.py --workers`` plans ahead of the notebooks.
    """
    params = _parsed(params)
    roots = suite.roots(**{k: params.get(k) for k in ("data_root_300w", "data_root_wflw", "data_root_aflw")})
    return {"profile": params.get("profile", "default"), "data_roots": roots,
            **{k: params[k] for k in _RUN_PARAMS if k in params},
            **{k: params[k] for k in _CELL_PARAMS if params.get(k) is not None}}


def start(notebook: str, params: dict) -> Session:
    """Check the profile and data roots, point the store at the results folder, load or train every run.

    Everything that can be wrong with the parameters fails here, before any
    training: an unknown profile, bad run settings, a data root without the
    release's layout, a user loss that cannot be imported or probed.
    """
    args = plan_arguments(params)
    profile, roots = args["profile"], args["data_roots"]
    get_profile(profile)
    results = Path(params.get("results_dir", "scratch"))
    results = results if results.is_absolute() else REPO_ROOT / results
    use_results_store(results)
    cells = experiments.notebook_cells(notebook, profile, **{k: args[k] for k in _CELL_PARAMS if k in args})
    records = experiments.records(notebook, progress=params.get("progress", True), **args)
    datasets = sorted({c.dataset for c in cells.values()})
    session = Session(notebook, profile, _parsed(params), results, roots, cells, records,
                      suite.source_label(profile, roots, datasets))
    print(suite.describe(cells, records, profile, roots))
    return session
