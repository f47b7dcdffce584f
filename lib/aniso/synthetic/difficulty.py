"""How many faces each folder or split gets, and how hard they are (:class:`Difficulty`).

Counts come from the loaders' own tables of the real releases
(:data:`aniso.data.w300.FOLDER_COUNTS`, :data:`aniso.data.wflw.EXPECTED_COUNTS`,
:data:`aniso.data.aflw.EXPECTED_COUNTS`), scaled by ``scale`` (1.0 = the
release), at least :data:`MIN_FACES` per folder or split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import DATASETS, aflw, w300, wflw
from ..data.formats import WFLW_FLAGS

__all__ = ["DEFAULT_SCALE", "MIN_FACES", "POSE_LIMITS", "YAW_MAX_300W", "YAW_MAX_WFLW", "YAW_MAX_AFLW", "Difficulty",
           "DIFFICULTIES", "Folder", "PLANS", "dataset_key", "plan", "quota_wants"]

#: Default size of a tree relative to the release. Measured with bench/synth.py
#: (one core, 128 px, files included): 85-105 faces/s, so the largest default
#: tree (AFLW, 1219 faces) takes about 12-13 s, WFLW (500) about 5 s and 300W
#: (223) about 2.5 s; 0.1 would put AFLW near 25 s, too close to the 30 s budget.
DEFAULT_SCALE = 0.05
#: Faces per folder (300W) or split (WFLW, AFLW) at any scale.
MIN_FACES = 8
#: Large-pose limits |yaw|, |pitch|, |roll| in degrees: the WFLW pose flag, and
#: the bound of the near-frontal bulk of every difficulty.
POSE_LIMITS = (30.0, 25.0, 30.0)

# Largest |yaw| (degrees) of each data set's large-pose tail, one cap per data
# set (every Difficulty of the set uses it). Where the far eye goes: in our face
# model (mean face, 700 mm) the far inner eye corner hides behind the nose at
# 50 degrees, the far outer corner at 62 and the far pupil at 64; past about 75
# the two eyes' outer corners and centres converge in the image (inter-pupil
# distance 0.18 of the landmark box at 70 degrees, 0.10 at 80, 0.03 at 89,
# against 0.48 frontal), which made near-profile faces score NMEs of several
# hundred percent under eye normalisation.
#
# 300W: the 68-point markup is for semi-frontal to semi-profile faces, both eyes
# annotated; its hardest faces (iBUG) reach about 60 degrees.
YAW_MAX_300W = 60.0
# WFLW: its pose subset holds faces past 300W's range, but the 98-point markup
# still annotates both eyes and brows on every face, so the far eye can only
# just have turned away: 70 keeps the pose subset harder than 300W while
# staying out of the range where the far-eye labels converge on the near eye.
YAW_MAX_WFLW = 70.0
# AFLW: AFLW-Full keeps profile faces (yaw up to 90 in the release) and marks
# hidden points in mask_new; its primary normalisation is the face box, so
# AFLW goes furthest. It stops at 80 because Table 2 also reports inter-pupil
# NME, and beyond 80 the eye centres all but coincide.
YAW_MAX_AFLW = 80.0


@dataclass(frozen=True)
class Difficulty:
    """How hard the faces of one folder or split are.

    ``yaw_max``: largest |yaw| of the large-pose tail (degrees; one cap per
    data set, above). ``yaw_sd``, ``pitch_sd``, ``roll_sd``: spread of the
    near-frontal bulk (degrees; |yaw| half-normal). The other fields are the probabilities that
    a face is drawn as a large pose, strong expression, strong or odd
    lighting, with make-up, occluded, blurred.
    """

    name: str
    yaw_max: float
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
        for name in WFLW_FLAGS:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"Difficulty {self.name!r}: {name} must be a probability in [0, 1], got {v!r}")
        if not POSE_LIMITS[0] + 1.0 <= self.yaw_max <= 90.0:
            raise ValueError(f"Difficulty {self.name!r}: yaw_max must be in [{POSE_LIMITS[0] + 1.0:g}, 90] degrees "
                             f"(above the large-pose limit), got {self.yaw_max!r}")


# WFLW (train and test, a random split of one pool in the release) draws each
# attribute at its rate in the real test set.
_WFLW_RATES = {k: wflw.EXPECTED_COUNTS[k] / wflw.EXPECTED_COUNTS["test"] for k in WFLW_FLAGS}
DIFFICULTIES: dict[str, Difficulty] = {
    "300w": Difficulty("300w", YAW_MAX_300W),
    "ibug": Difficulty("ibug", YAW_MAX_300W, yaw_sd=16.0, pitch_sd=8.0, roll_sd=8.0, pose=0.35, expression=0.40,
                       illumination=0.35, makeup=0.10, occlusion=0.35, blur=0.30),
    "indoor": Difficulty("indoor", YAW_MAX_300W, yaw_sd=14.0, pose=0.20, expression=0.30, illumination=0.20,
                         makeup=0.10, occlusion=0.20, blur=0.15),
    "outdoor": Difficulty("outdoor", YAW_MAX_300W, yaw_sd=14.0, pose=0.20, expression=0.25, illumination=0.40,
                          makeup=0.08, occlusion=0.20, blur=0.20),
    "wflw": Difficulty("wflw", YAW_MAX_WFLW, **_WFLW_RATES),
    # AFLW spans a wider range of pose than 300W and WFLW.
    "aflw": Difficulty("aflw", YAW_MAX_AFLW, yaw_sd=22.0, pitch_sd=8.0, roll_sd=7.0, pose=0.35, expression=0.10,
                       illumination=0.20, makeup=0.08, occlusion=0.20, blur=0.12),
}


@dataclass(frozen=True)
class Folder:
    """One unit of generation: a 300W folder, a WFLW split or an AFLW split."""

    key: str            # seeds, progress, 300W folder path
    release_count: int
    difficulty: str


# The challenging 300W folders draw hard faces more often; the others use "300w".
_W300_DIFFICULTY = {"ibug": "ibug", "300W/01_Indoor": "indoor", "300W/02_Outdoor": "outdoor"}
#: Folders or splits per data set, in generation order.
PLANS: dict[str, tuple[Folder, ...]] = {
    "300w": tuple(Folder(f, n, _W300_DIFFICULTY.get(f, "300w")) for f, n in w300.FOLDER_COUNTS.items()),
    "wflw": tuple(Folder(s, wflw.EXPECTED_COUNTS[s], "wflw") for s in ("train", "test")),
    "aflw": (Folder("train", aflw.EXPECTED_COUNTS["train"], "aflw"),
             Folder("test", aflw.EXPECTED_COUNTS["full"], "aflw")),
}


def dataset_key(name: str) -> str:
    """The lower-case data-set name; ``ValueError`` listing :data:`aniso.data.DATASETS` when unknown."""
    key = str(name).lower()
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: expected one of {', '.join(DATASETS)}")
    if key not in PLANS:
        raise ValueError(f"data set {name!r} has no synthetic layout: expected one of {', '.join(PLANS)}")
    return key


def plan(name: str, scale: float) -> dict[str, int]:
    """Faces per folder/split for data set ``name`` at ``scale`` (release size x scale, at least MIN_FACES)."""
    key = dataset_key(name)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (1.0 = the release's counts), got {scale!r}")
    return {f.key: max(MIN_FACES, int(round(f.release_count * scale))) for f in PLANS[key]}


def quota_wants(difficulty: Difficulty, n: int, seed) -> list[dict]:
    """Attribute choices for ``n`` faces with exact shares: ``max(round(p * n), min(MIN_FACES, n))`` per attribute.

    Used for WFLW, whose attribute subsets must all be populated even in small
    trees; each attribute's faces are a seeded random subset, independent of
    the other attributes.
    """
    wants = [dict.fromkeys(WFLW_FLAGS, False) for _ in range(n)]
    for j, k in enumerate(WFLW_FLAGS):
        q = min(n, max(int(round(getattr(difficulty, k) * n)), min(MIN_FACES, n)))
        order = np.random.default_rng(np.random.SeedSequence([*np.atleast_1d(seed).tolist(), 1000 + j])).permutation(n)
        for i in order[:q]:
            wants[int(i)][k] = True
    return wants
