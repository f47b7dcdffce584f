"""The paper's effect tested (ruled out, compatible, larger) on constructed stores with a known answer; Holm."""

from __future__ import annotations

import numpy as np
import pytest

from aniso import claims, judging, replication
from test_claims import DIFFICULTY, cell

PAPER = claims.PaperNumbers(a=2.91, b=3.12, unit="% NME", source="Table 1, inter-ocular full")  # 6.7% relative


def _judge(gain_points: float):
    """A claim with the paper's numbers, on cells whose true gain is ``gain_points`` (B's NME minus A's)."""
    claim = claims.Claim("X.1", "table1", "A beats B", "better", a="A", b="B", subset="full", norm="inter_pupil",
                         paper=PAPER)
    return judging.judge(claim, {"A": cell(0.0), "B": cell(gain_points / 100, stream=1)})


def test_the_papers_effect_is_scaled_to_our_reference():
    v = _judge(0.0)
    assert v.stats["paper_relative"] == pytest.approx(0.21 / 3.12)
    assert v.stats["paper_effect"] == pytest.approx(0.21 / 3.12 * v.stats["mean_b"])
    assert v.stats["mean_b"] == pytest.approx(100 * DIFFICULTY.mean(), abs=0.3)


@pytest.mark.parametrize("fraction, outcome", [(0.0, "ruled out"), (1.0, "compatible"), (4.0, "larger")])
def test_an_effect_far_below_near_or_above_the_papers(fraction, outcome):
    """No gain rules the paper's out; the paper's own gain is compatible with it; four times it is larger."""
    paper_here = _judge(0.0).stats["paper_effect"]
    v = _judge(fraction * paper_here)
    assert v.stats["paper_outcome"] == outcome, v.stats
    assert (v.stats["paper_p"] < 0.025) == (outcome == "ruled out")
    assert f"{outcome} (one-sided p" in v.numbers


def test_ruled_out_is_the_interval_ending_below_the_papers_effect():
    got = replication.paper_effect_test(0.1, 0.05, 2.0, -0.115, 0.315, paper_effect=0.5)
    assert got["paper_outcome"] == "ruled out" and got["paper_p"] < 0.025
    assert replication.paper_effect_test(0.1, 0.05, 2.0, -0.115, 0.315, 0.3)["paper_outcome"] == "compatible"
    assert replication.paper_effect_test(0.1, np.nan, 2.0, np.nan, np.nan, 0.3)["paper_outcome"] is None


def test_holm_rejects_step_down():
    assert replication.holm([0.001, 0.06, 0.012, None]) == [True, False, True, False]  # .001<.05/3, .012<.05/2
    assert replication.holm([0.001, 0.04, 0.012]) == [True, True, True]  # then .04 < .05/1
    assert replication.holm([0.03, 0.04]) == [False, False]  # 0.03 > 0.05/2 stops it
    assert replication.chance_decisive(80) == pytest.approx(4.0)
