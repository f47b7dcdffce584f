"""Tiny trees in the real release formats (300W, WFLW, AFLW), for loader tests.

Each builder writes a few small images (cv2.imwrite, pure red so colour
order can be checked) and the annotations through :mod:`aniso.data.formats`,
and returns what it wrote so tests can compare: ``{"landmarks": {key: (N, 2)
0-based pixels}, "counts": {subset: faces}, ...}``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from aniso.data.formats import format_wflw_line, write_aflw_mat, write_pts, write_wflw_list

# BGR for OpenCV: pure red.
RED_BGR = (0, 0, 255)
IMG_H, IMG_W = 12, 16

# Faces per folder in the tiny 300W tree; the subset counts follow from these.
W300_FOLDER_COUNTS = {
    "afw": 2,
    "helen/trainset": 2,
    "lfpw/trainset": 1,
    "helen/testset": 2,
    "lfpw/testset": 1,
    "ibug": 2,
    "300W/01_Indoor": 1,
    "300W/02_Outdoor": 2,
}
W300_COUNTS = {"train": 5, "common": 3, "challenging": 2, "full": 5, "private": 3}
SPACE_NAME = "image_092 _01"


def write_image(path: Path, h: int = IMG_H, w: int = IMG_W, bgr=RED_BGR) -> Path:
    """A small solid-colour image (pure red by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:] = bgr
    if not cv2.imwrite(str(path), img):
        raise RuntimeError(f"cv2.imwrite failed for {path}")
    return path


def random_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2)`` points inside an IMG_W x IMG_H image, quarter-pixel values (exact in binary)."""
    pts = rng.uniform(0.0, [IMG_W - 1, IMG_H - 1], size=(n, 2))
    return np.round(pts * 4) / 4


def make_300w_tree(root: Path, seed: int = 0, private: bool = True) -> dict:
    """300W layout with :data:`W300_FOLDER_COUNTS` faces; iBUG holds ``image_092 _01.jpg``.

    Images alternate .jpg and .png; the private folders are left out with
    ``private=False``. Returns ``{"landmarks": {key: (68, 2)}, "counts": W300_COUNTS}``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    landmarks = {}
    k = 0
    for folder, n in W300_FOLDER_COUNTS.items():
        if folder.startswith("300W/") and not private:
            continue
        for i in range(n):
            if folder == "ibug" and i == 0:
                stem = SPACE_NAME
            elif folder.startswith("300W/"):
                stem = f"{folder.split('_')[-1].lower()}_{i + 1:03d}"
            else:
                stem = f"img_{i:02d}"
            ext = ".png" if (k % 2 or folder.startswith("300W/")) else ".jpg"
            k += 1
            write_image(root / folder / f"{stem}{ext}")
            pts = random_points(rng, 68)
            write_pts(root / folder / f"{stem}.pts", pts)
            landmarks[f"{folder}/{stem}{ext}#0"] = pts
    return {"landmarks": landmarks, "counts": dict(W300_COUNTS)}


# WFLW: (relative image path, flags) per line. Image "0--Parade/p_0.jpg" holds
# two faces in the test list, one of them (#1) the only pose face; the path
# with a space checks the token join.
WFLW_TRAIN = [
    ("0--Parade/p_0.jpg", (0, 0, 0, 0, 0, 0)),
    ("0--Parade/p_1.jpg", (1, 0, 0, 0, 1, 0)),
    ("1--Handshaking/h 2.jpg", (0, 0, 0, 0, 0, 0)),
]
WFLW_TEST = [
    ("0--Parade/p_0.jpg", (0, 1, 0, 0, 1, 0)),
    ("0--Parade/p_0.jpg", (1, 0, 0, 0, 1, 1)),
    ("1--Handshaking/h 2.jpg", (0, 0, 1, 1, 0, 0)),
    ("2--Demonstration/d_3.jpg", (0, 1, 0, 0, 0, 0)),
]
WFLW_COUNTS = {
    "train": 3,
    "test": 4,
    "pose": 1,
    "expression": 2,
    "illumination": 1,
    "makeup": 1,
    "occlusion": 2,
    "blur": 1,
}


def make_wflw_tree(root: Path, seed: int = 0) -> dict:
    """WFLW layout with the lines of :data:`WFLW_TRAIN` and :data:`WFLW_TEST`.

    Returns ``{"landmarks": {key: (98, 2)}, "boxes": {key: (4,)}, "counts":
    WFLW_COUNTS, "train_list": path, "test_list": path}``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    landmarks, boxes = {}, {}
    lists = {}
    for split, rows in (("train", WFLW_TRAIN), ("test", WFLW_TEST)):
        lines, seen = [], {}
        for rel, flags in rows:
            img = root / "WFLW_images" / rel
            if not img.exists():
                write_image(img)
            pts = random_points(rng, 98)
            box = np.array([pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1])
            face = seen.get(rel, 0)
            seen[rel] = face + 1
            if split == "test":
                key = f"WFLW_images/{rel}#{face}"
                landmarks[key], boxes[key] = pts, box
            else:
                landmarks[f"train:WFLW_images/{rel}#{face}"] = pts
            lines.append(format_wflw_line(pts, box, flags, rel))
        path = root / "WFLW_annotations/list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt"
        write_wflw_list(path, lines)
        lists[split] = path
    return {
        "landmarks": landmarks,
        "boxes": boxes,
        "counts": dict(WFLW_COUNTS),
        "train_list": lists["train"],
        "test_list": lists["test"],
    }


def make_aflw_tree(root: Path, seed: int = 0, n_train: int | None = 6, image_base: str = "flickr") -> dict:
    """AFLW-Full layout: ``AFLWinfo_release.mat`` with 10 rows and images under ``image_base``.

    Rows 0 and 1 share one image (two faces). ``ra`` is a fixed permutation;
    with ``n_train=6`` the test rows are ``ra[6:] - 1`` = rows 7, 0, 4, 9, of
    which rows 0 and 9 have all 19 points visible (frontal). ``nameList``
    entries are relative to ``image_base`` (``"flickr"``, ``"data/flickr"``,
    or ``""`` for entries that name ``flickr/...`` from the root).
    Returns the arrays written plus the expected row lists per subset.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    m = 10
    names = ["0/image00001.jpg", "0/image00001.jpg"] + [f"{i % 3}/image{i:05d}.jpg" for i in range(2, m)]
    if image_base == "":
        names = [f"flickr/{n}" for n in names]
    for n in sorted(set(names)):
        write_image(root / image_base / n if image_base else root / n)
    x = rng.uniform(1, IMG_W - 2, size=(m, 19))
    y = rng.uniform(1, IMG_H - 2, size=(m, 19))
    data = np.concatenate([x, y], axis=1)
    # left, right, top, bottom
    bbox = np.stack([x.min(1) - 1, x.max(1) + 1, y.min(1) - 1, y.max(1) + 1], axis=1)
    mask = np.ones((m, 19))
    mask[[1, 4, 7], 3] = 0  # rows 1, 4, 7 have a hidden point
    mask[2, :5] = 0
    ra = np.array([3, 6, 9, 2, 4, 7, 8, 1, 5, 10])  # 1-based
    write_aflw_mat(root / "AFLWinfo_release.mat", bbox, data, mask, names, ra, n_train=n_train)
    # Without the field the loader's proportional rule gives round(10 * 20000 / 24386) = round(8.20) = 8.
    nt = 8 if n_train is None else n_train
    test_rows = [int(r) - 1 for r in ra[nt:]]
    return {
        "bbox": bbox,
        "data": data,
        "mask": mask,
        "names": names,
        "ra": ra,
        "rows": {
            "train": [int(r) - 1 for r in ra[:nt]],
            "full": test_rows,
            "frontal": [r for r in test_rows if mask[r].all()],
        },
    }
