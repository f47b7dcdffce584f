"""ci/gpu_session.py at smoke size on the CPU: a session stopped by its time limit leaves only finished records,
and the next session, given the first one's store, trains only what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from aniso.runs.store import RunRecord

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def session(tmp: Path, name: str, limit: float, resume: list[Path]) -> tuple[Path, str]:
    out, work = tmp / f"{name}-out", tmp / f"{name}-work"
    cmd = [sys.executable, str(REPO / "ci" / "gpu_session.py"), "--tiny", "--out", str(out), "--work", str(work),
           "--time-limit", str(limit), "--runs-per-gpu", "2"]
    for r in resume:
        cmd += ["--resume", str(r)]
    env = dict(os.environ, OMP_NUM_THREADS="1", ANISO_CLAIM_EXPIRY="600")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, (out / "log.txt").read_text()


def unpack(out: Path, into: Path) -> Path:
    with tarfile.open(out / "store.tar.gz") as tf:
        tf.extractall(into, filter="data")
    return into / "runs"


def complete_records(store: Path) -> dict[str, float]:
    """Every record of ``store`` (each must load: a pair of files, arrays consistent); ``{id: mtime}``."""
    names = {p.name for p in store.iterdir() if p.is_file()}
    stems = {n.rsplit(".", 1)[0] for n in names}
    assert names == {f"{s}.json" for s in stems} | {f"{s}.npz" for s in stems}, "only record pairs in the store"
    for s in stems:
        RunRecord.load(s, store)
    assert not (store / "claims").exists() or not list((store / "claims").iterdir())
    return {s: (store / f"{s}.json").stat().st_mtime for s in stems}


def test_a_session_stopped_by_its_time_limit_keeps_finished_runs_and_the_next_resumes(tmp_path):
    out1, log1 = session(tmp_path, "first", 25, [])
    assert "time limit reached" in log1
    first = unpack(out1, tmp_path / "committed")
    done = complete_records(first)
    assert done, "the first session finished some runs"
    out2, log2 = session(tmp_path, "second", 60, [first])
    second = unpack(out2, tmp_path / "second-store")
    again = complete_records(second)
    assert again and not set(again) & set(done), "the second session trained only runs the first did not store"
    stored_lines = [line for line in log2.splitlines() if "already stored" in line]
    assert stored_lines and int(stored_lines[0].split(",")[1].split()[0]) > 0
    for rid in done:  # the first session's files are untouched by the second
        assert json.loads((first / f"{rid}.json").read_text())["id"] == rid
