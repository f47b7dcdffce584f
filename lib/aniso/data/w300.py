"""Loader for the 300W release (68 points) and the 300W private test set.

Layout under ``root`` (as the iBUG release unpacks)::

    afw/  helen/trainset/  helen/testset/  lfpw/trainset/  lfpw/testset/  ibug/
    300W/01_Indoor/  300W/02_Outdoor/          (the private set, optional)

Each image (``.jpg``/``.jpeg``/``.png``, any case) has a ``.pts`` of the same
stem beside it; a record is a ``.pts`` file. Names may hold spaces (the iBUG
file ``image_092 _01.jpg``).

Subsets (folders, in this order; files sorted by name within a folder):

=============  ===========================================  =====
train          afw + helen/trainset + lfpw/trainset          3148
common         helen/testset + lfpw/testset                  554
challenging    ibug                                          135
full           common + challenging                          689
private        300W/01_Indoor + 300W/02_Outdoor              600
=============  ===========================================  =====

Landmarks are the ``.pts`` values minus 1 (the release is 1-based), in
pixels. ``box`` is the tight box around the landmarks (the release has no
face box beside the ``.pts``). ``attributes``: ``subset_folder`` (e.g.
``"helen/testset"``) and, for the private set, ``setting`` (``"indoor"`` or
``"outdoor"``). ``key``: image path relative to ``root`` (POSIX) + ``#0``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .formats import check_count, missing_root_error, read_pts
from .records import Record, landmark_box
from .truth import attach_truth, record_key

__all__ = ["SUBSETS", "FOLDERS", "EXPECTED_COUNTS", "FOLDER_COUNTS", "N_POINTS", "load_300w"]

N_POINTS = 68
_COMMON = ("helen/testset", "lfpw/testset")
_CHALLENGING = ("ibug",)
FOLDERS: dict[str, tuple[str, ...]] = {
    "train": ("afw", "helen/trainset", "lfpw/trainset"),
    "common": _COMMON,
    "challenging": _CHALLENGING,
    "full": _COMMON + _CHALLENGING,
    "private": ("300W/01_Indoor", "300W/02_Outdoor"),
}
SUBSETS = tuple(FOLDERS)
# Faces per folder in the release; the subset sizes below are their sums.
FOLDER_COUNTS = {
    "afw": 337,
    "helen/trainset": 2000,
    "lfpw/trainset": 811,
    "helen/testset": 330,
    "lfpw/testset": 224,
    "ibug": 135,
    "300W/01_Indoor": 300,
    "300W/02_Outdoor": 300,
}
EXPECTED_COUNTS = {s: sum(FOLDER_COUNTS[f] for f in folders) for s, folders in FOLDERS.items()}
_SETTING = {"300W/01_Indoor": "indoor", "300W/02_Outdoor": "outdoor"}
_IMAGE_EXTS = (".jpg", ".jpeg", ".png")
SOURCE = "https://ibug.doc.ic.ac.uk/resources/300-W/ (300W and the private 300W test set)"
LAYOUT = (
    "  <root>/afw/, <root>/helen/trainset/, <root>/helen/testset/, <root>/lfpw/trainset/,\n"
    "  <root>/lfpw/testset/, <root>/ibug/ (each image .jpg/.png with a same-stem .pts beside it);\n"
    "  private set: <root>/300W/01_Indoor/ and <root>/300W/02_Outdoor/"
)


def _folder_records(root: Path, folder: str) -> list[Record]:
    """Records of one folder, sorted by file name (one directory listing, no image decoding)."""
    d = root / folder
    if not d.is_dir():
        raise missing_root_error(f"300W folder {folder!r}:", d, LAYOUT, SOURCE)
    pts_names: list[str] = []
    images: dict[str, list[str]] = {}
    with os.scandir(d) as it:
        for entry in it:
            stem, ext = os.path.splitext(entry.name)
            ext = ext.lower()
            if ext == ".pts":
                pts_names.append(entry.name)
            elif ext in _IMAGE_EXTS:
                images.setdefault(stem, []).append(entry.name)
    out = []
    setting = _SETTING.get(folder)
    for name in sorted(pts_names):
        stem = os.path.splitext(name)[0]
        found = images.get(stem, [])
        if not found:
            raise FileNotFoundError(
                f"annotation {d / name} has no image: expected {d / stem}.jpg or .png beside it"
            )
        if len(found) > 1:
            raise ValueError(f"annotation {d / name} matches several images {sorted(found)}; keep one")
        image = d / found[0]
        landmarks = read_pts(d / name, N_POINTS)
        attributes: dict = {"subset_folder": folder}
        if setting is not None:
            attributes["setting"] = setting
        out.append(
            Record(
                image_path=image,
                landmarks=landmarks,
                box=landmark_box(landmarks),
                attributes=attributes,
                key=record_key(f"{folder}/{found[0]}", 0),
            )
        )
    return out


def load_300w(root: str | Path, subset: str) -> list[Record]:
    """Records of a 300W subset (see the module docstring), landmarks in 0-based pixels.

    Raises ``FileNotFoundError`` for a missing root or folder (naming the
    layout and where to get the release) and for a ``.pts`` without its image;
    ``ValueError`` for an unknown subset or a malformed ``.pts``. Warns
    (:class:`~aniso.data.formats.CountMismatchWarning`) when the count differs
    from the release and the root is not a synthetic tree.
    """
    if subset not in FOLDERS:
        raise ValueError(f"unknown 300w subset {subset!r}: expected one of {', '.join(SUBSETS)}")
    root = Path(root).absolute()
    if not root.is_dir():
        raise missing_root_error("300W root", root, LAYOUT, SOURCE)
    records = [rec for folder in FOLDERS[subset] for rec in _folder_records(root, folder)]
    attach_truth(root, records)
    check_count("300w", subset, len(records), EXPECTED_COUNTS[subset], root)
    return records
