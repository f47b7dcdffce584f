"""``python -m aniso.runs verify``: every damaged entry of a store listed (and nothing else), exit 1 on damage,
``--prune`` removing only stale claims, checkpoints of stored runs and orphan temporaries; the committed stores pass.

The damage kinds are the bad-input catalogue's (tests/test_bad_input.py), applied to a copy of a tiny store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aniso.runs import config_id, make_config, run, verify
from aniso.runs.config import RunConfig
from aniso.runs.store import RunRecord
from test_bad_input import DAMAGE_CASES

LIB = Path(__file__).resolve().parents[1] / "lib"


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """A store of two one-epoch smoke runs, trained once; tests damage copies of it."""
    base = tmp_path_factory.mktemp("golden")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANISO_RUNS_DIR", str(base / "runs"))
    mp.setenv("ANISO_READ_RUNS", "")
    mp.setenv("ANISO_CACHE", str(base / "cache"))
    ids = [run(make_config("smoke", epochs=1, seed=s), progress=False).id for s in (0, 1)]
    (base / "runs" / "tuning").mkdir()
    (base / "runs" / "tuning" / "l2-adam-000000000000.json").write_text(json.dumps(
        {"key": "l2-adam-000000000000", "loss": "l2", "loss_params": {}, "optimizer": "adam", "dataset": "300w",
         "epochs": 1, "seed": 0, "grid": [1e-3], "scores": [0.1], "chosen": 1e-3, "seconds": 1.0}))
    mp.undo()
    return base / "runs", ids


@pytest.fixture
def store(golden, tmp_path, monkeypatch):
    """A copy of the golden store, with a private (empty) cache."""
    monkeypatch.setenv("ANISO_CACHE", str(tmp_path / "cache"))
    return shutil.copytree(golden[0], tmp_path / "runs")


def damage(findings):
    return [(f.kind, f.path) for f in findings if f.damage]


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def age(path: Path, seconds: float) -> Path:
    """Set ``path``'s mtime ``seconds`` in the past (a claim's last heartbeat, a temporary's last write)."""
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_the_committed_stores_pass():
    """What `make verify` (and so `make test`, CI) checks."""
    findings = verify.verify()
    assert damage(findings) == [], verify.report(findings, verify.resolve_stores()[0])
    assert verify.main([]) == 0


def test_a_sound_store_has_no_findings(store):
    assert verify.verify([store]) == []
    assert verify.main([str(store)]) == 0


@pytest.mark.parametrize("breaker, kind, fragment", DAMAGE_CASES, ids=lambda x: getattr(x, "__name__", None))
def test_verify_lists_exactly_the_damaged_entry(store, golden, breaker, kind, fragment, capsys):
    damaged = breaker(store, golden[1][1])
    before = everything(store)
    findings = verify.verify([store])
    assert damage(findings) == [(kind, damaged)] and fragment in findings[0].message
    assert "git checkout --" in findings[0].message and not any(f.safe_to_prune for f in findings)
    assert verify.main([str(store), "--prune"]) == 1
    out = capsys.readouterr().out
    assert str(damaged) in out and "1 damaged entry" in out and "pruned: nothing to remove" in out
    assert everything(store) == before  # a damaged record is reported, never removed


def test_missing_provenance_and_damaged_tuning_results_are_damage(store, golden):
    rid = golden[1][0]
    meta = json.loads((store / f"{rid}.json").read_text())
    del meta["provenance"]["cpu"]
    (store / f"{rid}.json").write_text(json.dumps(meta))
    tuned = store / "tuning" / "l2-adam-000000000000.json"
    tuned.write_text(tuned.read_text()[:50])
    findings = verify.verify([store])
    assert damage(findings) == [("missing provenance", store / f"{rid}.json"), ("unreadable tuning file", tuned)]
    assert "lacks cpu" in findings[0].message and "delete it to tune again" in findings[1].message
    RunRecord.load(rid, store)  # still loads: only verify asks for complete provenance


def test_prune_removes_only_what_is_safe(store, golden, tmp_path, monkeypatch):
    expiry = 15 * 60.0
    monkeypatch.setenv("ANISO_CLAIM_EXPIRY", str(expiry))
    stale = _touch(store / "claims" / "300w-l2-aaaaaaaaaaaa.claim")
    stale.write_text(json.dumps({"host": "gone", "pid": 1}))
    age(stale, 2 * expiry)
    claims = store / "claims"
    stale_lock = age(_touch(claims / "300w-l2-aaaaaaaaaaaa.takeover"), 2 * expiry)
    fresh = _touch(claims / "300w-l2-bbbbbbbbbbbb.claim")
    orphan = age(_touch(store / f".{golden[1][0]}.k2j3_9xq.npz"), 2 * expiry)
    orphan_tuning = age(_touch(store / "tuning" / ".l2-adam-1.ab12cd34.json"), 2 * expiry)
    writing = _touch(store / ".300w-l2-cccccccccccc.zz99yy88.json")  # a write in progress
    ckpts = tmp_path / "cache" / "checkpoints"
    stored_ckpt = _touch(ckpts / golden[1][0] / "last.pt").parent
    resumable = _touch(ckpts / "300w-l2-dddddddddddd" / "last.pt")  # a run not stored: its checkpoint stays
    orphan_ckpt = age(_touch(resumable.parent / ".last.q1w2e3r4.pt"), 2 * expiry)
    records = sorted(p.name for p in store.glob("*.*") if not p.name.startswith("."))

    findings = verify.verify([store])
    listed = {(f.kind, f.path, f.safe_to_prune) for f in findings}
    assert listed == {("stale claim", stale, True), ("stale claim", stale_lock, True), ("in training", fresh, False),
                      ("orphan temporary", orphan, True), ("orphan temporary", orphan_tuning, True),
                      ("being written", writing, False), ("stored checkpoint", stored_ckpt, True),
                      ("orphan temporary", orphan_ckpt, True)}
    assert verify.main([str(store), "--prune"]) == 0  # nothing damaged
    gone = [stale, stale_lock, orphan, orphan_tuning, stored_ckpt, orphan_ckpt]
    assert not any(p.exists() for p in gone)
    assert fresh.exists() and writing.exists() and resumable.exists()
    assert sorted(p.name for p in store.glob("*.*") if not p.name.startswith(".")) == records
    assert {(f.kind, f.path) for f in verify.verify([store])} == {("in training", fresh), ("being written", writing)}


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.touch()
    return p


def _rehash(store: Path, rid: str, config: dict, provenance: dict) -> str:
    """Rewrite record ``rid`` as made with ``config`` on ``provenance``'s device and precision; its new id."""
    meta = json.loads((store / f"{rid}.json").read_text())
    meta["config"].update(config)
    meta["provenance"].update(provenance)
    kind = "cuda" if provenance["device"].startswith("cuda") else "cpu"
    new = config_id(RunConfig(**meta["config"]).replace(device=kind, precision=provenance["precision"]))
    meta["id"] = new
    (store / f"{rid}.json").unlink()
    (store / f"{new}.json").write_text(json.dumps(meta))
    (store / f"{rid}.npz").rename(store / f"{new}.npz")
    return new


@pytest.mark.parametrize("has_bf16", [False, True])
def test_records_are_checked_under_their_own_device_and_precision(store, golden, monkeypatch, has_bf16):
    """A GPU record checks on this CPU-only machine; a CPU record made in fp32 ("auto" on a CPU without bf16
    units) checks on one with them, and one made in bf16 on one without."""
    from aniso.runs import config as run_config

    auto = {"device": "auto", "precision": "auto"}
    gpu = _rehash(store, golden[1][0], auto, {"device": "cuda:0 (NVIDIA H200)", "precision": "bf16"})
    cpu = _rehash(store, golden[1][1], auto, {"device": "cpu", "precision": "bf16" if not has_bf16 else "fp32"})
    monkeypatch.setattr(run_config, "cpu_has_bf16", lambda: has_bf16)
    assert config_id(RunConfig(**json.loads((store / f"{cpu}.json").read_text())["config"])) != cpu  # this machine's
    for rid in (gpu, cpu):
        RunRecord.load(rid, store)
    assert verify.verify([store]) == []


def test_a_user_loss_that_cannot_be_imported_is_a_warning(store, golden):
    rid = golden[1][0]
    meta = json.loads((store / f"{rid}.json").read_text())
    meta["config"]["loss"] = "no_such_module_here:my_loss"
    (store / f"{rid}.json").write_text(json.dumps(meta))
    RunRecord.load(rid, store)
    findings = verify.verify([store])
    assert [(f.kind, f.path) for f in findings] == [("unchecked id", store / f"{rid}.json")]
    assert "no_such_module_here" in findings[0].message and verify.main([str(store)]) == 0


def test_stores_default_skip_missing_and_fail_on_a_missing_one_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(verify, "DEFAULT_STORES", ("results/runs", "results-nowhere/runs"))
    paths, notes = verify.resolve_stores()
    assert [p.name for p in paths] == ["runs"] and [(n.kind, n.path.parent.name) for n in notes] == [
        ("skipped store", "results-nowhere")]
    assert verify.main([str(tmp_path / "nowhere")]) == 2
    assert f"run store {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_the_command_line(store, golden):
    damaged = DAMAGE_CASES[1][0](store, golden[1][0])  # a truncated .npz
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LIB), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "aniso.runs", "verify", str(store)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1 and str(damaged) in proc.stdout and "unreadable npz" in proc.stdout, proc.stderr
