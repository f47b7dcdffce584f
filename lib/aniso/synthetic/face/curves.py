"""How densely the model's curves are sampled, and the spline matrices that sample them.

The 98-point (WFLW) and 19-point (AFLW) shapes are sampled in 3-D, before the
pose, from natural cubic splines through the 68 points in each scheme's order
(:data:`WFLW_FROM_CURVES`), so pose and projection act on them exactly as on
the 68 points. Splines are linear in their control points, so every curve is a
fixed matrix applied to the 68 points (:class:`CurveBases`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import spline_basis

__all__ = ["JAW_STEP", "N_JAW_DENSE", "N_ROW", "N_FOREHEAD", "N_CURVE", "N_SIDE", "N_RING", "N_EAR",
           "N_NOSTRIL", "WFLW_FROM_CURVES", "CurveBases"]

# Dense jaw: every quarter knot (65 samples); the 68 jaw points are every 4th,
# the 33 WFLW contour points every 2nd.
JAW_STEP = 4
N_JAW_DENSE = 16 * JAW_STEP + 1
N_ROW = 40          # samples along one cross-section, midline to edge
N_FOREHEAD = 23     # forehead arc samples between the two top jaw points
N_CURVE = 17        # samples of a brow, lid, lip or nose curve for drawing
N_SIDE = 16         # outline of each side of the head (drawing only)
N_RING = 24         # samples of an iris or pupil circle
N_EAR = 16          # samples of an ear outline
N_NOSTRIL = 12      # samples of a nostril ellipse

# WFLW parameters along the 68-point curves, documented for readers of the code:
# contour k -> jaw knot k / 2; brow upper arc = the 68 brow points (33-37 =
# 17-21 and 42-46 = 22-26, the usual 98->68 correspondence); brow lower arc at
# knots 3.2, 2.4, 1.6, 0.8; eye lids at knots 0.75, 1.5, 2.25 between corners.
WFLW_FROM_CURVES = {
    "contour": "jaw knots 0, 0.5, ..., 16",
    "brow_upper": "68-point brow knots 0..4",
    "brow_lower": "knots 3.2, 2.4, 1.6, 0.8 of the brow's lower edge",
    "eye_lids": "knots 0.75, 1.5, 2.25 of each lid between the corners",
}
BROW_LOWER_T = np.array([3.2, 2.4, 1.6, 0.8])
BROW_MID_T = np.array([0.0, 2.0, 4.0])       # AFLW brow points: outer end, middle, inner end
LID_T = np.array([0.75, 1.5, 2.25])


@dataclass(frozen=True)
class CurveBases:
    """Spline matrices (rows: samples, columns: control points), built once per model.

    ``jaw``: 65 dense jaw samples from the 17 jaw points; ``brow``,
    ``nose_base``, ``lip_inner``: N_CURVE samples through 5 controls;
    ``brow_lower``, ``brow_mid``: the WFLW lower-arc and AFLW brow points;
    ``lid``, ``bridge``: N_CURVE samples through 4 controls; ``lid_points``:
    the WFLW lid points; ``lip_outer``: through 7 controls; ``nose_side``:
    through 3 controls.
    """

    jaw: np.ndarray
    brow: np.ndarray
    brow_lower: np.ndarray
    brow_mid: np.ndarray
    lid: np.ndarray
    lid_points: np.ndarray
    bridge: np.ndarray
    nose_base: np.ndarray
    lip_outer: np.ndarray
    lip_inner: np.ndarray
    nose_side: np.ndarray

    @classmethod
    def build(cls) -> "CurveBases":
        u = np.linspace(0.0, 4.0, N_CURVE)
        t3 = np.linspace(0.0, 3.0, N_CURVE)
        return cls(
            jaw=spline_basis(17, np.arange(N_JAW_DENSE) / JAW_STEP),
            brow=spline_basis(5, u),
            brow_lower=spline_basis(5, BROW_LOWER_T),
            brow_mid=spline_basis(5, BROW_MID_T),
            lid=spline_basis(4, t3),
            lid_points=spline_basis(4, LID_T),
            bridge=spline_basis(4, t3),
            nose_base=spline_basis(5, u),
            lip_outer=spline_basis(7, np.linspace(0.0, 6.0, N_CURVE)),
            lip_inner=spline_basis(5, u),
            nose_side=spline_basis(3, np.linspace(0.0, 2.0, N_CURVE)),
        )
