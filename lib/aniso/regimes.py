"""The claims by training regime: every regime whose runs are stored, judged from its store alone.

A verdict is about its training budget. The suite has three regimes (:data:`REGIMES`): the default CPU profile
(3 epochs at 64 px), the long CPU profile (10 epochs, the core claims on 300W) and the converged GPU profile (20
epochs at 128 px, trained in instalments by ``ci/gpu_session.py``); and the long and converged ones again on the
calibrated benchmark (``long-calibrated``, ``converged-calibrated``: the annotation-error model the calibration
chose), judged once the calibration has chosen it. This module reads each regime's committed
store without training anything (:func:`stored_cells`), judges every claim whose runs are all there with the
notebooks' own rules (:func:`aniso.judging.judge`; an absent claim is shown as absent, never as inconclusive),
and writes what the report shows of it (:func:`headline_lines`): one row per claim and one column per regime,
each regime's L2 NME beside its label-noise floor, the NME-against-training-images curve of each regime, and in
words what holds in every regime and what depends on the budget. ``python -m aniso.regimes converged`` writes the
report of a regime that has no executed notebooks (``results-gpu/REPORT.md``): how many of its runs exist and
every claim that can be judged.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import experiments, judging, replication, suite
from .claims import Claim, cells_of
from .drawing import budget_plot, save_figure
from .figure_data import label_noise_floor
from .files import atomic_write
from .headline import control_line, control_rows
from .runs import config_id, get_profile, tuning
from .runs.profiles import PROFILES, Profile, is_available
from .runs.store import REPO_ROOT, RunRecord, find, use_store
from .tables import budget_table, mean_metric
from .verdicts import Verdict, counts

__all__ = ["REGIMES", "Absent", "reading", "stored_cells", "regime_verdicts", "compare", "headline_lines",
           "regime_report", "curve_tables"]


#: The training regimes the report compares: the profiles that say what regime they are (:attr:`Profile.regime`).
REGIMES: tuple[Profile, ...] = tuple(p for p in PROFILES.values() if p.regime)


@dataclass(frozen=True)
class Absent:
    """A cell (or claim) whose runs are not all stored: ``found`` of ``planned`` runs (tuning missing: 0 found)."""

    found: int
    planned: int

    def text(self) -> str:
        return f"absent ({self.found} of {self.planned} runs)"


@contextmanager
def reading(stores: list[Path]):
    """Inside: the run store reads ``stores`` (and writes nowhere new: the first one, which nothing writes to)."""
    keys = ("ANISO_RUNS_DIR", "ANISO_READ_RUNS")
    before = {k: os.environ.get(k) for k in keys}
    use_store(stores[0], stores[1:])
    try:
        yield
    finally:
        for k, v in before.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _tuned_lr(cell, config, profile: str) -> float | None:
    """The stored tuned learning rate of a cell's configuration (``None``: not tuned yet)."""

    if not suite.is_tuned(cell, profile):
        return config.lr
    result = tuning.stored_result(suite.tuning_base(cell, config))
    return result.chosen if result is not None else None


def stored_cells(regime: Profile, notebook: str, ids: dict | None = None) -> dict:
    """``{cell key: records per seed, or Absent}`` of a notebook's cells in a regime's store (nothing trains).

    ``ids``, when given, receives ``{run id: the store folder holding it, or False}`` of every run whose id is known
    (its rate is tuned), and ``{(notebook, cell key, seed): False}`` for the others."""
    profile = regime.name
    ids = {} if ids is None else ids
    out = {}
    for key, cell in experiments.notebook_cells(notebook, profile).items():
        configs = suite.cell_configs(cell, profile, suite.seeds(profile, cell=cell), regime.device)
        lr = _tuned_lr(cell, configs[0], profile)
        if lr is None:
            out[key] = Absent(0, len(configs))
            ids.update({(notebook, key, c.seed): False for c in configs})
            continue
        rids = [config_id(c.replace(lr=lr)) for c in configs]
        where = {rid: find(rid) for rid in rids}
        found = [rid for rid in rids if where[rid] is not None]
        ids.update({rid: where[rid] or False for rid in rids})  # the folder holding it: borrowed or not
        out[key] = [RunRecord.load(rid) for rid in rids] if len(found) == len(rids) else Absent(len(found), len(rids))
    return out


def regime_verdicts(regime: Profile, keep=None) -> tuple[dict, dict]:
    """Every comparison of the regime's notebooks (the claims ``keep(claim)`` accepts), once: ``{claim id: (claim,
    Verdict, Absent or None)}``, and the runs ``{"found", "planned", "borrowed"}`` of the regime's notebooks
    (borrowed: found in the store of another regime it shares runs with)."""
    notebooks = experiments.for_profile(regime.name)
    out, runs = {}, {}
    with reading(regime.stores()):
        for nb in notebooks:
            cells = stored_cells(regime, nb, runs)  # a run several notebooks share counts once
            kept = [c for c in experiments.claims_for(nb, regime.name) if keep is None or keep(c)]
            context = _context(nb, cells, kept, regime.name)
            present = {k: v for k, v in cells.items() if isinstance(v, list)}
            for claim in kept:  # one entry per comparison: a repeat in a later notebook only where the first is not
                if claim.id not in out or (out[claim.id][0].repeat and not claim.repeat):
                    out[claim.id] = (claim, _judge(claim, cells, present, context))
    own = regime.stores()[0].resolve()
    borrowed = sum(1 for v in runs.values() if v and Path(v).resolve() != own)
    return out, {"found": sum(bool(v) for v in runs.values()), "planned": len(runs), "borrowed": borrowed}


def _needs(claim: Claim, cells: dict) -> list[str]:
    """The cells a claim is judged on: its own, or every cell of its notebook (the best of a grid)."""
    return cells_of(claim) or list(cells)


def _context(notebook: str, cells: dict, claims: list, profile: str) -> dict:
    """What the figures' claims are judged with, from the cells they need (only when those are all stored, or, for
    an experiment that judges each cell on its own, from those that are)."""
    context = {"budget_note": judging.budget_note(profile)}
    experiment = experiments.get(notebook)
    if experiment.context is None:
        return context
    needed = {k for c in claims for k in _needs(c, cells)}
    stored = {k: v for k, v in cells.items() if k in needed and isinstance(v, list)}
    if stored and (experiment.context_each or len(stored) == len(needed)):
        context.update(experiments.figure_context(notebook, stored))
    return context


def _judge(claim: Claim, cells: dict, present: dict, context: dict):
    """A verdict, ``None`` (the claim does not apply), or :class:`Absent` (its runs are not all stored)."""
    needs = _needs(claim, cells)
    no_target = claim.kind == "epochs_to" and "target" not in context
    if any(not isinstance(cells.get(k), list) for k in needs) or no_target:
        count = lambda k, f: len(cells[k]) if isinstance(cells.get(k), list) else getattr(cells[k], f)  # noqa: E731
        return Absent(sum(count(k, "found") for k in needs), sum(count(k, "planned") for k in needs))
    return judging.judge(claim, present, context)  # every stored cell: the SGD gate looks for the Adam twins


def _judged(v) -> bool:
    return isinstance(v, Verdict) and counts(v.status, v.stats)


def across(cells: dict) -> tuple[str, list[dict]]:
    """How one claim's verdicts in several regimes (``{regime: Verdict, None or Absent}``) relate, and the tests of
    the difference of its effect between each pair of regimes that judged it (:func:`aniso.replication.
    regime_difference`). A claim depends on the budget only when such a difference is decided; verdicts whose
    labels differ while no difference is decided are consistent."""
    judged = {n: v for n, v in cells.items() if _judged(v)}
    names = list(judged)
    tests = [{"a": x, "b": y, **replication.regime_difference(judged[x].stats, judged[y].stats)}
             for i, x in enumerate(names) for y in names[i + 1:]]
    statuses = {v.status for v in judged.values()}
    if len(judged) < 2:
        return ("one regime" if judged else "not judged"), tests
    decided = [t for t in tests if t["decided"]]
    if decided:
        why = {w for t in decided for w in _differ(t["a"], t["b"])}
        return "depends on " + " and ".join(sorted(why, key=lambda w: w != "the budget")), tests
    if len(statuses) == 1:
        return f"{next(iter(statuses))} in every regime", tests
    if any(t["decided"] is not None for t in tests):
        return "consistent", tests
    return "labels differ, difference untested", tests


def _differ(a: str, b: str) -> list[str]:
    """What two regimes differ in: their training budget (every setting but the annotation error), their benchmark
    (the annotation-error setting: today's or the calibrated one), or both."""
    sa, sb = (dict(get_profile(r).settings) for r in (a, b))
    errors = sa.pop("synth_errors", "N0") != sb.pop("synth_errors", "N0")
    return [w for w, differs in (("the budget", sa != sb), ("the annotation error", errors)) if differs]


def compare(results: dict[str, dict]) -> list[dict]:
    """One row per claim over regimes (``{regime: regime_verdicts(...)[0]}``): the claim, each regime's outcome
    (a Verdict, ``None`` or :class:`Absent`), how they relate and the regime-difference tests (:func:`across`)."""
    ids = list(dict.fromkeys(i for r in results.values() for i in r))
    rows = []
    for cid in ids:
        cells = {name: r[cid][1] if cid in r else None for name, r in results.items()}
        claim = next(r[cid][0] for r in results.values() if cid in r)
        kind, tests = across(cells)
        rows.append({"claim": claim, "text": claim.text, "cells": cells, "kind": kind, "tests": tests})
    return rows


def _cell_text(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, Absent):
        return v.text()
    st = v.stats
    effect, lo, hi = st.get("effect"), st.get("ci_low"), st.get("ci_high")
    numbers = f"{effect:+.2f}" if effect is not None else ""
    numbers += f" [{lo:+.2f}, {hi:+.2f}]" if lo is not None and hi is not None else ""
    if st.get("paper_outcome"):
        numbers += f"; paper's {st['paper_effect']:+.2f} {st['paper_outcome']}"
    return f"**{v.status}**" + (" at this budget" if st.get("at_budget") else "") + (f" ({numbers})" if numbers else "")


def _across_text(row: dict) -> str:
    """The across-regimes column: how the verdicts relate, with the decided difference(s) if any."""
    decided = [t for t in row["tests"] if t["decided"]]
    if decided:
        return row["kind"] + ": " + "; ".join(f"{t['b']} - {t['a']} {t['difference']:+.2f} [{t['ci_low']:+.2f}, "
                                              f"{t['ci_high']:+.2f}]" for t in decided)
    untested = {t["why"] for t in row["tests"] if t["decided"] is None}
    return row["kind"] + (f" (not tested: {', '.join(sorted(untested))})" if untested else "")


def _l2_cells(regime: Profile, floors: dict) -> str:
    """The regime's L2 NME on 300W common (inter-ocular) against the labels and the truth, and the label noise."""

    with reading(regime.stores()):
        l2 = stored_cells(regime, experiments.REGIME_LINE).get("300w/l2")
    if not isinstance(l2, list):
        return "- | - | -"
    floor = floors.get(f"{regime.name} ({regime.regime})")
    return (f"{mean_metric(l2, 'common', 'inter_ocular'):.2f}% | "
            f"{mean_metric(l2, 'common', 'inter_ocular', 'nme_truth'):.2f}% | "
            f"{f'{100 * floor:.2f}%' if floor is not None else '-'}")


def curve_tables(regimes=REGIMES) -> tuple[dict, dict]:
    """Per regime with its runs, L2 on 300W against training images (:func:`aniso.tables.budget_table`) and the
    label-noise floor."""

    tables, floors = {}, {}
    for regime in regimes:
        with reading(regime.stores()):
            cells = stored_cells(regime, experiments.BUDGET_CURVE)
            curve = {c.label: cells[k] for k, c in experiments.notebook_cells(experiments.BUDGET_CURVE,
                                                                              regime.name).items()
                     if "epochs" in c.settings and isinstance(cells.get(k), list)}
            l2 = cells.get("300w/l2")
            if not isinstance(l2, list):
                continue
            curve[f"L2, {l2[0].config.epochs} epoch(s)"] = l2
            tables[f"{regime.name} ({regime.regime})"] = budget_table(curve)
            floors[f"{regime.name} ({regime.regime})"] = label_noise_floor(l2[0], "common", "inter_ocular")
    return tables, floors


def _is_300w(claim: Claim) -> bool:
    return all(k.split("/")[0] == "300w" for k in cells_of(claim))


def headline_lines(results_dir: Path, regimes=REGIMES) -> list[str]:
    """The report's section on regimes: runs per regime, L2 against the label noise, the claims side by side, what
    holds everywhere and what depends on the budget, and the regime figure (written into ``results_dir``)."""

    waiting = [r.name for r in regimes if not is_available(r.name)]
    regimes = tuple(r for r in regimes if is_available(r.name))
    results, counts = {}, {}
    for regime in regimes:
        results[regime.name], counts[regime.name] = regime_verdicts(regime, keep=_is_300w)
    rows = compare(results)
    lines = ["## The claims by training regime", "",
             "A verdict is about its training budget. Each regime below is judged from its own committed store with "
             "the same rules; a claim whose runs a regime does not have is shown as absent.", "",
             "| regime | what | runs stored | L2, 300W common (inter-ocular) | against the truth | label-noise floor |",
             "|---|---|---|---|---|---|"]
    tables, floors = curve_tables(regimes)
    for regime in regimes:
        c = counts[regime.name]
        lent = f" ({c['borrowed']} borrowed from {', '.join(regime.borrows)})" if c["borrowed"] else ""
        lines.append(f"| {regime.name} | {regime.regime} | {c['found']} of {c['planned']}{lent} | "
                     f"{_l2_cells(regime, floors)} |")
    if waiting:
        lines += ["", f"Not judged yet: {', '.join(waiting)} (the calibrated benchmark: the calibration has not "
                      "chosen its annotation-error model; docs/CALIBRATION.md)."]
    if tables:
        ax = budget_plot(tables, floors, title="L2 on 300W common, inter-ocular: NME against training images")
        save_figure(ax.figure, Path(results_dir) / "figures" / "regimes.png")
        lines += ["", "![NME against training images, by regime](figures/regimes.png)"]
    names = [r.name for r in regimes]
    lines += ["", "Each cell: the verdict, its effect in the claim's direction (points of NME, or of failure rate) "
              "with its 95% interval, and, where the paper prints the two numbers, whether an effect as large as the "
              "paper's (its relative gain scaled to this regime's reference NME) is ruled out by the interval, "
              "compatible with it, or exceeded. Across regimes: a claim depends on the budget (or, between the two "
              "benchmarks, on the annotation error) only when the "
              "difference of its effect between two regimes is itself decided (Welch t on the two estimates; verdicts "
              "that rest on the same runs are not tested).", "",
              "| claim | " + " | ".join(names) + " | across regimes |", "|---" * (len(names) + 2) + "|"]
    for row in rows:
        cid = row["claim"].id
        lines.append(f"| {cid}: {row['text']} | " + " | ".join(_cell_text(row["cells"][n]) for n in names)
                     + f" | {_across_text(row)} |")
    return lines + [""] + _in_words(rows) + ["", "Tests and chance, per regime (the claims above, on 300W):", "",
                                             *chance_lines(results), ""]


def _in_words(rows: list[dict]) -> list[str]:
    every = [r for r in rows if r["kind"].endswith("in every regime")]
    out = []
    for status in ("reproduced", "contradicted", "inconclusive"):
        same = [f"{r['claim'].id} ({r['text']})" for r in every if r["kind"].startswith(status)]
        if same:
            out.append(f"- **{status.capitalize()} in every regime that judged it** ({len(same)}): "
                       + "; ".join(same) + ".")
    for kind, what in (("depends on the budget", "Depends on the training budget (the difference of its effect "
                                                 "between regimes is decided)"),
                       ("depends on the annotation error", "Depends on the annotation error (the difference of its "
                                                           "effect between the two benchmarks is decided)"),
                       ("depends on the budget and the annotation error", "Depends on the budget and on the "
                                                                           "annotation error"),
                       ("consistent", "Consistent across regimes, with other labels (no difference between the "
                                      "regimes' effects is decided)"),
                       ("labels differ, difference untested", "Labels differ, difference not testable (the verdicts "
                                                               "share runs or have no standard error)")):
        these = [r for r in rows if r["kind"] == kind]
        if these:
            out.append(f"- **{what}** ({len(these)}): " + "; ".join(
                f"{r['claim'].id} ({r['text']}: " + ", ".join(f"{n} {v.status} {v.stats.get('effect', 0) or 0:+.2f}"
                                                           for n, v in r["cells"].items() if _judged(v)) + ")"
                for r in these) + ".")
    return out or ["- No claim was judged in more than one regime yet."]


def chance_lines(results: dict[str, dict]) -> list[str]:
    """Per regime: how many directional tests it made, how many were decisive and how many chance alone would make
    decisive if no claim held (two-sided tests at :data:`aniso.stats.ALPHA`)."""
    out = []
    for name, res in results.items():
        judged = [v for _, v in res.values() if _judged(v)]
        tests = [v for v in judged if v.stats.get("p") is not None]
        decisive = sum(v.status in ("reproduced", "contradicted") for v in tests)
        out.append(f"- {name}: {len(tests)} tests, {decisive} decisive; chance alone would make about "
                   f"{replication.chance_decisive(len(tests)):.1f} decisive if no claim held.")
    return out


def _controls_lines(judged: list, absent: list) -> list[str]:
    """The positive controls first, as in every report: those judged, beside the real data's gains."""
    verdicts = [dict(id=v.id, claim=v.claim, status=v.status, stats=v.stats) for c, v in judged
                if c.id.startswith("P.")]
    missing = [c.id for c, _ in absent if c.id.startswith("P.")]
    return ["## Positive controls", "", control_line(verdicts), "", *(control_rows(verdicts) if verdicts else []),
            *(["", f"Absent: {', '.join(missing)}."] if missing else []), ""]


def regime_report(regime: Profile) -> Path:
    """``<folder>/REPORT.md`` of a regime without executed notebooks: its runs, every claim judged or absent."""

    results, counts = regime_verdicts(regime)
    judged = [(c, v) for c, v in results.values() if isinstance(v, Verdict)]
    absent = [(c, v) for c, v in results.values() if isinstance(v, Absent)]
    lines = [f"# The {regime.name} regime: {regime.regime}", "",
             "Generated by `python -m aniso.regimes " + regime.name + "` from the committed store alone (nothing is "
             "trained). Do not edit by hand.", "",
             f"- Profile **{regime.name}**: {get_profile(regime.name).description}.",
             f"- Runs stored: **{counts['found']} of the {counts['planned']}** the profile's notebooks need "
             f"({100 * counts['found'] / max(counts['planned'], 1):.0f}%).",
             f"- Claims judged: {len(judged)}; absent (their runs are not all stored): {len(absent)}.", "",
             *_controls_lines(judged, absent),
             "## Judged", "", *(v.markdown() for _, v in judged), "",
             "## Absent", "", *(f"- {c.id}: {c.text}: {v.text()}" for c, v in absent), ""]
    return atomic_write(REPO_ROOT / regime.folder / "REPORT.md", "\n".join(lines))


if __name__ == "__main__":
    names = {r.name: r for r in REGIMES}
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        raise SystemExit(f"usage: python -m aniso.regimes {{{'|'.join(names)}}}")
    if not is_available(sys.argv[1]):  # nothing to report yet, and nothing wrong: say so and write nothing
        print(f"{sys.argv[1]}: no report yet: the calibration has not chosen its annotation-error model "
              "(docs/CALIBRATION.md; make calibrate)")
    else:
        print(regime_report(names[sys.argv[1]]))
