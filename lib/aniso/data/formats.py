"""Readers and writers for the annotation formats of the three releases.

One module, used both ways: the loaders read real releases through it and the
synthetic generator writes its trees through it, so a synthetic tree is
byte-for-byte the format a loader meets on a real one.

* 300W ``.pts``: a header (``version: 1``, ``n_points: 68``), ``{``, one
  ``x y`` line per point, ``}``. Coordinates in the file are 1-based (Matlab);
  :func:`read_pts` returns and :func:`write_pts` takes 0-based pixels.
* WFLW list lines: 207 whitespace-separated tokens, 196 coordinates (0-based
  pixels, ``x0 y0 ... x97 y97``), the box ``x_min y_min x_max y_max``, six 0/1
  flags (pose, expression, illumination, make-up, occlusion, blur) and the image
  path relative to ``WFLW_images/``.
* AFLW ``AFLWinfo_release.mat`` (the CCL release): ``bbox`` (M, 4: left,
  right, top, bottom), ``data`` (M, 38: 19 x then 19 y), ``mask_new`` (M, 19),
  ``nameList`` (M x 1 cell of relative image paths), ``ra`` (1-based
  permutation of the rows). Files written here may also carry ``n_train``
  (a scalar: the size of the training split, see :mod:`aniso.data.aflw`).

The module also holds the few checks every loader shares (the missing-root
message and the count-mismatch warning), so that the three loaders word them
the same way.

Every writer is atomic (temporary file in the target folder, then
``os.replace``): an interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import checks
from ..files import atomic_write
from .truth import TRUTH_FILE

__all__ = [
    "WFLW_FLAGS",
    "WFLW_N_POINTS",
    "WFLW_TOKENS",
    "AFLW_FIELDS",
    "WflwLine",
    "AflwMat",
    "CountMismatchWarning",
    "write_pts",
    "read_pts",
    "format_pts",
    "format_wflw_line",
    "parse_wflw_line",
    "write_wflw_list",
    "write_aflw_mat",
    "read_aflw_mat",
        "missing_root_error",
    "check_count",
]

WFLW_N_POINTS = 98
WFLW_FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
# 196 coordinates + 4 box values + 6 flags + 1 path.
WFLW_TOKENS = 2 * WFLW_N_POINTS + 4 + len(WFLW_FLAGS) + 1
AFLW_N_POINTS = 19
AFLW_FIELDS = ("bbox", "data", "mask_new", "nameList", "ra")


class CountMismatchWarning(UserWarning):
    """A subset of a complete-looking real release has an unexpected number of faces."""


# --------------------------------------------------------------------------- atomic writes


def _num(value: float) -> str:
    """Shortest text that reads back as exactly the same float (integers without ``.0``)."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"cannot write a non-finite coordinate {value!r}")
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# --------------------------------------------------------------------------- 300W .pts


def format_pts(landmarks) -> str:
    """The text of a ``.pts`` file for ``(N, 2)`` landmarks given in 0-based pixels.

    The file holds 1-based coordinates (each value + 1), as the 300W release.
    """
    pts = checks.points(landmarks, "format_pts") + 1.0
    lines = ["version: 1", f"n_points:  {len(pts)}", "{"]
    lines += [f"{_num(x)} {_num(y)}" for x, y in pts]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_pts(path: str | Path, landmarks) -> Path:
    """Write ``(N, 2)`` landmarks (0-based pixels) as a 300W ``.pts`` file (1-based), atomically."""
    return atomic_write(path, format_pts(landmarks).encode("ascii"))


_HEADER_KEY = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


def read_pts(path: str | Path, n_points: int) -> np.ndarray:
    """Read a 300W ``.pts`` file as ``(n_points, 2)`` float64 landmarks in 0-based pixels.

    The file's 1-based coordinates are shifted by -1. Blank lines and Windows
    line ends are tolerated (some release files have them); anything else out
    of place raises ``ValueError`` naming the file, the 1-based line number and
    what was expected: a wrong ``n_points`` header, a missing header or brace,
    too few or too many point lines, a non-numeric or non-finite value.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text .pts file ({exc})") from None
    lines = text.splitlines()
    header_n: int | None = None
    opened = closed = False
    coords: list[tuple[float, float]] = []
    for no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{path}, line {no}"
        if closed:
            raise ValueError(f"{where}: unexpected text {line!r} after the closing '}}'")
        if not opened:
            if line == "{":
                if header_n is None:
                    raise ValueError(f"{where}: '{{' before any 'n_points:' header; expected 'n_points: {n_points}'")
                opened = True
                continue
            m = _HEADER_KEY.match(line)
            if m is None:
                raise ValueError(f"{where}: expected a header line ('version: 1', 'n_points: {n_points}') or '{{', "
                                 f"got {line!r}")
            key, value = m.group(1).lower(), m.group(2).strip()
            if key == "n_points":
                try:
                    header_n = int(value)
                except ValueError:
                    raise ValueError(f"{where}: n_points must be an integer, got {value!r}") from None
                if header_n != n_points:
                    raise ValueError(f"{where}: header says n_points {header_n}, expected {n_points}")
            continue
        if line == "}":
            if len(coords) != n_points:
                raise ValueError(f"{where}: closing '}}' after {len(coords)} point lines, expected {n_points}")
            closed = True
            continue
        if len(coords) == n_points:
            raise ValueError(f"{where}: more than {n_points} point lines (expected '}}' here), got {line!r}")
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{where}: expected two numbers 'x y', got {line!r}")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"{where}: non-numeric value in {line!r}, expected two numbers 'x y'") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"{where}: non-finite value in {line!r}")
        coords.append((x, y))
    if not opened:
        raise ValueError(f"{path}, line {len(lines)}: end of file without the opening '{{' of the point block")
    if not closed:
        raise ValueError(
            f"{path}, line {len(lines)}: end of file without the closing '}}' "
            f"({len(coords)} point lines read, expected {n_points})"
        )
    return np.asarray(coords, dtype=np.float64) - 1.0


# --------------------------------------------------------------------------- WFLW list lines


class WflwLine(NamedTuple):
    """One parsed WFLW annotation line.

    ``landmarks``: (98, 2) float64, 0-based pixels; ``box``: (4,) float64
    ``[x_min, y_min, x_max, y_max]``; ``flags``: the six 0/1 flags by name
    (:data:`WFLW_FLAGS`); ``rel_path``: image path relative to ``WFLW_images/``.
    """

    landmarks: np.ndarray
    box: np.ndarray
    flags: dict
    rel_path: str


def _flag_values(flags) -> list[int]:
    if isinstance(flags, dict):
        missing = [k for k in WFLW_FLAGS if k not in flags]
        extra = [k for k in flags if k not in WFLW_FLAGS]
        if missing or extra:
            raise ValueError(f"WFLW flags must be exactly {WFLW_FLAGS}; missing {missing}, unknown {extra}")
        values = [flags[k] for k in WFLW_FLAGS]
    else:
        values = list(np.asarray(flags).ravel())
        if len(values) != len(WFLW_FLAGS):
            raise ValueError(f"WFLW flags must be 6 values {WFLW_FLAGS}, got {len(values)}")
    out = []
    for name, v in zip(WFLW_FLAGS, values):
        if v not in (0, 1):
            raise ValueError(f"WFLW flag {name!r} must be 0 or 1, got {v!r}")
        out.append(int(v))
    return out


def format_wflw_line(landmarks, box, flags, rel_path: str) -> str:
    """One WFLW list line (no trailing newline).

    ``landmarks``: (98, 2) in 0-based pixels; ``box``: ``[x_min, y_min, x_max,
    y_max]`` in pixels; ``flags``: six 0/1 values in the order of
    :data:`WFLW_FLAGS` or a dict by those names; ``rel_path``: image path
    relative to ``WFLW_images/`` (``/`` separators). The path may contain
    single spaces (the reader joins the trailing tokens with one space) but no
    other whitespace and no leading/trailing space, since those would not read
    back the same.
    """
    pts = checks.points(landmarks, "format_wflw_line", WFLW_N_POINTS)
    b = np.asarray(box, dtype=np.float64).ravel()
    if b.shape != (4,) or not np.isfinite(b).all():
        raise ValueError(f"format_wflw_line: box must be 4 finite values [x_min, y_min, x_max, y_max], got {box!r}")
    rel = str(rel_path).replace("\\", "/")
    if not rel or rel != rel.strip() or re.search(r"[^\S ]| {2}", rel):
        raise ValueError(
            f"format_wflw_line: image path {rel_path!r} must be non-empty, without leading/trailing "
            "spaces, tabs, newlines or runs of spaces (they would not read back)"
        )
    if " " in rel and _is_number(rel.split(" ")[0]):
        raise ValueError(f"format_wflw_line: image path {rel_path!r} must not begin with a number token when it holds "
                         "a space")
    tokens = [_num(v) for v in pts.ravel()] + [_num(v) for v in b] + [str(f) for f in _flag_values(flags)] + [rel]
    return " ".join(tokens)


def write_wflw_list(path: str | Path, lines) -> Path:
    """Write WFLW list lines (strings from :func:`format_wflw_line`) atomically, one per line."""
    text = "".join(f"{line}\n" for line in lines)
    return atomic_write(path, text.encode("utf-8"))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_wflw_line(line: str, path: str | Path, line_no: int) -> WflwLine:
    """Parse one WFLW list line; ``path`` and ``line_no`` (1-based) only name the place in errors.

    Raises ``ValueError`` naming the file and line when the line has fewer than
    207 tokens, when a coordinate or box value is not a finite number, when a
    flag is not 0/1, or when it has more than 207 tokens and the 207th is a
    number (an extra value, not a path with a space).
    """
    tokens = line.split()
    n = len(tokens)
    where = f"{path}, line {line_no}"
    n_num = 2 * WFLW_N_POINTS + 4
    if n < WFLW_TOKENS or (n > WFLW_TOKENS and _is_number(tokens[WFLW_TOKENS - 1])):
        raise ValueError(
            f"{where}: found {n} tokens, expected {WFLW_TOKENS} "
            f"(196 coordinates, 4 box values, 6 flags, the image path)"
        )
    try:
        values = np.array(tokens[:n_num], dtype=np.float64)
    except ValueError:
        bad = next(i for i, t in enumerate(tokens[:n_num]) if not _is_number(t))
        raise ValueError(
            f"{where}: token {bad + 1} is {tokens[bad]!r}, expected a number "
            f"(tokens 1-196 are coordinates, 197-200 the box; {n} tokens found, {WFLW_TOKENS} expected)"
        ) from None
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{where}: token {bad + 1} is {tokens[bad]!r}, expected a finite number")
    flags = {}
    for k, name in enumerate(WFLW_FLAGS):
        tok = tokens[n_num + k]
        if tok not in ("0", "1"):
            raise ValueError(
                f"{where}: token {n_num + k + 1} (flag {name!r}) is {tok!r}, expected 0 or 1 "
                f"({n} tokens found, {WFLW_TOKENS} expected)"
            )
        flags[name] = int(tok)
    rel = " ".join(tokens[WFLW_TOKENS - 1 :])
    points = values[: 2 * WFLW_N_POINTS].reshape(WFLW_N_POINTS, 2)
    return WflwLine(points, values[2 * WFLW_N_POINTS :].copy(), flags, rel)


# --------------------------------------------------------------------------- AFLW .mat


class AflwMat(NamedTuple):
    """Contents of an ``AFLWinfo_release.mat``, checked.

    ``bbox`` (M, 4) left, right, top, bottom; ``data`` (M, 38) 19 x then 19 y;
    ``mask`` (M, 19) bool; ``names`` list of M relative image paths; ``ra``
    (M,) int64, 1-based permutation as stored; ``n_train``: the file's
    ``n_train`` field, or ``None`` when absent (the real release).
    """

    bbox: np.ndarray
    data: np.ndarray
    mask: np.ndarray
    names: list
    ra: np.ndarray
    n_train: int | None


_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by aniso.data.formats"


def write_aflw_mat(path: str | Path, bbox, data, mask, names, ra, n_train: int | None = None) -> Path:
    """Write an AFLW-Full ``.mat`` in the layout of ``AFLWinfo_release.mat``, atomically.

    ``bbox``: (M, 4) pixels, left, right, top, bottom; ``data``: (M, 38) pixels,
    the 19 x values then the 19 y values (stored as given, no 1-based shift);
    ``mask``: (M, 19) 0/1 visibility (written as ``mask_new``); ``names``: M
    image paths relative to the ``flickr`` folder, stored as an M x 1 cell
    (``nameList``); ``ra``: 1-based permutation of 1..M (stored 1 x M);
    ``n_train``: optional size of the training split (written as a scalar
    field that the real release lacks).
    """
    import scipy.io  # heavy (scipy): loaded where it is used  # noqa: PLC0415

    bbox = np.asarray(bbox, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    m = len(bbox)
    names = [str(s).replace("\\", "/") for s in names]
    ra = np.asarray(ra, dtype=np.float64).ravel()
    if bbox.shape != (m, 4) or data.shape != (m, 2 * AFLW_N_POINTS) or mask.shape != (m, AFLW_N_POINTS):
        raise ValueError(
            f"write_aflw_mat: shapes must be bbox (M, 4), data (M, 38), mask (M, 19); "
            f"got {bbox.shape}, {data.shape}, {mask.shape}"
        )
    if len(names) != m or any(not s for s in names):
        raise ValueError(f"write_aflw_mat: need {m} non-empty names, got {len(names)}")
    if sorted(ra.tolist()) != list(range(1, m + 1)):
        raise ValueError(f"write_aflw_mat: ra must be a permutation of 1..{m}")
    cell = np.empty((m, 1), dtype=object)
    for i, s in enumerate(names):
        cell[i, 0] = s
    fields = {"bbox": bbox, "data": data, "mask_new": mask, "nameList": cell, "ra": ra.reshape(1, m)}
    if n_train is not None:
        if not (0 <= int(n_train) <= m):
            raise ValueError(f"write_aflw_mat: n_train must be in [0, {m}], got {n_train}")
        fields["n_train"] = np.array([[float(n_train)]])
    buf = io.BytesIO()
    scipy.io.savemat(buf, fields, do_compression=True)
    data = bytearray(buf.getvalue())
    # scipy stamps the creation time into the 116-byte text header: a fixed text
    # instead makes equal inputs give byte-identical files.
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    return atomic_write(path, bytes(data))


def _cell_strings(value, path: Path) -> list[str]:
    """Strings of a Matlab cell (object array of char arrays) or a char matrix."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        return [str(s).rstrip() for s in arr.ravel()]
    if arr.dtype != object:
        raise ValueError(f"{path}: field 'nameList' must be a cell of strings, got dtype {arr.dtype}")
    out = []
    for k, item in enumerate(arr.ravel()):
        inner = np.asarray(item).ravel()
        if inner.size != 1 or inner.dtype.kind != "U":
            raise ValueError(f"{path}: field 'nameList' entry {k + 1} is not a string: {item!r}")
        out.append(str(inner[0]))
    return out


def read_aflw_mat(path: str | Path) -> AflwMat:
    """Read and check an ``AFLWinfo_release.mat``.

    Raises ``ValueError`` naming the file and the field when a field is
    missing or has the wrong shape, when ``ra`` is not a permutation of 1..M,
    or when ``n_train`` is out of range.
    """
    import scipy.io  # heavy (scipy): loaded where it is used  # noqa: PLC0415

    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise ValueError(f"{path}: a MATLAB v7.3 (HDF5) file; re-save it with '-v7' so scipy.io.loadmat reads "
                         "it") from None
    except Exception as exc:  # scipy raises several types for a damaged file
        raise ValueError(f"{path}: not a readable .mat file ({type(exc).__name__}: {exc})") from None
    for name in AFLW_FIELDS:
        if name not in mat:
            raise ValueError(f"{path}: field {name!r} is missing; expected fields {', '.join(AFLW_FIELDS)}")
    bbox = np.asarray(mat["bbox"], dtype=np.float64)
    m = bbox.shape[0] if bbox.ndim == 2 else -1
    if bbox.ndim != 2 or bbox.shape[1] != 4:
        raise ValueError(f"{path}: field 'bbox' must be (M, 4) left, right, top, bottom; got {bbox.shape}")
    data = np.asarray(mat["data"], dtype=np.float64)
    if data.shape != (m, 2 * AFLW_N_POINTS):
        raise ValueError(f"{path}: field 'data' must be ({m}, 38) (19 x then 19 y), got {data.shape}")
    mask = np.asarray(mat["mask_new"], dtype=np.float64)
    if mask.shape != (m, AFLW_N_POINTS):
        raise ValueError(f"{path}: field 'mask_new' must be ({m}, 19), got {mask.shape}")
    names = _cell_strings(mat["nameList"], path)
    if len(names) != m:
        raise ValueError(f"{path}: field 'nameList' has {len(names)} entries, expected {m} (rows of bbox)")
    ra_f = np.asarray(mat["ra"], dtype=np.float64).ravel()
    ra = ra_f.astype(np.int64)
    if ra.shape != (m,) or not np.array_equal(ra, ra_f) or not np.array_equal(np.sort(ra), np.arange(1, m + 1)):
        raise ValueError(f"{path}: field 'ra' must be a 1-based permutation of 1..{m}, got {ra_f.size} values")
    n_train = None
    if "n_train" in mat:
        nt = np.asarray(mat["n_train"], dtype=np.float64).ravel()
        if nt.size != 1 or not float(nt[0]).is_integer() or not (0 <= nt[0] <= m):
            raise ValueError(f"{path}: field 'n_train' must be one integer in [0, {m}], got {nt.tolist()}")
        n_train = int(nt[0])
    return AflwMat(bbox, data, mask != 0, names, ra, n_train)


# --------------------------------------------------------------------------- shared loader checks


def missing_root_error(what: str, path: Path, layout: str, source: str) -> FileNotFoundError:
    """The error for a missing root, folder or file: the path, the layout expected, where to get it."""
    return FileNotFoundError(f"{what} {path} not found. Expected layout:\n{layout}\nThe release is obtained from "
                             f"{source}")


def check_count(dataset: str, subset: str, found: int, expected: int | None, root: Path) -> None:
    """Warn (:class:`CountMismatchWarning`) when a subset's size differs from the release.

    Called only once the loader has found every folder/file the subset needs,
    so the root looks complete. Synthetic trees (holding ``synthetic_truth.npz``)
    are small on purpose and never warn.
    """
    if expected is None or found == expected or (Path(root) / TRUTH_FILE).exists():
        return
    warnings.warn(
        f"{dataset} subset {subset!r} under {root}: found {found} faces, the release has {expected}",
        CountMismatchWarning,
        stacklevel=4,  # point at the caller of open_dataset
    )
