"""The paper's reported numbers, as data (transcribed from a scanned copy of the paper).

Every value is in the unit the paper prints: NME, FR and AUC in percent except
Table 3's AUC, which the paper prints on a 0..1 scale. A value is a
``(mean, std)`` pair; ``std`` is ``None`` where the paper gives none, and a
missing entry is ``None``. ``own`` marks the rows the authors ran themselves
(starred in the paper).

Use :func:`paper_table` to get one table as a tidy :class:`pandas.DataFrame`
with columns ``table, block, method, column, mean, std, own``.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["PAPER", "paper_table", "paper_value", "TABLE_TITLES"]

TABLE_TITLES = {
    1: "300W test set NME (%)",
    2: "AFLW-Full NME (%)",
    3: "WFLW test set and subsets (GT-box crops)",
    4: "Ablation on 300W, inter-pupil NME (%)",
    5: "300W private test set",
    6: "Loss comparison, ResNet50, NME (%)",
}


def _rows(block, columns, rows):
    """Expand compact rows ``(method, own, v1, v2, ...)`` into dicts; v is a number, (mean, std) or None."""
    out = []
    for method, own, *values in rows:
        if len(values) != len(columns):
            raise ValueError(f"paper data: row {method!r} of block {block!r} has {len(values)} values, expected "
                             f"{len(columns)}")
        for col, v in zip(columns, values):
            if v is None:
                continue
            mean, std = (v if isinstance(v, tuple) else (v, None))
            out.append(dict(block=block, method=method, column=col, mean=float(mean),
                            std=None if std is None else float(std), own=own))
    return out


_T1 = ("common", "challenging", "full")
_T3 = ("test", "pose", "expression", "illumination", "makeup", "occlusion", "blur")

PAPER: dict[int, list[dict]] = {
    1: _rows("inter_pupil", _T1, [
        ("DVLN (CVPR17)", False, 3.94, 7.62, 4.66),
        ("TSR (CVPR17)", False, 4.36, 7.56, 4.99),
        ("DSRN (CVPR18)", False, 4.12, 9.68, 5.21),
        ("DCFE (ECCV18)", False, 3.83, 7.54, 4.55),
        ("LAB (CVPR18)", False, 3.42, 6.98, 4.12),
        ("Wing (CVPR18)", False, 3.27, 7.18, 4.04),
        ("Wing*", True, 3.31, 7.20, 4.17),
        ("AWing (ICCV19)", False, 3.77, 6.52, 4.31),
        ("Anisotropic*", True, (3.12, 0.2), (6.25, 0.47), (3.94, 0.34)),
    ]) + _rows("inter_ocular", _T1, [
        ("PCD-CNN (CVPR18)", False, 3.67, 7.62, 4.44),
        ("CPM+SBR (CVPR18)", False, 3.28, 7.58, 4.10),
        ("SAN (CVPR18)", False, 3.34, 6.60, 3.98),
        ("LAB (CVPR18)", False, 2.98, 5.19, 3.49),
        ("AWing (ICCV19)", False, 2.72, 4.52, 3.07),
        ("AWing*", True, 2.80, 4.58, 3.12),
        ("Anisotropic*", True, (2.35, 0.15), (4.05, 0.5), (2.91, 0.22)),
    ]),
    2: _rows("nme", ("full", "frontal"), [
        ("CCL (CVPR16)", False, 2.72, 2.17),
        ("TSR (CVPR17)", False, 2.17, None),
        ("DAC-OSR (CVPR17)", False, 2.27, 1.81),
        ("DCFE (ECCV18)", False, 2.17, None),
        ("CPM+SBR (CVPR18)", False, 2.14, None),
        ("SAN (CVPR18)", False, 1.91, 1.85),
        ("DSRN (CVPR18)", False, 1.86, None),
        ("LAB (CVPR18)", False, 1.85, 1.62),
        ("Wing (CVPR18)", False, 1.65, None),
        ("RCN+(L+ELT+A) (CVPR18)", False, 1.59, None),
        ("AWing (ICCV19)", False, 1.53, 1.38),
        ("Anisotropic", True, (1.30, 0.09), (1.27, 0.1)),
    ]),
    3: _rows("nme", _T3, [
        ("SDM (CVPR13)", False, 10.29, 24.10, 11.45, 9.32, 9.38, 13.03, 11.28),
        ("CFSS (CVPR15)", False, 9.07, 21.36, 10.09, 8.30, 8.74, 11.76, 9.96),
        ("DVLN (CVPR17)", False, 6.08, 11.54, 6.78, 5.73, 5.98, 7.33, 6.88),
        ("LAB (CVPR18)", False, 5.27, 10.24, 5.51, 5.23, 5.15, 6.79, 6.32),
        ("Wing (CVPR18)", False, 5.11, 8.75, 5.36, 4.93, 5.41, 6.37, 5.81),
        ("AWing (ICCV19)", False, 4.36, 7.38, 4.58, 4.32, 4.27, 5.19, 4.96),
        ("Anisotropic", True, 4.01, 6.87, 4.17, 4.15, 4.00, 4.94, 3.84),
    ]) + _rows("fr10", _T3, [
        ("SDM (CVPR13)", False, 29.40, 84.36, 33.44, 26.22, 27.67, 41.85, 35.32),
        ("CFSS (CVPR15)", False, 20.56, 66.26, 23.25, 17.34, 21.84, 32.88, 23.67),
        ("DVLN (CVPR17)", False, 10.84, 46.93, 11.15, 7.31, 11.65, 16.30, 13.71),
        ("LAB (CVPR18)", False, 7.56, 28.83, 6.37, 6.73, 7.77, 13.72, 10.74),
        ("Wing (CVPR18)", False, 6.00, 22.70, 4.78, 4.30, 7.77, 12.50, 7.76),
        ("AWing (ICCV19)", False, 2.84, 13.50, 2.23, 2.58, 2.91, 5.98, 3.75),
        ("Anisotropic", True, 2.34, 13.11, 2.04, 2.24, 2.35, 5.67, 3.52),
    ]) + _rows("auc10", _T3, [
        ("SDM (CVPR13)", False, 0.3002, 0.0226, 0.2293, 0.3237, 0.3125, 0.2060, 0.2398),
        ("CFSS (CVPR15)", False, 0.3659, 0.0632, 0.3157, 0.3854, 0.3691, 0.2688, 0.3037),
        ("DVLN (CVPR17)", False, 0.4551, 0.1474, 0.3889, 0.4743, 0.4494, 0.3794, 0.3973),
        ("LAB (CVPR18)", False, 0.5323, 0.2345, 0.4951, 0.5433, 0.5394, 0.4490, 0.4630),
        ("Wing (CVPR18)", False, 0.5504, 0.3100, 0.4959, 0.5408, 0.5582, 0.4885, 0.4918),
        ("AWing (ICCV19)", False, 0.5719, 0.3120, 0.5149, 0.5777, 0.5715, 0.5022, 0.5120),
        ("Anisotropic", True, 0.5895, 0.3247, 0.5252, 0.5901, 0.5786, 0.5344, 0.5297),
    ]),
    4: _rows("inter_pupil", _T1, [
        ("AWing (reference)", False, 3.77, 6.52, 4.31),
        ("Anisotropic", True, (3.68, 0.08), (6.44, 0.19), (4.21, 0.09)),
        ("Anisotropic + direct prediction", True, (3.64, 0.07), (6.42, 0.18), (4.20, 0.07)),
        ("Anisotropic + Wing's data balancing", True, (3.52, 0.21), (6.32, 0.53), (4.12, 0.37)),
        ("Anisotropic + our data balancing", True, (3.12, 0.2), (6.25, 0.47), (3.94, 0.34)),
    ]),
    5: _rows("at8", ("nme", "auc", "fr"), [
        ("DAN (CVPRW17)", False, 4.30, 47.00, 2.67),
        ("SHN (CVPRW17)", False, 4.05, None, None),
        ("DCFE (ECCV18)", False, 3.88, 52.42, 1.83),
        ("AWing (ICCV19)", False, 3.56, 55.76, 0.83),
        ("AWing*", True, 3.60, 55.70, 0.90),
        ("Anisotropic*", True, (3.15, 0.2), (56.87, 0.13), (0.49, 0.18)),
    ]) + _rows("at10", ("nme", "auc", "fr"), [
        ("DR+MDM (CVPR17)", False, None, 52.19, 3.67),
        ("IMFA", False, None, 54.85, 1.00),
        ("LAB (CVPR18)", False, None, 58.85, 0.83),
        ("AWing (ICCV19)", False, 3.56, 64.40, 0.33),
        ("AWing*", True, 3.60, 64.45, 0.40),
        ("Anisotropic*", True, (3.15, 0.2), (66.08, 0.09), (0.26, 0.11)),
    ]),
    # Table 6: rows are data sets here, columns the losses (the paper's layout).
    6: _rows("nme", ("l2", "l1", "smooth_l1", "wing", "adaptive_wing", "anisotropic"), [
        ("300w", False, 5.12, 4.98, 4.58, 4.04, 4.17, (3.94, 0.34)),
        ("aflw", False, 1.94, 1.73, 1.76, 1.65, 1.53, (1.30, 0.09)),
        ("wflw", False, 10.12, 9.45, 6.08, 5.11, 4.36, 4.01),
    ]),
}


def paper_table(number: int) -> pd.DataFrame:
    """Table ``number`` (1-6) of the paper as a tidy DataFrame."""
    if number not in PAPER:
        raise ValueError(f"the paper has tables 1-6, not {number!r}")
    df = pd.DataFrame(PAPER[number])
    df.insert(0, "table", number)
    return df


def paper_value(number: int, block: str, method: str, column: str) -> tuple[float, float | None]:
    """One reported ``(mean, std)``; ``KeyError`` naming what was asked when the paper has no such value."""
    for row in PAPER[number]:
        if row["block"] == block and row["method"] == method and row["column"] == column:
            return row["mean"], row["std"]
    raise KeyError(f"table {number} has no value for block={block!r}, method={method!r}, column={column!r}")
