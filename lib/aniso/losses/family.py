"""Variants of the anisotropic cost: ADNet's direction loss and an anisotropic Wing.

Both take ``(B, N, 2)`` landmarks in pixels of the network input, a landmark
scheme for the contour neighbours, and reduce like every loss here: sum over
the points of an image, mean over the batch.
"""

from __future__ import annotations

from types import MappingProxyType

import torch
from torch import Tensor

from aniso.topology import Scheme

from .anisotropic import ANISOTROPIC_DEFAULTS, SchemeLoss, anisotropic_quadratic
from .common import (
    REFERENCE_INPUT_SIZE,
    check_pair,
    check_points,
    check_positive,
    reduce_points,
    safe,
    safe_sqrt,
    scheme_indices,
)
from .wing import WING_DEFAULTS, wing_curve

__all__ = ["ADNET_DEFAULTS", "direction_tangents", "anisotropic_direction_loss", "AnisotropicDirectionLoss",
           "anisotropic_wing_loss", "AnisotropicWingLoss"]

#: ADNet's fixed-lambda mode: lam = 2; its Huber scale is 0.01 in coordinates
#: normalised to [-1, 1] across the image, i.e. 0.01 * S / 2 pixels for an
#: S-pixel input, stated here at the 64 px reference (0.32 px).
ADNET_DEFAULTS = MappingProxyType({"lam": 2.0, "scale": 0.01 * REFERENCE_INPUT_SIZE / 2})
_A, _W, _D = ADNET_DEFAULTS, WING_DEFAULTS, ANISOTROPIC_DEFAULTS


def _unit_or_zero(v: Tensor) -> Tensor:
    """``v / |v|`` along the last axis, 0 where ``|v|^2`` is below the dtype's eps (pixels^2)."""
    len2 = (v * v).sum(dim=-1)
    good = len2 > torch.finfo(v.dtype).eps
    return torch.where(good.unsqueeze(-1), v / torch.sqrt(safe(good, len2)).unsqueeze(-1), torch.zeros_like(v))


def direction_tangents(target: Tensor, prev: Tensor, nxt: Tensor, has: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """ADNet's local frame at each target point: tangent ``t`` (unnormalised), ``|t|^2``, usable mask.

    With ``u_p``, ``u_n`` the unit directions from point i to its two
    neighbours, the normal is their bisector ``u_p + u_n``; the tangent is
    ``t = u_n - u_p``, perpendicular to it (both are unit vectors), and it
    stays defined where the neighbours are collinear with the point (bisector
    0): ``t`` is then along the chord, so the normal is perpendicular to the
    chord. At the end of an open curve one neighbour is the point itself, its
    direction is 0 and ``t`` points to the other neighbour. ``ok`` is False
    where ``has`` is False (corners, points on no curve) and where ``|t|^2``
    is below the dtype's eps (both neighbours coincide with the point, or lie
    in the same direction).
    """
    u_prev = _unit_or_zero(target.index_select(1, prev) - target)
    u_next = _unit_or_zero(target.index_select(1, nxt) - target)
    t = u_next - u_prev
    len2 = (t * t).sum(dim=-1)
    ok = (len2 > torch.finfo(target.dtype).eps) & has
    return t, len2, ok


def _direction_from_indices(
    pred: Tensor, target: Tensor, prev: Tensor, nxt: Tensor, has: Tensor, lam: float, scale: float
) -> Tensor:
    lam, scale = float(lam), float(scale)
    alpha, beta = 2.0 * lam / (lam + 1.0), 2.0 / (lam + 1.0)
    t, len2, ok = direction_tangents(target, prev, nxt, has)
    # delta^2 = alpha (d.n)^2 + beta (d.t)^2 = alpha |d|^2 + (beta - alpha) (d.t)^2 / |t|^2 with |n| = |t| = 1,
    # and |d|^2 where there is no frame; with lam = 1 (alpha = beta = 1) exactly |d|^2.
    weight = ok.to(target.dtype) * (alpha - 1.0) + 1.0
    coef = torch.where(ok, (beta - alpha) / safe(ok, len2), torch.zeros_like(len2))
    d = pred - target
    along = (d * t).sum(dim=-1)
    q = (d * d).sum(dim=-1) * weight + coef * (along * along)
    # Huber on delta = sqrt(q), written on q below the switch so the gradient at 0 is 0.
    big = torch.sqrt(torch.clamp(q, min=scale * scale)) - 0.5 * scale
    return reduce_points(torch.where(q < scale * scale, 0.5 * q / scale, big))


def anisotropic_direction_loss(
    pred: Tensor, target: Tensor, scheme: Scheme | str, lam: float = _A["lam"], scale: float = _A["scale"]
) -> Tensor:
    """ADNet's anisotropic direction loss (Huang, Yang, Li, Kim, Wei, "ADNet:
    Leveraging Error-Bias Towards Normal Direction in Face Alignment", ICCV
    2021), fixed-lambda mode, on regressed coordinates.

    The error ``d_i = pred_i - target_i`` (pixels) is split into its
    components along the contour normal ``n_i`` and tangent ``t_i`` of the
    TARGET shape, the normal being the bisector of the directions from
    ``z_i`` to its two scheme neighbours (perpendicular to the chord where
    they are collinear; see :func:`direction_tangents`), and

        delta_i^2 = alpha (d_i . n_i)^2 + beta (d_i . t_i)^2,
        alpha = 2 lam / (lam + 1),  beta = 2 / (lam + 1),

        loss = mean_b sum_i  0.5 delta_i^2 / scale   if delta_i < scale
                             delta_i - 0.5 scale     otherwise

    (the smooth-L1 / Huber shape on ``delta``, ``scale`` in pixels). Errors
    across the contour cost ``lam`` times more than along it. Isotropic
    (``delta_i = |d_i|``, ADNet's symmetric case) at the points with
    ``scheme.has_tangent`` False, i.e. the scheme's corners (with
    ``get_scheme(..., corners="paper")`` the eye and mouth corners;
    ``"extended"`` adds the nose tip and the ends of open curves) and points
    on no curve, and where the local frame is undefined (the neighbours
    coincide with the point or lie in one direction). ADNet gives a normal to
    every point of its edge lists, corners included; keeping the paper's
    corners isotropic makes the anisotropic losses here treat the same
    points alike. ``lam = 1`` is a per-point Huber loss on ``|d_i|``.

    Use here: ADNet applies the loss to landmarks decoded from its heat maps
    (in [-1, 1] coordinates, averaged over points, with ``scale = 0.01``);
    this project regresses coordinates directly, so the loss is applied to
    the regressed points in pixels, summed over points and averaged over the
    batch, and the default ``scale`` is ADNet's 0.01 converted to pixels of
    a 64x64 input (0.32 px, :data:`ADNET_DEFAULTS`); ``make_loss(...,
    input_size=S)`` multiplies it by ``S / 64``. Only ADNet's fixed-lambda
    mode is offered (its other modes estimate lambda from heat maps).

    Scale: ``alpha + beta = 2``, so the weight ``alpha n n^T + beta t t^T``
    has trace 2 like L2's ``I``: lam only moves weight from the tangent to
    the normal (4/3 across, 2/3 along at lam = 2). Below ``scale`` the loss
    is that quadratic form times ``1 / (2 scale)`` (about 1.6 at 0.32 px);
    above it, it grows like ``delta``, with a gradient of magnitude between
    ``sqrt(beta)`` and ``sqrt(alpha)`` per point, like L1's.

    Args:
        pred, target: ``(B, N, 2)`` pixels, same dtype, N = ``scheme.n_points``.
        scheme: :class:`aniso.topology.Scheme` or its name.
        lam: normal-to-tangent weight ratio, > 0.
        scale: Huber switch point, pixels, > 0.
    """
    check_pair(pred, target, "anisotropic_direction_loss")
    check_positive("anisotropic_direction_loss", lam=lam, scale=scale)
    prev, nxt, has, n = scheme_indices(scheme, target.device)
    check_points(target, n, "anisotropic_direction_loss")
    return _direction_from_indices(pred, target, prev, nxt, has, lam, scale)


class AnisotropicDirectionLoss(SchemeLoss):
    """Module form of :func:`anisotropic_direction_loss` (``scale`` in pixels)."""

    def __init__(self, scheme: Scheme | str, lam: float = _A["lam"], scale: float = _A["scale"]) -> None:
        check_positive("AnisotropicDirectionLoss", lam=lam, scale=scale)
        super().__init__(scheme)
        self.lam, self.scale = float(lam), float(scale)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        self.check(pred, target)
        return _direction_from_indices(
            pred, target, self.tangent_prev, self.tangent_next, self.has_tangent, self.lam, self.scale
        )

    def extra_repr(self) -> str:
        return f"scheme={self.scheme_name!r}, n_points={self.n_points}, lam={self.lam}, scale={self.scale}"


def _wing_of_distance(q: Tensor, w: float, epsilon: float) -> Tensor:
    return reduce_points(wing_curve(safe_sqrt(q), float(w), float(epsilon)))


def anisotropic_wing_loss(
    pred: Tensor,
    target: Tensor,
    scheme: Scheme | str,
    a: float = _D["a"],
    b: float = _D["b"],
    w: float = _W["w"],
    epsilon: float = _W["epsilon"],
    normalize: bool | None = None,
) -> Tensor:
    """Wing's log-linear shape on the Mahalanobis distance of each point.

    ``m_i = sqrt(d_i^T W_i d_i)`` with ``W_i`` the paper's weights
    (:func:`aniso.losses.anisotropic_weights`: ``1/a^2`` along the target's
    contour, ``1/b^2`` across, ``I`` at corners and points on no curve), and

        loss = mean_b sum_i  w ln(1 + m_i / epsilon)   if m_i < w
                             m_i - C                   otherwise,
        C = w - w ln(1 + w / epsilon)

    (Feng et al., CVPR 2018, applied to ``m_i`` instead of each coordinate's
    error). ``m_i`` is in standard deviations of the point's error model (in
    pixels where ``W_i = I``). ``a``, ``b`` in pixels (not rescaled);
    ``w``, ``epsilon`` (defaults :data:`aniso.losses.WING_DEFAULTS`, for a
    64x64 input) are rescaled by ``make_loss(..., input_size=S)`` like Wing's.
    With ``a = b = 1`` it is Wing on the Euclidean point distance ``|d_i|``
    (not Wing per coordinate). The gradient at ``m_i = 0`` is 0.
    ``normalize=True`` scales the weights as in
    :func:`aniso.losses.anisotropic_loss` (mean trace 2 per image), i.e.
    every ``m_i`` by ``sqrt(k)``.

    Scale: the gradient is ``w / (epsilon + m_i)`` times ``W_i d_i / m_i``
    below ``w``, so at zero error it is ``w / epsilon`` (5) times a unit
    vector scaled by ``1/a`` along and ``1/b`` across the contour (1 at
    corners): contour points get 6 (along) and 3 (across) times smaller
    gradients than corners at a = 6, b = 3, where the squared loss gives
    36 and 9. Above ``w`` the loss grows like ``m_i``.

    Args:
        pred, target: ``(B, N, 2)`` pixels, same dtype, N = ``scheme.n_points``.
        scheme: :class:`aniso.topology.Scheme` or its name.
        a, b: standard deviations along and across the contour, pixels, > 0.
        w, epsilon: Wing's range and curvature, in units of ``m``, > 0.
        normalize: True for the mean-trace-2 weights.
    """
    check_pair(pred, target, "anisotropic_wing_loss")
    check_positive("anisotropic_wing_loss", a=a, b=b, w=w, epsilon=epsilon)
    prev, nxt, has, n = scheme_indices(scheme, target.device)
    check_points(target, n, "anisotropic_wing_loss")
    return _wing_of_distance(anisotropic_quadratic(pred, target, prev, nxt, has, a, b, bool(normalize)), w, epsilon)


class AnisotropicWingLoss(SchemeLoss):
    """Module form of :func:`anisotropic_wing_loss` (``a``, ``b`` in pixels; ``w``, ``epsilon`` for a 64x64 input)."""

    def __init__(
        self,
        scheme: Scheme | str,
        a: float = _D["a"],
        b: float = _D["b"],
        w: float = _W["w"],
        epsilon: float = _W["epsilon"],
        normalize: bool | None = None,
    ) -> None:
        check_positive("AnisotropicWingLoss", a=a, b=b, w=w, epsilon=epsilon)
        super().__init__(scheme)
        self.a, self.b, self.w, self.epsilon = float(a), float(b), float(w), float(epsilon)
        self.normalize = bool(normalize)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        self.check(pred, target)
        q = anisotropic_quadratic(
            pred, target, self.tangent_prev, self.tangent_next, self.has_tangent, self.a, self.b, self.normalize
        )
        return _wing_of_distance(q, self.w, self.epsilon)

    def extra_repr(self) -> str:
        return (f"scheme={self.scheme_name!r}, n_points={self.n_points}, a={self.a}, b={self.b}, w={self.w}, "
                f"epsilon={self.epsilon}, normalize={self.normalize}")
