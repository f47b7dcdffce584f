"""Small helpers for the notebooks: parameter checks and run grids.

papermill only warns about a parameter the notebook does not declare, so a
typo (``-p epoch 3`` for ``epochs``) would silently run the defaults. Each
notebook calls :func:`check_parameters` right after its parameters cell: it
reads the kernel's input history (``In``), finds papermill's injected cell
(it starts with ``# Parameters``) and the declared parameters cell before it,
and raises when the injected cell sets a name that the declared cell does not.
Outside papermill (JupyterLab) there is no injected cell and nothing to check.
"""

from __future__ import annotations

import ast

__all__ = ["check_parameters", "declared_names"]

_INJECTED_MARK = "# Parameters"


def declared_names(source: str) -> list[str]:
    """Names assigned at the top level of a cell's source."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            if isinstance(t, ast.Name):
                names.append(t.id)
    return names


def check_parameters(namespace: dict) -> dict:
    """Fail on injected parameters that the notebook does not declare; return the parameters.

    ``namespace`` is the notebook's ``globals()``. Returns ``{name: value}``
    for the declared parameters (handy for recording them with the results).
    """
    history = [c for c in namespace.get("In", []) if c]
    injected_at = [i for i, src in enumerate(history) if src.lstrip().startswith(_INJECTED_MARK)]
    if injected_at:
        i = injected_at[-1]
        declared_src = next((history[j] for j in range(i - 1, -1, -1) if "check_parameters" not in history[j]), "")
        declared = declared_names(declared_src)
        injected = declared_names(history[i])
        unknown = [n for n in injected if n not in declared]
        if unknown:
            raise ValueError(f"unknown notebook parameter(s) {unknown}: this notebook takes {declared} "
                             f"(see `papermill --help-notebook <notebook>`)")
    else:
        declared = []
        # no papermill: the declared cell is the last one with only literal assignments
        for src in reversed(history):
            if "check_parameters" in src:
                continue
            try:
                names = declared_names(src)
            except SyntaxError:
                continue
            if names and all(isinstance(n, (ast.Assign, ast.AnnAssign)) for n in ast.parse(src).body):
                declared = names
                break
    return {n: namespace[n] for n in declared if n in namespace}
