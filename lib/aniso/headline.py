"""The report's head: the paper's claims with the paper's numbers beside ours, a bottom line written from the verdicts,
and the suite's own claims apart.

Works on the verdicts the notebooks stored in their sections (``sections/<name>.json``): one row per comparison (a
comparison several notebooks show counts once, under its first claim's id, with the others as aliases). Holm's
procedure over the paper's directional tests is the headline's multiplicity control (:func:`aniso.replication.holm`).
"""

from __future__ import annotations

from . import replication
from .verdicts import GROUPS, counts

__all__ = ["distinct", "paper_rows", "bottom_line", "own_rows", "control_rows", "control_verdicts", "control_line",
           "UNITS"]

#: What a claim kind's effect is measured in.
UNITS = {"better": "points of NME", "failures": "points of failure rate", "auc": "points of AUC",
         "equivalent": "points of NME",
         "epoch1": "points of validation NME", "epochs_to": "epochs", "curve_area": "points of validation NME",
         "spread": "points of mean abs. deviation",
         "gain_grows": "points of NME", "best_b": "points of NME", "best_of": "points of NME",
         "geometry": "std ratio - 1"}


def distinct(sections: list[dict]) -> list[tuple[str, dict]]:
    """``(section name, verdict)`` once per comparison: where notebooks repeat one, the first claim's own wins."""
    out: dict[str, tuple[str, dict]] = {}
    for s in sections:
        for v in s["verdicts"]:
            key = v.get("id") or v["claim"]
            if key not in out or (out[key][1].get("stats", {}).get("repeat") and not v.get("stats", {}).get("repeat")):
                out[key] = (s["name"], v)
    return list(out.values())


def _is_papers(v: dict) -> bool:
    return v.get("stats", {}).get("papers", v.get("id", "").startswith("C"))


def _counted(v: dict) -> bool:
    """A stored verdict the counts and Holm's family include (:func:`aniso.verdicts.counts`)."""
    return counts(v["status"], v.get("stats", {}))


def _two_sided(st: dict) -> float | None:
    p, q = st.get("p"), st.get("p_other")
    return min(1.0, 2 * min(p, q)) if p is not None and q is not None else None


def _ids(v: dict) -> str:
    aliases = v.get("stats", {}).get("aliases") or []
    return v["id"] + (f" (= {', '.join(aliases)})" if aliases else "")


def control_verdicts(sections: list[dict]) -> list[dict]:
    """The positive controls' verdicts (group P), once each."""
    return [v for _, v in distinct(sections) if v.get("id", "").split(".")[0] == "P"]


def _relative(st: dict, key: str) -> str:
    r = replication.relative(st, key)
    return f"{100 * r:+.1f}%" if r is not None else "-"


def control_rows(verdicts: list[dict]) -> list[str]:
    """The controls beside the real data: the paper's relative gain over L2 (Table 6, ResNet50 on the real faces)
    and ours (B minus A over B, with its 95% interval), the points behind it and the verdict."""
    rows = ["| control | on real faces (Table 6) | ours: relative gain [95% CI] | ours (A vs B, % NME) | verdict |",
            "|---|---|---|---|---|"]
    for v in verdicts:
        st = v.get("stats", {})
        real = f"{100 * st['paper_relative']:+.1f}% ({st['paper_a']:g} vs {st['paper_b']:g})" \
            if st.get("paper_relative") is not None else "-"
        ours = f"{_relative(st, 'effect')} [{_relative(st, 'ci_low')}, {_relative(st, 'ci_high')}]"
        means = f"{st['mean_a']:.2f} vs {st['mean_b']:.2f}" if st.get("mean_a") is not None else "-"
        rows.append(f"| {v['id']}: {v['claim'].replace(' (positive control)', '')} | {real} | {ours} | {means} | "
                    f"**{v['status']}** |")
    return rows


def control_line(verdicts: list[dict]) -> str:
    """How many controls reproduce, in words, and the mean distance of our relative gains from the real ones; one
    clause per benchmark where the controls are tagged by one (the calibration's ``P.1/N1``, ``P.1/N1@long``)."""
    if not verdicts:
        return "No positive control was judged here."
    groups: dict[str, list[dict]] = {}
    for v in verdicts:
        groups.setdefault(v["id"].partition("/")[2], []).append(v)
    parts = []
    for tag, vs in groups.items():
        ok = sum(v["status"] == "reproduced" for v in vs)
        gaps = [g for v in vs if (g := replication.gap_to_paper(v.get("stats", {}))) is not None]
        failed = [v["id"].partition("/")[0] for v in vs if v["status"] != "reproduced"]
        parts.append(f"{tag + ': ' if tag else ''}{ok} of {len(vs)} reproduced"
                     + (f" (not {', '.join(failed)})" if failed else "")
                     + (f", our relative gains {100 * sum(gaps) / len(gaps):.1f} points (mean) from the real ones"
                        if gaps else ""))
    return (f"**Positive controls** (the robust baselines beat L2, as on every real data set): {'; '.join(parts)}. "
            "A benchmark earns trust in its verdicts on the paper's loss by reproducing what is known of the "
            "baselines; where the controls fail, the verdicts below are about a benchmark that does not behave like "
            "real faces.")


def paper_rows(sections: list[dict]) -> list[str]:
    """The headline table: every paper's claim judged here, the paper's numbers, ours, the verdict, Holm, and the
    paper's effect scaled here with what the interval says of it."""
    found = [(n, v) for n, v in distinct(sections) if _is_papers(v)]
    holm = replication.holm([_two_sided(v.get("stats", {})) if _counted(v) else None for _, v in found])
    rows = ["| claim | the paper's claim | the paper (A vs B) | ours (A vs B) | effect [95% CI] | unit | verdict | "
            "after Holm | the paper's effect here | the paper's effect is |", "|---" * 10 + "|"]
    for (name, v), kept in zip(found, holm):
        st = v.get("stats", {})
        paper = f"{st['paper_a']:g} vs {st['paper_b']:g}" if st.get("paper_a") is not None else "-"
        ours = f"{st['mean_a']:.2f} vs {st['mean_b']:.2f}" if st.get("mean_a") is not None else "-"
        eff = f"{st['effect']:+.2f}" if st.get("effect") is not None else "-"
        eff += f" [{st['ci_low']:+.2f}, {st['ci_high']:+.2f}]" if st.get("ci_low") is not None else ""
        status = f"**{v['status']}**" + (" at this budget" if st.get("at_budget") else "")
        holm_text = "decisive" if kept else "-" if _two_sided(st) is None or not _counted(v) else "not decisive"
        here = f"{st['paper_effect']:+.2f}" if st.get("paper_effect") is not None else "-"
        rows.append(f"| [{_ids(v)}](#{name}) | {v['claim']} | {paper} | {ours} | {eff} | "
                    f"{UNITS.get(st.get('kind', ''), '')} | {status} | {holm_text} | {here} | "
                    f"{st.get('paper_outcome') or '-'} |")
    return rows


def bottom_line(sections: list[dict]) -> list[str]:
    """The bottom line in words, counted from the verdicts (nothing here is written by hand)."""
    shown = [v for _, v in distinct(sections) if _is_papers(v)]
    found = [v for v in shown if _counted(v)]
    if not found:
        return ["No claim of the paper was judged here."]
    count = {s: sum(v["status"] == s for v in found) for s in ("reproduced", "contradicted", "inconclusive")}
    with_paper = [v for v in found if v.get("stats", {}).get("paper_outcome")]
    out_of = {o: [v["id"] for v in with_paper if v["stats"]["paper_outcome"] == o] for o in replication.PAPER_OUTCOMES}
    inconclusive_ruled = [v["id"] for v in with_paper if v["status"] == "inconclusive"
                          and v["stats"]["paper_outcome"] == "ruled out"]
    ps = [_two_sided(v.get("stats", {})) for v in found]
    n_tests = sum(p is not None for p in ps)
    kept = sum(replication.holm(ps))
    text = (f"**Bottom line.** Of the paper's {len(found)} claims judged here (distinct comparisons), "
            f"{count['reproduced']} reproduced, {count['contradicted']} were contradicted and {count['inconclusive']} "
            f"were inconclusive{_not_counted(shown, found)}. {len(with_paper)} of them carry the paper's own "
            "numbers: an effect as large as the paper's (its relative gain, scaled to our reference NME) is ruled "
            f"out by the interval in {len(out_of['ruled out'])}, compatible with it in {len(out_of['compatible'])} "
            f"and exceeded in {len(out_of['larger'])}")
    text += (f"; {len(inconclusive_ruled)} of the inconclusive ones rule it out "
             f"({', '.join(inconclusive_ruled)}): no effect of the paper's size is there, only a smaller one could "
             f"hide in the seed-to-seed spread." if inconclusive_ruled else ".")
    text += (f" Of {n_tests} two-sided tests, chance alone would make about {replication.chance_decisive(n_tests):.1f}"
             f" decisive if no claim held; after Holm's correction over them, {kept} stay decisive.")
    return [text]


def _not_counted(shown: list[dict], found: list[dict]) -> str:
    """The paper's claims shown but not counted: an arm that did not train, a verdict only at this budget."""
    left = [v["id"] for v in shown if v not in found]
    return f" ({', '.join(left)} shown but not counted: no verdict, or judged only at this budget)" if left else ""


def own_rows(sections: list[dict]) -> list[str]:
    """The suite's own claims (G, M, F and the suite's own comparisons in C): one row per group's headline claim."""
    rows = ["| claim | what it says | outcome | effect [95% CI] | unit | detectable effect | where |",
            "|---|---|---|---|---|---|---|"]
    own = [(n, v) for n, v in distinct(sections) if not _is_papers(v) and not v["id"].startswith("P.")
           and (v.get("headline") or v["id"][0] == "C")]
    for name, v in own:
        st = v.get("stats", {})
        eff = f"{st['effect']:+.2f}" if st.get("effect") is not None else "-"
        eff += f" [{st['ci_low']:+.2f}, {st['ci_high']:+.2f}]" if st.get("ci_low") is not None else ""
        mde = f"{st['mde']:.2f}" if st.get("mde") is not None else "-"
        status = f"**{v['status']}**" + (" at this budget" if st.get("at_budget") else "")
        rows.append(f"| {_ids(v)} | {v['claim']} | {status} | {eff} | {UNITS.get(st.get('kind', ''), '')} | {mde} | "
                    f"[{name}](#{name}) |")
    groups = {v["id"].split(".")[0] for _, v in own}
    rows += [f"| {g} | {what} | not run | - | - | - | - |" for g, what in GROUPS.items() if g in ("G", "M", "F")
             and g not in groups]
    return rows
