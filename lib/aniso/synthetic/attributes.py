"""The six WFLW attributes: drawing a face with them, and computing the flags back from the face.

A face is drawn with a strong expression, odd lighting, make-up, an occluder
or blur when its difficulty (or a quota) asks for it; the written flags are
then computed from the generated face, never copied from that intent:
pose = |yaw| > 30 or |pitch| > 25 or |roll| > 30; expression = mouth open >
0.5, smile > 0.55, brow raise > 0.6 or eye closure > 0.6; illumination = a
side light with diffuse/ambient > 1.5, exposure gain outside [0.6, 1.5] or a
colour cast above 25 %; make-up = lip colour, eye shadow and eyeliner
applied; occlusion = the occluder covers at least max(2, 5 % of N)
landmarks; blur = Gaussian sigma above 3 % or motion length above 10 % of the
inter-ocular distance.
"""

from __future__ import annotations

import math

import numpy as np

from .difficulty import POSE_LIMITS
from .face import FaceParams, ProjectedFace
from .render import HAIR_COLOURS, SKIN_TONES, Appearance, Occluder

__all__ = ["EXPRESSION_LIMITS", "BLUR_LIMIT", "MOTION_LIMIT", "sample_expression", "sample_appearance",
           "sample_occluder", "illumination_flag", "occlusion_minimum", "wflw_flags"]

EXPRESSION_LIMITS = (0.5, 0.55, 0.6, 0.6)         # mouth open, smile, brow raise, eye closure
BLUR_LIMIT = 0.03                                  # Gaussian sigma / inter-ocular distance
MOTION_LIMIT = 0.10                                # motion length / inter-ocular distance


def sample_expression(rng: np.random.Generator, strong: bool) -> tuple:
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


def sample_appearance(rng: np.random.Generator, wants: dict, iod: float, bg_seed: int) -> Appearance:
    """Colours, lighting, make-up and camera effects; ``wants`` says which attributes to make strong."""
    skin = _palette_colour(rng, SKIN_TONES, 6.0)
    hair_base = HAIR_COLOURS[rng.integers(0, len(HAIR_COLOURS))]
    hair = tuple(float(v) for v in np.clip(hair_base + rng.normal(0, 8, 3), 0, 255))
    skin_a = np.asarray(skin)
    brow = tuple(np.clip(np.minimum(np.asarray(hair) * 0.8, skin_a * 0.45), 0, 255))
    lip = tuple(np.clip(skin_a * np.array([0.72, 0.7, 0.95]) + np.array([5.0, 0.0, 10.0]), 0, 255))
    app = dict(
        skin=skin, hair=hair, hair_volume=0.0 if rng.random() < 0.08 else rng.uniform(0.6, 1.2),
        long_hair=bool(rng.random() < 0.3), fringe=bool(rng.random() < 0.8), brow=brow,
        brow_alpha=rng.uniform(0.7, 0.92),
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


def sample_occluder(rng: np.random.Generator, face: ProjectedFace, scheme_points: np.ndarray) -> Occluder:
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

