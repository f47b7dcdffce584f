"""The device-resident pipeline (aniso.data.resident): geometry, flips, preset ranges, agreement with the per-item
reference pipeline, the crop cache, and runs whose numbers do not depend on what shares the device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aniso.data import open_dataset
from aniso.data.augment import (AUGMENTATIONS, AugmentConfig, augment_matrices, cache_margin, colour_params,
                                item_draws)
from aniso.data.pipeline import FaceDataset, denormalize
from aniso.data.records import Record
from aniso.data.resident import CropGeometry, EvaluationCrops, TrainingCrops, _blur, crop_images
from aniso.synthetic import generate
from aniso.topology import get_scheme
from test_pipeline import face_landmarks, make_record

SCHEME = get_scheme("300w")
MIRROR = np.array(SCHEME.mirror)
NOSTRIL = 31  # not its own mirror image (31 <-> 35)
REPO = Path(__file__).resolve().parents[1]


def train_set(records, aug: AugmentConfig, size: int = 64, folder=None) -> TrainingCrops:
    return TrainingCrops(records, SCHEME, CropGeometry(size, 1.25, cache_margin(aug)), folder=folder, progress=False)


def centroid(image: torch.Tensor, channel: int = 1) -> np.ndarray:
    """Intensity centroid (x, y), input pixels, of one channel of a normalised (3, S, S) image."""
    g = denormalize(image)[..., channel].astype(float)
    g[g < 8] = 0  # background is exactly 0 only before the normalisation round trip
    yy, xx = np.mgrid[0:g.shape[0], 0:g.shape[1]]
    return np.array([(g * xx).sum(), (g * yy).sum()]) / g.sum()


@pytest.fixture(scope="module")
def blob_faces(tmp_path_factory) -> list[Record]:
    tmp = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(3)
    return [make_record(tmp, f"f{i}", face_landmarks(cx=100 + 4 * i, half=38 + 3 * i, rng=rng), dot=NOSTRIL,
                        smooth=1.0) for i in range(8)]


@pytest.fixture(scope="module")
def synthetic_faces(tmp_path_factory) -> list[Record]:
    """Synthetic 300W faces (their poses, boxes and points) repainted black with a green blob on the nostril."""
    tmp = tmp_path_factory.mktemp("synth")
    root = generate("300w", tmp / "300w", scale=0.01, image_size=128, progress=False)
    out = []
    for i, rec in enumerate(open_dataset("300w", root, "train")[:10]):
        img = np.zeros(rec.load_image().shape, np.uint8)
        yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
        x, y = rec.landmarks[NOSTRIL]
        img[..., 1] = np.round(255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2)))
        path = tmp / f"blob{i}.png"
        cv2.imwrite(str(path), img[..., ::-1])
        out.append(Record(image_path=path, landmarks=rec.landmarks, box=rec.box, key=f"blob{i}"))
    return out


def test_augment_matrices_are_opencv_rotations_about_the_centre():
    size, aug = 64, AUGMENTATIONS["paper"]
    draws = item_draws(7, 2, range(20))
    m, flip = augment_matrices(draws, aug, size)
    o = (size - 1) / 2
    for u, a, f in zip(draws, m, flip):
        angle, sigma = (2 * u[0] - 1) * aug.rotation_deg, 0.75 + 0.5 * u[1]
        ref = np.eye(3)
        ref[:2] = cv2.getRotationMatrix2D((o, o), -angle, sigma)
        ref[:2, 2] += (2 * u[2:4] - 1) * aug.translate * size
        if f:
            ref = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ ref
        np.testing.assert_allclose(a, ref, atol=1e-12)


@pytest.mark.parametrize("preset", ["light", "paper"])
@pytest.mark.parametrize("faces", ["blob_faces", "synthetic_faces"])
def test_landmarks_follow_the_warped_image(preset, faces, request):
    """The blob drawn on a point lands, after the warp, on that point's target (or its mirror's, after a
    flip) within 0.5 px; the colour steps are off (they mix the blob into other channels)."""
    records = request.getfixturevalue(faces)
    aug = AUGMENTATIONS[preset].geometric()
    rs = train_set(records, aug)
    errors, flips = [], 0
    for epoch in range(4):
        x, y = next(rs.epoch(np.arange(len(records)), aug, seed=1, epoch=epoch, batch_size=len(records)))
        _, flipped = augment_matrices(item_draws(1, epoch, range(len(records))), aug, 64)
        for img, pts, f in zip(x, y.numpy(), flipped):
            where = pts[MIRROR[NOSTRIL]] if f else pts[NOSTRIL]
            errors.append(np.linalg.norm(centroid(img) - where))
            flips += int(f)
    assert 0 < flips < len(errors), "both flipped and unflipped faces must be checked"
    assert max(errors) < 0.5, f"largest distance blob - target {max(errors):.3f} px"


def test_a_flip_maps_points_through_the_scheme(blob_faces):
    size = 48
    flip_only = AugmentConfig.none().__class__(rotation_deg=0, scale=(1, 1), translate=0, flip=1.0, brightness=0,
                                               contrast=0, saturation=0, blur_prob=0, greyscale_prob=0)
    none = AugmentConfig.none()
    _, plain = next(train_set(blob_faces, none, size).epoch(np.arange(8), none, 0, 0, 8))
    img_f, flipped = next(train_set(blob_faces, flip_only, size).epoch(np.arange(8), flip_only, 0, 0, 8))
    p, q = plain.numpy(), flipped.numpy()
    np.testing.assert_allclose(q[:, :, 0], size - 1 - p[:, MIRROR, 0], atol=1e-4)
    np.testing.assert_allclose(q[:, :, 1], p[:, MIRROR, 1], atol=1e-4)
    img_p, _ = next(train_set(blob_faces, none, size).epoch(np.arange(8), none, 0, 0, 8))
    np.testing.assert_allclose(img_f.numpy(), img_p.numpy()[..., ::-1], atol=1e-4)  # the picture is mirrored too


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Rotation (degrees, clockwise on screen), scale and shift of the similarity that maps src onto dst."""
    m, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    return float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))), scale, m[:, 2]


@pytest.mark.parametrize("preset", ["light", "paper"])
def test_each_presets_ranges_hold(preset, blob_faces):
    """Recovered from the rendered landmarks: rotation, scale and shift stay within the preset's ranges and
    reach most of them; flips come at the preset's rate; the colour jitter stays in its ranges."""
    aug, size, n = AUGMENTATIONS[preset], 64, 400
    rs = train_set(blob_faces, aug, size)
    none = AugmentConfig.none()
    _, base = next(train_set(blob_faces, none, size).epoch(np.arange(8), none, 0, 0, 8))
    order = np.tile(np.arange(8), n // 8)
    angles, scales, shifts, flips = [], [], [], 0
    for epoch in range(n // 8):
        _, y = next(rs.epoch(np.arange(8), aug, 5, epoch, 8))
        _, flipped = augment_matrices(item_draws(5, epoch, range(8)), aug, size)
        for b, a, f in zip(base.numpy(), y.numpy(), flipped):
            a = a[MIRROR] * [-1, 1] + [size - 1, 0] if f else a  # undo the flip, renumbering included
            angle, scale, _ = _similarity(b, a)
            o = np.full(2, (size - 1) / 2)
            shift = a.mean(0) - (o + scale * _rot(angle) @ (b.mean(0) - o))
            angles.append(angle), scales.append(scale), shifts.append(shift)
            flips += int(f)
    angles, scales, shifts = np.array(angles), np.array(scales), np.abs(np.array(shifts))
    eps = 1e-3
    assert np.abs(angles).max() <= aug.rotation_deg + eps and np.abs(angles).max() > 0.9 * aug.rotation_deg
    assert scales.min() >= aug.scale[0] - eps and scales.max() <= aug.scale[1] + eps
    assert scales.min() < aug.scale[0] + 0.05 and scales.max() > aug.scale[1] - 0.05
    assert shifts.max() <= aug.translate * size + 1e-2 and shifts.max() > 0.8 * aug.translate * size
    assert abs(flips / len(order) - aug.flip) < 0.1
    jitter = colour_params(item_draws(5, 0, range(n)), aug, size)
    for k, v in (("brightness", aug.brightness), ("contrast", aug.contrast), ("saturation", aug.saturation)):
        assert np.all(np.abs(jitter[k] - 1) <= v + 1e-12) and np.abs(jitter[k] - 1).max() > 0.8 * v
    blurred = jitter["blur"][jitter["blur"] > 0]
    lo, hi = (s * size / 256 for s in aug.blur_sigma)
    assert abs(len(blurred) / n - aug.blur_prob) < 0.1 and np.all((blurred >= lo) & (blurred <= hi))
    assert abs(jitter["grey"].mean() - aug.greyscale_prob) < 0.05


def _rot(angle: float) -> np.ndarray:
    t = np.radians(angle)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def test_it_agrees_with_the_per_item_reference(blob_faces):
    """Same draws, same geometry: identical landmarks; the same picture up to rounding (the reference rounds to
    uint8 after its warp and its colour step) and resampling (both warp a stored crop, the reference's at up to
    twice the input's resolution): on these sharp dots and edges, a mean difference under 1.5 grey levels."""
    aug, size = AUGMENTATIONS["paper"], 64
    ref = FaceDataset(blob_faces, SCHEME, input_size=size, train=True, augment=aug, seed=3, cache=True)
    ref.set_epoch(2)
    x, y = next(train_set(blob_faces, aug, size).epoch(np.arange(8), aug, 3, 2, 8))
    for i in range(8):
        item = ref[i]
        np.testing.assert_array_equal(item["landmarks"].numpy(), y[i].numpy())
        a, b = denormalize(item["image"]).astype(float), denormalize(x[i]).astype(float)
        assert np.abs(a - b).mean() < 1.5, f"face {i}: mean difference {np.abs(a - b).mean():.2f} grey levels"
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    # evaluation crops: one bilinear warp from the photograph, as the uncached reference does, unless the
    # photograph shrinks by 2x or more (then it is first reduced with INTER_AREA: no aliasing)
    ev = EvaluationCrops(blob_faces, SCHEME, CropGeometry(size), progress=False)
    plain = FaceDataset(blob_faces, SCHEME, input_size=size, cache=False)
    shrink = 1 / np.sqrt(np.abs(np.linalg.det(ev.crop[:, :, :2])))
    assert shrink.min() < 2 <= shrink.max(), "both kinds of face must be checked"
    for i in range(8):
        a, b = denormalize(plain[i]["image"]), denormalize(ev.inputs([i])[0])
        if shrink[i] < 2:
            np.testing.assert_array_equal(a, b)
        else:
            assert np.abs(a.astype(float) - b).mean() < 1.5


def test_predictions_map_back_to_the_photograph(blob_faces):
    """A model that predicts the eval crop's own targets gives back the original landmarks."""
    size = 48
    ev = EvaluationCrops(blob_faces, SCHEME, CropGeometry(size), progress=False)
    from aniso.data.augment import transform_points
    from aniso.runs.evaluation import predict

    targets = torch.as_tensor(np.stack([transform_points(r.landmarks, m) for r, m in zip(blob_faces, ev.crop)]),
                              dtype=torch.float32)

    class Oracle(torch.nn.Module):
        def forward(self, x):
            return targets[: len(x)]

    back = predict(Oracle(), ev, np.arange(8))
    np.testing.assert_allclose(back, np.stack([r.landmarks for r in blob_faces]), atol=1e-3)


def test_blur_is_opencvs_gaussian():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    sigma = torch.tensor([1.3, 0.0])
    out = _blur(torch.as_tensor(img, dtype=torch.float32).permute(0, 3, 1, 2), sigma).permute(0, 2, 3, 1).numpy()
    ref = cv2.GaussianBlur(img[0].astype(np.float32), (0, 0), 1.3, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(out[0] - ref).max() < 0.5  # OpenCV truncates its kernel a little further out
    np.testing.assert_allclose(out[1], img[1], atol=1e-4)  # sigma 0: unchanged


def test_evaluation_crops_are_the_network_inputs(blob_faces):
    with pytest.raises(ValueError, match="margin 1.*TrainingCrops"):
        EvaluationCrops(blob_faces, SCHEME, CropGeometry(32, 1.25, 2.0), progress=False)
    assert not hasattr(TrainingCrops, "inputs") and not hasattr(EvaluationCrops, "epoch")


def test_crops_are_built_once_and_read_back(blob_faces, tmp_path, monkeypatch):
    geometry = CropGeometry(32, 1.25, 1.5)
    first, key = crop_images(blob_faces, geometry, tmp_path, progress=False)
    assert (tmp_path / f"{key}.npy").exists() and isinstance(first, np.memmap) and first.shape == (8, 50, 50, 3)
    import aniso.data.resident as resident

    monkeypatch.setattr(resident, "cut_crop", lambda *a, **k: pytest.fail("built again"))
    again, key2 = crop_images(blob_faces, geometry, tmp_path, progress=False)
    assert key2 == key and np.array_equal(again, first)
    monkeypatch.undo()
    other, key3 = crop_images(blob_faces, CropGeometry(32, 1.25, 1.0), tmp_path, progress=False)
    assert key3 != key and other.shape == (8, 32, 32, 3)
    os.utime(blob_faces[0].image_path, ns=(1, 1))  # an edited image makes new crops
    assert crop_images(blob_faces, geometry, tmp_path, progress=False)[1] != key
    assert not list(tmp_path.glob(".*.npy")), "no temporary file is left behind"


def test_a_face_that_does_not_decode_is_named(blob_faces, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    rec = Record(image_path=bad, landmarks=blob_faces[0].landmarks, box=blob_faces[0].box, key="broken")
    with pytest.raises(Exception, match="broken"):
        EvaluationCrops([blob_faces[0], rec], SCHEME, CropGeometry(32), folder=tmp_path, progress=False)
    assert not list(tmp_path.glob("*.npy")) and not list(tmp_path.glob(".*.npy"))


# ----------------------------------------------------------------------------- runs on a shared device

RUN = """
import json, sys
from aniso.runs import make_config, run
r = run(make_config("smoke", loss=sys.argv[1], epochs=2, lr=1e-3, seed=int(sys.argv[2])), progress=False)
print(json.dumps({"id": r.id}))
"""


def _env(tmp: Path, store: str) -> dict:
    return dict(os.environ, ANISO_RUNS_DIR=str(tmp / store), ANISO_READ_RUNS="", ANISO_CACHE=str(tmp / "cache"),
                PYTHONPATH=str(REPO / "lib"), OMP_NUM_THREADS="1")


def _same(a: Path, b: Path, rid: str) -> None:
    from aniso.runs.store import RunRecord

    ra, rb = RunRecord.load(rid, a), RunRecord.load(rid, b)
    assert ra.metrics == rb.metrics
    for k, v in ra.arrays.items():
        np.testing.assert_array_equal(v, rb.arrays[k], err_msg=k)
    assert [h["val_nme"] for h in ra.meta["history"]] == [h["val_nme"] for h in rb.meta["history"]]


def test_a_runs_numbers_do_not_depend_on_what_shares_the_device(tmp_path):
    """A run alone, the same run while another trains beside it (two processes on the device), and the same run
    after another one in the same process (its data on the device already) give the same numbers."""
    alone = subprocess.run([sys.executable, "-c", RUN, "l2", "0"], env=_env(tmp_path, "alone"), check=True,
                           capture_output=True, text=True)
    rid = json.loads(alone.stdout.strip().splitlines()[-1])["id"]
    procs = [subprocess.Popen([sys.executable, "-c", RUN, loss, seed], env=_env(tmp_path, "shared"),
                              stdout=subprocess.PIPE, text=True) for loss, seed in (("wing", "1"), ("l2", "0"))]
    assert all(p.wait() == 0 for p in procs)
    _same(tmp_path / "alone", tmp_path / "shared", rid)
    after = RUN.replace("r = run(", "run(make_config('smoke', loss='anisotropic', epochs=2, lr=1e-3, seed=3), "
                                    "progress=False)\nr = run(")
    subprocess.run([sys.executable, "-c", after, "l2", "0"], env=_env(tmp_path, "after"), check=True)
    _same(tmp_path / "alone", tmp_path / "after", rid)


def test_item_draws_depend_on_seed_epoch_and_index_alone():
    from scipy import stats

    a = item_draws(3, 1, range(100))
    np.testing.assert_array_equal(item_draws(3, 1, range(99, -1, -1))[::-1], a)  # order of access does not matter
    assert not np.array_equal(item_draws(4, 1, range(100)), a) and not np.array_equal(item_draws(3, 2, range(100)), a)
    many = item_draws(0, 0, range(3000))
    assert ((many >= 0) & (many < 1)).all()
    assert stats.kstest(many.ravel(), "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(many[:, 0], many[:, 1])[0, 1]) < 0.1
