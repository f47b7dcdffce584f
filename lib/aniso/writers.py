"""Writers of the files a notebook leaves in its results folder: tables (Markdown, CSV, LaTeX) and its report
section (Markdown and JSON), all written atomically (:mod:`aniso.files`), every derived number at
:data:`aniso.files.STATED_DIGITS` in the machine-readable files. The report that assembles the sections is
:mod:`aniso.reporting`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from .files import CSV_FLOAT_FORMAT, atomic_write, stated

__all__ = ["fmt_pm", "markdown_table", "latex_table", "write_table", "section_json", "write_section"]


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
    flat = _flat(df, index)
    flat = flat.astype(object).where(flat.notna(), None)  # tabulate writes missingval for None, "nan" for NaN
    return flat.to_markdown(index=False, floatfmt=".4g", missingval="-") + "\n"


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
