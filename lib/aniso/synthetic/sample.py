"""One synthetic face: draw its parameters, place and render it, annotate it with noise (:func:`sample_face`).

The eye-distance guarantee. In every face whose pose is drawn (every face of
a generated tree, train and test), both the inter-ocular distance (the outer
eye corners, ``scheme.ocular``) and the inter-pupil distance (the eye
centres, means of ``scheme.pupils``, as :func:`aniso.metrics.nme` defines
them) of the clean landmarks are at least :data:`MIN_EYE_FRACTION` of the
size ``sqrt(w * h)`` of their landmark box. A face that falls short gets a new
pose from its own random stream (a large pose again if it was one, so the
attribute quotas hold), keeping its identity, expression and camera, until
it passes; the other faces draw exactly as before. The written labels differ
from the clean ones by the annotation noise only (about 1 % of the frontal
inter-ocular distance at the eye corners).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..data.formats import WFLW_FLAGS
from ..topology import Scheme, as_scheme, get_scheme
from .attributes import (
    occlusion_minimum,
    sample_appearance,
    sample_expression,
    sample_occluder,
    wflw_flags,
)
from .difficulty import DIFFICULTIES, Difficulty
from .face import FaceModel, FaceParams, ProjectedFace, default_model
from .face.curves import JAW_STEP
from .noise import NoiseConfig, annotation_noise
from .pose import bulk_pose, hard_pose
from .render import Appearance, Occluder, occluder_mask, render

__all__ = ["MIN_EYE_FRACTION", "FaceSample", "eye_fractions", "guessed", "sample_face"]

#: Smallest inter-ocular and inter-pupil distance of a generated face, as a
#: fraction of sqrt(w * h) of its landmark box (module docstring). Measured on
#: the seed-0 faces at scale 1.0: near-frontal faces (|yaw| <= 30) never go
#: below 0.32 (inter-pupil, the smaller of the two; 0.46 inter-ocular; 0.48 and
#: 0.66 for a frontal mean face); with the yaw caps alone the minimum is 0.22
#: for 300W, 0.15 for WFLW and 0.12 for AFLW, and without the caps the tail ran
#: down to 0.003. 0.15 (eye centres three times closer than frontal) leaves
#: the capped pose ranges whole and only catches the narrowest-eyed faces next
#: to the caps: 0 of 4437 300W faces, 1 of 10000 WFLW, 153 of 24386 AFLW.
MIN_EYE_FRACTION = 0.15
# New poses tried before giving up; near-frontal poses pass with a wide margin,
# and one in five large poses is a pitch or roll with a near-frontal yaw.
_POSE_REDRAWS = 100

# Tries to place an occluder that hides enough landmarks for the occlusion flag.
_OCCLUDER_TRIES = 6


@dataclass
class FaceSample:
    """One generated face.

    ``image``: (S, S, 3) uint8 BGR. ``clean``/``noisy``: (N, 2) landmarks in
    0-based pixels (noise-free and as written). ``pose``: (yaw, pitch, roll)
    degrees. ``flags``: the six WFLW flags (0/1) as computed from the face.
    ``visible``: (N,) bool, neither self-occluded (AFLW points) nor under the
    occluder. ``iod``: frontal-equivalent inter-ocular distance, pixels.
    ``redraws``: new poses drawn for the eye-distance guarantee.
    """

    image: np.ndarray
    clean: np.ndarray
    noisy: np.ndarray
    pose: np.ndarray
    flags: dict
    visible: np.ndarray
    iod: float
    params: FaceParams
    appearance: Appearance
    face: ProjectedFace = field(repr=False, default=None)
    redraws: int = 0


def _draw_wants(rng: np.random.Generator, prof: Difficulty) -> dict:
    """Which attributes to draw strongly: each with its probability in ``prof``."""
    return {k: bool(rng.random() < getattr(prof, k)) for k in WFLW_FLAGS}


def eye_fractions(landmarks: np.ndarray, scheme: Scheme | str) -> tuple[np.ndarray, np.ndarray]:
    """Inter-ocular and inter-pupil distances of ``(..., N, 2)`` landmarks over ``sqrt(w * h)`` of their box.

    Outer eye corners ``scheme.ocular`` and eye centres (means of
    ``scheme.pupils``), as :func:`aniso.metrics.nme` uses them; fractions,
    shape ``(...)`` each.
    """
    sch = as_scheme(scheme)
    pts = np.asarray(landmarks, dtype=np.float64)
    lo, hi = pts.min(axis=-2), pts.max(axis=-2)   # the landmark box, as aniso.data.records.landmark_box
    size = np.sqrt((hi[..., 0] - lo[..., 0]) * (hi[..., 1] - lo[..., 1]))
    o0, o1 = sch.ocular
    iod = np.linalg.norm(pts[..., o0, :] - pts[..., o1, :], axis=-1)
    c0 = pts[..., list(sch.pupils[0]), :].mean(axis=-2)
    c1 = pts[..., list(sch.pupils[1]), :].mean(axis=-2)
    return iod / size, np.linalg.norm(c0 - c1, axis=-1) / size


def _draw_pose(g: np.random.Generator, prof: Difficulty, wants: dict) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees: a large pose when ``wants["pose"]``, else a near-frontal one."""
    return hard_pose(g, prof) if wants["pose"] else bulk_pose(g, prof)


def _draw_params(g: np.random.Generator, prof: Difficulty, wants: dict, pose: tuple | None) -> FaceParams:
    """Shape, pose and camera of one face (unplaced: scale 1 pixel per mm at the origin)."""
    yaw, pitch, roll = _draw_pose(g, prof, wants) if pose is None else (float(v) for v in pose)
    return FaceParams(
        identity=tuple(np.clip(g.standard_normal(12), -2.5, 2.5)),
        expression=sample_expression(g, wants["expression"]),
        asymmetry=tuple(np.clip(g.normal(0.0, 0.7, 2), -2.0, 2.0)),
        gaze=(float(np.clip(g.normal(0.0, 0.1), -0.22, 0.22)), float(np.clip(g.normal(0.0, 0.06), -0.12, 0.12))),
        brow_thickness=float(g.uniform(5.0, 11.0)),
        hairline=float(g.uniform(0.78, 0.98)),
        yaw=yaw, pitch=pitch, roll=roll,
        distance=float(g.uniform(450.0, 1500.0)),
        scale=1.0, cx=0.0, cy=0.0,
    )


def _posed_face(model: FaceModel, g: np.random.Generator, prof: Difficulty, wants: dict, pose: tuple | None,
                scheme_name: str) -> tuple[ProjectedFace, int]:
    """The projected face and the number of new poses the eye-distance guarantee drew (module docstring).

    A given ``pose`` is taken as it is (figures, tests): no guarantee.
    """
    params = _draw_params(g, prof, wants, pose)
    face = model.project(params)
    if pose is not None:
        return face, 0
    scheme = get_scheme(scheme_name)
    for redraws in range(_POSE_REDRAWS + 1):
        if min(eye_fractions(face.landmarks.of(scheme_name), scheme)) >= MIN_EYE_FRACTION:
            return face, redraws
        yaw, pitch, roll = _draw_pose(g, prof, wants)
        face = model.project(replace(params, yaw=yaw, pitch=pitch, roll=roll))
    raise RuntimeError(
        f"sample_face: no pose of {scheme_name} difficulty {prof.name!r} in {_POSE_REDRAWS} draws keeps the eye "
        f"distances above {MIN_EYE_FRACTION} of the landmark box (identity {params.identity})"
    )


def _place(face: ProjectedFace, g: np.random.Generator, image_size: int) -> ProjectedFace:
    """Scale and shift the face so that the 68-point box's longer side (the same framing for
    every scheme) fills 50-70 % of the image, at a random position inside a 4 % margin."""
    lo, hi = face.landmarks.lm68.min(axis=0), face.landmarks.lm68.max(axis=0)
    fill = g.uniform(0.5, 0.7)
    a = fill * image_size / float(max(hi - lo))
    margin = 0.04 * image_size
    free = (image_size - 1 - 2 * margin) - (hi - lo) * a
    offset = margin + g.uniform(0.0, 1.0, 2) * np.maximum(free, 0.0)
    return face.affine(a, offset - lo * a)


def _occluder_over(g: np.random.Generator, face: ProjectedFace, clean: np.ndarray, pixels: np.ndarray,
                   image_size: int) -> Occluder:
    """An occluder over the face; a few tries to hide enough landmarks (``pixels``: their integer
    positions). The flag is still computed from what the final one covers."""
    need = occlusion_minimum(len(clean))
    for _ in range(_OCCLUDER_TRIES):
        occ = sample_occluder(g, face, clean)
        cover = occluder_mask(image_size, occ, face)
        if int((cover[pixels[:, 1], pixels[:, 0]] > 127).sum()) >= need:
            break
    return occ


def guessed(face: ProjectedFace, scheme_name: str, covered: np.ndarray) -> np.ndarray:
    """(N,) bool: the points an annotator must guess: under the occluder, or hidden by the head's own turn (AFLW's
    self-occluded points; a 300W or WFLW jaw point whose place on the face has turned out of sight, annotated on
    the silhouette)."""
    hidden = np.asarray(covered, dtype=bool).copy()
    if scheme_name == "aflw":
        return hidden | ~face.visibility.visible19
    jaw = face.visibility.jaw_hidden[:: JAW_STEP if scheme_name == "300w" else JAW_STEP // 2]
    hidden[: len(jaw)] |= jaw
    return hidden


def sample_face(
    scheme_name: str,
    difficulty: Difficulty | str,
    seed,
    image_size: int = 128,
    noise: NoiseConfig = NoiseConfig(),
    wants: dict | None = None,
    pose: tuple | None = None,
    model: FaceModel | None = None,
) -> FaceSample:
    """Draw, render and annotate one face.

    ``seed``: anything ``numpy.random.SeedSequence`` takes (the generator
    passes ``[seed, crc32(folder), index]``). ``wants`` overrides the drawn
    attribute choices (dict of the six flag names to bool) and ``pose`` the
    drawn (yaw, pitch, roll); both are for figures and tests, and a given pose
    skips the eye-distance guarantee (module docstring). Landmarks are in
    0-based pixels of the ``image_size`` square image.
    """
    prof = DIFFICULTIES[difficulty] if isinstance(difficulty, str) else difficulty
    model = default_model() if model is None else model
    g_geom, g_app, g_occ, g_noise, g_bg = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    drawn = _draw_wants(g_geom, prof)
    if wants:
        drawn.update({k: bool(v) for k, v in wants.items() if k in drawn})
    wants = drawn

    face, redraws = _posed_face(model, g_geom, prof, wants, pose, scheme_name)
    face = _place(face, g_geom, image_size)
    params = face.params
    clean = face.landmarks.of(scheme_name)

    app = sample_appearance(g_app, wants, face.iod_px, int(g_bg.integers(0, 2**31 - 1)))
    n = len(clean)
    ij = np.clip(np.round(clean).astype(int), 0, image_size - 1)
    if wants["occlusion"]:
        app = replace(app, occluder=_occluder_over(g_occ, face, clean, ij, image_size))
    result = render(face, app, image_size)

    covered = np.zeros(n, dtype=bool)
    if result.occluder is not None:
        covered = result.occluder[ij[:, 1], ij[:, 0]] > 0.5
    visible = ~covered
    if scheme_name == "aflw":
        visible &= face.visibility.visible19
    flags = wflw_flags(params, app, int(covered.sum()), n, face.iod_px)

    hidden = guessed(face, scheme_name, covered) if noise.hidden else None  # only that option reads them
    noisy = annotation_noise(clean, scheme_name, face.iod_px, noise, g_noise, hidden=hidden)
    noisy = np.round(np.clip(noisy, 0.0, image_size - 1.0), 3)
    return FaceSample(image=result.image, clean=clean, noisy=noisy,
                      pose=np.array([params.yaw, params.pitch, params.roll]), flags=flags, visible=visible,
                      iod=face.iod_px, params=params, appearance=app, face=face, redraws=redraws)
