"""What a verdict says beyond its direction: the paper's own effect, the same claim in two regimes, many claims at once.

* :func:`paper_effect_test`: is an effect as large as the paper's ruled out? The paper reports NMEs on real faces;
  what carries over to another benchmark or budget is the *relative* gain, so the paper's effect is scaled to the
  reference side's NME here (:attr:`aniso.claims.PaperNumbers.relative_gain` times our B's mean). The question is the
  one-sided test of H0: "the true effect is at least the paper's" at the level each direction of a verdict decides at
  (``alpha / 2``): rejected exactly when the verdict's two-sided interval ends below the paper's effect. A rejected H0
  means a paper-sized effect is **ruled out**, whatever the verdict's direction; an interval that starts above it
  means the effect here is **larger** than the paper's; otherwise the runs are **compatible** with it. This is the
  replication literature's answer to "inconclusive": Simonsohn's small telescopes (Psychological Science 26, 2015:
  is the replication's estimate significantly smaller than an effect the original study could detect?) and the
  inferiority half of Lakens' equivalence tests (Lakens, Scheel & Isager, AMPPS 1, 2018), here against the
  original's own estimate, which is the stricter bound.
* :func:`regime_difference`: is the same claim's effect different in two training regimes? A Welch-type t test of
  the difference of two independent estimates (Welch-Satterthwaite degrees of freedom); two verdicts that rest on
  runs they share are not independent and are not tested (identical runs cannot differ; overlapping ones would need
  the shared runs' covariance).
* :func:`holm`: Holm's step-down adjustment over a family of p values (Holm, Scand. J. Statistics 6, 1979): the
  family-wise error rate stays at ``alpha`` under any dependence between the claims.
"""

from __future__ import annotations

import math

from scipy import stats

from .stats import ALPHA

__all__ = ["PAPER_OUTCOMES", "paper_effect_test", "regime_difference", "holm", "chance_decisive", "relative",
           "gap_to_paper"]

#: What :func:`paper_effect_test` can say of the paper's effect.
PAPER_OUTCOMES = ("ruled out", "compatible", "larger")


def paper_effect_test(effect: float, se: float, df: float, ci_low: float, ci_high: float, paper_effect: float,
                      alpha: float = ALPHA) -> dict:
    """The paper's effect (points, in the claim's direction) against this verdict's estimate.

    ``effect``, ``se``, ``df`` and the two-sided ``1 - alpha`` interval ``[ci_low, ci_high]`` are the verdict's.
    Returns ``{"paper_effect", "paper_p", "paper_outcome"}``: the one-sided p of "the true effect is at least the
    paper's" and one of :data:`PAPER_OUTCOMES`; ``paper_outcome`` is ``None`` where the verdict has no interval.
    """
    out = {"paper_effect": paper_effect, "paper_p": None, "paper_outcome": None}
    if not all(math.isfinite(x) for x in (effect, se, df, ci_low, ci_high)) or se <= 0:
        return out
    out["paper_p"] = float(stats.t.cdf((effect - paper_effect) / se, df))
    out["paper_outcome"] = ("ruled out" if ci_high < paper_effect else "larger" if ci_low > paper_effect
                            else "compatible")
    return out


def regime_difference(a: dict, b: dict, alpha: float = ALPHA) -> dict:
    """Whether one claim's effect differs between two regimes: ``a`` and ``b`` are verdict stats (``effect``, ``se``,
    ``df``, ``runs``: the run ids the verdict rests on).

    Returns ``{"difference", "ci_low", "ci_high", "p", "decided", "why"}`` for b's effect minus a's; ``decided`` is
    ``None`` (with ``why``) where the test does not apply: the verdicts share runs, or one has no standard error.
    """
    out = {"difference": None, "ci_low": None, "ci_high": None, "p": None, "decided": None, "why": ""}
    shared = set(a.get("runs") or ()) & set(b.get("runs") or ())
    if shared:
        same = set(a.get("runs") or ()) == set(b.get("runs") or ())
        out["why"] = "the same runs" if same else f"{len(shared)} shared runs"
        return out
    ea, eb, sa, sb, da, db = (a.get("effect"), b.get("effect"), a.get("se"), b.get("se"), a.get("df"), b.get("df"))
    if not all(v is not None and math.isfinite(v) for v in (ea, eb, sa, sb, da, db)) or min(da, db) <= 0:
        out["why"] = "no standard error"
        return out
    var = sa**2 + sb**2
    if var <= 0:
        out["why"] = "no spread"
        return out
    df = var**2 / (sa**4 / da + sb**4 / db)
    diff, se = eb - ea, math.sqrt(var)
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    out.update(difference=diff, ci_low=diff - half, ci_high=diff + half, p=p, decided=p < alpha)
    return out


def holm(p_values, alpha: float = ALPHA) -> list[bool]:
    """Which of ``p_values`` (two-sided, ``None`` for a claim without one) Holm's procedure rejects at ``alpha``."""
    p = [(v, i) for i, v in enumerate(p_values) if v is not None and math.isfinite(v)]
    rejected = [False] * len(p_values)
    for rank, (v, i) in enumerate(sorted(p)):
        if v > alpha / (len(p) - rank):
            break
        rejected[i] = True
    return rejected


def chance_decisive(n_tests: int, alpha: float = ALPHA) -> float:
    """How many of ``n_tests`` two-sided tests at ``alpha`` chance alone makes decisive when no effect exists."""
    return n_tests * alpha


def relative(stats: dict, key: str = "effect") -> float | None:
    """A verdict's ``stats[key]`` (its effect, or an end of its interval) as a share of B's mean: the relative gain
    the paper's Table 6 reports (``None`` where either is missing)."""
    value, b = stats.get(key), stats.get("mean_b")
    return value / b if value is not None and b else None


def gap_to_paper(stats: dict) -> float | None:
    """How far a verdict's relative gain lies from the paper's (absolute, a fraction; ``None`` without both)."""
    ours, paper = relative(stats), stats.get("paper_relative")
    return abs(ours - paper) if ours is not None and paper is not None else None
