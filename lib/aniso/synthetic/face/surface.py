"""The face's outline: cross-sections of the face surface and the self-occlusion of the contour.

Each contour point (the jaw, sampled densely, and a forehead arc above it) is
the end of a horizontal cross-section of the face surface,
``z(s) = zm + (z_edge - zm) * s**p`` for ``s`` in [0, 1] from the midline to
the edge. After posing, the visible outline at that height is the
cross-section point that lies farthest out in the image along the face's
horizontal direction; when that is not the contour point itself (the edge has
turned behind the face) the label moves to it, as annotators of 300W and WFLW
mark the visible outline. The depth profiles (flat front, sharp turn at the
temples, rounder lower face) put the onset, for the mean face at 700 mm, at
about 18-22 degrees of yaw for the top jaw points (the temples turn away
first), 23-28 degrees for the lower jaw and 43 degrees next to the chin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .curves import JAW_STEP, N_FOREHEAD, N_JAW_DENSE, N_ROW
from .geometry import Camera

__all__ = ["Surface", "face_surface", "silhouette", "hairline_curve"]

# Midline depth (mm) of the face surface at the height of jaw knots 0..7 (knot 8,
# the chin, takes its own depth). The nose and lips stand in front of it.
_ZM_KNOTS = np.array([-13.0, -14.0, -16.0, -19.0, -20.0, -16.0, -11.0, -5.0])
# Exponent of the cross-section profile at jaw knots 0..8: a flat front that
# turns back sharply near the temples (high p) and a rounder lower face (p = 2).
# These set the yaw at which each contour point starts to hide (module doc).
_P_KNOTS = np.array([3.0, 2.8, 2.5, 2.2, 2.0, 2.0, 2.0, 2.0, 2.0])
_P_FOREHEAD = 3.0
# Depth of the forehead outline's edge (mm): the temples, well in front of the
# ears where the top jaw point sits.
_Z_TEMPLE = 26.0
# Forehead height above the top jaw points, as a fraction of the half width.
_FOREHEAD_RATIO = 0.92
_T_DENSE = np.arange(N_JAW_DENSE) / JAW_STEP      # jaw knot of each dense jaw sample
_S = np.linspace(0.0, 1.0, N_ROW)                 # position along a cross-section, midline to edge


@dataclass(frozen=True)
class Surface:
    """Cross-sections of the face surface in the model frame (mm).

    ``edges``: (E, 3) contour points, the 65 dense jaw samples then the
    N_FOREHEAD forehead samples (image-right to image-left); ``rows``:
    (E, N_ROW, 3) cross-section samples from the midline to each edge;
    ``normals``: (E, N_ROW, 3) unit surface normals pointing at the viewer.
    ``half_width``: half the distance between the top jaw points;
    ``forehead_height``: height of the forehead arc; ``top_y``: y of the top
    jaw points.
    """

    edges: np.ndarray
    rows: np.ndarray
    normals: np.ndarray
    half_width: float
    forehead_height: float
    top_y: float


def _forehead(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Forehead arc over the top, image-right top jaw point back to the left one: (points, midline z, a, bh, y0)."""
    a = (X[16, 0] - X[0, 0]) / 2.0
    bh = _FOREHEAD_RATIO * a
    y0 = (X[0, 1] + X[16, 1]) / 2.0
    phi = np.linspace(0.0, np.pi, N_FOREHEAD + 2)[1:-1]
    fx = a * np.cos(phi)                                                  # +a -> -a
    fy = y0 - bh * np.sin(phi)
    height = (y0 - fy) / bh
    fzm = _ZM_KNOTS[0] + 12.0 * height**2.5
    ramp = np.clip(height / 0.3, 0.0, 1.0)
    fze_side = X[0, 2] + (_Z_TEMPLE - X[0, 2]) * ramp
    fze = fzm + (fze_side - fzm) * np.abs(np.cos(phi)) ** 0.7
    return np.stack([fx, fy, fze], axis=1), fzm, a, bh, y0


def face_surface(X: np.ndarray, jaw_basis: np.ndarray) -> Surface:
    """The cross-sections under the dense jaw (``jaw_basis @ X[:17]``) and the forehead arc of 68 points ``X``."""
    jaw = jaw_basis @ X[:17]                                              # (65, 3)
    zm_knots = np.r_[_ZM_KNOTS, X[8, 2], _ZM_KNOTS[::-1]]
    p_knots = np.r_[_P_KNOTS, _P_KNOTS[-2::-1]]
    zm = np.interp(_T_DENSE, np.arange(17), zm_knots)
    pj = np.interp(_T_DENSE, np.arange(17), p_knots)
    fore, fzm, a, bh, y0 = _forehead(X)
    edges = np.concatenate([jaw, fore])
    ezm = np.r_[zm, fzm]
    ep = np.r_[pj, np.full(N_FOREHEAD, _P_FOREHEAD)]
    s = _S
    sp = s[None, :] ** ep[:, None]
    rows = np.empty((len(edges), N_ROW, 3))
    rows[..., 0] = s[None, :] * edges[:, None, 0]
    rows[..., 1] = edges[:, None, 1]
    rows[..., 2] = ezm[:, None] + (edges[:, None, 2] - ezm[:, None]) * sp
    # Surface normals (face frame, pointing at the viewer): (dz/dx, dz/dy, -1).
    dzds = (edges[:, None, 2] - ezm[:, None]) * ep[:, None] * s[None, :] ** np.maximum(ep[:, None] - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dzdx = np.where(np.abs(edges[:, None, 0]) > 1e-6, dzds / edges[:, None, 0], 0.0)
    dzdy = np.gradient(rows[..., 2], axis=0) / np.where(
        np.abs(np.gradient(rows[..., 1], axis=0)) > 1e-6, np.gradient(rows[..., 1], axis=0), 1e6)
    normals = np.stack([dzdx, np.clip(dzdy, -3, 3), -np.ones_like(dzdx)], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    return Surface(edges=edges, rows=rows, normals=normals, half_width=a, forehead_height=bh, top_y=y0)


def silhouette(rows2d: np.ndarray, surface: Surface, horizontal: np.ndarray,
               scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The visible outline: ``(points (E, 2) pixels, hidden (E,) bool)`` from projected cross-sections.

    ``rows2d``: (E, N_ROW, 2) projected cross-section samples; ``horizontal``:
    (2,) image direction of the face's x axis; ``scale``: pixels per mm. Per
    section, the sample farthest out along ``horizontal`` (signed by the
    side), refined to sub-sample precision by a parabola; ``hidden`` marks
    the sections whose edge point is not that sample (turned behind the face).
    """
    edges, a = surface.edges, surface.half_width
    h = horizontal
    side = np.sign(np.where(np.abs(edges[:, 0]) > 1e-6 * a, edges[:, 0], 0.0))
    u_out = (rows2d @ h) * side[:, None]
    k_best = np.argmax(u_out, axis=1)
    tol = 1e-9 * scale * a
    hidden = (k_best < N_ROW - 1) & (u_out[np.arange(len(edges)), k_best] > u_out[:, -1] + tol) & (side != 0)
    vis2d = rows2d[:, -1].copy()
    if hidden.any():
        idx = np.flatnonzero(hidden)
        kb = np.clip(k_best[idx], 1, N_ROW - 2)
        um, u0, up = u_out[idx, kb - 1], u_out[idx, kb], u_out[idx, kb + 1]
        den = um - 2.0 * u0 + up
        delta = np.where(np.abs(den) > 1e-12, 0.5 * (um - up) / np.where(den == 0, 1.0, den), 0.0)
        delta = np.clip(delta, -0.5, 0.5)
        lo_k = np.where(delta < 0, kb - 1, kb)
        frac = np.where(delta < 0, 1.0 + delta, delta)
        p0 = rows2d[idx, lo_k]
        p1 = rows2d[idx, lo_k + 1]
        vis2d[idx] = p0 + frac[:, None] * (p1 - p0)
    return vis2d, hidden


def hairline_curve(frac: float, surface: Surface, camera: Camera) -> np.ndarray:
    """Projected hairline (21, 2) pixels across the forehead, image-left to right: a row of its surface.

    ``frac``: height above the top jaw points as a fraction of the forehead's height.
    """
    a, bh, y0 = surface.half_width, surface.forehead_height, surface.top_y
    yh = y0 - frac * bh
    xs = np.linspace(-1.0, 1.0, 21)
    half = a * math.sqrt(max(1.0 - ((y0 - yh) / bh) ** 2, 0.05))
    zm = _ZM_KNOTS[0] + 12.0 * ((y0 - yh) / bh) ** 2.5
    ze = _Z_TEMPLE
    pts = np.stack([xs * half, yh + 4.0 * (1.0 - xs**2), zm + (ze - zm) * np.abs(xs) ** _P_FOREHEAD], axis=1)
    return camera.project(pts)[0]
