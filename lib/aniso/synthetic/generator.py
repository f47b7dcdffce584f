"""Synthetic 300W, WFLW and AFLW trees, written in the real release formats.

``generate("300w" | "wflw" | "aflw", out_dir, ...)`` draws faces with the
parametric model (:mod:`aniso.data.face_model`), renders them
(:mod:`aniso.data.render`), adds human-like annotation noise and writes the
release layout through the same writers the loaders read
(:mod:`aniso.data.formats`), plus ``synthetic_truth.npz`` (noise-free
landmarks and pose per face, :mod:`aniso.data.truth`) and
``synthetic_info.json`` (how the tree was made). ``open_dataset`` then reads
the tree exactly like a real release.

Layouts (one face per image; record key = image path relative to the root + ``#0``):

* 300W: ``afw/``, ``helen/trainset/``, ``helen/testset/``, ``lfpw/trainset/``,
  ``lfpw/testset/``, ``ibug/`` (with one ``image_092 _01.jpg``, the release's
  file name with a space) and the private set ``300W/01_Indoor/indoor_NNN.png``,
  ``300W/02_Outdoor/outdoor_NNN.png``; a ``.pts`` (1-based) beside each image.
  Image types follow the release: ``.jpg`` except ``lfpw`` and the private set
  (``.png``).
* WFLW: ``WFLW_images/<event folder>/<name>.jpg`` and
  ``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt``;
  also ``WFLW_annotations/list_98pt_test/list_98pt_test.txt`` and
  ``list_98pt_test_{largepose,expression,illumination,makeup,occlusion,blur}.txt``
  (same 207-token lines, the test faces with that flag, as peer code reads them).
* AFLW: ``flickr/<0|2|3>/imageNNNNN.jpg`` and ``AFLWinfo_release.mat`` (bbox,
  data, mask_new, nameList relative to ``flickr/``, ra) with the extra scalar
  ``n_train`` (the small trees have fewer than 20000 training faces).

Counts follow ``scale`` (1.0 = the release: 300W afw 337, helen 2000 / 330,
lfpw 811 / 224, ibug 135, private 300 + 300; WFLW 7500 / 2500; AFLW 20000 /
4386), at least :data:`MIN_FACES` per folder or split.

Distributions (:class:`Profile`). Pose is imbalanced as in the real sets: most
faces come from a bulk with half-normal |yaw| (sd 12 degrees for 300W and WFLW,
wider for AFLW), pitch sd 6, roll sd 5, kept below the large-pose limits; a
share ``pose`` of faces is a large pose instead: 80 % a yaw tail uniform in
30-90 degrees, 10 % |pitch| 25-40, 10 % |roll| 30-55. The same mechanism
sets expression, illumination, make-up, occlusion and blur; the challenging
folders (iBUG, the private set) draw them more often, and WFLW (train and
test, a random split of one pool in the release) draws each at its rate in
the real test set (pose 326/2500, expression 314, illumination 698, make-up
206, occlusion 736, blur 773).

WFLW flags are computed from the generated face, never copied from the
intent: pose = |yaw| > 30 or |pitch| > 25 or |roll| > 30; expression = mouth
open > 0.5, smile > 0.55, brow raise > 0.6 or eye closure > 0.6; illumination
= a side light with diffuse/ambient > 1.5, exposure gain outside [0.6, 1.5] or
a colour cast above 25 %; make-up = lip colour, eye shadow and eyeliner
applied; occlusion = the occluder covers at least max(2, 5 % of N) landmarks;
blur = Gaussian sigma above 3 % or motion length above 10 % of the
inter-ocular distance. AFLW's ``mask_new`` is 0 for self-occluded points
(:meth:`FaceModel._visible19`) and for points under the occluder.

Annotation noise (:class:`NoiseConfig`): the written landmarks are the clean
ones plus Gaussian noise whose standard deviation, in fractions of the face's
frontal-equivalent inter-ocular distance (outer eye corners, so turned faces
do not get less noise), is ``along`` along the contour tangent and
``across`` across it for contour points (tangent from the clean 2-D shape with
the scheme's ``tangent_prev``/``tangent_next``), and ``corner`` in every
direction for corners and for points on no curve. Coordinates are written
rounded to 0.001 pixel.

Determinism: face ``i`` of folder ``f`` uses ``SeedSequence([seed, crc32(f), i])``,
so the same seed gives byte-identical annotation files (and images), and a
larger ``scale`` keeps the smaller tree's first faces. The tree is built in a
temporary folder beside ``out_dir`` and renamed into place at the end.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..data.formats import format_wflw_line, write_aflw_mat, write_pts, write_wflw_list
from ..data.truth import TRUTH_FILE, record_key, write_truth
from ..files import atomic_write
from ..topology import get_scheme
from .face_model import FaceModel, FaceParams, ProjectedFace, default_model
from .render import HAIR_COLOURS, SKIN_TONES, Appearance, Occluder, occluder_mask, render

__all__ = [
    "DEFAULT_SCALE",
    "MIN_FACES",
    "DATASET_NAMES",
    "NoiseConfig",
    "Profile",
    "PROFILES",
    "FaceSample",
    "plan",
    "sample_face",
    "sample_pose",
    "annotation_noise",
    "occlusion_minimum",
    "quota_wants",
    "wflw_flags",
    "generate",
    "contact_sheet",
]

#: Default size of a tree relative to the release. Measured with bench/synth.py
#: (one core, 128 px, files included): 85-105 faces/s, so the largest default
#: tree (AFLW, 1219 faces) takes about 12-13 s, WFLW (500) about 5 s and 300W
#: (223) about 2.5 s; 0.1 would put AFLW near 25 s, too close to the 30 s budget.
DEFAULT_SCALE = 0.05
#: Faces per folder (300W) or split (WFLW, AFLW) at any scale.
MIN_FACES = 8
DATASET_NAMES = ("300w", "wflw", "aflw")
INFO_FILE = "synthetic_info.json"
GENERATOR_VERSION = 1

# Thresholds that define the flags (see the module docstring).
POSE_LIMITS = (30.0, 25.0, 30.0)                  # |yaw|, |pitch|, |roll| in degrees
EXPRESSION_LIMITS = (0.5, 0.55, 0.6, 0.6)         # mouth open, smile, brow raise, eye closure
BLUR_LIMIT = 0.03                                  # Gaussian sigma / inter-ocular distance
MOTION_LIMIT = 0.10                                # motion length / inter-ocular distance
WFLW_LIST_NAMES = {"pose": "largepose", "expression": "expression", "illumination": "illumination",
                   "makeup": "makeup", "occlusion": "occlusion", "blur": "blur"}
_FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class NoiseConfig:
    """Annotation noise, standard deviations as fractions of the inter-ocular distance.

    ``along``/``across``: along and across the contour tangent for contour
    points; ``corner``: isotropic, for the scheme's corners and points on no
    curve. ``corners``: which corner set of :func:`aniso.topology.get_scheme`
    (``"paper"`` or ``"extended"``) keeps isotropic noise.
    """

    along: float = 0.04
    across: float = 0.01
    corner: float = 0.01
    corners: str = "paper"

    def __post_init__(self) -> None:
        for name in ("along", "across", "corner"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"NoiseConfig.{name} must be a fraction of the inter-ocular distance in [0, 1], got {v!r}")
        if self.corners not in ("paper", "extended"):
            raise ValueError(f"NoiseConfig.corners must be 'paper' or 'extended', got {self.corners!r}")


@dataclass(frozen=True)
class Profile:
    """How hard the faces of one folder or split are.

    ``yaw_sd``, ``pitch_sd``, ``roll_sd``: spread of the near-frontal bulk
    (degrees; |yaw| half-normal). The other fields are the probabilities that
    a face is drawn as a large pose, strong expression, strong or odd
    lighting, with make-up, occluded, blurred.
    """

    name: str
    yaw_sd: float = 12.0
    pitch_sd: float = 6.0
    roll_sd: float = 5.0
    pose: float = 0.08
    expression: float = 0.10
    illumination: float = 0.12
    makeup: float = 0.08
    occlusion: float = 0.08
    blur: float = 0.08

    def __post_init__(self) -> None:
        for name in _FLAGS:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"Profile {self.name!r}: {name} must be a probability in [0, 1], got {v!r}")


_WFLW_RATES = dict(pose=326 / 2500, expression=314 / 2500, illumination=698 / 2500, makeup=206 / 2500,
                   occlusion=736 / 2500, blur=773 / 2500)
PROFILES: dict[str, Profile] = {
    "300w": Profile("300w"),
    "ibug": Profile("ibug", yaw_sd=16.0, pitch_sd=8.0, roll_sd=8.0, pose=0.35, expression=0.40,
                    illumination=0.35, makeup=0.10, occlusion=0.35, blur=0.30),
    "indoor": Profile("indoor", yaw_sd=14.0, pose=0.20, expression=0.30, illumination=0.20, makeup=0.10,
                      occlusion=0.20, blur=0.15),
    "outdoor": Profile("outdoor", yaw_sd=14.0, pose=0.20, expression=0.25, illumination=0.40, makeup=0.08,
                       occlusion=0.20, blur=0.20),
    "wflw": Profile("wflw", **_WFLW_RATES),
    # AFLW spans a wider range of pose than 300W and WFLW.
    "aflw": Profile("aflw", yaw_sd=22.0, pitch_sd=8.0, roll_sd=7.0, pose=0.35, expression=0.10,
                    illumination=0.20, makeup=0.08, occlusion=0.20, blur=0.12),
}


@dataclass(frozen=True)
class _Folder:
    """One unit of generation: a 300W folder, a WFLW split or an AFLW split."""

    key: str            # seeds and progress
    release_count: int
    profile: str


_PLANS: dict[str, tuple[_Folder, ...]] = {
    "300w": (
        _Folder("afw", 337, "300w"),
        _Folder("helen/trainset", 2000, "300w"),
        _Folder("lfpw/trainset", 811, "300w"),
        _Folder("helen/testset", 330, "300w"),
        _Folder("lfpw/testset", 224, "300w"),
        _Folder("ibug", 135, "ibug"),
        _Folder("300W/01_Indoor", 300, "indoor"),
        _Folder("300W/02_Outdoor", 300, "outdoor"),
    ),
    "wflw": (_Folder("train", 7500, "wflw"), _Folder("test", 2500, "wflw")),
    "aflw": (_Folder("train", 20000, "aflw"), _Folder("test", 4386, "aflw")),
}


def _dataset(name: str) -> str:
    key = str(name).lower()
    if key not in _PLANS:
        raise ValueError(f"unknown data set {name!r}: expected one of {', '.join(DATASET_NAMES)}")
    return key


def plan(name: str, scale: float) -> dict[str, int]:
    """Faces per folder/split for data set ``name`` at ``scale`` (release size x scale, at least MIN_FACES)."""
    key = _dataset(name)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (1.0 = the release's counts), got {scale!r}")
    return {f.key: max(MIN_FACES, int(round(f.release_count * scale))) for f in _PLANS[key]}


# --------------------------------------------------------------------------- one face


@dataclass
class FaceSample:
    """One generated face.

    ``image``: (S, S, 3) uint8 BGR. ``clean``/``noisy``: (N, 2) landmarks in
    0-based pixels (noise-free and as written). ``pose``: (yaw, pitch, roll)
    degrees. ``flags``: the six WFLW flags (0/1) as computed from the face.
    ``visible``: (N,) bool, neither self-occluded (AFLW points) nor under the
    occluder. ``iod``: frontal-equivalent inter-ocular distance, pixels.
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


def _bulk_pose(rng: np.random.Generator, prof: Profile) -> tuple[float, float, float]:
    """A near-frontal pose below every large-pose limit."""
    for _ in range(1000):
        yaw = abs(rng.normal(0.0, prof.yaw_sd)) * rng.choice((-1.0, 1.0))
        pitch = rng.normal(0.0, prof.pitch_sd)
        roll = rng.normal(0.0, prof.roll_sd)
        if abs(yaw) <= POSE_LIMITS[0] and abs(pitch) <= POSE_LIMITS[1] and abs(roll) <= POSE_LIMITS[2]:
            return float(yaw), float(pitch), float(roll)
    return 0.0, 0.0, 0.0


def _hard_pose(rng: np.random.Generator, prof: Profile) -> tuple[float, float, float]:
    """A large pose: mostly a yaw tail, sometimes a strong pitch or roll."""
    yaw, pitch, roll = _bulk_pose(rng, prof)
    kind = rng.random()
    sign = rng.choice((-1.0, 1.0))
    if kind < 0.8:
        yaw = sign * rng.uniform(POSE_LIMITS[0] + 0.5, 90.0)
    elif kind < 0.9:
        pitch = sign * rng.uniform(POSE_LIMITS[1] + 0.5, 40.0)
    else:
        roll = sign * rng.uniform(POSE_LIMITS[2] + 0.5, 55.0)
    return float(yaw), float(pitch), float(roll)


def sample_pose(rng: np.random.Generator, profile: Profile | str, large: bool | None = None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a profile: a large pose with probability ``profile.pose``.

    ``large`` forces the choice. Near-frontal poses stay within the
    large-pose limits (|yaw| <= 30, |pitch| <= 25, |roll| <= 30).
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    if large is None:
        large = bool(rng.random() < prof.pose)
    return _hard_pose(rng, prof) if large else _bulk_pose(rng, prof)


def _expression(rng: np.random.Generator, strong: bool) -> tuple:
    """Coefficients of mouth open, smile, brow raise, eye closure (strong: 1-2 modes above their limits)."""
    lim = np.asarray(EXPRESSION_LIMITS)
    e = np.where(rng.random(4) < 0.4, rng.uniform(0.0, 1.0, 4) * (lim - 0.08), 0.0)
    if strong:
        n = 1 + int(rng.random() < 0.35)
        # Eye closure is rarer than the mouth and smile in real expression subsets.
        modes = rng.choice(4, size=n, replace=False, p=[0.35, 0.35, 0.18, 0.12])
        for m in modes:
            e[m] = rng.uniform(lim[m] + 0.08, 1.0)
    return tuple(float(v) for v in e)


def _lighting(rng: np.random.Generator, strong: bool) -> dict:
    """Light direction, ambient, diffuse, gain and tint; ``strong`` picks a side light, odd exposure or cast."""
    if not strong:
        light = np.array([rng.uniform(-0.35, 0.35), rng.uniform(-0.5, 0.1), -1.0])
        return dict(light=tuple(light / np.linalg.norm(light)), ambient=rng.uniform(0.5, 0.75),
                    diffuse=rng.uniform(0.25, 0.5), gain=rng.uniform(0.82, 1.22),
                    tint=tuple(1.0 + rng.uniform(-0.07, 0.07, 3)))
    kind = rng.random()
    light = np.array([rng.uniform(-0.35, 0.35), rng.uniform(-0.5, 0.1), -1.0])
    out = dict(ambient=rng.uniform(0.5, 0.7), diffuse=rng.uniform(0.25, 0.45), gain=rng.uniform(0.85, 1.2),
               tint=tuple(1.0 + rng.uniform(-0.05, 0.05, 3)))
    if kind < 0.6:
        light = np.array([rng.choice((-1.0, 1.0)) * rng.uniform(0.75, 1.0), rng.uniform(-0.5, 0.3),
                          -rng.uniform(0.05, 0.5)])
        out.update(ambient=rng.uniform(0.18, 0.35), diffuse=rng.uniform(0.9, 1.3))
    elif kind < 0.8:
        out.update(gain=rng.uniform(0.3, 0.5) if rng.random() < 0.5 else rng.uniform(1.65, 2.1))
    else:
        t = np.ones(3)
        t[rng.integers(0, 3)] += rng.uniform(0.35, 0.6)
        t[rng.integers(0, 3)] -= rng.uniform(0.0, 0.3)
        out.update(tint=tuple(t))
    out["light"] = tuple(light / np.linalg.norm(light))
    return out


def illumination_flag(app: Appearance) -> int:
    """1 for a side light much stronger than the ambient, odd exposure, or a strong colour cast."""
    side = abs(app.light[0]) > 0.5 and app.diffuse / max(app.ambient, 1e-9) > 1.5
    exposure = not (0.6 <= app.gain <= 1.5)
    cast = max(abs(t - 1.0) for t in app.tint) > 0.25
    return int(side or exposure or cast)


def _palette_colour(rng, palette: np.ndarray, jitter: float) -> tuple:
    pos = rng.uniform(0, len(palette) - 1)
    i = int(pos)
    j = min(i + 1, len(palette) - 1)
    c = palette[i] + (palette[j] - palette[i]) * (pos - i) + rng.normal(0.0, jitter, 3)
    return tuple(float(v) for v in np.clip(c, 0, 255))


_LIPSTICKS = np.array([[40, 20, 190], [120, 70, 220], [80, 30, 120], [30, 10, 130], [60, 90, 225], [90, 60, 160]],
                      dtype=np.float64)
_EYE_SHADOWS = np.array([[140, 60, 120], [150, 90, 60], [70, 100, 150], [80, 160, 200], [60, 60, 70]],
                        dtype=np.float64)
_IRISES = np.array([[30, 55, 90], [20, 30, 45], [150, 110, 70], [70, 120, 90], [45, 95, 125]], dtype=np.float64)


def _appearance(rng: np.random.Generator, wants: dict, iod: float, bg_seed: int) -> Appearance:
    """Colours, lighting, make-up and camera effects; ``wants`` says which attributes to make strong."""
    skin = _palette_colour(rng, SKIN_TONES, 6.0)
    hair = tuple(float(v) for v in np.clip(HAIR_COLOURS[rng.integers(0, len(HAIR_COLOURS))] + rng.normal(0, 8, 3), 0, 255))
    skin_a = np.asarray(skin)
    brow = tuple(np.clip(np.minimum(np.asarray(hair) * 0.8, skin_a * 0.45), 0, 255))
    lip = tuple(np.clip(skin_a * np.array([0.72, 0.7, 0.95]) + np.array([5.0, 0.0, 10.0]), 0, 255))
    app = dict(
        skin=skin, hair=hair, hair_volume=0.0 if rng.random() < 0.08 else rng.uniform(0.6, 1.2),
        long_hair=bool(rng.random() < 0.3), fringe=bool(rng.random() < 0.8), brow=brow, brow_alpha=rng.uniform(0.7, 0.92),
        iris=tuple(np.clip(_IRISES[rng.integers(0, len(_IRISES))] + rng.normal(0, 8, 3), 0, 255)),
        sclera=tuple(np.clip(np.array([225.0, 230.0, 236.0]) + rng.normal(0, 6, 3), 0, 255)),
        lip=lip, makeup=False, noise_sigma=rng.uniform(1.0, 5.0), background_seed=bg_seed,
    )
    if wants.get("makeup"):
        app.update(makeup=True,
                   lip=tuple(np.clip(_LIPSTICKS[rng.integers(0, len(_LIPSTICKS))] + rng.normal(0, 10, 3), 0, 255)),
                   eye_shadow=tuple(np.clip(_EYE_SHADOWS[rng.integers(0, len(_EYE_SHADOWS))] + rng.normal(0, 10, 3),
                                            0, 255)),
                   brow=tuple(np.asarray(brow) * 0.6), brow_alpha=0.95)
    app.update(_lighting(rng, bool(wants.get("illumination"))))
    if wants.get("blur"):
        if rng.random() < 0.7:
            app.update(blur_sigma=rng.uniform(BLUR_LIMIT + 0.01, 0.06) * iod)
        else:
            app.update(motion=(rng.uniform(MOTION_LIMIT + 0.03, 0.25) * iod, rng.uniform(0, 180)))
    else:
        app.update(blur_sigma=rng.uniform(0.0, 0.6 * BLUR_LIMIT) * iod)
    return Appearance(**app)


def _occluder(rng: np.random.Generator, face: ProjectedFace, scheme_points: np.ndarray) -> Occluder:
    """An object over part of the face, centred on a landmark so that it covers some."""
    iod = face.iod_px
    kind = rng.choice(["hand", "bar", "glasses", "mask", "blob"], p=[0.35, 0.2, 0.2, 0.1, 0.15])
    target = scheme_points[rng.integers(0, len(scheme_points))]
    if kind == "hand":
        colour = _palette_colour(rng, SKIN_TONES, 8.0)
        size = rng.uniform(0.8, 1.3) * iod
    elif kind == "glasses":
        colour = tuple(float(v) for v in rng.uniform(0, 60, 3))
        size = iod
    elif kind == "mask":
        colour = tuple(float(v) for v in np.clip(np.array([235.0, 225.0, 200.0]) + rng.normal(0, 15, 3), 0, 255))
        size = iod
    else:
        colour = tuple(float(v) for v in rng.integers(0, 256, 3))
        size = rng.uniform(0.7, 1.2) * iod if kind == "bar" else rng.uniform(0.35, 0.7) * iod
    return Occluder(kind=str(kind), centre=(float(target[0]), float(target[1])), size=float(size),
                    angle=float(rng.uniform(0, 360)), colour=colour, alpha=1.0)


def annotation_noise(clean: np.ndarray, scheme_name: str, iod: float, noise: NoiseConfig,
                     rng: np.random.Generator) -> np.ndarray:
    """``clean`` (N, 2) pixels plus anisotropic annotation noise (see :class:`NoiseConfig`).

    The tangent of point i is ``clean[next_i] - clean[prev_i]`` (the scheme's
    neighbour maps); contour points get ``along * iod`` along it and
    ``across * iod`` across it, the others ``corner * iod`` in both axes.
    """
    scheme = get_scheme(scheme_name, corners=noise.corners)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.shape != (scheme.n_points, 2):
        raise ValueError(f"annotation_noise: expected ({scheme.n_points}, 2) landmarks for {scheme_name}, got {clean.shape}")
    t = scheme.unit_tangents(clean, eps=1e-9, fallback=(1.0, 0.0))  # any unit vector where undefined
    n = np.stack([-t[:, 1], t[:, 0]], axis=1)
    e = rng.standard_normal((scheme.n_points, 2))
    aniso = scheme.has_tangent[:, None]
    along = np.where(aniso, noise.along, noise.corner) * iod
    across = np.where(aniso, noise.across, noise.corner) * iod
    return clean + e[:, :1] * along * t + e[:, 1:] * across * n


def occlusion_minimum(n_points: int) -> int:
    """Landmarks an occluder must cover for the occlusion flag: max(2, 5 % of N)."""
    return max(2, math.ceil(0.05 * n_points))


def wflw_flags(params: FaceParams, app: Appearance, n_covered: int, n_points: int, iod: float) -> dict:
    """The six WFLW flags (0/1) computed from a generated face (thresholds in the module docstring)."""
    pose = int(abs(params.yaw) > POSE_LIMITS[0] or abs(params.pitch) > POSE_LIMITS[1]
               or abs(params.roll) > POSE_LIMITS[2])
    expression = int(any(v > lim for v, lim in zip(params.expression, EXPRESSION_LIMITS)))
    blur = int(app.blur_sigma > BLUR_LIMIT * iod or app.motion[0] > MOTION_LIMIT * iod)
    occlusion = int(n_covered >= occlusion_minimum(n_points))
    return dict(pose=pose, expression=expression, illumination=illumination_flag(app), makeup=int(app.makeup),
                occlusion=occlusion, blur=blur)


def _draw_wants(rng: np.random.Generator, prof: Profile) -> dict:
    return {k: bool(rng.random() < getattr(prof, k)) for k in _FLAGS}


def sample_face(
    scheme_name: str,
    profile: Profile | str,
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
    drawn (yaw, pitch, roll); both are for figures and tests. Landmarks are in
    0-based pixels of the ``image_size`` square image.
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    model = default_model() if model is None else model
    ss = np.random.SeedSequence(seed)
    g_geom, g_app, g_occ, g_noise, g_bg = (np.random.default_rng(s) for s in ss.spawn(5))
    drawn = _draw_wants(g_geom, prof)
    if wants:
        drawn.update({k: bool(v) for k, v in wants.items() if k in drawn})
    wants = drawn

    if pose is None:
        yaw, pitch, roll = _hard_pose(g_geom, prof) if wants["pose"] else _bulk_pose(g_geom, prof)
    else:
        yaw, pitch, roll = (float(v) for v in pose)
    params = FaceParams(
        identity=tuple(np.clip(g_geom.standard_normal(12), -2.5, 2.5)),
        expression=_expression(g_geom, wants["expression"]),
        asymmetry=tuple(np.clip(g_geom.normal(0.0, 0.7, 2), -2.0, 2.0)),
        gaze=(float(np.clip(g_geom.normal(0.0, 0.1), -0.22, 0.22)), float(np.clip(g_geom.normal(0.0, 0.06), -0.12, 0.12))),
        brow_thickness=float(g_geom.uniform(5.0, 11.0)),
        hairline=float(g_geom.uniform(0.78, 0.98)),
        yaw=yaw, pitch=pitch, roll=roll,
        distance=float(g_geom.uniform(450.0, 1500.0)),
        scale=1.0, cx=0.0, cy=0.0,
    )
    face = model.project(params)
    # Placement: the 68-point box's longer side (the same framing for every
    # scheme) fills 50-70 % of the image, at a random position.
    lo, hi = face.lm68.min(axis=0), face.lm68.max(axis=0)
    fill = g_geom.uniform(0.5, 0.7)
    a = fill * image_size / float(max(hi - lo))
    margin = 0.04 * image_size
    free = (image_size - 1 - 2 * margin) - (hi - lo) * a
    offset = margin + g_geom.uniform(0.0, 1.0, 2) * np.maximum(free, 0.0)
    face = face.affine(a, offset - lo * a)
    params = face.params
    clean = face.landmarks(scheme_name)

    app = _appearance(g_app, wants, face.iod_px, int(g_bg.integers(0, 2**31 - 1)))
    n = len(clean)
    need = occlusion_minimum(n)
    ij = np.clip(np.round(clean).astype(int), 0, image_size - 1)
    if wants["occlusion"]:
        # A few tries to place an object that hides enough landmarks; the flag
        # is still computed from what the final one covers.
        for _ in range(6):
            occ = _occluder(g_occ, face, clean)
            cover = occluder_mask(image_size, occ, face)
            if int((cover[ij[:, 1], ij[:, 0]] > 127).sum()) >= need:
                break
        app = replace(app, occluder=occ)
    result = render(face, app, image_size)

    covered = np.zeros(n, dtype=bool)
    if result.occluder is not None:
        covered = result.occluder[ij[:, 1], ij[:, 0]] > 0.5
    visible = ~covered
    if scheme_name == "aflw":
        visible &= face.visible19
    flags = wflw_flags(params, app, int(covered.sum()), n, face.iod_px)

    noisy = annotation_noise(clean, scheme_name, face.iod_px, noise, g_noise)
    noisy = np.round(np.clip(noisy, 0.0, image_size - 1.0), 3)
    return FaceSample(image=result.image, clean=clean, noisy=noisy,
                      pose=np.array([params.yaw, params.pitch, params.roll]), flags=flags, visible=visible,
                      iod=face.iod_px, params=params, appearance=app, face=face)


# --------------------------------------------------------------------------- file names


_WFLW_EVENTS = (
    (0, "Parade", "marchingband"), (1, "Handshaking", "handshaking"), (2, "Demonstration", "protesters"),
    (4, "Dancing", "dancing"), (7, "Cheering", "cheering"), (9, "Press_Conference", "pressconference"),
    (11, "Meeting", "meeting"), (12, "Group", "group"), (13, "Interview", "interview"), (19, "Couple", "couple"),
    (20, "Family_Group", "family"), (21, "Festival", "festival"), (28, "Sports_Fan", "sportsfan"),
    (29, "Students_Schoolkids", "students"), (37, "Soccer", "soccer"), (51, "Dresses", "wearingdress"),
)
IBUG_SPACE_NAME = "image_092 _01"


def _w300_name(folder: str, i: int) -> tuple[str, str]:
    """(file stem, extension) of face ``i`` of a 300W folder, shaped like the release's names."""
    if folder == "afw":
        return f"{1000000000 + 104729 * i}_1", ".jpg"
    if folder == "helen/trainset":
        return f"{100000000 + 86969 * i}_1", ".jpg"
    if folder == "helen/testset":
        return f"{2000000 + 7907 * i}_1", ".jpg"
    if folder in ("lfpw/trainset", "lfpw/testset"):
        return f"image_{i + 1:04d}", ".png"
    if folder == "ibug":
        # The release's one file name with a space; 92 is never 3i + 3, so no clash.
        return (IBUG_SPACE_NAME, ".jpg") if i == 1 else (f"image_{3 * i + 3:03d}_1", ".jpg")
    if folder == "300W/01_Indoor":
        return f"indoor_{i + 1:03d}", ".png"
    if folder == "300W/02_Outdoor":
        return f"outdoor_{i + 1:03d}", ".png"
    raise ValueError(f"unknown 300W folder {folder!r}")


def _encode(image: np.ndarray, ext: str) -> bytes:
    import cv2

    if ext == ".png":
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {ext} image")
    return buf.tobytes()


def _write_file(path: Path, payload: bytes) -> None:
    # Inside the private temporary tree a plain write is enough: the tree as a whole is renamed into place.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(payload)


def _folder_code(dataset: str, folder: str) -> int:
    """A stable number per folder for the seed sequence (crc32 of ``dataset/folder``)."""
    return zlib.crc32(f"{dataset}/{folder}".encode("utf-8"))


# --------------------------------------------------------------------------- whole trees


def quota_wants(profile: Profile, n: int, seed) -> list[dict]:
    """Attribute choices for ``n`` faces with exact shares: ``max(round(p * n), min(MIN_FACES, n))`` per attribute.

    Used for WFLW, whose attribute subsets must all be populated even in small
    trees; each attribute's faces are a seeded random subset, independent of
    the other attributes.
    """
    wants = [dict.fromkeys(_FLAGS, False) for _ in range(n)]
    for j, k in enumerate(_FLAGS):
        q = min(n, max(int(round(getattr(profile, k) * n)), min(MIN_FACES, n)))
        for i in np.random.default_rng(np.random.SeedSequence([*np.atleast_1d(seed).tolist(), 1000 + j])).permutation(n)[:q]:
            wants[int(i)][k] = True
    return wants


def _faces(dataset: str, counts: dict, seed: int, image_size: int, noise: NoiseConfig, bar):
    """Yield (folder, index, FaceSample) for every face of the plan, in order."""
    scheme = dataset
    model = default_model()
    for f in _PLANS[dataset]:
        prof = PROFILES[f.profile]
        code = _folder_code(dataset, f.key)
        n = counts[f.key]
        quotas = quota_wants(prof, n, [int(seed), code]) if dataset == "wflw" else [None] * n
        for i in range(n):
            yield f.key, i, sample_face(scheme, prof, [int(seed), code, i], image_size, noise, wants=quotas[i],
                                        model=model)
            bar.update(1)


def _write_300w(root: Path, counts, seed, image_size, noise, bar):
    keys, clean, pose = [], [], []
    for folder, i, s in _faces("300w", counts, seed, image_size, noise, bar):
        stem, ext = _w300_name(folder, i)
        rel = f"{folder}/{stem}{ext}"
        _write_file(root / rel, _encode(s.image, ext))
        write_pts(root / folder / f"{stem}.pts", s.noisy)
        keys.append(record_key(rel, 0))
        clean.append(s.clean)
        pose.append(s.pose)
    return keys, clean, pose, {}


def _write_wflw(root: Path, counts, seed, image_size, noise, bar):
    keys, clean, pose = [], [], []
    lines: dict[str, list[str]] = {"train": [], "test": []}
    flagged: dict[str, list[str]] = {k: [] for k in _FLAGS}
    flag_counts = {split: dict.fromkeys(_FLAGS, 0) for split in ("train", "test")}
    for split, i, s in _faces("wflw", counts, seed, image_size, noise, bar):
        g = np.random.default_rng([int(seed), _folder_code("wflw", split), i, 1])
        eid, event, act = _WFLW_EVENTS[int(g.integers(0, len(_WFLW_EVENTS)))]
        number = i if split == "train" else 50000 + i
        rel = f"{eid}--{event}/{eid}_{event}_{act}_{eid}_{number}.jpg"
        _write_file(root / "WFLW_images" / rel, _encode(s.image, ".jpg"))
        # The release's rect: integer box around the face, a little looser than the landmarks.
        lo, hi = s.noisy.min(axis=0), s.noisy.max(axis=0)
        pad = g.uniform(0.0, 0.06, 4) * (hi - lo).max()
        box = np.array([math.floor(lo[0] - pad[0]), math.floor(lo[1] - pad[1]),
                        math.ceil(hi[0] + pad[2]), math.ceil(hi[1] + pad[3])], dtype=float)
        box = np.clip(box, 0, image_size - 1)
        line = format_wflw_line(s.noisy, box, s.flags, rel)
        lines[split].append(line)
        for k in _FLAGS:
            flag_counts[split][k] += s.flags[k]
            if split == "test" and s.flags[k]:
                flagged[k].append(line)
        keys.append(record_key(f"WFLW_images/{rel}", 0))
        clean.append(s.clean)
        pose.append(s.pose)
    ann = root / "WFLW_annotations"
    for split in ("train", "test"):
        write_wflw_list(ann / "list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt", lines[split])
    write_wflw_list(ann / "list_98pt_test" / "list_98pt_test.txt", lines["test"])
    for k in _FLAGS:
        write_wflw_list(ann / "list_98pt_test" / f"list_98pt_test_{WFLW_LIST_NAMES[k]}.txt", flagged[k])
    return keys, clean, pose, {"flag_counts": flag_counts}


def _write_aflw(root: Path, counts, seed, image_size, noise, bar):
    keys, clean, pose = [], [], []
    bbox, data, mask, names = [], [], [], []
    row = 0
    for split, i, s in _faces("aflw", counts, seed, image_size, noise, bar):
        g = np.random.default_rng([int(seed), _folder_code("aflw", split), i, 1])
        sub = ("0", "2", "3")[int(g.choice(3, p=[0.2, 0.35, 0.45]))]
        name = f"{sub}/image{10001 + row:05d}.jpg"
        _write_file(root / "flickr" / name, _encode(s.image, ".jpg"))
        # Face box: a square around the landmarks (AFLW's boxes are square-ish face boxes).
        lo, hi = s.noisy.min(axis=0), s.noisy.max(axis=0)
        c = (lo + hi) / 2.0 + g.normal(0.0, 0.02, 2) * (hi - lo).max()
        half = (hi - lo).max() * g.uniform(1.0, 1.15) / 2.0
        bbox.append([c[0] - half, c[0] + half, c[1] - half, c[1] + half])
        data.append(np.r_[s.noisy[:, 0], s.noisy[:, 1]])
        mask.append(s.visible.astype(float))
        names.append(name)
        keys.append(record_key(f"flickr/{name}", 0))
        clean.append(s.clean)
        pose.append(s.pose)
        row += 1
    n_train, n_test = counts["train"], counts["test"]
    m = n_train + n_test
    # Faces were generated train first. In the file they sit in a seeded random
    # row order (file row of face g = pos[g]), and ra lists the training rows,
    # shuffled, then the test rows, as in the release.
    pos = np.random.default_rng([int(seed), 9]).permutation(m)
    ra = np.r_[pos[np.random.default_rng([int(seed), 7]).permutation(n_train)],
               pos[n_train + np.random.default_rng([int(seed), 8]).permutation(n_test)]] + 1
    inv = np.argsort(pos)
    mat = root / "AFLWinfo_release.mat"
    write_aflw_mat(mat, np.asarray(bbox)[inv], np.asarray(data)[inv], np.asarray(mask)[inv],
                   [names[j] for j in inv], ra, n_train=n_train)
    frontal = int(np.asarray(mask)[n_train:].all(axis=1).sum())
    return [keys[j] for j in inv], [clean[j] for j in inv], [pose[j] for j in inv], {"frontal_test_faces": frontal}


_WRITERS = {"300w": _write_300w, "wflw": _write_wflw, "aflw": _write_aflw}


def generate(
    name: str,
    out_dir: str | Path,
    seed: int = 0,
    scale: float = DEFAULT_SCALE,
    image_size: int = 128,
    noise: NoiseConfig = NoiseConfig(),
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Write a synthetic ``"300w"``, ``"wflw"`` or ``"aflw"`` tree into ``out_dir`` and return its path.

    ``scale``: faces relative to the release (module docstring);
    ``image_size``: side of the square images, pixels; ``noise``: annotation
    noise. ``out_dir`` must not exist or be empty, unless ``force`` (then its
    old content is replaced once the new tree is complete). Raises
    ``FileExistsError`` for a non-empty ``out_dir`` without ``force`` and
    ``ValueError`` for a bad name, scale or size.
    """
    from tqdm.auto import tqdm

    key = _dataset(name)
    counts = plan(key, scale)
    if not (isinstance(image_size, (int, np.integer)) and 32 <= int(image_size) <= 4096):
        raise ValueError(f"image_size must be an integer number of pixels in [32, 4096], got {image_size!r}")
    if not isinstance(noise, NoiseConfig):
        raise ValueError(f"noise must be a NoiseConfig, got {type(noise).__name__}")
    out = Path(out_dir).absolute()
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"output path {out} exists and is not a folder")
        if any(out.iterdir()) and not force:
            raise FileExistsError(f"output folder {out} is not empty; choose another folder or pass force=True (--force)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    t0 = time.perf_counter()
    try:
        with tqdm(total=sum(counts.values()), desc=f"synthetic {key}", unit="face", disable=not progress) as bar:
            keys, clean, pose, extra = _WRITERS[key](tmp, counts, int(seed), int(image_size), noise, bar)
        write_truth(tmp, keys, np.asarray(clean), np.asarray(pose))
        info = {
            "generator": "aniso.data.synthetic", "version": GENERATOR_VERSION, "dataset": key, "seed": int(seed),
            "scale": float(scale), "image_size": int(image_size), "noise": asdict(noise), "counts": counts,
            "faces": len(keys), "truth_file": TRUTH_FILE, **extra,
        }
        atomic_write(tmp / INFO_FILE, (json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        # mkdtemp and the atomic writers create owner-only files; a data set is for everyone.
        for dirpath, _dirs, files in os.walk(tmp):
            os.chmod(dirpath, 0o755)
            for f in files:
                os.chmod(os.path.join(dirpath, f), 0o644)
        if out.exists():
            if any(out.iterdir()):
                trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
                os.replace(out, trash / "old")
                os.replace(tmp, out)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                out.rmdir()
                os.replace(tmp, out)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        dt = time.perf_counter() - t0
        print(f"synthetic {key}: {len(keys)} faces in {dt:.1f} s -> {out}")
    return out


# --------------------------------------------------------------------------- contact sheet


_SHEET_COLUMNS = (
    ("frontal", (0.0, 0.0, 0.0), {}),
    ("yaw -20", (-20.0, 3.0, 0.0), {}),
    ("yaw 35", (35.0, -5.0, 4.0), {}),
    ("yaw -55", (-55.0, 0.0, -3.0), {}),
    ("yaw 80", (80.0, 5.0, 0.0), {}),
    ("pitch 30 roll -20", (10.0, 30.0, -20.0), {}),
    ("expression", (8.0, 0.0, 0.0), {"expression": True}),
    ("occlusion", (-10.0, 0.0, 0.0), {"occlusion": True}),
    ("make-up", (15.0, 0.0, 0.0), {"makeup": True}),
    ("illumination", (-25.0, 0.0, 0.0), {"illumination": True}),
    ("blur", (5.0, 0.0, 0.0), {"blur": True}),
)


def contact_sheet(path: str | Path, seed: int = 0, image_size: int = 160, noise: NoiseConfig = NoiseConfig()) -> Path:
    """A grid of synthetic faces of every scheme with their written (noisy) landmarks, saved as PNG.

    Rows: 300W (68), WFLW (98), AFLW (19 points; hidden points hollow).
    Columns: poses from frontal to 80 degrees of yaw, pitch and roll, then one
    face per attribute. Dots: contour points green, corners red, points on no
    curve blue. Written atomically (matplotlib Agg).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    none = dict.fromkeys(_FLAGS, False)
    rows = DATASET_NAMES
    fig, axes = plt.subplots(len(rows), len(_SHEET_COLUMNS), figsize=(1.6 * len(_SHEET_COLUMNS), 1.75 * len(rows)))
    model = default_model()
    for r, scheme_name in enumerate(rows):
        scheme = get_scheme(scheme_name, corners=noise.corners)
        corner = np.zeros(scheme.n_points, dtype=bool)
        corner[list(scheme.corners)] = True
        contour = scheme.has_tangent
        other = ~corner & ~contour
        for c, (title, pose, want) in enumerate(_SHEET_COLUMNS):
            wants = dict(none, **want)
            s = sample_face(scheme_name, PROFILES["wflw"], [int(seed), 99, r, c], image_size, noise,
                            wants=wants, pose=pose, model=model)
            ax = axes[r, c]
            ax.imshow(s.image[..., ::-1], interpolation="nearest")
            pts = s.noisy
            vis = s.visible if scheme_name == "aflw" else np.ones(len(pts), dtype=bool)
            for sel, colour in ((contour, "#19e619"), (other, "#1f6fff"), (corner, "#ff2020")):
                ax.scatter(pts[sel & vis, 0], pts[sel & vis, 1], s=2.2, c=colour, linewidths=0)
                ax.scatter(pts[sel & ~vis, 0], pts[sel & ~vis, 1], s=5, facecolors="none", edgecolors=colour,
                           linewidths=0.4)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlim(-0.5, image_size - 0.5)
            ax.set_ylim(image_size - 0.5, -0.5)
            if r == 0:
                ax.set_title(title, fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{scheme_name.upper()} ({scheme.n_points})", fontsize=7)
    fig.suptitle("Synthetic faces with their annotated landmarks (green: contour, red: corners, blue: other)",
                 fontsize=8)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.96))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write(Path(path), buf.getvalue())
