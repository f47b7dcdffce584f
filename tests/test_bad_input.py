"""The bad-input catalogue: every kind fails before training with a message naming what is wrong, and leaves
nothing behind (no file under the results folder, no checkpoint).

Parameter mistakes go through papermill, as a user makes them; data mistakes go through ``notebook.start``,
the first thing every notebook runs, on a copy of a real-format tree with one thing broken.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from aniso import notebook
from aniso.data.formats import write_pts
from aniso.synthetic import generate
from test_notebook_params import papermill


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    return {"300w": generate("300w", base / "300w", scale=0.02, image_size=64, progress=False),
            "wflw": generate("wflw", base / "wflw", scale=0.006, image_size=64, progress=False)}


def _first(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


def truncate_pts(root):
    p = _first(root, "helen/trainset/*.pts")
    p.write_text("\n".join(p.read_text().splitlines()[:20]) + "\n")
    return p.name


def wrong_point_count(root):
    p = _first(root, "afw/*.pts")
    write_pts(p, np.random.default_rng(0).uniform(10, 50, (60, 2)))
    return p.name


def missing_image(root):
    p = _first(root, "lfpw/trainset/*.png")
    p.unlink()
    return p.stem


def corrupt_image(root):
    p = _first(root, "helen/testset/*.jpg")
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 600, dtype=np.uint8).tobytes())
    return p.name


def empty_image(root):
    p = _first(root, "ibug/*.jpg")
    p.write_bytes(b"")
    return p.name


def degenerate_shape(root):
    p = _first(root, "afw/*.pts")
    write_pts(p, np.full((68, 2), 20.0))
    return p.stem  # the message names the face and its image


def short_wflw_line(root):
    p = next(root.glob("WFLW_annotations/list_98pt_rect_attr_train_test/*train.txt"))
    lines = p.read_text().splitlines()
    lines[2] = " ".join(lines[2].split()[:150])
    p.write_text("\n".join(lines) + "\n")
    return f"{p.name}, line 3"


DATA_CASES = [  # (data set, how to break the tree, expected message fragments; "{x}" = what the breaker returns)
    ("300w", truncate_pts, ["{x}"]),
    ("300w", wrong_point_count, ["{x}", "68"]),
    ("300w", missing_image, ["{x}"]),
    ("300w", corrupt_image, ["{x}", "does not decode"]),
    ("300w", empty_image, ["{x}", "empty"]),
    ("300w", degenerate_shape, ["{x}"]),
    ("wflw", short_wflw_line, ["{x}"]),
]


def _nothing_left(tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*")), list(results.rglob("*"))
    ckpts = tmp_path / "cache" / "checkpoints"
    assert not ckpts.exists() or not any(ckpts.iterdir()), list(ckpts.iterdir())


def _start(tmp_path, name, **params):
    return notebook.start(name, {"profile": "smoke", "results_dir": str(tmp_path / "results"), "progress": False,
                                 **params})


@pytest.fixture
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ANISO_READ_RUNS", "")
    monkeypatch.setenv("ANISO_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("dataset, breaker, fragments", DATA_CASES, ids=lambda x: getattr(x, "__name__", None))
def test_broken_data_fails_before_training(private_store, trees, dataset, breaker, fragments):
    root = shutil.copytree(trees[dataset], private_store / "data")
    what = breaker(root)
    nb = {"300w": "table4", "wflw": "table3"}[dataset]
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        _start(private_store, nb, **{f"data_root_{dataset}": str(root)})
    for frag in fragments:
        assert frag.format(x=what) in str(err.value), (frag, str(err.value))
    _nothing_left(private_store)
    assert not (private_store / "runs").exists() or not any((private_store / "runs").rglob("*.json"))


def test_missing_and_empty_data_roots(private_store):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        _start(private_store, "table4", data_root_300w=str(private_store / "does-not-exist"))
    (private_store / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty.*afw|afw.*empty"):
        _start(private_store, "table4", data_root_300w=str(private_store / "empty"))
    _nothing_left(private_store)


def test_a_diverging_loss_fails_and_leaves_nothing(private_store):
    from aniso.runs import make_config, run

    with pytest.raises(FloatingPointError, match="became"):
        run(make_config("smoke", loss="l2", optimizer="sgd", lr=1e8, epochs=2), progress=False)
    _nothing_left(private_store)
    assert not any((private_store / "runs").glob("*.json")) if (private_store / "runs").exists() else True


PARAM_CASES = [  # papermill parameters, expected fragment
    (["-p", "epoch", "3"], "unknown notebook parameter(s) ['epoch']"),
    (["-p", "profile", "nosuch"], "profile='nosuch' is invalid: expected one of 'smoke', 'default'"),
    (["-p", "profile", "smoke", "-p", "epochs", "0"], "epochs=0 is invalid: expected a positive integer"),
    (["-p", "profile", "smoke", "-p", "extra_losses", '["no_such_module:loss"]'], "no_such_module"),
]


@pytest.mark.parametrize("params, fragment", PARAM_CASES, ids=["unknown-param", "profile", "epochs", "user-loss"])
def test_bad_parameters_fail_before_training(private_store, params, fragment):
    proc = papermill(private_store, *params)
    assert proc.returncode != 0
    out = (private_store / "out.ipynb").read_text()
    assert fragment.replace("'", "\\'") in out or fragment in out, proc.stderr[-2000:]
    _nothing_left(private_store)


# ----------------------------------------------------------------------------- damaged records and a full disk
# A record as an interrupted copy or sync, a hand edit or another store version leaves it: loading it (a notebook
# does) raises one DamagedRecord naming the file, what is wrong and the remedy, before anything trains.

def truncate_json(store: Path, rid: str) -> Path:
    p = store / f"{rid}.json"
    p.write_text(p.read_text().splitlines()[0] + "\n")
    return p


def truncate_npz(store: Path, rid: str) -> Path:
    p = store / f"{rid}.npz"
    p.write_bytes(p.read_bytes()[:1000])
    return p


def missing_npz(store: Path, rid: str) -> Path:
    (store / f"{rid}.npz").unlink()
    return store / f"{rid}.json"


def missing_json(store: Path, rid: str) -> Path:
    (store / f"{rid}.json").unlink()
    return store / f"{rid}.npz"


def edited_config(store: Path, rid: str) -> Path:
    import json

    p = store / f"{rid}.json"
    meta = json.loads(p.read_text())
    meta["config"]["lr"] *= 2
    p.write_text(json.dumps(meta, indent=1))
    return p


def wrong_array_length(store: Path, rid: str) -> Path:
    p = store / f"{rid}.npz"
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    key = sorted(k for k in arrays if k.startswith("nme/"))[0]
    arrays[key] = arrays[key][:-1]
    np.savez_compressed(p, **arrays)
    return p


DAMAGE_CASES = [  # (how to damage a stored record, the kind it is reported as, a fragment of the message)
    (truncate_json, "unreadable json", "does not parse"),
    (truncate_npz, "unreadable npz", "do not open (BadZipFile"),
    (missing_npz, "missing pair", ".npz is missing"),
    (missing_json, "missing pair", ".json is missing"),
    (edited_config, "id mismatch", "does not match its configuration"),
    (wrong_array_length, "wrong arrays", "expected ("),
]


def assert_names_file_and_remedy(message: str, damaged: Path, rid: str) -> None:
    assert str(damaged) in message, message
    assert "git checkout --" in message and f"delete both {damaged.parent / rid}.json and {rid}.npz" in message


@pytest.fixture(scope="module")
def notebook_store(tmp_path_factory):
    """table4's smoke runs and tuning results, trained once (a private store and cache)."""
    base = tmp_path_factory.mktemp("table4")
    mp = pytest.MonkeyPatch()
    for name, value in {"ANISO_RUNS_DIR": base / "runs", "ANISO_READ_RUNS": "", "ANISO_CACHE": base / "cache"}.items():
        mp.setenv(name, str(value))
    session = notebook.start("table4", {"profile": "smoke", "results_dir": str(base / "results"), "progress": False})
    mp.undo()
    return base, session.run_ids()


@pytest.mark.parametrize("breaker, kind, fragment", DAMAGE_CASES, ids=lambda x: getattr(x, "__name__", None))
def test_a_damaged_record_is_named_with_its_remedy(notebook_store, tmp_path, monkeypatch, breaker, kind, fragment):
    from aniso.runs import RunRecord
    from aniso.runs.store import DamagedRecord

    base, ids = notebook_store
    store = shutil.copytree(base / "runs", tmp_path / "runs")
    damaged = breaker(store, ids[1])
    with pytest.raises(DamagedRecord) as err:
        RunRecord.load(ids[1], store)
    assert err.value.kind == kind and err.value.path == damaged and fragment in str(err.value), str(err.value)
    assert_names_file_and_remedy(str(err.value), damaged, ids[1])
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "scratch"))
    monkeypatch.setenv("ANISO_READ_RUNS", str(store))  # found the way a notebook finds the committed store
    with pytest.raises(DamagedRecord, match="delete both"):
        RunRecord.load(ids[1])
    if kind == "id mismatch":
        from aniso.runs.config import STORE_VERSION

        assert f"another store version than STORE_VERSION={STORE_VERSION}" in str(err.value)


@pytest.mark.parametrize("breaker", [c[0] for c in DAMAGE_CASES if c[1] != "missing pair"],
                         ids=lambda x: x.__name__)
def test_a_notebook_meeting_a_damaged_record_fails_before_training(notebook_store, tmp_path, monkeypatch, breaker):
    """One damaged record of the many a notebook reads: the notebook fails, naming it, and trains nothing."""
    from aniso.runs import training
    from aniso.runs.store import DamagedRecord

    base, ids = notebook_store
    store = shutil.copytree(base / "runs", tmp_path / "runs")
    damaged = breaker(store, ids[-1])  # the last run asked for: the others would be loaded (or trained) first
    monkeypatch.setenv("ANISO_RUNS_DIR", str(store))
    monkeypatch.setenv("ANISO_READ_RUNS", "")
    monkeypatch.setenv("ANISO_CACHE", str(base / "cache"))
    (store / f"{ids[0]}.json").unlink()  # one run to train: it must not start
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("trained before naming the damaged record"))
    with pytest.raises(DamagedRecord) as err:
        _start(tmp_path, "table4")
    assert_names_file_and_remedy(str(err.value), damaged, ids[-1])


def test_a_full_disk_names_the_file_leaves_nothing_and_the_run_resumes(private_store, monkeypatch, tmp_path):
    """No space for a checkpoint, then for the record: each fails naming the file and the cause, leaves no partial
    file, keeps the last checkpoint; once space is back the run resumes to the uninterrupted run's numbers."""
    import errno
    import os

    import torch

    from aniso import files
    from aniso.runs import config_id, make_config, run
    from aniso.runs.store import SaveFailed

    monkeypatch.setenv("ANISO_CHECKPOINT_EVERY", "0")  # a checkpoint after every epoch
    c = make_config("smoke", epochs=3, seed=5)
    rid = config_id(c)
    runs, ckpt = private_store / "runs", private_store / "cache" / "checkpoints" / rid
    real_write = files._write_bytes

    def disk_full_for(stem: str, when=lambda tmp: True):
        def write(tmp: Path, data) -> None:
            if tmp.name.startswith(f".{stem}.") and when(tmp):
                payload = bytes(data)
                real_write(tmp, payload[: len(payload) // 2])  # half written, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write(tmp, data)
        return write

    def leftovers() -> list[str]:
        return sorted(p.name for p in runs.rglob("*") if p.is_file()) + sorted(p.name for p in ckpt.glob(".*"))

    # the second checkpoint (after epoch 2) does not fit: epoch 1's stays
    monkeypatch.setattr(files, "_write_bytes", disk_full_for("last", lambda tmp: (tmp.parent / "last.pt").exists()))
    with pytest.raises(SaveFailed) as err:
        run(c, progress=False)
    assert err.value.errno == errno.ENOSPC and "No space left on device" in str(err.value)
    assert f"cannot write {ckpt / 'last.pt'}" in str(err.value) and "resumes from its last checkpoint" in str(err.value)
    assert leftovers() == [] and torch.load(ckpt / "last.pt", weights_only=False)["epoch"] == 1
    # the record's json does not fit (its arrays did): no .npz without its .json, no temporary; epoch 2's
    # checkpoint stays
    monkeypatch.setattr(files, "_write_bytes", disk_full_for(rid, lambda tmp: tmp.suffix == ".json"))
    seen = []
    with pytest.raises(OSError) as err:
        run(c, progress=False, on_epoch_end=lambda e, row: seen.append(e))
    assert seen == [2, 3] and err.value.errno == errno.ENOSPC
    assert f"cannot write {runs / rid}.json: No space left on device" in str(err.value), str(err.value)
    assert "once there is space again" in str(err.value)
    assert leftovers() == [] and torch.load(ckpt / "last.pt", weights_only=False)["epoch"] == 2
    # space is back: the last epoch only, then the record
    monkeypatch.setattr(files, "_write_bytes", real_write)
    seen.clear()
    resumed = run(c, progress=False, on_epoch_end=lambda e, row: seen.append(e))
    assert seen == [3] and not ckpt.exists() and (runs / f"{rid}.json").exists()
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "straight"))
    straight = run(c, progress=False)
    assert resumed.metrics == straight.metrics and set(resumed.arrays) == set(straight.arrays)
    for key, arr in straight.arrays.items():
        np.testing.assert_array_equal(resumed.arrays[key], arr, err_msg=key)
    assert [h["val_nme"] for h in resumed.meta["history"]] == [h["val_nme"] for h in straight.meta["history"]]


def test_a_read_only_or_full_store_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    """The writer every store file goes through: the target named, errno kept, no temporary left."""
    import errno
    import os
    import tempfile

    from aniso import files

    target = files.atomic_write(tmp_path / "a.json", "old")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # a read-only folder: no temporary file can be created
    with pytest.raises(PermissionError, match=f"cannot write {target}: Permission denied") as err:
        files.atomic_write(target, "new")
    assert err.value.errno == errno.EACCES
    monkeypatch.undo()
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left "
                                                                                                     "on device")))
    with pytest.raises(OSError, match=f"cannot write {target}: No space left on device") as err:
        files.atomic_write(target, "new")
    assert err.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]
