"""Self-occlusion of the 19 AFLW points (occluders in front of the face are the generator's business)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FAR_NOSTRIL_YAW", "FAR_MOUTH_CORNER_YAW", "aflw_visible", "aflw_depths"]

#: |yaw| (degrees) past which the far-side nostril hides behind the nose tip.
FAR_NOSTRIL_YAW = 50.0
#: |yaw| (degrees) past which the far mouth corner hides behind the lips.
FAR_MOUTH_CORNER_YAW = 65.0


def aflw_visible(lm19: np.ndarray, depth19: np.ndarray, outline: np.ndarray, nose_hull: np.ndarray,
                 nose_z: float, yaw: float) -> np.ndarray:
    """``(19,)`` bool: AFLW points not hidden by the face itself.

    Hidden: a brow or eye point (0-11) outside the visible ``outline`` polygon
    (turned behind the face) or, when deeper than ``nose_z + 5`` mm, inside the
    nose's silhouette ``nose_hull``; the far-side nostril past
    :data:`FAR_NOSTRIL_YAW` and the far mouth corner past
    :data:`FAR_MOUTH_CORNER_YAW`. ``lm19``: pixels; ``depth19``: camera-frame
    depth of each point, mm; ``yaw``: degrees.
    """
    vis = np.ones(19, dtype=bool)
    poly = outline.astype(np.float32).reshape(-1, 1, 2)
    hull = nose_hull.astype(np.float32).reshape(-1, 1, 2)
    tol = 0.01 * float(np.ptp(outline[:, 0]) + 1e-9)
    # Brows and eyes sit on the skin: outside the visible outline they have turned away.
    for i in range(12):
        pt = (float(lm19[i, 0]), float(lm19[i, 1]))
        if cv2.pointPolygonTest(poly, pt, True) < -tol:
            vis[i] = False
        elif depth19[i] > nose_z + 5.0 and cv2.pointPolygonTest(hull, pt, True) > tol:
            vis[i] = False
    # The nose and lips stand out of the outline; their far-side points hide
    # behind the nose tip or the lips themselves past a yaw threshold.
    if yaw > FAR_NOSTRIL_YAW:
        vis[14] = False
    elif yaw < -FAR_NOSTRIL_YAW:
        vis[12] = False
    if yaw > FAR_MOUTH_CORNER_YAW:
        vis[17] = False
    elif yaw < -FAR_MOUTH_CORNER_YAW:
        vis[15] = False
    return vis


def aflw_depths(z68: np.ndarray, z_centres: np.ndarray, z_brow19: np.ndarray) -> np.ndarray:
    """Depths (mm) of the 19 AFLW points from those of the 68 points, the eye centres and the AFLW brow points."""
    return np.r_[z_brow19, z68[36], z_centres[0], z68[39], z68[42], z_centres[1], z68[45], z68[[31, 30, 35]],
                 z68[48], (z68[62] + z68[66]) / 2, z68[54], z68[8]]
