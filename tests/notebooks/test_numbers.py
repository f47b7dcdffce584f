"""The numbers the notebooks wrote, recomputed from the stored runs (recommenders-style notebook tests).

``make test`` runs the notebooks on the smoke profile into ``ci/out`` and then these tests with
``ANISO_NOTEBOOK_RESULTS=ci/out``: each reads back a table a notebook wrote and recomputes every number of our
rows from the run records that notebook's cells name, so a notebook that draws the wrong runs or mislabels a
column fails. Without ``ANISO_NOTEBOOK_RESULTS`` they are skipped (they need executed notebooks).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aniso import claims, experiments, suite
from aniso.runs import training

RESULTS = os.environ.get("ANISO_NOTEBOOK_RESULTS")
pytestmark = pytest.mark.skipif(not RESULTS, reason="needs ANISO_NOTEBOOK_RESULTS (set by make test)")
PROFILE = os.environ.get("ANISO_NOTEBOOK_PROFILE", "smoke")
TOL = 0.006  # tables print two decimals


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = Path(RESULTS).resolve()
    if not (d / "sections").exists():
        pytest.fail(f"{d} holds no executed notebooks' sections: run ci/run_notebooks.py --out {d} first")
    return d


@pytest.fixture
def store(results, monkeypatch):
    monkeypatch.setenv("ANISO_RUNS_DIR", str(results / "runs"))
    monkeypatch.setenv("ANISO_READ_RUNS", "")
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("a notebook's run is not in the store"))
    return results


def section_meta(results: Path, notebook: str) -> dict:
    return json.loads((results / "sections" / f"{notebook}.json").read_text())["meta"]


def cell_records(notebook: str) -> dict:
    """The runs of a notebook's cells, as the notebook asked for them (user losses included)."""
    extra = section_meta(Path(RESULTS), notebook).get("extra_losses") or []
    return experiments.records(notebook, profile=PROFILE, progress=False, **({"extra_losses": extra} if extra else {}))


def label_losses(results: Path, notebook: str, labels: dict) -> dict:
    """Table labels -> loss names, with the user losses the notebook was given."""
    extra = section_meta(results, notebook).get("extra_losses") or []
    return {**labels, **{suite.loss_label(loss): loss for loss in extra}}


def ours(results: Path, name: str, levels: int = 3) -> pd.DataFrame:
    t = pd.read_csv(results / f"{name}.csv", index_col=list(range(levels)), keep_default_na=False)
    return t[t.index.get_level_values("source").str.startswith("ours")].droplevel("source")


def mean_of(cell: str) -> float:
    """The mean in a ``"mean ± std"`` cell."""
    return float(re.split(r" ± ", str(cell))[0])


def expected(records, subset, norm, metric="nme", scale=100.0) -> float:
    return float(np.mean([r.metrics[subset][norm][metric] for r in records]) * scale)


def test_table1(store):
    recs = cell_records("table1")
    t = ours(store, "table1")
    labels = label_losses(store, "table1", {"Wing*": "wing", "AWing*": "adaptive_wing", "Anisotropic*": "anisotropic"})
    for (norm, method), row in t.iterrows():
        truth = method.endswith(" vs truth")
        loss = labels[method.removesuffix(" vs truth")]
        for subset in ("common", "challenging", "full"):
            want = expected(recs[suite.cell_key("300w", loss)], subset, norm, "nme_truth" if truth else "nme")
            assert mean_of(row[subset]) == pytest.approx(want, abs=TOL), (norm, method, subset)


def test_table6(store):
    recs = cell_records("table6")
    t = ours(store, "table6")
    label_to_loss = label_losses(store, "table6", {suite.loss_label(k): k for k in suite.PAPER_LOSSES + suite.FAMILY})
    for (_, method), row in t.iterrows():  # rows: one per data set (and its twin against the truth)
        truth = method.endswith(" vs truth")
        ds = method.removesuffix(" vs truth")
        subset, norm = suite.dataset_spec(ds).primary
        for label, cell in row.items():
            if cell == "-":
                continue
            rec = recs[suite.cell_key(ds, label_to_loss[label])]
            assert mean_of(cell) == pytest.approx(expected(rec, subset, norm, "nme_truth" if truth else "nme"),
                                                  abs=TOL), (ds, method, label)


def test_table4_and_table5(store):
    recs = cell_records("table4")
    by_label = {c.label: recs[k] for k, c in experiments.notebook_cells("table4", PROFILE).items()}
    for (_, method), row in ours(store, "table4").iterrows():
        if method.endswith(" vs truth"):
            continue
        for subset in ("common", "challenging", "full"):
            assert mean_of(row[subset]) == pytest.approx(expected(by_label[method], subset, "inter_pupil"), abs=TOL)
    recs5 = cell_records("table5")
    labels = label_losses(store, "table5", {"AWing*": "adaptive_wing", "Wing*": "wing", "Anisotropic*": "anisotropic"})
    for (block, method), row in ours(store, "table5").iterrows():
        if method.endswith(" vs truth"):
            continue
        rec = recs5[suite.cell_key("300w", labels[method])]
        t = "0.08" if block == "at8" else "0.1"
        assert mean_of(row["fr"]) == pytest.approx(expected(rec, "private", "inter_ocular", f"fr@{t}"), abs=TOL)
        assert mean_of(row["auc"]) == pytest.approx(expected(rec, "private", "inter_ocular", f"auc@{t}"), abs=TOL)


def test_ab_sweep(store):
    recs = cell_records("supp_ab_sweep")
    t = pd.read_csv(store / "supp_ab_sweep.csv", index_col=0)
    for a, row in t.iterrows():
        for col, value in row.items():
            b = float(col.split("=")[1])
            key = suite.cell_key("300w", "anisotropic", a=float(a), b=b, **suite.study_settings(PROFILE))
            if a < b:  # the grid has a >= b only: the table leaves those pairs empty
                assert np.isnan(value) and key not in recs
                continue
            assert value == pytest.approx(expected(recs[key], "full", "inter_pupil"), abs=1e-6)


def test_every_section_judges_its_claims(store):
    for nb in experiments.for_profile(PROFILE):  # the notebooks make test ran on the smoke profile
        section = json.loads((store / "sections" / f"{nb}.json").read_text())
        ids = [v["id"] for v in section["verdicts"]]
        expected = experiments.claims_for(nb, PROFILE, section["meta"].get("extra_losses") or [])
        want = [c.id for c in expected]
        assert set(ids) <= set(want) and len(ids) == len(set(ids)), nb
        skipped = [c for c in expected if c.id not in ids]
        assert all(c.against == "truth" for c in skipped), (nb, [c.id for c in skipped])
        assert section["meta"]["profile"] == PROFILE
