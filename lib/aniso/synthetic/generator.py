"""Synthetic 300W, WFLW and AFLW trees, written in the real release formats.

``generate("300w" | "wflw" | "aflw", out_dir, ...)`` draws faces with the
parametric model (:mod:`aniso.synthetic.face`), renders them
(:mod:`aniso.synthetic.render`), adds human-like annotation noise
(:mod:`aniso.synthetic.noise`) and writes the release layout
(:mod:`aniso.synthetic.layouts`) through the same writers the loaders read
(:mod:`aniso.data.formats`), plus ``synthetic_truth.npz`` (noise-free
landmarks and pose per face, :mod:`aniso.data.truth`) and
``synthetic_info.json`` (how the tree was made). ``open_dataset`` then reads
the tree exactly like a real release. One face per image; record key = image
path relative to the root + ``#0``.

Counts follow ``scale`` (1.0 = the release's counts, as the loaders know
them), at least :data:`MIN_FACES` per folder or split
(:mod:`aniso.synthetic.difficulty`).

Distributions (:class:`Difficulty`). Pose is imbalanced as in the real sets
(:mod:`aniso.synthetic.pose`): most faces come from a near-frontal bulk
(half-normal |yaw|, sd 12 degrees for 300W and WFLW, wider for AFLW; pitch sd
6, roll sd 5); a share ``pose`` of faces is a large pose instead. The same
mechanism sets expression, illumination, make-up, occlusion and blur; the
challenging folders (iBUG, the private set) draw them more often, and WFLW
(train and test, a random split of one pool in the release) draws each at its
rate in the real test set, with exact quotas so that every attribute subset
is populated. WFLW flags are computed from the generated face
(:mod:`aniso.synthetic.attributes`). AFLW's ``mask_new`` is 0 for
self-occluded points and for points under the occluder.

Annotation noise (:class:`NoiseConfig`): the written landmarks are the clean
ones plus Gaussian noise whose standard deviation, in fractions of the face's
frontal-equivalent inter-ocular distance (outer eye corners, so turned faces
do not get less noise), is ``along`` along the contour tangent and
``across`` across it for contour points (tangent from the clean 2-D shape with
the scheme's ``tangent_prev``/``tangent_next``), and ``corner`` in every
direction for corners and for points on no curve. Coordinates are written
rounded to 0.001 pixel.

Determinism: face ``i`` of folder ``f`` uses ``SeedSequence([seed, crc32(f), i])``,
so the same seed gives byte-identical annotation files (and images), and a
larger ``scale`` keeps the smaller tree's first faces. The tree is built in a
temporary folder beside ``out_dir`` and renamed into place at the end.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ..data.truth import TRUTH_FILE, write_truth
from ..files import atomic_write
from .difficulty import DEFAULT_SCALE, dataset_key, plan
from .layouts import WRITERS, Progress
from .noise import NoiseConfig

__all__ = ["INFO_FILE", "GENERATOR_VERSION", "generate"]

INFO_FILE = "synthetic_info.json"
#: Recorded in synthetic_info.json; bumped whenever the same seed and scale give other faces
#: (2: per-data-set yaw caps, the eye-distance guarantee, the package moved to aniso.synthetic).
GENERATOR_VERSION = 2


def _check_output(out: Path, force: bool) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder without ``force``."""
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"output path {out} exists and is not a folder")
        if any(out.iterdir()) and not force:
            raise FileExistsError(f"output folder {out} is not empty; choose another folder or pass force=True "
                                  "(--force)")


def _publish(tmp: Path, out: Path) -> None:
    """Make the finished tree ``tmp`` readable by everyone and rename it to ``out`` (replacing its content)."""
    # mkdtemp and the atomic writers create owner-only files; a data set is for everyone.
    for dirpath, _dirs, files in os.walk(tmp):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)
    if out.exists():
        if any(out.iterdir()):
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, trash / "old")
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            out.rmdir()
            os.replace(tmp, out)
    else:
        os.replace(tmp, out)


def generate(
    name: str,
    out_dir: str | Path,
    seed: int = 0,
    scale: float = DEFAULT_SCALE,
    image_size: int = 128,
    noise: NoiseConfig = NoiseConfig(),
    progress: bool = True,
    force: bool = False,
    noise_scale: float = 1.0,
    workers: int = 1,
) -> Path:
    """Write a synthetic ``"300w"``, ``"wflw"`` or ``"aflw"`` tree into ``out_dir`` and return its path.

    ``scale``: faces relative to the release (module docstring);
    ``image_size``: side of the square images, pixels; ``noise``: annotation
    noise; ``noise_scale``: factor on the along-contour standard deviation
    ``noise.along`` only (0: no along-contour noise; across-contour and corner
    noise unchanged; 1: the tree is the same as without it). Both are recorded
    in ``synthetic_info.json`` (``noise`` as given, ``noise_scale`` beside it).
    ``workers`` processes draw the faces (the tree does not depend on it); they
    are spawned, so a script that calls this with ``workers > 1`` must guard
    its entry point with ``if __name__ == "__main__":``.
    ``out_dir`` must not exist or be empty, unless ``force`` (then its
    old content is replaced once the new tree is complete). Raises
    ``FileExistsError`` for a non-empty ``out_dir`` without ``force`` and
    ``ValueError`` for a bad name, scale, size or noise.
    """
    from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

    key = dataset_key(name)
    counts = plan(key, scale)
    if not (isinstance(image_size, (int, np.integer)) and 32 <= int(image_size) <= 4096):
        raise ValueError(f"image_size must be an integer number of pixels in [32, 4096], got {image_size!r}")
    if not isinstance(noise, NoiseConfig):
        raise ValueError(f"noise must be a NoiseConfig, got {type(noise).__name__}")
    if not (isinstance(noise_scale, (int, float)) and math.isfinite(noise_scale) and noise_scale >= 0):
        raise ValueError(f"noise_scale must be a finite number >= 0 (factor on the along-contour noise), "
                         f"got {noise_scale!r}")
    # NoiseConfig checks that the scaled standard deviation is still a fraction in [0, 1].
    drawn = replace(noise, along=noise.along * float(noise_scale))
    out = Path(out_dir).absolute()
    _check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        with tqdm(total=sum(counts.values()), desc=f"synthetic {key}", unit="face", disable=not progress) as bar:
            tally = Progress(bar)
            keys, clean, pose, extra = WRITERS[key](tmp, counts, int(seed), int(image_size), drawn, tally,
                                                    max(1, int(workers)))
        write_truth(tmp, keys, np.asarray(clean), np.asarray(pose))
        info = {
            "generator": "aniso.synthetic", "version": GENERATOR_VERSION, "dataset": key, "seed": int(seed),
            "scale": float(scale), "image_size": int(image_size), "noise": asdict(noise),
            "noise_scale": float(noise_scale), "counts": counts,
            "faces": len(keys), "truth_file": TRUTH_FILE, "pose_redraws": tally.pose_redraws, **extra,
        }
        atomic_write(tmp / INFO_FILE, (json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
