"""The training runner end to end on a tiny synthetic benchmark: store, determinism, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aniso import experiments
from aniso.experiments import RunRecord, config_id, make_config, run


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A private cache and run store for this module (synthetic data generated once)."""
    base = tmp_path_factory.mktemp("aniso")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANISO_CACHE", str(base / "cache"))
    mp.setenv("ANISO_RUNS_DIR", str(base / "runs"))
    yield base
    mp.undo()


def cfg(**kw):
    return make_config("smoke", **{"epochs": 2, **kw})


class Stop(Exception):
    pass


def test_run_stores_a_complete_record(store):
    c = cfg()
    rec = run(c, progress=False)
    rid = config_id(c)
    meta = json.loads((store / "runs" / f"{rid}.json").read_text())
    assert meta["config"]["seed"] == c.seed and meta["seed"] == c.seed
    assert set(meta["provenance"]["versions"]) >= {"torch", "torchvision", "numpy", "python", "aniso"}
    assert meta["provenance"]["commit"] and meta["provenance"]["device"] == "cpu"
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    for s in experiments.EVAL_SUBSETS["300w"]:
        for norm in experiments.NORMS_BY_DATASET["300w"]:
            e = rec.nmes(s, norm)
            assert e.shape == (rec.metrics[s]["n"],) and np.isfinite(e).all()
            assert rec.metrics[s][norm]["nme"] == pytest.approx(e.mean())
        assert rec.predictions(s).shape == (rec.metrics[s]["n"], 68, 2)
    # full = common + challenging, evaluated once per face
    n = rec.metrics
    assert n["full"]["n"] == n["common"]["n"] + n["challenging"]["n"]
    np.testing.assert_array_equal(rec.nmes("full", "inter_pupil")[: n["common"]["n"]], rec.nmes("common", "inter_pupil"))
    tr = rec.tracked
    assert tr["pred"].shape[:2] == (3, len(tr["keys"])) and list(tr["epochs"]) == [0, 1, 2]
    assert not (store / "cache" / "checkpoints" / rid).exists()


def test_asking_again_reuses_the_stored_run(store, monkeypatch):
    c = cfg()
    run(c, progress=False)
    monkeypatch.setattr(experiments, "_train", lambda *a, **k: pytest.fail("trained again"))
    rec = run(c, progress=False)
    assert rec.id == config_id(c)


def test_same_seed_same_numbers_bit_for_bit(store):
    c = cfg()
    first = RunRecord.load(run(c, progress=False).id)
    again = run(c, progress=False, force=True)
    for key, arr in first.arrays.items():
        np.testing.assert_array_equal(arr, again.arrays[key], err_msg=key)
    other = run(cfg(seed=1), progress=False)
    assert not np.array_equal(other.nmes("full", "inter_pupil"), first.nmes("full", "inter_pupil"))


def test_interrupted_run_resumes_to_the_same_result(store):
    c = cfg(epochs=3, seed=7)
    rid = config_id(c)

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        run(c, progress=False, on_epoch_end=stop_after_first)
    assert (store / "cache" / "checkpoints" / rid / "last.pt").exists()
    assert not (store / "runs" / f"{rid}.json").exists()
    seen = []
    resumed = run(c, progress=False, on_epoch_end=lambda e, row: seen.append(e))
    assert seen == [2, 3]  # epoch 1 was not trained again
    straight = run(c, progress=False, force=True)
    for key in ("nme/full/inter_pupil", "pred/common", "tracked/pred"):
        np.testing.assert_array_equal(resumed.arrays[key], straight.arrays[key], err_msg=key)
    assert [h["val_nme"] for h in resumed.meta["history"]] == [h["val_nme"] for h in straight.meta["history"]]


def test_balancing_modes_train_the_same_number_of_steps(store):
    recs = {b: run(cfg(balancing=b, epochs=1), progress=False) for b in ("none", "under", "wing")}
    losses = {b: r.meta["history"][0]["train_loss"] for b, r in recs.items()}
    assert len(set(losses.values())) == 3  # different samples ...
    assert len({r.meta["data"]["n_train"] for r in recs.values()}) == 1  # ... same budget


def test_run_with_a_root_without_layout_fails_before_training(store, tmp_path):
    (tmp_path / "junk.txt").write_text("x")
    c = make_config("smoke", root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        run(c, progress=False)
    assert not (store / "cache" / "checkpoints" / config_id(c)).exists()
