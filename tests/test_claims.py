"""Claims as data, and judging them from run records (simulated records; the statistics are in test_stats)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aniso import claims, experiments, judging
from aniso.runs import PROFILES, RunConfig
from aniso.verdicts import GROUPS


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_claim_names_cells_its_notebook_runs(profile):
    for nb in experiments.NOTEBOOKS:
        cells = experiments.notebook_cells(nb, profile)
        for c in experiments.claims_for(nb, profile):
            needed = [k for k in (c.a, c.b, c.a2, c.b2, *c.cells) if k]
            assert all(k in cells for k in needed), (profile, c.id, [k for k in needed if k not in cells])
            assert c.kind in ("better", "failures", "auc", "equivalent", "epoch1", "epochs_to", "curve_area", "spread",
                              "gain_grows", "best_b", "best_of", "geometry")


def test_claim_ids_are_unique_and_every_group_has_a_headline():
    ids = [c.id for c in claims.CLAIMS if not c.repeat]
    assert len(ids) == len(set(ids))
    for group in GROUPS:
        members = [c for c in claims.CLAIMS if c.id.split(".")[0] == group]
        assert members, group
        assert any(c.headline for c in members), group
    assert {c.notebook for c in claims.CLAIMS} <= set(experiments.NOTEBOOKS)


def test_an_id_means_one_comparison_and_a_comparison_one_id():
    by_id, by_key = {}, {}
    for c in claims.CLAIMS:
        by_id.setdefault(c.id, set()).add(claims.comparison_key(c))
        by_key.setdefault(claims.comparison_key(c), set()).add(c.id)
    assert all(len(v) == 1 for v in by_id.values()) and all(len(v) == 1 for v in by_key.values())
    repeated = {c.id: c.aliases for c in claims.CLAIMS if c.repeat}
    assert repeated == {"C1.5": ("C1.19",), "C1.6": ("C3.5",), "C1.10": ("C1.34",), "C1.11": ("C1.27",),
                        "C1.15": ("C1.23",), "C1.16": ("C1.25",)}


def test_mechanism_ids_do_not_depend_on_the_profiles_grid():
    default = {c.id: c.text for c in experiments.claims_for("mechanism", "default")}
    long = {c.id: c.text for c in experiments.claims_for("mechanism", "long")}
    assert long and all(default[i] == t for i, t in long.items()), (long, default)


def test_the_papers_numbers_travel_with_its_claims():
    c = {c.id: c for c in claims.CLAIMS if not c.repeat}
    assert (c["C1.22"].paper.a, c["C1.22"].paper.b) == (2.91, 3.12)  # Table 1, inter-ocular, full: ours vs AWing*
    assert c["C1.22"].paper.relative_gain == pytest.approx(0.21 / 3.12)
    assert (c["C1.1"].paper.a, c["C1.1"].paper.b) == (3.94, 5.12)  # Table 6, 300W: anisotropic vs L2
    assert c["C1.24"].paper is None  # Table 2 prints no Wing number on AFLW frontal
    assert c["C1.36"].own and not c["C1.36"].is_papers and c["C1.36"].paper is None  # Table 5 has no Wing row
    assert (c["C3.6"].paper.a, c["C3.6"].paper.b) == (4.21, 4.31)  # Table 4: anisotropic alone vs AWing
    assert c["C1.38"].threshold == 0.10 and c["C1.38"].paper.unit == "% failures"
    assert all(x.paper is not None for x in c.values() if x.kind == "better" and x.is_papers
               and x.notebook in ("table1", "table3", "table6"))


def test_user_loss_claims_compare_with_l2_and_the_paper():
    extra = experiments.claims_for("table6", extra_losses=["my_mod:my_loss"])
    mine = [c for c in extra if "my_mod:my_loss" in c.a]
    assert {c.b.split("/")[1] for c in mine} == {"l2", "anisotropic"}
    assert {c.a.split("/")[0] for c in mine} == {"300w", "wflw", "aflw"}


# ----------------------------------------------------------------------------- judging on simulated records

RNG = np.random.default_rng(0)
DIFFICULTY = RNG.gamma(4.0, 1.0, 300) / 100  # per-image NME scale, fractions


class FakeRecord:
    def __init__(self, seed, shift, truth=True, loss_params=None, init="w0", order="o0", val=None, stream=0):
        rng = np.random.default_rng([seed, int(1e6 * abs(shift)) % 997, stream])
        seed_effect = np.random.default_rng(seed).normal(0, 0.002)
        self.nme = DIFFICULTY + seed_effect + shift + rng.normal(0, 0.002, DIFFICULTY.size)
        self.config = RunConfig(seed=seed, loss_params=loss_params or {})
        self.id = f"run-{seed}-{shift}"
        self.meta = {"fingerprint": {"init": f"{init}{seed}", "order": f"{order}{seed}"}}
        self.truth = self.nme - 0.001 if truth else None
        self.history = pd.DataFrame({"epoch": [1, 2], "val_nme": [val if val is not None else 0.1 + shift, 0.05]})

    def keys(self, subset):
        return np.arange(DIFFICULTY.size).astype(str)

    def nmes(self, subset, norm, against="labels"):
        return self.nme if against == "labels" else self.truth

    def has_truth(self, norm):
        return self.truth is not None


def cell(shift, seeds=(0, 1, 2), **kw):
    return [FakeRecord(s, shift, **kw) for s in seeds]


def better(a="A", b="B", **kw):
    return claims.Claim("X.1", "table6", "A beats B", "better", a=a, b=b, subset="full", norm="inter_pupil", **kw)


def test_clear_gain_paired_by_seed_is_reproduced():
    v = judging.judge(better(), {"A": cell(0.0), "B": cell(0.004)})
    assert v.status == "reproduced" and v.stats["paired"] and v.stats["effect"] == pytest.approx(0.4, abs=0.05)
    assert "shared: initial weights, sample order" in v.numbers
    assert v.stats["ci_low"] > 0 and v.stats["mde"] < 0.4


def test_the_other_way_is_contradicted_and_noise_is_inconclusive():
    assert judging.judge(better(), {"A": cell(0.004), "B": cell(0.0)}).status == "contradicted"
    v = judging.judge(better(), {"A": cell(0.0), "B": cell(0.0, stream=1)})  # no effect: other image noise only
    assert v.status == "inconclusive" and v.stats["mde"] > 0


def test_other_seeds_fall_back_to_the_unpaired_rule():
    v = judging.judge(better(), {"A": cell(0.0), "B": cell(0.004, seeds=(3, 4, 5))})
    assert not v.stats["paired"] and "unpaired" in v.numbers


def test_truth_claims_are_skipped_without_a_truth():
    recs = {"A": cell(0.0, truth=False), "B": cell(0.004, truth=False)}
    assert judging.judge(better(against="truth"), recs) is None
    assert judging.judge(better(against="truth"), {"A": cell(0.0), "B": cell(0.004)}).status == "reproduced"


def test_missing_cells_raise():
    with pytest.raises(KeyError, match="X.1"):
        judging.judge(better(), {"A": cell(0.0)})


def test_equivalence_and_failures():
    eq = claims.Claim("X.2", "table4", "same", "equivalent", a="A", b="B", subset="full", norm="inter_pupil",
                      margin=0.2)
    assert judging.judge(eq, {"A": cell(0.0), "B": cell(0.0001)}).status == "reproduced"
    assert judging.judge(eq, {"A": cell(0.03), "B": cell(0.0)}).status == "contradicted"
    fails = claims.Claim("X.3", "table5", "fails less", "failures", a="A", b="B", subset="full", norm="inter_pupil",
                         threshold=0.05)
    assert judging.judge(fails, {"A": cell(-0.02), "B": cell(0.02)}).status == "reproduced"


def test_gain_grows_with_the_condition():
    c = claims.Claim("M.1", "mechanism", "grows", "gain_grows", a="A", b="B", a2="A2", b2="B2",
                     subset="full", norm="inter_pupil")
    recs = {"A": cell(0.0), "B": cell(0.005), "A2": cell(0.0), "B2": cell(0.0005)}
    assert judging.judge(c, recs).status == "reproduced"
    recs = {"A": cell(0.0), "B": cell(0.0005), "A2": cell(0.0), "B2": cell(0.005)}
    assert judging.judge(c, recs).status == "contradicted"


def test_best_b_compares_the_best_cells():
    c = claims.Claim("C6.1", "supp_ab_sweep", "b = 3 best", "best_b", subset="full", norm="inter_pupil")
    recs = {"300w/anisotropic/a=6/b=3": cell(0.0, loss_params={"a": 6.0, "b": 3.0}),
            "300w/anisotropic/a=6/b=1.5": cell(0.003, loss_params={"a": 6.0, "b": 1.5}),
            "300w/anisotropic/a=3/b=3": cell(0.006, loss_params={"a": 3.0, "b": 3.0})}
    v = judging.judge(c, recs)
    assert v.status == "reproduced" and "'b': 1.5" in v.numbers


def test_epoch1_is_paired_by_seed():
    c = claims.Claim("C2.1", "figure2", "faster", "epoch1", a="A", b="B")
    recs = {"A": [FakeRecord(s, 0.0, val=0.10 + 0.01 * s) for s in range(3)],
            "B": [FakeRecord(s, 0.0, val=0.12 + 0.01 * s + 0.001 * (s % 2)) for s in range(3)]}
    assert judging.judge(c, recs).status == "reproduced"


def test_the_area_under_the_validation_curve_decides_with_three_seeds():
    """Lower validation NME over every epoch, seed for seed: the paired t decides where the sign test on epochs to a
    target cannot (three seeds); the other way round it is contradicted."""
    c = claims.Claim("C2.3", "figure2", "converges faster", "curve_area", a="A", b="B")
    recs = {"A": [FakeRecord(s, 0.0, val=0.10 + 0.01 * s) for s in range(3)],
            "B": [FakeRecord(s, 0.0, val=0.13 + 0.01 * s + 0.002 * (s % 2)) for s in range(3)]}
    v = judging.judge(c, recs)
    assert v.status == "reproduced" and v.stats["paired"] and "averaged over epochs 1-2" in v.numbers
    assert v.stats["effect"] == pytest.approx(100 * (0.03 + 0.002 / 3) / 2, abs=1e-9)  # epoch 2 is 0.05 on both
    assert judging.judge(c, {"A": recs["B"], "B": recs["A"]}).status == "contradicted"


def test_auc_is_one_number_per_run_and_higher_is_better():
    paper = claims.PaperNumbers(58.95, 57.19, "% AUC", "Table 3", higher_is_better=True)
    c = claims.Claim("C1.40", "table3", "A has a higher AUC", "auc", a="A", b="B", subset="full", norm="inter_pupil",
                     threshold=0.10, paper=paper)
    low, high = cell(0.01), cell(0.014, stream=1)  # NMEs of 1% and more: AUC needs them non-negative
    v = judging.judge(c, {"A": low, "B": high})
    assert v.status == "reproduced" and v.stats["mean_a"] > v.stats["mean_b"] and v.stats["effect"] > 0
    assert v.stats["effect"] == pytest.approx(v.stats["mean_a"] - v.stats["mean_b"])
    assert v.stats["paper_relative"] == pytest.approx((58.95 - 57.19) / 57.19)
    assert judging.judge(c, {"A": high, "B": low}).status == "contradicted"


def test_geometry_reads_the_ratio_interval():
    c = claims.Claim("G.1", "figure1", "along", "geometry", a="300w/l2")
    geo = {"300w": {"ratio_observed": (1.4, 1.2, 1.6), "n_faces": 10, "runs": 3}}
    assert judging.judge(c, {"300w/l2": []}, {"geometry": geo}).status == "reproduced"
    geo["300w"]["ratio_observed"] = (0.9, 0.8, 0.95)
    assert judging.judge(c, {"300w/l2": []}, {"geometry": geo}).status == "contradicted"
    truth = claims.Claim("G.2", "figure1", "along", "geometry", a="300w/l2", against="truth")
    assert judging.judge(truth, {"300w/l2": []}, {"geometry": geo}) is None


def test_best_of_the_family_names_the_winner():
    c = claims.Claim("F.1", "table6", "best", "best_of", cells=("300w/anisotropic", "300w/anisotropic_wing",
                                                                   "300w/learned_anisotropic"),
                     subset="full", norm="inter_pupil")
    recs = {"300w/anisotropic": cell(0.003), "300w/anisotropic_wing": cell(0.0),
            "300w/learned_anisotropic": cell(0.006)}
    v = judging.judge(c, recs)
    assert v.claim.startswith("anisotropic Wing is the best") and v.claim.endswith("beats Anisotropic")
    assert v.status == "reproduced"
    recs["300w/anisotropic"] = cell(-0.003)  # the paper's loss best: compared with the runner-up
    assert judging.judge(c, recs).claim.endswith("beats anisotropic Wing")
