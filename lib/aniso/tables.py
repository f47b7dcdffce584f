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
    """Tidy rows -> a table indexed by (block, source, method), one column per ``column``.

    Blocks keep their first-seen order; inside a block the paper's rows come
    first, then ours, each in the order given.
    """
    cells: dict[tuple, dict] = {}
    for r in rows:
        std = r.get("std")
        std = None if std is None or (isinstance(std, float) and np.isnan(std)) else std
        cells.setdefault((r["block"], r.get("source", "ours"), r["method"]), {})[r["column"]] = fmt_pm(r["mean"], std, digits)
    order = list(columns) if columns is not None else list(dict.fromkeys(r["column"] for r in rows))
    blocks = list(dict.fromkeys(k[0] for k in cells))
    keys = sorted(cells, key=lambda k: (blocks.index(k[0]), k[1] != "paper"))  # stable: keeps the given order
    index = pd.MultiIndex.from_tuples(keys, names=["block", "source", "method"])
    return pd.DataFrame([[cells[k].get(c, "-") for c in order] for k in keys], index=index, columns=order)


def beside_paper(number: int, ours: list[dict], source: str = "ours", digits: int = 2, columns=None,
                 blocks=None) -> pd.DataFrame:
    """The paper's Table ``number`` with our rows (``source``) under each block."""
    paper = paper_table(number).assign(source="paper").to_dict("records")
    rows = paper + [dict(r, source=source) for r in ours]
    if blocks is not None:
        rows = [r for r in rows if r["block"] in blocks]
    return wide(rows, columns=columns, digits=digits)
