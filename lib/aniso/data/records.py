"""One annotated face: the unit every loader returns.

A record is a line of an annotation list (WFLW), a ``.pts`` file (300W) or a
row of the ``.mat`` (AFLW): one face, not one image file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Record", "read_image", "landmark_box"]


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` uint8 RGB array.

    Raises ``FileNotFoundError`` naming the path when it is missing or
    unreadable, and ``ValueError`` naming it when it exists but is empty or not
    an image OpenCV can decode. Paths with spaces or non-ASCII characters are
    fine (the bytes are read with Python and decoded by OpenCV).
    """
    import cv2  # heavy (cv2): loaded where it is used  # noqa: PLC0415

    p = Path(path)
    try:
        buf = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise FileNotFoundError(f"image file {p} could not be read: {exc}") from None
    if buf.size == 0:
        raise ValueError(f"image file {p} is empty (0 bytes): expected a JPEG or PNG image")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"image file {p} ({buf.size} bytes) does not decode: expected a JPEG or PNG image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Tight box ``[x_min, y_min, x_max, y_max]`` (pixels) around ``(N, 2)`` landmarks."""
    pts = np.asarray(landmarks, dtype=float)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


@dataclass
class Record:
    """One annotated face.

    Attributes:
        image_path: absolute path of the image file.
        landmarks: ``(N, 2)`` float64, x and y in 0-based pixel coordinates of
            the original image.
        box: ``(4,)`` float64 ``[x_min, y_min, x_max, y_max]`` in pixels: the
            release's face box where it has one (WFLW rect, AFLW bbox), else
            the tight box around the landmarks (300W). Crops use the tight
            landmark box (the paper's "GT box"); ``box`` feeds the AFLW
            box normalisation ``sqrt(w * h)``.
        attributes: release flags and extras (WFLW's six 0/1 flags, AFLW's
            visibility mask, the subset, and for synthetic data its pose).
        clean_landmarks: for synthetic data only, the noise-free positions
            the noisy labels were drawn around (``None`` for real data).
        key: a stable identifier (relative image path, plus the face index
            where one image holds several faces).
    """

    image_path: Path
    landmarks: np.ndarray
    box: np.ndarray
    attributes: dict = field(default_factory=dict)
    clean_landmarks: np.ndarray | None = None
    key: str = ""

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks, dtype=float)
        where = f"face {self.key or '?'} (image {self.image_path})"
        if lm.ndim != 2 or lm.shape[1] != 2 or not np.isfinite(lm).all():
            raise ValueError(f"{where}: landmarks must be finite (N, 2) pixel coordinates, got shape {lm.shape}"
                             + ("" if lm.ndim != 2 or np.isfinite(lm).all() else " with NaN or infinite values"))
        extent = lm.max(axis=0) - lm.min(axis=0)
        if not (extent > 0).all():
            raise ValueError(f"{where}: degenerate landmarks, their box is {extent[0]:g} x {extent[1]:g} pixels; "
                             f"expected points spread over the face")

    def load_image(self) -> np.ndarray:
        """The whole image as an ``(H, W, 3)`` uint8 RGB array."""
        return read_image(self.image_path)

    @property
    def gt_box(self) -> np.ndarray:
        """Tight box around the landmarks, ``[x_min, y_min, x_max, y_max]`` in pixels."""
        return landmark_box(self.landmarks)
