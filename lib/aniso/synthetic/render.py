"""Drawing a synthetic face image from a :class:`~aniso.synthetic.face.ProjectedFace`.

Everything is drawn with OpenCV, anti-aliased, at sub-pixel precision (fixed
point with 4 fractional bits), straight from the same projected curves the
landmarks are sampled from, so every landmark sits on a drawn feature: jaw
points on the skin/background (or skin/neck) edge, brow points on the brow's
outline, eye points on the lid lines, pupils at the iris centres, nose points
on the ridge highlight and the nose-base line, lip points on the lip outlines.

Layers, back to front: cluttered background (gradient, low-frequency colour
noise, random shapes, fine texture) -> hair volume -> neck -> skin (the
visible outline) -> far-side eye and brow -> nose -> near-side eye and brow ->
lips -> hair fringe -> directional shading of the head (Lambert on the face
surface's normals, fitted as a smooth field, so it follows yaw and the light)
-> occluder -> exposure, colour cast, blur, sensor noise. Eyes and brows are
clipped to the skin, so features that turn behind the face disappear.

Colours are BGR in 0..255 (OpenCV order). The result is an ``(S, S, 3)``
uint8 BGR image; the generator encodes it (JPEG or PNG).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .face import ProjectedFace
from .raster import ONE, SHIFT, blend, fx, grid, mask_lines, mask_polys, scaled

__all__ = ["Occluder", "Appearance", "RenderResult", "render", "occluder_mask", "SKIN_TONES", "HAIR_COLOURS"]


# Skin tones (BGR), light to dark; the generator interpolates between neighbours.
SKIN_TONES = np.array([
    [196, 214, 246], [170, 194, 236], [150, 176, 225], [128, 156, 210],
    [99, 134, 198], [80, 110, 170], [62, 86, 138], [46, 62, 100],
], dtype=np.float64)
HAIR_COLOURS = np.array([
    [22, 22, 26], [30, 38, 52], [40, 55, 78], [60, 85, 120], [95, 140, 185],
    [140, 145, 150], [40, 60, 140], [200, 200, 205],
], dtype=np.float64)


@dataclass
class Occluder:
    """An object in front of the face.

    ``kind``: ``"hand"``, ``"bar"``, ``"glasses"``, ``"mask"`` or ``"blob"``;
    ``centre`` (x, y) and ``size`` in pixels; ``angle`` in degrees; ``colour``
    BGR. Glasses and masks are placed from the face geometry (``centre`` and
    ``size`` unused).
    """

    kind: str
    centre: tuple = (0.0, 0.0)
    size: float = 10.0
    angle: float = 0.0
    colour: tuple = (60.0, 60.0, 60.0)
    alpha: float = 1.0


@dataclass
class Appearance:
    """Colours, lighting and camera effects of one face (all sampled by the generator).

    Lighting: ``light`` is the unit vector toward the light in the camera frame
    (x right, y down, z away: a light beside the camera is about ``(0, 0, -1)``);
    the head's shade is ``ambient + diffuse * max(0, n . light)``. ``gain``
    and ``tint`` (per-channel BGR factors) change exposure and colour cast.
    ``blur_sigma`` (pixels) is a Gaussian blur, ``motion`` (length in pixels,
    angle in degrees) a motion blur, ``noise_sigma`` grey levels of sensor
    noise. ``makeup`` turns on eye shadow and eyeliner (``eye_shadow`` colour)
    and uses ``lip`` as is (a saturated colour) instead of a natural blend.
    """

    skin: tuple = (150.0, 176.0, 225.0)
    hair: tuple = (30.0, 38.0, 52.0)
    hair_volume: float = 1.0          # 0 = bald, 1 = normal
    long_hair: bool = False
    fringe: bool = True
    brow: tuple = (30.0, 35.0, 45.0)
    brow_alpha: float = 0.85
    iris: tuple = (40.0, 60.0, 90.0)
    sclera: tuple = (228.0, 232.0, 236.0)
    lip: tuple = (110.0, 110.0, 190.0)
    makeup: bool = False
    eye_shadow: tuple = (140.0, 60.0, 120.0)
    light: tuple = (0.2, -0.3, -0.93)
    ambient: float = 0.65
    diffuse: float = 0.45
    gain: float = 1.0
    tint: tuple = (1.0, 1.0, 1.0)
    blur_sigma: float = 0.0
    motion: tuple = (0.0, 0.0)
    noise_sigma: float = 3.0
    occluder: Occluder | None = None
    background_seed: int = 0


@dataclass
class RenderResult:
    """The rendered image and what covers the face.

    ``image``: ``(S, S, 3)`` uint8 BGR. ``occluder``: ``(S, S)`` float32
    coverage of the occluder in [0, 1], or ``None`` without one. ``skin``:
    ``(S, S)`` float32 coverage of the head (skin, nose, lips).
    """

    image: np.ndarray
    occluder: np.ndarray | None
    skin: np.ndarray
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- layers


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A cluttered, non-face background, float32 BGR."""
    yy, xx = grid(size)
    yy, xx = yy / max(size - 1, 1), xx / max(size - 1, 1)
    ang = rng.uniform(0, 2 * np.pi)
    t = (np.cos(ang) * xx + np.sin(ang) * yy)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    c1, c2 = rng.uniform(15, 240, 3), rng.uniform(15, 240, 3)
    img = (c1[None, None] + (c2 - c1)[None, None] * t[..., None]).astype(np.float32)
    g = int(rng.integers(3, 8))
    low = rng.normal(0.0, rng.uniform(10, 45), (g, g, 3)).astype(np.float32)
    img += cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 14))):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 5)
        p = rng.uniform(-0.2, 1.2, 2) * size
        r = rng.uniform(0.04, 0.35) * size
        if kind == 0:
            q = p + rng.uniform(-1, 1, 2) * r * 2
            cv2.rectangle(canvas, tuple(fx(p)), tuple(fx(q)), col, -1, cv2.LINE_AA, SHIFT)
        elif kind == 1:
            cv2.circle(canvas, tuple(fx(p)), int(r * ONE), col, -1, cv2.LINE_AA, SHIFT)
        elif kind == 2:
            cv2.ellipse(canvas, tuple(fx(p)), (int(r * ONE), int(r * rng.uniform(0.2, 1) * ONE)),
                        float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA, SHIFT)
        elif kind == 3:
            q = p + rng.uniform(-1, 1, 2) * r * 3
            cv2.line(canvas, tuple(fx(p)), tuple(fx(q)), col, int(rng.integers(1, max(2, size // 24))),
                     cv2.LINE_AA, SHIFT)
        else:
            pts = p + rng.uniform(-1, 1, (int(rng.integers(3, 7)), 2)) * r
            cv2.fillPoly(canvas, [fx(pts).reshape(-1, 1, 2)], col, cv2.LINE_AA, SHIFT)
    out = canvas.astype(np.float32)
    out += rng.normal(0.0, rng.uniform(2, 9), (size, size, 1)).astype(np.float32)
    sigma = rng.uniform(0.0, 1.6) * size / 128.0
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return out


def _shade_field(face: ProjectedFace, app: Appearance, size: int) -> np.ndarray:
    """Smooth per-pixel shade of the head: Lambert at surface samples, fitted by a quadratic."""
    pts, nrm = face.head.shade_points, face.head.shade_normals
    light = np.asarray(app.light, np.float64)
    light = light / max(np.linalg.norm(light), 1e-9)
    val = app.ambient + app.diffuse * np.clip(nrm @ light, 0.0, None)
    c = pts.mean(axis=0)
    s = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1.0) / 2.0
    u = (pts - c) / s
    A = np.stack([np.ones(len(u)), u[:, 0], u[:, 1], u[:, 0] ** 2, u[:, 0] * u[:, 1], u[:, 1] ** 2], axis=1)
    coef, *_ = np.linalg.lstsq(A, val, rcond=None)
    yy, xx = grid(size)
    gx, gy = (xx - c[0]) / s, (yy - c[1]) / s
    # Outside the samples the quadratic can run away: clamp the coordinates.
    gx, gy = np.clip(gx, -1.3, 1.3), np.clip(gy, -1.3, 1.3)
    field_ = coef[0] + coef[1] * gx + coef[2] * gy + coef[3] * gx**2 + coef[4] * gx * gy + coef[5] * gy**2
    lo, hi = float(val.min()), float(val.max())
    return np.clip(field_, lo - 0.05, hi + 0.05).astype(np.float32)


def _eye_polygon(face: ProjectedFace, k: int) -> np.ndarray:
    return np.concatenate([face.eyes.lids_upper[k], face.eyes.lids_lower[k][1:-1]])


def _draw_eye(img, face, app, k, size, skin_cover, iod):
    up, lo = face.eyes.lids_upper[k], face.eyes.lids_lower[k]
    poly = _eye_polygon(face, k)
    width = float(np.linalg.norm(up[-1] - up[0]))
    clip = skin_cover.astype(np.float32) / 255.0
    if app.makeup:
        # Eye shadow from the upper lid half way up to the brow (both listed image-left to right).
        brow = face.brows.polygons[k]
        brow_lower = brow[len(brow) // 2:][::-1]
        shadow_poly = np.concatenate([up, ((up + brow_lower) / 2.0)[::-1]])
        m = mask_polys(size, [shadow_poly])
        m = cv2.GaussianBlur(m, (0, 0), max(0.6, 0.03 * iod))
        blend(img, (m * clip).astype(np.uint8), app.eye_shadow, 0.55)
    almond = mask_polys(size, [poly])
    almond = (almond.astype(np.float32) * clip).astype(np.uint8)
    blend(img, almond, app.sclera)
    ia = mask_polys(size, [face.eyes.iris[k]])
    iris_cover = (ia.astype(np.float32) * almond / 255.0).astype(np.uint8)
    blend(img, iris_cover, app.iris)
    pa = mask_polys(size, [face.eyes.pupil[k]])
    blend(img, (pa.astype(np.float32) * almond / 255.0).astype(np.uint8), (12, 10, 10))
    # Lid lines: a dark upper lid (lashes), a lighter lower lid, a faint crease.
    lash = 0.07 * width * (2.0 if app.makeup else 1.0)
    m = mask_lines(size, [up], max(1.0, lash))
    blend(img, (m * clip).astype(np.uint8), (22, 20, 24), 0.9)
    m = mask_lines(size, [lo], 1.0)
    blend(img, (m * clip).astype(np.uint8), scaled(app.skin, 0.45), 0.55)
    m = mask_lines(size, [face.eyes.crease[k]], 1.0)
    blend(img, (m * clip).astype(np.uint8), scaled(app.skin, 0.6), 0.3)


def _draw_brow(img, face, app, k, size, skin_cover):
    m = mask_polys(size, [face.brows.polygons[k]])
    m = (m.astype(np.float32) * skin_cover / 255.0).astype(np.uint8)
    blend(img, m, app.brow, app.brow_alpha)


def _draw_nose(img, face, app, size, iod, light):
    skin = np.asarray(app.skin)
    m = mask_polys(size, [face.nose.fill])
    blend(img, m, skin)
    # Side shadows: the side facing away from the light is darker.
    lx = float(light[0])
    for k in range(2):
        away = (k == 0 and lx > 0) or (k == 1 and lx < 0)
        a = 0.45 if away else 0.22
        m = mask_lines(size, [face.nose.sides[k]], max(1.0, 0.07 * iod))
        m = cv2.GaussianBlur(m, (0, 0), max(0.5, 0.025 * iod))
        blend(img, m, scaled(skin, 0.62), a)
    # Ridge highlight along the lower bridge, where the bridge landmarks lie.
    m = mask_lines(size, [face.nose.bridge[3:]], max(1.0, 0.05 * iod))
    m = cv2.GaussianBlur(m, (0, 0), max(0.4, 0.015 * iod))
    blend(img, m, scaled(skin, 1.22), 0.55)
    # The base of the nose and the nostrils.
    m = mask_lines(size, [face.nose.base], max(1.0, 0.035 * iod))
    blend(img, m, scaled(skin, 0.5), 0.65)
    m = mask_polys(size, list(face.nose.nostrils))
    blend(img, m, scaled(skin, 0.3), 0.85)


def _draw_lips(img, face, app, size, iod):
    lip = np.asarray(app.lip, np.float64)
    gap = face.lips.gap_px
    if gap > 0.6:
        m = mask_polys(size, [face.lips.mouth_inner])
        blend(img, m, (30, 22, 45))
        if gap > 2.0:
            # Upper teeth: a band under the inner upper lip, inside the mouth.
            band = np.concatenate([face.lips.inner_upper, face.lips.inner_upper[::-1] + np.array([0.0, 0.35 * gap])])
            t = mask_polys(size, [band])
            blend(img, (t.astype(np.float32) * m / 255.0).astype(np.uint8), (215, 225, 230), 0.95)
    m = mask_polys(size, [face.lips.upper])
    blend(img, m, scaled(lip, 0.85))
    m = mask_polys(size, [face.lips.lower])
    blend(img, m, lip)
    m = mask_lines(size, [face.lips.inner_upper], max(1.0, 0.025 * iod))
    blend(img, m, scaled(lip, 0.4), 0.85)


def occluder_mask(size: int, occ: Occluder, face: ProjectedFace) -> np.ndarray:
    """uint8 coverage (0..255) of ``occ`` over a ``size`` x ``size`` image of ``face``."""
    m = np.zeros((size, size), np.uint8)
    c = np.asarray(occ.centre, np.float64)
    r = float(occ.size)
    ang = np.deg2rad(occ.angle)
    d = np.array([np.cos(ang), np.sin(ang)])
    n = np.array([-d[1], d[0]])
    if occ.kind == "hand":
        cv2.ellipse(m, tuple(fx(c)), (int(0.55 * r * ONE), int(0.45 * r * ONE)), float(occ.angle), 0, 360, 255,
                    -1, cv2.LINE_AA, SHIFT)
        for j, off in enumerate((-0.36, -0.12, 0.12, 0.36)):
            base = c + d * 0.35 * r + n * off * r
            tip = base + d * (0.75 - 0.12 * abs(j - 1.5)) * r
            cv2.line(m, tuple(fx(base)), tuple(fx(tip)), 255, max(1, int(0.2 * r)), cv2.LINE_AA, SHIFT)
        thumb = c + n * 0.45 * r
        cv2.line(m, tuple(fx(thumb)), tuple(fx(thumb + (n * 0.5 + d * 0.35) * r)), 255, max(1, int(0.2 * r)),
                 cv2.LINE_AA, SHIFT)
    elif occ.kind == "bar":
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (2.2 * r, 0.45 * r), float(occ.angle)))
        cv2.fillPoly(m, [fx(box).reshape(-1, 1, 2)], 255, cv2.LINE_AA, SHIFT)
    elif occ.kind == "glasses":
        lenses = []
        for k in range(2):
            poly = _eye_polygon(face, k)
            ctr = poly.mean(axis=0)
            w = float(np.linalg.norm(face.eyes.lids_upper[k][-1] - face.eyes.lids_upper[k][0]))
            lenses.append((ctr, w))
            cv2.ellipse(m, tuple(fx(ctr)), (int(0.85 * w * ONE), int(0.6 * w * ONE)),
                        float(np.degrees(np.arctan2(*(face.horizontal[::-1])))), 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
        (c0, w0), (c1, _w1) = lenses
        cv2.line(m, tuple(fx(c0)), tuple(fx(c1)), 255, max(1, int(0.12 * w0)), cv2.LINE_AA, SHIFT)
    elif occ.kind == "mask":
        # A face mask from just under the nose tip to below the chin, between the jaw sides.
        jaw = face.head.jaw
        nb = face.nose.base
        top = nb.mean(axis=0) - (face.landmarks.lm68[33] - face.landmarks.lm68[30]) * 0.3
        lower = jaw[12:-12]
        pts = np.concatenate([[jaw[12], top - face.horizontal * 0.2 * np.ptp(jaw[:, 0]), top,
                               top + face.horizontal * 0.2 * np.ptp(jaw[:, 0]), jaw[-13]], lower[::-1]])
        cv2.fillPoly(m, [fx(pts).reshape(-1, 1, 2)], 255, cv2.LINE_AA, SHIFT)
    else:  # blob
        pts = []
        for t in np.linspace(0, 2 * np.pi, 14, endpoint=False):
            rr = r * (0.6 + 0.4 * np.sin(3 * t + occ.angle) ** 2)
            pts.append(c + rr * np.array([np.cos(t), np.sin(t)]))
        cv2.fillPoly(m, [fx(np.asarray(pts)).reshape(-1, 1, 2)], 255, cv2.LINE_AA, SHIFT)
    return m


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    n = max(3, int(np.ceil(length)) | 1)
    k = np.zeros((n, n), np.float32)
    c = (n - 1) / 2.0
    d = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))]) * (length - 1) / 2.0
    cv2.line(k, tuple(fx(np.array([c, c]) - d)), tuple(fx(np.array([c, c]) + d)), 1.0, 1, cv2.LINE_AA, SHIFT)
    s = float(k.sum())
    return k / s if s > 0 else k


# --------------------------------------------------------------------------- the image


def _draw_hair_back(img, face: ProjectedFace, app: Appearance, size: int) -> np.ndarray:
    """Hair volume behind the head (down to the shoulders for long hair); returns its uint8 coverage."""
    hair_back = np.zeros((size, size), np.uint8)
    if app.hair_volume > 0:
        outline = face.head.outline
        ctr = (face.head.head_top + outline.mean(axis=0)) / 2.0
        ax_w = 0.62 * np.ptp(outline[:, 0]) * (0.9 + 0.25 * app.hair_volume)
        ax_h = 0.5 * np.ptp(outline[:, 1]) * (0.75 + 0.2 * app.hair_volume)
        roll = float(face.params.roll)
        cv2.ellipse(hair_back, tuple(fx(ctr - np.array([0.0, 0.1 * ax_h]))), (int(ax_w * ONE), int(ax_h * ONE)),
                    roll, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
        if app.long_hair:
            c2 = outline.mean(axis=0) + np.array([0.0, 0.25 * ax_h])
            cv2.ellipse(hair_back, tuple(fx(c2)), (int(1.02 * ax_w * ONE), int(1.15 * ax_h * ONE)), roll,
                        0, 360, 255, -1, cv2.LINE_AA, SHIFT)
        blend(img, hair_back, app.hair)
    return hair_back


def _draw_head_behind(img, face: ProjectedFace, app: Appearance, size: int) -> None:
    """Neck (in shadow under the jaw), the sides of the head with their hair, and the ears."""
    skin = np.asarray(app.skin, np.float64)
    head = face.head
    dim = app.ambient + 0.5 * app.diffuse
    m = mask_polys(size, [head.neck])
    blend(img, m, scaled(skin, 0.72 * dim))
    m = mask_polys(size, list(head.sides))
    blend(img, m, scaled(skin, 0.8 * dim))
    if app.hair_volume > 0:
        # Hair over the back of the head's sides (all of it for long hair).
        for k in range(2):
            side = head.sides[k]
            n = len(side)
            part = side[1:-1] if app.long_hair else side[1: n // 2 + 2]
            blend(img, mask_polys(size, [np.concatenate([side[:1], part])]), app.hair)
    if not app.long_hair:
        for k in np.argsort(-head.ear_depth):
            m = mask_polys(size, [head.ears[k]])
            blend(img, m, scaled(skin, 0.78 * dim))
            inner = head.ears[k].mean(axis=0) + (head.ears[k] - head.ears[k].mean(axis=0)) * 0.55
            blend(img, mask_lines(size, [inner], 1.0, closed=True), scaled(skin, 0.5 * dim), 0.5)


def _draw_fringe(img, face: ProjectedFace, app: Appearance, size: int, skin_cover, hair_back, iod: float) -> None:
    """Hair fringe over the upper forehead, inside the head or the hair behind it."""
    if not (app.fringe and app.hair_volume > 0):
        return
    hl = face.head.hairline
    outline = face.head.outline
    top = outline[len(face.head.jaw):]
    # Pushed out past the skin's edge so the soft edge of the fringe falls on the hair behind.
    c = outline.mean(axis=0)
    top = c + (top - c) * 1.12
    # The hairline runs image-left to right, the forehead outline back right to left.
    m = mask_polys(size, [np.concatenate([hl, top])])
    m = cv2.GaussianBlur(m, (0, 0), max(0.4, 0.015 * iod))
    m = (m.astype(np.float32) * np.maximum(skin_cover, hair_back) / 255.0).astype(np.uint8)
    blend(img, m, app.hair)


def _draw_occluder_layer(img, face: ProjectedFace, occ: Occluder, size: int) -> np.ndarray:
    """Draw the occluder in front of everything; returns its float32 coverage in [0, 1]."""
    m = occluder_mask(size, occ, face)
    if occ.kind == "glasses":
        blend(img, m, occ.colour, 0.85 * occ.alpha)
    else:
        col = np.asarray(occ.colour, np.float64)
        blend(img, m, col, occ.alpha)
        if occ.kind == "hand":
            # Knuckle and finger lines for some texture.
            g = cv2.GaussianBlur(m, (0, 0), 1.0)
            edge = cv2.subtract(m, g)
            blend(img, edge, scaled(col, 0.6), 0.6)
    return m.astype(np.float32) / 255.0


def _camera(img: np.ndarray, app: Appearance, rng: np.random.Generator) -> np.ndarray:
    """Exposure and colour cast, blur, sensor noise; the uint8 image."""
    img *= np.asarray(app.tint, np.float32) * np.float32(app.gain)
    if app.motion[0] > 1.0:
        img = cv2.filter2D(img, -1, _motion_kernel(app.motion[0], app.motion[1]))
    if app.blur_sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), app.blur_sigma)
    if app.noise_sigma > 0:
        img += rng.normal(0.0, app.noise_sigma, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def render(face: ProjectedFace, app: Appearance, size: int) -> RenderResult:
    """Draw ``face`` with ``app`` into a ``size`` x ``size`` BGR image (layers: module docstring)."""
    if size < 16:
        raise ValueError(f"render: image size must be at least 16 pixels, got {size}")
    rng = np.random.default_rng(app.background_seed)
    img = _background(size, rng)
    iod = max(face.iod_px, 1.0)
    hair_back = _draw_hair_back(img, face, app, size)
    _draw_head_behind(img, face, app, size)
    skin_cover = mask_polys(size, [face.head.outline])
    blend(img, skin_cover, np.asarray(app.skin, np.float64))

    # Features, far side first so that the nose hides what it should.
    far = int(np.argmax(face.eyes.depth))
    near = 1 - far
    _draw_brow(img, face, app, far, size, skin_cover)
    _draw_eye(img, face, app, far, size, skin_cover, iod)
    _draw_nose(img, face, app, size, iod, np.asarray(app.light, np.float64))
    _draw_brow(img, face, app, near, size, skin_cover)
    _draw_eye(img, face, app, near, size, skin_cover, iod)
    _draw_lips(img, face, app, size, iod)

    # Head coverage (for shading and for the caller): skin, nose, lips; then the head's directional shading.
    head = np.maximum(skin_cover, mask_polys(size, [face.nose.fill, face.lips.upper, face.lips.lower]))
    shade = _shade_field(face, app, size)
    a = head.astype(np.float32)[..., None] / 255.0
    img *= (1.0 - a) + a * shade[..., None]

    _draw_fringe(img, face, app, size, skin_cover, hair_back, iod)
    occ_cover = None if app.occluder is None else _draw_occluder_layer(img, face, app.occluder, size)
    out = _camera(img, app, rng)
    return RenderResult(image=out, occluder=occ_cover, skin=head.astype(np.float32) / 255.0)
