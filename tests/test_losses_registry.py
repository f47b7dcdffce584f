"""Tests for aniso.losses.registry: make_loss, LOSS_NAMES and the registry's specs."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from loss_helpers import S68  # noqa: E402
from loss_helpers import noisy as _noisy  # noqa: E402
from loss_helpers import shape as _shape  # noqa: E402

from aniso import losses as L  # noqa: E402


class TestMakeLoss:
    expected = {
        "l2": L.L2Loss, "l1": L.L1Loss, "smooth_l1": L.SmoothL1Loss, "wing": L.WingLoss,
        "adaptive_wing": L.AdaptiveWingLoss, "anisotropic": L.AnisotropicLoss,
        "anisotropic_direction": L.AnisotropicDirectionLoss, "anisotropic_wing": L.AnisotropicWingLoss,
        "learned_anisotropic": L.LearnedAnisotropicLoss,
    }

    def test_names(self):
        assert set(L.LOSS_NAMES) == set(self.expected)

    @pytest.mark.parametrize("name", L.LOSS_NAMES)
    def test_every_name_accepts_scheme_input_size_and_train_shapes(self, name):
        z = _shape(68, seed=20, batch=2)
        train = _noisy(z[:1].expand(10, 68, 2), 19).numpy()
        m = L.make_loss(name, scheme=S68, input_size=64, train_shapes=train)
        assert type(m) is self.expected[name]
        p = _noisy(z, 20)
        out = m(p, z)
        assert torch.isfinite(out) and out.item() > 0

    @pytest.mark.parametrize(
        "name,fn",
        [("l2", L.l2_loss), ("l1", L.l1_loss), ("smooth_l1", L.smooth_l1_loss), ("wing", L.wing_loss),
         ("adaptive_wing", L.adaptive_wing_loss), ("anisotropic", L.anisotropic_loss),
         ("anisotropic_direction", L.anisotropic_direction_loss), ("anisotropic_wing", L.anisotropic_wing_loss)],
    )
    def test_defaults_match_function_defaults(self, name, fn):
        z = _shape(68, seed=21, batch=2)
        p = _noisy(z, 21)
        extra = (S68,) if L.loss_spec(name).needs_scheme else ()
        assert torch.equal(L.make_loss(name, scheme=S68)(p, z), fn(p, z, *extra))

    def test_anisotropic_params_and_scheme_name(self):
        m = L.make_loss("anisotropic", scheme="300w", a=4.0, b=2.0)
        assert (m.a, m.b, m.n_points) == (4.0, 2.0, 68)
        z = _shape(68, seed=22)
        p = _noisy(z, 22)
        assert torch.equal(m(p, z), L.anisotropic_loss(p, z, S68, a=4.0, b=2.0))

    def test_input_size_scales_wing_and_awing(self):
        w = L.make_loss("wing", input_size=256)
        assert (w.w, w.epsilon) == (40.0, 8.0)
        w = L.make_loss("wing", input_size=128, w=5.0)  # given values are read at 64 px too
        assert (w.w, w.epsilon) == (10.0, 4.0)
        aw = L.make_loss("adaptive_wing", input_size=256)
        assert (aw.theta, aw.epsilon, aw.omega, aw.alpha, aw.y) == (2.0, 4.0, 14.0, 2.1, 1.0)
        assert L.make_loss("smooth_l1", input_size=256).beta == 1.0
        assert L.make_loss("anisotropic", scheme=S68, input_size=256).b == 3.0

    def test_scaled_wing_same_fraction_same_cost(self):
        # an error of the same fraction of the image costs the same under the scaled loss
        z = _shape(68, seed=23, scale=64.0)
        p = _noisy(z, 23)
        small = L.make_loss("wing", input_size=64)(p, z)
        big = L.make_loss("wing", input_size=256)(4 * p, 4 * z)
        assert big.item() == pytest.approx(4 * small.item(), rel=1e-9)

    def test_errors(self):
        with pytest.raises(ValueError, match="l2, l1, smooth_l1, wing, adaptive_wing, anisotropic"):
            L.make_loss("huber")
        with pytest.raises(ValueError, match="valid: w, epsilon"):
            L.make_loss("wing", beta=1.0)
        with pytest.raises(ValueError, match="valid: none"):
            L.make_loss("l2", beta=1.0)
        with pytest.raises(ValueError, match="scheme is required"):
            L.make_loss("anisotropic")
        with pytest.raises(ValueError, match="input_size"):
            L.make_loss("wing", input_size=0)
        with pytest.raises(ValueError, match="unknown landmark scheme"):
            L.make_loss("anisotropic", scheme="helen")

    def test_name_spelling(self):
        assert isinstance(L.make_loss("Smooth-L1"), L.SmoothL1Loss)


class TestRegistry:
    def test_defaults_stated_once(self):
        # the function, the module and the factory read the same constants
        for fn, cls, consts in [(L.wing_loss, L.WingLoss, L.WING_DEFAULTS),
                                (L.adaptive_wing_loss, L.AdaptiveWingLoss, L.ADAPTIVE_WING_DEFAULTS),
                                (L.anisotropic_loss, L.AnisotropicLoss, L.ANISOTROPIC_DEFAULTS)]:
            sig = inspect.signature(fn).parameters
            assert {k: sig[k].default for k in consts} == dict(consts)
            init = inspect.signature(cls.__init__).parameters
            assert {k: init[k].default for k in consts} == dict(consts)
        assert L.loss_spec("wing").defaults == dict(L.WING_DEFAULTS)
        assert L.loss_spec("adaptive_wing").defaults == dict(L.ADAPTIVE_WING_DEFAULTS)
        assert L.loss_spec("anisotropic").defaults == {**L.ANISOTROPIC_DEFAULTS, "normalize": None}
        assert L.loss_spec("smooth_l1").defaults == {"beta": L.SMOOTH_L1_BETA}
        m = L.make_loss("adaptive_wing")
        assert {k: getattr(m, k) for k in L.ADAPTIVE_WING_DEFAULTS} == dict(L.ADAPTIVE_WING_DEFAULTS)

    def test_spec_flags(self):
        assert [n for n in L.LOSS_NAMES if L.loss_spec(n).needs_scheme] == [
            n for n in L.LOSS_NAMES if n.startswith("anisotropic") or n.endswith("anisotropic")]
        assert L.loss_spec("l2").params == () and L.loss_spec("wing").params == ("w", "epsilon")
        assert L.loss_spec("anisotropic").params == ("a", "b", "normalize")
        assert L.loss_spec("wing").scaled == ("w", "epsilon")
