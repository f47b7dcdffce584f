"""A committed run re-created from scratch gives its stored numbers, bit for bit where the kernels are the same.

Picks the cheapest run of the committed store (``results/runs``, the default profile), trains it again in a
private store and cache (its synthetic data generated afresh too) and compares it with the record in two tiers:

* what training produced, exactly: the predictions at the stored 1/1024 px (every evaluated face and the tracked
  faces after every epoch), the faces and subsets evaluated, and the training history (loss and rate per epoch);
* what numpy derives from the full-precision predictions (per-face NMEs, the validation NME per epoch, the
  metrics), within a few units in the last place: numpy's SIMD loops (AVX2, AVX-512) may round the last bit
  differently for the same inputs.

Bit-for-bit identity needs the same lock (checked: the installed versions must be the record's), the same thread
count (part of the run's id) and the same numeric kernels: the record's fingerprint
(:mod:`aniso.runs.kernels`), not its CPU's name. Where the fingerprints match, both tiers must hold. Where they
differ, or the record predates the fingerprint, training may legitimately take other rounding paths: if its
outputs still came out identical both tiers are checked; otherwise the NME must agree closely and the test says
which check could not apply and why.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from aniso.runs import RunConfig, RunRecord, make_config, run
from aniso.runs.config import STORE_VERSION, config_id
from aniso.runs.kernels import kernel_differences
from aniso.runs.store import REPO_ROOT, version_differences

COMMITTED = REPO_ROOT / "results" / "runs"
#: Units in the last place allowed between numpy-derived values: per face (a few elementwise operations) and for
#: means over a subset's faces (a reduction in a SIMD-dependent order).
PER_FACE_ULP, MEAN_ULP = 4, 64
_HISTORY_EXACT = ("epoch", "train_loss", "lr")


def cheapest_committed_run() -> RunRecord:
    metas = [json.loads(p.read_text()) for p in sorted(COMMITTED.glob("*.json"))]
    current = [m for m in metas if config_id(RunConfig(**m["config"])) == m["id"]]
    if not current:
        pytest.fail(f"{COMMITTED} holds no run of store version {STORE_VERSION}: regenerate it with make reproduce")
    cheapest = min(current, key=lambda m: m["data"]["n_train"] * m["config"]["epochs"])
    return RunRecord.load(cheapest["id"], COMMITTED)


def _derived(key: str) -> bool:
    return key.startswith(("nme/", "nme_truth/"))


def training_differences(a: RunRecord, b: RunRecord) -> list[str]:
    """What training produced that differs between two records of one configuration (``[]``: identical)."""
    out = [k for k in sorted(set(a.arrays) | set(b.arrays)) if not _derived(k)
           and not (k in a.arrays and k in b.arrays and np.array_equal(a.arrays[k], b.arrays[k]))]
    hist = [[{k: h.get(k) for k in _HISTORY_EXACT} for h in r.meta["history"]] for r in (a, b)]
    return out + (["history"] if hist[0] != hist[1] else [])


def _scalars(metrics: dict, history: list) -> dict[str, float]:
    out = {f"val_nme[{h['epoch']}]": h["val_nme"] for h in history}
    for s, m in metrics.items():
        out.update({f"{s}/{norm}/{k}": v for norm, vals in m.items() if isinstance(vals, dict)
                    for k, v in vals.items()})
    out.update({f"{s}/n": m["n"] for s, m in metrics.items()})
    return out


def assert_derived_close(again: RunRecord, stored: RunRecord) -> None:
    """Per-face NMEs within :data:`PER_FACE_ULP`, metrics and validation NMEs within :data:`MEAN_ULP`."""
    for key in filter(_derived, stored.arrays):
        np.testing.assert_array_max_ulp(again.arrays[key], stored.arrays[key], maxulp=PER_FACE_ULP)
    a, b = (_scalars(r.metrics, r.meta["history"]) for r in (again, stored))
    assert a.keys() == b.keys()
    for k in b:
        np.testing.assert_array_max_ulp(np.float64(a[k]), np.float64(b[k]), maxulp=MEAN_ULP)


def test_committed_store_is_current():
    """No stale records: every committed run's id is what its configuration hashes to now."""
    stale = [p.stem for p in COMMITTED.glob("*.json")
             if config_id(RunConfig(**json.loads(p.read_text())["config"])) != p.stem]
    assert not stale, f"stale runs in results/runs (regenerate and remove them): {stale[:5]}"


def test_a_committed_run_recreates_bit_for_bit(tmp_path, monkeypatch):
    stored = cheapest_committed_run()
    assert not version_differences(stored.meta), f"installed versions differ: {version_differences(stored.meta)}"
    monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ANISO_READ_RUNS", "")
    monkeypatch.setenv("ANISO_CACHE", str(tmp_path / "cache"))
    again = run(stored.config, progress=False, force=True)
    kernels = kernel_differences(stored.meta["provenance"].get("kernels"), again.meta["provenance"]["kernels"])
    trained = training_differences(again, stored)
    print(f"re-created {stored.id} ({stored.meta['data']['n_train']} faces x {stored.config.epochs} epochs); "
          f"kernels: {'same as the record' if not kernels else f'differ in {sorted(kernels)}'}; training outputs: "
          f"{'identical' if not trained else f'differ in {trained}'}")
    if not kernels or not trained:
        assert not trained, f"same kernels as the record, yet training produced other {trained}"
        assert_derived_close(again, stored)
        return
    why = ("the record predates the kernels' fingerprint" if "kernels" in kernels else
           f"other numeric kernels than the record's ({', '.join(sorted(kernels))})")
    subset = next(iter(stored.metrics))
    norm = next(k for k in stored.metrics[subset] if k != "n")
    a, b = again.metrics[subset][norm]["nme"], stored.metrics[subset][norm]["nme"]
    assert a == pytest.approx(b, rel=0.05), (a, b)
    pytest.skip(f"{why}, and training took other rounding paths ({', '.join(trained)} differ), so bit-for-bit "
                "identity does not apply; "
                f"NME {100 * a:.3f}% against the stored {100 * b:.3f}%")


def test_a_fresh_record_recreates_exactly_under_its_fingerprint(tmp_path, monkeypatch):
    """The exact tier on a record made here (so with this machine's fingerprint): a smoke run trained twice."""
    monkeypatch.setenv("ANISO_READ_RUNS", "")
    monkeypatch.setenv("ANISO_CACHE", str(tmp_path / "cache"))
    config = make_config("smoke", dataset="300w", loss="l2", seed=0)
    made = []
    for name in ("first", "again"):
        monkeypatch.setenv("ANISO_RUNS_DIR", str(tmp_path / name))
        made.append(run(config, progress=False, force=True))
    first, again = made
    assert not kernel_differences(first.meta["provenance"]["kernels"], again.meta["provenance"]["kernels"])
    assert not training_differences(again, first)
    assert_derived_close(again, first)
    moved = RunRecord(first.meta, {**first.arrays, "faces/pred": first.arrays["faces/pred"] + 1})
    assert training_differences(again, moved) == ["faces/pred"], "a moved prediction must be seen"
