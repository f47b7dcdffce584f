"""Atomic file writes: nothing half-written is ever left behind.

Every file the suite writes (annotations, run records, tables, figures,
checkpoints) goes through :func:`atomic_path` or :func:`atomic_write`: the
content is written to a temporary file beside the target, given the usual
permissions (``0o666`` less the umask; ``mkstemp`` alone would leave them
owner-only) and renamed over the target, which is atomic on POSIX. On any
error the temporary file is removed and the old target, if any, is untouched.

A write that fails for want of space or permission (a full disk, a read-only
store) raises an :class:`OSError` that names the target and the cause and
keeps the original ``errno`` (``OSError`` maps it to its subclass, e.g.
``PermissionError``): a bare ``[Errno 28] No space left on device`` from deep
inside a library names nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["atomic_path", "atomic_write", "is_temporary", "write_error", "STATED_DIGITS", "CSV_FLOAT_FORMAT", "stated"]

#: Significant digits of every derived number the suite writes to a committed file (report sections, CSV tables).
#: numpy's SIMD loops (AVX2, AVX-512) may round the last bit of the same computation differently, so a float
#: printed to all its 17 digits changes from one x86-64 CPU to the next; at 10 digits a last-place difference
#: (about 1e-16 relative) changes the text only when a value lies within that distance of a rounding boundary.
#: Run records keep their own encoding (:mod:`aniso.runs.store`).
STATED_DIGITS = 10
CSV_FLOAT_FORMAT = f"%.{STATED_DIGITS}g"

# The temporaries atomic_path creates: ".<stem>.<mkstemp's random part>.<suffix>"
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{6,}\.[A-Za-z0-9]+$")


def stated(value):
    """``value`` (nested dicts, lists and tuples of numbers) with every float rounded to :data:`STATED_DIGITS`
    significant digits; numpy scalars become Python numbers, non-finite floats stay as they are."""
    if isinstance(value, dict):
        return {k: stated(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stated(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.{STATED_DIGITS}g}")
    return value


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def is_temporary(path: str | Path) -> bool:
    """Whether ``path``'s name is one :func:`atomic_path` gives its temporaries (``.<stem>.<random>.<suffix>``)."""
    return bool(_TEMPORARY.match(Path(path).name))


def write_error(exc: OSError, path: str | Path) -> OSError:
    """``exc`` as an ``OSError`` naming ``path`` and the cause, with the same ``errno`` (and subclass)."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno is None:
        return OSError(f"cannot write {path}: {cause}")
    return OSError(exc.errno, f"cannot write {path}: {cause}")


def _write_bytes(tmp: Path, data) -> None:
    """Write ``data`` (bytes-like) to ``tmp``: one seam for tests that simulate a full disk."""
    tmp.write_bytes(data)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); it replaces ``path`` when the block succeeds.

    An ``OSError`` while creating the temporary file, inside the block (the write) or in the rename is raised
    again by :func:`write_error`: naming ``path`` and the cause, keeping ``errno``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".tmp")
        os.close(fd)
    except OSError as exc:
        raise write_error(exc, path) from exc
    try:
        try:
            yield Path(tmp)
            os.chmod(tmp, _default_mode())
            os.replace(tmp, path)
        except OSError as exc:
            raise write_error(exc, path) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | Path, data: bytes | bytearray | memoryview | str) -> Path:
    """Write ``data`` (bytes-like, or text as UTF-8) to ``path`` atomically; returns ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        _write_bytes(tmp, payload)
    return Path(path)
