"""Landmark schemes: curves, corners, mirror maps and normalisation indices.

Three schemes are defined, all 0-based:

* ``"300w"``: the 68-point iBUG/300W markup.
* ``"wflw"``: the 98-point WFLW markup.
* ``"aflw"``: the 19-point AFLW-Full markup.

Facts (curves, flip maps, eye indices) are summarised in ``docs/DATA.md``, which
collects them from the public releases and from the code of HRNet, PIPNet,
AdaptiveWingLoss and mmpose.

The anisotropic loss needs, for every point, the two neighbours whose
difference gives the tangent of its curve. :class:`Scheme` precomputes them as
two index arrays (``tangent_prev``, ``tangent_next``) so that the loss is one
vectorised gather: ``t_i = z[next_i] - z[prev_i]``. For an interior point of
a curve these are its two neighbours; at the ends of an open curve one of them
is the point itself (the one-sided tangent of the paper); on a closed curve
the neighbours wrap around. Corners and points on no curve have
``has_tangent[i] = False`` and get the identity weight.

Corners (a choice, documented here and in ``docs/DATA.md``): the paper names the eye
corners and the mouth corners as the well-defined points that keep W = I. We
take exactly those by default (``corners="paper"``). ``corners="extended"``
adds the nose tip and the ends of open curves (jaw, brows, nose), the variant
worth an ablation. For the 19-point scheme the "eye corners" are 6, 8, 9, 11
and the mouth corners 15, 17.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Curve", "Scheme", "get_scheme", "as_scheme", "SCHEME_NAMES"]


@dataclass(frozen=True)
class Curve:
    """An ordered run of landmark indices along one facial contour.

    ``closed`` curves (eyes, lips, WFLW brows) wrap around: the last point's
    next neighbour is the first.
    """

    name: str
    indices: tuple[int, ...]
    closed: bool


@dataclass(frozen=True)
class Scheme:
    """A landmark markup.

    Attributes:
        name: ``"300w"``, ``"wflw"`` or ``"aflw"``.
        n_points: number of landmarks N.
        curves: disjoint contours, each a :class:`Curve`.
        corners: indices whose anisotropic weight stays the identity.
        mirror: horizontal-flip map; after a flip, new point ``i`` is old
            point ``mirror[i]``. Its own inverse.
        ocular: the two outer eye corners (inter-ocular distance).
        pupils: two tuples of indices whose means are the eye centres
            (inter-pupil distance).
        pose_component: which principal component of Procrustes-aligned
            shapes carries yaw (0 for 68/98 points, 1 for AFLW-19, as in
            Wing loss's reference code).
        tangent_prev, tangent_next: per-point neighbour indices, see module
            docstring. ``has_tangent`` marks points that get an anisotropic
            weight.
    """

    name: str
    n_points: int
    curves: tuple[Curve, ...]
    corners: tuple[int, ...]
    mirror: tuple[int, ...]
    ocular: tuple[int, int]
    pupils: tuple[tuple[int, ...], tuple[int, ...]]
    pose_component: int
    tangent_prev: np.ndarray = field(repr=False, compare=False, default=None)
    tangent_next: np.ndarray = field(repr=False, compare=False, default=None)
    has_tangent: np.ndarray = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        n = self.n_points
        if len(self.mirror) != n or sorted(self.mirror) != list(range(n)):
            raise ValueError(f"scheme {self.name!r}: mirror map is not a permutation of 0..{n - 1}")
        mirror = np.asarray(self.mirror)
        if not np.array_equal(mirror[mirror], np.arange(n)):
            raise ValueError(f"scheme {self.name!r}: mirror map is not its own inverse")
        seen: set[int] = set()
        prev = np.arange(n)
        nxt = np.arange(n)
        on_curve = np.zeros(n, dtype=bool)
        for curve in self.curves:
            idx = list(curve.indices)
            if len(idx) < 2:
                raise ValueError(f"scheme {self.name!r}: curve {curve.name!r} has fewer than 2 points")
            overlap = seen.intersection(idx)
            if overlap or len(set(idx)) != len(idx):
                raise ValueError(f"scheme {self.name!r}: curve {curve.name!r} repeats points {sorted(overlap)}")
            if min(idx) < 0 or max(idx) >= n:
                raise ValueError(f"scheme {self.name!r}: curve {curve.name!r} has an index outside 0..{n - 1}")
            seen.update(idx)
            m = len(idx)
            for k, i in enumerate(idx):
                if curve.closed:
                    prev[i] = idx[(k - 1) % m]
                    nxt[i] = idx[(k + 1) % m]
                else:
                    prev[i] = idx[max(k - 1, 0)]
                    nxt[i] = idx[min(k + 1, m - 1)]
                on_curve[i] = True
        has = on_curve.copy()
        has[list(self.corners)] = False
        for arr in (prev, nxt, has):
            arr.setflags(write=False)
        object.__setattr__(self, "tangent_prev", prev)
        object.__setattr__(self, "tangent_next", nxt)
        object.__setattr__(self, "has_tangent", has)

    @property
    def contour_points(self) -> np.ndarray:
        """Indices of the points with an anisotropic weight."""
        return np.flatnonzero(self.has_tangent)

    def unit_tangents(self, shapes: np.ndarray, eps: float = 1e-9, fallback=(0.0, 0.0)) -> np.ndarray:
        """Unit vectors ``(..., N, 2)`` from each point's ``tangent_prev`` to its ``tangent_next`` neighbour.

        ``shapes`` is ``(..., N, 2)`` in pixels. Where the two neighbours are
        closer than ``eps`` (or coincide: points with no neighbour) the
        ``fallback`` vector is returned. Corners are not masked here: use
        :attr:`has_tangent` for that.
        """
        z = np.asarray(shapes, dtype=np.float64)
        if z.shape[-2:] != (self.n_points, 2):
            raise ValueError(f"unit_tangents: expected (..., {self.n_points}, 2) shapes, got {z.shape}")
        t = z[..., self.tangent_next, :] - z[..., self.tangent_prev, :]
        norm = np.linalg.norm(t, axis=-1, keepdims=True)
        return np.where(norm > eps, t / np.maximum(norm, 1e-12), np.asarray(fallback, dtype=np.float64))

    def flip(self, landmarks: np.ndarray, width: float) -> np.ndarray:
        """Mirror ``(..., N, 2)`` pixel landmarks in an image ``width`` pixels wide.

        Pixel centres are at integer coordinates, so x maps to ``width - 1 - x``;
        the points are then renumbered with :attr:`mirror`.
        """
        pts = np.asarray(landmarks, dtype=float)
        if pts.shape[-2:] != (self.n_points, 2):
            raise ValueError(f"flip: expected (..., {self.n_points}, 2) landmarks, got {pts.shape}")
        out = pts[..., list(self.mirror), :].copy()
        out[..., 0] = (width - 1) - out[..., 0]
        return out


def _r(a: int, b: int) -> tuple[int, ...]:
    """Inclusive index range a..b."""
    return tuple(range(a, b + 1))


FLIP68 = (16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
          27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
          54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65)
FLIP98 = (32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
          6, 5, 4, 3, 2, 1, 0, 46, 45, 44, 43, 42, 50, 49, 48, 47, 37, 36, 35, 34, 33, 41, 40, 39, 38,
          51, 52, 53, 54, 59, 58, 57, 56, 55, 72, 71, 70, 69, 68, 75, 74, 73, 64, 63, 62, 61, 60, 67, 66, 65,
          82, 81, 80, 79, 78, 77, 76, 87, 86, 85, 84, 83, 92, 91, 90, 89, 88, 95, 94, 93, 97, 96)
FLIP19 = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 14, 13, 12, 17, 16, 15, 18)

_CURVES = {
    "300w": (
        Curve("jaw", _r(0, 16), False),
        Curve("right_brow", _r(17, 21), False),
        Curve("left_brow", _r(22, 26), False),
        Curve("nose_bridge", _r(27, 30), False),
        Curve("lower_nose", _r(31, 35), False),
        Curve("right_eye", _r(36, 41), True),
        Curve("left_eye", _r(42, 47), True),
        Curve("outer_lip", _r(48, 59), True),
        Curve("inner_lip", _r(60, 67), True),
    ),
    "wflw": (
        Curve("contour", _r(0, 32), False),
        Curve("right_brow", _r(33, 41), True),
        Curve("left_brow", _r(42, 50), True),
        Curve("nose_bridge", _r(51, 54), False),
        Curve("lower_nose", _r(55, 59), False),
        Curve("right_eye", _r(60, 67), True),
        Curve("left_eye", _r(68, 75), True),
        Curve("outer_lip", _r(76, 87), True),
        Curve("inner_lip", _r(88, 95), True),
    ),
    # No public contour definition for AFLW-19; the Adaptive Wing code draws
    # these short lines (brows, eyes, nose). Mouth and chin stand alone.
    "aflw": (
        Curve("right_brow", _r(0, 2), False),
        Curve("left_brow", _r(3, 5), False),
        Curve("right_eye", _r(6, 8), False),
        Curve("left_eye", _r(9, 11), False),
        Curve("nose", _r(12, 14), False),
    ),
}

_PAPER_CORNERS = {
    "300w": (36, 39, 42, 45, 48, 54, 60, 64),
    "wflw": (60, 64, 68, 72, 76, 82, 88, 92),
    "aflw": (6, 8, 9, 11, 15, 17),
}
_NOSE_TIP = {"300w": 30, "wflw": 54, "aflw": 13}

_SPEC = {
    "300w": dict(n_points=68, mirror=FLIP68, ocular=(36, 45), pupils=(_r(36, 41), _r(42, 47)), pose_component=0),
    "wflw": dict(n_points=98, mirror=FLIP98, ocular=(60, 72), pupils=((96,), (97,)), pose_component=0),
    "aflw": dict(n_points=19, mirror=FLIP19, ocular=(6, 11), pupils=((7,), (10,)), pose_component=1),
}

SCHEME_NAMES = tuple(_SPEC)
_ALIASES = {"300w": "300w", "300-w": "300w", "ibug": "300w", "wflw": "wflw", "aflw": "aflw", "aflw-full": "aflw"}
_CACHE: dict[tuple[str, str], Scheme] = {}


def get_scheme(name: str, corners: str = "paper") -> Scheme:
    """Return the landmark scheme ``"300w"`` (68), ``"wflw"`` (98) or ``"aflw"`` (19).

    ``corners="paper"`` keeps W = I for eye and mouth corners only (the
    paper's wording); ``"extended"`` also for the nose tip and the end points
    of every open curve.
    """
    key = _ALIASES.get(str(name).lower())
    if key is None:
        raise ValueError(f"unknown landmark scheme {name!r}: expected one of {', '.join(SCHEME_NAMES)}")
    if corners not in ("paper", "extended"):
        raise ValueError(f"unknown corners choice {corners!r}: expected 'paper' or 'extended'")
    cached = _CACHE.get((key, corners))
    if cached is not None:
        return cached
    curves = _CURVES[key]
    cset = set(_PAPER_CORNERS[key])
    if corners == "extended":
        cset.add(_NOSE_TIP[key])
        for c in curves:
            if not c.closed:
                cset.update((c.indices[0], c.indices[-1]))
    scheme = Scheme(name=key, curves=curves, corners=tuple(sorted(cset)), **_SPEC[key])
    _CACHE[(key, corners)] = scheme
    return scheme


def as_scheme(scheme: Scheme | str) -> Scheme:
    """``scheme`` itself if it is a :class:`Scheme`, else :func:`get_scheme` of that name.

    The one place where "a Scheme or its name" is turned into a Scheme, so
    that every function taking a scheme accepts both and fails alike.

    Raises:
        ValueError: an unknown name, or something that is neither a Scheme nor a string.
    """
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str):
        return get_scheme(scheme)
    raise ValueError(
        f"expected an aniso.topology.Scheme or a scheme name ({', '.join(SCHEME_NAMES)}), "
        f"got {type(scheme).__name__}: {scheme!r}"
    )
