"""Value checks with one message style: ``<what> <name>=<value> is invalid: expected <what was expected>``.

Used wherever a setting arrives from a user (run settings, notebook
parameters, augmentation, loss parameters) so that every bad value is
reported the same way, naming the value and what was expected, before any
work starts.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Iterable

__all__ = ["invalid", "one_of", "positive_int", "positive_number", "non_negative", "fraction", "probability"]


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
