"""Tests for aniso.data.pipeline: crop geometry, augmentation, cache, seeding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aniso.data.augment import colour_params
from aniso.data.pipeline import (
    AugmentConfig,
    FaceDataset,
    cache_margin,
    crop_matrix,
    denormalize,
    make_loader,
    to_original,
    transform_points,
)
from aniso.data.records import Record
from aniso.topology import get_scheme

SCHEME = get_scheme("300w")
NOSE_TIP, RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 30, 36, 45
# Dots for the augmentation test: near the centre (they stay in view) and not
# their own mirror image (nostril 31 <-> 35, inner eye corner 39 <-> 42, lip 50 <-> 52).
DOTS = (31, 39, 50)


def face_template() -> np.ndarray:
    """A symmetric 68-point face in a unit frame (x right, y down), centred on 0."""
    p = np.zeros((68, 2))
    t = np.linspace(np.pi, 0, 17)
    p[0:17] = np.c_[0.9 * np.cos(t), 0.1 + 0.9 * np.sin(t)]  # jaw, image-left to image-right
    p[17:22] = np.c_[np.linspace(-0.8, -0.2, 5), np.full(5, -0.55)]
    p[27:31] = np.c_[np.zeros(4), np.linspace(-0.35, 0.1, 4)]
    p[31:36] = np.c_[np.linspace(-0.2, 0.2, 5), np.full(5, 0.2)]
    a = np.linspace(0, 2 * np.pi, 7)[:-1]
    p[36:42] = np.c_[-0.45 - 0.15 * np.cos(a), -0.3 - 0.06 * np.sin(a)]  # 36 = outer corner (image-left)
    a = np.linspace(0, 2 * np.pi, 13)[:-1]
    p[48:60] = np.c_[-0.35 * np.cos(a), 0.5 - 0.12 * np.sin(a)]
    a = np.linspace(0, 2 * np.pi, 9)[:-1]
    p[60:68] = np.c_[-0.25 * np.cos(a), 0.5 - 0.05 * np.sin(a)]
    # The image-right half is the mirror image of the left one, by the flip map.
    mirror = np.array(SCHEME.mirror)
    left = np.array([i for i in range(68) if mirror[i] > i])
    p[mirror[left]] = p[left] * [-1, 1]
    p[mirror == np.arange(68), 0] = 0.0
    return p


def blob_image(size: tuple[int, int], centre: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 (H, W) Gaussian blob of peak 255 centred at pixel ``centre`` (pixel centres at integers)."""
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))
    return np.round(255 * g).astype(np.uint8)


def write_face(path: Path, landmarks: np.ndarray, dot: int, shape=(200, 220), sigma=3.0, smooth=0.0) -> None:
    """Write an RGB face: landmarks as small red dots, point ``dot`` as a green Gaussian blob, a blue disc.

    ``smooth`` > 0 blurs the whole picture with that sigma (pixels).
    """
    img = np.zeros((*shape, 3), dtype=np.uint8)
    centre = landmarks.mean(axis=0)
    cv2.circle(img, tuple(int(v) for v in centre), 60, (0, 0, 120), -1)  # blue in RGB order
    for x, y in landmarks:
        cv2.circle(img, (int(round(x)), int(round(y))), 2, (200, 0, 0), -1)
    img[..., 1] = blob_image(shape, landmarks[dot], sigma)
    if smooth:
        img = cv2.GaussianBlur(img, (0, 0), smooth)
    cv2.imwrite(str(path), img[..., ::-1])  # cv2 writes BGR


def make_record(tmp_path: Path, name: str, landmarks: np.ndarray, dot: int = NOSE_TIP, **kw) -> Record:
    path = tmp_path / f"{name}.png"
    write_face(path, landmarks, dot, **kw)
    return Record(image_path=path, landmarks=landmarks, box=np.concatenate([landmarks.min(0), landmarks.max(0)]),
                  key=name)


def face_landmarks(cx=110.0, cy=95.0, half=50.0, rng=None) -> np.ndarray:
    pts = face_template() * half + [cx, cy]
    if rng is not None:
        pts = pts + rng.normal(0, 0.7, pts.shape)
    return pts


def green_centroid(item: dict) -> np.ndarray:
    """Intensity centroid (x, y), input pixels, of the green channel of an item's image."""
    g = denormalize(item["image"])[..., 1].astype(float)
    g[g < 8] = 0  # background is exactly 0 only before the colour normalisation round trip
    yy, xx = np.mgrid[0:g.shape[0], 0:g.shape[1]]
    return np.array([(g * xx).sum(), (g * yy).sum()]) / g.sum()


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Record:
    tmp = tmp_path_factory.mktemp("face")
    return make_record(tmp, "face", face_landmarks(rng=np.random.default_rng(1)))


def test_eval_crop_matrix_is_the_square_about_the_box(tmp_path):
    # Box [40, 60, 120, 100]: w = 80, h = 40 -> side 80 * 1.25 = 100 about (80, 80);
    # s = 64 / 100 = 0.64, offset 31.5 - 0.64 * 80 = -19.7 on both axes.
    lm = face_landmarks()
    lm = (lm - lm.min(0)) / (lm.max(0) - lm.min(0)) * [80, 40] + [40, 60]
    rec = make_record(tmp_path, "box", lm)
    expected = np.array([[0.64, 0, -19.7], [0, 0.64, -19.7]])
    np.testing.assert_allclose(crop_matrix(rec.gt_box, 64, 1.25), expected, atol=1e-12)
    item = FaceDataset([rec], "300w", input_size=64)[0]
    np.testing.assert_allclose(item["matrix"].numpy(), expected, atol=1e-5)
    # The crop square [30, 130] x [30, 130] (pixel edges) is the input's [-0.5, 63.5].
    corners = transform_points(np.array([[30.0, 30.0], [130.0, 130.0]]), expected)
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [63.5, 63.5]], atol=1e-12)
    # The landmark box becomes the 51.2 x 25.6 rectangle centred on (31.5, 31.5): 0.64 * 40 - 19.7 = 5.9.
    lmo = item["landmarks"].numpy()
    np.testing.assert_allclose(np.r_[lmo.min(0), lmo.max(0)], [5.9, 18.7, 57.1, 44.3], atol=1e-4)
    np.testing.assert_allclose(item["landmarks"].numpy(), transform_points(lm, expected), atol=1e-4)
    inv = item["inverse"].numpy().astype(float)
    np.testing.assert_allclose(np.vstack([inv, [0, 0, 1]]) @ np.vstack([expected, [0, 0, 1]]), np.eye(3),
                               atol=1e-5)


@pytest.mark.parametrize("cache", [True, False])
def test_pixel_lands_exactly_where_the_matrix_maps_it(tmp_path, cache):
    # Box 63 px wide, crop_scale 64/63: scale exactly 1 and an integer shift,
    # so pixel (20, 30) must come out at exactly (10, 20) with its value.
    lm = face_landmarks()
    lm = (lm - lm.min(0)) / (lm.max(0) - lm.min(0)) * 63 + [10, 10]
    path = tmp_path / "pixel.png"
    img = np.zeros((100, 100, 3), np.uint8)
    img[30, 20] = (255, 128, 7)
    cv2.imwrite(str(path), img[..., ::-1])
    rec = Record(image_path=path, landmarks=lm, box=np.array([10, 10, 73, 73.0]), key="pixel")
    item = FaceDataset([rec], "300w", input_size=64, crop_scale=64 / 63, cache=cache)[0]
    np.testing.assert_allclose(item["matrix"].numpy(), [[1, 0, -10], [0, 1, -10]], atol=1e-6)
    out = denormalize(item["image"])
    assert tuple(out[20, 10]) == (255, 128, 7)
    assert out.sum() == 255 + 128 + 7


@pytest.mark.parametrize("cache", [True, False])
def test_drawn_dot_follows_its_landmark_under_augmentation(tmp_path, cache):
    rng = np.random.default_rng(5)
    recs = [make_record(tmp_path, f"f{k}", face_landmarks(100 + 10 * k, 90, 45 + 5 * k, rng), dot)
            for k, dot in enumerate(DOTS)]
    aug = AugmentConfig().geometric()
    flips = angles = 0
    for seed in range(4):
        ds = FaceDataset(recs, SCHEME, input_size=64, train=True, augment=aug, seed=seed, cache=cache)
        for i, dot in enumerate(DOTS):
            item = ds[i]
            lin = item["matrix"].numpy()[:, :2].astype(float)
            flipped = np.linalg.det(lin) < 0
            flips += flipped
            angles += abs(np.degrees(np.arctan2(lin[1, 0], lin[1, 1]))) > 5  # row 2 does not see the flip
            where = SCHEME.mirror[dot] if flipped else dot  # new point mirror[i] is old point i
            err = np.linalg.norm(green_centroid(item) - item["landmarks"][where].numpy())
            # Measured errors are about 0.02 px; the brief asks for 1 px.
            assert err < 0.1, (seed, i, flipped, err)
    assert 2 <= flips <= 10 and angles >= 6  # the seeds did exercise flips and rotations


def test_flip_renumbers_with_the_mirror_and_twice_is_identity(tmp_path):
    rec = make_record(tmp_path, "eye", face_landmarks(rng=np.random.default_rng(2)), dot=RIGHT_EYE_OUTER)
    S = 64
    plain = FaceDataset([rec], SCHEME, input_size=S)[0]
    only_flip = AugmentConfig(rotation_deg=0, scale=(1, 1), translate=0, flip=1.0, brightness=0, contrast=0,
                              saturation=0, blur_prob=0, greyscale_prob=0)
    flipped = FaceDataset([rec], SCHEME, input_size=S, train=True, augment=only_flip)[0]
    p, f = plain["landmarks"].numpy(), flipped["landmarks"].numpy()
    # The image-left eye corner (36) of the flipped face is the reflected left-eye corner (45).
    np.testing.assert_allclose(f[RIGHT_EYE_OUTER], [S - 1 - p[LEFT_EYE_OUTER, 0], p[LEFT_EYE_OUTER, 1]], atol=1e-4)
    np.testing.assert_allclose(f[LEFT_EYE_OUTER], [S - 1 - p[RIGHT_EYE_OUTER, 0], p[RIGHT_EYE_OUTER, 1]], atol=1e-4)
    assert f[RIGHT_EYE_OUTER, 0] < S / 2 < f[LEFT_EYE_OUTER, 0]  # still a face: 36 on the image-left
    # The dot drawn at the old 36 is now where point 45 is.
    assert np.linalg.norm(green_centroid(flipped) - f[LEFT_EYE_OUTER]) < 0.5
    assert np.linalg.norm(green_centroid(plain) - p[RIGHT_EYE_OUTER]) < 0.5
    # Flipping the flipped item again gives the plain one back: points exactly, pixels within 1 level.
    np.testing.assert_allclose(SCHEME.flip(f, S), p, atol=1e-4)
    back = denormalize(flipped["image"])[:, ::-1].astype(int)
    assert np.abs(back - denormalize(plain["image"]).astype(int)).max() <= 1
    np.testing.assert_allclose(flipped["matrix"].numpy()[0], [-plain["matrix"][0, 0], 0, S - 1 - plain["matrix"][0, 2]],
                               atol=1e-4)


def test_same_seed_epoch_index_same_item_and_new_epoch_differs(face):
    def item(seed, epoch, index, order=()):
        ds = FaceDataset([face] * 4, SCHEME, input_size=32, train=True, seed=seed)
        ds.set_epoch(epoch)
        for j in order:  # other accesses before must not matter
            ds[j]
        return ds[index]

    a, b = item(7, 1, 2), item(7, 1, 2, order=(3, 0, 2, 1))
    for k in ("image", "landmarks", "matrix", "inverse"):
        assert torch.equal(a[k], b[k]), k
    c, d, e = item(7, 2, 2), item(8, 1, 2), item(7, 1, 1)
    for other in (c, d, e):
        assert not torch.allclose(a["matrix"], other["matrix"])
        assert (a["image"] - other["image"]).abs().max() > 0.1


def test_worker_count_does_not_change_the_batches(face):
    ds = FaceDataset([face] * 6, SCHEME, input_size=32, train=True, seed=3)
    ds.set_epoch(2)
    runs = [list(make_loader(ds, batch_size=3, num_workers=w, seed=11)) for w in (0, 2)]
    assert len(runs[0]) == 2
    for b0, b2 in zip(*runs):
        assert torch.equal(b0["index"], b2["index"])
        assert torch.equal(b0["image"], b2["image"]) and torch.equal(b0["landmarks"], b2["landmarks"])


def test_colour_draws_do_not_move_the_geometry(face):
    full = FaceDataset([face], SCHEME, input_size=32, train=True, seed=4)
    geo = FaceDataset([face], SCHEME, input_size=32, train=True, seed=4, augment=AugmentConfig().geometric())
    for epoch in range(3):
        full.set_epoch(epoch), geo.set_epoch(epoch)
        assert torch.equal(full[0]["landmarks"], geo[0]["landmarks"])
    # Strong jitter changes the pixels, not the points.
    geo.set_epoch(0)
    loud = AugmentConfig(brightness=0.9, contrast=0.9, saturation=0.9, blur_prob=1.0)
    noisy = FaceDataset([face], SCHEME, input_size=32, train=True, seed=4, augment=loud)
    assert torch.equal(noisy[0]["landmarks"], geo[0]["landmarks"])
    assert (noisy[0]["image"] - geo[0]["image"]).abs().mean() > 0.05


def test_colour_steps_by_hand(face):
    ds = FaceDataset([face], SCHEME, input_size=2)
    img = np.array([[[200, 100, 50], [0, 0, 0]]], dtype=np.uint8)
    u = np.ones(11)  # u = 1: factor 1 + v, blur and greyscale off (u >= their probabilities)
    jitter = lambda aug: colour_params(u, aug, 2)  # noqa: E731
    out = ds._colour(img, jitter(AugmentConfig(brightness=0.2, contrast=0, saturation=0)))
    assert out.tolist() == [[[240, 120, 60], [0, 0, 0]]]
    # Contrast 0.8 towards the mean grey (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 2 = 62.1.
    u[6] = 0.0
    out = ds._colour(img, jitter(AugmentConfig(brightness=0, contrast=0.2, saturation=0)))
    assert out.tolist() == [[[172, 92, 52], [12, 12, 12]]]
    # Saturation 0 and greyscale both give the luma, 124.2.
    u[7] = 0.0
    assert ds._colour(img, jitter(AugmentConfig(brightness=0, contrast=0, saturation=1)))[0, 0].tolist() == [124] * 3
    u[10] = 0.0
    assert ds._colour(img, jitter(AugmentConfig(brightness=0, contrast=0, saturation=0, greyscale_prob=0.5))
                      )[0, 0].tolist() == [124] * 3


def test_no_augmentation_is_the_eval_item(face):
    ev = FaceDataset([face], SCHEME, input_size=32)[0]
    tr = FaceDataset([face], SCHEME, input_size=32, train=True, augment=AugmentConfig.none())[0]
    for k in ("image", "landmarks", "matrix"):
        assert torch.equal(ev[k], tr[k]), k
    np.testing.assert_array_equal(denormalize(ev["image"][None])[0], denormalize(ev["image"]))


def test_to_original_round_trips(face):
    ds = FaceDataset([face] * 5, SCHEME, input_size=48, train=True, seed=9)
    batch = next(iter(make_loader(ds, batch_size=5, shuffle=False, drop_last=False)))
    back = to_original(batch["landmarks"], batch["inverse"])  # batched torch
    for b in range(5):
        flipped = torch.det(batch["matrix"][b, :, :2]) < 0
        expect = face.landmarks[list(SCHEME.mirror)] if flipped else face.landmarks
        np.testing.assert_allclose(back[b].numpy(), expect, atol=2e-3)
    single = FaceDataset([face], SCHEME, input_size=48)[0]  # one item, numpy
    np.testing.assert_allclose(to_original(single["landmarks"].numpy(), single["inverse"].numpy()), face.landmarks,
                               atol=2e-3)


def test_cache_on_and_off_give_the_same_eval_images(tmp_path):
    # A 400 px photograph with a 200 px face: the cache (2 * 48 px) is a 2.6x
    # reduction, so this compares one bilinear warp with area resize + warp.
    # Tolerance: at most 2 grey levels anywhere, under 0.25 on average, on a
    # picture blurred (sigma 8 px) so that the direct 5x bilinear reduction
    # does not alias (on sharp edges it does, and the two differ more).
    lm = face_landmarks(200, 190, 100, np.random.default_rng(3))
    rec = make_record(tmp_path, "big", lm, shape=(400, 420), sigma=8, smooth=8.0)
    on = FaceDataset([rec], SCHEME, input_size=48, cache=True)
    off = FaceDataset([rec], SCHEME, input_size=48, cache=False)
    on.prefetch(progress=False)
    assert on._cached[0][0].shape == (96, 96, 3)
    a, b = on[0], off[0]
    diff = np.abs(denormalize(a["image"]).astype(int) - denormalize(b["image"]).astype(int))
    assert diff.mean() < 0.25 and diff.max() <= 2, (diff.mean(), diff.max())
    assert torch.equal(a["landmarks"], b["landmarks"])


def test_cache_is_small_and_covers_the_augmentation(tmp_path, face):
    assert cache_margin(None) == 1.0
    # Default: (cos 30 + sin 30) * (1 + 2 * 0.05) / 0.75.
    assert cache_margin(AugmentConfig()) == pytest.approx((np.sqrt(3) / 2 + 0.5) * 1.1 / 0.75)
    ds = FaceDataset([face] * 3, SCHEME, input_size=32, train=True)
    assert ds.cache_bytes == 0
    ds.prefetch(progress=False)
    assert 0 < ds.cache_bytes <= 3 * 3 * 64**2  # 3 faces, at most 2 * 32 px a side
    # A uniform grey photograph much larger than the view: any part of an
    # augmented view outside the cached crop would show the black border.
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((400, 400, 3), 128, np.uint8))
    lm = face_landmarks(200, 200, 30)
    rec = Record(image_path=path, landmarks=lm, box=np.r_[lm.min(0), lm.max(0)], key="grey")
    wide = AugmentConfig(rotation_deg=45, scale=(0.6, 0.6), translate=0.1).geometric()
    grey = FaceDataset([rec] * 40, SCHEME, input_size=16, train=True, augment=wide)
    for i in range(40):
        assert (denormalize(grey[i]["image"]) == 128).all(), i


def test_clean_targets_use_clean_landmarks(face):
    clean = face.landmarks + 1.5
    rec = Record(image_path=face.image_path, landmarks=face.landmarks, box=face.box, clean_landmarks=clean, key="c")
    a = FaceDataset([rec], SCHEME, input_size=32, clean_targets=True)[0]
    b = FaceDataset([rec], SCHEME, input_size=32)[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["matrix"], b["matrix"])
    np.testing.assert_allclose((a["landmarks"] - b["landmarks"]).numpy(), 1.5 * a["matrix"][0, 0].item(), atol=1e-4)


def test_bad_input_raises(face):
    bad = Record(image_path=face.image_path, landmarks=face.landmarks[:67], box=face.box, key="img/bad.png#0")
    with pytest.raises(ValueError, match=r"img/bad.png#0.*\(67, 2\).*\(68, 2\)"):
        FaceDataset([face, bad], SCHEME)
    with pytest.raises(ValueError, match="clean_landmarks"):
        FaceDataset([face], SCHEME, clean_targets=True)
    with pytest.raises(ValueError, match="dot.*degenerate"):  # a record cannot even be made
        Record(image_path=face.image_path, landmarks=np.ones((68, 2)), box=face.box, key="dot")
    with pytest.raises(ValueError, match="nan.*NaN"):
        Record(image_path=face.image_path, landmarks=np.full((68, 2), np.nan), box=face.box, key="nan")
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="points"):
        transform_points(np.zeros((68, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="border"):
        FaceDataset([face], SCHEME, border="wrap")


def test_make_loader_drops_last_and_shuffles_by_seed(face):
    ds = FaceDataset([face] * 7, SCHEME, input_size=16, train=True)
    order = [torch.cat([b["index"] for b in make_loader(ds, batch_size=3, seed=s)]).tolist() for s in (1, 1, 2)]
    assert len(order[0]) == 6 and order[0] == order[1] and order[0] != order[2]
    ev = FaceDataset([face] * 7, SCHEME, input_size=16)
    assert torch.cat([b["index"] for b in make_loader(ev, batch_size=3)]).tolist() == list(range(7))
