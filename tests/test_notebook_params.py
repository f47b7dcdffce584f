"""The notebooks' parameter check, house style and the one list of notebooks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aniso import experiments
from aniso.notebook import _as_list, check_parameters, declared_names

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DECLARED = 'profile: str = "default"  # p\nruns: int = None  # r\n'


def test_declared_names():
    assert declared_names(DECLARED) == ["profile", "runs"]


def test_injected_known_parameters_pass():
    ns = {"In": ["", "import x", DECLARED, "# Parameters\nruns = 5\n", "check_parameters(globals())"],
          "profile": "default", "runs": 5}
    assert check_parameters(ns) == {"profile": "default", "runs": 5}


def test_injected_unknown_parameter_fails():
    ns = {"In": ["", "import x", DECLARED, "# Parameters\nepoch = 3\nruns = 2\n", "check_parameters(globals())"]}
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['epoch'\]"):
        check_parameters(ns)


def test_without_a_history_the_known_parameters_are_read():
    ns = {"profile": "smoke", "runs": 2, "other": 1}  # nbval runs cells without an input history
    assert check_parameters(ns) == {"profile": "smoke", "runs": 2}


def test_without_papermill_nothing_to_check():
    ns = {"In": ["", "import x", DECLARED, "params = check_parameters(globals())"], "profile": "default", "runs": None}
    assert check_parameters(ns) == {"profile": "default", "runs": None}


def test_list_parameters_from_the_command_line():
    assert _as_list("extra_losses", '["my_losses:a", "my_losses:b"]') == ["my_losses:a", "my_losses:b"]
    assert _as_list("archs", "resnet18, resnet50") == ["resnet18", "resnet50"]
    assert _as_list("a_values", "[3, 6.0]") == [3, 6.0] and _as_list("x", None) is None
    with pytest.raises(ValueError, match="expected a list"):
        _as_list("archs", 3)


def test_one_list_of_notebooks_and_the_readme_table():
    assert sorted(experiments.NOTEBOOKS) == sorted(p.stem for p in NOTEBOOKS)
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| notebook | reproduces |", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, flags=re.M)
    assert listed == list(experiments.NOTEBOOKS), "the README's notebook table must follow aniso.experiments.NOTEBOOKS"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_house_style(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = nb["cells"]
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    src = "".join(params[0]["source"])
    for line in src.splitlines():
        assert line.count("=") == 1 and "#" in line, f"{path.name}: parameter line needs one '=' and a comment: {line}"
    assert 'results_dir: str = "scratch"' in src, "ad-hoc runs must write to the scratch folder by default"
    from aniso.notebook import _KNOWN

    assert set(declared_names(src)) <= set(_KNOWN), "a kernel without history (nbval) must still find every parameter"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "\ndef " not in "\n" + code
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code")
    assert f'notebook.start("{path.stem}", notebook.check_parameters(globals()))' in code
    assert "judging.judge_section(session" in code or "judging.write_verdicts(session" in code, "no report section"
    assert any("# NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in cells)


def papermill(tmp_path, *params, notebook="table1"):
    source = str(ROOT / "notebooks" / f"{notebook}.ipynb")
    cmd = [sys.executable, "-m", "papermill", source, str(tmp_path / "out.ipynb"),
           "--kernel", "python3", "-p", "results_dir", str(tmp_path / "results"), *params]
    env = {"ANISO_RUNS_DIR": str(tmp_path / "runs"), "ANISO_READ_RUNS": "", "ANISO_CACHE": str(tmp_path / "cache")}
    import os

    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, **env})


def _runner():
    """``ci/run_notebooks.py`` as a module (it is a script, not part of the package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "ci" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_saved_notebook_is_valid_and_the_same_run_to_run(tmp_path):
    import nbformat
    runner = _runner()

    def executed(cell_id: str) -> dict:  # what papermill leaves: a random id, timing metadata, a progress bar, paths
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# T", id="t-0"),
                    nbformat.v4.new_code_cell("profile = 'smoke'", id=cell_id,
                                              metadata={"tags": ["injected-parameters"], "papermill": {"duration": 1}}),
                    nbformat.v4.new_code_cell("run()", id="t-2", outputs=[
                        nbformat.v4.new_output("stream", name="stderr", text="epoch 1:  50%|#####     | 1/2\r"),
                        nbformat.v4.new_output("stream", name="stdout", text=f"read {runner.REPO}/results\n")])]
        nb.metadata["papermill"] = {"start_time": cell_id}
        return nb

    saved = []
    for i, cell_id in enumerate(["5b153b39", "30715b81"]):
        path = tmp_path / f"{i}.ipynb"
        nbformat.write(executed(cell_id), path)
        runner.clean_notebook(path)
        nbformat.validate(nbformat.read(path, as_version=4))
        saved.append(path.read_text())
    assert saved[0] == saved[1]
    assert "papermill" not in saved[0] and "50%" not in saved[0] and str(runner.REPO) not in saved[0]
    assert "read <repo>/results" in saved[0]
