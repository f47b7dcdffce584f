"""Loader for WFLW (98 points).

Layout under ``root``::

    WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt
    WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt
    WFLW_images/<event folder>/<image>.jpg

A record is a line of a list file (one face; an image can hold several). The
line format is parsed by :func:`aniso.data.formats.parse_wflw_line`.

Subsets: ``train`` (7500 lines of the train list), ``test`` (2500 lines of the
test list) and the six attribute subsets of the test list, the lines whose flag
is 1: ``pose`` 326, ``expression`` 314, ``illumination`` 698, ``makeup`` 206,
``occlusion`` 736, ``blur`` 773. Order: the order of the list file.

Landmarks and box are used as stored (0-based pixels). ``attributes``: the six
flags as ints by name plus ``list_line`` (1-based line number in the list).
``key``: ``WFLW_images/<relative path>#k`` where ``k`` counts the earlier lines
of the same list file that name the same image (so a face keeps its key in
every subset of the test list).
"""

from __future__ import annotations

from pathlib import Path

from .formats import WFLW_FLAGS, check_count, missing_root_error, parse_wflw_line
from .records import Record
from .truth import attach_truth, record_key

__all__ = ["SUBSETS", "EXPECTED_COUNTS", "LIST_DIR", "IMAGE_DIR", "list_path", "load_wflw"]

SUBSETS = ("train", "test") + WFLW_FLAGS
EXPECTED_COUNTS = {
    "train": 7500,
    "test": 2500,
    "pose": 326,
    "expression": 314,
    "illumination": 698,
    "makeup": 206,
    "occlusion": 736,
    "blur": 773,
}
LIST_DIR = "WFLW_annotations/list_98pt_rect_attr_train_test"
IMAGE_DIR = "WFLW_images"
SOURCE = "https://wywu.github.io/projects/LAB/WFLW.html (WFLW_images.tar.gz and WFLW_annotations.tar.gz)"
LAYOUT = (
    f"  <root>/{LIST_DIR}/list_98pt_rect_attr_train.txt and ..._test.txt\n"
    f"  <root>/{IMAGE_DIR}/<event folder>/<image>.jpg"
)


def list_path(root: str | Path, split: str) -> Path:
    """Path of the ``train`` or ``test`` annotation list under ``root``."""
    return Path(root) / LIST_DIR / f"list_98pt_rect_attr_{split}.txt"


def load_wflw(root: str | Path, subset: str) -> list[Record]:
    """Records of a WFLW subset (see the module docstring), landmarks in 0-based pixels.

    Raises ``FileNotFoundError`` for a missing root, list file or image folder
    (naming the layout and the release's page) and for a line whose image is
    missing (naming the list file, the line and the image); ``ValueError`` for
    an unknown subset or a malformed line. Blank lines are not faces and are
    passed over; every other line must parse.
    """
    if subset not in SUBSETS:
        raise ValueError(f"unknown wflw subset {subset!r}: expected one of {', '.join(SUBSETS)}")
    root = Path(root).absolute()
    if not root.is_dir():
        raise missing_root_error("WFLW root", root, LAYOUT, SOURCE)
    lst = list_path(root, "train" if subset == "train" else "test")
    if not lst.is_file():
        raise missing_root_error("WFLW annotation list", lst, LAYOUT, SOURCE)
    images = root / IMAGE_DIR
    if not images.is_dir():
        raise missing_root_error("WFLW image folder", images, LAYOUT, SOURCE)

    flag = subset if subset in WFLW_FLAGS else None
    faces_seen: dict[str, int] = {}
    exists: dict[str, bool] = {}
    records: list[Record] = []
    with open(lst, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            parsed = parse_wflw_line(line, lst, line_no)
            rel = parsed.rel_path.replace("\\", "/")
            # The face index counts every line of the list, kept or not, so
            # that keys agree between the test set and its attribute subsets.
            face = faces_seen.get(rel, 0)
            faces_seen[rel] = face + 1
            if flag is not None and parsed.flags[flag] != 1:
                continue
            image = images / rel
            if rel not in exists:
                exists[rel] = image.is_file()
            if not exists[rel]:
                raise FileNotFoundError(f"{lst}, line {line_no}: annotated image {image} does not exist")
            attributes = dict(parsed.flags)
            attributes["list_line"] = line_no
            records.append(
                Record(
                    image_path=image,
                    landmarks=parsed.landmarks,
                    box=parsed.box,
                    attributes=attributes,
                    key=record_key(f"{IMAGE_DIR}/{rel}", face),
                )
            )
    attach_truth(root, records)
    check_count("wflw", subset, len(records), EXPECTED_COUNTS[subset], root)
    return records
