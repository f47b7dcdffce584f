"""The parametric face: :class:`FaceModel` turns :class:`FaceParams` into a :class:`ProjectedFace`.

Pose conventions (what the truth file stores): ``R = Rz(roll) Rx(pitch)
Ry(yaw)`` applied to model points. Yaw > 0 turns the nose toward the image's
right; pitch > 0 lifts the nose (the face looks up); roll > 0 turns the face
clockwise in the image. Mirroring the image maps (yaw, pitch, roll) to (-yaw,
pitch, -roll).

Projection: the 68 model points (:mod:`.shape`) and every curve sampled from
them (:mod:`.features`, :mod:`.surface`) are posed and projected by a
perspective camera at ``distance`` mm (:class:`~.geometry.Camera`), then the
outline's self-occlusion is resolved (:func:`~.surface.silhouette`) and the
landmarks of the three schemes are read off the projected curves.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .curves import N_JAW_DENSE, N_ROW, CurveBases
from .features import brows3d, eyes3d, head3d, lips3d, nose3d
from .geometry import Camera, rotation_matrix
from .meanface import load_face3d
from .params import FaceParams
from .projected import ProjectedFace, Visibility, assemble_features, assemble_head, assemble_landmarks
from .shape import ShapeModel
from .surface import face_surface, hairline_curve, silhouette
from .visibility import aflw_depths, aflw_visible

__all__ = ["FaceModel", "default_model"]

# Surface samples whose normal's camera z is below this face the camera (shading samples).
_FACING = -0.05


class FaceModel:
    """The parametric face built on a ``(68, 3)`` mean face in mm (default: the package's own)."""

    def __init__(self, points: np.ndarray | None = None):
        self.shape = ShapeModel(load_face3d() if points is None else points)
        self.bases = CurveBases.build()

    @property
    def base(self) -> np.ndarray:
        """The symmetrised, mouth-closed mean shape (68, 3), mm."""
        return self.shape.base

    def shape3d(self, params: FaceParams) -> np.ndarray:
        """The face's 68 model points (mm, before the pose)."""
        return self.shape.shape3d(params)

    def project(self, params: FaceParams) -> ProjectedFace:
        """Pose and project a face: landmarks of all three schemes, visibility and drawing geometry."""
        X = self.shape3d(params)
        camera = Camera(rotation_matrix(params.yaw, params.pitch, params.roll), float(params.distance),
                        float(params.scale), np.array([params.cx, params.cy]))
        surface = face_surface(X, self.bases.jaw)
        parts = {"rows": surface.rows.reshape(-1, 3)}
        parts.update(brows3d(X, params.brow_thickness, self.bases))
        parts.update(eyes3d(X, params.gaze, self.bases))
        parts.update(nose3d(X, self.bases))
        parts.update(lips3d(X, self.bases))
        parts.update(head3d(X, surface.half_width, surface.forehead_height, surface.top_y))
        parts["lm68"] = X
        xy, z = camera.project_parts(parts)

        horizontal = np.array([math.cos(math.radians(params.roll)), math.sin(math.radians(params.roll))])
        outline, hidden = silhouette(xy["rows"].reshape(len(surface.edges), N_ROW, 2), surface, horizontal,
                                     camera.scale)
        landmarks = assemble_landmarks(xy, outline[:N_JAW_DENSE])
        head = assemble_head(xy, z, outline, N_JAW_DENSE, hairline_curve(params.hairline, surface, camera),
                             self._shading(surface, camera, xy["rows"]))
        brows, eyes, nose, lips = assemble_features(xy, z)
        z68 = z["lm68"]
        visible19 = aflw_visible(landmarks.lm19, aflw_depths(z68, z["centres"], z["brow19"]), outline, nose.fill,
                                 float(z68[[28, 29, 30]].mean()), params.yaw)
        # Frontal-equivalent scale: pixels per mm at the face's depth (no foreshortening).
        mm_to_px = camera.scale * camera.distance / (camera.distance + float(np.mean(z68)))
        return ProjectedFace(
            params=params, landmarks=landmarks, visibility=Visibility(visible19, hidden[:N_JAW_DENSE]), head=head,
            brows=brows, eyes=eyes, nose=nose, lips=lips, mm_to_px=mm_to_px,
            iod_px=mm_to_px * float(np.linalg.norm(X[36] - X[45])), horizontal=horizontal,
        )

    @staticmethod
    def _shading(surface, camera: Camera, rows2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Surface samples facing the camera: (pixels (K, 2), unit normals (K, 3) in the camera frame)."""
        n_cam = surface.normals.reshape(-1, 3) @ camera.rotation.T
        facing = n_cam[:, 2] < _FACING
        return rows2d[facing], n_cam[facing]


@lru_cache(maxsize=1)
def default_model() -> FaceModel:
    """The face model on the package's mean face (built once per process)."""
    return FaceModel()
