"""Human-like annotation noise: anisotropic along contours, isotropic at corners (:class:`NoiseConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..topology import get_scheme

__all__ = ["NoiseConfig", "annotation_noise"]


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
                raise ValueError(f"NoiseConfig.{name} must be a fraction of the inter-ocular distance in [0, 1], "
                                 f"got {v!r}")
        if self.corners not in ("paper", "extended"):
            raise ValueError(f"NoiseConfig.corners must be 'paper' or 'extended', got {self.corners!r}")


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
        raise ValueError(f"annotation_noise: expected ({scheme.n_points}, 2) landmarks for {scheme_name}, "
                         f"got {clean.shape}")
    t = scheme.unit_tangents(clean, eps=1e-9, fallback=(1.0, 0.0))  # any unit vector where undefined
    n = np.stack([-t[:, 1], t[:, 0]], axis=1)
    e = rng.standard_normal((scheme.n_points, 2))
    aniso = scheme.has_tangent[:, None]
    along = np.where(aniso, noise.along, noise.corner) * iod
    across = np.where(aniso, noise.across, noise.corner) * iod
    return clean + e[:, :1] * along * t + e[:, 1:] * across * n
