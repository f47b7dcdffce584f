"""A worked example of a user loss for aniso-repro: corner-weighted L1.

Any run can use a loss of your own instead of a built-in name, by reference
``"module:attribute"``::

    from aniso.losses import make_loss
    loss = make_loss("my_losses:corner_weighted_l1", scheme="300w", corner_weight=3.0)

The module must be importable: put this folder on PYTHONPATH, e.g. from the
repository root ``PYTHONPATH=examples:lib python ...`` (or install your
module as a package). ``make_loss`` imports it, checks the signature and
probes one call on a small random batch before any training starts.

The contract: ``loss(pred, target, scheme, **params)`` with ``pred`` and
``target`` ``(B, N, 2)`` tensors of x, y in pixels of the network input and
``scheme`` an ``aniso.topology.Scheme``; return a finite scalar tensor with a
gradient. Reduce like the built-in losses (mean over the batch of the
per-image sum over points and coordinates) to keep losses comparable. An
``nn.Module`` subclass works too: its constructor takes the parameters and
its ``forward`` takes ``(pred, target, scheme)`` (see :class:`CornerWeightedL1`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def corner_weighted_l1(pred: Tensor, target: Tensor, scheme, corner_weight: float = 2.0) -> Tensor:
    """L1 with the scheme's corners (``scheme.corners``) weighted ``corner_weight`` times, others 1.

    ``mean_b sum_i w_i (|dx_i| + |dy_i|)``, errors in pixels; corners are the
    well-defined points (eye and mouth corners for the paper's schemes).
    """
    weights = torch.ones(scheme.n_points, dtype=pred.dtype, device=pred.device)
    weights[list(scheme.corners)] = corner_weight
    return ((pred - target).abs().sum(dim=-1) * weights).sum(dim=-1).mean()


class CornerWeightedL1(nn.Module):
    """The same loss as a module: ``CornerWeightedL1(corner_weight)(pred, target, scheme)``."""

    def __init__(self, corner_weight: float = 2.0) -> None:
        super().__init__()
        self.corner_weight = float(corner_weight)

    def forward(self, pred: Tensor, target: Tensor, scheme) -> Tensor:
        return corner_weighted_l1(pred, target, scheme, corner_weight=self.corner_weight)
