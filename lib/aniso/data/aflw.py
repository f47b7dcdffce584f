"""Loader for AFLW under the AFLW-Full protocol (19 points, CCL release).

Layout under ``root``::

    AFLWinfo_release.mat          (from the CCL project page)
    flickr/<n>/imageNNNNN.jpg     (the AFLW images)

The .mat is read by :func:`aniso.data.formats.read_aflw_mat`; a record is a
row. ``nameList`` entries in the CCL file look like ``3/image00035.jpg``,
relative to the AFLW ``flickr`` folder. An entry is resolved against, in this
order, ``root/flickr/``, ``root/data/flickr/`` (the AFLW release unpacks as
``aflw/data/flickr``; FaRL reads it there) and ``root/`` itself (for entries
that already start with ``flickr/``); the first existing file wins. None
existing is an error naming the .mat row and every place tried.

Splits. ``ra`` is a 1-based permutation of the rows: train = ``ra[:n] - 1``,
test = ``ra[n:] - 1`` (in ``ra`` order), with ``n = 20000`` for the release
(24386 rows, 4386 test faces). Files may carry a scalar ``n_train`` field
that sets ``n`` (the synthetic generator writes one; the release has none).
Without it ``n = round(M * 20000 / 24386)`` for a file of ``M`` rows: the
release's train share, which gives exactly 20000 on the release itself and
a proportional split on a small file.

Subsets: ``train``; ``full`` = the whole test split (4386); ``frontal`` =
the test faces whose 19 ``mask_new`` values are all 1. Sources disagree on
the frontal size: the all-visible rule gives 1314 on the release (FaRL's
code), while 1165 is also quoted in papers; we apply the rule, so
``EXPECTED_COUNTS["frontal"]`` is 1314.

Coordinates. ``data`` holds the 19 x values then the 19 y values. They are
used as stored, as 0-based pixels, with no 1-based shift: the CCL file gives
no convention and the peer code that defines the AFLW-Full numbers (HRNet,
AdaptiveWingLoss, FaRL, SAN) uses them as-is, so shifting would make our
numbers incomparable with theirs (the shift would in any case be 1 pixel
against faces of ~100-400 pixels). ``box`` = ``bbox`` (left, right, top,
bottom) reordered to ``[x_min, y_min, x_max, y_max]``, also as stored; it is
the box whose ``sqrt(w * h)`` normalises the AFLW-Full NME.

``attributes``: ``visible`` (the ``mask_new`` row as a bool array) and
``mat_row`` (0-based row). ``key``: the resolved image path relative to
``root`` (POSIX) + ``#k``, ``k`` counting earlier rows of the .mat that name
the same image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formats import AFLW_N_POINTS, check_count, missing_root_error, read_aflw_mat
from .records import Record
from .truth import attach_truth, record_key

__all__ = ["SUBSETS", "EXPECTED_COUNTS", "MAT_NAME", "RELEASE_ROWS", "RELEASE_TRAIN", "train_size", "load_aflw"]

SUBSETS = ("train", "full", "frontal")
RELEASE_ROWS = 24386
RELEASE_TRAIN = 20000
EXPECTED_COUNTS = {"train": RELEASE_TRAIN, "full": RELEASE_ROWS - RELEASE_TRAIN, "frontal": 1314}
MAT_NAME = "AFLWinfo_release.mat"
IMAGE_BASES = ("flickr", "data/flickr", "")
SOURCE = (
    "the AFLW site (https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/aflw/, "
    "images under aflw/data/flickr) plus AFLWinfo_release.mat from the CCL project "
    "(http://mmlab.ie.cuhk.edu.hk/projects/compositional.html)"
)
LAYOUT = f"  <root>/{MAT_NAME}\n  <root>/flickr/<n>/imageNNNNN.jpg (or <root>/data/flickr/...)"


def train_size(n_rows: int, n_train_field: int | None) -> int:
    """Size of the training split: the file's ``n_train`` if given, else ``round(M * 20000 / 24386)``.

    Integer arithmetic, halves rounded up, so the release gives exactly 20000.
    """
    if n_train_field is not None:
        return int(n_train_field)
    return (2 * n_rows * RELEASE_TRAIN + RELEASE_ROWS) // (2 * RELEASE_ROWS)


def load_aflw(root: str | Path, subset: str) -> list[Record]:
    """Records of an AFLW-Full subset (see the module docstring), landmarks in pixels as stored.

    Raises ``FileNotFoundError`` for a missing root or .mat (naming the layout
    and where to get them) and for a row whose image is missing (naming the
    .mat, the row and the paths tried); ``ValueError`` for an unknown subset or
    a .mat with a missing or malformed field.
    """
    if subset not in SUBSETS:
        raise ValueError(f"unknown aflw subset {subset!r}: expected one of {', '.join(SUBSETS)}")
    root = Path(root).absolute()
    if not root.is_dir():
        raise missing_root_error("AFLW root", root, LAYOUT, SOURCE)
    mat_path = root / MAT_NAME
    if not mat_path.is_file():
        raise missing_root_error("AFLW annotation file", mat_path, LAYOUT, SOURCE)
    mat = read_aflw_mat(mat_path)
    m = len(mat.names)
    rows = mat.ra - 1
    n_train = train_size(m, mat.n_train)
    if subset == "train":
        chosen = rows[:n_train]
    else:
        chosen = rows[n_train:]
        if subset == "frontal":
            chosen = chosen[mat.mask[chosen].all(axis=1)]

    # k-th face of an image = number of earlier rows (in .mat order) with the same name.
    face_index = np.empty(m, dtype=np.int64)
    seen: dict[str, int] = {}
    for i, name in enumerate(mat.names):
        face_index[i] = seen.get(name, 0)
        seen[name] = face_index[i] + 1

    resolved: dict[str, str] = {}
    records: list[Record] = []
    for r in chosen.tolist():
        name = mat.names[r].replace("\\", "/").lstrip("/")
        rel = resolved.get(name)
        if rel is None:
            tried = [f"{base}/{name}" if base else name for base in IMAGE_BASES]
            rel = next((t for t in tried if (root / t).is_file()), None)
            if rel is None:
                raise FileNotFoundError(
                    f"{mat_path}, row {r + 1} (nameList {mat.names[r]!r}): image not found; tried "
                    + ", ".join(str(root / t) for t in tried)
                )
            resolved[name] = rel
        x, y = mat.data[r, :AFLW_N_POINTS], mat.data[r, AFLW_N_POINTS:]
        left, right, top, bottom = mat.bbox[r]
        records.append(
            Record(
                image_path=root / rel,
                landmarks=np.stack([x, y], axis=1),
                box=np.array([left, top, right, bottom], dtype=np.float64),
                attributes={"visible": mat.mask[r].copy(), "mat_row": int(r)},
                key=record_key(rel, int(face_index[r])),
            )
        )
    attach_truth(root, records)
    check_count("aflw", subset, len(records), EXPECTED_COUNTS[subset], root)
    return records
