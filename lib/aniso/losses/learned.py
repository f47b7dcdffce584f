"""An anisotropic loss whose per-point covariances are estimated from the training labels.

Instead of assuming the paper's ellipses (``a`` along the contour, ``b``
across, circles at corners), :func:`learned_covariances` measures, for every
landmark, how the training labels scatter around the mean shape once pose
and size are removed, and the loss weighs each error by the inverse of that
scatter. Coordinates in pixels of the network input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType

import numpy as np
import torch
from torch import Tensor, nn

from aniso.sampling import procrustes_align
from aniso.topology import Scheme, as_scheme

from .anisotropic import ANISOTROPIC_DEFAULTS, anisotropic_weights
from .common import check_pair, check_points, reduce_points, safe

__all__ = ["LEARNED_DEFAULTS", "LearnedCovariance", "learned_covariances", "mean_to_target_rotation",
           "learned_anisotropic_loss", "LearnedAnisotropicLoss"]

#: Regularisation of the estimated covariances (see :func:`learned_covariances`).
LEARNED_DEFAULTS = MappingProxyType({"shrinkage": 0.1, "floor": 0.05})
_L = LEARNED_DEFAULTS


@dataclass(frozen=True)
class LearnedCovariance:
    """Per-point covariances estimated from training labels, and the weights built from them.

    Frames and units: ``mean_shape``, ``residual`` and ``covariance`` are in
    the normalised Procrustes frame (mean shape centred, unit Frobenius norm,
    oriented like the first training shape); ``weights`` have that
    orientation but are in 1/pixel^2 through the normalisation ``factor``.

    Attributes:
        scheme_name: the landmark scheme.
        mean_shape: ``(N, 2)`` Procrustes mean shape.
        residual: ``(N, 2, 2)`` covariance of each point of the aligned
            training shapes around their mean (denominator M - 1).
        covariance: ``(N, 2, 2)`` ``residual`` after shrinkage and floor.
        weights: ``(N, 2, 2)`` ``W_i = factor * covariance_i^-1``.
        factor: the normalisation factor, see :func:`learned_covariances`.
        shrinkage, floor, normalize: the settings used.
    """

    scheme_name: str
    mean_shape: np.ndarray
    residual: np.ndarray
    covariance: np.ndarray
    weights: np.ndarray
    factor: float
    shrinkage: float
    floor: float
    normalize: bool

    def pixel_covariances(self, shape: np.ndarray | None = None) -> np.ndarray:
        """``(N, 2, 2)`` covariances ``W_i^-1`` in pixels^2, the ellipses the loss assumes.

        Comparable with the paper's ``S_i = a^2 t t^T + b^2 (I - t t^T)``
        (the weights are normalised against the paper's). In the mean
        shape's orientation, or rotated into the frame of ``shape`` (an
        ``(N, 2)`` array, pixels) as the loss does for a target.
        """
        cov = np.linalg.inv(self.weights)
        if shape is None:
            return cov
        z = torch.as_tensor(np.asarray(shape, dtype=np.float64)[None])
        cos, sin = (v.item() for v in mean_to_target_rotation(torch.as_tensor(self.mean_shape), z))
        rot = np.array([[cos, -sin], [sin, cos]])
        return rot @ cov @ rot.T


def _check_settings(where: str, shrinkage: float, floor: float) -> None:
    if not isinstance(shrinkage, Real) or not 0.0 <= shrinkage <= 1.0:
        raise ValueError(f"{where}: shrinkage must be a number in [0, 1], got {shrinkage!r}")
    if not isinstance(floor, Real) or not math.isfinite(floor) or floor <= 0:
        raise ValueError(f"{where}: floor must be a finite number > 0, got {floor!r}")


def _check_train_shapes(train_shapes, n_points: int) -> np.ndarray:
    s = np.asarray(train_shapes, dtype=np.float64)
    if s.ndim != 3 or s.shape[1:] != (n_points, 2) or s.shape[0] < 2:
        raise ValueError(f"learned_covariances: train_shapes must be an (M, {n_points}, 2) array of training "
                         f"labels in pixels with M >= 2, got shape {s.shape}")
    bad = ~np.isfinite(s).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"learned_covariances: train_shapes index {np.flatnonzero(bad)[:10].tolist()} "
                         "holds NaN or inf")
    return s


def learned_covariances(
    train_shapes: np.ndarray,
    scheme: Scheme | str,
    shrinkage: float = _L["shrinkage"],
    floor: float = _L["floor"],
    normalize: bool | None = None,
) -> LearnedCovariance:
    """Estimate every landmark's 2x2 covariance from the training labels.

    1. Align the ``(M, N, 2)`` training labels (pixels) with generalised
       Procrustes (:func:`aniso.sampling.procrustes_align`: translation,
       scale, rotation removed; normalised frame).
    2. ``residual_i`` = covariance of point i of the aligned shapes around
       their mean (denominator M - 1). This is the SHAPE residual, how the
       labels themselves vary (identity, expression, the pose that a
       similarity cannot remove, annotation noise), not a MODEL residual
       (the errors of a trained network): the loss uses label variability as
       its prior on where a point may move.
    3. Regularise: shrink towards the isotropic matrix of the same trace,
       ``(1 - shrinkage) R_i + shrinkage (trace(R_i) / 2) I``, then raise
       every eigenvalue to at least ``floor`` times the mean over points of
       ``trace(R_i) / 2`` (a point that never moves would otherwise get an
       infinite weight). Defaults :data:`LEARNED_DEFAULTS`: 0.1 and 0.05.
    4. ``W_i = k S_i^-1`` with one factor ``k`` for all points, chosen so
       that the mean over points of ``trace(W_i)`` equals that of the
       paper's weights (:func:`aniso.losses.anisotropic_weights` at its
       defaults a = 6, b = 3 px) on the mean shape, about 0.36 / px^2 for
       300W; with ``normalize=True`` it equals 2 (L2's ``trace(I)``). The
       weights are then in 1/pixel^2, and the loss has the paper's overall
       scale (or L2's), only distributed by the data.

    Raises:
        ValueError: train_shapes not ``(M, N, 2)`` with ``M >= 2`` and N the
            scheme's, non-finite values, shapes without extent or variation,
            shrinkage outside [0, 1], floor not > 0.
    """
    sch = as_scheme(scheme)
    _check_settings("learned_covariances", shrinkage, floor)
    s = _check_train_shapes(train_shapes, sch.n_points)
    aligned, mean_shape = procrustes_align(s)
    r = aligned - aligned.mean(axis=0)
    residual = np.einsum("mni,mnj->nij", r, r) / (len(s) - 1)
    iso = np.trace(residual, axis1=1, axis2=2) / 2.0
    if not iso.mean() > 0:
        raise ValueError("learned_covariances: the training shapes do not vary after alignment; "
                         "no covariance can be estimated")
    eye = np.eye(2)
    shrunk = (1.0 - shrinkage) * residual + shrinkage * iso[:, None, None] * eye
    lam, vec = np.linalg.eigh(shrunk)
    lam = np.maximum(lam, floor * iso.mean())
    covariance = np.einsum("nij,nj,nkj->nik", vec, lam, vec)
    inverse = np.einsum("nij,nj,nkj->nik", vec, 1.0 / lam, vec)
    if normalize:
        goal = 2.0
    else:
        paper = anisotropic_weights(torch.as_tensor(mean_shape[None]), sch, **ANISOTROPIC_DEFAULTS)
        goal = float(paper.diagonal(dim1=-2, dim2=-1).sum(-1).mean())
    factor = goal / float(np.trace(inverse, axis1=1, axis2=2).mean())
    return LearnedCovariance(sch.name, mean_shape, residual, covariance, factor * inverse, factor,
                             float(shrinkage), float(floor), bool(normalize))


def mean_to_target_rotation(mean_shape: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos, sin)``, each ``(B,)``, of the rotation of the least-squares similarity
    taking ``mean_shape`` ``(N, 2)`` onto each ``target`` ``(B, N, 2)`` (pixels).

    In complex form the similarity's factor is ``sum_i conj(m_i) (z_i - zbar)``
    (``m`` centred or not: the centred target sums to 0); its phase is the
    rotation. Identity where that factor vanishes (a target with all points at
    one place, or unrelated to the mean shape).
    """
    zc = target - target.mean(dim=1, keepdim=True)
    mx, my = mean_shape[..., 0], mean_shape[..., 1]
    c = (mx * zc[..., 0] + my * zc[..., 1]).sum(dim=-1)
    s = (mx * zc[..., 1] - my * zc[..., 0]).sum(dim=-1)
    r2 = c * c + s * s
    ok = r2 > torch.finfo(target.dtype).eps * (zc * zc).sum(dim=(-1, -2))
    norm = torch.sqrt(safe(ok, r2))
    return torch.where(ok, c / norm, torch.ones_like(c)), torch.where(ok, s / norm, torch.zeros_like(s))


def _learned_from_tensors(pred: Tensor, target: Tensor, mean_shape: Tensor, weights: Tensor) -> Tensor:
    cos, sin = mean_to_target_rotation(mean_shape, target)
    cos, sin = cos[:, None], sin[:, None]
    d = pred - target
    # The error in the mean shape's orientation, R^T d, where the weights live:
    # d^T (R W R^T) d = (R^T d)^T W (R^T d).
    u = cos * d[..., 0] + sin * d[..., 1]
    v = cos * d[..., 1] - sin * d[..., 0]
    q = weights[:, 0, 0] * u * u + 2.0 * weights[:, 0, 1] * u * v + weights[:, 1, 1] * v * v
    return reduce_points(q)


def learned_anisotropic_loss(pred: Tensor, target: Tensor, covariance: LearnedCovariance) -> Tensor:
    """Mahalanobis cost with data-driven weights: ``mean_b sum_i d_i^T (R_b W_i R_b^T) d_i``.

    ``d_i = pred_i - target_i`` in pixels, ``W_i`` from
    :func:`learned_covariances` (``covariance.weights``, in the mean shape's
    orientation) and ``R_b`` the rotation of the similarity taking the mean
    shape onto target ``b`` (:func:`mean_to_target_rotation`): the
    covariances were measured in the aligned frame, so they are turned with
    each face. Only the rotation is applied, not the similarity's scale: like
    the paper's ``a`` and ``b``, the weights are in fixed 1/pixel^2 (faces
    are cropped to the input size), so the loss scales with the squared error
    in pixels. Invariant to rotating and translating pred and target together.

    Scale: by construction the mean over points of ``trace(W_i)`` is the
    paper's (``normalize=False``, about 0.36 / px^2 for 300W, 5.6 times below
    L2's 2) or L2's 2 (``normalize=True``);
    within that budget a point whose labels vary ``s`` times more in some
    direction gets ``s^2`` times less weight there.

    Args:
        pred, target: ``(B, N, 2)`` pixels, same dtype, N = the scheme's points.
        covariance: the estimate from :func:`learned_covariances`.
    """
    check_pair(pred, target, "learned_anisotropic_loss")
    check_points(target, len(covariance.weights), "learned_anisotropic_loss")
    kw = dict(dtype=target.dtype, device=target.device)
    return _learned_from_tensors(pred, target, torch.as_tensor(covariance.mean_shape, **kw),
                                 torch.as_tensor(covariance.weights, **kw))


class LearnedAnisotropicLoss(nn.Module):
    """Module form of :func:`learned_anisotropic_loss`, estimating the covariances once at construction.

    Built by ``make_loss("learned_anisotropic", scheme=..., train_shapes=...)``
    with ``train_shapes`` the ``(M, N, 2)`` training labels in pixels. The
    estimate is kept as :attr:`covariance`; its mean shape and weights are
    float64 (non-persistent) buffers, cast to the input's dtype per call.
    """

    mean_shape: Tensor
    weights: Tensor

    def __init__(
        self,
        scheme: Scheme | str,
        train_shapes: np.ndarray,
        shrinkage: float = _L["shrinkage"],
        floor: float = _L["floor"],
        normalize: bool | None = None,
    ) -> None:
        super().__init__()
        self.covariance = learned_covariances(train_shapes, scheme, shrinkage, floor, normalize)
        self.n_points = len(self.covariance.weights)
        self.register_buffer("mean_shape", torch.as_tensor(self.covariance.mean_shape), persistent=False)
        self.register_buffer("weights", torch.as_tensor(self.covariance.weights), persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target, "LearnedAnisotropicLoss")
        check_points(target, self.n_points, "LearnedAnisotropicLoss")
        return _learned_from_tensors(pred, target, self.mean_shape.to(target.dtype), self.weights.to(target.dtype))

    def extra_repr(self) -> str:
        c = self.covariance
        return (f"scheme={c.scheme_name!r}, n_points={self.n_points}, shrinkage={c.shrinkage}, floor={c.floor}, "
                f"normalize={c.normalize}, factor={c.factor:.4g}")
