"""Isotropic losses: L2, L1 and smooth L1, each a function and a thin module.

Coordinates in pixels of the network input (any unit works: the parameters
are in the same unit). Reduction: mean over the batch of the per-image sum
over points and coordinates.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor, nn

from .common import check_pair, reduce_coords

__all__ = ["SMOOTH_L1_BETA", "l2_loss", "l1_loss", "smooth_l1_loss", "L2Loss", "L1Loss", "SmoothL1Loss"]

#: Default switch point of smooth L1, pixels (Fast R-CNN's and torch's 1.0).
SMOOTH_L1_BETA = 1.0


def l2_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Sum of squared point-to-point distances per image, averaged over the batch.

    ``L2 = mean_b sum_i |x_i - z_i|^2`` (not halved), the isotropic case
    ``W_i = I`` of the anisotropic cost in Rayhan et al. Coordinates in pixels
    (any unit works; the loss is in that unit squared).

    Scale: gradient ``2 d`` per point; in the anisotropic family's terms every
    point has weight ``W_i = I``, ``trace(W_i) = 2``, the reference the other
    losses' scale statements compare with.

    Args:
        pred: ``(B, N, 2)`` predicted x, y.
        target: ``(B, N, 2)`` ground truth x, y, same dtype.

    Returns:
        Scalar tensor.
    """
    check_pair(pred, target, "l2_loss")
    d = pred - target
    return reduce_coords(d * d)


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Sum of absolute coordinate errors per image, averaged over the batch.

    ``L1 = mean_b sum_i (|dx_i| + |dy_i|)`` with ``d = pred - target`` in
    pixels (any unit works). The gradient at an exact zero error is 0.

    Scale: every coordinate's gradient has magnitude 1 whatever the error,
    so against L2 (gradient ``2 d``) it weighs errors under 0.5 px more and
    larger errors less.
    """
    check_pair(pred, target, "l1_loss")
    return reduce_coords((pred - target).abs())


def _check_beta(beta: float, where: str) -> None:
    if not isinstance(beta, Real) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"{where}: beta must be a finite number >= 0, got {beta!r}")


def smooth_l1_loss(pred: Tensor, target: Tensor, beta: float = SMOOTH_L1_BETA) -> Tensor:
    """Smooth L1 (Huber-like, Girshick, Fast R-CNN, ICCV 2015) per coordinate.

    ``s(x) = 0.5 x^2 / beta`` if ``|x| < beta`` else ``|x| - 0.5 beta``, with
    ``x`` the coordinate error in pixels and ``beta`` (default
    :data:`SMOOTH_L1_BETA`) in pixels; summed over points and coordinates,
    averaged over the batch. ``beta = 0`` gives :func:`l1_loss`. Same
    definition as ``torch.nn.SmoothL1Loss``.

    Scale: below ``beta`` the gradient is ``x / beta``, i.e. L2's gradient
    times ``1 / (2 beta)``; above it, magnitude 1 as in L1. Raising ``beta``
    lowers the loss and its gradient for every error.
    """
    check_pair(pred, target, "smooth_l1_loss")
    _check_beta(beta, "smooth_l1_loss")
    per = torch.nn.functional.smooth_l1_loss(pred, target, reduction="none", beta=float(beta))
    return reduce_coords(per)


class L2Loss(nn.Module):
    """Module form of :func:`l2_loss` (pixels; sum over points, mean over batch)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return l2_loss(pred, target)


class L1Loss(nn.Module):
    """Module form of :func:`l1_loss` (pixels; sum over points, mean over batch)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return l1_loss(pred, target)


class SmoothL1Loss(nn.Module):
    """Module form of :func:`smooth_l1_loss`; ``beta`` in pixels."""

    def __init__(self, beta: float = SMOOTH_L1_BETA) -> None:
        super().__init__()
        _check_beta(beta, "SmoothL1Loss")
        self.beta = float(beta)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(pred, target, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
