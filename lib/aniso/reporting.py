"""Tables, report sections and the report.

A notebook writes its tables with :func:`write_table` (Markdown, CSV and
LaTeX, atomically) and its part of the report with one call to
:func:`aniso.claims.judge_section`, which judges the notebook's claims and
calls :func:`write_section`. ``python -m aniso.reporting RESULTS_DIR`` (run
by ``make reproduce``) assembles the sections into ``RESULTS_DIR/README.md``
(:func:`build_report`): a headline table by claim group, the claims by training
regime (every regime's committed store: :mod:`aniso.regimes`), the learning rates,
the versions behind the numbers, the statistics, then every section.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import audit
from .files import CSV_FLOAT_FORMAT, atomic_write, stated
from .verdicts import GROUPS, STATUSES

__all__ = ["fmt_pm", "markdown_table", "latex_table", "write_table", "section_json", "write_section", "build_report"]


def fmt_pm(mean: float | None, std: float | None = None, digits: int = 2) -> str:
    """``"3.12 ± 0.20"``, ``"3.12"`` without a std, ``"-"`` without a value."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and np.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _flat(df: pd.DataFrame, index: bool) -> pd.DataFrame:
    """One column per index level (a MultiIndex prints as tuples otherwise)."""
    if not index:
        return df.reset_index(drop=True)
    names = [n or "" for n in df.index.names]
    return df.rename_axis(names).reset_index()


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub-flavoured Markdown table (pandas + tabulate); a MultiIndex gives one column per level."""
    return _flat(df, index).to_markdown(index=False, floatfmt=".4g", missingval="-") + "\n"


def latex_table(df: pd.DataFrame, caption: str = "", index: bool = True) -> str:
    """A booktabs LaTeX table (pandas' Styler), special characters escaped."""
    flat = _flat(df, index)
    styler = flat.style.hide(axis="index").format(escape="latex", precision=4, na_rep="-")
    styler = styler.format_index(escape="latex", axis="columns")
    tex = styler.to_latex(caption=caption.replace("%", r"\%") or None, hrules=True, position="t",
                          position_float="centering", column_format="l" + "r" * (flat.shape[1] - 1))
    return tex.replace("±", r"$\pm$")


def write_table(df: pd.DataFrame, results_dir: str | Path, name: str, caption: str = "",
                index: bool = True) -> dict[str, Path]:
    """Write ``name.md``, ``name.csv`` and ``name.tex`` into ``results_dir`` (atomically)."""
    d = Path(results_dir)
    md = (f"**{caption}**\n\n" if caption else "") + markdown_table(df, index=index)
    csv = df.to_csv(index=index, float_format=CSV_FLOAT_FORMAT)
    return {"md": atomic_write(d / f"{name}.md", md), "csv": atomic_write(d / f"{name}.csv", csv),
            "tex": atomic_write(d / f"{name}.tex", latex_table(df, caption, index=index))}


def section_json(name: str, title: str, verdicts=(), meta: dict | None = None) -> str:
    """The text of ``sections/<name>.json``: every number at :data:`aniso.files.STATED_DIGITS` significant digits,
    so that the same verdicts write the same bytes on any CPU."""
    section = {"name": name, "title": title, "meta": meta or {}, "verdicts": [asdict(v) for v in verdicts]}
    return json.dumps(stated(section), indent=1)


def write_section(results_dir: str | Path, name: str, title: str, body: str, verdicts=(),
                  meta: dict | None = None) -> Path:
    """Store one notebook's part of the report: ``sections/<name>.md`` and ``sections/<name>.json``."""
    d = Path(results_dir) / "sections"
    text = f'<a id="{name}"></a>\n\n## {title}\n\n{body.strip()}\n'
    if verdicts:
        text += "\n**Verdicts**\n\n" + "\n".join(v.markdown() for v in verdicts) + "\n"
    atomic_write(d / f"{name}.json", section_json(name, title, verdicts, meta))
    return atomic_write(d / f"{name}.md", text)


# ----------------------------------------------------------------------------- the report

def _sections(d: Path) -> list[dict]:
    from .suite import NOTEBOOKS

    sec_dir = d / "sections"
    names = [n for n in NOTEBOOKS if (sec_dir / f"{n}.json").exists()]
    names += sorted(p.stem for p in sec_dir.glob("*.json") if p.stem not in names) if sec_dir.exists() else []
    return [json.loads((sec_dir / f"{n}.json").read_text()) for n in names]


def _headline(sections: list[dict]) -> list[str]:
    """One row per claim group: the headline claim's outcome, effect, interval and detectable effect."""
    rows = ["| claim | what the paper says | outcome | effect (points) | interval | detectable effect | where |",
            "|---|---|---|---|---|---|---|"]
    for group, what in GROUPS.items():
        found = [(s["name"], v) for s in sections for v in s["verdicts"] if v.get("headline") and v["id"].split(".")[0] == group]
        for name, v in found:
            st = v.get("stats", {})
            eff = f"{st['effect']:+.2f}" if st.get("effect") is not None else "-"
            ci = f"[{st['ci_low']:+.2f}, {st['ci_high']:+.2f}]" if st.get("ci_low") is not None else "-"
            mde = f"{st['mde']:.2f}" if st.get("mde") is not None else "-"
            status = f"**{v['status']}**" + (" at this budget" if st.get("at_budget") else "")
            rows.append(f"| {v['id']} | {v['claim']} | {status} | {eff} | {ci} | {mde} | [{name}](#{name}) |")
        if not found:
            rows.append(f"| {group} | {what} | not run | - | - | - | - |")
    return rows


def _summary(sections: list[dict]) -> list[str]:
    rows = [(s["name"], v) for s in sections for v in s["verdicts"]]
    counts = {st: sum(v["status"] == st for _, v in rows) for st in STATUSES}
    lines = [f"## Every verdict ({', '.join(f'{n} {st}' for st, n in counts.items())})", "",
             "| id | section | claim | verdict | evidence |", "|---|---|---|---|---|"]
    lines += [f"| {v.get('id', '')} | [{n}](#{n}) | {v['claim']} | **{v['status']}** | {v['numbers']} |" for n, v in rows]
    return lines + [""]


def _facts(sections: list[dict], key: str) -> list[str]:
    """Lines that sections left for the report's head (``meta[key]``), in section order, without repeats."""
    out: list[str] = []
    for s in sections:
        for line in s.get("meta", {}).get(key, []):
            if line not in out:
                out.append(line)
    return out


def _timing_line(d: Path) -> list[str]:
    if not (d / "timings.json").exists():
        return []
    t = json.loads((d / "timings.json").read_text())
    runs = t.get("invocations", [])
    parts = "; ".join(f"{r['new_runs']} runs and tunings in {r['total_seconds'] / 60:.1f} min, finished {r['finished']}"
                      for r in runs)
    return [f"- Wall time of the `make reproduce` that trained these runs: {t['total_seconds'] / 60:.1f} min "
            f"({len(runs)} invocation{'s' * (len(runs) != 1)}: {parts})."]


def _by_regime(d: Path, profile: str) -> list[str]:
    """The claims by training regime (:mod:`aniso.regimes`), in the report of a regime's own profile."""
    from . import regimes

    if profile not in {r.profile for r in regimes.REGIMES}:
        return []
    return regimes.headline_lines(d)


def build_report(results_dir: str | Path) -> Path:
    """Assemble ``results_dir/README.md`` from the notebooks' sections."""
    from .runs import get_profile

    d = Path(results_dir)
    sections = _sections(d)
    first = sections[0].get("meta", {}) if sections else {}
    profile = first.get("profile", "?")
    try:
        described = f" ({get_profile(profile).description})"
    except ValueError:
        described = ""
    head = ["# Reproduction report: Not All Points Are Created Equal", "",
            "Generated by `make reproduce` (`ci/run_notebooks.py`, then `python -m aniso.reporting`). Do not edit by hand.",
            "", f"- Profile: **{profile}**{described}; data: **{first.get('data', '?')}**.", *_timing_line(d),
            *(f"- {line}" for line in _facts(sections, "report_lines")), "",
            "Synthetic data cannot reproduce the paper's absolute numbers (they are NMEs on photographs); what can "
            "reproduce is each claim's direction and size relative to the baselines, run here under the same protocol. "
            "Outcomes: **reproduced** (significant in the claimed direction), **contradicted** (significant the other "
            "way), **inconclusive** (neither; the detectable effect says how large a difference the runs could have "
            "seen). The rules are in the section *How claims are judged* below.", "",
            "## Headline: the paper's claims", "", *_headline(sections), "", *_by_regime(d, profile)]
    body = [(d / "sections" / f"{s['name']}.md").read_text() for s in sections]
    tail = ["", "## How claims are judged", "", *_facts(sections, "method_lines"), *audit.tuning_lines(sections),
            *audit.seed_split_lines(sections), "", "## The versions behind these numbers", "",
            *audit.version_lines(sections), ""]
    return atomic_write(d / "README.md", "\n".join(head + _summary(sections)) + "\n" + "\n".join(body)
                        + "\n".join(tail) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m aniso.reporting RESULTS_DIR")
    print(build_report(sys.argv[1]))
