"""Landmark regression losses: L2, L1, smooth L1, Wing, Adaptive Wing, anisotropic.

Every loss takes ``pred`` and ``target`` of shape ``(B, N, 2)`` (x, y of N
landmarks per image, in pixels of the network's input image) and returns one
scalar: the MEAN over the batch of the per-image SUM over points and
coordinates. The same reduction everywhere makes the losses comparable and
gives the identity ``anisotropic_loss(p, t, scheme, a=1, b=1) ==
l2_loss(p, t)`` bit for bit.

Each loss is a function ``name_loss(pred, target, ...)`` plus a thin
:class:`torch.nn.Module` that stores the parameters; :func:`make_loss` builds
the module from a name (``LOSS_NAMES``), which is what run configurations use.

Units. L2, L1, smooth L1 and the anisotropic loss are defined for any
coordinate unit (their parameters ``beta``, ``a``, ``b`` are in the unit of
the coordinates, i.e. pixels here). Wing and Adaptive Wing have a "small
error" range (``w``, ``theta``) and a curvature (``epsilon``) that their
papers chose for 64x64 pixel inputs; ``make_loss(..., input_size=S)`` rescales
them by ``S / 64`` so that an error that is the same fraction of the face
costs the same part of the curve.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from torch import Tensor, nn

from aniso.topology import Scheme, get_scheme

__all__ = [
    "LOSS_NAMES",
    "REFERENCE_INPUT_SIZE",
    "l2_loss",
    "l1_loss",
    "smooth_l1_loss",
    "wing_loss",
    "adaptive_wing_loss",
    "anisotropic_weights",
    "anisotropic_loss",
    "L2Loss",
    "L1Loss",
    "SmoothL1Loss",
    "WingLoss",
    "AdaptiveWingLoss",
    "AnisotropicLoss",
    "make_loss",
]

LOSS_NAMES = ("l2", "l1", "smooth_l1", "wing", "adaptive_wing", "anisotropic")

#: Input side (pixels) at which Wing's and AWing's default parameters are defined.
REFERENCE_INPUT_SIZE = 64


# --------------------------------------------------------------------------- checks


def _check_pair(pred: Tensor, target: Tensor, where: str) -> None:
    """Raise ValueError unless pred and target are floating (B, N, 2) tensors alike."""
    for label, x in (("pred", pred), ("target", target)):
        if not isinstance(x, Tensor):
            raise ValueError(f"{where}: {label} must be a torch.Tensor of shape (B, N, 2), got {type(x).__name__}")
    if pred.shape != target.shape or pred.dim() != 3 or pred.shape[-1] != 2:
        raise ValueError(
            f"{where}: pred and target must both have shape (B, N, 2); "
            f"got pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    if pred.shape[0] == 0:
        # The batch mean of nothing is NaN; better to fail where the empty batch came from.
        raise ValueError(f"{where}: empty batch (B = 0), shapes pred {tuple(pred.shape)} target {tuple(target.shape)}")
    if not (pred.is_floating_point() and target.is_floating_point()):
        raise ValueError(f"{where}: pred and target must be floating point; got {pred.dtype} and {target.dtype}")
    if pred.dtype != target.dtype:
        raise ValueError(f"{where}: pred and target must have the same dtype; got {pred.dtype} and {target.dtype}")


def _check_positive(where: str, **values: float) -> None:
    for name, value in values.items():
        if not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{where}: {name} must be a finite number > 0, got {value!r}")


def _reduce(per_coord: Tensor) -> Tensor:
    """(B, N, 2) -> scalar: sum over coordinates, then points, then mean over the batch.

    The order (coordinates first) is the one :func:`anisotropic_loss` uses, so
    that a = b = 1 reproduces :func:`l2_loss` exactly, not just to rounding.
    """
    return per_coord.sum(dim=-1).sum(dim=-1).mean()


# --------------------------------------------------------------------------- isotropic losses


def l2_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Sum of squared point-to-point distances per image, averaged over the batch.

    ``L2 = mean_b sum_i |x_i - z_i|^2`` (not halved), the isotropic case
    ``W_i = I`` of the anisotropic cost in Rayhan et al. Coordinates in pixels
    (any unit works; the loss is in that unit squared).

    Args:
        pred: ``(B, N, 2)`` predicted x, y.
        target: ``(B, N, 2)`` ground truth x, y, same dtype.

    Returns:
        Scalar tensor.
    """
    _check_pair(pred, target, "l2_loss")
    d = pred - target
    return _reduce(d * d)


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Sum of absolute coordinate errors per image, averaged over the batch.

    ``L1 = mean_b sum_i (|dx_i| + |dy_i|)`` with ``d = pred - target`` in
    pixels (any unit works). The gradient at an exact zero error is 0.
    """
    _check_pair(pred, target, "l1_loss")
    return _reduce((pred - target).abs())


def smooth_l1_loss(pred: Tensor, target: Tensor, beta: float = 1.0) -> Tensor:
    """Smooth L1 (Huber-like, Girshick, Fast R-CNN, ICCV 2015) per coordinate.

    ``s(x) = 0.5 x^2 / beta`` if ``|x| < beta`` else ``|x| - 0.5 beta``, with
    ``x`` the coordinate error in pixels and ``beta`` (default 1.0) in pixels;
    summed over points and coordinates, averaged over the batch. ``beta = 0``
    gives :func:`l1_loss`. Same definition as ``torch.nn.SmoothL1Loss``.
    """
    _check_pair(pred, target, "smooth_l1_loss")
    if not isinstance(beta, Real) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be a finite number >= 0, got {beta!r}")
    per = torch.nn.functional.smooth_l1_loss(pred, target, reduction="none", beta=float(beta))
    return _reduce(per)


def wing_loss(pred: Tensor, target: Tensor, w: float = 10.0, epsilon: float = 2.0) -> Tensor:
    """Wing loss (Feng et al., "Wing Loss for Robust Facial Landmark Localisation
    with Convolutional Neural Networks", CVPR 2018), per coordinate.

    ``wing(x) = w ln(1 + |x| / epsilon)`` if ``|x| < w`` else ``|x| - C``,
    ``C = w - w ln(1 + w / epsilon)`` (makes the two pieces meet at ``|x| = w``);
    ``x`` is the coordinate error in pixels. Summed over points and
    coordinates, averaged over the batch.

    Defaults ``w = 10``, ``epsilon = 2`` are the paper's, defined on pixel
    coordinates of a 64x64 input. For an input of side S use ``w * S / 64``
    and ``epsilon * S / 64`` (what ``make_loss("wing", input_size=S)`` does),
    so that an error that is the same fraction of the face costs the same part
    of the curve.
    """
    _check_pair(pred, target, "wing_loss")
    _check_positive("wing_loss", w=w, epsilon=epsilon)
    w, epsilon = float(w), float(epsilon)
    x = (pred - target).abs()
    c = w - w * math.log1p(w / epsilon)
    # Clamp the log branch's input so that the branch torch.where discards
    # stays small (no overflow, no stray gradient) for huge errors.
    small = w * torch.log1p(torch.clamp(x, max=w) / epsilon)
    per = torch.where(x < w, small, x - c)
    return _reduce(per)


def adaptive_wing_loss(
    pred: Tensor,
    target: Tensor,
    omega: float = 14.0,
    theta: float = 0.5,
    epsilon: float = 1.0,
    alpha: float = 2.1,
    y: float = 1.0,
) -> Tensor:
    """Adaptive Wing loss (Wang, Bo, Fuxin, "Adaptive Wing Loss for Robust Face
    Alignment via Heatmap Regression", ICCV 2019), adapted to coordinates.

    The paper's loss, on a heat-map pixel with target intensity ``y`` in [0, 1]
    and error ``d``, with ``p = alpha - y``:

        AWing(d) = omega ln(1 + (|d| / epsilon)^p)      if |d| < theta
                   A |d| - C                            otherwise
        A = omega (1 / (1 + (theta/epsilon)^p)) p (theta/epsilon)^(p - 1) / epsilon
        C = theta A - omega ln(1 + (theta/epsilon)^p)

    (A and C make the pieces and their slopes meet at ``|d| = theta``.)
    Defaults are the paper's: ``omega = 14``, ``theta = 0.5``, ``epsilon = 1``,
    ``alpha = 2.1``.

    Adaptation to coordinate regression (this project's choice; the paper
    regresses heat maps): ``d`` is each coordinate's error in PIXELS of a
    64x64 input (the paper's heat-map size), and ``y`` is fixed to 1 as if
    every coordinate were a foreground landmark pixel, so the exponent is
    ``alpha - 1 = 1.1``: nearly L1 for small errors but with zero slope at 0
    and a slope that decays for large errors. ``y`` stays a parameter. For an
    input of side S, ``make_loss("adaptive_wing", input_size=S)`` scales
    ``theta`` and ``epsilon`` by ``S / 64``. Summed over points and
    coordinates, averaged over the batch.
    """
    _check_pair(pred, target, "adaptive_wing_loss")
    _check_positive("adaptive_wing_loss", omega=omega, theta=theta, epsilon=epsilon)
    if not isinstance(alpha, Real) or not isinstance(y, Real) or not alpha - y > 0:
        raise ValueError(f"adaptive_wing_loss: need alpha - y > 0 (the exponent), got alpha={alpha!r}, y={y!r}")
    omega, theta, epsilon, p = float(omega), float(theta), float(epsilon), float(alpha - y)
    r = (theta / epsilon) ** p
    a_coef = omega * (1.0 / (1.0 + r)) * p * (theta / epsilon) ** (p - 1.0) / epsilon
    c = theta * a_coef - omega * math.log1p(r)
    x = (pred - target).abs()
    # |d|^p at d = 0: pow's backward is p * 0^(p-1), which is inf (or 0 * inf
    # = NaN through the chain rule) when p <= 1. Evaluate the power on a safe
    # value and put the exact 0 back with where, so the gradient at 0 is 0.
    xs = torch.clamp(x, max=theta) / epsilon  # keeps the discarded branch small too
    pos = xs > 0
    powed = torch.where(pos, torch.where(pos, xs, torch.ones_like(xs)) ** p, torch.zeros_like(xs))
    small = omega * torch.log1p(powed)
    per = torch.where(x < theta, small, a_coef * x - c)
    return _reduce(per)


# --------------------------------------------------------------------------- anisotropic


def _scheme_indices(scheme: Scheme | str, device: torch.device) -> tuple[Tensor, Tensor, Tensor, int]:
    """(tangent_prev, tangent_next, has_tangent, n_points) of a scheme as tensors on ``device``."""
    if isinstance(scheme, str):
        scheme = get_scheme(scheme)
    try:
        prev, nxt, has, n = scheme.tangent_prev, scheme.tangent_next, scheme.has_tangent, int(scheme.n_points)
    except AttributeError as exc:
        raise ValueError(
            f"scheme must be an aniso.topology.Scheme (or its name), got {type(scheme).__name__}"
        ) from exc
    # np.array copies: the scheme's arrays are read-only and torch warns about those.
    prev_t = torch.tensor(np.array(prev, dtype=np.int64), device=device)
    next_t = torch.tensor(np.array(nxt, dtype=np.int64), device=device)
    has_t = torch.tensor(np.array(has, dtype=bool), device=device)
    if not (prev_t.shape == next_t.shape == has_t.shape == (n,)):
        raise ValueError(f"scheme {getattr(scheme, 'name', '?')!r}: tangent arrays must have length n_points={n}")
    return prev_t, next_t, has_t, n


def _check_points(target: Tensor, n_points: int, where: str) -> None:
    if target.shape[1] != n_points:
        raise ValueError(
            f"{where}: the scheme has {n_points} points but the landmarks have N = {target.shape[1]} "
            f"(shape {tuple(target.shape)})"
        )


def _tangents(target: Tensor, prev: Tensor, nxt: Tensor, has: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Unnormalised tangents of the target shape, their squared length, and where they are usable.

    Returns ``t`` (B, N, 2) = ``z[next] - z[prev]``, ``len2`` (B, N) and
    ``ok`` (B, N) bool: the point lies on a curve, is not a corner, and its
    two tangent neighbours are apart by more than sqrt(eps of the dtype)
    (about 3e-4 px in float32, 1.5e-8 px in float64); below that the
    direction is rounding noise and the point gets W = I.
    """
    # index_select is the cheapest gather here (aten::index costs several times more).
    t = target.index_select(1, nxt) - target.index_select(1, prev)
    len2 = (t * t).sum(dim=-1)
    ok = (len2 > torch.finfo(target.dtype).eps) & has
    return t, len2, ok


def _safe(ok: Tensor, x: Tensor) -> Tensor:
    """``x`` where ``ok``, else 1: a denominator whose unused entries give neither
    NaN/inf values nor NaN/inf gradients in the branch ``torch.where`` discards."""
    return torch.where(ok, x, torch.ones_like(x))


def anisotropic_weights(target: Tensor, scheme: Scheme | str, a: float, b: float) -> Tensor:
    """Per-point weight matrices of the anisotropic cost (Rayhan et al.).

    ``W_i = t_i t_i^T / a^2 + (I - t_i t_i^T) / b^2`` where ``t_i`` is the unit
    tangent of the TARGET shape at point i, ``t_i = z[next_i] - z[prev_i]``
    normalised, with the neighbour indices ``scheme.tangent_prev`` /
    ``scheme.tangent_next`` (one-sided at the ends of open curves, wrapping on
    closed curves). ``W_i = I`` for corners and points on no curve
    (``scheme.has_tangent`` False) and where the two neighbours coincide.

    Args:
        target: ``(B, N, 2)`` ground-truth x, y in pixels, N = ``scheme.n_points``.
        scheme: an :class:`aniso.topology.Scheme` or its name.
        a: standard deviation along the contour, pixels, > 0.
        b: standard deviation across the contour, pixels, > 0.

    Returns:
        ``(B, N, 2, 2)`` symmetric positive definite matrices, in 1/pixel^2,
        same dtype and device as ``target``.
    """
    if not isinstance(target, Tensor) or target.dim() != 3 or target.shape[-1] != 2 or not target.is_floating_point():
        shape = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(f"anisotropic_weights: target must be a floating (B, N, 2) tensor, got {shape}")
    _check_positive("anisotropic_weights", a=a, b=b)
    prev, nxt, has, n = _scheme_indices(scheme, target.device)
    _check_points(target, n, "anisotropic_weights")
    t, len2, ok = _tangents(target, prev, nxt, has)
    u = torch.where(ok.unsqueeze(-1), t / torch.sqrt(_safe(ok, len2)).unsqueeze(-1), torch.zeros_like(t))
    outer = u.unsqueeze(-1) * u.unsqueeze(-2)
    eye = torch.eye(2, dtype=target.dtype, device=target.device)
    w = outer / float(a) ** 2 + (eye - outer) / float(b) ** 2
    return torch.where(ok[..., None, None], w, eye.expand_as(w))


def _anisotropic_from_indices(
    pred: Tensor, target: Tensor, prev: Tensor, nxt: Tensor, has: Tensor, a: float, b: float
) -> Tensor:
    # With u = t / |t|:  d^T W d = |d|^2 / b^2 + (1/a^2 - 1/b^2) (u . d)^2
    #                             = scale |d|^2 + coef (t . d)^2,
    # scale = 1/b^2, coef = (1/a^2 - 1/b^2) / |t|^2 where the tangent is usable,
    # scale = 1, coef = 0 elsewhere (W = I). The same number as the quadratic
    # form with W, without building (B, N, 2, 2) matrices or normalising t, and
    # the target-only factors carry no graph when the target needs no gradient.
    # With a = b = 1: scale = 0 * ok + 1 = 1 and coef = 0 exactly, so q = |d|^2
    # and the loss equals l2_loss bit for bit.
    t, len2, ok = _tangents(target, prev, nxt, has)
    inv_a2, inv_b2 = 1.0 / float(a) ** 2, 1.0 / float(b) ** 2
    scale = ok.to(target.dtype) * (inv_b2 - 1.0) + 1.0
    coef = torch.where(ok, (inv_a2 - inv_b2) / _safe(ok, len2), torch.zeros_like(len2))
    d = pred - target
    along = (d * t).sum(dim=-1)
    q = (d * d).sum(dim=-1) * scale + coef * (along * along)
    return q.sum(dim=-1).mean()


def anisotropic_loss(pred: Tensor, target: Tensor, scheme: Scheme | str, a: float = 6.0, b: float = 3.0) -> Tensor:
    """Anisotropic Mahalanobis cost (Rayhan et al., "Not All Points Are Created
    Equal: an anisotropic cost function for facial feature landmark location").

    ``Q = sum_i d_i^T W_i d_i`` with ``d_i = pred_i - target_i`` and
    ``W_i`` from :func:`anisotropic_weights` (variance ``a^2`` along the
    target's contour, ``b^2`` across it, ``W_i = I`` at corners); summed over
    the points of each image, averaged over the batch. ``a = b = 1`` gives
    :func:`l2_loss` exactly.

    Defaults: ``b = 3`` is the paper's best value on 300W; its ``a`` is
    unreadable in our copy, ``a = 6`` (a > b, points slide along the contour
    twice as freely) is this project's default. ``a`` and ``b`` are in the
    pixels of the coordinates and are not rescaled by ``make_loss``'s
    ``input_size`` (scaling both only rescales the loss; the ratio a / b sets
    the shape of the cost).

    Args:
        pred: ``(B, N, 2)`` predicted x, y in pixels.
        target: ``(B, N, 2)`` ground truth, same dtype; the tangents come from it.
        scheme: :class:`aniso.topology.Scheme` (or its name) with ``n_points = N``.
        a, b: > 0.
    """
    _check_pair(pred, target, "anisotropic_loss")
    _check_positive("anisotropic_loss", a=a, b=b)
    prev, nxt, has, n = _scheme_indices(scheme, target.device)
    _check_points(target, n, "anisotropic_loss")
    return _anisotropic_from_indices(pred, target, prev, nxt, has, a, b)


# --------------------------------------------------------------------------- modules


class L2Loss(nn.Module):
    """Module form of :func:`l2_loss` (pixels; sum over points, mean over batch)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return l2_loss(pred, target)


class L1Loss(nn.Module):
    """Module form of :func:`l1_loss` (pixels; sum over points, mean over batch)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return l1_loss(pred, target)


class SmoothL1Loss(nn.Module):
    """Module form of :func:`smooth_l1_loss`; ``beta`` in pixels (default 1.0)."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not isinstance(beta, Real) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be a finite number >= 0, got {beta!r}")
        self.beta = float(beta)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(pred, target, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class WingLoss(nn.Module):
    """Module form of :func:`wing_loss`; ``w``, ``epsilon`` in pixels of the
    input (defaults 10, 2 for a 64x64 input; see :func:`make_loss` for scaling)."""

    def __init__(self, w: float = 10.0, epsilon: float = 2.0) -> None:
        super().__init__()
        _check_positive("WingLoss", w=w, epsilon=epsilon)
        self.w, self.epsilon = float(w), float(epsilon)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return wing_loss(pred, target, w=self.w, epsilon=self.epsilon)

    def extra_repr(self) -> str:
        return f"w={self.w}, epsilon={self.epsilon}"


class AdaptiveWingLoss(nn.Module):
    """Module form of :func:`adaptive_wing_loss`; ``theta``, ``epsilon`` in
    pixels of the input (defaults for a 64x64 input), ``y`` fixed (default 1)."""

    def __init__(
        self, omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0, alpha: float = 2.1, y: float = 1.0
    ) -> None:
        super().__init__()
        _check_positive("AdaptiveWingLoss", omega=omega, theta=theta, epsilon=epsilon)
        if not isinstance(alpha, Real) or not isinstance(y, Real) or not alpha - y > 0:
            raise ValueError(f"AdaptiveWingLoss: need alpha - y > 0, got alpha={alpha!r}, y={y!r}")
        self.omega, self.theta, self.epsilon = float(omega), float(theta), float(epsilon)
        self.alpha, self.y = float(alpha), float(y)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return adaptive_wing_loss(
            pred, target, omega=self.omega, theta=self.theta, epsilon=self.epsilon, alpha=self.alpha, y=self.y
        )

    def extra_repr(self) -> str:
        return f"omega={self.omega}, theta={self.theta}, epsilon={self.epsilon}, alpha={self.alpha}, y={self.y}"


class AnisotropicLoss(nn.Module):
    """Module form of :func:`anisotropic_loss` (pixels; ``a``, ``b`` in pixels).

    The scheme's tangent indices are stored as (non-persistent) buffers, so
    ``.to(device)`` moves them and no index tensor is rebuilt per call; they
    stay out of ``state_dict`` because they are a function of the scheme, not
    trained state.
    """

    tangent_prev: Tensor
    tangent_next: Tensor
    has_tangent: Tensor

    def __init__(self, scheme: Scheme | str, a: float = 6.0, b: float = 3.0) -> None:
        super().__init__()
        _check_positive("AnisotropicLoss", a=a, b=b)
        prev, nxt, has, n = _scheme_indices(scheme, torch.device("cpu"))
        self.scheme_name = get_scheme(scheme).name if isinstance(scheme, str) else getattr(scheme, "name", "?")
        self.n_points = n
        self.a, self.b = float(a), float(b)
        self.register_buffer("tangent_prev", prev, persistent=False)
        self.register_buffer("tangent_next", nxt, persistent=False)
        self.register_buffer("has_tangent", has, persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check_pair(pred, target, "AnisotropicLoss")
        _check_points(target, self.n_points, "AnisotropicLoss")
        return _anisotropic_from_indices(
            pred, target, self.tangent_prev, self.tangent_next, self.has_tangent, self.a, self.b
        )

    def extra_repr(self) -> str:
        return f"scheme={self.scheme_name!r}, n_points={self.n_points}, a={self.a}, b={self.b}"


# --------------------------------------------------------------------------- factory

_FACTORY: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "l2": (L2Loss, ()),
    "l1": (L1Loss, ()),
    "smooth_l1": (SmoothL1Loss, ("beta",)),
    "wing": (WingLoss, ("w", "epsilon")),
    "adaptive_wing": (AdaptiveWingLoss, ("omega", "theta", "epsilon", "alpha", "y")),
    "anisotropic": (AnisotropicLoss, ("a", "b")),
}
# Parameters with a length unit that were chosen for a 64x64 input.
_SCALED = {"wing": {"w": 10.0, "epsilon": 2.0}, "adaptive_wing": {"theta": 0.5, "epsilon": 1.0}}


def make_loss(
    name: str, scheme: Scheme | str | None = None, input_size: float | None = None, **params: float
) -> nn.Module:
    """Build a loss module by name (one of :data:`LOSS_NAMES`).

    Args:
        name: ``"l2"``, ``"l1"``, ``"smooth_l1"``, ``"wing"``,
            ``"adaptive_wing"`` or ``"anisotropic"`` (case and ``-``/``_``
            insensitive).
        scheme: landmark scheme (or its name); required for ``"anisotropic"``,
            accepted and ignored by the others so callers can always pass it.
        input_size: side of the network input in pixels. For ``"wing"`` and
            ``"adaptive_wing"`` the length parameters (Wing's ``w``,
            ``epsilon``; AWing's ``theta``, ``epsilon``), whether defaults or
            given in ``params``, are read as values for a 64x64 input and
            multiplied by ``input_size / 64``. Ignored by the other losses.
        **params: the loss's own parameters (see its function).

    Raises:
        ValueError: unknown name, unknown parameter, missing scheme, bad input_size.
    """
    key = str(name).lower().replace("-", "_")
    if key not in _FACTORY:
        raise ValueError(f"unknown loss {name!r}: expected one of {', '.join(LOSS_NAMES)}")
    cls, allowed = _FACTORY[key]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"make_loss({key!r}): unknown parameter(s) {', '.join(unknown)}; valid: {valid}")
    if input_size is not None:
        if not isinstance(input_size, Real) or not math.isfinite(input_size) or input_size <= 0:
            raise ValueError(f"make_loss: input_size must be a positive number of pixels, got {input_size!r}")
        if key in _SCALED:
            factor = float(input_size) / REFERENCE_INPUT_SIZE
            params = {**params, **{k: float(params.get(k, v)) * factor for k, v in _SCALED[key].items()}}
    if key == "anisotropic":
        if scheme is None:
            raise ValueError(
                "make_loss('anisotropic'): a landmark scheme is required (scheme=get_scheme(...) or its name)"
            )
        return cls(scheme, **params)
    return cls(**params)
