"""Our results beside the paper's, in the paper's table layouts.

Rows are tidy dicts ``block, method, column, mean, std`` (the layout of
:func:`aniso.paper.paper_table`); :func:`beside_paper` puts the paper's rows
and ours into one wide table of ``"mean ± std"`` strings with a ``source``
level, so every notebook builds its table the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .paper import paper_table
from .reporting import fmt_pm

__all__ = ["tidy_runs", "beside_paper", "wide", "mean_metric"]


def mean_metric(records, subset: str, norm: str, metric: str = "nme", scale: float = 100.0) -> float:
    """Mean over runs of one metric (percent by default)."""
    return float(np.mean([r.metrics[subset][norm][metric] for r in records]) * scale)


def tidy_runs(records, method: str, block: str, columns: dict, scale: float = 100.0) -> list[dict]:
    """Mean and std over ``records`` of each column.

    ``columns`` maps a column name to ``(subset, norm, metric)`` with metric
    a key of :attr:`RunRecord.metrics` (``"nme"``, ``"fr@0.1"``, ``"auc@0.1"``,
    ...); values are multiplied by ``scale`` (100: percent).
    """
    rows = []
    for col, (subset, norm, metric) in columns.items():
        vals = np.array([r.metrics[subset][norm][metric] for r in records], dtype=float) * scale
        rows.append(dict(block=block, method=method, column=col, mean=float(vals.mean()),
                         std=float(vals.std(ddof=1)) if len(vals) > 1 else None, runs=len(vals)))
    return rows


def wide(rows, columns=None, digits: int = 2) -> pd.DataFrame:
    """Tidy rows -> a table indexed by (block, source, method) with one column per ``column``."""
    df = pd.DataFrame(rows)
    df["cell"] = [fmt_pm(m, None if s is None or (isinstance(s, float) and np.isnan(s)) else s, digits)
                  for m, s in zip(df["mean"], df["std"])]
    order = columns or list(dict.fromkeys(df["column"]))
    out = df.pivot_table(index=["block", "source", "method"], columns="column", values="cell", aggfunc="first",
                         sort=False)
    out = out.reindex(columns=order).fillna("-")
    # group by block (first-seen order), the paper's rows before ours
    blocks = list(dict.fromkeys(df["block"]))
    key = [(blocks.index(b), s != "paper") for b, s, _ in out.index]
    return out.iloc[sorted(range(len(out)), key=lambda i: key[i])]


def beside_paper(number: int, ours: list[dict], source: str = "ours", digits: int = 2, columns=None,
                 blocks=None) -> pd.DataFrame:
    """The paper's Table ``number`` with our rows (``source``) under each block."""
    paper = paper_table(number).drop(columns=["table", "own"]).assign(source="paper")
    mine = pd.DataFrame(ours).assign(source=source)
    rows = pd.concat([paper, mine], ignore_index=True)
    if blocks is not None:
        rows = rows[rows["block"].isin(blocks)]
    rows["std"] = rows["std"].astype(object).where(rows["std"].notna(), None)
    return wide(rows.to_dict("records"), columns=columns, digits=digits)
