"""Our results beside the paper's, in the paper's table layouts.

Rows are tidy dicts ``block, method, column, mean, std`` (the layout of
:func:`aniso.paper.paper_table`); :func:`beside_paper` puts the paper's rows
and ours into one wide table of ``"mean ± std"`` strings with a ``source``
level, so every notebook builds its table the same way. On synthetic data
each of our NME rows has a twin, ``"<method> vs truth"``: the same runs
scored against the noise-free landmarks instead of the labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats
from .judging import nme_matrix
from .paper import paper_table
from .writers import fmt_pm

__all__ = ["tidy_runs", "beside_paper", "wide", "mean_metric", "TRUTH_SUFFIX", "SECONDS", "seconds_row",
           "tuning_table", "regime_line", "epochs_table", "grid_table", "argmin2d", "gain_table", "pose_summary",
           "budget_table"]

TRUTH_SUFFIX = " vs truth"
SECONDS = "train s/run"


def mean_metric(records, subset: str, norm: str, metric: str = "nme", scale: float = 100.0) -> float:
    """Mean over runs of one metric (percent by default)."""
    return float(np.mean([r.metrics[subset][norm][metric] for r in records]) * scale)


def _row(records, method, block, col, subset, norm, metric, scale) -> dict:
    vals = np.array([r.metrics[subset][norm][metric] for r in records], dtype=float) * scale
    return dict(block=block, method=method, column=col, mean=float(vals.mean()),
                std=float(vals.std(ddof=1)) if len(vals) > 1 else None, runs=len(vals))


def tidy_runs(records, method: str, block: str, columns: dict, scale: float = 100.0, truth: bool = True) -> list[dict]:
    """Mean and std over ``records`` of each column.

    ``columns`` maps a column name to ``(subset, norm, metric)`` with metric
    a key of :attr:`RunRecord.metrics` (``"nme"``, ``"fr@0.1"``, ``"auc@0.1"``,
    ...); values are multiplied by ``scale`` (100: percent). With ``truth``,
    NME columns of runs that have a noise-free truth also give a
    ``method + TRUTH_SUFFIX`` row.
    """
    rows = [_row(records, method, block, col, *spec, scale) for col, spec in columns.items()]
    if truth:
        rows += [_row(records, method + TRUTH_SUFFIX, block, col, s, n, "nme_truth", scale)
                 for col, (s, n, m) in columns.items() if m == "nme" and "nme_truth" in records[0].metrics[s][n]]
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
        row = cells.setdefault((r["block"], r.get("source", "ours"), r["method"]), {})
        row[r["column"]] = fmt_pm(r["mean"], std, digits)
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


def seconds_row(records, method: str, block: str) -> dict:
    """A tidy row with the mean training time per run (seconds) in column :data:`SECONDS`."""
    secs = [r.meta["train_seconds"] for r in records]
    return dict(block=block, method=method, column=SECONDS, mean=float(np.mean(secs)), std=None)


def tuning_table(records: dict) -> pd.DataFrame:
    """The learning rate of every loss, optimiser and backbone behind ``records`` (``{cell key: runs}``), with the
    scores of every rate the search tried and whether the chosen one has worse neighbours on both sides."""
    rows = {}
    for recs in records.values():
        c, t = recs[0].config, recs[0].meta.get("lr_tuning")
        key = (c.loss, c.optimizer, c.arch, str(c.loss_params) if c.loss_params else "")
        scores = ("given, not tuned" if t is None else
                  ", ".join(f"{lr:g}: {'diverged' if not np.isfinite(v) else f'{100 * v:.2f}'}"
                            for lr, v in zip(t["grid"], t["scores"])))
        bracketed = "-" if t is None else "yes" if t.get("bracketed") else "no"
        rows[key] = {"lr": f"{c.lr:g}", "bracketed": bracketed, "validation NME (%) per rate": scores}
    index = pd.MultiIndex.from_tuples(sorted(rows), names=["loss", "optimizer", "backbone", "loss parameters"])
    return pd.DataFrame([rows[k] for k in sorted(rows)], index=index)


def regime_line(l2_records, floor: float | None, subset: str = "common", norm: str = "inter_ocular") -> str:
    """The default regime in one sentence: L2's NME against the labels and the truth beside the label-noise floor."""
    label = mean_metric(l2_records, subset, norm)
    m = l2_records[0].metrics[subset][norm]
    truth = (f", {mean_metric(l2_records, subset, norm, 'nme_truth'):.2f}% against the noise-free truth"
             if "nme_truth" in m else "")
    floor_txt = (f"; the labels' own noise is {100 * floor:.2f}% (what a perfect model scores against the labels)"
                 if floor is not None else "")
    return (f"Regime: L2 on 300W {subset} ({norm.replace('_', '-')}) reaches {label:.2f}% against the labels{truth}"
            f"{floor_txt}.")


def epochs_table(reach: dict, first_seed: int = 0) -> pd.DataFrame:
    """``{label: epochs per seed}`` -> one row per label, one column per seed, plus the mean (``inf`` = never)."""
    t = pd.DataFrame(reach).T
    t.columns = [f"seed {first_seed + i}" for i in range(t.shape[1])]
    t["mean"] = t.mean(axis=1)
    return t


def grid_table(values, rows, cols, row_name: str, col_name: str) -> pd.DataFrame:
    """A 2-D grid of numbers as a table: index ``row_name`` = rows, columns ``col_name=<value>``."""
    return pd.DataFrame(np.asarray(values, float), index=pd.Index(rows, name=row_name),
                        columns=[f"{col_name}={c:g}" for c in cols])


def argmin2d(table: pd.DataFrame) -> tuple[int, int]:
    """Row and column position of the smallest value."""
    v = table.to_numpy(float)
    return tuple(int(i) for i in np.unravel_index(np.nanargmin(v), v.shape))


def gain_table(records: dict, cells: dict, base: str = "l2", subset: str = "full",
               norm: str = "inter_ocular") -> pd.DataFrame:
    """Gain over ``base`` (points; positive = better than the base) of every other loss, seed for seed.

    One row per (optimizer, loss, against) and label-noise level, with the
    mean paired gain, its 95% interval and the outcome (:func:`aniso.stats.compare`).
    """

    rows = []
    for key, cell in cells.items():
        if cell.loss == base:
            continue
        opt, noise = cell.settings.get("optimizer"), cell.settings.get("synth_noise")
        base_key = next(k for k, c in cells.items() if c.loss == base and c.settings == cell.settings)
        for against in ("labels", "truth"):
            ra, rb = records[key], records[base_key]
            if against == "truth" and "nme_truth" not in ra[0].metrics[subset][norm]:
                continue
            res = stats.compare(nme_matrix(ra, subset, norm, against), nme_matrix(rb, subset, norm, against))
            rows.append(dict(optimizer=opt, loss=cell.label, against=against, noise=noise, gain=res.effect,
                             ci_low=res.ci_low, ci_high=res.ci_high, outcome=res.status))
    return pd.DataFrame(rows).set_index(["optimizer", "loss", "against", "noise"]).sort_index()


def pose_summary(poses: dict) -> pd.DataFrame:
    """``{data set: (M, 3) yaw, pitch, roll in degrees}`` -> median and extreme |angle| per set."""
    rows = {}
    for ds, p in poses.items():
        a = np.abs(np.asarray(p, float))
        rows[ds] = {"faces": len(a), "|yaw| median": np.median(a[:, 0]), "|yaw| 95%": np.percentile(a[:, 0], 95),
                    "|yaw| max": a[:, 0].max(), "|pitch| max": a[:, 1].max(), "|roll| max": a[:, 2].max(),
                    "share |yaw| > 30": float((a[:, 0] > 30).mean())}
    return pd.DataFrame(rows).T


def budget_table(cells: dict, subset: str = "common", norm: str = "inter_ocular") -> pd.DataFrame:
    """NME (%) against training images seen: ``{label: runs}`` of one loss at different budgets, one row each
    (mean over seeds; against the labels and, where there is one, the noise-free truth)."""
    rows = []
    for label, recs in cells.items():
        m = recs[0].metrics[subset][norm]
        rows.append({"budget": label, "training images": recs[0].meta["data"]["n_train"] * recs[0].config.epochs,
                     "NME (%)": mean_metric(recs, subset, norm),
                     "NME vs truth (%)": mean_metric(recs, subset, norm, "nme_truth") if "nme_truth" in m else np.nan,
                     "seeds": len(recs)})
    return pd.DataFrame(rows).set_index("budget").sort_values("training images")
