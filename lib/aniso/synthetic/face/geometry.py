"""Rotations, splines as matrices, and the perspective camera of the face model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
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
    (a spline is linear in its data, so the weights are the splines through
    the unit vectors). Uniform knots make the curve of a reversed control list
    the reversed curve, which keeps mirrored faces consistent. Natural end
    conditions (zero second derivative); two controls give the straight segment.
    """
    t = np.asarray(params, dtype=float).ravel()
    n = int(n_ctrl)
    if n < 2:
        raise ValueError(f"spline_basis: need at least 2 control points, got {n}")
    return CubicSpline(np.arange(n, dtype=float), np.eye(n), bc_type="natural")(t)


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
