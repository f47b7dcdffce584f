"""Synthetic benchmark: release formats, truth, determinism, geometry and noise statistics.

Trees are generated once per module at tiny scales (tens of faces) and read
back with the real loaders (``aniso.data.open_dataset``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from aniso.data import DATASETS, CountMismatchWarning, open_dataset
from aniso import synthetic as S
from aniso.synthetic import layouts
from aniso.synthetic import sample as sample_module
from aniso.synthetic.face import FaceParams, default_model
from aniso.topology import get_scheme

SIZE = 128
SCALES = {"300w": 0.005, "wflw": 0.005, "aflw": 0.002}
NONE = dict.fromkeys(("pose", "expression", "illumination", "makeup", "occlusion", "blur"), False)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("synthetic")
    return {name: S.generate(name, base / name, seed=0, scale=sc, image_size=SIZE, progress=False)
            for name, sc in SCALES.items()}


def _all_records(name, root):
    subsets = {"300w": ("train", "full", "private"), "wflw": ("train", "test"), "aflw": ("train", "full")}[name]
    return [r for sub in subsets for r in open_dataset(name, root, sub)]


# --------------------------------------------------------------------------- plan and layout


def test_plan_counts_follow_scale():
    assert S.plan("300w", 1.0) == {"afw": 337, "helen/trainset": 2000, "lfpw/trainset": 811, "helen/testset": 330,
                                   "lfpw/testset": 224, "ibug": 135, "300W/01_Indoor": 300, "300W/02_Outdoor": 300}
    assert S.plan("wflw", 1.0) == {"train": 7500, "test": 2500}
    assert S.plan("aflw", 1.0) == {"train": 20000, "test": 4386}
    assert S.plan("wflw", 0.1) == {"train": 750, "test": 250}
    assert set(S.plan("300w", 1e-6).values()) == {S.MIN_FACES}
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="scale"):
            S.plan("300w", bad)
    with pytest.raises(ValueError, match="300w, wflw, aflw"):
        S.plan("cofw", 0.1)


@pytest.mark.parametrize("name", ["300w", "wflw", "aflw"])
def test_every_subset_loads_with_clean_landmarks(trees, name):
    root = trees[name]
    n_points = get_scheme(name).n_points
    c = S.plan(name, SCALES[name])
    if name == "300w":
        expected = {"train": c["afw"] + c["helen/trainset"] + c["lfpw/trainset"],
                    "common": c["helen/testset"] + c["lfpw/testset"], "challenging": c["ibug"],
                    "full": c["helen/testset"] + c["lfpw/testset"] + c["ibug"],
                    "private": c["300W/01_Indoor"] + c["300W/02_Outdoor"]}
    elif name == "wflw":
        expected = {"train": c["train"], "test": c["test"]}
    else:
        expected = {"train": c["train"], "full": c["test"]}
    for subset in DATASETS[name].subsets:
        recs = open_dataset(name, root, subset)
        assert len(recs) > 0, subset
        if subset in expected:
            assert len(recs) == expected[subset], subset
        for r in recs:
            assert r.landmarks.shape == (n_points, 2)
            assert r.clean_landmarks is not None and r.clean_landmarks.shape == (n_points, 2)
            assert {"yaw", "pitch", "roll"} <= set(r.attributes)
            assert r.key.endswith("#0")
    img = recs[0].load_image()
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    assert img.std() > 10  # a picture, not a blank


def test_300w_layout_like_the_release(trees):
    root = trees["300w"]
    assert (root / "ibug" / "image_092 _01.jpg").is_file() and (root / "ibug" / "image_092 _01.pts").is_file()
    keys = {r.key for r in open_dataset("300w", root, "challenging")}
    assert "ibug/image_092 _01.jpg#0" in keys
    assert sorted(p.name for p in (root / "300W" / "01_Indoor").glob("*.png"))[0] == "indoor_001.png"
    assert (root / "300W" / "02_Outdoor" / "outdoor_001.pts").is_file()
    assert any((root / "lfpw" / "testset").glob("image_0001.png"))
    assert any((root / "afw").glob("*.jpg")) and any((root / "helen" / "trainset").glob("*.jpg"))
    text = next((root / "afw").glob("*.pts")).read_text()
    assert text.startswith("version: 1\nn_points:  68\n{\n") and text.endswith("}\n")


def test_wflw_lists_and_attribute_files(trees):
    root = trees["wflw"]
    ann = root / "WFLW_annotations"
    test_lines = (ann / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt").read_text().splitlines()
    assert all(len(line.split()) == 207 for line in test_lines)
    assert (ann / "list_98pt_test" / "list_98pt_test.txt").read_text().splitlines() == test_lines
    for flag, fname in S.WFLW_LIST_NAMES.items():
        lines = (ann / "list_98pt_test" / f"list_98pt_test_{fname}.txt").read_text().splitlines()
        subset = open_dataset("wflw", root, flag)
        assert len(lines) == len(subset)
        # Quotas keep every attribute subset populated in a small tree.
        assert len(subset) >= 6, flag
        assert all(r.attributes[flag] == 1 for r in subset)


def test_aflw_mat_fields(trees):
    from aniso.data.formats import read_aflw_mat

    root = trees["aflw"]
    mat = read_aflw_mat(root / "AFLWinfo_release.mat")
    counts = S.plan("aflw", SCALES["aflw"])
    assert mat.n_train == counts["train"] and len(mat.names) == sum(counts.values())
    assert all(n.split("/")[0] in ("0", "2", "3") and n.split("/")[1].startswith("image") for n in mat.names)
    assert all((root / "flickr" / n).is_file() for n in mat.names)
    full = open_dataset("aflw", root, "full")
    frontal = open_dataset("aflw", root, "frontal")
    assert 0 < len(frontal) <= len(full)
    assert all(r.attributes["visible"].all() for r in frontal)
    for r in full:
        w, h = r.box[2] - r.box[0], r.box[3] - r.box[1]
        assert w > 0 and h > 0
        # The box holds the landmarks (a square face box around them).
        assert (r.landmarks >= r.box[:2] - 1).all() and (r.landmarks <= r.box[2:] + 1).all()


@pytest.mark.parametrize("name", ["300w", "wflw", "aflw"])
def test_landmarks_inside_the_image(trees, name):
    for r in _all_records(name, trees[name]):
        for pts in (r.landmarks, r.clean_landmarks):
            assert (pts >= 0).all() and (pts <= SIZE - 1).all()


# --------------------------------------------------------------------------- determinism and safety


def _annotation_bytes(root: Path) -> dict:
    files = [p for p in root.rglob("*") if p.suffix in (".pts", ".txt", ".mat", ".npz", ".jpg", ".png")]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


@pytest.mark.parametrize("name, scale", [("300w", 1e-6), ("wflw", 1e-6), ("aflw", 1e-6)])
def test_same_seed_same_bytes_other_seed_differs(tmp_path, name, scale):
    kw = dict(scale=scale, image_size=48, progress=False)  # small images: the files, not the pictures, matter here
    a = _annotation_bytes(S.generate(name, tmp_path / "a", seed=3, **kw))
    b = _annotation_bytes(S.generate(name, tmp_path / "b", seed=3, **kw))
    c = _annotation_bytes(S.generate(name, tmp_path / "c", seed=4, **kw))
    assert a.keys() == b.keys() and len(a) > 0
    assert all(a[k] == b[k] for k in a)
    ann = [k for k in a if k.endswith((".pts", ".txt", ".mat"))]
    assert ann
    assert any(a[k] != c.get(k) for k in ann)


def test_refuses_non_empty_output_and_leaves_it_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        S.generate("aflw", out, scale=1e-6, image_size=48, progress=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left behind
    S.generate("aflw", out, scale=1e-6, image_size=48, progress=False, force=True)
    assert not (out / "keep.txt").exists() and (out / "synthetic_truth.npz").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_crash_leaves_nothing_half_written(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = layouts.sample_face

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(layouts, "sample_face", failing)
    with pytest.raises(RuntimeError, match="boom"):
        S.generate("wflw", tmp_path / "out", scale=0.001, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_runs_and_refuses_non_empty(tmp_path):
    out = tmp_path / "w300"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "aniso.synth", "300w", str(out), "--scale", "0.01", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 300w" in done.stdout
    assert len(open_dataset("300w", out, "challenging")) == S.plan("300w", 0.01)["ibug"]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "not empty" in again.stderr
    # The package's own entry point, with the noise flag.
    out2 = tmp_path / "aflw"
    cmd2 = [sys.executable, "-m", "aniso.synthetic", "aflw", str(out2), "--scale", "1e-6", "--image-size", "48",
            "--noise-scale", "0.5", "--quiet"]
    done2 = subprocess.run(cmd2, capture_output=True, text=True, env=env, timeout=120)
    assert done2.returncode == 0, done2.stderr
    assert json.loads((out2 / S.INFO_FILE).read_text())["noise_scale"] == 0.5
    bad = subprocess.run(cmd2[:4] + [str(tmp_path / "x"), "--noise-scale", "-1"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 2 and "noise_scale" in bad.stderr


# --------------------------------------------------------------------------- distributions and flags


def test_pose_imbalance():
    rng = np.random.default_rng(0)
    yaws = np.abs([S.sample_pose(rng, "300w")[0] for _ in range(4000)])
    assert (yaws < 20).mean() > 0.75
    # Only the yaw tail (80 % of the large poses, uniform from 30.5 to the cap) passes 45 degrees.
    d = S.DIFFICULTIES["300w"]
    expected = d.pose * 0.8 * (d.yaw_max - 45.0) / (d.yaw_max - 30.5)
    assert 0.7 * expected < (yaws > 45).mean() < 1.3 * expected
    hard = np.abs([S.sample_pose(rng, "ibug")[0] for _ in range(2000)])
    assert (hard > 45).mean() > 2 * (yaws > 45).mean()


@pytest.mark.parametrize("name, difficulties, cap", [("300w", ("300w", "ibug", "indoor", "outdoor"), 60.0),
                                                    ("wflw", ("wflw",), 70.0), ("aflw", ("aflw",), 80.0)])
def test_yaw_caps_per_data_set(name, difficulties, cap):
    rng = np.random.default_rng(1)
    for key in difficulties:
        assert S.DIFFICULTIES[key].yaw_max == cap
        yaws = np.abs([S.sample_pose(rng, key, large=True)[0] for _ in range(800)])
        assert yaws.max() <= cap and yaws.max() > cap - 3.0   # the tail reaches the cap, never passes it
    with pytest.raises(ValueError, match="yaw_max"):
        S.Difficulty("bad", yaw_max=95.0)


def test_pose_imbalance_in_a_generated_tree(trees):
    yaws = np.abs([r.attributes["yaw"] for r in _all_records("wflw", trees["wflw"])])
    assert (yaws < 20).mean() > 0.6
    assert (yaws > 30).any()


def test_wflw_pose_flag_matches_stored_pose(trees):
    recs = _all_records("wflw", trees["wflw"])
    for r in recs:
        a = r.attributes
        large = abs(a["yaw"]) > 30 or abs(a["pitch"]) > 25 or abs(a["roll"]) > 30
        assert a["pose"] == int(large), r.key


def test_blur_and_occlusion_flags_are_honest():
    """Same face with and without an attribute: the flag follows what the image shows."""
    sharp = S.sample_face("wflw", "wflw", [11, 1], SIZE, wants=dict(NONE), pose=(0, 0, 0))
    blurred = S.sample_face("wflw", "wflw", [11, 1], SIZE, wants=dict(NONE, blur=True), pose=(0, 0, 0))
    assert sharp.flags["blur"] == 0 and blurred.flags["blur"] == 1
    box = np.r_[sharp.clean.min(0), sharp.clean.max(0)].astype(int)

    def detail(img):
        crop = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[box[1]:box[3], box[0]:box[2]].astype(np.float64)
        return cv2.Laplacian(cv2.GaussianBlur(crop, (0, 0), 0.7), cv2.CV_64F).var()

    assert detail(blurred.image) < 0.6 * detail(sharp.image)
    occluded = S.sample_face("wflw", "wflw", [11, 2], SIZE, wants=dict(NONE, occlusion=True))
    assert occluded.flags["occlusion"] == 1
    assert (~occluded.visible).sum() >= S.occlusion_minimum(98)
    assert sharp.visible.all() and sharp.flags["occlusion"] == 0


def test_quota_wants_exact_shares():
    w = S.quota_wants(S.DIFFICULTIES["wflw"], 2500, [0, 1])
    counts = {k: sum(x[k] for x in w) for k in w[0]}
    assert counts == {"pose": 326, "expression": 314, "illumination": 698, "makeup": 206, "occlusion": 736,
                      "blur": 773}
    small = S.quota_wants(S.DIFFICULTIES["wflw"], 20, [0, 1])
    assert all(sum(x[k] for x in small) == S.MIN_FACES for k in small[0])


# --------------------------------------------------------------------------- annotation noise


def _tangent_frame(clean, scheme):
    t = clean[..., scheme.tangent_next, :] - clean[..., scheme.tangent_prev, :]
    norm = np.linalg.norm(t, axis=-1, keepdims=True)
    t = t / np.where(norm > 0, norm, 1.0)  # points on no curve keep a zero tangent (not used)
    n = np.stack([-t[..., 1], t[..., 0]], axis=-1)
    return t, n


def test_noise_is_anisotropic_in_a_generated_tree(trees):
    recs = _all_records("wflw", trees["wflw"])
    scheme = get_scheme("wflw")
    clean = np.stack([r.clean_landmarks for r in recs])
    res = np.stack([r.landmarks for r in recs]) - clean
    t, n = _tangent_frame(clean, scheme)
    c = scheme.has_tangent
    along = (res[:, c] * t[:, c]).sum(-1)
    across = (res[:, c] * n[:, c]).sum(-1)
    ratio = along.std() / across.std()
    cfg = S.NoiseConfig()
    assert 0.8 * cfg.along / cfg.across < ratio < 1.2 * cfg.along / cfg.across
    corners = res[:, list(scheme.corners)].reshape(-1, 2)
    sx, sy = corners.std(axis=0)
    assert 0.8 < sx / sy < 1.25
    # Corners get the small isotropic noise, about the across-contour level.
    assert 0.7 < corners.std() / across.std() < 1.4


def test_noise_levels_in_units_of_the_inter_ocular_distance():
    cfg = S.NoiseConfig(along=0.05, across=0.0, corner=0.02)
    scheme = get_scheme("300w")
    rng = np.random.default_rng(0)
    base = default_model().project(FaceParams(scale=0.5, cx=64, cy=64))
    clean = base.landmarks.lm68
    res = np.stack([S.annotation_noise(clean, "300w", 40.0, cfg, rng) - clean for _ in range(3000)])
    t, n = _tangent_frame(clean, scheme)
    c = scheme.has_tangent
    # No noise across the contour at all, the configured level along it.
    np.testing.assert_allclose((res[:, c] * n[c]).sum(-1), 0.0, atol=1e-9)
    assert abs((res[:, c] * t[c]).sum(-1).std() / 40.0 - 0.05) < 0.003
    corner = res[:, list(scheme.corners)]
    assert abs(corner.std() / 40.0 - 0.02) < 0.002
    with pytest.raises(ValueError, match="along"):
        S.NoiseConfig(along=-0.1)


def test_sample_face_reports_iod_and_noise_scale():
    s = S.sample_face("300w", "300w", [5, 5], SIZE, wants=dict(NONE), pose=(0, 0, 0))
    iod = np.linalg.norm(s.clean[36] - s.clean[45])
    assert abs(s.iod - iod) < 0.1 * iod  # frontal: the frontal-equivalent distance is the measured one
    assert 0.25 * SIZE < iod < 0.6 * SIZE


def test_contact_sheet_is_a_figure_and_writes_nothing(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    fig = S.contact_sheet(seed=0, image_size=48)
    assert isinstance(fig, Figure) and list(tmp_path.iterdir()) == []
    axes = fig.get_axes()
    assert len(axes) == 3 * 11 and all(len(ax.images) == 1 for ax in axes)
    assert [ax.get_ylabel() for ax in axes[::11]] == ["300W (68)", "WFLW (98)", "AFLW (19)"]
    # Every cell shows its face's landmarks (dots of the three groups), 68 / 98 / 19 per row.
    shown = [sum(len(c.get_offsets()) for c in ax.collections) for ax in axes]
    assert shown == [68] * 11 + [98] * 11 + [19] * 11


def test_cli_writes_the_contact_sheet(tmp_path):
    from aniso.synthetic.cli import main

    sheet = tmp_path / "sheet.png"
    assert main(["aflw", str(tmp_path / "tree"), "--scale", "1e-6", "--image-size", "48", "--quiet",
                 "--contact-sheet", str(sheet)]) == 0
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 300


# --------------------------------------------------------------------------- reading a tree back


def test_tree_poses_are_the_truth_files_poses(trees, tmp_path):
    root = trees["wflw"]
    poses = S.tree_poses(root)
    recs = _all_records("wflw", root)
    assert list(poses.columns) == ["yaw", "pitch", "roll"] and len(poses) == len(recs)
    for r in recs:
        np.testing.assert_array_equal(poses.loc[r.key].to_numpy(),
                                      [r.attributes["yaw"], r.attributes["pitch"], r.attributes["roll"]])
    assert poses["yaw"].abs().max() <= S.YAW_MAX_WFLW
    with pytest.raises(FileNotFoundError, match="synthetic_truth.npz"):
        S.tree_poses(tmp_path)


def test_label_noise_of_a_tree(trees, tmp_path):
    noise = S.label_noise("wflw", trees["wflw"], "train")
    recs = open_dataset("wflw", trees["wflw"], "train")
    assert noise.keys == tuple(r.key for r in recs)
    np.testing.assert_array_equal(noise.residuals, np.stack([r.landmarks - r.clean_landmarks for r in recs]))
    along, across = noise.along_across()
    c = noise.scheme.has_tangent
    assert np.isnan(along[:, ~c]).all() and np.isfinite(along[:, c]).all()
    cfg = S.NoiseConfig()
    assert 0.7 * cfg.along / cfg.across < along[:, c].std() / across[:, c].std() < 1.3 * cfg.along / cfg.across
    # A tree without its truth file (as a real release) has no label noise to measure.
    bare = tmp_path / "bare"
    shutil.copytree(trees["aflw"], bare)
    (bare / "synthetic_truth.npz").unlink()
    with pytest.warns(CountMismatchWarning), pytest.raises(ValueError, match="no synthetic truth"):
        S.label_noise("aflw", bare, "train")
# --------------------------------------------------------------------------- degenerate faces


@pytest.mark.parametrize("name", ["300w", "wflw", "aflw"])
def test_generated_faces_keep_their_eyes_apart(trees, name):
    """Every face of a tree, train and test: yaw within the data set's cap, eye distances above the floor."""
    recs = _all_records(name, trees[name])
    clean = np.stack([r.clean_landmarks for r in recs])
    iod, ipd = S.eye_fractions(clean, name)
    assert iod.min() >= S.MIN_EYE_FRACTION and ipd.min() >= S.MIN_EYE_FRACTION
    cap = {"300w": S.YAW_MAX_300W, "wflw": S.YAW_MAX_WFLW, "aflw": S.YAW_MAX_AFLW}[name]
    assert max(abs(r.attributes["yaw"]) for r in recs) <= cap


def test_eye_fractions_match_the_metric_normalisers():
    from aniso.metrics import nme

    rng = np.random.default_rng(3)
    for name in ("300w", "wflw", "aflw"):
        n = get_scheme(name).n_points
        g = rng.uniform(10, 100, (5, n, 2))
        iod, ipd = S.eye_fractions(g, name)
        box = np.sqrt(np.ptp(g[..., 0], axis=1) * np.ptp(g[..., 1], axis=1))
        # nme of a prediction one pixel off everywhere is 1 / normaliser.
        p = g + np.array([1.0, 0.0])
        np.testing.assert_allclose(1.0 / nme(p, g, name, "inter_ocular"), iod * box)
        np.testing.assert_allclose(1.0 / nme(p, g, name, "inter_pupil"), ipd * box)


def test_degenerate_poses_are_redrawn_and_others_untouched(monkeypatch):
    """With the tail open to 90 degrees some faces need a new pose; the rest draw exactly as without the rule."""
    tail = S.Difficulty("profile-tail", yaw_max=90.0, pose=1.0, expression=0.0, illumination=0.0, makeup=0.0,
                        occlusion=0.0, blur=0.0)
    seeds = [[21, i] for i in range(40)]
    guarded = [S.sample_face("300w", tail, sd, 48) for sd in seeds]
    redrawn = [s.redraws > 0 for s in guarded]
    assert 0 < sum(redrawn) < len(seeds)
    iod, ipd = S.eye_fractions(np.stack([s.clean for s in guarded]), "300w")
    assert min(iod.min(), ipd.min()) >= S.MIN_EYE_FRACTION
    assert all(abs(s.pose[0]) <= 90.0 and (abs(s.pose) > np.array(S.POSE_LIMITS)).any() for s in guarded)
    monkeypatch.setattr(sample_module, "MIN_EYE_FRACTION", 0.0)
    free = [S.sample_face("300w", tail, sd, 48) for sd in seeds]
    assert all(s.redraws == 0 for s in free)
    iod_free, ipd_free = S.eye_fractions(np.stack([s.clean for s in free]), "300w")
    assert np.minimum(iod_free, ipd_free)[redrawn].max() < S.MIN_EYE_FRACTION
    for a, b, r in zip(guarded, free, redrawn):
        if not r:
            np.testing.assert_array_equal(a.noisy, b.noisy)
            np.testing.assert_array_equal(a.image, b.image)


def test_a_given_pose_is_kept():
    s = S.sample_face("300w", "300w", [4, 4], 64, wants=dict(NONE), pose=(88.0, 0.0, 0.0))
    assert s.redraws == 0 and s.pose[0] == 88.0
    assert min(S.eye_fractions(s.clean, "300w")) < S.MIN_EYE_FRACTION


# --------------------------------------------------------------------------- noise_scale


def _residuals(root, name):
    """Label - truth residuals of every face, split along / across each contour point's tangent, and at corners."""
    recs = _all_records(name, root)
    scheme = get_scheme(name)
    clean = np.stack([r.clean_landmarks for r in recs])
    res = np.stack([r.landmarks for r in recs]) - clean
    t, n = _tangent_frame(clean, scheme)
    c = scheme.has_tangent
    return (res[:, c] * t[:, c]).sum(-1), (res[:, c] * n[:, c]).sum(-1), res[:, list(scheme.corners)]


def test_noise_scale_multiplies_only_the_along_contour_noise(tmp_path):
    kw = dict(seed=5, scale=1e-6, image_size=96, progress=False)
    base = S.generate("300w", tmp_path / "one", **kw)
    trees = {k: S.generate("300w", tmp_path / str(k), noise_scale=k, **kw) for k in (0.0, 2.0)}
    along1, across1, corner1 = _residuals(base, "300w")
    along0, across0, corner0 = _residuals(trees[0.0], "300w")
    along2, across2, corner2 = _residuals(trees[2.0], "300w")
    assert np.abs(along0).max() < 1e-3                       # written to 0.001 px: rounding only
    assert 1.97 < along2.std() / along1.std() < 2.03
    for other in (across0, across2):
        np.testing.assert_allclose(other, across1, atol=2e-3)
    for other in (corner0, corner2):
        np.testing.assert_allclose(other, corner1, atol=2e-3)
    info = json.loads((trees[2.0] / S.INFO_FILE).read_text())
    assert info["noise_scale"] == 2.0 and info["noise"]["along"] == S.NoiseConfig().along
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="noise_scale"):
            S.generate("300w", tmp_path / "bad", noise_scale=bad, **kw)


def test_noise_scale_one_is_the_default_tree(tmp_path):
    kw = dict(seed=2, scale=1e-6, image_size=48, progress=False)
    a = S.generate("wflw", tmp_path / "a", **kw)
    b = S.generate("wflw", tmp_path / "b", noise_scale=1.0, **kw)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_worker_processes_write_the_same_tree(tmp_path):
    """Faces drawn by two processes give the tree one process writes, file for file."""
    import filecmp

    one = S.generate("aflw", tmp_path / "one", seed=3, scale=0.0015, image_size=64, progress=False)
    two = S.generate("aflw", tmp_path / "two", seed=3, scale=0.0015, image_size=64, progress=False, workers=2)
    files = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(two)) for p in two.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(one, two, files, shallow=False)
    assert not mismatch and not errors and len(match) == len(files)
