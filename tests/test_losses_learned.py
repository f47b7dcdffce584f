"""Tests for the learned anisotropic loss: the covariance estimate (by hand on a
training set whose Procrustes alignment is known exactly, and statistically on
sampled shapes), its normalisation, the loss's contract and invariances."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from loss_helpers import PROPS, S68, LossContract, hand_shape, moved, noisy, shape  # noqa: E402

from aniso import losses as L  # noqa: E402

PAPER_MEAN_TRACE_300W = (60 * (1 / 36 + 1 / 9) + 8 * 2) / 68  # 60 contour points, 8 corners, a = 6, b = 3


def _rot(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _training_set(m: int = 60, seed: int = 0) -> np.ndarray:
    """``m`` noisy, rotated, scaled and shifted copies of the hand-made shape (pixels)."""
    rng = np.random.default_rng(seed)
    z = hand_shape()[0].numpy()
    out = z[None] + rng.normal(0.0, 2.0, size=(m, 68, 2))
    rots = np.stack([_rot(a) for a in rng.uniform(-0.3, 0.3, m)])
    return np.einsum("mij,mnj->mni", rots, out) * rng.uniform(0.8, 1.2, (m, 1, 1)) + rng.uniform(-20, 20, (m, 1, 2))


TRAIN = _training_set()
EST = L.learned_covariances(TRAIN, S68)


class TestLearnedAnisotropicLoss(LossContract):
    n_points = 68
    kwargs = {"covariance": EST}

    @staticmethod
    def fn(pred, target, **kw):
        return L.learned_anisotropic_loss(pred, target, **kw)

    def module(self):
        return L.LearnedAnisotropicLoss(S68, TRAIN)

    def test_known_values_with_rotation(self):
        z = hand_shape()
        w = np.tile(np.eye(2), (68, 1, 1))
        w[5] = np.diag([0.25, 1.0])  # in the mean shape's orientation: x costs 1/4, y costs 1
        w[9] = [[2.0, 1.0], [1.0, 3.0]]
        est = dataclasses.replace(EST, mean_shape=z[0].numpy(), weights=w)
        # target = mean shape turned by the angle with cos 0.6, sin 0.8, doubled, shifted;
        # the error is weighed in the mean shape's orientation: R^T d, R^T (3, 4) = (5, 0)
        turn = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=torch.float64)
        t = 2.0 * z @ turn.T + torch.tensor([5.0, -7.0], dtype=torch.float64)
        assert self.fn(moved(t, 5, (3.0, 4.0)), t, covariance=est).item() == pytest.approx(0.25 * 25, rel=1e-12)
        # R^T (-4, 3) = (0, 5); R^T (1, 0) = (0.6, -0.8): 2 (0.36) + 2 (0.6)(-0.8) + 3 (0.64)
        assert self.fn(moved(t, 9, (-4.0, 3.0)), t, covariance=est).item() == pytest.approx(3 * 25, rel=1e-12)
        assert self.fn(moved(t, 9, (1.0, 0.0)), t, covariance=est).item() == pytest.approx(1.68, rel=1e-12)
        # unrotated target: the weights apply as they are; two images: mean
        both = self.fn(torch.cat([moved(t, 5, (3.0, 4.0)), moved(z, 5, (3.0, 4.0))]), torch.cat([t, z]),
                       covariance=est).item()
        assert both == pytest.approx((6.25 + (0.25 * 9 + 16)) / 2, rel=1e-12)

    def test_pixel_covariances_turn_with_the_shape(self):
        cov = EST.pixel_covariances()
        np.testing.assert_allclose(cov, np.linalg.inv(EST.weights), rtol=1e-12)
        turned = EST.pixel_covariances(EST.mean_shape @ _rot(0.7).T * 100 + 3)
        np.testing.assert_allclose(turned, _rot(0.7) @ cov @ _rot(0.7).T, rtol=1e-9, atol=1e-12)

    def test_module_keeps_the_estimate(self):
        m = L.LearnedAnisotropicLoss(S68, TRAIN, shrinkage=0.2, floor=0.1, normalize=True)
        assert (m.covariance.shrinkage, m.covariance.floor, m.covariance.normalize) == (0.2, 0.1, True)
        assert m.state_dict() == {}  # derived from the training labels, not trained state
        assert m.weights.dtype == torch.float64
        z = shape(68, seed=60).float()
        assert m(noisy(z, 60), z).dtype == torch.float32


class TestLearnedCovariances:
    def test_estimate_by_hand(self):
        # Residuals r orthogonal to the similarities of the mean shape mu: sum r = 0 and
        # sum conj(mu) r = 0 (jaw points 0..3 and 4..7 are collinear and evenly spaced, so
        # mu0 - mu1 - mu2 + mu3 = 0). Procrustes of mu +- r then gives residuals +-r / (1 + |r|^2):
        # every residual covariance is c r_i r_i^T with one unknown c, which the normalisation cancels.
        mu = hand_shape()[0].numpy()
        mu = mu - mu.mean(0)
        mu = mu / np.linalg.norm(mu)
        v, u = np.array([0.0, 0.02]), np.array([0.01, -0.005])
        r = np.zeros_like(mu)
        r[0:4], r[4:8] = [v, -v, -v, v], [u, -u, -u, u]
        est = L.learned_covariances(np.stack([50 * (mu + r) + 20, 50 * (mu - r) + 20]), S68, shrinkage=0.1, floor=0.05)
        np.testing.assert_allclose(est.mean_shape, mu, atol=1e-12)
        # by hand, with c = 1: eigenvalues 0.95 |r|^2 along r_i, 0.05 |r|^2 across, floor elsewhere
        floor = 0.05 * (4 * (v @ v) + 4 * (u @ u)) / 2 / 68
        want = np.tile(np.eye(2) / floor, (68, 1, 1))
        for rows, vec in ((slice(0, 4), v), (slice(4, 8), u)):
            e, n2 = vec / np.linalg.norm(vec), vec @ vec
            want[rows] = np.outer(e, e) / (0.95 * n2) + (np.eye(2) - np.outer(e, e)) / (0.05 * n2)
        want *= PAPER_MEAN_TRACE_300W / np.mean(np.trace(want, axis1=1, axis2=2))
        np.testing.assert_allclose(est.weights, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.weights, est.factor * np.linalg.inv(est.covariance), rtol=1e-9, atol=1e-12)

    def test_recovers_a_known_covariance(self):
        # points scattered with std 2 px along a per-point direction, 0.5 px across it
        rng = np.random.default_rng(1)
        z = hand_shape()[0].numpy()
        angles = rng.uniform(0, math.pi, 68)
        axes = np.stack([np.cos(angles), np.sin(angles)], -1)
        across = np.stack([-axes[:, 1], axes[:, 0]], -1)
        m = 4000
        noise = rng.normal(0, 2.0, (m, 68, 1)) * axes + rng.normal(0, 0.5, (m, 68, 1)) * across
        est = L.learned_covariances(z[None] + noise, S68)
        evals, evecs = np.linalg.eigh(est.residual)
        principal = evecs[:, :, 1]
        cos = np.abs(np.sum(principal * axes, -1))
        assert np.degrees(np.arccos(np.clip(cos, 0, 1))).max() < 5.0
        # variance ratio 16 in the generating model; Procrustes turns part of the noise into
        # rotation and scale jitter that adds to the small axis, so the measured ratio is lower
        ratio = evals[:, 1] / evals[:, 0]
        assert 16.0 * 0.75 < np.median(ratio) < 16.0

    def test_normalisation(self):
        paper = L.anisotropic_weights(torch.as_tensor(EST.mean_shape[None]), S68, 6.0, 3.0)
        tr = np.trace(EST.weights, axis1=1, axis2=2).mean()
        assert tr == pytest.approx(paper.diagonal(dim1=-2, dim2=-1).sum(-1).mean().item(), rel=1e-12)
        assert tr == pytest.approx(PAPER_MEAN_TRACE_300W, rel=1e-12)
        est = L.learned_covariances(TRAIN, S68, normalize=True)
        assert np.trace(est.weights, axis1=1, axis2=2).mean() == pytest.approx(2.0, rel=1e-12)
        np.testing.assert_allclose(est.weights * EST.factor / est.factor, EST.weights, rtol=1e-12)

    def test_regularisation(self):
        # shrinkage 1 with a floor below every variance: isotropic, trace-preserving
        est = L.learned_covariances(TRAIN, S68, shrinkage=1.0, floor=1e-9)
        iso = np.trace(est.residual, axis1=1, axis2=2) / 2
        np.testing.assert_allclose(est.covariance, iso[:, None, None] * np.eye(2), rtol=1e-12, atol=1e-18)
        # only point 10 moves: every other point's residual is nearly 0 and gets the floor
        rigid = np.broadcast_to(hand_shape()[0].numpy(), (5, 68, 2)).copy()
        rigid[:, 10] += np.random.default_rng(2).normal(0, 1, (5, 2))
        est = L.learned_covariances(rigid, S68, shrinkage=0.0, floor=0.05)
        smallest = np.linalg.eigvalsh(est.covariance).min()
        assert smallest == pytest.approx(0.05 * np.trace(est.residual, axis1=1, axis2=2).mean() / 2, rel=1e-9)
        assert np.isfinite(est.weights).all()

    def test_invariant_to_a_similarity_of_the_training_set(self):
        scaled = L.learned_covariances(2.5 * TRAIN + 7.0, S68)
        np.testing.assert_allclose(scaled.weights, EST.weights, rtol=1e-8, atol=1e-12)
        # rotated training set: another frame for the estimate, the same loss
        turned = L.learned_covariances(TRAIN @ _rot(1.1).T, S68)
        z = shape(68, seed=61, batch=3) + torch.as_tensor(hand_shape()[0])
        p = noisy(z, 61)
        assert L.learned_anisotropic_loss(p, z, turned).item() == pytest.approx(
            L.learned_anisotropic_loss(p, z, EST).item(), rel=1e-8)

    @pytest.mark.parametrize(
        "train,match",
        [(np.zeros((5, 68)), r"\(M, 68, 2\)"), (np.zeros((5, 98, 2)), r"\(M, 68, 2\).*\(5, 98, 2\)"),
         (TRAIN[:1], "M >= 2"), (np.where(np.arange(60)[:, None, None] == 4, np.nan, TRAIN), "index \\[4\\]")],
    )
    def test_bad_train_shapes_raise(self, train, match):
        with pytest.raises(ValueError, match=match):
            L.learned_covariances(train, S68)

    def test_shapes_without_variation_raise(self):
        with pytest.raises(ValueError, match="do not vary"):
            L.learned_covariances(np.stack([TRAIN[0], 2 * TRAIN[0] + 1]), S68)

    @pytest.mark.parametrize("kw,match", [({"shrinkage": 1.5}, "shrinkage"), ({"floor": 0.0}, "floor")])
    def test_bad_settings_raise(self, kw, match):
        with pytest.raises(ValueError, match=match):
            L.learned_covariances(TRAIN, S68, **kw)


class TestMakeLearned:
    def test_needs_train_shapes(self):
        assert L.loss_spec("learned_anisotropic").needs_train_shapes
        assert [n for n in L.LOSS_NAMES if L.loss_spec(n).needs_train_shapes] == ["learned_anisotropic"]
        with pytest.raises(ValueError, match="learned_anisotropic.*train_shapes is required"):
            L.make_loss("learned_anisotropic", scheme=S68)

    def test_builds_from_train_shapes(self):
        m = L.make_loss("learned_anisotropic", scheme="300w", input_size=256, train_shapes=TRAIN, floor=0.1)
        assert isinstance(m, L.LearnedAnisotropicLoss) and m.covariance.floor == 0.1
        z = shape(68, seed=62)
        est = L.learned_covariances(TRAIN, S68, floor=0.1)
        assert torch.equal(m(noisy(z, 62), z), L.learned_anisotropic_loss(noisy(z, 62), z, est))
        # the other losses ignore train_shapes, as they ignore scheme
        assert isinstance(L.make_loss("l2", train_shapes=TRAIN), L.L2Loss)


@PROPS
@given(seed=st.integers(0, 2**31 - 1), angle=st.floats(-math.pi, math.pi),
       shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)), size=st.floats(0.2, 5.0))
def test_rotation_and_translation_invariance(seed, angle, shift, size):
    z = torch.as_tensor(hand_shape()[0]) * size + noisy(torch.zeros(2, 68, 2, dtype=torch.float64), seed, sigma=1.0)
    p = noisy(z, seed)
    rot = torch.as_tensor(_rot(angle))
    off = torch.tensor(shift, dtype=torch.float64)
    before = L.learned_anisotropic_loss(p, z, EST)
    after = L.learned_anisotropic_loss(p @ rot.T + off, z @ rot.T + off, EST)
    assert after.item() == pytest.approx(before.item(), rel=1e-9, abs=1e-9)
    # and it scales with the squared error, like the paper's loss
    assert L.learned_anisotropic_loss(3 * p, 3 * z, EST).item() == pytest.approx(9 * before.item(), rel=1e-9)
