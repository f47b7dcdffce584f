"""Many runs at once: Ray dispatch, claims, killed workers, failures, and the parallel notebook runner (CPU only).

Runs here are tiny (smoke profile, one torch thread, a 1%-size synthetic set) and share one synthetic data
cache; every test has its own run store. One local Ray session (two one-thread workers) serves the module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aniso import experiments
from aniso.runs import RunConfig, RunsFailed, config_id, make_config, run_many, training
from aniso.runs import claims, cluster
from aniso.runs.store import RunRecord, checkpoint_dir, find

REPO = Path(__file__).resolve().parents[1]
LIB = str(REPO / "lib")
EXPIRY = "3"  # seconds: a dead worker's claim is taken over quickly; a live one beats every 0.75 s
TIME_FIELDS = ("finished", "train_seconds", "images_per_second", "timing")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The module's synthetic data cache and claim expiry (each test points the store somewhere of its own)."""
    base = tmp_path_factory.mktemp("dispatch")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANISO_CACHE", str(base / "cache"))
    mp.setenv("ANISO_CLAIM_EXPIRY", EXPIRY)
    mp.setenv("ANISO_CHECKPOINT_EVERY", "0")  # a checkpoint after every epoch: the killed-run test needs one
    mp.delenv("ANISO_READ_RUNS", raising=False)
    yield base
    mp.undo()


@pytest.fixture
def store(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture(scope="module")
def ray_store(cache):
    """One local Ray session (two workers of one thread) and one store for the Ray tests: the workers' environment
    holds the store, so one store lets every test reuse the same worker processes (each new one imports torch)."""
    ray = pytest.importorskip("ray")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANISO_RUNS_DIR", str(cache / "ray-runs"))
    ray.init(num_cpus=2, include_dashboard=False)
    yield cache / "ray-runs"
    ray.shutdown()
    mp.undo()


def tiny(**kw) -> RunConfig:
    return make_config("smoke", **{"epochs": 2, "threads": 1, "synth_scale": 0.01, **kw})


def strip(meta: dict) -> dict:
    """A record's metadata without what measures time."""
    out = {k: v for k, v in meta.items() if k not in TIME_FIELDS}
    out["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in meta["history"]]
    return out


def assert_same_record(a: RunRecord, b: RunRecord) -> None:
    assert sorted(a.arrays) == sorted(b.arrays)
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=f"{a.id}: {key}")
    assert strip(a.meta) == strip(b.meta)


def no_training_here(monkeypatch) -> None:
    """Fail if this process trains: runs must go to Ray workers (other processes)."""
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("trained in the driver, not in a worker"))


def spawn_run(config: RunConfig, marker: Path | None = None) -> subprocess.Popen:
    """Train ``config`` in another process (the environment's store); each epoch end appends "pid epoch"."""
    code = ("import json, os, sys\n"
            "from aniso.runs import RunConfig, run\n"
            "def mark(epoch, row):\n"
            "    if sys.argv[2]:\n"
            "        with open(sys.argv[2], 'a') as f: f.write(f'{os.getpid()} {epoch}\\n')\n"
            "run(RunConfig(**json.loads(sys.argv[1])), progress=False, on_epoch_end=mark)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([LIB, os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(config.to_dict()), str(marker or "")], env=env)


# ----------------------------------------------------------------------------- the notebook runner (first: its own
# Ray cluster should not share the two cores with this module's)

@pytest.mark.slow
def test_run_notebooks_with_workers_equals_the_serial_runs(cache, tmp_path, monkeypatch):
    out = tmp_path / "out"
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(REPO / "ci" / "run_notebooks.py"), "--profile", "smoke", "--workers",
                           "2", "--only", "table4", "-p", "epochs", "1", "--out", str(out)], cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "through 2 local workers" in proc.stdout and (out / "notebooks" / "table4.ipynb").exists()
    assert "runs (0 to train)" in proc.stdout + proc.stderr  # the notebook found every run stored
    parallel_seconds = time.time() - t0
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "serial"))
    experiments.records("table4", profile="smoke", epochs=1, progress=False)
    serial, ci_store = tmp_path / "serial", out / "runs"
    ids = sorted(p.stem for p in serial.glob("*.json"))
    assert ids and ids == sorted(p.stem for p in ci_store.glob("*.json"))
    for rid in ids:
        assert_same_record(RunRecord.load(rid, serial), RunRecord.load(rid, ci_store))
    tunings = sorted(p.name for p in (serial / "tuning").glob("*.json"))
    assert tunings and tunings == sorted(p.name for p in (ci_store / "tuning").glob("*.json"))
    for name in tunings:  # same key, same scores, same choice; only the time differs
        a, b = (json.loads((d / "tuning" / name).read_text()) for d in (serial, ci_store))
        assert {**a, "seconds": 0} == {**b, "seconds": 0}
    assert not list((ci_store / "claims").glob("*"))
    print(f"run_notebooks --workers 2 --only table4: {parallel_seconds:.0f} s")


# ----------------------------------------------------------------------------- run_many through Ray

def test_two_workers_train_four_runs_bit_identical_to_serial(ray_store, tmp_path, monkeypatch):
    configs = [tiny(seed=s, loss=loss) for s, loss in ((0, "anisotropic"), (1, "anisotropic"), (0, "l2"), (0, "wing"))]
    with monkeypatch.context() as m:
        no_training_here(m)
        parallel = run_many(configs, progress=False, workers=2)
    assert [r.id for r in parallel] == [config_id(c) for c in configs]  # in the order given
    assert not list((ray_store / "claims").glob("*"))
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "serial"))
    serial = run_many(configs, progress=False)
    for a, b in zip(parallel, serial):
        assert_same_record(a, b)
    assert len({r.nmes("full", "inter_pupil").tobytes() for r in serial}) == 4  # four different runs


def test_a_killed_run_resumes_from_its_checkpoint_once_its_claim_expires(ray_store):
    import torch

    c = tiny(epochs=3, seed=7)
    rid = config_id(c)
    ckpt = checkpoint_dir(rid) / "last.pt"
    proc = spawn_run(c)
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and find(rid) is None, "the run should have been killed after its first epoch"
    trained = torch.load(ckpt, weights_only=False)["history"]
    assert 1 <= len(trained) < 3 and claims.claim_path(rid).exists()  # the dead worker's claim is left behind
    (record,) = run_many([c], progress=False, workers=2)
    # the epochs trained before the kill come from the checkpoint, wall-clock seconds included: not retrained
    assert record.meta["history"][: len(trained)] == trained
    assert [h["epoch"] for h in record.meta["history"]] == [1, 2, 3]
    assert not claims.claim_path(rid).exists() and not ckpt.parent.exists()


def test_two_workers_asked_for_the_same_run_train_it_once(cache, store, tmp_path):
    c = tiny(seed=9)
    marker = tmp_path / "epochs.txt"
    procs = [spawn_run(c, marker) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    lines = [line.split() for line in marker.read_text().splitlines()]
    assert len({pid for pid, _ in lines}) == 1, lines  # one process trained, the other waited and loaded it
    assert [int(e) for _, e in lines] == [1, 2]
    assert find(config_id(c)) is not None and not claims.claim_path(config_id(c)).exists()


def test_a_failing_run_is_reported_with_its_configuration_and_the_others_finish(ray_store, tmp_path, monkeypatch):
    empty = tmp_path / "not-a-release"
    empty.mkdir()
    good, bad = tiny(seed=21), tiny(seed=21, root=str(empty))
    with pytest.raises(RunsFailed) as err:
        run_many([bad, good], progress=False, workers=2)
    assert [c for c, _ in err.value.failures] == [bad]
    assert str(empty) in err.value.failures[0][1] and "Traceback" in err.value.failures[0][1]
    assert "1 of 2 runs failed" in str(err.value) and repr(str(empty)) in str(err.value)
    assert find(config_id(good)) is not None
    dispatched = []
    real_sweep = cluster.sweep
    # where run_many calls it (aniso.runs.dispatch imports it at its top)
    monkeypatch.setattr("aniso.runs.dispatch.sweep", lambda fn, tasks, *a, **k: dispatched.append(tasks)
                        or real_sweep(fn, tasks, *a, **k))
    (again,) = run_many([good], progress=False, workers=2)  # asking again trains only what is missing: nothing
    assert dispatched == [[]] and again.id == config_id(good)


def test_an_interrupted_sweep_releases_its_claims_and_keeps_its_checkpoints(ray_store):
    configs = [tiny(epochs=6, seed=s) for s in (40, 41)]
    ckpts = [checkpoint_dir(config_id(c)) / "last.pt" for c in configs]

    def interrupt_after_a_checkpoint():
        deadline = time.time() + 120
        while not any(p.exists() for p in ckpts) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the driver

    # a job started in the background by a non-interactive shell inherits SIGINT ignored: Ctrl-C's handler, explicitly
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watcher = threading.Thread(target=interrupt_after_a_checkpoint, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_many(configs, progress=False, workers=2)
        watcher.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert any(p.exists() for p in ckpts)  # kept for a resume ...
    assert not any(claims.claim_path(config_id(c)).exists() for c in configs)  # ... by anyone, at once
    assert not any(find(config_id(c)) for c in configs)


def test_the_serial_path_never_imports_ray(store, monkeypatch):
    c = tiny(seed=0, epochs=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # any `import ray` now raises ImportError
    first = run_many([c], progress=False)
    assert run_many([c, c], progress=False, workers=1)[1].id == first[0].id
    for workers, address in ((0, None), (2.5, None), (True, None), (None, "")):
        with pytest.raises(ValueError, match="workers|ray_address"):
            run_many([c], progress=False, workers=workers, ray_address=address)


def test_a_claim_is_exclusive_fresh_while_it_beats_and_taken_over_when_stale(store, monkeypatch):
    monkeypatch.setenv("ANISO_CLAIM_EXPIRY", "0.5")
    first = claims.try_claim("r1")
    assert first is not None and claims.try_claim("r1") is None
    holder = json.loads(claims.claim_path("r1").read_text())
    assert holder["pid"] == os.getpid() and holder["host"] and holder["started"] <= time.time()
    time.sleep(1.0)  # two expiries: the heartbeat keeps it fresh
    assert claims.try_claim("r1") is None
    first._stop.set()  # the holder dies: no more heartbeats
    first._beat.join()
    time.sleep(0.7)
    second = claims.try_claim("r1")
    assert second is not None and not first.held()
    first.release()  # a claim that was taken over is not removed by its old holder
    assert claims.claim_path("r1").exists()
    second.release()
    assert not claims.claim_path("r1").exists()
    monkeypatch.setenv("ANISO_CLAIM_EXPIRY", "soon")
    with pytest.raises(ValueError, match="ANISO_CLAIM_EXPIRY='soon'"):
        claims.claim_expiry()


def test_a_claim_whose_process_exited_here_is_stale_at_once_and_only_here(store, monkeypatch):
    from aniso.runs import verify

    monkeypatch.setenv("ANISO_CLAIM_EXPIRY", "900")  # the default: only the process check can make these stale
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: no process has its pid (unless the system recycles it within this test)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        here = claims._where()
        assert here is not None  # Linux
        cases = {"exited": (gone.pid, here), "alive": (alive.pid, here), "elsewhere": (gone.pid, "another|boot|1"),
                 "old": (gone.pid, None)}
        for name, (pid, where) in cases.items():
            path = claims.claim_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            holder = {"host": "h", "pid": pid, "started": time.time(), "token": name}
            path.write_text(json.dumps(holder if where is None else {**holder, "where": where}))
        stale = {name: claims.claim_status(claims.claim_path(name))[1] for name in cases}
        assert stale == {"exited": True, "alive": False, "elsewhere": False, "old": False}
        found = {f.path.stem: (f.kind, f.safe_to_prune) for f in verify.check_claims(store)}
        assert found["exited"] == ("stale claim", True) and found["alive"][0] == "in training"
        taken = claims.try_claim("exited")
        assert taken is not None and taken.held()  # taken over without waiting 900 s
        taken.release()
        assert all(claims.try_claim(name) is None for name in ("alive", "elsewhere", "old"))
        mine = claims.try_claim("new")
        assert json.loads(claims.claim_path("new").read_text())["where"] == here
        assert claims.try_claim("new") is None  # our own live claim is not stale
        mine.release()
    finally:
        alive.kill()
        alive.wait()
