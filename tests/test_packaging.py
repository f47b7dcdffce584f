"""The installed package stands alone: a wheel built from the repository's files alone generates a benchmark.

The repository is copied without anything beside it (no sibling folders, no
build products), built into a wheel, installed into a private folder and run
from a working directory outside the copy, with only that folder on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aniso.data import open_dataset
from aniso.synthetic import plan

REPO = Path(__file__).resolve().parents[1]


def _repository_files() -> list[Path]:
    """Files of the checkout: tracked plus new files git does not ignore (relative paths that exist)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout of the repository")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout.decode()
    return [Path(p) for p in out.split("\0") if p and (REPO / p).is_file()]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_from_a_bare_copy_generates_a_tree(tmp_path):
    copy = tmp_path / "parent" / "repo"       # nothing else in "parent": no sibling folder to lean on
    for rel in _repository_files():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, copy / rel)
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), "."], cwd=copy, env=env)
    wheel = sorted(wheels.glob("aniso-*.whl"))
    assert len(wheel) == 1, list(wheels.iterdir())
    _run(pip + ["install", "--no-deps", "-q", "--target", str(site), str(wheel[0])], cwd=work, env=env)
    assert (site / "aniso" / "synthetic" / "face3d_68.csv").is_file()   # the mean face travels as package data

    env["PYTHONPATH"] = str(site)
    where = _run([sys.executable, "-c", "import aniso.synthetic as s; print(s.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(site)               # the installed copy, not a checkout
    out = work / "w300"
    _run([sys.executable, "-m", "aniso.synth", "300w", str(out), "--scale", "0.005", "--quiet"], cwd=work, env=env)
    counts = plan("300w", 0.005)
    train = open_dataset("300w", out, "train")
    assert len(train) == counts["afw"] + counts["helen/trainset"] + counts["lfpw/trainset"]
    assert all(r.clean_landmarks is not None for r in train)
    assert len(open_dataset("300w", out, "challenging")) == counts["ibug"]
