"""Landmark metrics: NME, failure rate, CED and AUC.

Conventions (``docs/DATA.md``, "Metrics"):

* NME of one image = mean over its N points of ``|pred_i - gt_i| / d``, where
  ``d`` is the normalising distance of that image (see :data:`NORMS`).
* Everything here is a FRACTION (0.035, not 3.5 %); multiply by 100 to print
  percentages as the paper does.
* FR@t = share of images with NME > t; CED(x) = share of images with
  NME <= x; AUC@t = integral of CED over [0, t], divided by t (so 0..1).

Inputs may be NumPy arrays or torch tensors (any device, with or without
grad); results are NumPy float64. Metrics are vectorised over images and
points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import checks
from .topology import Scheme, as_scheme

__all__ = ["NORMS", "nme", "failure_rate", "ced", "auc", "summarize"]

#: Normalising distances understood by :func:`nme`.
NORMS = ("inter_ocular", "inter_pupil", "box")


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """A float64 NumPy copy of an array-like or torch tensor."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric array, could not convert ({exc})") from None


def nme(pred: Any, target: Any, scheme: Scheme | str | None, norm: str, boxes: Any = None) -> np.ndarray:
    """Per-image normalised mean error, as a fraction.

    Args:
        pred, target: ``(B, N, 2)`` or ``(N, 2)`` landmarks (x, y) in pixels
            (any unit works as long as pred, target and boxes share it).
            ``(N, 2)`` means one image.
        scheme: a :class:`~aniso.topology.Scheme` or its name; gives the
            ocular / pupil indices. May be ``None`` for ``norm="box"``.
        norm: one of :data:`NORMS`:

            * ``"inter_ocular"``: ``|g[o0] - g[o1]|`` with ``(o0, o1) = scheme.ocular``
              (outer eye corners);
            * ``"inter_pupil"``: distance between the mean of the
              ``scheme.pupils[0]`` points and the mean of the ``scheme.pupils[1]``
              points of the ground truth (eye centres);
            * ``"box"``: ``sqrt(w * h)`` of ``boxes``.
        boxes: ``(B, 4)`` (or ``(4,)`` for one image) boxes
            ``x_min, y_min, x_max, y_max`` in pixels; required for ``"box"``.

    Returns:
        ``(B,)`` float64: NME of every image (a fraction, not percent).
        A NaN in ``pred`` gives a NaN NME for that image.

    Raises:
        ValueError: unknown ``norm``, mismatched or malformed shapes, a
            scheme whose size differs from N, missing/malformed ``boxes``,
            or a zero (or non-finite) normalising distance (the message names
            the image index).
    """
    if norm not in NORMS:
        raise ValueError(f"unknown NME normalisation {norm!r}: expected one of {', '.join(NORMS)}")
    p = _to_numpy(pred, "pred")
    g = _to_numpy(target, "target")
    if p.shape != g.shape:
        raise ValueError(f"nme: pred shape {p.shape} and target shape {g.shape} differ")
    if p.ndim == 2:
        p, g = p[None], g[None]
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape[1] == 0:
        raise ValueError("nme: expected landmarks of shape (B, N, 2) or (N, 2) with N > 0, got "
                         f"{tuple(_to_numpy(pred, 'pred').shape)}")
    n_img, n_pts = p.shape[:2]

    if norm == "box":
        if boxes is None:
            raise ValueError("nme: norm='box' needs boxes, (B, 4) as x_min, y_min, x_max, y_max")
        b = _to_numpy(boxes, "boxes")
        if b.ndim == 1:
            b = b[None]
        if b.shape != (n_img, 4):
            raise ValueError(f"nme: boxes must have shape ({n_img}, 4) (x_min, y_min, x_max, y_max), got {b.shape}")
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        # A negative area (x_max < x_min) is a malformed box, not a tiny one:
        # let it become NaN so the check below names it.
        with np.errstate(invalid="ignore"):
            d = np.sqrt(area)
    else:
        if scheme is None:
            raise ValueError(f"nme: norm={norm!r} needs a scheme (its ocular / pupil indices)")
        sch = as_scheme(scheme)
        if sch.n_points != n_pts:
            raise ValueError(f"nme: scheme {sch.name!r} has {sch.n_points} points but the landmarks have {n_pts}")
        if norm == "inter_ocular":
            o0, o1 = sch.ocular
            d = np.linalg.norm(g[:, o0] - g[:, o1], axis=-1)
        else:
            c0 = g[:, list(sch.pupils[0])].mean(axis=1)
            c1 = g[:, list(sch.pupils[1])].mean(axis=1)
            d = np.linalg.norm(c0 - c1, axis=-1)

    bad = ~(np.isfinite(d) & (d > 0))
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"nme: the {norm} normalising distance is zero or not finite for image index "
            f"{idx[:10].tolist()}{' ...' if idx.size > 10 else ''} (value {d[idx[0]]!r}); expected > 0"
        )
    err = np.linalg.norm(p - g, axis=-1).mean(axis=1)
    return err / d


def _check_nmes(nmes: Any, threshold: float) -> np.ndarray:
    """Validate a 1-D vector of per-image NMEs and a positive threshold."""
    t = float(threshold)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"threshold must be a finite number > 0 (a fraction, e.g. 0.1), got {threshold!r}")
    return checks.nmes(nmes)


def failure_rate(nmes: Any, threshold: float) -> np.float64:
    """FR@threshold: the share (0..1) of images whose NME is strictly above ``threshold``.

    ``nmes`` and ``threshold`` are fractions (0.1 means 10 %).
    """
    e = _check_nmes(nmes, threshold)
    return np.float64(np.mean(e > threshold))


def ced(nmes: Any, threshold: float, steps: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution on ``steps`` equally spaced points of ``[0, threshold]``.

    Returns ``(x, y)``, both ``(steps,)`` float64: ``x`` the NME grid
    (fraction) and ``y[j]`` the share (0..1) of images with ``NME <= x[j]``.
    """
    e = _check_nmes(nmes, threshold)
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"ced: steps must be >= 2, got {steps}")
    x = np.linspace(0.0, float(threshold), steps)
    # searchsorted on the sorted errors counts NME <= x for every grid point at once.
    y = np.searchsorted(np.sort(e), x, side="right") / e.size
    return x, y.astype(np.float64)


def auc(nmes: Any, threshold: float) -> np.float64:
    """AUC@threshold: area under the CED over ``[0, threshold]``, divided by ``threshold`` (0..1).

    Computed exactly as ``mean(max(0, threshold - nme_i)) / threshold``:
    CED(x) = mean_i 1[nme_i <= x], and integrating the indicator of image i
    over [0, t] gives ``max(0, t - nme_i)``. Peer code (HRNet, AWing, STAR)
    integrates the CED numerically with a 1e-4 step (trapezoid / rectangle
    rule); that equals this value in the limit of a small step and differs by
    at most about ``step / threshold`` (1e-3 at t = 0.1).
    """
    e = _check_nmes(nmes, threshold)
    t = float(threshold)
    return np.float64(np.mean(np.maximum(0.0, t - e)) / t)


def summarize(nmes: Any, thresholds: tuple[float, ...] = (0.08, 0.10)) -> dict[str, float]:
    """Mean NME, FR@t and AUC@t for each threshold, all fractions, for tables.

    Keys: ``"n"`` (number of images), ``"nme"``, and ``"fr@{t:g}"``,
    ``"auc@{t:g}"`` per threshold (e.g. ``"fr@0.08"``, ``"auc@0.1"``).
    """
    e = _check_nmes(nmes, 1.0)
    out: dict[str, float] = {"n": int(e.size), "nme": float(np.mean(e))}
    for t in thresholds:
        out[f"fr@{float(t):g}"] = float(failure_rate(e, t))
        out[f"auc@{float(t):g}"] = float(auc(e, t))
    return out
