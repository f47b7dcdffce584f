"""The training runner end to end on a tiny synthetic benchmark: store, determinism, resume, failures, tuning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aniso.data import dataset_spec
from aniso.runs import Interrupt, RunRecord, config_id, make_config, run, store, tuning
from aniso.runs import training
from aniso.runs.data import VAL_SUBSET, load_run_data, prepare_data, validation_split


@pytest.fixture(scope="module")
def aniso_store(tmp_path_factory):
    """A private cache and run store for this module (synthetic data generated once)."""
    base = tmp_path_factory.mktemp("aniso")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANISO_CACHE", str(base / "cache"))
    mp.setenv("ANISO_RUNS_DIR", str(base / "runs"))
    mp.delenv("ANISO_READ_RUNS", raising=False)
    mp.setenv("ANISO_CHECKPOINT_EVERY", "0")  # every epoch: the resume tests need one after epoch 1
    yield base
    mp.undo()


def cfg(**kw):
    return make_config("smoke", **{"epochs": 2, **kw})


def test_run_stores_a_complete_record(aniso_store):
    c = cfg()
    rec = run(c, progress=False)
    rid = config_id(c)
    meta = json.loads((aniso_store / "runs" / f"{rid}.json").read_text())
    assert meta["config"]["seed"] == c.seed and meta["seed"] == c.seed
    assert set(meta["provenance"]["versions"]) >= {"torch", "torchvision", "numpy", "python", "aniso", "opencv"}
    assert meta["provenance"]["commit"] and meta["provenance"]["device"] == "cpu" and meta["provenance"]["cpu"]
    assert meta["provenance"]["precision"] in ("bf16", "fp32")
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert meta["data"]["n_val"] > 0 and set(meta["fingerprint"]) == {"init", "order"}
    spec = dataset_spec("300w")
    for s in spec.eval_subsets:
        for norm in spec.norms:
            e = rec.nmes(s, norm)
            assert e.shape == (rec.metrics[s]["n"],) and np.isfinite(e).all()
            assert rec.metrics[s][norm]["nme"] == pytest.approx(e.mean())
            t = rec.nmes(s, norm, "truth")  # synthetic data: also against the noise-free landmarks
            assert rec.metrics[s][norm]["nme_truth"] == pytest.approx(t.mean()) and not np.array_equal(t, e)
        assert rec.predictions(s).shape == (rec.metrics[s]["n"], 68, 2)
    n = rec.metrics
    assert n["full"]["n"] == n["common"]["n"] + n["challenging"]["n"]
    common = rec.nmes("common", "inter_pupil")
    np.testing.assert_array_equal(rec.nmes("full", "inter_pupil")[: n["common"]["n"]], common)
    tr = rec.tracked
    assert tr["pred"].shape[:2] == (3, len(tr["keys"])) and list(tr["epochs"]) == [0, 1, 2]
    assert not (aniso_store / "cache" / "checkpoints" / rid).exists()


def test_validation_split_never_touches_a_test_subset(aniso_store):
    c = cfg()
    data = load_run_data(c, prepare_data(c, progress=False))
    val_keys = {r.key for r in data.val}
    train_keys = {r.key for r in data.train}
    test_keys = {data.eval_records[i].key for rows in data.subset_rows.values() for i in rows}
    assert val_keys and not val_keys & train_keys and not val_keys & test_keys and not train_keys & test_keys
    tr, va = validation_split(100, 0.1, 0)
    assert len(va) == 10 and set(tr) | set(va) == set(range(100))
    np.testing.assert_array_equal(va, validation_split(100, 0.1, 0)[1])
    assert not np.array_equal(va, validation_split(100, 0.1, 1)[1])


def test_asking_again_reuses_the_stored_run(aniso_store, monkeypatch):
    c = cfg()
    run(c, progress=False)
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("trained again"))
    assert run(c, progress=False).id == config_id(c)


def test_same_seed_same_numbers_bit_for_bit(aniso_store):
    c = cfg()
    first = RunRecord.load(run(c, progress=False).id)
    again = run(c, progress=False, force=True)
    for key, arr in first.arrays.items():
        np.testing.assert_array_equal(arr, again.arrays[key], err_msg=key)
    other = run(cfg(seed=1), progress=False)
    assert not np.array_equal(other.nmes("full", "inter_pupil"), first.nmes("full", "inter_pupil"))


def test_losses_of_one_seed_share_initialisation_and_sample_order(aniso_store):
    a, b = run(cfg(loss="l2"), progress=False), run(cfg(loss="wing"), progress=False)
    assert a.meta["fingerprint"] == b.meta["fingerprint"]
    assert run(cfg(loss="l2", seed=1), progress=False).meta["fingerprint"]["init"] != a.meta["fingerprint"]["init"]


def test_interrupted_run_resumes_to_the_same_result(aniso_store):
    c = cfg(epochs=3, seed=7)
    rid = config_id(c)

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        run(c, progress=False, on_epoch_end=stop_after_first)
    ckpt = aniso_store / "cache" / "checkpoints" / rid
    assert (ckpt / "last.pt").exists() and not (aniso_store / "runs" / f"{rid}.json").exists()
    (ckpt / ".last.abc123.pt").write_bytes(b"half a checkpoint a killed process left")
    seen = []
    resumed = run(c, progress=False, on_epoch_end=lambda e, row: seen.append(e))
    assert seen == [2, 3]  # epoch 1 was not trained again
    assert not ckpt.exists()
    straight = run(c, progress=False, force=True)
    for key in ("nme/inter_pupil", "faces/pred", "rows/common", "tracked/pred"):
        np.testing.assert_array_equal(resumed.arrays[key], straight.arrays[key], err_msg=key)
    assert [h["val_nme"] for h in resumed.meta["history"]] == [h["val_nme"] for h in straight.meta["history"]]


def test_stale_temporaries_are_removed_when_a_run_starts(aniso_store):
    c = cfg(epochs=2, seed=11)
    ckpt = aniso_store / "cache" / "checkpoints" / config_id(c)
    ckpt.mkdir(parents=True)
    (ckpt / ".last.zz.pt").write_bytes(b"x")
    seen = []

    def look(epoch, row):
        seen.append(sorted(p.name for p in ckpt.iterdir()))

    run(c, progress=False, on_epoch_end=look)
    assert seen[0] == ["last.pt"]  # after epoch 1: the checkpoint, not the stale temporary


def test_checkpoints_are_rate_limited(aniso_store, monkeypatch):
    monkeypatch.setenv("ANISO_CHECKPOINT_EVERY", "3600")
    c = cfg(epochs=3, seed=12)
    ckpt = aniso_store / "cache" / "checkpoints" / config_id(c) / "last.pt"
    seen = []
    run(c, progress=False, on_epoch_end=lambda e, row: seen.append(ckpt.exists()))
    assert seen == [False, False, False]


def test_a_failing_run_leaves_no_checkpoint(aniso_store):
    c = cfg(epochs=3, seed=3)

    def boom(epoch, row):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run(c, progress=False, on_epoch_end=boom)
    assert not (aniso_store / "cache" / "checkpoints" / config_id(c)).exists()


def test_balancing_modes_train_the_same_number_of_steps(aniso_store):
    recs = {b: run(cfg(balancing=b, epochs=1), progress=False) for b in ("none", "under", "wing")}
    losses = {b: r.meta["history"][0]["train_loss"] for b, r in recs.items()}
    assert len(set(losses.values())) == 3  # different samples ...
    assert len({r.meta["data"]["n_train"] for r in recs.values()}) == 1  # ... same budget


def test_learned_covariance_loss_trains_through_the_runner(aniso_store):
    rec = run(cfg(loss="learned_anisotropic", epochs=1), progress=False)
    assert np.isfinite(rec.meta["history"][0]["train_loss"])


def test_reading_another_store_and_warning_about_versions(aniso_store, tmp_path, monkeypatch):
    c = cfg(seed=21, epochs=1)
    rec = run(c, progress=False)
    other = tmp_path / "scratch-runs"
    monkeypatch.setenv("ANISO_RUNS_DIR", str(other))
    monkeypatch.setenv("ANISO_READ_RUNS", str(aniso_store / "runs"))
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("trained again"))
    assert run(c, progress=False).id == rec.id and not other.exists()
    meta = json.loads((aniso_store / "runs" / f"{rec.id}.json").read_text())
    meta["provenance"]["versions"]["torch"] = "0.0.1"
    (aniso_store / "runs" / f"{rec.id}.json").write_text(json.dumps(meta))
    monkeypatch.setattr(store, "_WARNED", set())
    with pytest.warns(store.VersionMismatchWarning, match=r"torch 0\.0\.1 \(installed"):
        run(c, progress=False)


def test_tuning_is_deterministic_and_reused(aniso_store, monkeypatch):
    c = cfg(loss="l1")
    first = tuning.tune_lr(c, "smoke", progress=False)
    assert first.chosen in first.grid and len(first.scores) == len(first.grid)
    assert first.chosen == first.grid[int(np.argmin(first.scores))]
    saved = aniso_store / "runs" / "tuning" / f"{first.key}.json"
    assert saved.exists()
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("tuned again"))
    assert tuning.tune_lr(c, "smoke", progress=False) == first
    monkeypatch.undo()
    saved.unlink()
    again = tuning.tune_lr(c, "smoke", progress=False)
    assert again.scores == first.scores and again.chosen == first.chosen
    tuned, meta = tuning.tuned_config(c, "smoke", progress=False)
    assert tuned.lr == first.chosen and meta["lr_tuning"]["grid"] == first.grid


def test_tuning_runs_see_only_the_validation_split(aniso_store):
    c = tuning.tuning_configs(cfg(loss="l2"), "smoke")[0]
    assert c.evaluate == "val" and c.dataset == "300w"
    rec = run(c, progress=False, keep=False)
    assert set(rec.metrics) == {VAL_SUBSET}
    assert not (aniso_store / "runs" / f"{rec.id}.json").exists()


def test_diverging_rates_score_infinity(aniso_store):
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        run(cfg(loss="l2", optimizer="sgd", lr=1e6, epochs=1), progress=False)
    assert tuning.score(cfg(loss="l2", optimizer="sgd", lr=1e6, epochs=1, evaluate="val"), False) == float("inf")


def test_workers_that_start_together_generate_a_synthetic_set_once(tmp_path, monkeypatch):
    import threading
    import time

    from aniso.runs import data as run_data
    from aniso.synthetic import generate as real_generate

    monkeypatch.setenv("ANISO_CACHE", str(tmp_path / "cache"))
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        time.sleep(0.5)  # long enough for the other worker to arrive while this one generates
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(run_data, "generate", counting)  # where prepare_data calls it
    c = cfg(synth_scale=0.004, synth_image_size=48)
    roots = []
    prepare = lambda: roots.append(run_data.prepare_data(c, progress=False))  # noqa: E731
    workers = [threading.Thread(target=prepare) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert calls == ["300w"] and roots[0] == roots[1] and (roots[0] / "synthetic_truth.npz").exists()
