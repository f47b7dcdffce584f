"""The README's one-notebook commands work as written from a fresh clone (at the smoke profile).

Every ``papermill`` command in a fenced ``bash`` block of README.md is taken as written: its executable, its
notebook, its environment prefix and its parameters. Two things are checked:

* the folder it writes its executed notebook into exists in a fresh clone (it holds a tracked file): papermill
  checks its output folder before the notebook runs, so a folder the notebook would create is too late;
* the command runs: ``--help-notebook`` as it is; a notebook run at the smoke profile, with its real-data roots
  pointed at tiny trees in the release formats, its executed notebook, results and runs in a temporary folder
  (nothing of the user's ``scratch/`` is overwritten).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from aniso.runs.store import REPO_ROOT
from fixtures_real import make_300w_tree, make_aflw_tree, make_wflw_tree

README = REPO_ROOT / "README.md"
_TREES = {"data_root_300w": make_300w_tree, "data_root_wflw": make_wflw_tree, "data_root_aflw": make_aflw_tree}


def readme_commands(text: str) -> list[str]:
    """The shell commands of the fenced ``bash`` blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        commands += [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    return commands


def papermill_commands() -> list[list[str]]:
    return [shlex.split(c, comments=True) for c in readme_commands(README.read_text()) if "papermill " in c]


def _split(tokens: list[str]) -> tuple[dict, list[str]]:
    """``({VAR: value}, argv)`` of a command that may start with environment assignments."""
    env = {}
    while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[0]):
        name, value = tokens.pop(0).split("=", 1)
        env[name] = value
    return env, tokens


def _parameters(argv: list[str]) -> tuple[list[str], dict]:
    """The arguments before the first ``-p`` and the ``-p NAME VALUE`` parameters (in order)."""
    head = argv[:argv.index("-p")] if "-p" in argv else argv
    rest = argv[len(head):]
    assert len(rest) % 3 == 0 and all(rest[i] == "-p" for i in range(0, len(rest), 3)), f"unexpected {rest}"
    return head, {rest[i + 1]: rest[i + 2] for i in range(0, len(rest), 3)}


def test_the_readme_shows_one_notebook_commands():
    found = papermill_commands()
    assert any("--help-notebook" in c for c in found) and sum("-p" in c for c in found) >= 2, found


def _tracked(folder: Path) -> bool:
    out = subprocess.run(["git", "ls-files", str(folder)], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return bool(out.stdout.strip())


@pytest.mark.parametrize("tokens", papermill_commands(), ids=lambda t: " ".join(t)[:70])
def test_a_readme_command_runs_as_written(tokens, tmp_path):
    env, argv = _split(list(tokens))
    assert (REPO_ROOT / argv[0]).exists(), f"{argv[0]} is not there: the README's commands need `make` first"
    full = {k: v for k, v in os.environ.items() if not k.startswith("ANISO_") or k == "ANISO_CACHE"}
    full.update(env, ANISO_RUNS_DIR=str(tmp_path / "runs"))
    if "--help-notebook" in argv:
        out = subprocess.run(argv, cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "profile" in out.stdout, out.stderr[-2000:]
        return
    head, params = _parameters(argv)
    notebook, output = [a for a in head if a.endswith(".ipynb")]
    assert (REPO_ROOT / notebook).is_file(), f"{notebook} does not exist"
    assert _tracked(Path(output).parent), (f"{Path(output).parent}/ is not in a fresh clone, so papermill refuses to "
                                           f"write {output}: commit a file there or change the command")
    for name in [n for n in params if n in _TREES]:
        _TREES[name](tmp_path / name)
        params[name] = str(tmp_path / name)
    params.update(profile="smoke", results_dir=str(tmp_path / "results"), progress="False")
    run = [*[a if a != output else str(tmp_path / Path(output).name) for a in head],
           *[x for n, v in params.items() for x in ("-p", n, v)]]
    out = subprocess.run(run, cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{' '.join(tokens)} failed at the smoke profile:\n{out.stderr[-3000:]}"
    assert (tmp_path / Path(output).name).exists()
