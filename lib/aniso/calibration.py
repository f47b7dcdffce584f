"""The calibration of the synthetic benchmark's annotation error: the rule of ``docs/CALIBRATION.md``, as code.

The rule was written and committed before the first calibration run, and this module only carries it out:

1. **Stage 1**, every candidate error model (:data:`aniso.synthetic.noise.ERROR_MODELS`): the five baselines at
   the default regime's protocol on 300W, WFLW and AFLW; the twelve positive controls (:func:`aniso.claims.controls`)
   judged on each candidate's runs.
2. **Score** (:func:`score`): controls reproduced (more is better), then the mean over the controls of
   |our relative gain over L2 - the real one| (less is better), then simplicity (fewer added mechanisms).
3. **Stage 2**, the two best: 300W's controls again at the long regime's protocol; ranked again on stage 2's 300W
   controls with stage 1's WFLW and AFLW controls. The first is the chosen candidate.
4. **Check**, the chosen one only: "L1 beats L2" on 300W at the converged profile's protocol (:func:`check`: L2
   and L1 on 300W alone, :data:`aniso.suite.CALIBRATION_CHECK`).

Only baselines train on a candidate (:func:`aniso.suite.calibration_cells` refuses any other loss there).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import pandas as pd

from . import experiments
from .claims import cells_of, controls
from .judging import judge
from .replication import gap_to_paper, relative
from .runs import get_profile
from .suite import CALIBRATION_CHECK
from .synthetic.noise import ERROR_MODELS, NoiseConfig
from .verdicts import Verdict

__all__ = ["ERROR_MODELS", "mechanisms", "Score", "score", "rank", "judge_controls", "combined", "STAGE2_CANDIDATES",
           "control_table", "score_table", "plot_gains", "MARKS", "later_stage", "check", "tagged"]

#: How many of stage 1's best go on to stage 2.
STAGE2_CANDIDATES = 2


def mechanisms(noise: NoiseConfig) -> int:
    """Added mechanisms of an error model, for the simplicity tie-break: hidden points' guesses; gross errors (points
    and jaw shifts); annotator styles (groups and along-contour correlation). N0 has none, N4 all three."""
    return int(bool(noise.hidden)) + int(bool(noise.gross_rate or noise.jaw_rate)) + \
        int(bool(noise.groups or noise.correlation))


@dataclass(frozen=True)
class Score:
    """A candidate's score: controls reproduced of those judged, the mean distance of its relative gains from the
    real ones (fractions; ``nan`` when none could be computed) and its added mechanisms."""

    candidate: str
    reproduced: int
    judged: int
    gap: float
    mechanisms: int

    def key(self) -> tuple:
        """The rule's order: more controls reproduced, then a smaller gap, then fewer mechanisms."""
        return (-self.reproduced, self.gap if math.isfinite(self.gap) else math.inf, self.mechanisms)


def score(candidate: str, verdicts: list[Verdict]) -> Score:
    """The rule's score of one candidate from its controls' verdicts."""
    gaps = [g for v in verdicts if (g := gap_to_paper(v.stats)) is not None]
    return Score(candidate, sum(v.status == "reproduced" for v in verdicts), len(verdicts),
                 sum(gaps) / len(gaps) if gaps else math.nan, mechanisms(ERROR_MODELS[candidate]))


def rank(scores: list[Score]) -> list[Score]:
    """Best first, by :meth:`Score.key` (the candidate's name last, so that a full tie is still an order)."""
    return sorted(scores, key=lambda s: (*s.key(), s.candidate))


def judge_controls(records: dict, candidate: str, datasets, notebook: str) -> list[Verdict]:
    """The controls of ``candidate`` on the data sets given, judged on a session's records (cell key -> runs); those
    whose cells did not run (a check that trains L2 and L1 only) are left out."""
    return [v for c in controls(candidate, notebook=notebook, datasets=tuple(datasets))
            if all(k in records for k in cells_of(c)) and (v := judge(c, records)) is not None]


def combined(stage1: list[Verdict], stage2: list[Verdict]) -> list[Verdict]:
    """Stage 2's ranking evidence: its own (300W) controls, with stage 1's controls on the other data sets."""
    redone = {v.id for v in stage2}
    return list(stage2) + [v for v in stage1 if v.id not in redone]


#: How a control's verdict shows in the side-by-side table.
MARKS = {"reproduced": "yes", "contradicted": "reversed", "inconclusive": "open", "no verdict": "no verdict"}


def _control_name(v: Verdict) -> str:
    return v.claim.replace(" (positive control)", "").replace(" beats L2 on ", ", ")


def _gain(v: Verdict) -> tuple[float, float, float] | None:
    """Our relative gain over L2 and its interval, in percent (``None`` without a gain; ``nan`` ends without an
    interval, as with one seed)."""
    r = [relative(v.stats, k) for k in ("effect", "ci_low", "ci_high")]
    return None if r[0] is None else tuple(math.nan if x is None else 100 * x for x in r)


def control_table(stage: dict[str, list[Verdict]]) -> pd.DataFrame:
    """Controls (rows) by candidate (columns): our relative gain over L2 with its interval and the verdict, beside
    the real data's gain (Table 6)."""
    rows: dict[str, dict] = {}
    for candidate, verdicts in stage.items():
        for v in verdicts:
            row = rows.setdefault(_control_name(v), {"real (Table 6)": f"{100 * v.stats['paper_relative']:+.1f}%"
                                                     if v.stats.get("paper_relative") is not None else "-"})
            g = _gain(v)
            interval = f" [{g[1]:+.1f}, {g[2]:+.1f}]" if g and math.isfinite(g[1]) else ""
            row[candidate] = f"{g[0]:+.1f}%{interval} {MARKS[v.status]}" if g else MARKS[v.status]
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("control: loss beats L2 on")


def score_table(scores: list[Score]) -> pd.DataFrame:
    """The rule's scores, in its order (best first)."""
    df = pd.DataFrame([asdict(s) for s in scores]).set_index("candidate")
    df["gap"] = (100 * df["gap"]).round(1)
    return df.rename(columns={"reproduced": "controls reproduced", "judged": "controls judged",
                              "gap": "mean |gain - real| (points)", "mechanisms": "added mechanisms"})


def plot_gains(stage: dict[str, list[Verdict]]) -> tuple[dict, dict]:
    """What :func:`aniso.drawing.controls_plot` draws: {candidate: {control: (gain, low, high)}} and the real gains."""
    gains = {c: {_control_name(v): g for v in vs if (g := _gain(v)) is not None} for c, vs in stage.items()}
    real = {_control_name(v): 100 * v.stats["paper_relative"] for vs in stage.values() for v in vs
            if v.stats.get("paper_relative") is not None}
    return gains, real


def later_stage(notebook: str, plan_args: dict, profile: str, candidates: list, baselines=None,
                datasets=None) -> tuple[dict, dict]:
    """Stage 2 or the check: the runs of ``candidates`` (``baselines``, ``datasets``: only these losses and data
    sets) at another profile's protocol, trained or loaded (``plan_args``: the notebook's,
    :func:`aniso.notebook.plan_arguments`; its epochs are the profile's own), and their controls judged:
    ``(records, {candidate: verdicts})``."""

    args = {**plan_args, "profile": profile, "candidates": list(candidates)}
    args.pop("epochs", None)
    if baselines:
        args["baselines"] = list(baselines)
    if datasets:
        args["datasets"] = list(datasets)
    recs = experiments.records(notebook, **args)
    datasets = datasets or get_profile(profile).datasets
    return recs, {m: judge_controls(recs, m, datasets, notebook) for m in candidates}


def check(notebook: str, plan_args: dict, profile: str, chosen: str) -> tuple[dict, list[Verdict]]:
    """The check of the chosen model (:data:`aniso.suite.CALIBRATION_CHECK`: L2 and L1 on 300W) at ``profile``'s
    protocol: ``(records, [the verdict on "L1 beats L2 on 300W"])``."""
    recs, checked = later_stage(notebook, plan_args, profile, [chosen], **CALIBRATION_CHECK)
    return recs, checked[chosen]  # L2 and L1 on 300W: the one control P.1


def tagged(stage: dict[str, list[Verdict]], tag: str) -> list[Verdict]:
    """A stage's verdicts under ids that name the stage (``P.1/N1`` in stage 1, ``P.1/N1@long`` in stage 2)."""
    return [replace(v, id=v.id + tag, headline=False) for vs in stage.values() for v in vs]
