"""The face's 68 model points before the pose: mean shape plus identity, asymmetry and expression modes.

A face is the (symmetrised, mouth-closed) mean shape plus

* 12 identity modes (mirror symmetric, coefficients ~ N(0, 1)): face width and
  height, jaw width, chin length, eye spacing and size, nose length, width and
  depth, mouth width, brow height, lip thickness;
* 2 antisymmetric modes (one eye higher, mouth shifted sideways), which change
  sign under mirroring;
* 4 expression modes (coefficients in [0, 1]): mouth open, smile, brow raise,
  eye closure.

All displacements are in millimetres per unit coefficient.
"""

from __future__ import annotations

import numpy as np

from .meanface import symmetrise
from .params import IDENTITY_MODES, FaceParams

__all__ = ["JAW", "BROWS", "NOSE", "EYES", "MOUTH", "ShapeModel"]

# Index groups of the 68-point markup (0-based).
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)


def close_mouth(base: np.ndarray) -> np.ndarray:
    """Put the inner upper and lower lip together (the csv's mouth is slightly open)."""
    b = base.copy()
    for up, lo in ((61, 67), (62, 66), (63, 65)):
        mid = (b[up] + b[lo]) / 2.0
        b[up] = mid
        b[lo] = mid
    return b


def identity_modes(b: np.ndarray) -> np.ndarray:
    """``(12, 68, 3)`` displacement (mm) per unit coefficient, each mirror symmetric."""
    n = len(IDENTITY_MODES)
    d = np.zeros((n, 68, 3))
    x, y = b[:, 0], b[:, 1]
    sx = np.sign(x)
    eye_y = b[EYES, 1].mean()
    lower = np.clip((b[JAW, 1] - 0.0) / (b[8, 1] - 0.0), 0.0, 1.0)
    d[0, :, 0] = 0.06 * x                                     # face width
    d[1, :, 1] = 0.06 * (y - eye_y)                           # face height
    d[2, JAW, 0] = 0.09 * x[JAW] * lower                      # jaw width
    d[3, JAW, 1] = 5.0 * lower**2                             # chin length
    d[3, MOUTH, 1] = 1.0
    d[4, EYES, 0] = 2.5 * sx[EYES]                            # eye spacing
    d[4, BROWS, 0] = 1.2 * sx[BROWS]
    for eye in (np.arange(36, 42), np.arange(42, 48)):        # eye size
        c = b[eye].mean(axis=0)
        d[5, eye, :2] = 0.12 * (b[eye, :2] - c[:2])
    d[6, [28, 29, 30], 1] = [1.3, 2.6, 3.6]                   # nose length
    d[6, 31:36, 1] = 3.6
    d[6, 30, 2] = -1.5
    d[7, 31:36, 0] = 0.14 * x[31:36]                          # nose width
    d[8, [28, 29, 30, 32, 33, 34], 2] = [-1.5, -3.0, -4.0, -1.5, -2.0, -1.5]  # nose depth
    d[9, MOUTH, 0] = 0.09 * x[MOUTH]                          # mouth width
    d[10, BROWS, 1] = -3.0                                    # brow height
    d[11, [49, 50, 51, 52, 53], 1] = [-0.8, -1.3, -1.5, -1.3, -0.8]  # lip thickness
    d[11, [55, 56, 57, 58, 59], 1] = [1.0, 1.6, 1.8, 1.6, 1.0]
    return d


def asymmetry_modes(b: np.ndarray) -> np.ndarray:
    """``(2, 68, 3)`` antisymmetric displacements (change sign under mirroring)."""
    d = np.zeros((2, 68, 3))
    sx = np.sign(b[:, 0])
    side = np.r_[EYES, BROWS]
    d[0, side, 1] = 1.5 * sx[side]                            # one eye higher
    d[1, MOUTH, 0] = 1.5                                      # mouth shifted
    d[1, [30, 33], 0] = 0.7
    d[1, [8], 0] = 1.0
    return d


def apply_expression(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Apply mouth open, smile, brow raise and eye closure (each symmetric) to 68 points."""
    mouth_open, smile, brow_raise, closure = e
    x = x.copy()
    sx = np.sign(x[:, 0])
    # Smile: corners up and out, the lips stretch with them.
    if smile:
        w = np.zeros(68)
        w[[48, 54, 60, 64]] = 1.0
        w[[49, 53, 55, 59, 61, 63, 65, 67]] = 0.45
        w[[50, 52, 56, 58]] = 0.15
        x[:, 0] += smile * 4.0 * w * sx
        x[:, 1] -= smile * 4.5 * w
        x[[41, 40, 46, 47], 1] -= smile * 1.2                 # cheeks push the lower lids up
    # Mouth open: lower lip and chin drop, corners narrow a little.
    if mouth_open:
        gap = 22.0 * mouth_open
        w = np.zeros(68)
        w[[56, 57, 58, 65, 66, 67]] = 1.0
        w[[55, 59]] = 0.8
        w[[48, 54, 60, 64]] = 0.35
        x[:, 1] += gap * w
        x[MOUTH, 0] *= 1.0 - 0.06 * mouth_open
        lower = np.clip(x[JAW, 1] / max(x[8, 1], 1e-6), 0.0, 1.0)
        x[JAW, 1] += 0.85 * gap * lower**2
        x[JAW, 2] += 0.15 * gap * lower**2
    # Brow raise: brows up (inner ends a little more), upper lids open.
    if brow_raise:
        x[BROWS, 1] -= brow_raise * np.where(np.isin(BROWS, (20, 21, 22, 23)), 7.5, 6.0)
        x[[37, 38, 43, 44], 1] -= brow_raise * 1.0
    # Eye closure: upper lid moves onto the lower lid.
    if closure:
        c = min(float(closure), 1.0)
        for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
            x[up] = x[up] + c * (x[lo] - x[up])
    return x


class ShapeModel:
    """Mean shape and modes; :meth:`shape3d` gives a face's 68 model points (mm, before the pose).

    ``points``: the ``(68, 3)`` mean face (mm). It is averaged with its mirror
    image so that a mirrored face is exactly the face with mirrored
    parameters, and its slightly open mouth is closed.
    """

    def __init__(self, points: np.ndarray):
        base = np.asarray(points, dtype=float)
        if base.shape != (68, 3):
            raise ValueError(f"ShapeModel: expected (68, 3) mean-face points, got {base.shape}")
        self.base = close_mouth(symmetrise(base))
        self.identity_modes = identity_modes(self.base)
        self.asymmetry_modes = asymmetry_modes(self.base)

    def shape3d(self, params: FaceParams) -> np.ndarray:
        """The face's 68 model points (mm, before pose): mean + identity + asymmetry + expression."""
        x = self.base + np.tensordot(np.asarray(params.identity), self.identity_modes, axes=1)
        x = x + np.tensordot(np.asarray(params.asymmetry), self.asymmetry_modes, axes=1)
        return apply_expression(x, np.clip(np.asarray(params.expression), 0.0, 1.5))
