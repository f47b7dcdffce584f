"""The run store: where finished runs live, how they are read back, and what made them.

A finished run is two files named by its id (:func:`~aniso.runs.config.config_id`):

* ``<id>.json``: the configuration, provenance (seed, library versions,
  commit, device), the per-epoch history and the summary metrics;
* ``<id>.npz``: per-image NMEs (against the labels and, for synthetic data,
  the noise-free truth), the predictions (original-image pixels) and the
  tracked faces' predictions after every epoch (Figures 2 and 3).

The store is read from one or more folders and written to one: new runs go
to :func:`runs_dir` (``ANISO_RUNS_DIR``, default ``<repo>/results/runs``);
lookups also search the folders in ``ANISO_READ_RUNS`` (``os.pathsep``
separated), so an ad-hoc notebook run that writes into a scratch folder still
reuses the committed runs without adding files to ``results/``.
Checkpoints and generated data live in the cache (``ANISO_CACHE``, default
``<repo>/.cache/aniso``, never in git). A run in training holds a claim in
``<runs_dir>/claims/`` (:mod:`~aniso.runs.claims`). Workers on several
machines must see the same store and cache: one shared filesystem.
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import warnings
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .config import RunConfig

__all__ = ["REPO_ROOT", "RunRecord", "runs_dir", "read_dirs", "cache_dir", "use_store", "stored", "find",
           "provenance", "installed_versions", "version_differences", "VersionMismatchWarning", "warn_other_versions",
           "checkpoint_dir"]

REPO_ROOT = Path(__file__).resolve().parents[3]


def runs_dir() -> Path:
    """Where new runs are written (``ANISO_RUNS_DIR`` or ``<repo>/results/runs``)."""
    return Path(os.environ.get("ANISO_RUNS_DIR", REPO_ROOT / "results" / "runs"))


def read_dirs() -> list[Path]:
    """Folders searched for a stored run: :func:`runs_dir` first, then ``ANISO_READ_RUNS``."""
    extra = [Path(p) for p in os.environ.get("ANISO_READ_RUNS", "").split(os.pathsep) if p]
    out: list[Path] = []
    for d in [runs_dir(), *extra]:
        if d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def use_store(write: str | Path, also_read=()) -> None:
    """Write new runs to ``write`` and also look for stored runs in ``also_read``.

    Sets ``ANISO_RUNS_DIR`` / ``ANISO_READ_RUNS`` so that worker processes
    started from here see the same store.
    """
    os.environ["ANISO_RUNS_DIR"] = str(Path(write).resolve())
    os.environ["ANISO_READ_RUNS"] = os.pathsep.join(str(Path(p).resolve()) for p in also_read)


def cache_dir() -> Path:
    """Where synthetic data sets and checkpoints live (``ANISO_CACHE`` or ``<repo>/.cache/aniso``)."""
    return Path(os.environ.get("ANISO_CACHE", REPO_ROOT / ".cache" / "aniso"))


def checkpoint_dir(run_id: str) -> Path:
    """The folder of a run's epoch checkpoint while it trains (removed when it finishes or fails)."""
    return cache_dir() / "checkpoints" / run_id


def find(run_id: str) -> Path | None:
    """The folder holding a complete record of ``run_id`` (json and npz), or ``None``."""
    for d in read_dirs():
        if (d / f"{run_id}.json").exists() and (d / f"{run_id}.npz").exists():
            return d
    return None


def stored(config: RunConfig) -> bool:
    """Whether the store already holds this run."""
    from .config import config_id

    return find(config_id(config)) is not None


class RunRecord:
    """A finished run: configuration, provenance, history, metrics and per-image arrays."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        self.meta = meta
        self.arrays = arrays

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def config(self) -> RunConfig:
        return RunConfig(**self.meta["config"])

    @property
    def history(self):
        import pandas as pd

        return pd.DataFrame(self.meta["history"])

    @property
    def metrics(self) -> dict:
        """``{subset: {norm: {"nme", "fr@0.08", "auc@0.08", "fr@0.1", "auc@0.1"[, "nme_truth"]}}}`` as fractions."""
        return self.meta["metrics"]

    def _array(self, key: str, what: str) -> np.ndarray:
        if key not in self.arrays:
            have = sorted(k for k in self.arrays if k.startswith(key.split("/")[0] + "/"))
            raise KeyError(f"run {self.id} has no {what} ({key!r}); it has {have}")
        return self.arrays[key]

    def nmes(self, subset: str, norm: str, against: str = "labels") -> np.ndarray:
        """Per-image NME (fraction) of one test subset under one normalisation.

        ``against="truth"`` gives the NME against the noise-free landmarks
        (synthetic data only).
        """
        prefix = {"labels": "nme", "truth": "nme_truth"}[against]
        return self._array(f"{prefix}/{subset}/{norm}", f"NMEs against the {against}")

    def keys(self, subset: str) -> np.ndarray:
        return self._array(f"keys/{subset}", "image keys")

    def predictions(self, subset: str) -> np.ndarray:
        """``(M, N, 2)`` predictions in original-image pixels."""
        return self._array(f"pred/{subset}", "predictions")

    @property
    def tracked(self) -> dict:
        """Predictions (original pixels) on the tracked test faces after epochs 0..E."""
        return {"keys": self.arrays["tracked/keys"], "epochs": self.arrays["tracked/epochs"],
                "pred": self.arrays["tracked/pred"]}

    @classmethod
    def load(cls, run_id: str, directory: Path | None = None) -> "RunRecord":
        d = Path(directory) if directory is not None else find(run_id)
        if d is None:
            raise FileNotFoundError(f"run {run_id} is not in the store ({', '.join(map(str, read_dirs()))})")
        meta = json.loads((d / f"{run_id}.json").read_text())
        with np.load(d / f"{run_id}.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(meta, arrays)

    def save(self, directory: Path | None = None) -> None:
        """Write the record atomically: arrays first, then the json that marks it finished."""
        d = Path(directory or runs_dir())
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays)
        (d / f"{self.id}.json").unlink(missing_ok=True)
        atomic_write(d / f"{self.id}.npz", buf.getvalue())
        atomic_write(d / f"{self.id}.json", json.dumps(self.meta, indent=1, default=_jsonable))


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"cannot store {type(x).__name__} in a run record")


# ----------------------------------------------------------------------------- provenance

def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def _git_commit() -> str:
    try:
        commit = _git("rev-parse", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--untracked-files=no", "lib")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def installed_versions() -> dict:
    """Versions of what a run's numbers depend on, as installed now."""
    import cv2
    import scipy
    import torch
    import torchvision

    from .. import __version__

    return {"python": platform.python_version(), "aniso": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "opencv": cv2.__version__}


def provenance(device: str, precision: str) -> dict:
    """Seedless provenance: library versions, commit, device, precision, threads, CPU."""
    import torch

    dev = device
    if device.startswith("cuda"):
        dev = f"{device} ({torch.cuda.get_device_name(0)})"
    return {"commit": _git_commit(), "device": dev, "precision": precision, "torch_threads": torch.get_num_threads(),
            "versions": installed_versions(), "machine": platform.machine(), "cpu": _cpu_model()}


class VersionMismatchWarning(UserWarning):
    """A stored run was made under other library versions than the installed ones."""


def version_differences(meta: dict) -> dict[str, tuple[str, str]]:
    """``{package: (version in the record, installed version)}`` for every package that differs."""
    recorded = meta.get("provenance", {}).get("versions", {})
    now = installed_versions()
    return {k: (recorded[k], now[k]) for k in sorted(recorded) if k in now and recorded[k] != now[k]}


_WARNED: set = set()


def warn_other_versions(record: RunRecord) -> None:
    """Warn (once per distinct difference) when ``record`` was made under other versions than installed."""
    diff = version_differences(record.meta)
    key = tuple(sorted(diff.items()))
    if diff and key not in _WARNED:
        _WARNED.add(key)
        said = ", ".join(f"{k} {a} (installed {b})" for k, a, b in ((k, *v) for k, v in diff.items()))
        warnings.warn(f"stored run {record.id} (and possibly others) was made with {said}: its numbers may not "
                      f"re-create under the installed versions; `make` installs the lock file (requirements.txt)",
                      VersionMismatchWarning, stacklevel=2)
