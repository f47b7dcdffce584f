"""Procrustes alignment, pose bins, balanced samplers, mean of bin means."""

import numpy as np
import pytest
from torch.utils.data import DataLoader

from aniso.sampling import (
    FixedBudgetSampler,
    PoseBalancedSampler,
    balance_report,
    mean_of_bin_means,
    pose_bins,
    pose_scores,
    procrustes_align,
)


def _face3d():
    """A crude 68-point 300W-layout face: (68, 2) frontal x, y in px and a (68,) depth z."""
    xy = np.zeros((68, 2))
    jx = np.linspace(-40, 40, 17)
    xy[0:17] = np.c_[jx, 10 + 35 * np.sqrt(1 - (jx / 41) ** 2)]
    xy[17:22] = np.c_[np.linspace(-32, -8, 5), -20 - 3 * np.sin(np.linspace(0, np.pi, 5))]
    xy[22:27] = np.c_[np.linspace(8, 32, 5), -20 - 3 * np.sin(np.linspace(0, np.pi, 5))]
    xy[27:31] = np.c_[np.zeros(4), np.linspace(-12, 8, 4)]
    xy[31:36] = np.c_[np.linspace(-8, 8, 5), 12 + 2 * np.abs(np.linspace(-1, 1, 5))]
    a6 = np.linspace(np.pi, -np.pi, 6, endpoint=False)
    xy[36:42] = np.c_[-20 + 7 * np.cos(a6), -8 + 3 * np.sin(a6)]
    xy[42:48] = np.c_[20 + 7 * np.cos(a6), -8 + 3 * np.sin(a6)]
    a12 = np.linspace(np.pi, -np.pi, 12, endpoint=False)
    xy[48:60] = np.c_[15 * np.cos(a12), 28 + 6 * np.sin(a12)]
    a8 = np.linspace(np.pi, -np.pi, 8, endpoint=False)
    xy[60:68] = np.c_[10 * np.cos(a8), 28 + 3 * np.sin(a8)]
    z = 30 * np.sqrt(np.clip(1 - (xy[:, 0] / 45) ** 2, 0, None))
    z[27:31] += np.linspace(5, 20, 4)  # the nose sticks out
    z[31:36] += 10
    return xy, z


def _similarity(shape, angle_deg, scale, shift):
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return scale * shape @ r.T + np.asarray(shift, float)


def _yawed_faces(m=300, seed=0):
    """Faces turned by a known yaw (degrees), then moved by a random similarity, plus noise."""
    rng = np.random.default_rng(seed)
    xy, z = _face3d()
    yaw = rng.uniform(-50, 50, m)
    yr = np.deg2rad(yaw)[:, None]
    # Yaw about the vertical axis: x' = x cos(yaw) + z sin(yaw); y unchanged.
    x = xy[None, :, 0] * np.cos(yr) + z[None] * np.sin(yr)
    faces = np.stack([x, np.broadcast_to(xy[None, :, 1], x.shape)], axis=-1)
    faces = np.stack([
        _similarity(f, rng.uniform(-15, 15), rng.uniform(0.7, 1.5), rng.uniform(50, 150, 2)) for f in faces
    ])
    return faces + rng.normal(0, 0.3, faces.shape), yaw


class TestProcrustes:
    def test_recovers_similarity_copies_exactly(self):
        ref, _ = _face3d()
        copies = np.stack([ref, _similarity(ref, 37, 2.5, (100, -50)), _similarity(ref, -120, 0.3, (5, 7))])
        aligned, mean = procrustes_align(copies, reference=ref)
        np.testing.assert_allclose(aligned, np.broadcast_to(ref, aligned.shape), atol=1e-9)
        np.testing.assert_allclose(mean, ref, atol=1e-9)

    def test_normalised_frame_without_reference(self):
        ref, _ = _face3d()
        copies = np.stack([_similarity(ref, 10, 3.0, (1, 2)), _similarity(ref, 200, 0.5, (-40, 9))])
        aligned, mean = procrustes_align(copies)
        np.testing.assert_allclose(aligned[0], aligned[1], atol=1e-12)
        np.testing.assert_allclose(aligned[0], mean, atol=1e-12)
        np.testing.assert_allclose(mean.mean(axis=0), [0, 0], atol=1e-12)
        assert np.linalg.norm(mean) == pytest.approx(1.0)
        # Orientation of the first shape: the mean is a positive multiple of the centred first shape.
        first = copies[0] - copies[0].mean(axis=0)
        np.testing.assert_allclose(mean, first / np.linalg.norm(first), atol=1e-12)

    def test_no_reflection(self):
        ref, _ = _face3d()
        ref = ref + np.random.default_rng(1).normal(0, 2, ref.shape)  # break the left-right symmetry
        mirrored = ref * [-1, 1]
        aligned, _ = procrustes_align(np.stack([ref, mirrored]), reference=ref)
        np.testing.assert_allclose(aligned[0], ref, atol=0.5 * np.abs(ref).max())
        assert np.abs(aligned[1] - ref).max() > 1.0  # a reflection would have matched exactly

    def test_noisy_shapes_reach_a_fixed_point(self):
        faces, _ = _yawed_faces(50, seed=2)
        aligned, mean = procrustes_align(faces)
        again, mean2 = procrustes_align(aligned, reference=mean)
        np.testing.assert_allclose(again, aligned, atol=1e-6)
        # The mean of the aligned shapes points the same way as the returned mean.
        m = aligned.mean(axis=0).ravel()
        assert m @ mean.ravel() / np.linalg.norm(m) / np.linalg.norm(mean) == pytest.approx(1.0, abs=1e-9)

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"\(M, N, 2\)"):
            procrustes_align(np.zeros((3, 5)))
        shapes = np.random.default_rng(0).normal(size=(3, 5, 2))
        shapes[1] = 7.0
        with pytest.raises(ValueError, match=r"index \[1\]"):
            procrustes_align(shapes)
        with pytest.raises(ValueError, match="reference"):
            procrustes_align(np.ones((2, 5, 2)) + np.arange(5)[:, None], reference=np.zeros((4, 2)))


class TestPoseBins:
    def test_larger_yaw_in_higher_bins(self):
        faces, yaw = _yawed_faces(300)
        bins = pose_bins(faces, "300w", k=9)
        assert bins.shape == (300,) and bins.dtype == np.int64
        assert bins.min() >= 0 and bins.max() == 8
        ay = np.abs(yaw)
        assert bins[np.argmax(ay)] >= 7 and bins[np.argmin(ay)] <= 1
        # Mean |yaw| grows with the bin.
        occupied = np.unique(bins)
        means = np.array([ay[bins == b].mean() for b in occupied])
        assert np.all(np.diff(means) > 0), means
        assert np.corrcoef(ay, bins)[0, 1] > 0.9
        # No face turned more than 15 degrees further than another sits in a lower bin.
        further = ay[:, None] - ay[None, :] > 15
        assert further.sum() > 10000
        assert not (bins[:, None] < bins[None, :])[further].any()

    def test_equal_width_bins_and_max_in_last(self):
        faces, _ = _yawed_faces(120, seed=3)
        s = pose_scores(faces, "300w")
        bins = pose_bins(faces, "300w", k=4)
        np.testing.assert_array_equal(bins, np.minimum(np.floor(s / s.max() * 4), 3).astype(int))
        assert bins[np.argmax(s)] == 3

    def test_invariant_to_similarity_and_order(self):
        faces, _ = _yawed_faces(60, seed=4)
        moved = np.stack([_similarity(f, 33, 1.7, (9, -3)) for f in faces])
        np.testing.assert_array_equal(pose_bins(moved, "300w"), pose_bins(faces, "300w"))
        perm = np.random.default_rng(0).permutation(60)
        np.testing.assert_array_equal(pose_bins(faces[perm], "300w"), pose_bins(faces, "300w")[perm])

    def test_scheme_size_checked(self):
        with pytest.raises(ValueError, match="68"):
            pose_bins(np.random.default_rng(0).normal(size=(10, 19, 2)), "300w")


BINS = np.array([3, 0, 3, 1, 0, 3, 3, 0, 1, 3, 0, 3, 1, 0, 3])  # counts: bin0 5, bin1 3, bin2 0, bin3 7


class TestUnderSampler:
    def test_every_bin_gives_min_count_distinct_indices(self):
        s = PoseBalancedSampler(BINS, "under", seed=0)
        assert len(s) == 3 * 3
        for _ in range(4):
            idx = np.array(list(s))
            assert idx.size == len(s) and np.unique(idx).size == idx.size
            np.testing.assert_array_equal(np.bincount(BINS[idx], minlength=4), [3, 3, 0, 3])

    def test_new_draw_each_epoch_same_sequence_per_seed(self):
        a = PoseBalancedSampler(BINS, "under", seed=7)
        b = PoseBalancedSampler(BINS, "under", seed=7)
        c = PoseBalancedSampler(BINS, "under", seed=8)
        ea = [list(a) for _ in range(5)]
        eb = [list(b) for _ in range(5)]
        ec = [list(c) for _ in range(5)]
        assert ea == eb
        assert ea != ec
        # Each epoch a new subset of the big bins (not just a new order).
        subsets = {frozenset(e) for e in ea}
        assert len(subsets) > 1
        # set_epoch jumps to an epoch; the counter goes on from there.
        d = PoseBalancedSampler(BINS, "under", seed=7)
        d.set_epoch(3)
        assert list(d) == ea[3]
        assert list(d) == ea[4]

    def test_works_with_a_dataloader(self):
        s = PoseBalancedSampler(BINS, "under", seed=1)
        batches = list(DataLoader(list(range(len(BINS))), sampler=s, batch_size=4))
        got = np.concatenate([b.numpy() for b in batches])
        np.testing.assert_array_equal(np.bincount(BINS[got], minlength=4), [3, 3, 0, 3])


class TestOtherModes:
    def test_over_replication_counts(self):
        bins = np.array([0] * 5 + [1] * 2 + [2] * 1)
        s = PoseBalancedSampler(bins, "over", seed=0)
        # round(5/5) = 1, round(5/2 = 2.5) = 3 (half up), round(5/1) = 5
        np.testing.assert_array_equal(s.replication, [1, 3, 5])
        assert len(s) == 5 + 6 + 5
        e0, e1 = list(s), list(s)
        for e in (e0, e1):
            np.testing.assert_array_equal(np.bincount(e, minlength=8), [1] * 5 + [3] * 2 + [5])
        assert e0 != e1  # reshuffled every epoch

    def test_over_with_empty_bin(self):
        s = PoseBalancedSampler(BINS, "over")
        # counts 5, 3, 0, 7: round(1.4) = 1, round(2.33) = 2, round(1) = 1
        assert len(s) == 5 * 1 + 3 * 2 + 7 * 1

    def test_none_is_a_seeded_permutation(self):
        s = PoseBalancedSampler(BINS, "none", seed=3)
        e0, e1 = list(s), list(s)
        assert sorted(e0) == list(range(15)) and sorted(e1) == list(range(15))
        assert e0 != e1
        assert list(PoseBalancedSampler(BINS, "none", seed=3)) == e0

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="under.*over.*none"):
            PoseBalancedSampler(BINS, "sideways")
        with pytest.raises(ValueError, match=">= 0"):
            PoseBalancedSampler([0, -1, 2], "under")
        with pytest.raises(ValueError, match="integers"):
            PoseBalancedSampler([0, 1.5], "under")
        with pytest.raises(ValueError, match="non-empty"):
            PoseBalancedSampler([], "under")


def test_mean_of_bin_means_hand_example():
    shapes = np.array([
        [[0, 0], [1, 1]],
        [[2, 0], [3, 1]],
        [[4, 0], [5, 1]],
        [[10, 4], [0, 0]],
    ], float)
    bins = np.array([0, 0, 0, 2])  # bin 1 empty
    # bin 0 mean [[2, 0], [3, 1]]; bin 2 mean [[10, 4], [0, 0]]; mean of the two:
    np.testing.assert_allclose(mean_of_bin_means(shapes, bins), [[6, 2], [1.5, 0.5]])
    # ... which is not the plain mean.
    assert not np.allclose(shapes.mean(axis=0), [[6, 2], [1.5, 0.5]])
    with pytest.raises(ValueError, match="4 shapes but 3"):
        mean_of_bin_means(shapes, bins[:3])


def test_balance_report():
    np.testing.assert_array_equal(balance_report(BINS, 5), [5, 3, 0, 7, 0])
    with pytest.raises(ValueError, match="k = 3"):
        balance_report(BINS, 3)


def test_fixed_budget_sampler():
    bins = np.array([0] * 20 + [1] * 3 + [2] * 1)
    s = FixedBudgetSampler(PoseBalancedSampler(bins, "under", seed=0), length=len(bins))
    s.set_epoch(0)
    e0 = list(iter(s))
    assert len(e0) == len(bins)
    counts = np.bincount(bins[e0], minlength=3)
    assert abs(counts[0] - counts[2]) <= 1  # balanced: each bin a third
    s.set_epoch(0)
    assert list(iter(s)) == e0
    assert list(iter(s)) != e0  # next epoch differs
