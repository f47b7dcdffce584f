"""Tests for aniso.losses: one class per loss with the same contract tests
(known values by hand, zero at a perfect prediction, function == module,
float64 gradcheck, bad shapes raise), plus the property tests of the
anisotropic cost on the real landmark schemes. The factory is tested in
test_losses_registry.py, the shared contract lives in loss_helpers.py."""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from loss_helpers import PRED, PROPS, S68, SCHEMES, TARGET  # noqa: E402
from loss_helpers import LossContract as _LossContract  # noqa: E402
from loss_helpers import hand_shape as _hand_shape  # noqa: E402
from loss_helpers import moved as _moved  # noqa: E402
from loss_helpers import noisy as _noisy  # noqa: E402
from loss_helpers import shape as _shape  # noqa: E402

from aniso import losses as L  # noqa: E402
from aniso.topology import get_scheme  # noqa: E402


class TestL2Loss(_LossContract):
    fn = staticmethod(L.l2_loss)

    def module(self):
        return L.L2Loss()

    def test_known_values(self):
        # image 0: 0.25 + 9 + 4 = 13.25; image 1: 400 + 1 = 401; mean 207.125
        assert self.call(PRED, TARGET).item() == pytest.approx(207.125, abs=1e-12)
        # 3-4-5 triangle: squared distance, not halved
        assert L.l2_loss(torch.tensor([[[3.0, 4.0]]]), torch.zeros(1, 1, 2)).item() == 25.0


class TestL1Loss(_LossContract):
    fn = staticmethod(L.l1_loss)

    def module(self):
        return L.L1Loss()

    def test_known_values(self):
        # image 0: 0.5 + 3 + 2 = 5.5; image 1: 20 + 1 = 21; mean 13.25
        assert self.call(PRED, TARGET).item() == pytest.approx(13.25, abs=1e-12)


class TestSmoothL1Loss(_LossContract):
    fn = staticmethod(L.smooth_l1_loss)
    kwargs = {"beta": 1.0}

    def module(self):
        return L.SmoothL1Loss(beta=1.0)

    def test_known_values(self):
        # beta=1: 0.5 -> 0.5*0.25 = 0.125; 3 -> 2.5; 2 -> 1.5; image 0 = 4.125
        #         20 -> 19.5; 1 -> 0.5 (|x| = beta takes the linear piece); image 1 = 20
        assert self.call(PRED, TARGET).item() == pytest.approx((4.125 + 20.0) / 2, abs=1e-12)
        # beta=4: 0.5 -> 0.03125; 3 -> 1.125; 2 -> 0.5; 20 -> 18; 1 -> 0.125
        got = L.smooth_l1_loss(PRED, TARGET, beta=4.0).item()
        assert got == pytest.approx((0.03125 + 1.125 + 0.5 + 18.0 + 0.125) / 2, abs=1e-12)

    def test_beta_zero_is_l1(self):
        t = _shape(5, seed=1, batch=2)
        p = _noisy(t, 1)
        assert L.smooth_l1_loss(p, t, beta=0.0).item() == pytest.approx(L.l1_loss(p, t).item(), rel=1e-12)

    def test_bad_beta_raises(self):
        with pytest.raises(ValueError, match="beta"):
            L.smooth_l1_loss(PRED, TARGET, beta=-1.0)


class TestWingLoss(_LossContract):
    fn = staticmethod(L.wing_loss)
    kwargs = {"w": 10.0, "epsilon": 2.0}

    def module(self):
        return L.WingLoss(w=10.0, epsilon=2.0)

    def test_known_values(self):
        c = 10 - 10 * math.log(1 + 10 / 2)  # = 10 - 10 ln 6
        img0 = 10 * math.log(1 + 0.5 / 2) + 10 * math.log(1 + 3 / 2) + 10 * math.log(1 + 2 / 2)
        img1 = (20 - c) + 10 * math.log(1 + 1 / 2)
        assert self.call(PRED, TARGET).item() == pytest.approx((img0 + img1) / 2, rel=1e-12)
        # the same by simplification: 2 and 20 give 10 ln 2 + 10 + 10 ln 6 = 10 + 10 ln 12
        one = L.wing_loss(torch.tensor([[[2.0, -20.0]]]), torch.zeros(1, 1, 2)).item()
        assert one == pytest.approx(10 + 10 * math.log(12), rel=1e-6)

    def test_continuous_at_w(self):
        w = torch.tensor([[[10.0 - 1e-9, 10.0 + 1e-9]]], dtype=torch.float64)
        per = [L.wing_loss(w[..., i : i + 1].expand(1, 1, 2).contiguous(), torch.zeros(1, 1, 2, dtype=torch.float64))
               for i in range(2)]
        assert per[0].item() == pytest.approx(per[1].item(), abs=1e-6)

    def test_huge_error_is_finite(self):
        p = torch.tensor([[[1e30, -1e30]]])
        out = L.wing_loss(p.requires_grad_(True), torch.zeros(1, 1, 2))
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(p.grad).all()

    def test_bad_params_raise(self):
        with pytest.raises(ValueError, match="epsilon"):
            L.wing_loss(PRED, TARGET, epsilon=0.0)
        with pytest.raises(ValueError, match="w must"):
            L.WingLoss(w=-1.0)


class TestAdaptiveWingLoss(_LossContract):
    fn = staticmethod(L.adaptive_wing_loss)
    kwargs = {"omega": 14.0, "theta": 0.5, "epsilon": 1.0, "alpha": 2.1, "y": 1.0}

    def module(self):
        return L.AdaptiveWingLoss(omega=14.0, theta=0.5, epsilon=1.0, alpha=2.1, y=1.0)

    @staticmethod
    def _awing(d: float, omega=14.0, theta=0.5, eps=1.0, alpha=2.1, y=1.0) -> float:
        # The paper's formula written out independently of the library.
        p = alpha - y
        big_a = omega * (1 / (1 + (theta / eps) ** p)) * p * (theta / eps) ** (p - 1) / eps
        big_c = theta * big_a - omega * math.log(1 + (theta / eps) ** p)
        d = abs(d)
        return omega * math.log(1 + (d / eps) ** p) if d < theta else big_a * d - big_c

    def test_known_values(self):
        img0 = self._awing(0.5) + self._awing(3) + self._awing(2)
        img1 = self._awing(20) + self._awing(1)
        assert self.call(PRED, TARGET).item() == pytest.approx((img0 + img1) / 2, rel=1e-12)
        # d = 0.25 < theta, exponent 1.1: 14 ln(1 + 0.25^1.1) = 14 ln(1.21764...) by hand
        one = L.adaptive_wing_loss(torch.tensor([[[0.25, 0.0]]], dtype=torch.float64),
                                   torch.zeros(1, 1, 2, dtype=torch.float64)).item()
        assert one == pytest.approx(14 * math.log(1 + 0.25**1.1), rel=1e-12)
        assert one == pytest.approx(2.7559, abs=1e-3)
        # background-pixel exponent (y = 0, p = 2.1) for comparison with the paper's heat-map case
        bg = L.adaptive_wing_loss(torch.tensor([[[3.0, 0.0]]], dtype=torch.float64),
                                  torch.zeros(1, 1, 2, dtype=torch.float64), y=0.0).item()
        assert bg == pytest.approx(self._awing(3, y=0.0), rel=1e-12)

    def test_known_values_scaled_epsilon(self):
        # theta = 2, epsilon = 4 (the 256 px defaults): both pieces, epsilon != 1
        got = L.adaptive_wing_loss(PRED, TARGET, theta=2.0, epsilon=4.0).item()
        want = sum(self._awing(d, theta=2.0, eps=4.0) for d in (0.5, 3.0, 2.0, 20.0, 1.0)) / 2
        assert got == pytest.approx(want, rel=1e-12)

    @pytest.mark.parametrize("theta,eps,y", [(0.5, 1.0, 1.0), (1.0, 2.0, 1.0), (2.0, 4.0, 0.0), (0.5, 3.0, 0.5)])
    def test_value_and_slope_continuous_at_theta(self, theta, eps, y):
        x = torch.tensor([[[theta - 1e-7, theta + 1e-7]]], dtype=torch.float64, requires_grad=True)
        kw = dict(theta=theta, epsilon=eps, y=y)
        lo = L.adaptive_wing_loss(x[..., :1].expand(1, 1, 2), torch.zeros(1, 1, 2, dtype=torch.float64), **kw)
        hi = L.adaptive_wing_loss(x[..., 1:].expand(1, 1, 2), torch.zeros(1, 1, 2, dtype=torch.float64), **kw)
        assert lo.item() == pytest.approx(hi.item(), abs=1e-5)
        (lo + hi).backward()
        assert x.grad[0, 0, 0].item() == pytest.approx(x.grad[0, 0, 1].item(), rel=1e-4)

    @pytest.mark.parametrize("alpha,y", [(2.1, 1.0), (1.5, 1.0), (2.1, 0.0)])
    def test_gradient_at_zero_is_zero(self, alpha, y):
        # exponent 1.1, 0.5 (|d|^p has an infinite slope at 0: guarded) and 2.1
        t = torch.zeros(1, 3, 2, dtype=torch.float64)
        p = t.clone().requires_grad_(True)
        L.adaptive_wing_loss(p, t, alpha=alpha, y=y).backward()
        assert torch.equal(p.grad, torch.zeros_like(p.grad))

    def test_bad_params_raise(self):
        with pytest.raises(ValueError, match="alpha - y"):
            L.adaptive_wing_loss(PRED, TARGET, alpha=1.0, y=1.0)
        with pytest.raises(ValueError, match="theta"):
            L.AdaptiveWingLoss(theta=0.0)


# --------------------------------------------------------------------------- anisotropic

class TestAnisotropicLoss(_LossContract):
    n_points = 68
    kwargs = {"scheme": S68, "a": 6.0, "b": 3.0}

    @staticmethod
    def fn(pred, target, **kw):
        return L.anisotropic_loss(pred, target, **kw)

    def module(self):
        return L.AnisotropicLoss(S68, a=6.0, b=3.0)

    def test_known_values(self):
        z = _hand_shape()
        a, b = 6.0, 3.0
        # jaw interior point 5, tangent (1, 0): along 3 -> 9/36, across 4 -> 16/9
        assert self.call(_moved(z, 5, (3.0, 4.0)), z).item() == pytest.approx(9 / 36 + 16 / 9, rel=1e-12)
        # jaw end point 0, one-sided tangent z1 - z0 = (3, 0): same
        assert self.call(_moved(z, 0, (3.0, 4.0)), z).item() == pytest.approx(9 / 36 + 16 / 9, rel=1e-12)
        # nose bridge point 28, vertical tangent: x is across, y along
        assert self.call(_moved(z, 28, (3.0, 4.0)), z).item() == pytest.approx(9 / 9 + 16 / 36, rel=1e-12)
        # eye corner 36: plain squared distance
        assert self.call(_moved(z, 36, (3.0, 4.0)), z).item() == pytest.approx(25.0, rel=1e-12)
        # eye point 41 on the closed curve: tangent wraps, z36 - z40 = (-20, 10) ~ (-2, 1) / sqrt 5
        t = np.array([-2.0, 1.0]) / math.sqrt(5.0)
        n = np.array([1.0, 2.0]) / math.sqrt(5.0)
        d = 2.0 * t + 5.0 * n
        assert self.call(_moved(z, 41, d), z).item() == pytest.approx(4 / a**2 + 25 / b**2, rel=1e-12)
        # two points moved: costs add; batch of two images: mean
        two = _moved(_moved(z, 5, (3.0, 4.0)), 36, (3.0, 4.0))
        assert self.call(two, z).item() == pytest.approx(9 / 36 + 16 / 9 + 25, rel=1e-12)
        batch = torch.cat([two, z])
        assert self.call(batch, torch.cat([z, z])).item() == pytest.approx((9 / 36 + 16 / 9 + 25) / 2, rel=1e-12)

    def test_weights_known_values(self):
        z = _hand_shape()
        w = L.anisotropic_weights(z, S68, a=6.0, b=3.0)
        assert w.shape == (1, 68, 2, 2) and w.dtype == torch.float64
        torch.testing.assert_close(w[0, 5], torch.tensor([[1 / 36, 0.0], [0.0, 1 / 9]], dtype=torch.float64))
        torch.testing.assert_close(w[0, 28], torch.tensor([[1 / 9, 0.0], [0.0, 1 / 36]], dtype=torch.float64))
        torch.testing.assert_close(w[0, 36], torch.eye(2, dtype=torch.float64))
        tt = torch.tensor([[4.0, -2.0], [-2.0, 1.0]], dtype=torch.float64) / 5  # t t^T for t = (-2, 1)/sqrt5
        torch.testing.assert_close(w[0, 41], tt / 36 + (torch.eye(2, dtype=torch.float64) - tt) / 9)

    def test_loss_is_quadratic_form_of_weights(self):
        for name in SCHEMES:
            s = get_scheme(name)
            z = _shape(s.n_points, seed=11, batch=3)
            p = _noisy(z, 11)
            d = p - z
            q = torch.einsum("bni,bnij,bnj->b", d, L.anisotropic_weights(z, s, 5.0, 2.0), d).mean()
            torch.testing.assert_close(L.anisotropic_loss(p, z, s, a=5.0, b=2.0), q, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("name", SCHEMES)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_a_equals_b_equals_one_is_l2_exactly(self, name, dtype):
        s = get_scheme(name)
        z = _shape(s.n_points, seed=12, batch=5, dtype=dtype)
        p = _noisy(z, 12)
        assert torch.equal(L.anisotropic_loss(p, z, s, a=1.0, b=1.0), L.l2_loss(p, z))

    def test_gradcheck_float64_every_scheme(self):
        for name in ("aflw", "wflw"):
            s = get_scheme(name)
            t = _shape(s.n_points, seed=13).requires_grad_(True)
            p = _noisy(t.detach(), 13).requires_grad_(True)
            assert torch.autograd.gradcheck(lambda a, b: L.anisotropic_loss(a, b, s), (p, t), eps=1e-6, atol=1e-6)

    def test_scheme_size_mismatch_raises(self):
        z = _shape(98, seed=14)
        with pytest.raises(ValueError, match="68 points"):
            L.anisotropic_loss(z, z, S68)
        with pytest.raises(ValueError, match="68 points"):
            L.AnisotropicLoss(S68)(z, z)
        with pytest.raises(ValueError, match="68 points"):
            L.anisotropic_weights(z, S68, 6.0, 3.0)

    @pytest.mark.parametrize("a,b", [(0.0, 3.0), (6.0, -1.0), (float("nan"), 3.0)])
    def test_bad_a_b_raise(self, a, b):
        z = _shape(68, seed=15)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.anisotropic_loss(z, z, S68, a=a, b=b)
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            L.AnisotropicLoss(S68, a=a, b=b)

    def test_module_buffers_and_scheme_name(self):
        m = L.AnisotropicLoss("wflw")
        assert {n for n, _ in m.named_buffers()} == {"tangent_prev", "tangent_next", "has_tangent"}
        assert m.tangent_prev.dtype == torch.long and m.has_tangent.dtype == torch.bool
        assert m.state_dict() == {}  # derived from the scheme, not trained state
        z = _shape(98, seed=16)
        assert torch.equal(m(_noisy(z, 16), z), L.anisotropic_loss(_noisy(z, 16), z, "wflw"))


class TestAnisotropicNormalize:
    """``normalize=True``: weights scaled per image to a mean trace of 2, as L2's."""

    @pytest.mark.parametrize("name", SCHEMES)
    def test_mean_trace_is_two(self, name):
        s = get_scheme(name)
        z = _shape(s.n_points, seed=30, batch=3)
        z[1, s.tangent_next[s.contour_points[0]]] = z[1, s.tangent_prev[s.contour_points[0]]]  # one degenerate tangent
        w = L.anisotropic_weights(z, s, 6.0, 3.0, normalize=True)
        tr = w.diagonal(dim1=-2, dim2=-1).sum(-1)
        torch.testing.assert_close(tr.mean(dim=-1), torch.full((3,), 2.0, dtype=torch.float64), rtol=1e-12, atol=0)
        # the same relative weighting as the paper's matrices: one factor per image
        paper = L.anisotropic_weights(z, s, 6.0, 3.0)
        k = 2.0 / paper.diagonal(dim1=-2, dim2=-1).sum(-1).mean(dim=-1)
        torch.testing.assert_close(w, k[:, None, None, None] * paper, rtol=1e-12, atol=1e-15)
        assert k[0] != k[1]  # the degenerate tangent in image 1 changes its factor

    def test_known_factor_300w(self):
        # 300W, paper corners: 60 contour points of trace 1/36 + 1/9, 8 corners of trace 2
        k = 2 * 68 / (60 * (1 / 36 + 1 / 9) + 8 * 2)
        z = _hand_shape()
        p = _noisy(z, 31)
        got = L.anisotropic_loss(p, z, S68, normalize=True).item()
        assert got == pytest.approx(k * L.anisotropic_loss(p, z, S68).item(), rel=1e-12)
        assert k == pytest.approx(5.59, abs=0.01)  # the figure the docstring quotes

    def test_quadratic_form_and_module(self):
        z = _shape(98, seed=32, batch=2)
        p = _noisy(z, 32)
        d = p - z
        q = torch.einsum("bni,bnij,bnj->b", d, L.anisotropic_weights(z, "wflw", 4.0, 2.0, normalize=True), d).mean()
        got = L.anisotropic_loss(p, z, "wflw", a=4.0, b=2.0, normalize=True)
        torch.testing.assert_close(got, q, rtol=1e-12, atol=1e-12)
        assert torch.equal(L.AnisotropicLoss("wflw", a=4.0, b=2.0, normalize=True)(p, z), got)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_a_equals_b_equals_one_is_still_l2_exactly(self, dtype):
        z = _shape(68, seed=33, batch=3, dtype=dtype)
        p = _noisy(z, 33)
        assert torch.equal(L.anisotropic_loss(p, z, S68, a=1.0, b=1.0, normalize=True), L.l2_loss(p, z))

    def test_default_is_the_papers_cost(self):
        z = _shape(68, seed=34)
        p = _noisy(z, 34)
        assert torch.equal(L.anisotropic_loss(p, z, S68), L.anisotropic_loss(p, z, S68, normalize=False))
        assert L.make_loss("anisotropic", scheme=S68).normalize is False

    def test_numeric_defaults_unchanged_for_the_run_store(self):
        # the run store hashes a run's loss parameters completed with the function's
        # int/float defaults (bools are ints): a new default there would re-key stored runs
        sig = inspect.signature(L.anisotropic_loss).parameters.values()
        numeric = {p.name: p.default for p in sig if isinstance(p.default, (int, float))}
        assert numeric == {"a": 6.0, "b": 3.0}

    def test_gradcheck(self):
        t = _shape(68, seed=35).requires_grad_(True)
        p = _noisy(t.detach(), 35).requires_grad_(True)
        fn = lambda a, b: L.anisotropic_loss(a, b, S68, normalize=True)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (p, t), eps=1e-6, atol=1e-6)


# Hypothesis property tests of the anisotropic cost on the real schemes.

scheme_names = st.sampled_from(SCHEMES)
seeds = st.integers(0, 2**31 - 1)
ab = st.floats(0.5, 12.0)


@PROPS
@given(name=scheme_names, seed=seeds, angle=st.floats(-math.pi, math.pi),
       shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)), a=ab, b=ab)
def test_rotation_and_translation_invariance(name, seed, angle, shift, a, b):
    s = get_scheme(name)
    z = _shape(s.n_points, seed, batch=2)
    p = _noisy(z, seed)
    c, si = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -si], [si, c]], dtype=torch.float64)
    off = torch.tensor(shift, dtype=torch.float64)
    before = L.anisotropic_loss(p, z, s, a=a, b=b)
    after = L.anisotropic_loss(p @ rot.T + off, z @ rot.T + off, s, a=a, b=b)
    assert after.item() == pytest.approx(before.item(), rel=1e-9, abs=1e-9)


@PROPS
@given(name=scheme_names, seed=seeds, pick=st.integers(0, 10**6), d=st.floats(-30, 30), a=ab, b=ab)
def test_displacement_along_and_across_tangent(name, seed, pick, d, a, b):
    s = get_scheme(name)
    z = _shape(s.n_points, seed)
    i = int(s.contour_points[pick % len(s.contour_points)])
    t = z[0, s.tangent_next[i]] - z[0, s.tangent_prev[i]]
    t = t / t.norm()
    n = torch.stack([-t[1], t[0]])
    along = L.anisotropic_loss(_moved(z, i, d * t), z, s, a=a, b=b).item()
    across = L.anisotropic_loss(_moved(z, i, d * n), z, s, a=a, b=b).item()
    assert along == pytest.approx(d * d / a**2, rel=1e-9, abs=1e-12)
    assert across == pytest.approx(d * d / b**2, rel=1e-9, abs=1e-12)


@PROPS
@given(name=scheme_names, seed=seeds, pick=st.integers(0, 10**6),
       d=st.tuples(st.floats(-30, 30), st.floats(-30, 30)), a=ab, b=ab)
def test_corners_and_free_points_cost_plain_squared_distance(name, seed, pick, d, a, b):
    s = get_scheme(name)
    plain = np.flatnonzero(~s.has_tangent)  # corners, plus points on no curve (e.g. WFLW pupils, AFLW chin)
    assert set(s.corners) <= set(plain.tolist())
    i = int(plain[pick % len(plain)])
    z = _shape(s.n_points, seed)
    got = L.anisotropic_loss(_moved(z, i, d), z, s, a=a, b=b).item()
    assert got == pytest.approx(d[0] ** 2 + d[1] ** 2, rel=1e-9, abs=1e-12)


def _finite_loss_and_grads(p: torch.Tensor, z: torch.Tensor, s, a: float, b: float) -> torch.Tensor:
    p = p.clone().requires_grad_(True)
    z = z.clone().requires_grad_(True)
    out = L.anisotropic_loss(p, z, s, a=a, b=b)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(p.grad).all() and torch.isfinite(z.grad).all()
    return out.detach()


@PROPS
@given(name=scheme_names, seed=seeds, point=st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
       dtype=st.sampled_from([torch.float32, torch.float64]), a=ab, b=ab)
def test_all_points_equal_is_finite_and_isotropic(name, seed, point, dtype, a, b):
    s = get_scheme(name)
    z = torch.tensor(point, dtype=dtype).expand(1, s.n_points, 2).clone()
    p = _noisy(z, seed)
    out = _finite_loss_and_grads(p, z, s, a, b)
    # no tangent anywhere: every W is I
    assert torch.equal(L.anisotropic_weights(z, s, a, b), torch.eye(2, dtype=dtype).expand(1, s.n_points, 2, 2))
    assert out.item() == pytest.approx(L.l2_loss(p, z).item(), rel=1e-6)


@PROPS
@given(name=scheme_names, seed=seeds, pick=st.integers(0, 10**6), a=ab, b=ab)
def test_coinciding_tangent_neighbours_give_identity(name, seed, pick, a, b):
    s = get_scheme(name)
    i = int(s.contour_points[pick % len(s.contour_points)])
    z = _shape(s.n_points, seed)
    z[0, s.tangent_next[i]] = z[0, s.tangent_prev[i]]  # zero-length tangent at i (at an open end: a duplicate point)
    w = L.anisotropic_weights(z, s, a, b)
    assert torch.equal(w[0, i], torch.eye(2, dtype=z.dtype))
    assert torch.isfinite(w).all()
    p = _noisy(z, seed)
    _finite_loss_and_grads(p, z, s, a, b)
    # point i alone, moved any way: plain squared distance
    assert L.anisotropic_loss(_moved(z, i, (3.0, -4.0)), z, s, a=a, b=b).item() == pytest.approx(25.0, rel=1e-12)


@PROPS
@given(name=scheme_names, seed=seeds, grid=st.integers(1, 3), a=ab, b=ab)
def test_shapes_with_many_duplicates_are_finite(name, seed, grid, a, b):
    # target points drawn from a tiny integer grid: many coinciding neighbours at once
    s = get_scheme(name)
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(0, grid + 1, (2, s.n_points, 2), generator=g).double()
    p = _noisy(z, seed)
    out = _finite_loss_and_grads(p, z, s, a, b)
    lo, hi = min(1.0, 1 / a**2, 1 / b**2), max(1.0, 1 / a**2, 1 / b**2)
    l2 = L.l2_loss(p, z).item()
    assert lo * l2 * (1 - 1e-9) <= out.item() <= hi * l2 * (1 + 1e-9)


