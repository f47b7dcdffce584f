"""3-D geometry of the facial features, in the model frame (mm, before the pose).

Each builder takes the face's 68 model points ``X`` and returns named point
sets, ``(n, 3)`` arrays, which the model projects in one pass. Landmark
samples (WFLW lids and brows, AFLW brow points, pupils) come from the same
curves as the drawing, so every landmark lies on a drawn feature.
"""

from __future__ import annotations

import numpy as np

from .curves import BROW_LOWER_T, BROW_MID_T, N_CURVE, N_EAR, N_NOSTRIL, N_RING, N_SIDE, CurveBases

__all__ = ["brows3d", "eyes3d", "nose3d", "lips3d", "head3d"]

# The two eyes: outer/first corner, the two upper-lid points, the other corner, the two lower-lid points.
_EYE_POINTS = ((36, (37, 38), 39, (40, 41)), (42, (43, 44), 45, (46, 47)))


def _brow_profile(t: np.ndarray, k: int) -> np.ndarray:
    """Brow thickness factor at knots ``t`` in [0, 1] of brow ``k``: tapered outer tail, blunt inner head."""
    outer_to_inner = t if k == 0 else 1.0 - t
    return 0.25 + 0.75 * np.clip(outer_to_inner / 0.55, 0.0, 1.0) ** 0.8


def brows3d(X: np.ndarray, thickness: float, b: CurveBases) -> dict[str, np.ndarray]:
    """Brows: upper edge through the 68 brow points, lower edge ``thickness`` (mm, at the inner end) below.

    Returns ``brow_up``, ``brow_lo`` (2 x N_CURVE each), ``brow98`` (2 x 9:
    the 5 upper-arc then 4 lower-arc WFLW points) and ``brow19`` (2 x 3: the
    AFLW points on the brow's centre line at its outer end, middle and inner end).
    """
    ups, los, lm98, mids = [], [], [], []
    for k, idx in enumerate((np.arange(17, 22), np.arange(22, 27))):
        ctrl = X[idx]
        up = b.brow @ ctrl
        lo = up + np.outer(thickness * _brow_profile(np.linspace(0.0, 1.0, N_CURVE), k), [0.0, 1.0, 0.0])
        lo[:, 2] += 1.0
        ups.append(up)
        los.append(lo)
        lower_pts = b.brow_lower @ ctrl + np.outer(thickness * _brow_profile(BROW_LOWER_T / 4.0, k), [0.0, 1.0, 0.0])
        lower_pts[:, 2] += 1.0
        lm98.append(np.concatenate([ctrl, lower_pts]))
        mid = b.brow_mid @ ctrl + np.outer(0.5 * thickness * _brow_profile(BROW_MID_T / 4.0, k), [0.0, 1.0, 0.0])
        mids.append(mid)
    return {"brow_up": np.concatenate(ups), "brow_lo": np.concatenate(los),
            "brow98": np.concatenate(lm98), "brow19": np.concatenate(mids)}


def eyes3d(X: np.ndarray, gaze: tuple, b: CurveBases) -> dict[str, np.ndarray]:
    """Eyes: lids corner to corner, WFLW lid points, iris and pupil circles, crease, eye centres.

    Upper lid through the two upper points, lower lid back through the lower
    ones. The pupil sits at the centre of the eye, pushed to the cornea and
    moved by ``gaze`` (fractions of the eye's width and height; in the face
    frame, so mirrored faces mirror it). Returns ``lid_up``, ``lid_lo``,
    ``crease`` (2 x N_CURVE each), ``eye98`` (2 x 8), ``iris``, ``pupil``
    (2 x N_RING each) and ``centres`` (2).
    """
    gx, gy = gaze
    ang = np.linspace(0.0, 2 * np.pi, N_RING, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], axis=1)
    lid_up, lid_lo, lid98, irises, pupils, creases, centres = [], [], [], [], [], [], []
    for first, up2, corner2, lo2 in _EYE_POINTS:
        cu = X[[first, *up2, corner2]]
        cl = X[[corner2, *lo2, first]]
        lid_up.append(b.lid @ cu)
        lid_lo.append(b.lid @ cl)
        lid98.append(np.concatenate([X[[first]], b.lid_points @ cu, X[[corner2]], b.lid_points @ cl]))
        eye = X[[first, *up2, corner2, *lo2]]
        width = abs(X[corner2, 0] - X[first, 0])
        # Eye opening at full (unclosed) lids: from the lids' mean heights.
        height = max(float(np.mean(X[list(lo2), 1]) - np.mean(X[list(up2), 1])), 0.0)
        pupil_c = eye.mean(axis=0) + np.array([gx * width, gy * max(height, 4.0), -2.0])
        centres.append(pupil_c)
        r_iris = 0.21 * width
        irises.append(pupil_c + r_iris * ring)
        pupils.append(pupil_c + 0.42 * r_iris * ring + np.array([0.0, 0.0, -0.2]))
        creases.append(b.lid @ cu + np.array([0.0, -0.22 * width, 1.5]))
    return {"lid_up": np.concatenate(lid_up), "lid_lo": np.concatenate(lid_lo), "eye98": np.concatenate(lid98),
            "iris": np.concatenate(irises), "pupil": np.concatenate(pupils), "crease": np.concatenate(creases),
            "centres": np.asarray(centres)}


def nose3d(X: np.ndarray, b: CurveBases) -> dict[str, np.ndarray]:
    """Nose: ``bridge``, ``nbase`` (N_CURVE each), ``nsides`` (2 x N_CURVE), ``nostrils`` (2 x N_NOSTRIL)
    and ``nose_pts`` (the points whose projected hull is the nose's silhouette)."""
    side_pts = []
    for sgn, alar in ((-1.0, 31), (1.0, 35)):
        top = X[27] + np.array([sgn * 6.0, 4.0, 6.0])
        mid = (X[29] + X[alar]) / 2.0 + np.array([sgn * 2.0, -2.0, 2.0])
        ctrl = np.stack([top, mid, X[alar] + np.array([0.0, -3.0, 0.0])])
        side_pts.append(b.nose_side @ ctrl)
    nost = []
    ang = np.linspace(0.0, 2 * np.pi, N_NOSTRIL, endpoint=False)
    for p, q in ((31, 32), (35, 34)):
        c = 0.45 * X[p] + 0.55 * X[q] + np.array([0.0, -1.2, -1.0])
        # An ellipse in the plane under the nose, tilted 45 degrees toward the viewer.
        ex = np.array([1.0, 0.0, 0.0]) * 0.36 * abs(X[p, 0] - X[q, 0])
        ez = np.array([0.0, -0.7, 0.7]) * 2.4
        nost.append(c + np.outer(np.cos(ang), ex) + np.outer(np.sin(ang), ez))
    return {"bridge": b.bridge @ X[27:31], "nbase": b.nose_base @ X[31:36], "nsides": np.concatenate(side_pts),
            "nostrils": np.concatenate(nost),
            "nose_pts": np.concatenate([X[27:36], X[[39, 42]] * np.array([0.6, 1.0, 1.0])])}


def lips3d(X: np.ndarray, b: CurveBases) -> dict[str, np.ndarray]:
    """Dense lip lines: outer upper 48..54, outer lower 54..59,48; inner upper 60..64, inner lower 64..67,60."""
    return {"lip_ou": b.lip_outer @ X[48:55], "lip_ol": b.lip_outer @ X[[54, 55, 56, 57, 58, 59, 48]],
            "lip_iu": b.lip_inner @ X[60:65], "lip_il": b.lip_inner @ X[[64, 65, 66, 67, 60]]}


def head3d(X: np.ndarray, half_width: float, forehead_height: float, top_y: float) -> dict[str, np.ndarray]:
    """Head behind the face (drawing only): ``neck`` (4), ``head_sides`` (2 x N_SIDE), ``ears`` (2 x N_EAR),
    ``head_top`` (1).

    The sides of the head (seen when the face turns) are half ellipses in the
    side plane from the top jaw point round the back of the head to the jaw
    angle; ``half_width``, ``forehead_height``, ``top_y``: from the face surface (mm).
    """
    hw = 0.45 * half_width
    neck = np.array([[-hw, 25.0, 38.0], [-hw * 1.1, 230.0, 50.0], [hw * 1.1, 230.0, 50.0], [hw, 25.0, 38.0]])
    sides, ears = [], []
    ang = np.linspace(0.0, 2 * np.pi, N_EAR, endpoint=False)
    theta = np.linspace(0.0, np.pi, N_SIDE - 2)
    for sgn, top, angle in ((-1.0, 0, 4), (1.0, 16, 12)):
        jt, ja = X[top], X[angle]
        xs = sgn * 0.97 * abs(jt[0])
        cy_, cz_ = (jt[1] + ja[1]) / 2.0 - 8.0, max(jt[2], ja[2]) + 10.0
        av, ad = (ja[1] - jt[1]) / 2.0 + 22.0, 75.0
        arc = np.stack([np.full_like(theta, xs), cy_ - av * np.cos(theta), cz_ + ad * np.sin(theta)], axis=1)
        sides.append(np.concatenate([jt[None], arc, ja[None]]))
        ctr = np.array([sgn * (abs(jt[0]) + 3.0), jt[1] + 18.0, jt[2] + 14.0])
        ears.append(ctr + np.stack([sgn * 4.0 * np.cos(ang), 30.0 * np.sin(ang), 15.0 * np.cos(ang)], axis=1))
    return {"neck": neck, "head_sides": np.concatenate(sides), "ears": np.concatenate(ears),
            "head_top": np.array([[0.0, top_y - 1.05 * forehead_height, 55.0]])}
