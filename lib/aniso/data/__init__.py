"""Data sets: loaders for the real 300W, WFLW and AFLW releases.

``open_dataset(name, root, subset)`` returns a list of :class:`Record` (one
annotated face each, landmarks in 0-based pixels). The loaders read only the
release formats (:mod:`aniso.data.formats`); a synthetic tree written in the
same formats loads the same way and, through its ``synthetic_truth.npz``
(:mod:`aniso.data.truth`), also gets clean landmarks and pose.

Per-data-set details (layouts, split rules, keys, choices made where sources
disagree) are in the docstrings of :mod:`aniso.data.w300`,
:mod:`aniso.data.wflw` and :mod:`aniso.data.aflw`.
"""

from __future__ import annotations

from pathlib import Path

from ..topology import Scheme, get_scheme
from . import aflw, w300, wflw
from .formats import CountMismatchWarning
from .records import Record, landmark_box, read_image
from .registry import DATASET_NAMES, DATASETS, DatasetSpec, dataset_spec
from .truth import TRUTH_FILE, attach_truth, read_truth, record_key, write_truth

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DatasetSpec",
    "dataset_spec",
    "Record",
    "CountMismatchWarning",
    "open_dataset",
    "scheme_for",
    "read_image",
    "landmark_box",
    "TRUTH_FILE",
    "write_truth",
    "read_truth",
    "attach_truth",
    "record_key",
]

_LOADERS = {"300w": w300.load_300w, "wflw": wflw.load_wflw, "aflw": aflw.load_aflw}


def scheme_for(name: str) -> Scheme:
    """The landmark scheme of a data set: 68 points for 300W, 98 for WFLW, 19 for AFLW."""
    return get_scheme(dataset_spec(name).scheme)


def open_dataset(name: str, root: str | Path, subset: str) -> list[Record]:
    """Records of ``subset`` of data set ``name`` (``"300w"``, ``"wflw"``, ``"aflw"``; case-insensitive) under ``root``.

    Each record: absolute ``image_path``, ``landmarks`` (N, 2) float64 0-based
    pixels, ``box`` (4,) ``[x_min, y_min, x_max, y_max]`` pixels,
    ``attributes``, ``key`` (image path relative to ``root``, ``#``, face
    index within that image). Images are not decoded (only checked to exist);
    use ``record.load_image()``.

    Raises ``ValueError`` for an unknown data set or subset (listing the valid
    ones) or malformed annotations, ``FileNotFoundError`` for a missing root,
    annotation file or image. Warns with :class:`CountMismatchWarning` when a
    real (non-synthetic) tree has a subset size other than the release's.
    """
    spec = dataset_spec(name)
    if subset not in spec.subsets:
        raise ValueError(f"unknown {spec.name} subset {subset!r}: expected one of {', '.join(spec.subsets)}")
    return _LOADERS[spec.name](root, subset)
