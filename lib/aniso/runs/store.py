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

A record that cannot be used as it is (cut short by a copy or a sync, edited
by hand, made under another store version) raises :class:`DamagedRecord`
when it is loaded, naming the file, what is wrong and the remedy;
``python -m aniso.runs verify`` (:mod:`~aniso.runs.verify`) checks a whole
store. A record or checkpoint that cannot be written (a full disk, a
read-only store) raises :class:`SaveFailed` and leaves no partial file.
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import warnings
import zipfile
import zlib
from contextlib import suppress
from pathlib import Path

import numpy as np

from .. import __version__
from ..data import dataset_spec
from ..files import atomic_write, write_error
from ..losses import LossReferenceError, is_reference
from ..topology import get_scheme
from .config import STORE_VERSION, RunConfig, config_id
from .evaluation import PRED_SCALE
from .kernels import fingerprint

__all__ = ["REPO_ROOT", "RunRecord", "runs_dir", "read_dirs", "cache_dir", "use_store", "stored", "find",
           "provenance", "installed_versions", "version_differences", "VersionMismatchWarning", "warn_other_versions",
           "checkpoint_dir", "DamagedRecord", "DAMAGE_KINDS", "PROVENANCE_FIELDS", "SaveFailed", "save_failed",
           "read_meta", "read_arrays", "array_problems", "expected_id", "check_record", "check_stored"]

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
        import pandas as pd  # heavy (pandas): loaded where it is used  # noqa: PLC0415

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

    def _rows(self, subset: str) -> np.ndarray:
        return self._array(f"rows/{subset}", f"subset {subset!r}")

    @property
    def subsets(self) -> list[str]:
        """The evaluated subsets, in the order they were evaluated."""
        return [k.split("/", 1)[1] for k in self.arrays if k.startswith("rows/")]

    def has_truth(self, norm: str) -> bool:
        """Whether the record has NMEs against the noise-free landmarks (synthetic data) under ``norm``."""
        return f"nme_truth/{norm}" in self.arrays

    def nmes(self, subset: str, norm: str, against: str = "labels") -> np.ndarray:
        """Per-image NME (fraction) of one test subset under one normalisation.

        ``against="truth"`` gives the NME against the noise-free landmarks
        (synthetic data only).
        """
        prefix = {"labels": "nme", "truth": "nme_truth"}[against]
        return self._array(f"{prefix}/{norm}", f"NMEs against the {against}")[self._rows(subset)]

    def keys(self, subset: str) -> np.ndarray:
        return self._array("faces/keys", "image keys")[self._rows(subset)]

    def predictions(self, subset: str) -> np.ndarray:
        """``(M, N, 2)`` float64 predictions in original-image pixels (stored to 1/1024 px)."""

        return self._array("faces/pred", "predictions")[self._rows(subset)] / PRED_SCALE

    @property
    def tracked(self) -> dict:
        """Predictions (original pixels) on the tracked test faces after epochs 0..E."""
        return {"keys": self.arrays["tracked/keys"], "epochs": self.arrays["tracked/epochs"],
                "pred": self.arrays["tracked/pred"]}

    @classmethod
    def load(cls, run_id: str, directory: Path | None = None) -> "RunRecord":
        """Read and check a record: from ``directory``, or from the first store folder holding both its files.

        Raises :class:`DamagedRecord` (naming the file, what is wrong and the remedy) for a JSON that does not
        parse, an ``.npz`` that does not open, a missing pair file, arrays that disagree with the metrics, or an
        id that is not its configuration's hash; ``FileNotFoundError`` when no file of the run exists.
        """
        d = Path(directory) if directory is not None else find(run_id)
        if d is None:
            half = _lone_half(run_id)
            if half is not None:
                raise _missing_pair(half)
            raise FileNotFoundError(f"run {run_id} is not in the store ({', '.join(map(str, read_dirs()))})")
        json_path, npz_path = d / f"{run_id}.json", d / f"{run_id}.npz"
        if not (json_path.exists() and npz_path.exists()):
            if json_path.exists() or npz_path.exists():
                raise _missing_pair(json_path if json_path.exists() else npz_path)
            raise FileNotFoundError(f"run {run_id} is not in {d}")
        meta = read_meta(json_path)
        arrays = read_arrays(npz_path)
        check_record(meta, arrays, json_path)
        return cls(meta, arrays)

    def save(self, directory: Path | None = None) -> None:
        """Write the record atomically: arrays first, then the json that marks it finished.

        A write that fails (a full disk, a read-only store) raises an ``OSError`` naming the file and the cause,
        and leaves neither file of the record behind (an ``.npz`` without its json is no record).
        """
        d = Path(directory or runs_dir())
        json_path, npz_path = d / f"{self.id}.json", d / f"{self.id}.npz"
        text = json.dumps(self.meta, indent=1, default=_jsonable)
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays)
        try:
            json_path.unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(exc, json_path) from exc
        try:
            atomic_write(npz_path, buf.getbuffer())
            atomic_write(json_path, text)
        except BaseException:
            with suppress(OSError):
                npz_path.unlink(missing_ok=True)
            raise


# ----------------------------------------------------------------------------- damage

#: What :class:`DamagedRecord` (and ``verify``) can find wrong with a store entry.
DAMAGE_KINDS = ("unreadable json", "unreadable npz", "missing pair", "wrong arrays", "id mismatch",
                "missing provenance", "unreadable tuning file")

#: What every record's provenance gives (:func:`provenance`); records made since the kernels' fingerprint exists
#: also give ``kernels`` (:mod:`aniso.runs.kernels`), older ones do not.
PROVENANCE_FIELDS = ("commit", "device", "precision", "torch_threads", "versions", "machine", "cpu")

_META_FIELDS = ("id", "config", "provenance", "history", "metrics")


class DamagedRecord(ValueError):
    """A stored record that cannot be used as it is; the message names the file, what is wrong and the remedy.

    ``path`` is the damaged file, ``kind`` one of :data:`DAMAGE_KINDS`, ``problem`` what is wrong.
    """

    def __init__(self, path: str | Path, kind: str, problem: str, restore: str | Path | None = None):
        self.path, self.kind, self.problem = Path(path), kind, problem
        base = self.path.parent / self.path.name.split(".")[0]
        super().__init__(f"damaged run record {self.path}: {problem}. Restore it from git "
                         f"(`git checkout -- {restore or self.path}`) or delete both {base}.json and "
                         f"{base.name}.npz to retrain it")


def _missing_pair(present: Path) -> DamagedRecord:
    other = present.with_suffix(".npz" if present.suffix == ".json" else ".json")
    return DamagedRecord(present, "missing pair", f"its pair {other.name} is missing (a record is a .json and an "
                                                  f".npz of the same id)", restore=other)


def _lone_half(run_id: str) -> Path | None:
    """The one file of ``run_id`` in the first store folder that holds only one of its two files."""
    for d in read_dirs():
        halves = [p for p in (d / f"{run_id}.json", d / f"{run_id}.npz") if p.exists()]
        if len(halves) == 1:
            return halves[0]
    return None


def read_meta(path: Path) -> dict:
    """A record's json, parsed; :class:`DamagedRecord` when it does not parse or lacks a field."""
    try:
        meta = json.loads(Path(path).read_text())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedRecord(path, "unreadable json", f"its JSON does not parse ({type(exc).__name__}: {exc}), as "
                                                     f"an interrupted copy or sync leaves it") from exc
    missing = [k for k in _META_FIELDS if k not in meta] if isinstance(meta, dict) else list(_META_FIELDS)
    if missing:
        raise DamagedRecord(path, "unreadable json", f"it lacks the field(s) {', '.join(missing)}")
    return meta


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """A record's arrays, read; :class:`DamagedRecord` when the ``.npz`` does not open or an array does not read."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DamagedRecord(path, "unreadable npz", f"its arrays do not open ({type(exc).__name__}: {exc}), as an "
                                                    f"interrupted copy or sync leaves it") from exc


def array_problems(meta: dict, arrays: dict[str, np.ndarray]) -> list[str]:
    """What disagrees between a record's arrays and its metrics (``[]`` when nothing does).

    Per evaluated face (``M`` of them): ``faces/keys`` ``(M,)``, ``faces/pred`` ``(M, N_points, 2)``, and for
    every normalisation of the metrics ``nme/<norm>`` (and ``nme_truth/<norm>`` where the metrics have a truth
    NME) ``(M,)``; for every evaluated subset ``s`` with ``metrics[s]["n"] = n``: ``rows/s`` ``(n,)`` of rows in
    ``[0, M)``; the tracked faces' predictions ``(epochs, faces, N_points, 2)``.
    """

    try:
        n_points = get_scheme(dataset_spec(meta["config"]["dataset"]).scheme).n_points
    except (KeyError, TypeError, ValueError) as exc:
        return [f"its configuration names no known data set ({exc})"]
    if not isinstance(meta["metrics"], dict):
        return [f"its metrics are a {type(meta['metrics']).__name__}, expected a mapping of subsets"]
    keys = arrays.get("faces/keys")
    if keys is None or keys.ndim != 1:
        return ["array faces/keys is missing or not one key per face"]
    m_faces = len(keys)
    expected: dict[str, tuple] = {"faces/pred": (m_faces, n_points, 2)}
    problems = []
    for s, m in meta["metrics"].items():
        n = m.get("n") if isinstance(m, dict) else None
        if not isinstance(n, int):
            problems.append(f"metrics[{s!r}] has no image count 'n'")
            continue
        expected[f"rows/{s}"] = (n,)
        for norm, v in m.items():
            if isinstance(v, dict):
                expected[f"nme/{norm}"] = (m_faces,)
                if "nme_truth" in v:
                    expected[f"nme_truth/{norm}"] = (m_faces,)
    tracked = [arrays.get(f"tracked/{k}") for k in ("epochs", "keys")]
    if all(t is not None for t in tracked):
        expected["tracked/pred"] = (len(tracked[0]), len(tracked[1]), n_points, 2)
    else:
        problems.append("array tracked/epochs or tracked/keys is missing")
    for key, shape in expected.items():
        if key not in arrays:
            problems.append(f"array {key} is missing")
        elif arrays[key].shape != shape:
            problems.append(f"array {key} has shape {arrays[key].shape}, expected {shape}")
        elif key.startswith("rows/") and shape[0] and not (0 <= arrays[key].min() and arrays[key].max() < m_faces):
            problems.append(f"array {key} points outside the {m_faces} evaluated faces")
    return problems


def expected_id(meta: dict, path: Path) -> tuple[str | None, str]:
    """``(id, "")``: the id ``meta``'s configuration hashes to under this :data:`STORE_VERSION`.

    Hashed on the device type and at the precision the run was made with (its provenance), not this machine's:
    a record made on a GPU checks on a CPU-only machine, one made in fp32 on a CPU without bf16 units checks on
    one with them. ``(None, why)`` when a user loss's module cannot be imported (its source is part of the id).
    Raises :class:`DamagedRecord` for a configuration or a provenance that cannot be hashed.
    """

    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    device, precision = str(prov.get("device", "")), prov.get("precision")
    kind = next((k for k in ("cpu", "cuda") if device.startswith(k)), None)
    if kind is None or precision not in ("fp32", "bf16"):
        raise DamagedRecord(path, "missing provenance", f"its provenance gives device={device!r}, "
                                                        f"precision={precision!r}: expected a device 'cpu...' or "
                                                        f"'cuda...' and a precision 'fp32' or 'bf16'")
    try:
        config = RunConfig(**meta["config"]).replace(device=kind, precision=precision)
    except TypeError as exc:
        raise DamagedRecord(path, "id mismatch", f"its configuration is not a run configuration ({exc})") from exc
    try:
        return config_id(config), ""
    except LossReferenceError as exc:
        if not is_reference(config.loss):
            raise
        return None, f"its id cannot be checked: the user loss {config.loss!r} cannot be imported here ({exc})"


def check_record(meta: dict, arrays: dict[str, np.ndarray], json_path: Path) -> None:
    """Raise :class:`DamagedRecord` when the record (read from ``json_path`` and its ``.npz``) is not usable."""

    json_path = Path(json_path)
    if meta["id"] != json_path.stem:
        raise DamagedRecord(json_path, "id mismatch", f"its id field says {meta['id']!r}, its file name "
                                                      f"{json_path.stem!r}")
    rid, _ = expected_id(meta, json_path)
    if rid is not None and rid != meta["id"]:
        raise DamagedRecord(json_path, "id mismatch", f"its id {meta['id']} does not match its configuration, which "
                                                      f"hashes to {rid} (edited by hand, or made under another store "
                                                      f"version than STORE_VERSION={STORE_VERSION})")
    problems = array_problems(meta, arrays)
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise DamagedRecord(json_path.with_suffix(".npz"), "wrong arrays",
                            "its arrays disagree with the image counts of its metrics: "
                            f"{'; '.join(problems[:3])}{more}")


def check_stored(run_ids) -> dict[str, RunRecord]:
    """Load (and so check) every stored record among ``run_ids``, each once: ``{run id: record}``; the first
    damaged one raises :class:`DamagedRecord`. What a batch of runs does before it trains anything (and then
    uses, instead of reading the records again)."""
    loaded = {}
    for rid in dict.fromkeys(run_ids):
        if find(rid) is not None:
            loaded[rid] = RunRecord.load(rid)
            warn_other_versions(loaded[rid])
    return loaded


class SaveFailed(OSError):
    """A run's record or checkpoint could not be written (a full disk, a read-only store); ``errno`` is the cause's.

    The run's checkpoint is kept: asked again once the cause is fixed, the run resumes from its last checkpoint.
    """


def save_failed(exc: OSError, what: str, checkpoint: Path) -> SaveFailed:
    """:class:`SaveFailed` for ``exc``: ``what`` failed, the cause, and where the run resumes from."""
    cause = exc.strerror or str(exc)
    if checkpoint.exists():
        then = f"it resumes from its last checkpoint, {checkpoint}, kept"
    else:
        then = "it trains again from the start (no checkpoint was written yet: ANISO_CHECKPOINT_EVERY)"
    message = (f"{what} ({cause}); once there is space again (or the store is writable), ask for the run again "
               f"and {then}")
    return SaveFailed(exc.errno, message) if exc.errno is not None else SaveFailed(message)


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
    import cv2  # heavy (cv2): loaded where it is used  # noqa: PLC0415
    import scipy  # heavy (scipy): loaded where it is used  # noqa: PLC0415
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415
    import torchvision  # heavy (torchvision): loaded where it is used  # noqa: PLC0415


    return {"python": platform.python_version(), "aniso": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "opencv": cv2.__version__}


def provenance(device: str, precision: str) -> dict:
    """Seedless provenance: library versions, commit, device, precision, threads, CPU, and the numeric kernels'
    fingerprint (:func:`aniso.runs.kernels.fingerprint`: what decides bit-identity; the CPU's name does not)."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    dev = device
    if device.startswith("cuda"):
        dev = f"{device} ({torch.cuda.get_device_name(0)})"
    return {"commit": _git_commit(), "device": dev, "precision": precision, "torch_threads": torch.get_num_threads(),
            "versions": installed_versions(), "machine": platform.machine(), "cpu": _cpu_model(),
            "kernels": fingerprint(device)}


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
