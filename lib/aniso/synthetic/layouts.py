"""The release layouts: file names, image encoding and annotation files of each synthetic tree.

* 300W: ``afw/``, ``helen/trainset/``, ``helen/testset/``, ``lfpw/trainset/``,
  ``lfpw/testset/``, ``ibug/`` (with one ``image_092 _01.jpg``, the release's
  file name with a space) and the private set ``300W/01_Indoor/indoor_NNN.png``,
  ``300W/02_Outdoor/outdoor_NNN.png``; a ``.pts`` (1-based) beside each image.
  Image types follow the release: ``.jpg`` except ``lfpw`` and the private set
  (``.png``).
* WFLW: ``WFLW_images/<event folder>/<name>.jpg`` and
  ``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt``;
  also ``WFLW_annotations/list_98pt_test/list_98pt_test.txt`` and
  ``list_98pt_test_{largepose,expression,illumination,makeup,occlusion,blur}.txt``
  (same 207-token lines, the test faces with that flag, as peer code reads them).
* AFLW: ``flickr/<0|2|3>/imageNNNNN.jpg`` and ``AFLWinfo_release.mat`` (bbox,
  data, mask_new, nameList relative to ``flickr/``, ra) with the extra scalar
  ``n_train`` (the small trees have fewer than 20000 training faces).

Each writer returns ``(keys, clean, pose, extra)``: record keys, noise-free
landmarks and poses in the order of the truth file, and extra facts for
``synthetic_info.json``.
"""

from __future__ import annotations

import math
import multiprocessing
import zlib
from pathlib import Path

import cv2
import numpy as np

from ..data.formats import WFLW_FLAGS, format_wflw_line, write_aflw_mat, write_pts, write_wflw_list
from ..data.truth import record_key
from .difficulty import DIFFICULTIES, PLANS, quota_wants
from .face import default_model
from .noise import NoiseConfig
from .sample import sample_face

__all__ = ["WFLW_LIST_NAMES", "IBUG_SPACE_NAME", "Progress", "WRITERS"]

WFLW_LIST_NAMES = {"pose": "largepose", "expression": "expression", "illumination": "illumination",
                   "makeup": "makeup", "occlusion": "occlusion", "blur": "blur"}


_WFLW_EVENTS = (
    (0, "Parade", "marchingband"), (1, "Handshaking", "handshaking"), (2, "Demonstration", "protesters"),
    (4, "Dancing", "dancing"), (7, "Cheering", "cheering"), (9, "Press_Conference", "pressconference"),
    (11, "Meeting", "meeting"), (12, "Group", "group"), (13, "Interview", "interview"), (19, "Couple", "couple"),
    (20, "Family_Group", "family"), (21, "Festival", "festival"), (28, "Sports_Fan", "sportsfan"),
    (29, "Students_Schoolkids", "students"), (37, "Soccer", "soccer"), (51, "Dresses", "wearingdress"),
)


IBUG_SPACE_NAME = "image_092 _01"


def _w300_name(folder: str, i: int) -> tuple[str, str]:
    """(file stem, extension) of face ``i`` of a 300W folder, shaped like the release's names."""
    if folder == "afw":
        return f"{1000000000 + 104729 * i}_1", ".jpg"
    if folder == "helen/trainset":
        return f"{100000000 + 86969 * i}_1", ".jpg"
    if folder == "helen/testset":
        return f"{2000000 + 7907 * i}_1", ".jpg"
    if folder in ("lfpw/trainset", "lfpw/testset"):
        return f"image_{i + 1:04d}", ".png"
    if folder == "ibug":
        # The release's one file name with a space; 92 is never 3i + 3, so no clash.
        return (IBUG_SPACE_NAME, ".jpg") if i == 1 else (f"image_{3 * i + 3:03d}_1", ".jpg")
    if folder == "300W/01_Indoor":
        return f"indoor_{i + 1:03d}", ".png"
    if folder == "300W/02_Outdoor":
        return f"outdoor_{i + 1:03d}", ".png"
    raise ValueError(f"unknown 300W folder {folder!r}")


def _encode(image: np.ndarray, ext: str) -> bytes:
    """PNG (compression 3) or JPEG (quality 92) bytes of a BGR image."""
    if ext == ".png":
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {ext} image")
    return buf.tobytes()


def _write_file(path: Path, payload: bytes) -> None:
    # Inside the private temporary tree a plain write is enough: the tree as a whole is renamed into place.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(payload)


def _folder_code(dataset: str, folder: str) -> int:
    """A stable number per folder for the seed sequence (crc32 of ``dataset/folder``)."""
    return zlib.crc32(f"{dataset}/{folder}".encode("utf-8"))


class Progress:
    """A progress bar (anything with ``update(n)``) and tallies over the faces drawn.

    ``pose_redraws``: per folder or split, the new poses drawn for the
    eye-distance guarantee (:mod:`aniso.synthetic.sample`).
    """

    def __init__(self, bar):
        self.bar = bar
        self.pose_redraws: dict[str, int] = {}

    def add(self, folder: str, sample) -> None:
        self.pose_redraws[folder] = self.pose_redraws.get(folder, 0) + sample.redraws
        self.bar.update(1)


def _sample(task):
    """One face of the plan (a module-level function, so that worker processes can run it)."""
    scheme, difficulty, seeds, image_size, noise, wants = task
    return sample_face(scheme, DIFFICULTIES[difficulty], seeds, image_size, noise, wants=wants, model=default_model())


def _faces(dataset: str, counts: dict, seed: int, image_size: int, noise: NoiseConfig, progress: Progress,
           workers: int = 1):
    """Yield (folder, index, FaceSample) for every face of the plan, in order.

    Every face depends only on its own seed sequence, so ``workers`` processes
    draw them in parallel and the tree is byte for byte the one a single process writes.
    """
    tasks, where = [], []
    for f in PLANS[dataset]:
        code = _folder_code(dataset, f.key)
        n = counts[f.key]
        quotas = quota_wants(DIFFICULTIES[f.difficulty], n, [int(seed), code]) if dataset == "wflw" else [None] * n
        tasks += [(dataset, f.difficulty, [int(seed), code, i], image_size, noise, quotas[i]) for i in range(n)]
        where += [(f.key, i) for i in range(n)]
    if workers > 1:

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            yield from _tally(where, pool.imap(_sample, tasks, chunksize=8), progress)
    else:
        yield from _tally(where, map(_sample, tasks), progress)


def _tally(where, samples, progress: Progress):
    for (folder, i), s in zip(where, samples):
        yield folder, i, s
        progress.add(folder, s)


def _write_300w(root: Path, counts, seed, image_size, noise, progress, workers=1):
    keys, clean, pose = [], [], []
    for folder, i, s in _faces("300w", counts, seed, image_size, noise, progress, workers):
        stem, ext = _w300_name(folder, i)
        rel = f"{folder}/{stem}{ext}"
        _write_file(root / rel, _encode(s.image, ext))
        write_pts(root / folder / f"{stem}.pts", s.noisy)
        keys.append(record_key(rel, 0))
        clean.append(s.clean)
        pose.append(s.pose)
    return keys, clean, pose, {}


def _write_wflw(root: Path, counts, seed, image_size, noise, progress, workers=1):
    keys, clean, pose = [], [], []
    lines: dict[str, list[str]] = {"train": [], "test": []}
    flagged: dict[str, list[str]] = {k: [] for k in WFLW_FLAGS}
    flag_counts = {split: dict.fromkeys(WFLW_FLAGS, 0) for split in ("train", "test")}
    for split, i, s in _faces("wflw", counts, seed, image_size, noise, progress, workers):
        g = np.random.default_rng([int(seed), _folder_code("wflw", split), i, 1])
        eid, event, act = _WFLW_EVENTS[int(g.integers(0, len(_WFLW_EVENTS)))]
        number = i if split == "train" else 50000 + i
        rel = f"{eid}--{event}/{eid}_{event}_{act}_{eid}_{number}.jpg"
        _write_file(root / "WFLW_images" / rel, _encode(s.image, ".jpg"))
        # The release's rect: integer box around the face, a little looser than the landmarks.
        lo, hi = s.noisy.min(axis=0), s.noisy.max(axis=0)
        pad = g.uniform(0.0, 0.06, 4) * (hi - lo).max()
        box = np.array([math.floor(lo[0] - pad[0]), math.floor(lo[1] - pad[1]),
                        math.ceil(hi[0] + pad[2]), math.ceil(hi[1] + pad[3])], dtype=float)
        box = np.clip(box, 0, image_size - 1)
        line = format_wflw_line(s.noisy, box, s.flags, rel)
        lines[split].append(line)
        for k in WFLW_FLAGS:
            flag_counts[split][k] += s.flags[k]
            if split == "test" and s.flags[k]:
                flagged[k].append(line)
        keys.append(record_key(f"WFLW_images/{rel}", 0))
        clean.append(s.clean)
        pose.append(s.pose)
    ann = root / "WFLW_annotations"
    for split in ("train", "test"):
        write_wflw_list(ann / "list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt", lines[split])
    write_wflw_list(ann / "list_98pt_test" / "list_98pt_test.txt", lines["test"])
    for k in WFLW_FLAGS:
        write_wflw_list(ann / "list_98pt_test" / f"list_98pt_test_{WFLW_LIST_NAMES[k]}.txt", flagged[k])
    return keys, clean, pose, {"flag_counts": flag_counts}


def _write_aflw(root: Path, counts, seed, image_size, noise, progress, workers=1):
    keys, clean, pose = [], [], []
    bbox, data, mask, names = [], [], [], []
    row = 0
    for split, i, s in _faces("aflw", counts, seed, image_size, noise, progress, workers):
        g = np.random.default_rng([int(seed), _folder_code("aflw", split), i, 1])
        sub = ("0", "2", "3")[int(g.choice(3, p=[0.2, 0.35, 0.45]))]
        name = f"{sub}/image{10001 + row:05d}.jpg"
        _write_file(root / "flickr" / name, _encode(s.image, ".jpg"))
        # Face box: a square around the landmarks (AFLW's boxes are square-ish face boxes).
        lo, hi = s.noisy.min(axis=0), s.noisy.max(axis=0)
        c = (lo + hi) / 2.0 + g.normal(0.0, 0.02, 2) * (hi - lo).max()
        half = (hi - lo).max() * g.uniform(1.0, 1.15) / 2.0
        bbox.append([c[0] - half, c[0] + half, c[1] - half, c[1] + half])
        data.append(np.r_[s.noisy[:, 0], s.noisy[:, 1]])
        mask.append(s.visible.astype(float))
        names.append(name)
        keys.append(record_key(f"flickr/{name}", 0))
        clean.append(s.clean)
        pose.append(s.pose)
        row += 1
    n_train, n_test = counts["train"], counts["test"]
    m = n_train + n_test
    # Faces were generated train first. In the file they sit in a seeded random
    # row order (file row of face g = pos[g]), and ra lists the training rows,
    # shuffled, then the test rows, as in the release.
    pos = np.random.default_rng([int(seed), 9]).permutation(m)
    ra = np.r_[pos[np.random.default_rng([int(seed), 7]).permutation(n_train)],
               pos[n_train + np.random.default_rng([int(seed), 8]).permutation(n_test)]] + 1
    inv = np.argsort(pos)
    mat = root / "AFLWinfo_release.mat"
    write_aflw_mat(mat, np.asarray(bbox)[inv], np.asarray(data)[inv], np.asarray(mask)[inv],
                   [names[j] for j in inv], ra, n_train=n_train)
    frontal = int(np.asarray(mask)[n_train:].all(axis=1).sum())
    return [keys[j] for j in inv], [clean[j] for j in inv], [pose[j] for j in inv], {"frontal_test_faces": frontal}


WRITERS = {"300w": _write_300w, "wflw": _write_wflw, "aflw": _write_aflw}

