"""Error geometry: per-point covariances and their spread along vs across contours.

Figure 1 draws each point's ASSUMED error ellipse (``W_i^-1``, long axis
along the contour) and, beside it, the OBSERVED covariance of residuals
(a model's predictions, or the synthetic labels' noise, minus the truth). To
pool faces of different size and pose, residuals are expressed in a
normalised frame: divided by the face's normalising distance and rotated so
that the line between the outer eye corners is horizontal.
"""

from __future__ import annotations

import numpy as np

from .topology import Scheme, as_scheme

__all__ = ["assumed_covariances", "normalised_residuals", "point_covariances", "tangents", "along_across",
           "mean_shape_normalised"]


def tangents(shapes: np.ndarray, scheme: Scheme) -> np.ndarray:
    """Unit tangents ``(..., N, 2)`` from each point's two neighbours (zero where there is none)."""
    t = scheme.unit_tangents(shapes)
    t[..., ~scheme.has_tangent, :] = 0.0
    return t


def assumed_covariances(shape: np.ndarray, scheme: Scheme | str, a: float, b: float) -> np.ndarray:
    """``(N, 2, 2)`` covariances ``S_i = W_i^-1``: ``a^2 t t^T + b^2 (I - t t^T)``, identity at corners."""
    scheme = as_scheme(scheme)
    t = tangents(shape, scheme)
    tt = t[:, :, None] * t[:, None, :]
    eye = np.broadcast_to(np.eye(2), tt.shape)
    cov = a**2 * tt + b**2 * (eye - tt)
    cov[~scheme.has_tangent] = np.eye(2)
    return cov


def _frames(gt: np.ndarray, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """Per face: rotation (M, 2, 2) that levels the outer eye corners, and scale 1/d (M,)."""
    i, j = scheme.ocular
    v = gt[:, j] - gt[:, i]
    d = np.linalg.norm(v, axis=-1)
    if np.any(d <= 0):
        raise ValueError(f"normalised_residuals: face {int(np.argmin(d))} has coinciding outer eye corners")
    c, s = v[:, 0] / d, v[:, 1] / d
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # rotates v onto +x
    return rot, 1.0 / d


def normalised_residuals(pred: np.ndarray, gt: np.ndarray, scheme: Scheme | str) -> np.ndarray:
    """``(M, N, 2)`` residuals ``pred - gt`` in units of the inter-ocular distance, eyes levelled."""
    scheme = as_scheme(scheme)
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[1:] != (scheme.n_points, 2):
        raise ValueError(f"normalised_residuals: expected two (M, {scheme.n_points}, 2) arrays, "
                         f"got {pred.shape} and {gt.shape}")
    rot, inv_d = _frames(gt, scheme)
    r = (pred - gt) @ np.swapaxes(rot, -1, -2)
    return r * inv_d[:, None, None]


def mean_shape_normalised(gt: np.ndarray, scheme: Scheme | str) -> np.ndarray:
    """Mean shape in the same frame: eye-corner midpoint at 0, eyes level, inter-ocular distance 1."""
    scheme = as_scheme(scheme)
    gt = np.asarray(gt, float)
    rot, inv_d = _frames(gt, scheme)
    i, j = scheme.ocular
    centre = (gt[:, i] + gt[:, j]) / 2
    z = (gt - centre[:, None]) @ np.swapaxes(rot, -1, -2)
    return (z * inv_d[:, None, None]).mean(axis=0)


def point_covariances(residuals: np.ndarray) -> np.ndarray:
    """``(N, 2, 2)`` covariance of each point's residuals over ``M`` faces (``(M, N, 2)`` in)."""
    r = np.asarray(residuals, float)
    if r.ndim != 3 or r.shape[-1] != 2 or r.shape[0] < 2:
        raise ValueError(f"point_covariances: expected (M >= 2, N, 2) residuals, got {r.shape}")
    c = r - r.mean(axis=0, keepdims=True)
    return np.einsum("mni,mnj->nij", c, c) / (r.shape[0] - 1)


def along_across(covs: np.ndarray, shape: np.ndarray, scheme: Scheme | str) -> dict:
    """Spread of the errors along and across the contour at every contour point.

    Returns ``along`` and ``across`` standard deviations ``(N,)`` (NaN where the
    point has no tangent) and ``ratio``: the median over contour points of
    along/across, > 1 when errors really spread along the contours.
    """
    scheme = as_scheme(scheme)
    t = tangents(shape, scheme)
    n = np.stack([-t[:, 1], t[:, 0]], -1)
    along = np.sqrt(np.einsum("ni,nij,nj->n", t, covs, t))
    across = np.sqrt(np.einsum("ni,nij,nj->n", n, covs, n))
    along[~scheme.has_tangent] = np.nan
    across[~scheme.has_tangent] = np.nan
    ok = scheme.has_tangent & (across > 0)
    ratio = float(np.median(along[ok] / across[ok])) if ok.any() else float("nan")
    return {"along": along, "across": across, "ratio": ratio}


def ratio_interval(residuals: np.ndarray, shape: np.ndarray, scheme: Scheme | str, n_boot: int = 300,
                   seed: int = 0) -> tuple[float, float, float]:
    """Median along/across ratio of the residuals' covariances and its 95% bootstrap interval over faces.

    ``residuals``: ``(M, N, 2)``, or ``(R, M, N, 2)`` for R runs on the same M
    faces: then whole faces are resampled (all R runs of a chosen face
    together), since runs on one face share its labels and difficulty.
    """
    from scipy.stats import bootstrap  # heavy (scipy): loaded where it is used  # noqa: PLC0415

    scheme = as_scheme(scheme)
    r = np.asarray(residuals, float)
    if r.ndim == 3:
        r = r[None]

    def ratio(faces: np.ndarray) -> float:
        pick = r[:, np.asarray(faces, dtype=np.int64)]
        return along_across(point_covariances(pick.reshape(-1, *r.shape[2:])), shape, scheme)["ratio"]

    faces = np.arange(r.shape[1])
    res = bootstrap((faces,), ratio, n_resamples=n_boot, vectorized=False, method="percentile",
                    confidence_level=0.95, rng=np.random.default_rng(seed))
    return ratio(faces), float(res.confidence_interval.low), float(res.confidence_interval.high)
