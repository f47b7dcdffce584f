"""Parametric 3-D face: shape modes, pose, projection, and the 68/98/19-point shapes.

The mean shape is the 68-point 3-D face of ``shared/data/face3d_68.csv``
(OpenFace's in-the-wild model; millimetres; x to the image right, y down, z
away from the viewer). It is read at run time, never copied into the repo:
``$ANISO_SHARED/data/face3d_68.csv`` when the environment variable is set,
else ``<repo>/../shared/data/face3d_68.csv``. The file is near mirror
symmetric; we average it with its mirror image (largest change 1.3 mm) so that
a mirrored face is exactly the face with mirrored parameters.

A face (:class:`FaceParams`) is that mean shape plus

* 12 identity modes (mirror symmetric, coefficients ~ N(0, 1)): face width and
  height, jaw width, chin length, eye spacing and size, nose length, width and
  depth, mouth width, brow height, lip thickness;
* 4 expression modes (coefficients in [0, 1]): mouth open, smile, brow raise,
  eye closure;
* 2 antisymmetric modes (one eye higher, mouth shifted sideways) and a gaze,
  which change sign under mirroring;
* a pose (yaw, pitch, roll in degrees) and a perspective camera at
  ``distance`` mm, then a scale (pixels per mm) and the image position of the
  model origin.

Pose conventions (what the truth file stores): ``R = Rz(roll) Rx(pitch)
Ry(yaw)`` applied to model points. Yaw > 0 turns the nose toward the image's
right; pitch > 0 lifts the nose (the face looks up); roll > 0 turns the face
clockwise in the image. Mirroring the image maps (yaw, pitch, roll) to (-yaw,
pitch, -roll).

The 98-point (WFLW) and 19-point (AFLW) shapes are sampled in 3-D, before the
pose, from natural cubic splines through the 68 points in each scheme's order
(see :data:`WFLW_FROM_CURVES`), so pose and projection act on them exactly as on
the 68 points. Splines are linear in their control points, so every curve is a
fixed matrix applied to the 68 points.

Self-occlusion. Each contour point (the jaw, sampled densely, and a forehead
arc above it) is the end of a horizontal cross-section of the face surface,
``z(s) = zm + (z_edge - zm) * s**p`` for ``s`` in [0, 1] from the midline to the
edge. After posing, the visible outline at that height is the cross-section
point that lies farthest out in the image along the face's horizontal
direction; when that is not the contour point itself (the edge has turned
behind the face) the label moves to it, as annotators of 300W and WFLW mark
the visible outline. The depth profiles (flat front, sharp turn at the
temples, rounder lower face) put the onset, for the mean face at 700 mm, at
about 18-22 degrees of yaw for the top jaw points (the temples turn away
first), 23-28 degrees for the lower jaw and 43 degrees next to the chin.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..topology import FLIP68

__all__ = [
    "FACE3D_NAME",
    "SHARED_ENV",
    "IDENTITY_MODES",
    "EXPRESSION_MODES",
    "ASYMMETRY_MODES",
    "FaceParams",
    "ProjectedFace",
    "FaceModel",
    "face3d_path",
    "load_face3d",
    "rotation_matrix",
    "mirror_params",
    "default_model",
]

FACE3D_NAME = "face3d_68.csv"
SHARED_ENV = "ANISO_SHARED"

IDENTITY_MODES = (
    "face_width", "face_height", "jaw_width", "chin_length", "eye_spacing", "eye_size",
    "nose_length", "nose_width", "nose_depth", "mouth_width", "brow_height", "lip_thickness",
)
EXPRESSION_MODES = ("mouth_open", "smile", "brow_raise", "eye_closure")
ASYMMETRY_MODES = ("eye_tilt", "mouth_shift")

# Index groups of the 68-point markup (0-based).
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)

# Dense jaw: every quarter knot (65 samples); the 68 jaw points are every 4th,
# the 33 WFLW contour points every 2nd.
JAW_STEP = 4
N_JAW_DENSE = 16 * JAW_STEP + 1
N_ROW = 40          # samples along one cross-section, midline to edge
N_FOREHEAD = 23     # forehead arc samples between the two top jaw points
N_CURVE = 17        # samples of a brow, lid, lip or nose curve for drawing
N_SIDE = 16         # outline of each side of the head (drawing only)

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


# --------------------------------------------------------------------------- the mean shape


def face3d_path() -> Path:
    """Where the 68-point 3-D mean face is read from.

    ``$ANISO_SHARED`` (the shared folder, its ``data`` folder, or the csv
    itself) when set, else ``<repo>/../shared/data/face3d_68.csv`` where
    ``<repo>`` holds ``lib/aniso``. Raises ``FileNotFoundError`` naming every
    path tried when none exists.
    """
    env = os.environ.get(SHARED_ENV)
    if env:
        base = Path(env)
        tried = [base] if base.suffix == ".csv" else [base / "data" / FACE3D_NAME, base / FACE3D_NAME]
        source = f"${SHARED_ENV}={env}"
    else:
        repo = Path(__file__).resolve().parents[3]
        tried = [repo.parent / "shared" / "data" / FACE3D_NAME]
        source = f"the repository's sibling folder (set ${SHARED_ENV} to the shared folder to override)"
    for p in tried:
        if p.is_file():
            return p
    raise FileNotFoundError(
        f"3-D mean face {FACE3D_NAME} not found; tried {', '.join(str(p) for p in tried)} ({source}). "
        f"The synthetic benchmark needs shared/data/{FACE3D_NAME} (68 rows x, y, z in mm)."
    )


def load_face3d(path: str | Path | None = None) -> np.ndarray:
    """The 68 3-D mean-face points as a ``(68, 3)`` float64 array in millimetres.

    Lines starting with ``#`` are comments; the first other line must be the
    header ``x,y,z``. Raises ``ValueError`` naming the file and line for a
    malformed row or a wrong number of rows.
    """
    path = face3d_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"3-D mean face {path} not found")
    rows: list[list[float]] = []
    header_seen = False
    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not header_seen:
            if line.replace(" ", "").lower() != "x,y,z":
                raise ValueError(f"{path}, line {no}: expected the header 'x,y,z', got {line!r}")
            header_seen = True
            continue
        parts = line.split(",")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}, line {no}: expected three numbers 'x,y,z', got {line!r}") from None
        if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"{path}, line {no}: expected three finite numbers 'x,y,z', got {line!r}")
        rows.append(vals)
    if len(rows) != 68:
        raise ValueError(f"{path}: found {len(rows)} point rows, expected 68 (one per 300W landmark)")
    return np.asarray(rows, dtype=np.float64)


def symmetrise(points: np.ndarray) -> np.ndarray:
    """Average 68 3-D points with their mirror image (x -> -x, renumbered by FLIP68)."""
    mirrored = points[list(FLIP68)] * np.array([-1.0, 1.0, 1.0])
    return (points + mirrored) / 2.0


# --------------------------------------------------------------------------- parameters


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
        yaw, pitch, roll: degrees (module docstring for the signs).
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


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` for angles in degrees (module docstring for signs)."""
    a, b, c = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0.0, -np.sin(a)], [0.0, 1.0, 0.0], [np.sin(a), 0.0, np.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), np.sin(b)], [0.0, -np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0.0], [np.sin(c), np.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


# --------------------------------------------------------------------------- splines as matrices


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
_BROW_LOWER_T = np.array([3.2, 2.4, 1.6, 0.8])
_LID_T = np.array([0.75, 1.5, 2.25])


# --------------------------------------------------------------------------- output of projection


@dataclass
class ProjectedFace:
    """A posed, projected face: landmarks and the 2-D geometry the renderer draws.

    All 2-D arrays are ``(..., 2)`` float64 in 0-based pixels; ``depth`` values
    are camera-frame z in mm (larger = farther).
    """

    params: FaceParams
    lm68: np.ndarray
    lm98: np.ndarray
    lm19: np.ndarray
    visible19: np.ndarray       # (19,) bool, not self-occluded
    outline: np.ndarray         # closed polygon: visible jaw then forehead
    jaw_dense: np.ndarray       # (65, 2) visible jaw outline
    jaw_hidden: np.ndarray      # (65,) bool, moved onto the silhouette
    neck: np.ndarray
    head_sides: np.ndarray      # (2, N_SIDE, 2) polygons of the head behind the jaw (image-left, image-right)
    ears: np.ndarray            # (2, 16, 2) ear outlines
    ear_depth: np.ndarray       # (2,)
    brows: list                 # 2 closed polygons (upper edge then lower edge back)
    brow_depth: np.ndarray      # (2,)
    lids_upper: np.ndarray      # (2, N_CURVE, 2), outer -> inner for eye 0, inner -> outer for eye 1
    lids_lower: np.ndarray      # (2, N_CURVE, 2)
    eye_depth: np.ndarray       # (2,)
    iris: np.ndarray            # (2, 24, 2) projected iris circles
    pupil: np.ndarray           # (2, 24, 2)
    crease: np.ndarray          # (2, N_CURVE, 2) upper-lid crease
    nose_bridge: np.ndarray     # (N_CURVE, 2)
    nose_base: np.ndarray       # (N_CURVE, 2)
    nose_sides: np.ndarray      # (2, N_CURVE, 2)
    nostrils: np.ndarray        # (2, 12, 2)
    nose_fill: np.ndarray       # convex polygon of the nose
    nose_depth: float
    lip_upper: np.ndarray       # closed polygon
    lip_lower: np.ndarray       # closed polygon
    mouth_inner: np.ndarray     # closed polygon of the inner lip
    inner_upper: np.ndarray     # (N_CURVE, 2) inner line of the upper lip
    hairline: np.ndarray        # (M, 2) fringe polygon (before clipping to the skin)
    head_top: np.ndarray        # (2,) projected top of the head (behind the forehead)
    shade_points: np.ndarray    # (K, 2) surface samples facing the camera
    shade_normals: np.ndarray   # (K, 3) their unit normals, camera frame
    mm_to_px: float             # pixels per mm at the face (frontal inter-ocular scale)
    iod_px: float               # frontal-equivalent inter-ocular distance, pixels
    horizontal: np.ndarray      # (2,) image direction of the face's x axis
    extra: dict = field(default_factory=dict)

    def landmarks(self, scheme: str) -> np.ndarray:
        """Clean landmarks of ``"300w"`` (68), ``"wflw"`` (98) or ``"aflw"`` (19), pixels."""
        key = str(scheme).lower()
        if key == "300w":
            return self.lm68
        if key == "wflw":
            return self.lm98
        if key == "aflw":
            return self.lm19
        raise ValueError(f"unknown landmark scheme {scheme!r}: expected 300w, wflw or aflw")

    def affine(self, a: float, b) -> "ProjectedFace":
        """A copy with every 2-D array mapped by ``p -> a * p + b`` (scale and shift, pixels)."""
        b = np.asarray(b, dtype=float)
        out = replace(self)
        for name, value in vars(self).items():
            if name in ("shade_normals", "visible19", "jaw_hidden", "brow_depth", "eye_depth", "ear_depth",
                        "horizontal"):
                continue
            if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[-1] == 2:
                setattr(out, name, value * a + b)
            elif isinstance(value, list):
                setattr(out, name, [v * a + b for v in value])
        out.extra = {k: (v * a if k.endswith("_px") else v) for k, v in self.extra.items()}
        out.mm_to_px = self.mm_to_px * a
        out.iod_px = self.iod_px * a
        out.params = replace(self.params, scale=self.params.scale * a,
                             cx=self.params.cx * a + float(b[0]), cy=self.params.cy * a + float(b[1]))
        return out


# --------------------------------------------------------------------------- the model


class FaceModel:
    """The parametric face; :meth:`project` turns :class:`FaceParams` into a :class:`ProjectedFace`."""

    def __init__(self, points: np.ndarray | None = None):
        base = load_face3d() if points is None else np.asarray(points, dtype=float)
        if base.shape != (68, 3):
            raise ValueError(f"FaceModel: expected (68, 3) mean-face points, got {base.shape}")
        base = symmetrise(base)
        base = self._close_mouth(base)
        self.base = base
        self.identity_modes = self._identity_modes(base)
        self.asymmetry_modes = self._asymmetry_modes(base)
        # Spline matrices, built once.
        self._b_jaw = spline_basis(17, np.arange(N_JAW_DENSE) / JAW_STEP)
        u = np.linspace(0.0, 4.0, N_CURVE)
        self._b_brow = spline_basis(5, u)
        self._b_brow_lower = spline_basis(5, _BROW_LOWER_T)
        self._b_brow_mid = spline_basis(5, np.array([0.0, 2.0, 4.0]))
        t3 = np.linspace(0.0, 3.0, N_CURVE)
        self._b_lid = spline_basis(4, t3)
        self._b_lid_pts = spline_basis(4, _LID_T)
        self._b_bridge = spline_basis(4, t3)
        self._b_nbase = spline_basis(5, u)
        self._b_lip6 = spline_basis(7, np.linspace(0.0, 6.0, N_CURVE))
        self._b_in4 = spline_basis(5, u)
        self._b_side = spline_basis(3, np.linspace(0.0, 2.0, N_CURVE))
        self._t_dense = np.arange(N_JAW_DENSE) / JAW_STEP
        self._s = np.linspace(0.0, 1.0, N_ROW)

    # ------------------------------------------------------------- shape modes

    @staticmethod
    def _close_mouth(base: np.ndarray) -> np.ndarray:
        """Put the inner upper and lower lip together (the csv's mouth is slightly open)."""
        b = base.copy()
        for up, lo in ((61, 67), (62, 66), (63, 65)):
            mid = (b[up] + b[lo]) / 2.0
            b[up] = mid
            b[lo] = mid
        return b

    @staticmethod
    def _identity_modes(b: np.ndarray) -> np.ndarray:
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

    @staticmethod
    def _asymmetry_modes(b: np.ndarray) -> np.ndarray:
        """``(2, 68, 3)`` antisymmetric displacements (change sign under mirroring)."""
        d = np.zeros((2, 68, 3))
        sx = np.sign(b[:, 0])
        side = np.r_[EYES, BROWS]
        d[0, side, 1] = 1.5 * sx[side]                            # one eye higher
        d[1, MOUTH, 0] = 1.5                                      # mouth shifted
        d[1, [30, 33], 0] = 0.7
        d[1, [8], 0] = 1.0
        return d

    def shape3d(self, params: FaceParams) -> np.ndarray:
        """The face's 68 model points (mm, before pose): mean + identity + expression."""
        x = self.base + np.tensordot(np.asarray(params.identity), self.identity_modes, axes=1)
        x = x + np.tensordot(np.asarray(params.asymmetry), self.asymmetry_modes, axes=1)
        return self._expression(x, np.clip(np.asarray(params.expression), 0.0, 1.5))

    @staticmethod
    def _expression(x: np.ndarray, e: np.ndarray) -> np.ndarray:
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

    # ------------------------------------------------------------- projection

    def project(self, params: FaceParams) -> ProjectedFace:
        """Pose and project a face; landmarks of all three schemes plus drawing geometry."""
        X = self.shape3d(params)
        R = rotation_matrix(params.yaw, params.pitch, params.roll)
        D = float(params.distance)
        scale, centre = float(params.scale), np.array([params.cx, params.cy])

        chunks: dict[str, np.ndarray] = {}

        # Jaw (dense) and its cross-sections.
        jaw = self._b_jaw @ X[JAW]                                            # (65, 3)
        zm_knots = np.r_[_ZM_KNOTS, X[8, 2], _ZM_KNOTS[::-1]]
        p_knots = np.r_[_P_KNOTS, _P_KNOTS[-2::-1]]
        zm = np.interp(self._t_dense, np.arange(17), zm_knots)
        pj = np.interp(self._t_dense, np.arange(17), p_knots)
        # Forehead arc over the top, from the image-right top jaw point back to the left one.
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
        fore = np.stack([fx, fy, fze], axis=1)
        edges = np.concatenate([jaw, fore])
        ezm = np.r_[zm, fzm]
        ep = np.r_[pj, np.full(N_FOREHEAD, _P_FOREHEAD)]
        s = self._s
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
        chunks["rows"] = rows.reshape(-1, 3)

        # Brows: upper edge = the 68 points; lower edge = thickness below it.
        brows_up, brows_lo, brow_lm98, brow_mid = [], [], [], []
        for k, idx in enumerate((np.arange(17, 22), np.arange(22, 27))):
            ctrl = X[idx]
            up = self._b_brow @ ctrl
            # Thickness, outer end -> inner end: tapered outer tail, blunt inner head.
            u = np.linspace(0.0, 1.0, N_CURVE)
            outer_to_inner = u if k == 0 else 1.0 - u
            prof = 0.25 + 0.75 * np.clip(outer_to_inner / 0.55, 0.0, 1.0) ** 0.8
            thick = params.brow_thickness * prof
            lo = up + np.outer(thick, [0.0, 1.0, 0.0])
            lo[:, 2] += 1.0
            brows_up.append(up)
            brows_lo.append(lo)
            tl = _BROW_LOWER_T / 4.0
            prof_l = 0.25 + 0.75 * np.clip((tl if k == 0 else 1.0 - tl) / 0.55, 0.0, 1.0) ** 0.8
            lower_pts = self._b_brow_lower @ ctrl + np.outer(params.brow_thickness * prof_l, [0.0, 1.0, 0.0])
            lower_pts[:, 2] += 1.0
            brow_lm98.append(np.concatenate([ctrl, lower_pts]))
            # AFLW: the brow's centre line at its outer end, middle and inner end.
            tm = np.array([0.0, 2.0, 4.0]) / 4.0
            prof_m = 0.25 + 0.75 * np.clip((tm if k == 0 else 1.0 - tm) / 0.55, 0.0, 1.0) ** 0.8
            mid = self._b_brow_mid @ ctrl + np.outer(0.5 * params.brow_thickness * prof_m, [0.0, 1.0, 0.0])
            brow_mid.append(mid)
        chunks["brow_up"] = np.concatenate(brows_up)
        chunks["brow_lo"] = np.concatenate(brows_lo)
        chunks["brow98"] = np.concatenate(brow_lm98)          # 2 x 9
        chunks["brow19"] = np.concatenate(brow_mid)           # 2 x 3

        # Eyes: upper lid corner-to-corner through the two upper points, lower lid back.
        lid_up, lid_lo, lid98, irises, pupils, creases, centres = [], [], [], [], [], [], []
        gx, gy = params.gaze
        for first, up2, corner2, lo2 in ((36, (37, 38), 39, (40, 41)), (42, (43, 44), 45, (46, 47))):
            cu = X[[first, *up2, corner2]]
            cl = X[[corner2, *lo2, first]]
            lid_up.append(self._b_lid @ cu)
            lid_lo.append(self._b_lid @ cl)
            lid98.append(np.concatenate([X[[first]], self._b_lid_pts @ cu, X[[corner2]], self._b_lid_pts @ cl]))
            eye = X[[first, *up2, corner2, *lo2]]
            width = abs(X[corner2, 0] - X[first, 0])
            # Eye opening at full (unclosed) lids: from the lids' mean heights.
            height = max(float(np.mean(X[list(lo2), 1]) - np.mean(X[list(up2), 1])), 0.0)
            # Pupil: centre of the eye, pushed to the cornea, moved by the gaze
            # (gaze is in the face frame, so mirrored faces mirror it).
            pupil_c = eye.mean(axis=0) + np.array([gx * width, gy * max(height, 4.0), -2.0])
            centres.append(pupil_c)
            r_iris = 0.21 * width
            ang = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)
            ring = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], axis=1)
            irises.append(pupil_c + r_iris * ring)
            pupils.append(pupil_c + 0.42 * r_iris * ring + np.array([0.0, 0.0, -0.2]))
            crease = self._b_lid @ cu + np.array([0.0, -0.22 * width, 1.5])
            creases.append(crease)
        chunks["lid_up"] = np.concatenate(lid_up)
        chunks["lid_lo"] = np.concatenate(lid_lo)
        chunks["eye98"] = np.concatenate(lid98)               # 2 x 8
        chunks["iris"] = np.concatenate(irises)
        chunks["pupil"] = np.concatenate(pupils)
        chunks["crease"] = np.concatenate(creases)
        chunks["centres"] = np.asarray(centres)

        # Nose.
        chunks["bridge"] = self._b_bridge @ X[27:31]
        chunks["nbase"] = self._b_nbase @ X[31:36]
        side_pts = []
        for sgn, alar in ((-1.0, 31), (1.0, 35)):
            top = X[27] + np.array([sgn * 6.0, 4.0, 6.0])
            mid = (X[29] + X[alar]) / 2.0 + np.array([sgn * 2.0, -2.0, 2.0])
            ctrl = np.stack([top, mid, X[alar] + np.array([0.0, -3.0, 0.0])])
            side_pts.append(self._b_side @ ctrl)
        chunks["nsides"] = np.concatenate(side_pts)
        nost = []
        for p, q in ((31, 32), (35, 34)):
            c = 0.45 * X[p] + 0.55 * X[q] + np.array([0.0, -1.2, -1.0])
            ang = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
            # An ellipse in the plane under the nose, tilted 45 degrees toward the viewer.
            ex = np.array([1.0, 0.0, 0.0]) * 0.36 * abs(X[p, 0] - X[q, 0])
            ez = np.array([0.0, -0.7, 0.7]) * 2.4
            nost.append(c + np.outer(np.cos(ang), ex) + np.outer(np.sin(ang), ez))
        chunks["nostrils"] = np.concatenate(nost)
        chunks["nose_pts"] = np.concatenate([X[27:36], X[[39, 42]] * np.array([0.6, 1.0, 1.0])])

        # Lips (dense): outer upper 48..54, outer lower 54..59,48; inner upper 60..64, inner lower 64..67,60.
        chunks["lip_ou"] = self._b_lip6 @ X[48:55]
        chunks["lip_ol"] = self._b_lip6 @ X[[54, 55, 56, 57, 58, 59, 48]]
        chunks["lip_iu"] = self._b_in4 @ X[60:65]
        chunks["lip_il"] = self._b_in4 @ X[[64, 65, 66, 67, 60]]

        # Neck, hair anchor, hairline (a curve across the forehead on its surface).
        hw = 0.45 * a
        chunks["neck"] = np.array([[-hw, 25.0, 38.0], [-hw * 1.1, 230.0, 50.0], [hw * 1.1, 230.0, 50.0], [hw, 25.0, 38.0]])
        # Sides of the head behind the jaw (seen when the face turns) and the ears:
        # a half ellipse in the side plane from the top jaw point round the back
        # of the head to the jaw angle.
        sides, ears = [], []
        ang = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
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
        chunks["head_sides"] = np.concatenate(sides)
        chunks["ears"] = np.concatenate(ears)
        chunks["head_top"] = np.array([[0.0, y0 - 1.05 * bh, 55.0]])
        chunks["lm68"] = X

        names = list(chunks)
        sizes = [len(chunks[k]) for k in names]
        allpts = np.concatenate([chunks[k] for k in names])
        cam = allpts @ R.T
        zc = cam[:, 2]
        proj = cam[:, :2] * (D / (zc + D))[:, None] * scale + centre
        out2d, outz = {}, {}
        start = 0
        for k, n in zip(names, sizes):
            out2d[k] = proj[start:start + n]
            outz[k] = zc[start:start + n]
            start += n

        # Self-occlusion of the outline: farthest-out point of each cross-section.
        # Outward = the face's horizontal axis in the image, signed by the side.
        h = np.array([math.cos(math.radians(params.roll)), math.sin(math.radians(params.roll))])
        rows2d = out2d["rows"].reshape(len(edges), N_ROW, 2)
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
        jaw2d = vis2d[:N_JAW_DENSE]
        fore2d = vis2d[N_JAW_DENSE:]
        outline = np.concatenate([jaw2d, fore2d])

        # Shading samples: surface points facing the camera.
        n_cam = normals.reshape(-1, 3) @ R.T
        facing = n_cam[:, 2] < -0.05
        shade_pts = out2d["rows"][facing]
        shade_n = n_cam[facing]

        p68 = out2d["lm68"]
        lm68 = p68.copy()
        lm68[JAW] = jaw2d[::JAW_STEP]
        b98 = out2d["brow98"]
        e98 = out2d["eye98"]
        cen = out2d["centres"]
        lm98 = np.concatenate([
            jaw2d[:: JAW_STEP // 2],                    # 0-32 contour
            b98[:9], b98[9:],                           # 33-41, 42-50 brows
            p68[27:31], p68[31:36],                     # 51-54 bridge, 55-59 lower nose
            e98[:8], e98[8:],                           # 60-67, 68-75 eyes
            p68[48:60], p68[60:68],                     # 76-87 outer lip, 88-95 inner lip
            cen,                                        # 96, 97 pupils
        ])
        b19 = out2d["brow19"]
        mouth_c = (p68[62] + p68[66]) / 2.0
        lm19 = np.concatenate([
            b19[:3], b19[3:],                           # 0-2, 3-5 brows (image left to right)
            p68[[36]], cen[[0]], p68[[39]],             # 6-8 eye (corner, centre, corner)
            p68[[42]], cen[[1]], p68[[45]],             # 9-11
            p68[[31, 30, 35]],                          # 12-14 nose left, tip, right
            p68[[48]], mouth_c[None], p68[[54]],        # 15-17 mouth
            jaw2d[[8 * JAW_STEP]],                      # 18 chin
        ])

        # Frontal-equivalent scale: pixels per mm at the face's depth (no foreshortening).
        mm_to_px = scale * D / (D + float(np.mean(zc[-68:])))
        iod_px = mm_to_px * float(np.linalg.norm(X[36] - X[45]))

        nose_pts = out2d["nose_pts"]
        hull = cv2.convexHull(nose_pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        visible19 = self._visible19(lm19, outline, hull, outz, params)

        # Hair fringe: the outline above a hairline, which is a row of the forehead surface.
        hl = self._hairline(params.hairline, a, bh, y0, R, D, scale, centre)
        lip_upper = np.concatenate([out2d["lip_ou"], out2d["lip_iu"][::-1]])
        lip_lower = np.concatenate([out2d["lip_ol"], out2d["lip_il"][::-1]])
        mouth_inner = np.concatenate([out2d["lip_iu"], out2d["lip_il"][1:-1]])
        eye_z = np.array([outz["lid_up"][:N_CURVE].mean(), outz["lid_up"][N_CURVE:].mean()])
        brow_z = np.array([outz["brow_up"][:N_CURVE].mean(), outz["brow_up"][N_CURVE:].mean()])
        return ProjectedFace(
            params=params,
            lm68=lm68,
            lm98=lm98,
            lm19=lm19,
            visible19=visible19,
            outline=outline,
            jaw_dense=jaw2d,
            jaw_hidden=hidden[:N_JAW_DENSE],
            neck=out2d["neck"],
            head_sides=out2d["head_sides"].reshape(2, N_SIDE, 2),
            ears=out2d["ears"].reshape(2, 16, 2),
            ear_depth=np.array([outz["ears"][:16].mean(), outz["ears"][16:].mean()]),
            brows=[np.concatenate([out2d["brow_up"][k * N_CURVE:(k + 1) * N_CURVE],
                                   out2d["brow_lo"][k * N_CURVE:(k + 1) * N_CURVE][::-1]]) for k in (0, 1)],
            brow_depth=brow_z,
            lids_upper=out2d["lid_up"].reshape(2, N_CURVE, 2),
            lids_lower=out2d["lid_lo"].reshape(2, N_CURVE, 2),
            eye_depth=eye_z,
            iris=out2d["iris"].reshape(2, 24, 2),
            pupil=out2d["pupil"].reshape(2, 24, 2),
            crease=out2d["crease"].reshape(2, N_CURVE, 2),
            nose_bridge=out2d["bridge"],
            nose_base=out2d["nbase"],
            nose_sides=out2d["nsides"].reshape(2, N_CURVE, 2),
            nostrils=out2d["nostrils"].reshape(2, 12, 2),
            nose_fill=hull,
            nose_depth=float(outz["bridge"].mean()),
            lip_upper=lip_upper,
            lip_lower=lip_lower,
            mouth_inner=mouth_inner,
            inner_upper=out2d["lip_iu"],
            hairline=hl,
            head_top=out2d["head_top"][0],
            shade_points=shade_pts,
            shade_normals=shade_n,
            mm_to_px=mm_to_px,
            iod_px=iod_px,
            horizontal=h,
            extra={"mouth_gap_px": float(np.linalg.norm(p68[66] - p68[62])),
                   "face_width_px": float(np.ptp(jaw2d[:, 0])) if len(jaw2d) else 0.0},
        )

    @staticmethod
    def _hairline(frac, a, bh, y0, R, D, scale, centre) -> np.ndarray:
        """Projected hairline curve across the forehead (image-left to image-right), 3-D surface row."""
        yh = y0 - frac * bh
        xs = np.linspace(-1.0, 1.0, 21)
        half = a * math.sqrt(max(1.0 - ((y0 - yh) / bh) ** 2, 0.05))
        zm = _ZM_KNOTS[0] + 12.0 * ((y0 - yh) / bh) ** 2.5
        ze = _Z_TEMPLE
        pts = np.stack([xs * half, yh + 4.0 * (1.0 - xs**2), zm + (ze - zm) * np.abs(xs) ** _P_FOREHEAD], axis=1)
        cam = pts @ R.T
        return cam[:, :2] * (D / (cam[:, 2] + D))[:, None] * scale + centre

    @staticmethod
    def _visible19(lm19, outline, nose_hull, outz, params) -> np.ndarray:
        """Self-occlusion of the 19 AFLW points (occluders are added by the generator).

        Hidden: a brow or eye point outside the visible outline (turned behind
        the face) or behind the nose inside the nose's silhouette; the
        far-side nostril past 50 degrees of yaw, the far mouth corner past 65.
        """
        vis = np.ones(19, dtype=bool)
        yaw = params.yaw
        poly = outline.astype(np.float32).reshape(-1, 1, 2)
        hull = nose_hull.astype(np.float32).reshape(-1, 1, 2)
        # Depths of the 19 points: from the 68 points they come from.
        z68 = outz["lm68"]
        zc = outz["centres"]
        zb = outz["brow19"]
        depth = np.r_[zb, z68[36], zc[0], z68[39], z68[42], zc[1], z68[45], z68[[31, 30, 35]],
                      z68[48], (z68[62] + z68[66]) / 2, z68[54], z68[8]]
        tol = 0.01 * float(np.ptp(outline[:, 0]) + 1e-9)
        nose_z = float(z68[[28, 29, 30]].mean())
        # Brows and eyes (0-11) sit on the skin: outside the visible outline they have turned away.
        for i in range(12):
            pt = (float(lm19[i, 0]), float(lm19[i, 1]))
            if cv2.pointPolygonTest(poly, pt, True) < -tol:
                vis[i] = False
            elif depth[i] > nose_z + 5.0 and cv2.pointPolygonTest(hull, pt, True) > tol:
                vis[i] = False
        # The nose and lips stand out of the outline; their far-side points hide
        # behind the nose tip or the lips themselves past a yaw threshold.
        if yaw > 50.0:
            vis[14] = False
        elif yaw < -50.0:
            vis[12] = False
        if yaw > 65.0:
            vis[17] = False
        elif yaw < -65.0:
            vis[15] = False
        return vis


@lru_cache(maxsize=2)
def _cached_model(path: str) -> FaceModel:
    return FaceModel(load_face3d(path))


def default_model() -> FaceModel:
    """The face model built from the shared mean face (cached per path)."""
    return _cached_model(str(face3d_path()))
