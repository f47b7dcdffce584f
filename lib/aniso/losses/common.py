"""Checks and reductions every loss shares.

Shapes are ``(B, N, 2)`` tensors of x, y in pixels of the network input; the
reduction is the MEAN over the batch of the per-image SUM over points and
coordinates (see the package docstring).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from torch import Tensor

from aniso.topology import Scheme, as_scheme

#: Input side (pixels) at which the length parameters of Wing, Adaptive Wing
#: and the losses built on them are defined (the Wing and AWing papers' 64x64).
REFERENCE_INPUT_SIZE = 64


def check_pair(pred: Tensor, target: Tensor, where: str) -> None:
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


def check_positive(where: str, **values: float) -> None:
    """Raise ValueError naming the first value that is not a finite number > 0."""
    for name, value in values.items():
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{where}: {name} must be a finite number > 0, got {value!r}")


def check_points(target: Tensor, n_points: int, where: str) -> None:
    """Raise ValueError unless the landmarks have the scheme's number of points."""
    if target.shape[1] != n_points:
        raise ValueError(
            f"{where}: the scheme has {n_points} points but the landmarks have N = {target.shape[1]} "
            f"(shape {tuple(target.shape)})"
        )


def reduce_points(per_point: Tensor) -> Tensor:
    """(B, N) -> scalar: sum over points, mean over the batch."""
    return per_point.sum(dim=-1).mean()


def reduce_coords(per_coord: Tensor) -> Tensor:
    """(B, N, 2) -> scalar: sum over coordinates, then points, then mean over the batch.

    Coordinates first is the order the anisotropic loss uses, so that its
    a = b = 1 case reproduces :func:`aniso.losses.l2_loss` exactly, not just
    to rounding.
    """
    return reduce_points(per_coord.sum(dim=-1))


def safe(ok: Tensor, x: Tensor) -> Tensor:
    """``x`` where ``ok``, else 1: a denominator whose unused entries give neither
    NaN/inf values nor NaN/inf gradients in the branch ``torch.where`` discards."""
    return torch.where(ok, x, torch.ones_like(x))


def safe_sqrt(q: Tensor) -> Tensor:
    """``sqrt(q)`` for ``q >= 0`` with gradient 0 (not inf or NaN) where ``q == 0``."""
    pos = q > 0
    return torch.where(pos, torch.sqrt(safe(pos, q)), torch.zeros_like(q))


def scheme_indices(scheme: Scheme | str, device: torch.device) -> tuple[Tensor, Tensor, Tensor, int]:
    """(tangent_prev, tangent_next, has_tangent, n_points) of a scheme as tensors on ``device``."""
    sch = as_scheme(scheme)
    n = int(sch.n_points)
    # np.array copies: the scheme's arrays are read-only and torch warns about those.
    prev_t = torch.tensor(np.array(sch.tangent_prev, dtype=np.int64), device=device)
    next_t = torch.tensor(np.array(sch.tangent_next, dtype=np.int64), device=device)
    has_t = torch.tensor(np.array(sch.has_tangent, dtype=bool), device=device)
    if not (prev_t.shape == next_t.shape == has_t.shape == (n,)):
        raise ValueError(f"scheme {sch.name!r}: tangent arrays must have length n_points={n}")
    return prev_t, next_t, has_t, n
