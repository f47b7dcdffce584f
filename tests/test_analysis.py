"""Error geometry behind Figure 1."""

from __future__ import annotations

import numpy as np
import pytest

from aniso import analysis
from aniso.topology import get_scheme

S68 = get_scheme("300w")


def face(rng=None):
    """A plausible 68-point face in pixels (ellipse jaw, eyes, mouth), with the eyes level."""
    t = np.linspace(np.pi * 0.05, np.pi * 0.95, 17)
    pts = np.zeros((68, 2))
    pts[:17] = np.c_[50 - 40 * np.cos(t), 40 + 45 * np.sin(t)]
    pts[17:27] = np.c_[np.linspace(20, 80, 10), 25 + np.zeros(10)]
    pts[27:36] = np.c_[np.r_[np.full(4, 50), np.linspace(42, 58, 5)], np.r_[np.linspace(35, 55, 4), np.full(5, 58)]]
    ang = np.linspace(0, 2 * np.pi, 7)[:-1]
    pts[36:42] = np.c_[32 - 8 * np.cos(ang), 38 + 3 * np.sin(ang)]
    pts[42:48] = np.c_[68 - 8 * np.cos(ang + np.pi), 38 + 3 * np.sin(ang + np.pi)]
    ang12 = np.linspace(0, 2 * np.pi, 13)[:-1]
    pts[48:60] = np.c_[50 - 14 * np.cos(ang12), 70 + 6 * np.sin(ang12)]
    ang8 = np.linspace(0, 2 * np.pi, 9)[:-1]
    pts[60:68] = np.c_[50 - 10 * np.cos(ang8), 70 + 2 * np.sin(ang8)]
    return pts


def test_assumed_covariances_follow_tangent_and_corners():
    shape = face()
    cov = analysis.assumed_covariances(shape, S68, a=4.0, b=1.0)
    t = analysis.tangents(shape, S68)
    i = 8  # chin, tangent horizontal-ish
    assert t[i] @ cov[i] @ t[i] == pytest.approx(16.0)
    n = np.array([-t[i, 1], t[i, 0]])
    assert n @ cov[i] @ n == pytest.approx(1.0)
    for c in S68.corners:
        np.testing.assert_allclose(cov[c], np.eye(2))


def test_normalised_residuals_are_rotation_and_scale_free():
    rng = np.random.default_rng(0)
    gt = np.stack([face() for _ in range(5)])
    pred = gt + rng.normal(0, 1, gt.shape)
    r0 = analysis.normalised_residuals(pred, gt, S68)
    th = 0.4
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    r1 = analysis.normalised_residuals(3 * pred @ R.T + 7, 3 * gt @ R.T + 7, S68)
    np.testing.assert_allclose(r0, r1, atol=1e-10)
    d = np.linalg.norm(gt[:, 45] - gt[:, 36], axis=-1)
    np.testing.assert_allclose(np.abs(r0[:, 0, 0]), np.abs((pred - gt)[:, 0, 0]) / d, atol=1e-12)


def test_along_across_detects_sliding_noise():
    rng = np.random.default_rng(1)
    shape = face()
    t = analysis.tangents(shape, S68)
    n = np.stack([-t[..., 1], t[..., 0]], -1)
    m = 400
    res = rng.normal(0, 3, (m, 68, 1)) * t + rng.normal(0, 1, (m, 68, 1)) * n
    out = analysis.along_across(analysis.point_covariances(res), shape, S68)
    assert out["ratio"] == pytest.approx(3.0, rel=0.15)
    assert np.isnan(out["along"][list(S68.corners)]).all()
    iso = rng.normal(0, 1, (m, 68, 2))
    ratio, lo, hi = analysis.ratio_interval(iso, shape, S68, n_boot=100)
    assert lo < 1.0 < hi
    ratio, lo, hi = analysis.ratio_interval(res, shape, S68, n_boot=100)
    assert lo > 2.5


def test_ratio_interval_resamples_faces_not_runs():
    """Three identical runs on the same faces carry no more information than one."""
    rng = np.random.default_rng(2)
    shape = face()
    one = rng.normal(0, 1, (60, 68, 2))
    r1 = analysis.ratio_interval(one, shape, S68, n_boot=200, seed=3)
    r3 = analysis.ratio_interval(np.stack([one] * 3), shape, S68, n_boot=200, seed=3)
    assert r3 == pytest.approx(r1)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="68"):
        analysis.normalised_residuals(np.zeros((2, 5, 2)), np.zeros((2, 5, 2)), S68)
    with pytest.raises(ValueError, match="M >= 2"):
        analysis.point_covariances(np.zeros((1, 68, 2)))
