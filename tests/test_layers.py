"""The import graph of lib/aniso has no cycle (the layers themselves are import-linter's contract in pyproject.toml,
which ``make test`` checks with ``lint-imports``), and the layer list names every top-level module."""

from __future__ import annotations

import tomllib

import grimp
import networkx as nx

from aniso.runs.store import REPO_ROOT


def _graph() -> nx.DiGraph:
    g = grimp.build_graph("aniso")
    out = nx.DiGraph()
    for m in g.modules:
        out.add_node(m)
        out.add_edges_from((m, i) for i in g.find_modules_directly_imported_by(m))
    return out


def test_no_module_imports_itself_through_others():
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert not cycles, f"import cycles in lib/aniso: {cycles}"


def test_every_top_level_module_has_a_layer():
    contract = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    named = {m.strip() for layer in contract["layers"] for m in layer.split("|")}
    tops = {".".join(m.split(".")[:2]) for m in grimp.build_graph("aniso").modules} - {"aniso"}
    assert tops == named, f"without a layer: {sorted(tops - named)}; layers of no module: {sorted(named - tops)}"
