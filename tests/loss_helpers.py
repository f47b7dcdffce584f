"""Shared helpers of the loss tests: random shapes, the hand-made 68-point
target, and :class:`LossContract`, the tests every loss class repeats
(known values stay in each test class)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import settings

from aniso.topology import get_scheme

SCHEMES = ("300w", "wflw", "aflw")
PROPS = settings(max_examples=40, deadline=None)


def shape(n: int, seed: int, batch: int = 1, dtype=torch.float64, scale: float = 64.0) -> torch.Tensor:
    """Random (batch, n, 2) pixel landmarks; distinct points with probability 1."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, n, 2, generator=g, dtype=dtype) * scale


def noisy(target: torch.Tensor, seed: int, sigma: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 1)
    return target + sigma * torch.randn(target.shape, generator=g, dtype=target.dtype)


# One image with a few hand-chosen errors, and a second image, for the known values.
# Errors (pred - target): image 0: (0.5, -3), (2, 0); image 1: (-20, 1), (0, 0).
TARGET = torch.tensor([[[10.0, 20.0], [30.0, 5.0]], [[0.0, 0.0], [7.0, 7.0]]], dtype=torch.float64)
ERR = torch.tensor([[[0.5, -3.0], [2.0, 0.0]], [[-20.0, 1.0], [0.0, 0.0]]], dtype=torch.float64)
PRED = TARGET + ERR


class LossContract:
    """The tests every loss class shares; subclasses set ``fn``, ``module``, ``kwargs``."""

    fn = None
    kwargs: dict = {}

    def module(self):
        raise NotImplementedError

    def call(self, pred, target):
        return type(self).fn(pred, target, **self.kwargs)

    def test_zero_at_perfect_prediction(self):
        for dtype in (torch.float32, torch.float64):
            t = shape(self.n_points, seed=3, batch=3, dtype=dtype)
            out = self.call(t, t.clone())
            assert out.dtype == dtype and out.dim() == 0
            assert out.item() == 0.0

    def test_positive_for_wrong_prediction(self):
        t = shape(self.n_points, seed=4, batch=2)
        assert self.call(noisy(t, 4), t).item() > 0

    def test_function_equals_module(self):
        t = shape(self.n_points, seed=5, batch=4)
        p = noisy(t, 5)
        assert torch.equal(self.module()(p, t), self.call(p, t))

    def test_gradcheck_float64(self):
        t = shape(self.n_points, seed=6, batch=2).requires_grad_(True)
        p = noisy(t.detach(), 6).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: self.call(a, b), (p, t), eps=1e-6, atol=1e-6)

    def test_finite_gradient_at_zero_error(self):
        t = shape(self.n_points, seed=7, batch=2)
        p = t.clone().requires_grad_(True)
        self.call(p, t).backward()
        assert torch.isfinite(p.grad).all()

    @pytest.mark.parametrize(
        "pshape,tshape",
        [((2, 5, 2), (2, 5, 3)), ((2, 5, 2), (2, 4, 2)), ((10, 2), (10, 2)), ((2, 5, 3), (2, 5, 3)),
         ((0, 5, 2), (0, 5, 2))],
    )
    def test_bad_shapes_raise(self, pshape, tshape):
        if self.n_points != 5:  # the anisotropic class checks its own N below
            pshape = tuple(self.n_points if s == 5 else s for s in pshape)
            tshape = tuple(self.n_points if s == 5 else s for s in tshape)
        with pytest.raises(ValueError, match="shape|batch"):
            self.call(torch.zeros(pshape), torch.zeros(tshape))

    def test_bad_dtypes_raise(self):
        t = shape(self.n_points, seed=8)
        with pytest.raises(ValueError, match="dtype"):
            self.call(t.float(), t.double())
        with pytest.raises(ValueError, match="floating"):
            self.call(t.long(), t.long())

    n_points = 5


S68 = get_scheme("300w")


def hand_shape() -> torch.Tensor:
    """A 68-point target with known tangents.

    Jaw 0..16 on the horizontal line y = 0 at x = 3i; nose bridge 27..30 on
    the vertical line x = 100; right eye 36..41 a hexagon; all other points
    at distinct positions off those lines.
    """
    z = np.zeros((68, 2))
    for i in range(68):
        z[i] = (3.0 * i, 40.0 + 5.0 * (i % 7) + i)  # distinct filler
    for i in range(17):
        z[i] = (3.0 * i, 0.0)
    for k, i in enumerate(range(27, 31)):
        z[i] = (100.0, 50.0 + 4.0 * k)
    hexagon = [(0, 0), (1, 1), (2, 1), (3, 0), (2, -1), (1, -1)]
    for i, (x, y) in zip(range(36, 42), hexagon):
        z[i] = (200.0 + 10 * x, 200.0 + 10 * y)
    return torch.tensor(z[None], dtype=torch.float64)


def moved(z: torch.Tensor, i: int, d) -> torch.Tensor:
    p = z.clone()
    p[0, i] += torch.as_tensor(d, dtype=z.dtype)
    return p
