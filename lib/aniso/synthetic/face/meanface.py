"""The 68-point 3-D mean face shipped with the package (``aniso/synthetic/face3d_68.csv``).

The file's own header says where the points come from (the OpenFace 3-D face
model's mean shape). Millimetres; x to the image right, y down, z away from
the viewer; row i is 300W landmark i (0-based).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ...topology import FLIP68

__all__ = ["FACE3D_NAME", "load_face3d", "symmetrise"]

FACE3D_NAME = "face3d_68.csv"


def load_face3d(path: str | Path | None = None) -> np.ndarray:
    """The 68 mean-face points as a ``(68, 3)`` float64 array in millimetres.

    ``path``: a csv of the same form (``#`` comments, rows ``x,y,z``); the
    default is the package's own file. Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` naming the file for a malformed row, a
    non-finite value or a number of rows other than 68.
    """
    if path is None:
        source = resources.files("aniso.synthetic").joinpath(FACE3D_NAME)
        name = f"package data aniso/synthetic/{FACE3D_NAME}"
    else:
        source, name = Path(path), str(path)
        if not source.is_file():
            raise FileNotFoundError(f"3-D mean face {source} not found")
    with source.open("r", encoding="utf-8") as fh:
        try:
            points = np.loadtxt(fh, delimiter=",", comments="#", dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{name}: expected rows of three numbers 'x,y,z' ({exc})") from None
    if points.shape != (68, 3):
        raise ValueError(f"{name}: found {points.shape[0]} rows of {points.shape[1]} values, "
                         f"expected 68 rows 'x,y,z' (one per 300W landmark)")
    if not np.isfinite(points).all():
        row = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise ValueError(f"{name}: point row {row + 1} has a non-finite value, expected three finite numbers")
    return points


def symmetrise(points: np.ndarray) -> np.ndarray:
    """Average 68 3-D points with their mirror image (x -> -x, renumbered by FLIP68)."""
    mirrored = points[list(FLIP68)] * np.array([-1.0, 1.0, 1.0])
    return (points + mirrored) / 2.0
