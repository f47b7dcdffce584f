"""Loaders for the real 300W, WFLW and AFLW formats, on tiny trees built in tmp_path."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixtures_real as fx  # noqa: E402

import aniso.data as D  # noqa: E402
from aniso.data import formats  # noqa: E402
from aniso.data.formats import CountMismatchWarning  # noqa: E402
from aniso.data.truth import write_truth  # noqa: E402

# Tiny trees never have the release sizes; the warning itself is tested below.
pytestmark = pytest.mark.filterwarnings("ignore::aniso.data.formats.CountMismatchWarning")


@pytest.fixture
def w300(tmp_path):
    root = tmp_path / "300w"
    return root, fx.make_300w_tree(root)


@pytest.fixture
def wflw(tmp_path):
    root = tmp_path / "wflw"
    return root, fx.make_wflw_tree(root)


@pytest.fixture
def aflw(tmp_path):
    root = tmp_path / "aflw"
    return root, fx.make_aflw_tree(root)


# --------------------------------------------------------------------------- API


def test_api_constants():
    assert {k: v.subsets for k, v in D.DATASETS.items()} == {
        "300w": ("train", "common", "challenging", "full", "private"),
        "wflw": ("train", "test", "pose", "expression", "illumination", "makeup", "occlusion", "blur"),
        "aflw": ("train", "full", "frontal"),
    }
    counts = {k: v.expected_counts for k, v in D.DATASETS.items()}
    assert counts["300w"] == {"train": 3148, "common": 554, "challenging": 135, "full": 689, "private": 600}
    assert counts["wflw"] == {
        "train": 7500, "test": 2500, "pose": 326, "expression": 314,
        "illumination": 698, "makeup": 206, "occlusion": 736, "blur": 773,
    }
    assert counts["aflw"] == {"train": 20000, "full": 4386, "frontal": 1314}
    for spec in D.DATASETS.values():  # what every run evaluates is a subset the loader knows
        assert set(spec.eval_subsets) <= set(spec.subsets) and spec.primary[0] in spec.eval_subsets
        assert spec.primary[1] in spec.norms and spec.train_subset in spec.subsets
    assert [D.scheme_for(n).n_points for n in ("300w", "wflw", "aflw")] == [68, 98, 19]
    assert D.Record.__name__ == "Record"


def test_unknown_dataset_and_subset(tmp_path):
    with pytest.raises(ValueError, match="300w, wflw, aflw"):
        D.open_dataset("cofw", tmp_path, "test")
    with pytest.raises(ValueError, match="train, common, challenging, full, private"):
        D.open_dataset("300w", tmp_path, "test")
    with pytest.raises(ValueError, match="train, full, frontal"):
        D.open_dataset("aflw", tmp_path, "common")
    with pytest.raises(ValueError, match="makeup"):
        D.open_dataset("wflw", tmp_path, "make-up")
    with pytest.raises(ValueError, match="300w, wflw, aflw"):
        D.scheme_for("cofw")


@pytest.mark.parametrize(
    "name, url",
    [("300w", "ibug.doc.ic.ac.uk/resources/300-W"), ("wflw", "wywu.github.io/projects/LAB/WFLW.html"),
     ("aflw", "compositional")],
)
def test_missing_root(tmp_path, name, url):
    missing = tmp_path / "not-here"
    with pytest.raises(FileNotFoundError) as err:
        D.open_dataset(name, missing, D.DATASETS[name].subsets[0])
    msg = str(err.value)
    assert str(missing) in msg and url in msg and "Expected layout" in msg


# --------------------------------------------------------------------------- 300W


def test_300w_counts_keys_and_shift(w300):
    root, built = w300
    for subset, n in built["counts"].items():
        recs = D.open_dataset("300w", root, subset)
        assert len(recs) == n, subset
        for r in recs:
            np.testing.assert_allclose(r.landmarks, built["landmarks"][r.key], atol=1e-12)
            assert r.landmarks.shape == (68, 2) and r.landmarks.dtype == np.float64
            assert r.image_path.is_absolute() and r.image_path.is_file()
            assert r.key.endswith("#0") and (root / r.key[:-2]) == r.image_path
            np.testing.assert_array_equal(r.box, np.r_[r.landmarks.min(0), r.landmarks.max(0)])
    full = [r.key for r in D.open_dataset("300w", root, "full")]
    # Folders in subset order (common then challenging), names sorted inside.
    assert full == [
        "helen/testset/img_00.png#0", "helen/testset/img_01.jpg#0", "lfpw/testset/img_00.png#0",
        "ibug/image_092 _01.jpg#0", "ibug/img_01.png#0",
    ]
    train = D.open_dataset("300w", root, "train")
    folders = [r.attributes["subset_folder"] for r in train]
    assert folders == ["afw", "afw", "helen/trainset", "helen/trainset", "lfpw/trainset"]
    private = D.open_dataset("300w", root, "private")
    assert [r.attributes["setting"] for r in private] == ["indoor", "outdoor", "outdoor"]
    assert "setting" not in train[0].attributes


def test_300w_pts_one_based_by_hand(tmp_path):
    root = tmp_path / "r"
    fx.make_300w_tree(root, private=False)
    pts_text = "version: 1\r\nn_points:  68\r\n{\r\n" + "".join(f"{i + 1} {2 * i + 1.5}\r\n" for i in range(68)) + "}"
    (root / "ibug/img_01.pts").write_text(pts_text)  # Windows line ends, no final newline
    rec = next(r for r in D.open_dataset("300w", root, "challenging") if r.key == "ibug/img_01.png#0")
    assert rec.landmarks[0].tolist() == [0.0, 0.5]
    assert rec.landmarks[67].tolist() == [67.0, 134.5]
    np.testing.assert_array_equal(rec.box, [0.0, 0.5, 67.0, 134.5])


def test_write_pts_text_and_atomic(tmp_path):
    p = formats.write_pts(tmp_path / "a.pts", [[0, 0.5], [9.25, 3]])
    assert p.read_text() == "version: 1\nn_points:  2\n{\n1 1.5\n10.25 4\n}\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.pts"]
    np.testing.assert_array_equal(formats.read_pts(p, 2), [[0, 0.5], [9.25, 3]])
    with pytest.raises(ValueError, match="non-finite"):
        formats.write_pts(tmp_path / "b.pts", [[np.nan, 0]])


def _pts(tmp_path, body: str) -> Path:
    p = tmp_path / "bad.pts"
    p.write_text(body)
    return p


def _points(n):
    return "".join(f"{i} {i}\n" for i in range(1, n + 1))


@pytest.mark.parametrize(
    "body, line, what",
    [
        ("version: 1\nn_points: 67\n{\n" + _points(67) + "}\n", 2, "n_points 67, expected 68"),
        ("version: 1\nn_points: 68\n{\n" + _points(67) + "}\n", 71, "after 67 point lines, expected 68"),
        ("version: 1\nn_points: 68\n{\n" + _points(69) + "}\n", 72, "more than 68 point lines"),
        ("version: 1\nn_points: 68\n{\n" + _points(5) + "3 abc\n" + _points(62) + "}\n", 9, "non-numeric"),
        ("version: 1\nn_points: 68\n" + _points(68) + "}\n", 3, "header line"),
        ("version: 1\nn_points: 68\n{\n" + _points(68), 71, "without the closing '}'"),
        ("version: 1\n{\n" + _points(68) + "}\n", 2, "before any 'n_points:'"),
        ("version: 1\nn_points: 68\n{\n1 2 3\n", 4, "two numbers"),
    ],
)
def test_read_pts_errors_name_file_and_line(tmp_path, body, line, what):
    p = _pts(tmp_path, body)
    with pytest.raises(ValueError) as err:
        formats.read_pts(p, 68)
    msg = str(err.value)
    assert str(p) in msg and f"line {line}:" in msg and what in msg


def test_300w_bad_pts_through_loader(w300):
    root, _ = w300
    bad = root / "ibug" / f"{fx.SPACE_NAME}.pts"
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join(lines[:-2] + ["}"]) + "\n")  # one point line short
    with pytest.raises(ValueError) as err:
        D.open_dataset("300w", root, "challenging")
    msg = str(err.value)
    assert str(bad) in msg and "line 71:" in msg and "67 point lines, expected 68" in msg


def test_300w_missing_image_names_both(w300):
    root, _ = w300
    (root / "lfpw/testset/img_00.png").unlink()
    with pytest.raises(FileNotFoundError) as err:
        D.open_dataset("300w", root, "common")
    msg = str(err.value)
    assert str(root / "lfpw/testset/img_00.pts") in msg and str(root / "lfpw/testset/img_00") in msg


def test_300w_missing_private_folder(tmp_path):
    root = tmp_path / "r"
    fx.make_300w_tree(root, private=False)
    assert len(D.open_dataset("300w", root, "train")) == 5
    with pytest.raises(FileNotFoundError, match="01_Indoor"):
        D.open_dataset("300w", root, "private")


# --------------------------------------------------------------------------- WFLW


def test_wflw_counts_and_attribute_filter(wflw):
    root, built = wflw
    for subset, n in built["counts"].items():
        assert len(D.open_dataset("wflw", root, subset)) == n, subset
    test = D.open_dataset("wflw", root, "test")
    assert [r.key for r in test] == [
        "WFLW_images/0--Parade/p_0.jpg#0", "WFLW_images/0--Parade/p_0.jpg#1",
        "WFLW_images/1--Handshaking/h 2.jpg#0", "WFLW_images/2--Demonstration/d_3.jpg#0",
    ]
    for r in test:
        np.testing.assert_array_equal(r.landmarks, built["landmarks"][r.key])
        np.testing.assert_array_equal(r.box, built["boxes"][r.key])
        assert r.image_path == root / "WFLW_images" / r.key.split("#")[0][len("WFLW_images/"):]
    for i, name in enumerate(formats.WFLW_FLAGS):
        want = [r.key for r, (_, flags) in zip(test, fx.WFLW_TEST) if flags[i] == 1]
        got = D.open_dataset("wflw", root, name)
        assert [r.key for r in got] == want, name
        assert all(r.attributes[name] == 1 for r in got)
    # Face #1 of p_0.jpg is the only pose face: its key keeps the index of the full list.
    assert [r.key for r in D.open_dataset("wflw", root, "pose")] == ["WFLW_images/0--Parade/p_0.jpg#1"]
    assert test[1].attributes == {
        "pose": 1, "expression": 0, "illumination": 0, "makeup": 0, "occlusion": 1, "blur": 1, "list_line": 2,
    }


def test_wflw_line_roundtrip_with_space():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(98, 2)) * 100
    line = formats.format_wflw_line(pts, [1, 2.5, 3, 4], {"pose": 1, "expression": 0, "illumination": 0,
                                                        "makeup": 1, "occlusion": 0, "blur": 1}, "9--x/a b.jpg")
    assert len(line.split()) == 208
    parsed = formats.parse_wflw_line(line + "\n", "l.txt", 1)
    np.testing.assert_array_equal(parsed.landmarks, pts)
    np.testing.assert_array_equal(parsed.box, [1, 2.5, 3, 4])
    assert parsed.flags == {"pose": 1, "expression": 0, "illumination": 0, "makeup": 1, "occlusion": 0, "blur": 1}
    assert parsed.rel_path == "9--x/a b.jpg"
    with pytest.raises(ValueError, match="would not read back"):
        formats.format_wflw_line(pts, [1, 2, 3, 4], [0] * 6, "a  b.jpg")


def test_wflw_short_line_names_file_line_and_count(wflw):
    root, built = wflw
    lst = built["test_list"]
    lines = lst.read_text().splitlines()
    tokens = lines[2].split()
    lines[2] = " ".join(tokens[:150] + tokens[152:])  # two coordinates lost: 206 tokens (path has a space)
    lst.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        D.open_dataset("wflw", root, "test")
    msg = str(err.value)
    assert str(lst) in msg and "line 3:" in msg and "found 206 tokens, expected 207" in msg


def test_wflw_non_numeric_and_bad_flag(tmp_path):
    pts = np.zeros((98, 2))
    good = formats.format_wflw_line(pts, [0, 0, 1, 1], [0] * 6, "a/b.jpg").split()
    bad = list(good)
    bad[10] = "x1"
    with pytest.raises(ValueError, match=r"f\.txt, line 7: token 11 is 'x1', expected a number"):
        formats.parse_wflw_line(" ".join(bad), "f.txt", 7)
    bad = list(good)
    bad[201] = "2"
    with pytest.raises(ValueError, match=r"line 7: token 202 \(flag 'expression'\) is '2', expected 0 or 1"):
        formats.parse_wflw_line(" ".join(bad), "f.txt", 7)
    # One extra number: 208 tokens whose 207th is numeric is not a path with a space.
    extra = good[:100] + ["5"] + good[100:]
    with pytest.raises(ValueError, match="found 208 tokens, expected 207"):
        formats.parse_wflw_line(" ".join(extra), "f.txt", 7)


def test_wflw_missing_image_names_both(wflw):
    root, built = wflw
    (root / "WFLW_images/2--Demonstration/d_3.jpg").unlink()
    assert len(D.open_dataset("wflw", root, "pose")) == 1  # d_3 is not a pose face
    with pytest.raises(FileNotFoundError) as err:
        D.open_dataset("wflw", root, "expression")
    msg = str(err.value)
    image = str(root / "WFLW_images/2--Demonstration/d_3.jpg")
    assert str(built["test_list"]) in msg and "line 4" in msg and image in msg


def test_wflw_missing_list(wflw):
    root, built = wflw
    built["train_list"].unlink()
    assert len(D.open_dataset("wflw", root, "test")) == 4
    with pytest.raises(FileNotFoundError, match="list_98pt_rect_attr_train.txt"):
        D.open_dataset("wflw", root, "train")


# --------------------------------------------------------------------------- AFLW


def test_aflw_subsets_frontal_rule_and_box(aflw):
    root, built = aflw
    assert built["rows"] == {"train": [2, 5, 8, 1, 3, 6], "full": [7, 0, 4, 9], "frontal": [0, 9]}
    for subset, rows in built["rows"].items():
        recs = D.open_dataset("aflw", root, subset)
        assert [r.attributes["mat_row"] for r in recs] == rows, subset
        for r, row in zip(recs, rows):
            x, y = built["data"][row, :19], built["data"][row, 19:]
            np.testing.assert_array_equal(r.landmarks, np.stack([x, y], 1))
            left, right, top, bottom = built["bbox"][row]
            np.testing.assert_array_equal(r.box, [left, top, right, bottom])
            np.testing.assert_array_equal(r.attributes["visible"], built["mask"][row] == 1)
            assert r.attributes["visible"].dtype == bool
            assert r.image_path == root / "flickr" / built["names"][row]
    frontal = D.open_dataset("aflw", root, "frontal")
    assert all(r.attributes["visible"].all() for r in frontal)
    # Rows 0 and 1 share an image: faces #0 and #1 of it, by .mat order.
    keys = {r.attributes["mat_row"]: r.key for s in ("train", "full") for r in D.open_dataset("aflw", root, s)}
    assert keys[0] == "flickr/0/image00001.jpg#0" and keys[1] == "flickr/0/image00001.jpg#1"
    assert keys[9] == "flickr/0/image00009.jpg#0"


def test_aflw_proportional_split_without_field(tmp_path):
    root = tmp_path / "a"
    built = fx.make_aflw_tree(root, n_train=None)
    assert len(D.open_dataset("aflw", root, "train")) == 8  # round(10 * 20000 / 24386) by hand
    assert [r.attributes["mat_row"] for r in D.open_dataset("aflw", root, "full")] == [4, 9]
    assert [r.attributes["mat_row"] for r in D.open_dataset("aflw", root, "frontal")] == [9]
    assert built["rows"]["frontal"] == [9]
    from aniso.data.aflw import train_size

    assert train_size(24386, None) == 20000 and train_size(24386, 123) == 123


@pytest.mark.parametrize("base", ["data/flickr", ""])
def test_aflw_image_bases(tmp_path, base):
    root = tmp_path / "a"
    fx.make_aflw_tree(root, image_base=base)
    rec = D.open_dataset("aflw", root, "full")[1]
    assert rec.image_path == root / (base or ".") / ("flickr/0/image00001.jpg" if not base else "0/image00001.jpg")
    assert rec.image_path.is_file()
    assert rec.key == (f"{base}/0/image00001.jpg#0" if base else "flickr/0/image00001.jpg#0")


def test_aflw_missing_image_names_both(aflw):
    root, _ = aflw
    (root / "flickr/1/image00004.jpg").unlink()
    with pytest.raises(FileNotFoundError) as err:
        D.open_dataset("aflw", root, "full")
    msg = str(err.value)
    assert str(root / "AFLWinfo_release.mat") in msg and "row 5" in msg and str(root / "flickr/1/image00004.jpg") in msg


def test_aflw_mat_missing_field_and_bad_ra(tmp_path):
    import scipy.io

    root = tmp_path / "a"
    built = fx.make_aflw_tree(root)
    mat = root / "AFLWinfo_release.mat"
    fields = scipy.io.loadmat(str(mat))
    kept = {k: v for k, v in fields.items() if not k.startswith("__") and k != "mask_new"}
    scipy.io.savemat(str(mat), kept)
    with pytest.raises(ValueError) as err:
        D.open_dataset("aflw", root, "train")
    assert str(mat) in str(err.value) and "'mask_new' is missing" in str(err.value)
    ra = built["ra"].copy()
    ra[0] = ra[1]
    formats.write_aflw_mat(mat, built["bbox"], built["data"], built["mask"], built["names"], np.arange(1, 11))
    kept = {k: v for k, v in scipy.io.loadmat(str(mat)).items() if not k.startswith("__")}
    kept["ra"] = ra.reshape(1, -1).astype(float)
    scipy.io.savemat(str(mat), kept)
    with pytest.raises(ValueError, match="'ra' must be a 1-based permutation"):
        D.open_dataset("aflw", root, "full")


def test_aflw_missing_mat(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="AFLWinfo_release.mat"):
        D.open_dataset("aflw", tmp_path / "a", "full")


# --------------------------------------------------------------------------- shared behaviour


def test_attach_truth_and_no_warning(w300, recwarn):
    root, built = w300
    keys = ["ibug/image_092 _01.jpg#0", "ibug/img_01.png#0"]
    clean = np.stack([built["landmarks"][k] + 0.5 for k in keys])
    pose = np.array([[10.0, -5.0, 2.0], [-30.0, 0.0, 1.0]])
    write_truth(root, keys, clean, pose)
    warnings.simplefilter("always")
    recs = D.open_dataset("300w", root, "challenging")
    assert not [w for w in recwarn if issubclass(w.category, CountMismatchWarning)]
    for rec, c, p in zip(recs, clean, pose):
        np.testing.assert_array_equal(rec.clean_landmarks, c)
        assert (rec.attributes["yaw"], rec.attributes["pitch"], rec.attributes["roll"]) == tuple(p)
    # Records whose key is not in the truth file stay as they are.
    assert all(r.clean_landmarks is None for r in D.open_dataset("300w", root, "common"))


@pytest.mark.filterwarnings("default::aniso.data.formats.CountMismatchWarning")
def test_count_mismatch_warning(wflw, monkeypatch):
    root, _ = wflw
    with pytest.warns(CountMismatchWarning, match=r"wflw subset 'blur'.*found 1 faces, the release has 773"):
        D.open_dataset("wflw", root, "blur")
    monkeypatch.setitem(D.DATASETS["wflw"].expected_counts, "blur", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CountMismatchWarning)
        assert len(D.open_dataset("wflw", root, "blur")) == 1


def test_load_image_rgb(w300, aflw):
    root, _ = w300
    recs = D.open_dataset("300w", root, "train")
    png = next(r for r in recs if r.image_path.suffix == ".png")
    img = png.load_image()
    assert img.dtype == np.uint8 and img.shape == (fx.IMG_H, fx.IMG_W, 3)
    assert (img[..., 0] == 255).all() and (img[..., 1:] == 0).all()
    jpg = D.open_dataset("aflw", aflw[0], "frontal")[0].load_image()  # JPEG: nearly pure red
    assert jpg[..., 0].min() >= 250 and jpg[..., 1:].max() <= 5
