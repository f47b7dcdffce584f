"""Tests for ADNet's anisotropic direction loss and the anisotropic Wing loss:
the shared contract (loss_helpers.LossContract), known values by hand on the
hand-made 68-point shape, reductions to simpler losses, invariances."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from loss_helpers import PROPS, S68, SCHEMES, LossContract, hand_shape, moved, noisy, shape  # noqa: E402

from aniso import losses as L  # noqa: E402
from aniso.topology import get_scheme  # noqa: E402

SCALE = 0.01 * 64 / 2  # ADNet's 0.01 in [-1, 1] coordinates, in pixels of a 64 px input
ALPHA, BETA = 4 / 3, 2 / 3  # 2 lam / (lam + 1), 2 / (lam + 1) at lam = 2


def huber(delta: float, s: float = SCALE) -> float:
    return 0.5 * delta * delta / s if delta < s else delta - 0.5 * s


def wing(x: float, w: float = 10.0, eps: float = 2.0) -> float:
    return w * math.log(1 + x / eps) if x < w else x - (w - w * math.log(1 + w / eps))


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


class TestAnisotropicDirectionLoss(LossContract):
    n_points = 68
    kwargs = {"scheme": S68, "lam": 2.0, "scale": SCALE}

    @staticmethod
    def fn(pred, target, **kw):
        return L.anisotropic_direction_loss(pred, target, **kw)

    def module(self):
        return L.AnisotropicDirectionLoss(S68, lam=2.0, scale=SCALE)

    def test_defaults(self):
        assert dict(L.ADNET_DEFAULTS) == {"lam": 2.0, "scale": pytest.approx(0.32)}

    def test_known_values(self):
        z = hand_shape()
        # jaw point 5, neighbours on the line y = 0: tangent (1, 0), normal (0, 1); along 3, across 4
        assert self.call(moved(z, 5, (3.0, 4.0)), z).item() == pytest.approx(
            math.sqrt(ALPHA * 16 + BETA * 9) - SCALE / 2, rel=1e-12)
        # jaw end 0: one neighbour is the point itself, the normal is perpendicular to the chord to point 1
        assert self.call(moved(z, 0, (3.0, 4.0)), z).item() == pytest.approx(
            math.sqrt(ALPHA * 16 + BETA * 9) - SCALE / 2, rel=1e-12)
        # eye corner 36 (a paper corner): isotropic, delta = |d| = 5
        assert self.call(moved(z, 36, (3.0, 4.0)), z).item() == pytest.approx(5 - SCALE / 2, rel=1e-12)
        # below the scale: 0.5 delta^2 / scale, delta^2 = 4/3 0.01 + 2/3 0.01
        assert self.call(moved(z, 5, (0.1, 0.1)), z).item() == pytest.approx(0.5 * 0.02 / SCALE, rel=1e-12)

    def test_normal_is_the_bisector_not_the_chord(self):
        z = hand_shape()
        # eye point 37 at (210, 210), neighbours 36 at (200, 200) and 38 at (220, 210)
        n = _unit(_unit([-1.0, -1.0]) + _unit([1.0, 0.0]))
        t = np.array([-n[1], n[0]])
        d = 2.0 * n + 1.0 * t
        got = self.call(moved(z, 37, d), z).item()
        assert got == pytest.approx(math.sqrt(ALPHA * 4 + BETA * 1) - SCALE / 2, rel=1e-12)
        # the paper's chord tangent z38 - z36 = (20, 10) would give another number
        tc = _unit([20.0, 10.0])
        nc = np.array([-tc[1], tc[0]])
        chord = math.sqrt(ALPHA * (d @ nc) ** 2 + BETA * (d @ tc) ** 2) - SCALE / 2
        assert abs(chord - got) > 1e-3

    def test_collinear_uneven_neighbours_use_the_chord(self):
        z = hand_shape()
        z[0, 28] = torch.tensor([100.0, 51.0], dtype=z.dtype)  # between 27 (100, 50) and 29 (100, 58), off-centre
        # bisector 0; tangent along the chord (vertical), normal horizontal: across 3, along 4
        got = self.call(moved(z, 28, (3.0, 4.0)), z).item()
        assert got == pytest.approx(math.sqrt(ALPHA * 9 + BETA * 16) - SCALE / 2, rel=1e-12)

    def test_batch_mean_and_sum_over_points(self):
        z = hand_shape()
        two = moved(moved(z, 5, (3.0, 4.0)), 36, (3.0, 4.0))
        one_img = math.sqrt(ALPHA * 16 + BETA * 9) - SCALE / 2 + 5 - SCALE / 2
        got = self.call(torch.cat([two, z]), torch.cat([z, z])).item()
        assert got == pytest.approx(one_img / 2, rel=1e-12)

    @pytest.mark.parametrize("name", SCHEMES)
    def test_lam_one_is_huber_of_point_distance(self, name):
        s = get_scheme(name)
        z = shape(s.n_points, seed=40, batch=2)
        p = noisy(z, 40, sigma=0.5)  # errors on both sides of the switch at 1 px
        dist = (p - z).norm(dim=-1)
        want = torch.where(dist < 1.0, 0.5 * dist**2, dist - 0.5).sum(-1).mean()
        got = L.anisotropic_direction_loss(p, z, s, lam=1.0, scale=1.0)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("name", SCHEMES)
    def test_points_without_tangent_are_isotropic(self, name):
        s = get_scheme(name)
        z = shape(s.n_points, seed=41)
        for i in np.flatnonzero(~s.has_tangent):
            got = L.anisotropic_direction_loss(moved(z, int(i), (3.0, -4.0)), z, s).item()
            assert got == pytest.approx(5 - SCALE / 2, rel=1e-12)

    def test_all_points_equal_is_finite_and_isotropic(self):
        z = torch.full((1, 68, 2), 7.0, dtype=torch.float64, requires_grad=True)
        p = noisy(z.detach(), 42).requires_grad_(True)
        out = L.anisotropic_direction_loss(p, z, S68, lam=3.0, scale=1.0)
        out.backward()
        assert torch.isfinite(p.grad).all() and torch.isfinite(z.grad).all()
        assert out.item() == pytest.approx(L.anisotropic_direction_loss(p, z, S68, lam=1.0, scale=1.0).item())

    def test_make_loss_scales_scale_with_input_size(self):
        m = L.make_loss("anisotropic_direction", scheme="300w", input_size=256, lam=3.0)
        assert (m.lam, m.scale) == (3.0, pytest.approx(4 * SCALE))
        assert L.make_loss("anisotropic_direction", scheme="300w").scale == pytest.approx(SCALE)

    @pytest.mark.parametrize("kw", [{"lam": 0.0}, {"scale": -1.0}, {"lam": float("inf")}])
    def test_bad_params_raise(self, kw):
        z = shape(68, seed=43)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.anisotropic_direction_loss(z, z, S68, **kw)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.AnisotropicDirectionLoss(S68, **kw)

    def test_scheme_size_mismatch_raises(self):
        z = shape(98, seed=44)
        with pytest.raises(ValueError, match="68 points"):
            L.anisotropic_direction_loss(z, z, S68)


class TestAnisotropicWingLoss(LossContract):
    n_points = 68
    kwargs = {"scheme": S68, "a": 6.0, "b": 3.0, "w": 10.0, "epsilon": 2.0}

    @staticmethod
    def fn(pred, target, **kw):
        return L.anisotropic_wing_loss(pred, target, **kw)

    def module(self):
        return L.AnisotropicWingLoss(S68, a=6.0, b=3.0, w=10.0, epsilon=2.0)

    def test_known_values(self):
        z = hand_shape()
        # jaw point 5, tangent (1, 0): m^2 = 3^2 / 36 + 4^2 / 9, log piece
        assert self.call(moved(z, 5, (3.0, 4.0)), z).item() == pytest.approx(
            10 * math.log(1 + math.sqrt(9 / 36 + 16 / 9) / 2), rel=1e-12)
        # eye corner 36: m = |d| = 50 > w: linear piece 50 - (10 - 10 ln 6)
        assert self.call(moved(z, 36, (30.0, 40.0)), z).item() == pytest.approx(40 + 10 * math.log(6), rel=1e-12)
        # eye point 41, closed-curve tangent (-2, 1)/sqrt5: 2 along, 5 across
        t, n = np.array([-2.0, 1.0]) / math.sqrt(5), np.array([1.0, 2.0]) / math.sqrt(5)
        got = self.call(moved(z, 41, 2 * t + 5 * n), z).item()
        assert got == pytest.approx(wing(math.sqrt(4 / 36 + 25 / 9)), rel=1e-12)

    def test_a_equals_b_equals_one_is_wing_of_point_distance(self):
        z = shape(68, seed=50, batch=2)
        p = noisy(z, 50, sigma=8.0)  # some errors beyond w = 10
        dist = (p - z).norm(dim=-1)
        want = np.mean([sum(wing(x) for x in row) for row in dist.tolist()])
        got = L.anisotropic_wing_loss(p, z, S68, a=1.0, b=1.0).item()
        assert got == pytest.approx(want, rel=1e-12)

    def test_normalize_scales_the_distance_by_sqrt_k(self):
        z = shape(98, seed=51, batch=2)
        p = noisy(z, 51)
        d = p - z
        q = torch.einsum("bni,bnij,bnj->bn", d, L.anisotropic_weights(z, "wflw", 6.0, 3.0, normalize=True), d)
        want = np.mean([sum(wing(math.sqrt(x)) for x in row) for row in q.tolist()])
        assert L.anisotropic_wing_loss(p, z, "wflw", normalize=True).item() == pytest.approx(want, rel=1e-12)

    def test_gradient_at_zero_error_is_zero(self):
        z = shape(68, seed=52)
        p = z.clone().requires_grad_(True)
        L.anisotropic_wing_loss(p, z, S68).backward()
        assert torch.equal(p.grad, torch.zeros_like(p.grad))

    def test_make_loss_scales_w_and_epsilon_not_a_b(self):
        m = L.make_loss("anisotropic_wing", scheme="300w", input_size=256)
        assert (m.w, m.epsilon, m.a, m.b) == (40.0, 8.0, 6.0, 3.0)

    @pytest.mark.parametrize("kw", [{"a": 0.0}, {"b": -1.0}, {"w": 0.0}, {"epsilon": float("nan")}])
    def test_bad_params_raise(self, kw):
        z = shape(68, seed=53)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.anisotropic_wing_loss(z, z, S68, **kw)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.AnisotropicWingLoss(S68, **kw)


LOSSES = {
    "direction": lambda p, z, s: L.anisotropic_direction_loss(p, z, s, lam=2.5, scale=0.7),
    "wing": lambda p, z, s: L.anisotropic_wing_loss(p, z, s, a=5.0, b=2.0),
}


@PROPS
@given(which=st.sampled_from(sorted(LOSSES)), name=st.sampled_from(SCHEMES), seed=st.integers(0, 2**31 - 1),
       angle=st.floats(-math.pi, math.pi), shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)))
def test_rotation_and_translation_invariance(which, name, seed, angle, shift):
    s = get_scheme(name)
    z = shape(s.n_points, seed, batch=2)
    p = noisy(z, seed)
    c, si = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -si], [si, c]], dtype=torch.float64)
    off = torch.tensor(shift, dtype=torch.float64)
    before = LOSSES[which](p, z, s)
    after = LOSSES[which](p @ rot.T + off, z @ rot.T + off, s)
    assert after.item() == pytest.approx(before.item(), rel=1e-9, abs=1e-9)


@PROPS
@given(which=st.sampled_from(sorted(LOSSES)), name=st.sampled_from(SCHEMES), seed=st.integers(0, 2**31 - 1),
       grid=st.integers(1, 3))
def test_shapes_with_many_duplicates_are_finite(which, name, seed, grid):
    s = get_scheme(name)
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(0, grid + 1, (2, s.n_points, 2), generator=g).double().requires_grad_(True)
    p = noisy(z.detach(), seed).requires_grad_(True)
    out = LOSSES[which](p, z, s)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(p.grad).all() and torch.isfinite(z.grad).all()
