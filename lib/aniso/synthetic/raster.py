"""Anti-aliased sub-pixel drawing primitives on top of OpenCV (fixed point, 4 fractional bits)."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

__all__ = ["SHIFT", "ONE", "fx", "mask_polys", "mask_lines", "blend", "grid", "scaled"]

SHIFT = 4
ONE = 1 << SHIFT


def fx(pts: np.ndarray) -> np.ndarray:
    """Pixel coordinates to OpenCV fixed point (int32, 4 fractional bits)."""
    return np.round(np.asarray(pts, dtype=np.float64) * ONE).astype(np.int32)


def mask_polys(size: int, polys, value: int = 255) -> np.ndarray:
    """uint8 coverage (0..255) of filled, anti-aliased polygons."""
    m = np.zeros((size, size), np.uint8)
    good = [fx(p).reshape(-1, 1, 2) for p in polys if len(p) >= 3 and np.isfinite(p).all()]
    if good:
        cv2.fillPoly(m, good, value, lineType=cv2.LINE_AA, shift=SHIFT)
    return m


def mask_lines(size: int, lines, thickness: float, closed: bool = False) -> np.ndarray:
    """uint8 coverage of anti-aliased polylines ``thickness`` pixels wide (at least 1)."""
    m = np.zeros((size, size), np.uint8)
    good = [fx(p).reshape(-1, 1, 2) for p in lines if len(p) >= 2 and np.isfinite(p).all()]
    if good:
        cv2.polylines(m, good, closed, 255, thickness=max(1, int(round(thickness))), lineType=cv2.LINE_AA, shift=SHIFT)
    return m


def blend(img: np.ndarray, cover: np.ndarray, colour, alpha: float = 1.0) -> None:
    """In place: ``img = img * (1 - a) + colour * a`` with ``a = alpha * cover / 255``."""
    x0, y0, w, h = cv2.boundingRect(cover)
    if w == 0 or h == 0:
        return
    y1, x1 = y0 + h, x0 + w
    a = cover[y0:y1, x0:x1, None].astype(np.float32) * (alpha / 255.0)
    roi = img[y0:y1, x0:x1]
    roi += (np.asarray(colour, np.float32) - roi) * a


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel row and column coordinates (float32), cached per image size."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def scaled(colour, f: float) -> np.ndarray:
    """``colour`` times ``f``, clipped to 0..255."""
    return np.clip(np.asarray(colour, np.float64) * f, 0.0, 255.0)
