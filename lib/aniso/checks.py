"""Checks with one message style, for settings and for arrays.

Settings (run settings, notebook parameters): ``<what> <name>=<value> is
invalid: expected <what was expected>``. Arrays (shapes, bin ids, NMEs):
``<name>: expected <what>, got <what came>``, naming the offending index.
Every bad value is reported the same way, before any work starts.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable

import numpy as np

__all__ = ["invalid", "one_of", "positive_int", "positive_number", "non_negative", "fraction", "probability",
           "points", "shapes", "bin_ids", "nmes"]


def invalid(what: str, name: str, value, expected: str) -> ValueError:
    """The error for a bad value (returned, so callers ``raise`` it and the traceback points at them)."""
    return ValueError(f"{what} {name}={value!r} is invalid: expected {expected}")


def one_of(what: str, name: str, value, allowed: Iterable) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise invalid(what, name, value, f"one of {', '.join(map(repr, allowed))}")


def positive_int(what: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise invalid(what, name, value, "a positive integer")


def _finite(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_number(what: str, name: str, value) -> None:
    if not _finite(value) or value <= 0:
        raise invalid(what, name, value, "a finite number > 0")


def non_negative(what: str, name: str, value) -> None:
    if not _finite(value) or value < 0:
        raise invalid(what, name, value, "a finite number >= 0")


def fraction(what: str, name: str, value) -> None:
    """A share strictly between 0 and 1 (e.g. the validation split)."""
    if not _finite(value) or not 0 < value < 1:
        raise invalid(what, name, value, "a number strictly between 0 and 1")


def probability(what: str, name: str, value) -> None:
    if not _finite(value) or not 0 <= value <= 1:
        raise invalid(what, name, value, "a probability in [0, 1]")


# ----------------------------------------------------------------------------- arrays


def points(landmarks, name: str, n_points: int | None = None) -> np.ndarray:
    """``(N, 2)`` finite float64 landmarks (``N = n_points`` when given)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or (n_points is not None and pts.shape[0] != n_points):
        want = f"({n_points}, 2)" if n_points is not None else "(N, 2)"
        raise ValueError(f"{name}: landmarks must have shape {want}, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name}: landmarks contain non-finite values")
    return pts


def shapes(stack, name: str = "shapes") -> np.ndarray:
    """``(M, N, 2)`` float64 array with M >= 1, N >= 2, all finite."""
    s = np.asarray(stack, dtype=np.float64)
    if s.ndim != 3 or s.shape[-1] != 2 or s.shape[0] < 1 or s.shape[1] < 2:
        raise ValueError(f"{name}: expected an (M, N, 2) array with M >= 1 and N >= 2, got shape {s.shape}")
    bad = ~np.isfinite(s).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"{name}: shape index {np.flatnonzero(bad)[:10].tolist()} holds NaN or inf")
    return s


def bin_ids(bins, name: str = "bins") -> np.ndarray:
    """A non-empty 1-D int64 array of bin ids >= 0 (integral floats accepted)."""
    b = np.asarray(bins)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of bin ids, got shape {b.shape}")
    if not np.issubdtype(b.dtype, np.integer):
        bf = b.astype(np.float64)
        if not (np.isfinite(bf).all() and np.all(bf == np.round(bf))):
            raise ValueError(f"{name}: bin ids must be integers, got dtype {b.dtype}")
    b = b.astype(np.int64)
    if (b < 0).any():
        raise ValueError(f"{name}: bin ids must be >= 0, got {int(b.min())} at index {int(np.argmin(b))}")
    return b


def nmes(values: Any, name: str = "nmes") -> np.ndarray:
    """A non-empty 1-D float64 vector of per-image NMEs (fractions), none NaN or negative."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    try:
        e = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric array, could not convert ({exc})") from None
    if e.size == 0:
        raise ValueError(f"{name} is empty: expected at least one per-image NME")
    nan = np.isnan(e)
    if nan.any():
        raise ValueError(f"{name} holds {int(nan.sum())} NaN value(s), first at index {int(np.flatnonzero(nan)[0])}")
    if (e < 0).any():
        raise ValueError(f"{name} must be >= 0, got {e.min()!r} at index {int(np.argmin(e))}")
    return e
