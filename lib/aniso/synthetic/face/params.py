"""What fixes one face: :class:`FaceParams` (shape coefficients, pose, camera, placement)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["IDENTITY_MODES", "EXPRESSION_MODES", "ASYMMETRY_MODES", "FaceParams", "mirror_params"]

IDENTITY_MODES = (
    "face_width", "face_height", "jaw_width", "chin_length", "eye_spacing", "eye_size",
    "nose_length", "nose_width", "nose_depth", "mouth_width", "brow_height", "lip_thickness",
)
EXPRESSION_MODES = ("mouth_open", "smile", "brow_raise", "eye_closure")
ASYMMETRY_MODES = ("eye_tilt", "mouth_shift")


@dataclass(frozen=True)
class FaceParams:
    """Everything that fixes one face's landmarks.

    Attributes:
        identity: 12 coefficients of :data:`IDENTITY_MODES`, ~N(0, 1) (each
            unit is a plausible one-sd change, a few mm).
        expression: 4 coefficients of :data:`EXPRESSION_MODES` in [0, 1].
        asymmetry: 2 coefficients of :data:`ASYMMETRY_MODES`, ~N(0, 1).
        gaze: pupil offset (x, y) as fractions of the eye's width and height.
        brow_thickness: eyebrow thickness at its inner end, mm.
        hairline: height of the hairline above the top jaw points, as a
            fraction of the forehead's height (drawing only).
        yaw, pitch, roll: degrees (:func:`~aniso.synthetic.face.geometry.rotation_matrix`
            for the signs).
        distance: camera distance to the model origin, mm (perspective).
        scale: pixels per mm at the model origin.
        cx, cy: pixel position of the model origin (0-based pixels).
    """

    identity: tuple = (0.0,) * len(IDENTITY_MODES)
    expression: tuple = (0.0,) * len(EXPRESSION_MODES)
    asymmetry: tuple = (0.0,) * len(ASYMMETRY_MODES)
    gaze: tuple = (0.0, 0.0)
    brow_thickness: float = 8.0
    hairline: float = 0.85
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 700.0
    scale: float = 0.5
    cx: float = 63.5
    cy: float = 63.5

    def __post_init__(self) -> None:
        for name, n in (("identity", len(IDENTITY_MODES)), ("expression", len(EXPRESSION_MODES)),
                        ("asymmetry", len(ASYMMETRY_MODES)), ("gaze", 2)):
            value = tuple(float(v) for v in np.asarray(getattr(self, name), dtype=float).ravel())
            if len(value) != n or not all(math.isfinite(v) for v in value):
                raise ValueError(f"FaceParams.{name}: expected {n} finite values, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        if not self.distance > 200.0:
            raise ValueError(f"FaceParams.distance must exceed 200 mm (the face's own depth), got {self.distance}")
        if not self.scale > 0:
            raise ValueError(f"FaceParams.scale must be positive (pixels per mm), got {self.scale}")
        if not 0.3 <= self.hairline <= 1.0:
            raise ValueError(f"FaceParams.hairline must be in [0.3, 1], got {self.hairline}")
        if not 0.0 <= self.brow_thickness <= 30.0:
            raise ValueError(f"FaceParams.brow_thickness must be in [0, 30] mm, got {self.brow_thickness}")


def mirror_params(params: FaceParams, width: float) -> FaceParams:
    """The parameters of the horizontally mirrored face in an image ``width`` pixels wide.

    Symmetric modes stay; yaw, roll, gaze x and the antisymmetric modes change
    sign; the image position is mirrored (``x -> width - 1 - x``).
    """
    return replace(
        params,
        asymmetry=tuple(-a for a in params.asymmetry),
        gaze=(-params.gaze[0], params.gaze[1]),
        yaw=-params.yaw,
        roll=-params.roll,
        cx=(width - 1.0) - params.cx,
    )
