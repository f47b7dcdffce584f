"""Rotations, splines as matrices, and the perspective camera of the face model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["rotation_matrix", "spline_basis", "Camera"]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` for angles in degrees.

    Signs (x right, y down, z away from the viewer): yaw > 0 turns the nose
    toward the image's right, pitch > 0 lifts the nose, roll > 0 turns the
    face clockwise in the image. In scipy's right-handed convention these are
    the intrinsic rotations Z(roll), X(-pitch), Y(-yaw).
    """
    return Rotation.from_euler("ZXY", [roll, -pitch, -yaw], degrees=True).as_matrix()


def spline_basis(n_ctrl: int, params) -> np.ndarray:
    """``(len(params), n_ctrl)`` weights of a natural cubic spline through ``n_ctrl`` points.

    The spline is parameterised by the control-point index (knots 0 .. n_ctrl - 1);
    row r gives the point at ``params[r]`` as a weighted sum of the controls
    (a spline is linear in its data). Uniform knots make the curve of a
    reversed control list the reversed curve, which keeps mirrored faces
    consistent. Natural end conditions (zero second derivative); two controls
    give the straight segment.
    """
    t = np.asarray(params, dtype=float).ravel()
    n = int(n_ctrl)
    if n < 2:
        raise ValueError(f"spline_basis: need at least 2 control points, got {n}")
    if n == 2:
        return np.stack([1.0 - t, t], axis=1)
    # Second derivatives m (n x n, one column per control): m_0 = m_{n-1} = 0 and
    # m_{i-1} + 4 m_i + m_{i+1} = 6 (y_{i-1} - 2 y_i + y_{i+1}) inside.
    a = np.zeros((n, n))
    rhs = np.zeros((n, n))
    a[0, 0] = a[-1, -1] = 1.0
    for i in range(1, n - 1):
        a[i, i - 1 : i + 2] = (1.0, 4.0, 1.0)
        rhs[i, i - 1 : i + 2] = (6.0, -12.0, 6.0)
    m = np.linalg.solve(a, rhs)
    seg = np.clip(np.floor(t).astype(int), 0, n - 2)
    u = (t - seg)[:, None]
    eye = np.eye(n)
    return ((1.0 - u) * eye[seg] + u * eye[seg + 1]
            + ((1.0 - u) ** 3 - (1.0 - u)) * m[seg] / 6.0 + (u**3 - u) * m[seg + 1] / 6.0)


@dataclass(frozen=True)
class Camera:
    """Pose plus perspective projection of model points (mm) to pixels.

    ``rotation``: (3, 3) matrix applied to model points; ``distance``: camera
    distance to the model origin, mm; ``scale``: pixels per mm at the origin;
    ``centre``: (2,) pixel position of the origin.
    """

    rotation: np.ndarray
    distance: float
    scale: float
    centre: np.ndarray

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(xy, z)``: pixels ``(..., 2)`` and camera-frame depth ``(...)`` in mm of ``(..., 3)`` model points."""
        cam = points @ self.rotation.T
        zc = cam[..., 2]
        d = self.distance
        return cam[..., :2] * (d / (zc + d))[..., None] * self.scale + self.centre, zc

    def project_parts(self, parts: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Project named ``(n_k, 3)`` point sets in one pass; ``(xy by name, depth by name)``.

        All points go through one matrix product, in the order of ``parts``.
        """
        names = list(parts)
        xy, z = self.project(np.concatenate([parts[k] for k in names]))
        out_xy, out_z, start = {}, {}, 0
        for k in names:
            n = len(parts[k])
            out_xy[k], out_z[k] = xy[start:start + n], z[start:start + n]
            start += n
        return out_xy, out_z
