"""Tables beside the paper, verdicts on claims, atomic writes and the report.

Every notebook ends by calling, in this order:

* :func:`write_table` for each table (Markdown, CSV and LaTeX, written
  atomically into ``results_dir``);
* :func:`compare` for each "A beats B" claim, giving a :class:`Verdict`;
* :func:`write_section` with its Markdown text and verdicts, which
  ``python -m aniso.reporting RESULTS_DIR`` (run by ``make reproduce``)
  assembles into ``RESULTS_DIR/README.md``.

How a claim is judged (:func:`compare`): both methods are run with the same
seeds and evaluated on the same test images. The per-image NME is averaged
over runs, the paired per-image difference ``B - A`` is bootstrapped over
images (95% interval, seeded), and the run means are compared:

* **reproduced**: the interval lies above 0 and, with at least two runs
  each, every run of A beats every run of B;
* **not reproduced**: A is not better on average (difference <= 0);
* **inconclusive**: A is better on average but the interval includes 0 or
  the runs overlap (the gain is within the run-to-run spread).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_write

__all__ = [
    "atomic_write_text", "fmt_pm", "markdown_table", "latex_table", "write_table", "Verdict", "compare",
    "compare_equivalent", "compare_runs", "spread_verdict", "relative_gain", "STATUSES",
    "write_section", "build_report", "SECTION_ORDER",
]

SECTION_ORDER = ["table1", "table2", "table3", "table4", "table5", "table6", "figure1", "figure2",
                 "supp_ab_sweep", "supp_architectures"]


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (:mod:`aniso.files`)."""
    return atomic_write(path, text)


def fmt_pm(mean: float | None, std: float | None = None, digits: int = 2) -> str:
    """``"3.12 ± 0.20"``, ``"3.12"`` without a std, ``"-"`` without a value."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and np.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _cell(v) -> str:
    if isinstance(v, float):
        return "-" if np.isnan(v) else f"{v:.4g}"
    return "-" if v is None else str(v)


def _index_cols(df: pd.DataFrame) -> list[str]:
    return [n or "" for n in df.index.names]


def _index_cells(idx) -> list[str]:
    return [str(i) for i in idx] if isinstance(idx, tuple) else [str(idx)]


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency); a MultiIndex gives one column per level."""
    cols = (_index_cols(df) if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, row in df.iterrows():
        cells = (_index_cells(idx) if index else []) + [_cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("*", r"$^*$")):
        s = s.replace(a, b)
    return s


def latex_table(df: pd.DataFrame, caption: str = "", index: bool = True) -> str:
    """A booktabs LaTeX table."""
    cols = (_index_cols(df) if index else []) + [str(c) for c in df.columns]
    out = [r"\begin{table}[t]", r"\centering"]
    if caption:
        out.append(rf"\caption{{{_tex(caption)}}}")
    out += [r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule",
            " & ".join(_tex(c) for c in cols) + r" \\", r"\midrule"]
    for idx, row in df.iterrows():
        cells = (_index_cells(idx) if index else []) + [_cell(v) for v in row.tolist()]
        out.append(" & ".join(_tex(c) for c in cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def write_table(df: pd.DataFrame, results_dir: str | Path, name: str, caption: str = "",
                index: bool = True) -> dict[str, Path]:
    """Write ``name.md``, ``name.csv`` and ``name.tex`` into ``results_dir`` (atomically)."""
    d = Path(results_dir)
    md = (f"**{caption}**\n\n" if caption else "") + markdown_table(df, index=index)
    return {
        "md": atomic_write_text(d / f"{name}.md", md),
        "csv": atomic_write_text(d / f"{name}.csv", df.to_csv(index=index)),
        "tex": atomic_write_text(d / f"{name}.tex", latex_table(df, caption, index=index)),
    }


@dataclass
class Verdict:
    """The judgement of one claim: ``status`` is "reproduced", "not reproduced" or "inconclusive".

    ``numbers`` states the evidence in words and figures; ``stats`` keeps the
    figures machine-readable (means, spreads, interval, p-value, ...).
    """

    claim: str
    status: str
    numbers: str
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Verdict status {self.status!r}: expected one of {STATUSES}")

    def markdown(self) -> str:
        return f"- **{self.status}**: {self.claim}. {self.numbers}"


STATUSES = ("reproduced", "not reproduced", "inconclusive")


def _paired(better, worse, subset: str, norm: str, claim: str, n_boot: int, seed: int):
    """Per-run means and the bootstrap of the paired per-image difference (NME in percent)."""
    if not better or not worse:
        raise ValueError(f"{claim!r}: both sides need at least one run")
    keys = better[0].keys(subset)
    for r in list(better) + list(worse):
        if not np.array_equal(r.keys(subset), keys):
            raise ValueError(f"{claim!r}: run {r.id} was evaluated on other images of {subset!r}")
    a = np.stack([r.nmes(subset, norm) for r in better]) * 100
    b = np.stack([r.nmes(subset, norm) for r in worse]) * 100
    d = b.mean(axis=0) - a.mean(axis=0)  # per image, positive = the first side is better
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return a.mean(axis=1), b.mean(axis=1), d, float(lo), float(hi)


def _sd(v: np.ndarray) -> float:
    return float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def compare(better, worse, subset: str, norm: str, claim: str, n_boot: int = 2000, seed: int = 0) -> Verdict:
    """Judge "``better`` beats ``worse``" (lower NME) on one subset and normalisation.

    ``better`` and ``worse`` are lists of :class:`~aniso.experiments.RunRecord`
    evaluated on the same images (checked by key). See the module docstring
    for the rule.
    """
    from scipy.stats import wilcoxon

    a_runs, b_runs, d, lo, hi = _paired(better, worse, subset, norm, claim, n_boot, seed)
    p = float(wilcoxon(d).pvalue) if len(d) >= 10 and np.any(d != 0) else None
    separate = bool(a_runs.max() < b_runs.min()) if (len(a_runs) > 1 and len(b_runs) > 1) else True
    diff = float(d.mean())
    if diff <= 0:
        status = "not reproduced"
    elif lo > 0 and separate:
        status = "reproduced"
    else:
        status = "inconclusive"
    ptxt = "n/a" if p is None else f"{p:.2g}"
    numbers = (f"NME {fmt_pm(a_runs.mean(), _sd(a_runs))}% vs {fmt_pm(b_runs.mean(), _sd(b_runs))}% "
               f"(mean ± std over {len(a_runs)} and {len(b_runs)} runs); gain {diff:+.2f} points "
               f"[{lo:+.2f}, {hi:+.2f}] (95% paired bootstrap over {len(d)} images), Wilcoxon p = {ptxt}; "
               f"every run better: {('yes' if separate else 'no') if min(len(a_runs), len(b_runs)) > 1 else 'n/a (one run)'}")
    stats = dict(a_mean=float(a_runs.mean()), a_std=_sd(a_runs), b_mean=float(b_runs.mean()), b_std=_sd(b_runs),
                 runs_a=len(a_runs), runs_b=len(b_runs), diff=diff, ci_low=lo, ci_high=hi, n_images=len(d),
                 p_wilcoxon=p, runs_separate=separate)
    return Verdict(claim, status, numbers, stats)


def compare_equivalent(first, second, subset: str, norm: str, claim: str, margin: float = 0.05,
                       n_boot: int = 2000, seed: int = 0) -> Verdict:
    """Judge "``first`` and ``second`` make almost no difference".

    The margin is relative: ``margin`` times the mean NME of ``second``.
    Reproduced when the 95% interval of the paired difference lies inside
    ``[-m, m]``; not reproduced when it lies wholly outside; inconclusive
    otherwise.
    """
    a_runs, b_runs, d, lo, hi = _paired(first, second, subset, norm, claim, n_boot, seed)
    m = margin * float(b_runs.mean())
    if -m <= lo and hi <= m:
        status = "reproduced"
    elif lo > m or hi < -m:
        status = "not reproduced"
    else:
        status = "inconclusive"
    numbers = (f"NME {fmt_pm(a_runs.mean(), _sd(a_runs))}% vs {fmt_pm(b_runs.mean(), _sd(b_runs))}%; "
               f"difference {float(d.mean()):+.2f} points [{lo:+.2f}, {hi:+.2f}] (95% paired bootstrap over "
               f"{len(d)} images) against an equivalence margin of ±{m:.2f} ({100 * margin:g}% of the NME)")
    stats = dict(a_mean=float(a_runs.mean()), b_mean=float(b_runs.mean()), diff=float(d.mean()), ci_low=lo,
                 ci_high=hi, margin=m, n_images=len(d))
    return Verdict(claim, status, numbers, stats)


def compare_runs(a_values, b_values, claim: str, what: str, unit: str = "") -> Verdict:
    """Judge "A is lower than B" from one number per run (epochs to a target, NME after epoch 1, ...).

    Uses the share ``U`` of run pairs (a, b) with a < b, ties counting one
    half (``inf``, a target never reached, ties with ``inf``). Reproduced when
    ``U = 1`` (every run of A below every run of B); not reproduced when
    ``U < 0.5`` (A tends to be higher); inconclusive otherwise (overlap or ties).
    """
    a, b = np.asarray(a_values, float), np.asarray(b_values, float)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"{claim!r}: both sides need at least one run")
    lower = (a[:, None] < b[None, :]).astype(float) + 0.5 * (a[:, None] == b[None, :])
    u = float(lower.mean())
    status = "reproduced" if u == 1.0 else "not reproduced" if u < 0.5 else "inconclusive"
    fmt = lambda v: ", ".join("never" if np.isinf(x) else f"{x:.3g}" for x in v)  # noqa: E731
    numbers = (f"{what}: {fmt(a)}{unit} vs {fmt(b)}{unit} (per run); share of run pairs where the first is lower "
               f"(ties count half): {u:.2f}")
    return Verdict(claim, status, numbers, dict(a=a.tolist(), b=b.tolist(), u=u))


def spread_verdict(a_records, b_records, subset: str, norm: str, claim: str) -> Verdict:
    """Judge "A's results spread more over runs than B's" (std over runs of the mean NME).

    Reproduced when A's std is larger and Levene's test says so (p < 0.05);
    not reproduced when A's std is not larger; inconclusive otherwise, and
    always with fewer than three runs a side.
    """
    from scipy.stats import levene

    a = np.array([r.metrics[subset][norm]["nme"] for r in a_records]) * 100
    b = np.array([r.metrics[subset][norm]["nme"] for r in b_records]) * 100
    sa, sb = _sd(a), _sd(b)
    if len(a) < 3 or len(b) < 3:
        return Verdict(claim, "inconclusive", f"std over runs {sa:.3f} vs {sb:.3f} NME points ({len(a)} and {len(b)} "
                                              f"runs; fewer than 3 runs a side cannot decide)", dict(std_a=sa, std_b=sb))
    p = float(levene(a, b).pvalue)
    status = "not reproduced" if not sa > sb else "reproduced" if p < 0.05 else "inconclusive"
    return Verdict(claim, status, f"std over runs {sa:.3f} vs {sb:.3f} NME points ({len(a)} and {len(b)} runs), "
                                  f"Levene p = {p:.2g}", dict(std_a=sa, std_b=sb, p_levene=p))


def relative_gain(paper_a: float, paper_b: float, ours_a: float, ours_b: float, a: str, b: str) -> str:
    """One sentence: how much lower (or higher) A's NME is than B's, in the paper and here."""
    def rel(x, y):
        g = 100 * (y - x) / y
        return f"{abs(g):.1f}% {'lower' if g >= 0 else 'higher'}"

    return (f"{a} vs {b}: paper {paper_a:.2f} vs {paper_b:.2f} ({rel(paper_a, paper_b)}), "
            f"ours {ours_a:.2f} vs {ours_b:.2f} ({rel(ours_a, ours_b)})")


def write_section(results_dir: str | Path, name: str, title: str, body: str, verdicts=(), meta: dict | None = None) -> Path:
    """Store one notebook's part of the report: ``sections/<name>.md`` and ``sections/<name>.json``."""
    d = Path(results_dir) / "sections"
    text = f'<a id="{name}"></a>\n\n## {title}\n\n{body.strip()}\n'
    if verdicts:
        text += "\n**Verdicts**\n\n" + "\n".join(v.markdown() for v in verdicts) + "\n"
    atomic_write_text(d / f"{name}.json", json.dumps({"name": name, "title": title, "meta": meta or {},
                                                      "verdicts": [asdict(v) for v in verdicts]},
                                                     indent=1, default=float))
    return atomic_write_text(d / f"{name}.md", text)


def _training_line(results_dir: Path) -> list[str]:
    """The summed training time of the stored runs (a re-run that finds them stored is fast)."""
    metas = [json.loads(p.read_text()) for p in sorted((results_dir / "runs").glob("*.json"))]
    if not metas:
        return []
    total = sum(m.get("train_seconds", 0.0) for m in metas)
    return [f"- Training time of the {len(metas)} stored runs behind this report: {total / 60:.1f} min "
            f"(their `train_seconds`; a re-run that finds them stored only redraws the tables and figures)."]


def build_report(results_dir: str | Path) -> Path:
    """Assemble ``results_dir/README.md`` from the notebooks' sections, with a summary of every verdict."""
    d = Path(results_dir)
    sec_dir = d / "sections"
    names = [n for n in SECTION_ORDER if (sec_dir / f"{n}.md").exists()]
    names += sorted(p.stem for p in sec_dir.glob("*.md") if p.stem not in names) if sec_dir.exists() else []
    timings = {}
    if (d / "timings.json").exists():
        timings = json.loads((d / "timings.json").read_text())
    metas = {n: json.loads((sec_dir / f"{n}.json").read_text()) for n in names}
    rows = []
    for n in names:
        for v in metas[n]["verdicts"]:
            rows.append((v["status"], f"| [{n}](#{n}) | {v['claim']} | **{v['status']}** | {v['numbers']} |"))
    counts = {s: sum(st == s for st, _ in rows) for s in STATUSES}
    first = next(iter(metas.values()), {}).get("meta", {})
    profile = timings.get("profile", first.get("profile", "?"))
    from .experiments import PROFILES  # the report names what the profile trains

    described = f" ({PROFILES[profile].description})" if profile in PROFILES else ""
    head = [
        "# Reproduction report: Not All Points Are Created Equal",
        "",
        "Generated by `make reproduce` (`ci/run_notebooks.py`, then `python -m aniso.reporting`). "
        "Do not edit by hand.",
        "",
        f"- Profile: **{profile}**{described}; data: "
        f"**{first.get('data', '?')}**; finished {timings.get('finished', time.strftime('%Y-%m-%d'))}.",
        f"- Total time of the notebooks: {timings.get('total_seconds', float('nan')) / 60:.1f} min "
        f"({', '.join(f'{k} {v / 60:.1f}' for k, v in timings.get('seconds', {}).items())} min).",
        *_training_line(d),
        "- Library versions, commit, seeds and configurations of every run: `runs/*.json`.",
        "",
        "Synthetic data cannot reproduce the paper's absolute numbers (they are NMEs on photographs); "
        "what can reproduce is each claim's direction and size relative to the baselines, run here under the "
        "same protocol. Short CPU profiles train far less than the paper (60 epochs of ResNet50 at 256 px): "
        "their verdicts describe that regime, not the paper's. Verdict rule: see `aniso.reporting` (paired "
        "bootstrap over test images plus run separation; a claim whose mean gain is not positive is 'not "
        "reproduced').",
        "",
        f"## Summary of verdicts ({counts['reproduced']} reproduced, {counts['not reproduced']} not reproduced, "
        f"{counts['inconclusive']} inconclusive)",
        "",
        "| section | claim | verdict | evidence |",
        "|---|---|---|---|",
        *(r for _, r in rows),
        "",
    ]
    body = [(sec_dir / f"{n}.md").read_text() for n in names]
    # sections refer to files relative to results_dir; the report sits there too
    return atomic_write_text(d / "README.md", "\n".join(head) + "\n" + "\n".join(body))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m aniso.reporting RESULTS_DIR")
    print(build_report(sys.argv[1]))
