"""What projecting a face gives: landmarks, visibility and the 2-D curves the renderer draws.

All point arrays are ``(..., 2)`` float64 in 0-based pixels; depths are
camera-frame z in mm (larger = farther). Each record knows which of its fields
are pixel positions, so :meth:`ProjectedFace.affine` can move and scale the
whole face.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import cv2
import numpy as np

from .curves import JAW_STEP, N_CURVE, N_EAR, N_NOSTRIL, N_RING, N_SIDE
from .params import FaceParams

__all__ = ["Landmarks", "Visibility", "HeadOutline", "Brows", "Eyes", "Nose", "Lips", "ProjectedFace",
           "assemble_landmarks", "assemble_head", "assemble_features"]


class _Pixels:
    """Mixin for records whose :attr:`POINTS` fields are pixel positions (arrays or tuples of arrays)."""

    POINTS: ClassVar[tuple[str, ...]] = ()

    def moved(self, a: float, b: np.ndarray):
        """A copy with every pixel position mapped by ``p -> a * p + b``."""
        out = {}
        for name in self.POINTS:
            value = getattr(self, name)
            out[name] = tuple(v * a + b for v in value) if isinstance(value, tuple) else value * a + b
        return replace(self, **out)


@dataclass(frozen=True)
class Landmarks(_Pixels):
    """Clean landmarks of the three schemes: ``lm68`` (300W), ``lm98`` (WFLW), ``lm19`` (AFLW)."""

    lm68: np.ndarray
    lm98: np.ndarray
    lm19: np.ndarray
    POINTS: ClassVar[tuple[str, ...]] = ("lm68", "lm98", "lm19")

    def of(self, scheme: str) -> np.ndarray:
        """The landmarks of ``"300w"`` (68), ``"wflw"`` (98) or ``"aflw"`` (19)."""
        key = str(scheme).lower()
        if key == "300w":
            return self.lm68
        if key == "wflw":
            return self.lm98
        if key == "aflw":
            return self.lm19
        raise ValueError(f"unknown landmark scheme {scheme!r}: expected 300w, wflw or aflw")


@dataclass(frozen=True)
class Visibility:
    """Self-occlusion: ``visible19`` (19,) AFLW points not hidden by the face itself;
    ``jaw_hidden`` (65,) dense jaw samples moved onto the silhouette."""

    visible19: np.ndarray
    jaw_hidden: np.ndarray


@dataclass(frozen=True)
class HeadOutline(_Pixels):
    """The head's outline and what lies behind the face.

    ``outline``: closed polygon of the visible skin, the dense jaw then the
    forehead; ``jaw``: (65, 2) visible jaw outline; ``neck``: polygon;
    ``sides``: (2, N_SIDE, 2) head behind the jaw (image-left, image-right);
    ``ears``: (2, N_EAR, 2) with ``ear_depth`` (2,); ``hairline``: (21, 2)
    across the forehead; ``head_top``: (2,) top of the head;
    ``shade_points`` (K, 2) and ``shade_normals`` (K, 3, camera frame): surface
    samples facing the camera, for the shading.
    """

    outline: np.ndarray
    jaw: np.ndarray
    neck: np.ndarray
    sides: np.ndarray
    ears: np.ndarray
    ear_depth: np.ndarray
    hairline: np.ndarray
    head_top: np.ndarray
    shade_points: np.ndarray
    shade_normals: np.ndarray
    POINTS: ClassVar[tuple[str, ...]] = ("outline", "jaw", "neck", "sides", "ears", "hairline", "head_top",
                                         "shade_points")


@dataclass(frozen=True)
class Brows(_Pixels):
    """``polygons``: 2 closed polygons (upper edge, then the lower edge back); ``depth`` (2,)."""

    polygons: tuple
    depth: np.ndarray
    POINTS: ClassVar[tuple[str, ...]] = ("polygons",)


@dataclass(frozen=True)
class Eyes(_Pixels):
    """Lids (2, N_CURVE, 2): outer -> inner for eye 0, inner -> outer for eye 1; ``crease`` likewise;
    ``iris``, ``pupil`` (2, N_RING, 2) circles; ``depth`` (2,)."""

    lids_upper: np.ndarray
    lids_lower: np.ndarray
    crease: np.ndarray
    iris: np.ndarray
    pupil: np.ndarray
    depth: np.ndarray
    POINTS: ClassVar[tuple[str, ...]] = ("lids_upper", "lids_lower", "crease", "iris", "pupil")


@dataclass(frozen=True)
class Nose(_Pixels):
    """``bridge``, ``base`` (N_CURVE, 2); ``sides`` (2, N_CURVE, 2); ``nostrils`` (2, N_NOSTRIL, 2);
    ``fill``: convex polygon of the nose; ``depth``: mean depth of the bridge, mm."""

    bridge: np.ndarray
    base: np.ndarray
    sides: np.ndarray
    nostrils: np.ndarray
    fill: np.ndarray
    depth: float
    POINTS: ClassVar[tuple[str, ...]] = ("bridge", "base", "sides", "nostrils", "fill")


@dataclass(frozen=True)
class Lips(_Pixels):
    """``upper``, ``lower``: closed lip polygons; ``mouth_inner``: closed polygon of the opening;
    ``inner_upper``: (N_CURVE, 2) inner line of the upper lip; ``gap_px``: mouth opening, pixels."""

    upper: np.ndarray
    lower: np.ndarray
    mouth_inner: np.ndarray
    inner_upper: np.ndarray
    gap_px: float
    POINTS: ClassVar[tuple[str, ...]] = ("upper", "lower", "mouth_inner", "inner_upper")

    def moved(self, a: float, b: np.ndarray) -> "Lips":
        return replace(super().moved(a, b), gap_px=self.gap_px * a)


@dataclass(frozen=True)
class ProjectedFace:
    """A posed, projected face.

    ``mm_to_px``: pixels per mm at the face's depth (no foreshortening);
    ``iod_px``: frontal-equivalent inter-ocular distance (outer eye corners),
    pixels; ``horizontal``: (2,) image direction of the face's x axis.
    """

    params: FaceParams
    landmarks: Landmarks
    visibility: Visibility
    head: HeadOutline
    brows: Brows
    eyes: Eyes
    nose: Nose
    lips: Lips
    mm_to_px: float
    iod_px: float
    horizontal: np.ndarray

    def affine(self, a: float, b) -> "ProjectedFace":
        """A copy with every pixel position mapped by ``p -> a * p + b`` (scale and shift, pixels)."""
        b = np.asarray(b, dtype=float)
        p = self.params
        return replace(
            self, landmarks=self.landmarks.moved(a, b), head=self.head.moved(a, b), brows=self.brows.moved(a, b),
            eyes=self.eyes.moved(a, b), nose=self.nose.moved(a, b), lips=self.lips.moved(a, b),
            mm_to_px=self.mm_to_px * a, iod_px=self.iod_px * a,
            params=replace(p, scale=p.scale * a, cx=p.cx * a + float(b[0]), cy=p.cy * a + float(b[1])),
        )


# --------------------------------------------------------------------------- assembly from projected parts


def assemble_landmarks(xy: dict[str, np.ndarray], jaw: np.ndarray) -> Landmarks:
    """The three schemes' landmarks from the projected parts and the visible dense ``jaw`` (65, 2)."""
    p68 = xy["lm68"]
    lm68 = p68.copy()
    lm68[:17] = jaw[::JAW_STEP]
    b98, e98, cen, b19 = xy["brow98"], xy["eye98"], xy["centres"], xy["brow19"]
    lm98 = np.concatenate([
        jaw[:: JAW_STEP // 2],                      # 0-32 contour
        b98[:9], b98[9:],                           # 33-41, 42-50 brows
        p68[27:31], p68[31:36],                     # 51-54 bridge, 55-59 lower nose
        e98[:8], e98[8:],                           # 60-67, 68-75 eyes
        p68[48:60], p68[60:68],                     # 76-87 outer lip, 88-95 inner lip
        cen,                                        # 96, 97 pupils
    ])
    mouth_c = (p68[62] + p68[66]) / 2.0
    lm19 = np.concatenate([
        b19[:3], b19[3:],                           # 0-2, 3-5 brows (image left to right)
        p68[[36]], cen[[0]], p68[[39]],             # 6-8 eye (corner, centre, corner)
        p68[[42]], cen[[1]], p68[[45]],             # 9-11
        p68[[31, 30, 35]],                          # 12-14 nose left, tip, right
        p68[[48]], mouth_c[None], p68[[54]],        # 15-17 mouth
        jaw[[8 * JAW_STEP]],                        # 18 chin
    ])
    return Landmarks(lm68=lm68, lm98=lm98, lm19=lm19)


def assemble_head(xy: dict, z: dict, outline: np.ndarray, n_jaw: int, hairline: np.ndarray,
                  shade: tuple[np.ndarray, np.ndarray]) -> HeadOutline:
    """The head record; ``outline``: visible jaw (first ``n_jaw`` points) then forehead; ``shade``: (points,
    normals)."""
    return HeadOutline(
        outline=outline, jaw=outline[:n_jaw], neck=xy["neck"], sides=xy["head_sides"].reshape(2, N_SIDE, 2),
        ears=xy["ears"].reshape(2, N_EAR, 2), ear_depth=np.array([z["ears"][:N_EAR].mean(), z["ears"][N_EAR:].mean()]),
        hairline=hairline, head_top=xy["head_top"][0], shade_points=shade[0], shade_normals=shade[1],
    )


def _pair_depth(z: np.ndarray) -> np.ndarray:
    """Mean depth of each of two N_CURVE-point curves stored one after the other."""
    return np.array([z[:N_CURVE].mean(), z[N_CURVE:].mean()])


def assemble_features(xy: dict, z: dict) -> tuple[Brows, Eyes, Nose, Lips]:
    """Brows, eyes, nose and lips from the projected parts (pixels) and their depths (mm)."""
    up, lo = xy["brow_up"], xy["brow_lo"]
    brows = Brows(polygons=tuple(np.concatenate([up[k * N_CURVE:(k + 1) * N_CURVE],
                                                 lo[k * N_CURVE:(k + 1) * N_CURVE][::-1]]) for k in (0, 1)),
                  depth=_pair_depth(z["brow_up"]))
    eyes = Eyes(lids_upper=xy["lid_up"].reshape(2, N_CURVE, 2), lids_lower=xy["lid_lo"].reshape(2, N_CURVE, 2),
                crease=xy["crease"].reshape(2, N_CURVE, 2), iris=xy["iris"].reshape(2, N_RING, 2),
                pupil=xy["pupil"].reshape(2, N_RING, 2), depth=_pair_depth(z["lid_up"]))
    hull = cv2.convexHull(xy["nose_pts"].astype(np.float32)).reshape(-1, 2).astype(np.float64)
    nose = Nose(bridge=xy["bridge"], base=xy["nbase"], sides=xy["nsides"].reshape(2, N_CURVE, 2),
                nostrils=xy["nostrils"].reshape(2, N_NOSTRIL, 2), fill=hull, depth=float(z["bridge"].mean()))
    iu, il = xy["lip_iu"], xy["lip_il"]
    p68 = xy["lm68"]
    lips = Lips(upper=np.concatenate([xy["lip_ou"], iu[::-1]]), lower=np.concatenate([xy["lip_ol"], il[::-1]]),
                mouth_inner=np.concatenate([iu, il[1:-1]]), inner_upper=iu,
                gap_px=float(np.linalg.norm(p68[66] - p68[62])))
    return brows, eyes, nose, lips
