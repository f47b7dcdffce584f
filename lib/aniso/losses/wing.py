"""Wing (Feng et al., CVPR 2018) and Adaptive Wing (Wang et al., ICCV 2019) losses.

Their "small error" range (Wing's ``w``, AWing's ``theta``) and curvature
(``epsilon``) were chosen by their papers for pixel coordinates of a 64x64
input (:data:`aniso.losses.common.REFERENCE_INPUT_SIZE`); the defaults below
are those values, stated once here. ``make_loss(..., input_size=S)`` rescales
the length parameters by ``S / 64``.
"""

from __future__ import annotations

import math
from numbers import Real
from types import MappingProxyType

import torch
from torch import Tensor, nn

from .common import check_pair, check_positive, reduce_coords

__all__ = ["WING_DEFAULTS", "ADAPTIVE_WING_DEFAULTS", "wing_curve", "wing_loss", "adaptive_wing_loss",
           "WingLoss", "AdaptiveWingLoss"]

#: Wing's paper defaults, pixels of a 64x64 input.
WING_DEFAULTS = MappingProxyType({"w": 10.0, "epsilon": 2.0})
#: Adaptive Wing's paper defaults (theta, epsilon in pixels of a 64x64 input); y = 1 is this project's choice.
ADAPTIVE_WING_DEFAULTS = MappingProxyType({"omega": 14.0, "theta": 0.5, "epsilon": 1.0, "alpha": 2.1, "y": 1.0})
_W, _AW = WING_DEFAULTS, ADAPTIVE_WING_DEFAULTS


def wing_curve(x: Tensor, w: float, epsilon: float) -> Tensor:
    """Wing's shape applied elementwise to non-negative errors ``x`` (pixels).

    ``w ln(1 + x / epsilon)`` if ``x < w`` else ``x - C``,
    ``C = w - w ln(1 + w / epsilon)`` (makes the two pieces meet at ``x = w``).
    Parameters are not checked here (callers do).
    """
    c = w - w * math.log1p(w / epsilon)
    # Clamp the log branch's input so that the branch torch.where discards
    # stays small (no overflow, no stray gradient) for huge errors.
    small = w * torch.log1p(torch.clamp(x, max=w) / epsilon)
    return torch.where(x < w, small, x - c)


def wing_loss(pred: Tensor, target: Tensor, w: float = _W["w"], epsilon: float = _W["epsilon"]) -> Tensor:
    """Wing loss (Feng et al., "Wing Loss for Robust Facial Landmark Localisation
    with Convolutional Neural Networks", CVPR 2018), per coordinate.

    ``wing(x) = w ln(1 + |x| / epsilon)`` if ``|x| < w`` else ``|x| - C``,
    ``C = w - w ln(1 + w / epsilon)`` (makes the two pieces meet at ``|x| = w``);
    ``x`` is the coordinate error in pixels. Summed over points and
    coordinates, averaged over the batch.

    Defaults (:data:`WING_DEFAULTS`: ``w = 10``, ``epsilon = 2``) are the
    paper's, defined on pixel coordinates of a 64x64 input. For an input of
    side S use ``w * S / 64`` and ``epsilon * S / 64`` (what
    ``make_loss("wing", input_size=S)`` does), so that an error that is the
    same fraction of the face costs the same part of the curve.

    Scale: the gradient magnitude per coordinate is ``w / (epsilon + |x|)``
    below ``w`` (5 at zero error with the defaults, against L2's ``2|x|``)
    and 1 above ``w``; multiplying ``w`` and ``epsilon`` by ``s`` together
    multiplies the small-error gradient at a given ``|x| / epsilon`` by 1.
    """
    check_pair(pred, target, "wing_loss")
    check_positive("wing_loss", w=w, epsilon=epsilon)
    return reduce_coords(wing_curve((pred - target).abs(), float(w), float(epsilon)))


def _check_awing(where: str, omega: float, theta: float, epsilon: float, alpha: float, y: float) -> None:
    check_positive(where, omega=omega, theta=theta, epsilon=epsilon)
    if not isinstance(alpha, Real) or not isinstance(y, Real) or not alpha - y > 0:
        raise ValueError(f"{where}: need alpha - y > 0 (the exponent), got alpha={alpha!r}, y={y!r}")


def adaptive_wing_loss(
    pred: Tensor,
    target: Tensor,
    omega: float = _AW["omega"],
    theta: float = _AW["theta"],
    epsilon: float = _AW["epsilon"],
    alpha: float = _AW["alpha"],
    y: float = _AW["y"],
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
    Defaults (:data:`ADAPTIVE_WING_DEFAULTS`) are the paper's: ``omega = 14``,
    ``theta = 0.5``, ``epsilon = 1``, ``alpha = 2.1``.

    Adaptation to coordinate regression (this project's choice; the paper
    regresses heat maps): ``d`` is each coordinate's error in PIXELS of a
    64x64 input (the paper's heat-map size), and ``y`` is fixed to 1 as if
    every coordinate were a foreground landmark pixel, so the exponent is
    ``alpha - 1 = 1.1``: nearly L1 for small errors but with zero slope at 0
    and a slope that decays for large errors. ``y`` stays a parameter. For an
    input of side S, ``make_loss("adaptive_wing", input_size=S)`` scales
    ``theta`` and ``epsilon`` by ``S / 64``. Summed over points and
    coordinates, averaged over the batch.

    Scale: the loss is proportional to ``omega``; beyond ``theta`` the slope
    is the constant ``A`` (about 9.8 with the defaults, against L1's 1), so
    the gradients of large errors are ``A`` times L1's.
    """
    check_pair(pred, target, "adaptive_wing_loss")
    _check_awing("adaptive_wing_loss", omega, theta, epsilon, alpha, y)
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
    return reduce_coords(per)


class WingLoss(nn.Module):
    """Module form of :func:`wing_loss`; ``w``, ``epsilon`` in pixels of the
    input (defaults for a 64x64 input; see :func:`aniso.losses.make_loss` for scaling)."""

    def __init__(self, w: float = _W["w"], epsilon: float = _W["epsilon"]) -> None:
        super().__init__()
        check_positive("WingLoss", w=w, epsilon=epsilon)
        self.w, self.epsilon = float(w), float(epsilon)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return wing_loss(pred, target, w=self.w, epsilon=self.epsilon)

    def extra_repr(self) -> str:
        return f"w={self.w}, epsilon={self.epsilon}"


class AdaptiveWingLoss(nn.Module):
    """Module form of :func:`adaptive_wing_loss`; ``theta``, ``epsilon`` in
    pixels of the input (defaults for a 64x64 input), ``y`` fixed."""

    def __init__(
        self,
        omega: float = _AW["omega"],
        theta: float = _AW["theta"],
        epsilon: float = _AW["epsilon"],
        alpha: float = _AW["alpha"],
        y: float = _AW["y"],
    ) -> None:
        super().__init__()
        _check_awing("AdaptiveWingLoss", omega, theta, epsilon, alpha, y)
        self.omega, self.theta, self.epsilon = float(omega), float(theta), float(epsilon)
        self.alpha, self.y = float(alpha), float(y)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return adaptive_wing_loss(
            pred, target, omega=self.omega, theta=self.theta, epsilon=self.epsilon, alpha=self.alpha, y=self.y
        )

    def extra_repr(self) -> str:
        return f"omega={self.omega}, theta={self.theta}, epsilon={self.epsilon}, alpha={self.alpha}, y={self.y}"
