"""One experiment, one place: each notebook is declared once (aniso.experiments), and nothing else names one."""

import ast
import importlib.util
from pathlib import Path

import pytest

from aniso import experiments, judging, suite
from aniso.claims import Claim
from aniso.runs import PROFILES

REPO = Path(__file__).resolve().parents[1]
#: The declarations: the experiments, and the claims, which say which notebook judges them.
DECLARATIONS = {REPO / "lib" / "aniso" / "experiments.py", REPO / "lib" / "aniso" / "claims.py"}


def test_every_notebook_has_exactly_one_experiment():
    stems = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    assert stems == sorted(experiments.EXPERIMENTS)
    assert list(experiments.NOTEBOOKS) == list(experiments.EXPERIMENTS)


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_module_outside_the_declarations_names_a_notebook():
    names = set(experiments.EXPERIMENTS)
    profiles_py = REPO / "lib" / "aniso" / "runs" / "profiles.py"  # a profile may share a notebook's name
    found = []
    for folder in ("lib", "ci", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path in DECLARATIONS:
                continue
            allowed = set(PROFILES) if path == profiles_py else set()
            found += [f"{path.relative_to(REPO)}:{line}: {text!r}" for line, text in _string_literals(path)
                      if text in names - allowed]
    assert not found, "notebook names outside aniso.experiments / aniso.claims:\n" + "\n".join(found)


@pytest.fixture
def tiny_experiment():
    """A new notebook's whole declaration: its cells, one claim, the profiles that run it."""
    claim = Claim(id="X.1", notebook="tiny", text="L1 beats L2 on 300W (tiny)", kind="better",
                  a=suite.cell_key("300w", "l1"), b=suite.cell_key("300w", "l2"))
    cells = {c.key: c for c in (suite.Cell("300w", loss, label=loss) for loss in ("l1", "l2"))}
    tiny = experiments.Experiment("tiny", "A tiny experiment", lambda profile: dict(cells),
                                  claims=lambda profile, extra=(): [claim])
    experiments.register(tiny)
    yield tiny
    experiments.EXPERIMENTS.pop("tiny")


def test_a_new_notebook_needs_one_declaration(tiny_experiment):
    # every consumer finds it: the runner's notebook list, the plan, the claims, the judge, the GPU session
    assert "tiny" in experiments.for_profile("default") and "tiny" not in experiments.for_profile("long")
    planned = experiments.plan("tiny", profile="smoke", tune=False, progress=False)
    assert set(planned) == {"300w/l1", "300w/l2"} and all(len(cfgs) == 1 for _, cfgs, _ in planned.values())
    assert [c.id for c in experiments.claims_for("tiny", "smoke")] == ["X.1"]
    assert experiments.figure_context("tiny", {}) == {}
    with pytest.raises(KeyError, match="X.1 needs cells"):  # judged like any claim, on its own cells
        judging.judge(experiments.claims_for("tiny", "smoke")[0], {})
    assert ("tiny", None) in experiments.gpu_priority()[-1][1]


def test_selective_profiles_run_only_what_names_them():
    for name, prof in PROFILES.items():
        runs = experiments.for_profile(name)
        if prof.selective:
            assert runs and all(name in (experiments.get(n).only or ()) + experiments.get(n).also for n in runs)
        else:
            assert "table6" in runs and "calibration" not in runs
    assert experiments.for_profile("calibration") == ["calibration"]
    with pytest.raises(ValueError, match="unknown notebook 'nope'"):
        experiments.notebook_cells("nope", "default")


def test_the_runner_refuses_an_undeclared_notebook(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "ci" / "run_notebooks.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    (tmp_path / "notebooks").mkdir()
    for stem in list(experiments.EXPERIMENTS) + ["stray"]:
        (tmp_path / "notebooks" / f"{stem}.ipynb").write_text("{}")
    monkeypatch.setattr(run, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="stray"):
        run.notebooks(None, "default")


def test_a_gpu_session_checks_the_calibrated_benchmark_first(monkeypatch):
    monkeypatch.setattr(experiments, "calibrated", lambda: None)
    assert experiments.gpu_priority()[0][0].startswith("300W: the paper's losses")
    monkeypatch.setattr(experiments, "calibrated", lambda: "N2a")
    what, parts, profile = experiments.gpu_priority()[0]
    assert profile is None
    (nb, keep), = parts
    cells = [c for c in experiments.notebook_cells(nb, "converged").values() if keep(c)]
    assert "N2a" in what and sorted(c.key for c in cells) == ["300w/l1/synth_errors=N2a", "300w/l2/synth_errors=N2a"]
