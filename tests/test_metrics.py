"""NME, failure rate, CED, AUC: hand-computed values and input checks."""

import numpy as np
import pytest
import torch

from aniso.metrics import NORMS, auc, ced, failure_rate, nme, summarize
from aniso.topology import get_scheme

S68 = get_scheme("300w")


def _face68(ocular_gap=10.0):
    """A 68-point target: outer eye corners 36 and 45 ``ocular_gap`` px apart on y = 0."""
    g = np.random.default_rng(0).uniform(-5, 5, size=(68, 2))
    g[36] = [0.0, 0.0]
    g[45] = [ocular_gap, 0.0]
    return g


class TestNME:
    def test_inter_ocular_hand_value(self):
        g = _face68(10.0)
        p = g.copy()
        p[0] += [3.0, 4.0]  # one point off by 5 px
        # mean error over 68 points = 5 / 68; divided by d = 10.
        out = nme(p, g, S68, "inter_ocular")
        assert out.shape == (1,) and out.dtype == np.float64
        assert out[0] == pytest.approx(5 / 68 / 10)

    def test_inter_pupil_hand_value(self):
        g = _face68()
        g[36:42] = np.array([[0, 0], [2, 4], [1, 2], [1, 2], [1, 2], [1, 2]], float)  # mean (1, 2)
        g[42:48] = [13.0, 18.0]  # mean (13, 18): eye centres (1, 2), (13, 18) are sqrt(144 + 256) = 20 apart
        p = g + [1.0, 0.0]  # every point off by 1 px
        assert nme(p, g, S68, "inter_pupil")[0] == pytest.approx(1 / 20)
        # The eye corners 36 / 45 are now (0, 0) and (13, 18): inter-ocular differs.
        assert nme(p, g, S68, "inter_ocular")[0] == pytest.approx(1 / np.hypot(13, 18))

    def test_box_hand_value(self):
        g = np.zeros((2, 19, 2))
        g[:, :, 0] = np.arange(19)
        p = g.copy()
        p[0, :, 1] += 2.0  # image 0: every point 2 px off
        p[1, 5] += [6.0, 8.0]  # image 1: one point 10 px off
        boxes = np.array([[0, 0, 4, 9], [10, 10, 26, 14]], float)  # sqrt(4*9) = 6, sqrt(16*4) = 8
        out = nme(p, g, None, "box", boxes=boxes)
        np.testing.assert_allclose(out, [2 / 6, 10 / 19 / 8])
        # The scheme is not needed for the box norm but may be given.
        np.testing.assert_allclose(nme(p, g, "aflw", "box", boxes=boxes), out)

    def test_wflw_inter_pupil_uses_points_96_97(self):
        g = np.zeros((98, 2))
        g[96] = [0, 0]
        g[97] = [0, 25]
        p = g + [0, 5]
        assert nme(p, g, "wflw", "inter_pupil")[0] == pytest.approx(5 / 25)

    @pytest.mark.parametrize("norm", NORMS)
    def test_perfect_prediction_is_zero(self, norm):
        g = np.stack([_face68(10), _face68(20)])
        boxes = np.array([[0, 0, 10, 10], [0, 0, 5, 20]], float)
        np.testing.assert_array_equal(nme(g, g.copy(), S68, norm, boxes=boxes), [0.0, 0.0])

    def test_batch_matches_single_images(self):
        rng = np.random.default_rng(3)
        g = np.stack([_face68(10), _face68(30), _face68(7)])
        p = g + rng.normal(0, 1, g.shape)
        batch = nme(p, g, S68, "inter_ocular")
        single = [nme(p[i], g[i], S68, "inter_ocular")[0] for i in range(3)]
        np.testing.assert_allclose(batch, single)

    def test_numpy_and_torch_agree(self):
        rng = np.random.default_rng(4)
        g = np.stack([_face68(10), _face68(12)])
        p = g + rng.normal(0, 1, g.shape)
        ref = nme(p, g, S68, "inter_pupil")
        out = nme(torch.tensor(p, dtype=torch.float64, requires_grad=True), torch.tensor(g), S68, "inter_pupil")
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_allclose(out, ref)
        out32 = nme(torch.tensor(p, dtype=torch.float32), torch.tensor(g, dtype=torch.float32), "300w", "inter_pupil")
        np.testing.assert_allclose(out32, ref, rtol=1e-5)

    def test_unknown_norm_lists_valid_ones(self):
        g = _face68()
        with pytest.raises(ValueError, match="inter_ocular.*inter_pupil.*box"):
            nme(g, g, S68, "diagonal")

    def test_shape_mismatch_names_shapes(self):
        with pytest.raises(ValueError, match=r"\(2, 68, 2\).*\(68, 2\)"):
            nme(np.zeros((2, 68, 2)), np.zeros((68, 2)), S68, "inter_ocular")
        with pytest.raises(ValueError, match=r"\(68, 3\)"):
            nme(np.zeros((68, 3)), np.zeros((68, 3)), S68, "inter_ocular")
        with pytest.raises(ValueError, match="68"):
            nme(np.zeros((19, 2)), np.zeros((19, 2)), S68, "inter_ocular")

    def test_zero_distance_names_image(self):
        g = np.stack([_face68(10), _face68(10), _face68(10)])
        g[2, 45] = g[2, 36]
        with pytest.raises(ValueError, match=r"index \[2\]"):
            nme(g, g, S68, "inter_ocular")

    def test_box_needs_valid_boxes(self):
        g = np.zeros((2, 19, 2))
        with pytest.raises(ValueError, match="boxes"):
            nme(g, g, None, "box")
        with pytest.raises(ValueError, match=r"\(2, 4\)"):
            nme(g, g, None, "box", boxes=np.ones((3, 4)))
        with pytest.raises(ValueError, match=r"index \[1\]"):
            nme(g, g, None, "box", boxes=np.array([[0, 0, 1, 1], [0, 0, 0, 5]], float))


class TestCurves:
    NMES = np.array([0.01, 0.05, 0.2])

    def test_failure_rate_hand_value(self):
        assert failure_rate(self.NMES, 0.1) == pytest.approx(1 / 3)
        assert failure_rate(self.NMES, 0.05) == pytest.approx(1 / 3)  # strictly above
        assert failure_rate(self.NMES, 0.049) == pytest.approx(2 / 3)
        assert isinstance(failure_rate(self.NMES, 0.1), np.float64)

    def test_ced_hand_values(self):
        x, y = ced(self.NMES, 0.1, steps=11)
        np.testing.assert_allclose(x, np.linspace(0, 0.1, 11))
        # x = 0, 0.01, ..., 0.1 ; share with NME <= x
        np.testing.assert_allclose(y, [0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])

    def test_auc_hand_value(self):
        # mean(max(0, 0.1 - e)) / 0.1 = (0.09 + 0.05 + 0) / 3 / 0.1
        assert auc(self.NMES, 0.1) == pytest.approx(0.14 / 3 / 0.1)
        assert auc([0.0, 0.0], 0.1) == pytest.approx(1.0)
        assert auc([0.5], 0.1) == 0.0

    def test_auc_matches_numerical_integration(self):
        e = np.random.default_rng(5).gamma(2.0, 0.02, size=500)
        for t in (0.08, 0.1):
            step = 1e-4
            x = np.arange(0, t + step / 2, step)
            y = (e[None, :] <= x[:, None]).mean(axis=1)
            numeric = np.trapezoid(y, x) / t
            assert auc(e, t) == pytest.approx(numeric, abs=1e-3)
            xs, ys = ced(e, t, steps=x.size)
            assert np.trapezoid(ys, xs) / t == pytest.approx(auc(e, t), abs=1e-3)

    def test_torch_input(self):
        e = torch.tensor([0.01, 0.05, 0.2])
        assert auc(e, 0.1) == pytest.approx(auc(self.NMES, 0.1), rel=1e-6)
        assert failure_rate(e, 0.1) == pytest.approx(1 / 3)

    @pytest.mark.parametrize("fn", [failure_rate, auc, ced])
    def test_bad_threshold_and_empty(self, fn):
        with pytest.raises(ValueError, match="threshold"):
            fn(self.NMES, 0.0)
        with pytest.raises(ValueError, match="threshold"):
            fn(self.NMES, -0.1)
        with pytest.raises(ValueError, match="empty"):
            fn([], 0.1)
        with pytest.raises(ValueError, match="NaN"):
            fn([0.1, np.nan], 0.1)

    def test_summarize(self):
        s = summarize(self.NMES, thresholds=(0.08, 0.1))
        assert s["n"] == 3
        assert s["nme"] == pytest.approx(0.26 / 3)
        assert s["fr@0.1"] == pytest.approx(1 / 3)
        assert s["auc@0.08"] == pytest.approx((0.07 + 0.03) / 3 / 0.08)
        assert set(s) == {"n", "nme", "fr@0.08", "auc@0.08", "fr@0.1", "auc@0.1"}
