"""Parametric 3-D face: shape modes, pose, projection, and the 68/98/19-point shapes.

The mean shape is the package's 68-point 3-D face (:mod:`.meanface`). A face
(:class:`FaceParams`) is that shape plus identity, asymmetry and expression
modes (:mod:`.shape`), a pose and a perspective camera; :meth:`FaceModel.project`
gives a :class:`ProjectedFace` with the clean landmarks of the three schemes,
their self-occlusion and the 2-D curves the renderer draws. Conventions for
the pose are in :mod:`.model`, for the outline's self-occlusion in
:mod:`.surface`, for the 98- and 19-point curves in :mod:`.curves`.
"""

from .curves import WFLW_FROM_CURVES
from .geometry import Camera, rotation_matrix, spline_basis
from .meanface import FACE3D_NAME, load_face3d, symmetrise
from .model import FaceModel, default_model
from .params import ASYMMETRY_MODES, EXPRESSION_MODES, IDENTITY_MODES, FaceParams, mirror_params
from .projected import Brows, Eyes, HeadOutline, Landmarks, Lips, Nose, ProjectedFace, Visibility

__all__ = [
    "FACE3D_NAME", "IDENTITY_MODES", "EXPRESSION_MODES", "ASYMMETRY_MODES", "WFLW_FROM_CURVES",
    "FaceParams", "FaceModel", "ProjectedFace", "Landmarks", "Visibility", "HeadOutline", "Brows", "Eyes", "Nose",
    "Lips", "Camera", "load_face3d", "symmetrise", "rotation_matrix", "spline_basis", "mirror_params",
    "default_model",
]
