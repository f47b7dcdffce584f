"""The calibration rule of docs/CALIBRATION.md as code, the controls' claims, and what may train on a candidate."""

import importlib.util
import json
import math
from pathlib import Path

import pytest

from aniso import calibration, experiments, suite
from aniso.claims import CLAIMS, controls
from aniso.paper import paper_value
from aniso.synthetic.noise import ERROR_MODELS
from aniso.verdicts import Verdict

REPO = Path(__file__).resolve().parents[1]


def _v(status, effect, mean_b, real, i=1):
    return Verdict("x", status, "", f"P.{i}/N1", False,
                   dict(effect=effect, mean_b=mean_b, paper_relative=real, ci_low=effect - 0.1, ci_high=effect + 0.1))


def test_the_declared_candidates_and_their_mechanisms():
    assert list(ERROR_MODELS) == ["N0", "N1", "N2a", "N2b", "N3", "N4"]
    assert [calibration.mechanisms(ERROR_MODELS[m]) for m in ERROR_MODELS] == [0, 1, 1, 1, 1, 3]
    n4, n1, n2a, n3 = (ERROR_MODELS[m] for m in ("N4", "N1", "N2a", "N3"))
    assert (n4.hidden, n4.gross_rate, n4.jaw_rate, n4.groups, n4.correlation) == \
        (n1.hidden, n2a.gross_rate, n2a.jaw_rate, n3.groups, n3.correlation)
    assert ERROR_MODELS["N2b"].gross_rate == 2 * n2a.gross_rate and ERROR_MODELS["N2b"].jaw_rate == 2 * n2a.jaw_rate


def test_score_counts_reproduced_controls_and_the_mean_gap():
    s = calibration.score("N1", [_v("reproduced", 1.0, 10.0, 0.2), _v("inconclusive", 0.5, 10.0, 0.05, 2)])
    assert (s.reproduced, s.judged, s.mechanisms) == (1, 2, 1)
    assert s.gap == pytest.approx((abs(0.1 - 0.2) + abs(0.05 - 0.05)) / 2)


def test_rank_applies_the_rule_in_its_order():
    S = calibration.Score
    more = S("N4", 9, 12, 0.30, 3)  # more controls reproduced wins, however far its gains are
    close = S("N2a", 8, 12, 0.10, 1)
    far = S("N3", 8, 12, 0.20, 1)
    simple = S("N0", 8, 12, 0.10, 0)  # a tie on both: fewer mechanisms
    assert [s.candidate for s in calibration.rank([far, close, simple, more])] == ["N4", "N0", "N2a", "N3"]
    unknown = S("N1", 8, 12, math.nan, 1)
    assert calibration.rank([unknown, far])[0].candidate == "N3"


def test_stage_two_keeps_stage_ones_other_data_sets():
    s1 = [Verdict("a", "reproduced", "", f"P.{i}/N1") for i in range(1, 13)]
    s2 = [Verdict("b", "inconclusive", "", f"P.{i}/N1") for i in range(1, 5)]
    both = calibration.combined(s1, s2)
    assert len(both) == 12 and [v.claim for v in both[:4]] == ["b"] * 4 and {v.claim for v in both[4:]} == {"a"}


def test_twelve_controls_with_table_6s_gains():
    ps = [c for c in CLAIMS if c.id.startswith("P.")]
    assert len(ps) == 12 and all(c.kind == "better" and c.b.split("/")[1] == "l2" for c in ps)
    for c in ps:
        ds, loss = c.a.split("/")[:2]
        real, l2 = paper_value(6, "nme", ds, loss)[0], paper_value(6, "nme", ds, "l2")[0]
        assert c.paper.relative_gain == pytest.approx((l2 - real) / l2)
    tagged = controls("N2a", notebook="calibration", datasets=("300w",))
    assert [c.id for c in tagged] == ["P.1/N2a", "P.2/N2a", "P.3/N2a", "P.4/N2a"]
    assert all("synth_errors=N2a" in c.a and "synth_errors=N2a" in c.b for c in tagged)


def test_only_baselines_train_on_a_candidate():
    cells = experiments.notebook_cells("calibration", "calibration")
    assert {c.loss for c in cells.values()} == set(suite.BASELINES)
    assert len(cells) == len(ERROR_MODELS) * 3 * len(suite.BASELINES)
    with pytest.raises(ValueError, match="baselines only"):
        experiments.notebook_cells("calibration", "calibration", baselines=["l2", "anisotropic"])
    with pytest.raises(ValueError, match="N9"):
        experiments.notebook_cells("calibration", "calibration", candidates=["N9"])


def test_the_check_trains_l2_and_l1_on_300w_alone(monkeypatch):
    """docs/CALIBRATION.md's check: the chosen model's L2 and L1 on 300W at the converged protocol, not the profile's
    other data sets; and the cells a GPU session trains first are the same ones."""
    asked = {}

    def records(notebook, **args):
        asked.update(args)
        return {}

    monkeypatch.setattr(calibration.experiments, "records", records)
    monkeypatch.setattr(calibration, "judge_controls", lambda recs, m, datasets, nb: [_v("reproduced", 1, 10, 0.1)])
    _, verdicts = calibration.check("calibration", {"runs": 3, "epochs": 1}, "converged", "N2a")
    assert [v.id for v in verdicts] == ["P.1/N1"]  # "L1 beats L2 on 300W" alone
    assert asked["datasets"] == ["300w"] and asked["baselines"] == ["l2", "l1"] and asked["candidates"] == ["N2a"]
    assert "epochs" not in asked and asked["profile"] == "converged"
    check = experiments.notebook_cells("calibration", "converged", candidates=["N2a"],
                                       **{k: list(v) for k, v in suite.CALIBRATION_CHECK.items()})
    assert set(check) == {"300w/l2/synth_errors=N2a", "300w/l1/synth_errors=N2a"}
    monkeypatch.setattr(experiments, "calibrated", lambda: "N2a")
    _, parts, _ = experiments.gpu_priority()[0]
    assert {k for nb, keep in parts for k, c in experiments.notebook_cells(nb, "converged").items()
            if keep(c)} == set(check)
    with pytest.raises(ValueError, match="'wflw'.*not in profile 'long'"):
        experiments.notebook_cells("calibration", "long", datasets=["wflw"])


def test_the_calibration_store_holds_only_baseline_runs():
    store = REPO / "results-calibration" / "runs"
    records = [json.loads(p.read_text()) for p in store.glob("*.json")] if store.exists() else []
    points = [json.loads(p.read_text()) for p in (store / "tuning" / "points").glob("*.json")] if store.exists() else []
    if not records and not points:
        pytest.skip("no calibration run committed yet")
    assert {r["config"]["loss"] for r in records} <= set(suite.BASELINES)
    assert all(r["id"].split("-")[1] in suite.BASELINES for r in points)


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "ci" / "run_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_calibration_runs_only_when_named():
    run = _runner()
    assert "calibration" not in [p.stem for p in run.notebooks(None)]
    assert [p.stem for p in run.notebooks(["calibration"])] == ["calibration"]


def test_one_seed_still_shows_its_gain():
    """With one seed there is no interval, but the gain itself is shown in the table and drawn in the figure."""
    v = Verdict("L1 beats L2 on 300W (positive control)", "inconclusive", "", "P.1/N1", False,
                dict(effect=-0.2, mean_b=10.0, paper_relative=0.027, ci_low=None, ci_high=None))
    table = calibration.control_table({"N1": [v]})
    assert table.loc["L1, 300W", "N1"] == "-2.0% open"
    gains, real = calibration.plot_gains({"N1": [v]})
    assert gains["N1"]["L1, 300W"][0] == pytest.approx(-2.0) and real["L1, 300W"] == pytest.approx(2.7)
