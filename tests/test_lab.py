"""``make lab`` serves every notebook a researcher wants: the paper's notebooks and every regime's executed ones.

Starts the exact command ``make -n lab`` prints, on a free loopback port with a token of its own, and lists
folders through Jupyter's contents API (what JupyterLab's file browser shows); then stops it.
"""

from __future__ import annotations

import json
import secrets
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from aniso.runs.store import REPO_ROOT

#: The folders whose notebooks the lab must reach: the notebooks to run, and each committed regime's executed ones.
FOLDERS = ("notebooks", "results/notebooks", "results-long/notebooks")


def _lab_command() -> list[str]:
    text = subprocess.run(["make", "-n", "lab"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in text.replace("\\\n", " ").splitlines() if "jupyter lab" in ln)
    return [a if not a.startswith(".venv/") else str(REPO_ROOT / a) for a in shlex.split(line)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def lab(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    cmd = _lab_command() + [f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
                            "--ServerApp.port_retries=0", f"--ServerApp.runtime_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # the server starts in a few seconds; give up after 60
            try:
                _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, f"`make lab`'s server exited: {proc.stderr.read()[-2000:]}"
                time.sleep(0.5)
        else:
            pytest.fail("`make lab`'s server did not answer within 60 s")
        yield base, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_make_lab_serves_the_notebooks_of_every_regime(lab):
    base, token = lab
    for folder in FOLDERS:
        listing = _get(f"{base}/api/contents/{folder}", token)
        notebooks = [f["name"] for f in listing["content"] if f["type"] == "notebook"]
        assert "table1.ipynb" in notebooks, f"{folder}/ as `make lab` serves it: {notebooks}"
