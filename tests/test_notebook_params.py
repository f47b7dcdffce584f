"""The notebooks' parameter check and house style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aniso.notebook import check_parameters, declared_names

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
DECLARED = 'profile: str = "quick"  # p\nruns: int = None  # r\n'


def test_declared_names():
    assert declared_names(DECLARED) == ["profile", "runs"]


def test_injected_known_parameters_pass():
    ns = {"In": ["", "import x", DECLARED, "# Parameters\nruns = 5\n", "check_parameters(globals())"],
          "profile": "quick", "runs": 5}
    assert check_parameters(ns) == {"profile": "quick", "runs": 5}


def test_injected_unknown_parameter_fails():
    ns = {"In": ["", "import x", DECLARED, "# Parameters\nepoch = 3\nruns = 2\n", "check_parameters(globals())"]}
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['epoch'\]"):
        check_parameters(ns)


def test_without_papermill_nothing_to_check():
    ns = {"In": ["", "import x", DECLARED, "params = check_parameters(globals())"], "profile": "quick", "runs": None}
    assert check_parameters(ns) == {"profile": "quick", "runs": None}


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
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "\ndef " not in "\n" + code
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code")
    assert "check_parameters(globals())" in code
    assert any("# NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in cells)


def _papermill(tmp_path, *params):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "papermill", str(root / "notebooks" / "table1.ipynb"), str(tmp_path / "out.ipynb"),
           "--kernel", "python3", "-p", "results_dir", str(tmp_path / "results"), *params]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root)


def test_papermill_unknown_parameter_fails_before_training(tmp_path):
    proc = _papermill(tmp_path, "-p", "epoch", "3")
    assert proc.returncode != 0
    out = (tmp_path / "out.ipynb").read_text()
    assert "unknown notebook parameter" in out and "epoch" in out
    assert "papermill --help-notebook" in out
    assert not (tmp_path / "results").exists()


def test_papermill_bad_data_root_fails_before_training(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _papermill(tmp_path, "-p", "data_root", str(tmp_path / "empty"), "-p", "profile", "smoke")
    assert proc.returncode != 0
    out = (tmp_path / "out.ipynb").read_text()
    assert str(tmp_path / "empty") in out and "300W" in out
    assert not (tmp_path / "results").exists()
