"""Side file of a synthetic data set: noise-free landmarks and pose per face.

Real releases have no such file; the synthetic generator writes
``<root>/synthetic_truth.npz`` beside the release-format files, and every
loader attaches it to its records (``Record.clean_landmarks`` and the
``yaw``/``pitch``/``roll`` attributes, in degrees) when present.

Keys are :attr:`Record.key`: the image path relative to the data-set root in
POSIX form, ``#``, and the face's 0-based index among the faces annotated on
that image in the same annotation source (always ``#0`` for 300W and for the
synthetic sets, which draw one face per image).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_path

__all__ = ["TRUTH_FILE", "write_truth", "read_truth", "attach_truth", "record_key"]

TRUTH_FILE = "synthetic_truth.npz"


def record_key(relative_path: str, face_index: int = 0) -> str:
    """The key of a face: ``relative/path.jpg#face_index``."""
    return f"{Path(relative_path).as_posix()}#{int(face_index)}"


def write_truth(root: str | Path, keys, clean: np.ndarray, pose: np.ndarray) -> Path:
    """Write the truth file atomically (temporary file, then rename).

    ``clean``: ``(M, N, 2)`` noise-free landmarks in pixels; ``pose``:
    ``(M, 3)`` yaw, pitch, roll in degrees.
    """
    root = Path(root)
    keys = np.asarray(list(keys), dtype=str)
    clean = np.asarray(clean, dtype=np.float64)
    pose = np.asarray(pose, dtype=np.float64)
    if clean.ndim != 3 or clean.shape[-1] != 2 or len(clean) != len(keys):
        raise ValueError(f"write_truth: clean must be (M, N, 2) with M = {len(keys)} keys, got {clean.shape}")
    if pose.shape != (len(keys), 3):
        raise ValueError(f"write_truth: pose must be ({len(keys)}, 3), got {pose.shape}")
    target = root / TRUTH_FILE
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, keys=keys, clean=clean, pose=pose)
    return target


def read_truth(root: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """``{key: (clean (N, 2), pose (3,))}``, or ``None`` when the root has no truth file."""
    path = Path(root) / TRUTH_FILE
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        keys, clean, pose = z["keys"], z["clean"], z["pose"]
    return {str(k): (clean[i], pose[i]) for i, k in enumerate(keys)}


def attach_truth(root: str | Path, records) -> None:
    """Fill ``clean_landmarks`` and yaw/pitch/roll of ``records`` from the truth file, if any."""
    truth = read_truth(root)
    if truth is None:
        return
    for rec in records:
        hit = truth.get(rec.key)
        if hit is None:
            continue
        clean, pose = hit
        if clean.shape != rec.landmarks.shape:
            raise ValueError(
                f"{Path(root) / TRUTH_FILE}: key {rec.key!r} has clean landmarks of shape {clean.shape}, "
                f"the annotation has {rec.landmarks.shape}"
            )
        rec.clean_landmarks = clean.copy()
        rec.attributes.update(yaw=float(pose[0]), pitch=float(pose[1]), roll=float(pose[2]))
