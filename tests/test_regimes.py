"""Claims by training regime (aniso.regimes), the SGD gate, the long profile and what each notebook trains."""

from __future__ import annotations


import numpy as np
import pytest

from aniso import claims, experiments, judging, regimes, replication, suite
from aniso.claims import Claim
from aniso.runs import get_profile, make_config
from aniso.verdicts import Verdict
from test_claims import cell

TEXT = "Anisotropic beats L2 on 300W"
CLAIM = Claim(id="C1.1", notebook="table6", text=TEXT, kind="better", a="A", b="B", headline=True)


def verdict(status: str, effect: float = 0.1, se: float = 0.05, runs=None) -> Verdict:
    return Verdict(TEXT, status, "numbers", "C1.1", True,
                   {"effect": effect, "se": se, "df": 2.0, "ci_low": effect - 4.3 * se, "ci_high": effect + 4.3 * se,
                    "runs": runs if runs is not None else [f"{status}-{effect}-{i}" for i in range(6)]})


def test_a_claim_whose_effect_differs_between_regimes_depends_on_the_budget():
    rows = regimes.compare({"default": {TEXT: (CLAIM, verdict("inconclusive", -0.02, se=0.02))},
                            "long": {TEXT: (CLAIM, verdict("contradicted", -0.25, se=0.03))},
                            "converged": {TEXT: (CLAIM, regimes.Absent(3, 18))}})
    assert rows[0]["kind"] == "depends on the budget"
    (test,) = rows[0]["tests"]
    assert test["decided"] and test["difference"] == pytest.approx(-0.23) and test["ci_high"] < 0
    lines = "\n".join(regimes._cell_text(v) for v in rows[0]["cells"].values())
    assert "**inconclusive** (-0.02 [" in lines and "**contradicted** (-0.25 [" in lines
    assert "absent (3 of 18 runs)" in lines and "inconclusive" not in regimes._cell_text(rows[0]["cells"]["converged"])
    assert any("Depends on the training budget" in line for line in regimes._in_words(rows))
    assert regimes._across_text(rows[0]).startswith("depends on the budget: long - default -0.23 [")


def test_other_labels_for_the_same_effect_are_consistent():
    """C1.3 in the issue: -0.40 [-0.94, +0.13] at 3 epochs, -0.47 [-0.86, -0.07] at 10: one effect, two labels."""
    rows = regimes.compare({"default": {TEXT: (CLAIM, verdict("inconclusive", -0.40, se=0.125))},
                            "long": {TEXT: (CLAIM, verdict("contradicted", -0.47, se=0.093))}})
    assert rows[0]["kind"] == "consistent" and rows[0]["tests"][0]["decided"] is False
    assert any("Consistent across regimes" in line for line in regimes._in_words(rows))


def test_verdicts_on_the_same_runs_are_not_tested_against_each_other():
    runs = ["r1", "r2", "r3"]
    rows = regimes.compare({"default": {TEXT: (CLAIM, verdict("inconclusive", -0.02, runs=runs))},
                            "long": {TEXT: (CLAIM, verdict("contradicted", -0.90, runs=runs))}})
    assert rows[0]["kind"] == "labels differ, difference untested" and rows[0]["tests"][0]["why"] == "the same runs"


def test_the_regime_difference_test_keeps_its_false_positive_rate_on_null_pairs():
    """Two regimes with the same true effect, 3 seeds each (paired t per regime): decided at most about alpha."""
    rng = np.random.default_rng(7)
    decided = 0
    n = 4000
    for i in range(n):
        st = []
        for k, sd in enumerate((1.0, 2.0)):
            d = rng.normal(0.3, sd, 3)
            st.append({"effect": d.mean(), "se": d.std(ddof=1) / np.sqrt(3), "df": 2.0, "runs": [f"{i}-{k}"]})
        decided += bool(replication.regime_difference(*st)["decided"])
    assert 0.02 <= decided / n <= 0.06, decided / n


def test_the_same_outcome_everywhere_holds_in_every_regime_and_one_regime_is_not_agreement():
    same = regimes.compare({"default": {TEXT: (CLAIM, verdict("contradicted"))},
                            "long": {TEXT: (CLAIM, verdict("contradicted"))}})
    assert same[0]["kind"] == "contradicted in every regime"
    assert any(line.startswith("- **Contradicted in every regime") for line in regimes._in_words(same))
    one = regimes.compare({"default": {TEXT: (CLAIM, verdict("reproduced"))},
                           "long": {TEXT: (CLAIM, regimes.Absent(0, 6))}})
    assert one[0]["kind"] == "one regime"
    missing = regimes.compare({"default": {}, "long": {TEXT: (CLAIM, regimes.Absent(2, 6))}})
    assert missing[0]["kind"] == "not judged" and regimes._cell_text(missing[0]["cells"]["default"]) == "-"


def test_a_regime_missing_a_claims_runs_shows_it_absent():
    cells = {"A": cell(0.0), "B": regimes.Absent(1, 3)}
    present = {"A": cells["A"]}
    got = regimes._judge(CLAIM, cells, present, {})
    assert isinstance(got, regimes.Absent) and (got.found, got.planned) == (4, 6)
    judged = regimes._judge(CLAIM, {"A": cell(0.0), "B": cell(0.01)}, {"A": cell(0.0), "B": cell(0.01)}, {})
    assert isinstance(judged, Verdict) and judged.status == "reproduced"


def _with_history(records, final: float):
    for r in records:
        r.meta["history"] = [{"epoch": 1, "val_nme": 2 * final}, {"epoch": 2, "val_nme": final}]
    return records


SGD_A, SGD_B = "300w/anisotropic/optimizer=sgd", "300w/l2/optimizer=sgd"
SGD_CLAIM = Claim(id="M.4", notebook="mechanism", text="Anisotropic beats L2 with sgd", kind="better", a=SGD_A,
                  b=SGD_B)


def test_the_sgd_gate_draws_no_verdict_from_an_arm_that_did_not_train():
    recs = {SGD_A: _with_history(cell(0.0), 0.30), SGD_B: _with_history(cell(0.01), 0.12),
            SGD_A.replace("sgd", "adam"): _with_history(cell(0.0), 0.12),
            SGD_B.replace("sgd", "adam"): _with_history(cell(0.0), 0.11)}
    v = judging.judge(SGD_CLAIM, recs)
    assert v.status == "no verdict" and "anisotropic did not train" in v.numbers and "30.00%" in v.numbers
    recs[SGD_A] = _with_history(cell(0.0), 0.14)  # within 1.25x of Adam's 12%: judged
    assert judging.judge(SGD_CLAIM, recs).status == "reproduced"
    del recs[SGD_A.replace("sgd", "adam")]
    assert "no Adam twin" in judging.judge(SGD_CLAIM, recs).numbers


def test_tables_show_and_judge_three_losses_and_train_nothing_else():
    for nb, ds in (("table1", "300w"), ("table5", "300w"), ("table2", "aflw"), ("table3", "wflw")):
        cells = experiments.notebook_cells(nb, "default")
        assert set(cells) == {suite.cell_key(ds, loss) for loss in suite.SHOWN_LOSSES}
        for c in experiments.claims_for(nb, "default"):
            assert set(claims.cells_of(c)) <= set(cells)
    assert len(experiments.notebook_cells("table1", "default", extra_losses=["m:l"])) == 4


def test_the_long_profile_covers_the_core_claims_on_300w():
    prof = get_profile("long")
    c = make_config("long")
    assert c.epochs == 10 and prof.datasets == ("300w",) and prof.folder == "results-long"
    assert prof.tuning == get_profile("default").tuning, "the two CPU regimes differ in their budget alone"
    mech = experiments.notebook_cells("mechanism", "long")
    assert {k for k in mech if "optimizer=sgd" in k} == {"300w/l2/optimizer=sgd/synth_noise=1/synth_scale=0.3",
                                                         "300w/anisotropic/optimizer=sgd/synth_noise=1/synth_scale=0.3"}
    # the mechanism study is one experiment in every regime: the same training set, not Table 6's runs
    assert all(suite.study_settings(p) == suite.study_settings("default") for p in ("long", "converged"))
    assert not set(mech) & set(experiments.notebook_cells("table6", "long"))
    for nb in experiments.for_profile("long"):
        for claim in experiments.claims_for(nb, "long"):
            assert all(k.startswith("300w/") for k in claims.cells_of(claim)), claim.id
            assert set(claims.cells_of(claim)) <= set(experiments.notebook_cells(nb, "long")), claim.id
    heads = [c for c in experiments.claims_for("mechanism", "long") if c.headline]
    assert {c.kind for c in heads} == {"better"} and all("1x" in c.text for c in heads)


def test_backbone_claims_are_judged_at_this_budget_off_the_plateau():
    assert "at this budget" in judging.budget_note("default") and judging.budget_note("converged") is None
    assert all(c.plateau for c in experiments.claims_for("supp_architectures", "default"))
    c5 = Claim(id="C5.1", notebook="supp_architectures", text="t", kind="equivalent", a="A", b="B", plateau=True)
    v = judging.judge(c5, {"A": cell(0.0), "B": cell(0.0)}, {"budget_note": judging.budget_note("default")})
    assert v.numbers.endswith(judging.budget_note("default")) and v.stats["at_budget"]
    assert "at this budget" in regimes._cell_text(v)
    rows = regimes.compare({"default": {"t": (c5, v)}, "converged": {"t": (c5, judging.judge(c5, {"A": cell(0.0),
                                                                                                    "B": cell(0.0)}))}})
    assert rows[0]["kind"] == "one regime", "a verdict at this budget is not the claim judged"
