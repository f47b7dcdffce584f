"""The calibrated benchmark as a data variant of its own (issue 24, item 4): the profiles that run the core claims on
the annotation-error model the calibration chose, their seeds, their runs shared with the calibration, seed-for-seed
judging of cells with five and three seeds, the regimes' headline and the GPU session's order."""

from __future__ import annotations

import json

import pytest

from aniso import claims, experiments, judging, regimes, suite
from aniso.runs import PROFILES, config_id, make_config
from aniso.runs import profiles as profiles_module
from test_calibration import _runner
from test_claims import better, cell

CALIBRATED = ("long-calibrated", "converged-calibrated")


@pytest.fixture
def chosen(monkeypatch):
    """The calibration chose N2a (as if its committed section said so)."""
    monkeypatch.setattr(profiles_module, "chosen_error_model", lambda: "N2a")
    return "N2a"


@pytest.fixture
def none_chosen(monkeypatch):
    monkeypatch.setattr(profiles_module, "chosen_error_model", lambda: None)


@pytest.mark.parametrize("profile", CALIBRATED)
def test_a_calibrated_profile_refuses_to_run_before_the_calibration_chose(profile, none_chosen):
    with pytest.raises(ValueError, match="make calibrate"):
        make_config(profile, dataset="300w", loss="l2")
    assert not profiles_module.is_available(profile) and profiles_module.is_available("long")


@pytest.mark.parametrize("profile", CALIBRATED)
def test_a_calibrated_profile_trains_on_the_chosen_model_and_shares_the_calibrations_runs(profile, chosen):
    base = profile.split("-")[0]
    config = make_config(profile, dataset="300w", loss="l1", seed=1)
    assert config.synth_errors == "N2a"
    # the calibration's later stages train the same configuration (the model as a cell setting): one run id
    assert config_id(config) == config_id(make_config(base, dataset="300w", loss="l1", seed=1, synth_errors="N2a"))
    assert config_id(config) != config_id(make_config(base, dataset="300w", loss="l1", seed=1))


def test_the_chosen_model_is_read_from_the_calibrations_committed_section(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles_module, "REPO_ROOT", tmp_path)
    assert profiles_module.chosen_error_model() is None
    section = tmp_path / PROFILES["calibration"].folder / "sections" / "calibration.json"
    section.parent.mkdir(parents=True)
    section.write_text(json.dumps({"meta": {"chosen": "N3", "stage2": []}}))  # stage 1 only: nothing chosen yet
    assert profiles_module.chosen_error_model() is None
    section.write_text(json.dumps({"meta": {"chosen": "N3", "stage2": ["N3", "N1"]}}))
    assert profiles_module.chosen_error_model() == "N3"


def test_the_core_cells_have_the_papers_five_seeds_and_the_rest_three(chosen):
    profile = "long-calibrated"
    table6 = experiments.notebook_cells("table6", profile)
    five = {k for k, c in table6.items() if len(suite.seeds(profile, cell=c)) == 5}
    assert five == {f"300w/{loss}" for loss in suite.PAPER_LOSSES}
    assert all(len(suite.seeds(profile, cell=c)) == 3 for k, c in table6.items() if k not in five)
    assert all("epochs" not in c.settings for c in table6.values())  # no budget curve in the calibrated regimes
    pair = experiments.notebook_cells("supp_ab_sweep", profile)
    assert len(pair) == 2 and all(len(suite.seeds(profile, cell=c)) == 5 for c in pair.values())
    ids = [c.id for c in experiments.claims_for("supp_ab_sweep", profile)]
    assert ids == ["C6.2"]  # anisotropy against re-weighting at b = 3; no "best b" over a single b
    assert all(len(suite.seeds("long", cell=c)) == 3 for c in experiments.notebook_cells("table6", "long").values())
    assert len(suite.seeds(profile, runs=2, cell=table6["300w/l2"])) == 2  # a notebook's runs still win


def test_the_calibrated_regimes_run_the_core_claims_table4_and_the_pair():
    for profile in CALIBRATED:
        assert experiments.for_profile(profile) == ["table1", "table4", "table5", "table6", "figure1", "figure2",
                                                   "supp_ab_sweep", "mechanism"]
    assert "table4" not in experiments.for_profile("long")
    assert {"long-calibrated", "converged-calibrated"} <= {r.name for r in regimes.REGIMES}


def test_five_seeds_against_three_are_compared_on_the_three_they_share():
    v = judging.judge(better(), {"A": cell(0.0, seeds=range(5)), "B": cell(0.004)})
    assert v.status == "reproduced" and v.stats["paired"] and v.stats["runs_a"] == 3
    assert "on the 3 seeds every cell ran (of 3 and 5)" in v.numbers
    v = judging.judge(better(), {"A": cell(0.0), "B": cell(0.004)})
    assert "seeds every cell ran" not in v.numbers


def test_the_headline_says_a_calibrated_regime_waits_for_the_calibration(tmp_path, none_chosen):
    lines = regimes.headline_lines(tmp_path, regimes=(PROFILES["long-calibrated"],))
    assert any(line.startswith("Not judged yet: long-calibrated") for line in lines)


def test_a_gpu_session_trains_the_calibrated_core_cells_after_the_check(monkeypatch, chosen):
    monkeypatch.setattr(experiments, "calibrated", lambda: "N2a")
    groups = experiments.gpu_priority()
    (what1, _, profile1), (what2, parts, profile2) = groups[:2]
    assert "L1 and L2" in what1 and profile1 is None and profile2 == "converged-calibrated"
    keys = {k for nb, keep in parts for k, c in experiments.notebook_cells(nb, profile2).items() if keep(c)}
    assert keys == {f"300w/{loss}" for loss in suite.PAPER_LOSSES} | {
        k for k in experiments.notebook_cells("supp_ab_sweep", profile2)}
    assert all(profile is None for _, _, profile in groups[2:])
    assert claims.ab_study(((3.0, 6.0), (3.0,)))[0].id == "C6.2"


def test_the_runner_refuses_a_calibrated_profile_before_the_calibration_chose(tmp_path, none_chosen):
    run = _runner()
    with pytest.raises(SystemExit, match="has chosen none yet"):
        run.main(["--profile", "long-calibrated", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_notebook_says_how_many_seeds_its_core_cells_have():
    from aniso.notebook import Session

    cells = experiments.notebook_cells("table6", "long-calibrated")
    fam = next(k for k in cells if k.endswith("anisotropic_wing"))
    session = Session("table6", "long-calibrated", {}, None, {}, cells,
                      {"300w/l2": cell(0.0, seeds=range(5)), fam: cell(0.0)}, "synthetic")
    assert session.seeds_text() == ("3 (5 for the core comparisons: Table 6's six losses on 300W and the "
                                    "anisotropy-against-re-weighting pair)")
    session.records = {"300w/l2": cell(0.0), fam: cell(0.0)}
    assert session.seeds_text() == "3" == str(session.runs())


def test_tables_say_which_annotation_error_the_runs_had(chosen):
    assert suite.source_label("long-calibrated") == "ours (synthetic, annotation error N2a, long-calibrated)"
    assert suite.source_label("long") == "ours (synthetic, long)"
    real = suite.source_label("long-calibrated", {"300w": "/data/300w"}, ["300w"])
    assert real == "ours (real data, long-calibrated)"


def test_a_difference_between_the_benchmarks_at_one_budget_is_the_annotation_errors():
    from test_regimes import CLAIM, verdict

    def kind(*names):
        effects = {"long": 0.3, "long-calibrated": -0.3, "default": 0.3, "converged-calibrated": -0.3}
        rows = regimes.compare({n: {"x": (CLAIM, verdict("inconclusive", effects[n], se=0.03))} for n in names})
        return rows[0]["kind"]

    assert kind("long", "long-calibrated") == "depends on the annotation error"
    assert kind("default", "long") == "inconclusive in every regime"  # one effect, one benchmark
    assert kind("default", "long-calibrated") == "depends on the budget and the annotation error"
    assert kind("long-calibrated", "converged-calibrated") == "inconclusive in every regime"
    pair = (("long", 0.3), ("long-calibrated", -0.3))
    rows = regimes.compare({n: {"x": (CLAIM, verdict("inconclusive", e, se=0.03))} for n, e in pair})
    lines = regimes._in_words(rows)
    assert any(line.startswith("- **Depends on the annotation error") for line in lines)
