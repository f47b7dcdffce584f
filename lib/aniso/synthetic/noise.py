"""Human-like annotation error (:class:`NoiseConfig`), and the named error models of the calibration.

Today's benchmark (every option below off) draws each point's error independently: anisotropic along a contour,
isotropic at corners. Real annotation error is not like that, and the options model what re-annotation and
annotator-style studies of 300W and WFLW report (Dong et al., Style Aggregated Network, CVPR 2018; Liu et al.,
Semantic Alignment, CVPR 2019; Xiang et al., The Blessing and the Curse of the Noise behind Facial Landmark
Annotations, 2020):

* ``hidden``: a point hidden by an occluder or by the head's own turn is guessed, not seen: its error is replaced by
  a larger isotropic one.
* ``gross_rate`` / ``gross``: now and then a point is simply wrong: its error is replaced by a large isotropic one.
* ``jaw_rate`` / ``jaw_shift``: now and then a face's whole jaw contour is misplaced: one common offset.
* ``groups`` / ``style``: annotators differ systematically: each face is annotated by one of ``groups`` groups,
  and each group slides the jaw and the eyebrow contours along themselves by offsets of its own (the same for
  every face it annotates).
* ``correlation``: along a contour an annotator's errors are not independent: the along-contour error is a
  Gaussian process over the point index (squared-exponential kernel, length ``correlation`` points), with the
  same marginal standard deviation as today's.

Every option draws from the face's generator after today's draws, and only when it is on, so a tree with every
option off is byte for byte today's. :data:`ERROR_MODELS` names the candidates that ``docs/CALIBRATION.md``
declared before the first calibration run.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..topology import get_scheme

__all__ = ["NoiseConfig", "annotation_noise", "ERROR_MODELS", "error_model", "group_styles", "STYLE_SEED"]

#: Seed of the annotator groups' style offsets: the same groups in every tree.
STYLE_SEED = 24


def _fraction(name: str, v) -> None:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError(f"NoiseConfig.{name} must be in [0, 1], got {v!r}")


@dataclass(frozen=True)
class NoiseConfig:
    """Annotation error; standard deviations are fractions of the inter-ocular distance (IOD).

    Independent part (today's benchmark): ``along``/``across`` the contour tangent for contour points;
    ``corner``: isotropic, for the scheme's corners and points on no curve; ``corners``: which corner set of
    :func:`aniso.topology.get_scheme` (``"paper"`` or ``"extended"``) keeps isotropic noise.

    Annotator error (module docstring; 0 = off): ``hidden``: sd of a hidden point's guess; ``gross_rate``: the
    probability that a point's error is a gross one of sd ``gross``; ``jaw_rate``: the probability that a face's
    jaw contour is shifted by a common offset of sd ``jaw_shift``; ``groups``: annotator groups, whose slides of
    the jaw and eyebrow contours have sd ``style``; ``correlation``: the along-contour correlation length, points.
    """

    along: float = 0.04
    across: float = 0.01
    corner: float = 0.01
    corners: str = "paper"
    hidden: float = 0.0
    gross_rate: float = 0.0
    gross: float = 0.20
    jaw_rate: float = 0.0
    jaw_shift: float = 0.10
    groups: int = 0
    style: float = 0.03
    correlation: float = 0.0

    def __post_init__(self) -> None:
        for name in ("along", "across", "corner", "hidden", "gross_rate", "gross", "jaw_rate", "jaw_shift", "style"):
            _fraction(name, getattr(self, name))
        if self.corners not in ("paper", "extended"):
            raise ValueError(f"NoiseConfig.corners must be 'paper' or 'extended', got {self.corners!r}")
        if isinstance(self.groups, bool) or not isinstance(self.groups, int) or not 0 <= self.groups <= 1000:
            raise ValueError(f"NoiseConfig.groups must be an integer number of annotator groups in [0, 1000] "
                             f"(0: no styles), got {self.groups!r}")
        c = self.correlation
        if not (isinstance(c, (int, float)) and math.isfinite(c) and 0.0 <= c <= 100.0):
            raise ValueError(f"NoiseConfig.correlation must be a length in points in [0, 100] (0: independent), "
                             f"got {c!r}")

    @property
    def annotators(self) -> bool:
        """Whether any annotator-error option is on (else the errors are today's independent ones)."""
        return bool(self.hidden or self.gross_rate or self.jaw_rate or self.groups or self.correlation)


_N1 = dict(hidden=0.08)
_N2A = dict(gross_rate=0.05, gross=0.20, jaw_rate=0.02, jaw_shift=0.10)
_N3 = dict(groups=4, style=0.03, correlation=4.0)

#: The error models of the calibration (``docs/CALIBRATION.md``, fixed there before any calibration run): N0 is
#: today's benchmark.
ERROR_MODELS: dict[str, NoiseConfig] = {
    "N0": NoiseConfig(),
    "N1": NoiseConfig(**_N1),
    "N2a": NoiseConfig(**_N2A),
    "N2b": NoiseConfig(**dict(_N2A, gross_rate=0.10, jaw_rate=0.04)),
    "N3": NoiseConfig(**_N3),
    "N4": NoiseConfig(**_N1, **_N2A, **_N3),
}


def error_model(name: str) -> NoiseConfig:
    """The named error model; a clear error naming the known ones otherwise."""
    if name not in ERROR_MODELS:
        raise ValueError(f"unknown annotation-error model {name!r}: expected one of {', '.join(ERROR_MODELS)}")
    return ERROR_MODELS[name]


def annotation_noise(clean: np.ndarray, scheme_name: str, iod: float, noise: NoiseConfig,
                     rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
    """``clean`` (N, 2) pixels plus annotation error (see :class:`NoiseConfig`).

    The tangent of point i is ``clean[next_i] - clean[prev_i]`` (the scheme's neighbour maps); contour points get
    ``along * iod`` along it and ``across * iod`` across it, the others ``corner * iod`` in both axes. ``hidden``:
    (N,) bool, the points an annotator cannot see (only ``noise.hidden`` uses it).
    """
    scheme = get_scheme(scheme_name, corners=noise.corners)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.shape != (scheme.n_points, 2):
        raise ValueError(f"annotation_noise: expected ({scheme.n_points}, 2) landmarks for {scheme_name}, "
                         f"got {clean.shape}")
    t = scheme.unit_tangents(clean, eps=1e-9, fallback=(1.0, 0.0))  # any unit vector where undefined
    n = np.stack([-t[:, 1], t[:, 0]], axis=1)
    e = rng.standard_normal((scheme.n_points, 2))
    aniso = scheme.has_tangent[:, None]
    along = np.where(aniso, noise.along, noise.corner) * iod
    across = np.where(aniso, noise.across, noise.corner) * iod
    if not noise.annotators:
        return clean + e[:, :1] * along * t + e[:, 1:] * across * n
    if noise.correlation:
        e[:, 0] = _correlated_along(scheme, e[:, 0], noise.correlation, rng)
    out = clean + e[:, :1] * along * t + e[:, 1:] * across * n
    return _annotator_errors(out, clean, scheme, t, iod, noise, rng, hidden)


def _correlated_along(scheme, e_along: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """The along-contour standard normals replaced, curve by curve, by a Gaussian process over the point index
    (unit variance; squared-exponential kernel of ``length`` points, its periodic form on a closed curve)."""
    out = e_along.copy()
    for curve in scheme.curves:
        idx = np.asarray(curve.indices)
        out[idx] = _kernel_root(len(idx), curve.closed, float(length)) @ rng.standard_normal(len(idx))
    return out


@functools.lru_cache(maxsize=None)
def _kernel_root(n: int, closed: bool, length: float) -> np.ndarray:
    """Lower Cholesky factor of the (n, n) kernel. A closed curve's kernel is the periodic one,
    exp(-2 sin^2(pi d / n) / l^2) with l = 2 pi length / n, the squared-exponential kernel near d = 0 and positive
    definite where the squared-exponential kernel of a wrapped distance is not. Cholesky, not an eigen-
    decomposition: it is unique, so no eigenvector's sign can differ between LAPACK builds."""
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(np.float64)
    if closed:
        k = np.exp(-2.0 * np.sin(np.pi * d / n) ** 2 / (2.0 * np.pi * length / n) ** 2)
    else:
        k = np.exp(-0.5 * (d / length) ** 2)
    return np.linalg.cholesky(k + 1e-6 * np.eye(n))  # jitter: the kernel is numerically singular


def _jaw(scheme) -> np.ndarray:
    """The jaw contour's points (AFLW has none: its chin)."""
    names = {c.name: c for c in scheme.curves}
    for name in ("jaw", "contour"):
        if name in names:
            return np.asarray(names[name].indices)
    return np.array([scheme.n_points - 1])  # AFLW-19: point 18, the chin


def _brows(scheme) -> np.ndarray:
    return np.concatenate([np.asarray(c.indices) for c in scheme.curves if "brow" in c.name])


def group_styles(groups: int) -> np.ndarray:
    """(groups, 2) standard normal slides (jaw, eyebrows) of each annotator group: fixed by :data:`STYLE_SEED`."""
    return np.random.default_rng(STYLE_SEED).standard_normal((groups, 2))


def _annotator_errors(out, clean, scheme, t, iod, noise: NoiseConfig, rng, hidden) -> np.ndarray:
    """Styles, hidden points' guesses, gross errors and jaw shifts on top of the independent errors ``out``."""
    out = out.copy()
    if noise.groups:
        slide = group_styles(noise.groups)[int(rng.integers(noise.groups))] * noise.style * iod
        for k, idx in enumerate((_jaw(scheme), _brows(scheme))):
            out[idx] += slide[k] * t[idx]
    if noise.hidden and hidden is not None:
        guess = clean + rng.standard_normal(clean.shape) * noise.hidden * iod
        out = np.where(np.asarray(hidden, dtype=bool)[:, None], guess, out)
    if noise.gross_rate:
        wrong = rng.random(len(clean)) < noise.gross_rate
        gross = clean + rng.standard_normal(clean.shape) * noise.gross * iod
        out = np.where(wrong[:, None], gross, out)
    if noise.jaw_rate:
        shifted, offset = rng.random() < noise.jaw_rate, rng.standard_normal(2) * noise.jaw_shift * iod
        if shifted:
            out[_jaw(scheme)] += offset
    return out

