"""Judging claims from run records: arrays for :mod:`aniso.stats`, a :class:`~aniso.verdicts.Verdict` back.

:func:`judge_section` is the one call a notebook ends with: it judges the
notebook's claims (:func:`aniso.experiments.claims_for`) on its runs and writes
its part of the report.

Pairing: two cells are compared seed for seed when they ran the same seeds
in the same order on the same test images; the verdict says whether they
also shared initial weights and the first epoch's sample order (recorded in
every run's fingerprint). Otherwise the unpaired rule applies.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import experiments, metrics, replication, stats
from .claims import Claim, cells_of
from .data import dataset_spec
from .figure_data import epochs_to_reach, val_curves
from .runs import get_profile, make_config
from .suite import loss_label
from .verdicts import Verdict
from .writers import write_section

__all__ = ["judge", "judge_section", "paper_sentence", "nme_matrix", "METHOD_LINES", "SGD_GATE", "untrained_arms",
           "final_val_nme", "budget_note", "write_verdicts", "shared_seeds"]

#: An SGD arm trained when its final validation NME is within this factor of Adam's for the same loss and cell.
SGD_GATE = 1.25

#: How claims are judged, for the report (the rules themselves are in aniso.stats).
METHOD_LINES = [
    "- Unit of replication: the training run (seed). Seed i of every method shares the initial weights and the "
    "sample order of the first epoch (checked from each run's fingerprint), so methods are compared seed for seed: "
    "per seed, the mean over test images of the paired per-image difference; across seeds, a paired t test "
    "(R - 1 degrees of freedom). Cells with other seeds fall back to Welch's t on per-run means.",
    f"- Every directional verdict reads one two-sided {1 - stats.ALPHA:.0%} interval: above zero = reproduced, below "
    f"= contradicted, else inconclusive (each direction decides at one-sided p < {stats.ALPHA / 2:g}). The detectable "
    f"effect is the true effect this test would find with {stats.POWER:.0%} power at the observed seed-to-seed spread.",
    "- 'Almost no difference' claims use two one-sided tests against a margin stated in the claim (a share of the "
    "reference NME). One number per run (epochs to a target) uses an exact sign test paired by seed, which needs six "
    "differing seeds to decide anything; spread claims use Brown-Forsythe with at least three runs a side.",
    "- An arm that did not train gets no verdict: an SGD cell whose final validation NME is more than "
    f"{SGD_GATE:g}x its "
    "Adam twin's (the same cell trained with Adam) is reported, and nothing is judged from it.",
    "- The paper's effect: where the paper prints both sides of a comparison, its relative gain (B - A) / B is scaled "
    "to our B's NME and tested one-sided at the level each direction decides at: **ruled out** when our interval "
    "ends below it (an effect as large as the paper's is rejected: Simonsohn's small telescopes, Psychological "
    "Science 2015; the inferiority half of Lakens' equivalence tests, AMPPS 2018), **larger** when the interval starts "
    "above it, **compatible** otherwise. An inconclusive verdict that rules the paper's effect out says that no "
    "paper-sized effect is there.",
    f"- Many claims at once: the headline applies Holm's correction over the paper's claims (two-sided p, "
    f"family-wise error {stats.ALPHA:g}); the regimes section states, per regime, how many tests it made and how many "
    "chance alone would make decisive. One verdict per comparison: a comparison two notebooks show keeps its first "
    "claim's id and lists the others as aliases; counts are over distinct comparisons.",
    "- Across regimes: a claim depends on the training budget only when the difference of its effect between two "
    "regimes is decided (Welch t on the two estimates, Welch-Satterthwaite degrees of freedom); verdicts that rest "
    "on the same runs are not tested against each other.",
]


def _subset_norm(claim: Claim, records) -> tuple[str, str]:
    spec = dataset_spec(records[0].config.dataset)
    return claim.subset or spec.primary[0], claim.norm or spec.primary[1]


def nme_matrix(records, subset: str, norm: str, against: str = "labels") -> np.ndarray:
    """``(runs, images)`` per-image NME in percent; every run must be evaluated on the same images."""
    keys = records[0].keys(subset)
    for r in records[1:]:
        if not np.array_equal(r.keys(subset), keys):
            raise ValueError(f"run {r.id} was evaluated on other images of {subset!r} than run {records[0].id}")
    return 100 * np.stack([r.nmes(subset, norm, against) for r in records])


def _pairing(a, b) -> tuple[bool, str]:
    """Whether ``a`` and ``b`` are paired by seed, and a note on what they share."""
    if [r.config.seed for r in a] != [r.config.seed for r in b]:
        return False, "different seeds: unpaired"
    fa, fb = [r.meta.get("fingerprint", {}) for r in a], [r.meta.get("fingerprint", {}) for r in b]
    init = all(x.get("init") == y.get("init") for x, y in zip(fa, fb))
    order = all(x.get("order") == y.get("order") for x, y in zip(fa, fb))
    shared = [w for w, ok in (("initial weights", init), ("sample order", order)) if ok]
    return True, f"paired by seed (shared: {', '.join(shared) or 'seed only'})"


def shared_seeds(recs: dict, keys) -> tuple[dict, str]:
    """The cells ``keys`` kept to the seeds all of them ran, when they ran different seeds (a core cell's five beside
    another's three, :attr:`aniso.runs.Profile.core_runs`), so that they are still compared seed for seed; and a
    note saying so (empty when nothing was left out, or when fewer than two seeds are shared)."""
    lists = {k: [r.config.seed for r in recs[k]] for k in keys}
    if len({tuple(v) for v in lists.values()}) <= 1:
        return recs, ""
    common = sorted(set.intersection(*(set(v) for v in lists.values())))
    if len(common) < 2:
        return recs, ""
    out = dict(recs)
    for k in keys:
        out[k] = sorted((r for r in recs[k] if r.config.seed in common), key=lambda r: r.config.seed)
    runs = " and ".join(sorted({str(len(v)) for v in lists.values()}))
    return out, f"on the {len(common)} seeds every cell ran (of {runs})"


def _verdict(claim: Claim, result: stats.Result, note: str, mean_a=None, mean_b=None, unit="%") -> Verdict:
    means = f"{mean_a:.2f}{unit} vs {mean_b:.2f}{unit}; " if mean_a is not None else ""
    st = dict(effect=result.effect, ci_low=_f(result.ci_low), ci_high=_f(result.ci_high), p=_f(result.p),
              p_other=_f(result.p_other), se=_f(result.se), df=_f(result.df), mde=_f(result.mde), runs_a=result.n_a,
              runs_b=result.n_b, paired=result.paired, test=result.test, mean_a=mean_a, mean_b=mean_b,
              against=claim.against)
    numbers = f"{means}{result.evidence}; {note}"
    if claim.paper is not None and mean_b is not None and claim.kind in ("better", "failures", "auc"):
        st.update(_paper_stats(claim, st))
        numbers += f"; {paper_sentence(st)}"
    return Verdict(claim.text, result.status, numbers, claim.id, claim.headline, st)


def _paper_stats(claim: Claim, st: dict) -> dict:
    """The paper's numbers, its relative gain scaled to our B (``mean_b``) and :func:`replication.paper_effect_test`."""
    paper = claim.paper
    scaled = paper.relative_gain * st["mean_b"]
    out = dict(paper_a=paper.a, paper_b=paper.b, paper_unit=paper.unit, paper_source=paper.source,
               paper_relative=paper.relative_gain)
    if st["se"] is None or st["ci_low"] is None:
        return {**out, "paper_effect": scaled, "paper_p": None, "paper_outcome": None}
    return {**out, **replication.paper_effect_test(st["effect"], st["se"], st["df"], st["ci_low"], st["ci_high"],
                                                   scaled)}


def paper_sentence(st: dict) -> str:
    """The paper's effect in words: its numbers, its relative gain scaled here, and the outcome of the test."""
    said = (f"the paper: {st['paper_source']} ({100 * st['paper_relative']:+.1f}% relative), "
            f"{st['paper_effect']:+.2f} points here")
    outcome = st.get("paper_outcome")
    if outcome is None:
        return said + " (no interval to test it against)"
    return said + f": {outcome} (one-sided p = {st['paper_p']:.2g} that the effect is at least the paper's)"


def _f(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def _has_truth(records, subset, norm) -> bool:
    return records[0].has_truth(norm)


def _matrices(claim: Claim, ra, rb):
    subset, norm = _subset_norm(claim, ra)
    return nme_matrix(ra, subset, norm, claim.against), nme_matrix(rb, subset, norm, claim.against)


def _judge_better(claim: Claim, ra, rb) -> Verdict:
    a, b = _matrices(claim, ra, rb)
    if claim.kind == "failures":
        a, b = 100.0 * (a > 100 * claim.threshold), 100.0 * (b > 100 * claim.threshold)
    paired, note = _pairing(ra, rb)
    res = stats.compare(a, b, paired=paired)
    return _verdict(claim, res, note, float(a.mean()), float(b.mean()))


def _judge_auc(claim: Claim, ra, rb) -> Verdict:
    """One AUC (percent, up to the claim's threshold) per run, compared seed for seed; higher is better, so the
    effect is A's AUC minus B's."""
    subset, norm = _subset_norm(claim, ra)
    a, b = (np.array([[100 * float(metrics.auc(r.nmes(subset, norm, claim.against), claim.threshold))] for r in rs])
            for rs in (ra, rb))
    paired, note = _pairing(ra, rb)
    res = stats.compare(-a, -b, paired=paired)  # "A lower" on the negated AUCs: A's AUC higher
    return _verdict(claim, res, f"AUC@{claim.threshold:g} per run; {note}", float(a.mean()), float(b.mean()))


def _judge_equivalent(claim: Claim, ra, rb) -> Verdict:
    a, b = _matrices(claim, ra, rb)
    paired, note = _pairing(ra, rb)
    margin = stats.relative_margin(float(b.mean()), claim.margin)
    res = stats.compare_equivalent(a, b, margin, paired=paired)
    return _verdict(claim, res, f"margin {100 * claim.margin:g}% of the reference NME; {note}", float(a.mean()),
                    float(b.mean()))


def _judge_runs(claim: Claim, ra, rb, context: dict) -> Verdict:

    paired, note = _pairing(ra, rb)
    if claim.kind == "epoch1":
        a, b = 100 * val_curves(ra)[:, :1], 100 * val_curves(rb)[:, :1]
        res = stats.compare(a, b, paired=paired)
        return _verdict(claim, res, f"validation NME after epoch 1; {note}", float(a.mean()), float(b.mean()))
    if claim.kind == "curve_area":
        a, b = 100 * val_curves(ra), 100 * val_curves(rb)
        res = stats.compare(a, b, paired=paired)
        return _verdict(claim, res, f"validation NME averaged over epochs 1-{a.shape[1]} (each epoch one column of "
                                    f"the paired difference); {note}", float(a.mean()), float(b.mean()))
    if claim.kind == "epochs_to":
        target = context["target"]
        res = stats.compare_scalar(epochs_to_reach(ra, target), epochs_to_reach(rb, target), paired=paired,
                                   unit="epochs")
        return _verdict(claim, res, f"target: validation NME {100 * target:.2f}%; {note}")
    subset, norm = _subset_norm(claim, ra)
    res = stats.compare_spread(nme_matrix(ra, subset, norm), nme_matrix(rb, subset, norm))
    return _verdict(claim, res, "spread of the per-run mean NME")


def _judge_gain_grows(claim: Claim, recs: dict) -> Verdict:
    ra, rb, ra2, rb2 = (recs[k] for k in (claim.a, claim.b, claim.a2, claim.b2))
    a, b = _matrices(claim, ra, rb)
    a2, b2 = _matrices(claim, ra2, rb2)
    if a.shape != a2.shape:
        raise ValueError(f"{claim.id}: the two conditions were evaluated on different numbers of images")
    # per seed and image: (gain in the first condition) - (gain in the second); "A" = that difference's sign
    diff = (b - a) - (b2 - a2)
    res = stats.compare(np.zeros_like(diff), diff, paired=True)
    gain1, gain2 = float((b - a).mean()), float((b2 - a2).mean())
    return _verdict(claim, res, f"gain {gain1:+.2f} vs {gain2:+.2f} points; paired by seed across conditions")


def _best_cell(keys, recs, subset, norm, against) -> str:
    return min(keys, key=lambda k: nme_matrix(recs[k], subset, norm, against).mean())


def _judge_best(claim: Claim, recs: dict, context: dict) -> Verdict:
    if claim.kind == "best_b":
        paper_b = context.get("paper_b", 3.0)
        at_b = [k for k in recs if recs[k][0].config.loss_params.get("b") == paper_b]
        other = [k for k in recs if k not in at_b]
        if not at_b or not other:
            raise ValueError(f"{claim.id}: the (a, b) grid needs cells at b = {paper_b:g} and at other b")
        ra = recs[_best_cell(at_b, recs, *_subset_norm(claim, recs[at_b[0]]), claim.against)]
        kb = _best_cell(other, recs, *_subset_norm(claim, ra), claim.against)
        text = f"best at b = {paper_b:g}: {ra[0].config.loss_params}; best elsewhere: {recs[kb][0].config.loss_params}"
    else:
        subset, norm = _subset_norm(claim, recs[claim.cells[0]])
        order = sorted(claim.cells, key=lambda k: nme_matrix(recs[k], subset, norm, claim.against).mean())
        best, ref = order[0], (claim.cells[0] if order[0] != claim.cells[0] else order[1])
        ra, kb = recs[best], ref
        text = f"ranking by mean NME: {', '.join(loss_label(k.split('/')[1]) for k in order)}"
        named = (f"{loss_label(best.split('/')[1])} is the best of the anisotropic family on "
                 f"{dataset_spec(best.split('/')[0]).label} and beats {loss_label(ref.split('/')[1])}")
        claim = replace(claim, text=named)
    a, b = _matrices(claim, ra, recs[kb])
    paired, note = _pairing(ra, recs[kb])
    res = stats.compare(a, b, paired=paired)
    return _verdict(claim, res, f"{text}; {note}", float(a.mean()), float(b.mean()))


def _judge_geometry(claim: Claim, context: dict) -> Verdict:
    ds = claim.a.split("/")[0]
    g = context["geometry"][ds]
    ratio, lo, hi = g["ratio_observed" if claim.against == "labels" else "ratio_truth"]
    status = "reproduced" if lo > 1 else "contradicted" if hi < 1 else "inconclusive"
    numbers = (f"median along/across std ratio over contour points {ratio:.2f} [95% CI {lo:.2f}, {hi:.2f}] "
               f"(bootstrap resampling {g['n_faces']} test faces, each with its {g['runs']} runs; 1 = isotropic)")
    return Verdict(claim.text, status, numbers, claim.id, claim.headline,
                   dict(effect=ratio - 1, ci_low=lo - 1, ci_high=hi - 1, ratio=ratio, against=claim.against))


def final_val_nme(records) -> float:
    """Mean over seeds of the last epoch's validation NME (fraction)."""
    return float(np.mean([r.meta["history"][-1]["val_nme"] for r in records]))


def _adam_twin(key: str) -> str:
    return key.replace("optimizer=sgd", "optimizer=adam")


def untrained_arms(claim: Claim, recs: dict) -> list[str]:
    """Why the claim's SGD cells did not train, one line each (none: every arm trained).

    An SGD cell trained when its final validation NME is within :data:`SGD_GATE` of its Adam twin's (the same
    cell with ``optimizer=adam``, which the notebook runs beside it); one-epoch tuning, for one, left SGD at the
    smallest rate of its grid and its runs far from Adam's (22-24% against 13-14% NME in the default regime).
    """
    out = []
    for key in dict.fromkeys(k for k in cells_of(claim) if "optimizer=sgd" in k):
        twin = _adam_twin(key)
        if twin not in recs:
            out.append(f"{key}: no Adam twin ({twin}) to check that it trained")
            continue
        sgd, adam = final_val_nme(recs[key]), final_val_nme(recs[twin])
        if not sgd <= SGD_GATE * adam:
            out.append(f"the SGD arm {key.split('/')[1]} did not train (final validation NME {100 * sgd:.2f}% against "
                       f"Adam's {100 * adam:.2f}%, more than {SGD_GATE:g}x)")
    return out


def judge(claim: Claim, recs: dict, context: dict | None = None) -> Verdict | None:
    """The verdict on one claim, or ``None`` when it cannot apply to these runs (e.g. truth on real data)."""
    context = context or {}
    needed = cells_of(claim)
    missing = [k for k in needed if k not in recs]
    if missing:
        raise KeyError(f"claim {claim.id} needs cells {missing}, which the notebook did not run")
    untrained = untrained_arms(claim, recs)
    if untrained:
        verdict = Verdict(claim.text, "no verdict", "; ".join(untrained) + ": no verdict is drawn from it", claim.id,
                          claim.headline, {"against": claim.against})
    else:
        recs, shared = shared_seeds(recs, needed)
        verdict = _judge(claim, recs, context, needed)
        if verdict is not None and shared:
            verdict.numbers += f"; {shared}"
    if verdict is not None:  # what the report and the regimes need: the runs behind it, the ids it also has
        verdict.stats.update(runs=sorted(r.id for k in needed for r in recs[k]), aliases=list(claim.aliases),
                             repeat=claim.repeat, papers=claim.is_papers, kind=claim.kind)
    if verdict is not None and claim.plateau and context.get("budget_note"):
        verdict.numbers += f"; {context['budget_note']}"
        verdict.stats["at_budget"] = True
    return verdict


def _judge(claim: Claim, recs: dict, context: dict, needed: list) -> Verdict | None:
    if claim.kind == "geometry":
        return _judge_geometry(claim, context) if (claim.against == "labels" or context["geometry"][
            claim.a.split("/")[0]].get("ratio_truth")) else None
    some = recs[needed[0]] if needed else next(iter(recs.values()))
    if claim.against == "truth" and not _has_truth(some, *_subset_norm(claim, some)):
        return None
    if claim.kind in ("better", "failures"):
        return _judge_better(claim, recs[claim.a], recs[claim.b])
    if claim.kind == "auc":
        return _judge_auc(claim, recs[claim.a], recs[claim.b])
    if claim.kind == "equivalent":
        return _judge_equivalent(claim, recs[claim.a], recs[claim.b])
    if claim.kind in ("epoch1", "epochs_to", "curve_area", "spread"):
        return _judge_runs(claim, recs[claim.a], recs[claim.b], context)
    if claim.kind == "gain_grows":
        return _judge_gain_grows(claim, recs)
    if claim.kind in ("best_b", "best_of"):
        return _judge_best(claim, recs, context)
    raise ValueError(f"claim {claim.id}: unknown kind {claim.kind!r}")


def budget_note(profile: str) -> str | None:
    """What a backbone claim's verdict adds on a profile whose runs do not train each backbone to its own plateau."""

    if get_profile(profile).plateau:
        return None
    c = make_config(profile)
    return (f"at this budget ({c.epochs} epochs at {c.input_size} px, every backbone at its own tuned rate): not "
            f"where each backbone reaches its own plateau, which the converged profile judges")


def judge_section(session, title: str, body: str, context: dict | None = None, report_lines=()) -> list[Verdict]:
    """Judge a notebook's claims on its runs and write its report section; returns the verdicts."""
    extra = session.params.get("extra_losses") or ()
    context = {**(context or {}), "budget_note": budget_note(session.profile)}
    verdicts = [v for c in experiments.claims_for(session.notebook, session.profile, extra)
                if (v := judge(c, session.records, context)) is not None]
    write_verdicts(session, title, body, verdicts, report_lines)
    return verdicts


def write_verdicts(session, title: str, body: str, verdicts: list[Verdict], report_lines=(), runs=(),
                   facts: dict | None = None) -> None:
    """Write a notebook's report section: its body, its verdicts, and what the report's head needs (profile, data,
    seeds, the run ids of the session and ``runs``, the method's lines); ``facts``: what else other modules read
    from it (the calibration's chosen candidate)."""
    own = session.run_ids()
    meta = dict(profile=session.profile, data=session.source, seeds=session.runs(),
                runs=own + [r for r in runs if r not in set(own)],
                extra_losses=list(session.params.get("extra_losses") or ()), report_lines=list(report_lines),
                method_lines=METHOD_LINES, **(facts or {}))
    write_section(session.results, session.notebook, title, body, verdicts, meta=meta)
