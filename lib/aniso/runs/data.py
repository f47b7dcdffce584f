"""The faces a run sees: its data folder, the validation split, the evaluation set.

* :func:`prepare_data` returns the data set's folder, generating the
  synthetic benchmark into the cache first when the run asks for it and it is
  not there yet (the only place that generates data).
* :func:`validation_split` carves the validation faces from the training
  set: a fixed fraction, drawn with the split seed, never from a test subset.
* :func:`load_run_data` opens every list the run needs and checks that every
  image it will read decodes, before any model exists.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Record, dataset_spec, open_dataset
from ..data.truth import TRUTH_FILE
from ..synthetic import GENERATOR_VERSION, generate
from ..synthetic.noise import error_model
from .config import RunConfig
from .store import cache_dir

__all__ = ["synthetic_root", "prepare_data", "data_root", "validation_split", "RunData", "load_run_data", "check_root",
           "check_images", "VAL_SUBSET"]

#: Name of the validation split in run records (a tuning run's only evaluated subset).
VAL_SUBSET = "val"


def synthetic_root(config: RunConfig) -> Path:
    """Cache folder of the synthetic set a run uses (keyed by everything that changes its files)."""

    name = (f"{config.dataset}-g{GENERATOR_VERSION}-seed{config.synth_seed}-scale{config.synth_scale:g}"
            f"-px{config.synth_image_size}-noise{config.synth_noise:g}")
    if config.synth_errors != RunConfig.synth_errors:
        name += f"-errors{config.synth_errors}"
    return cache_dir() / "synthetic" / name


def data_root(config: RunConfig) -> Path:
    """The data set's folder (``config.root``, or the synthetic set's cache folder); nothing is generated."""
    return Path(config.root) if config.root is not None else synthetic_root(config)


def prepare_data(config: RunConfig, progress: bool = True) -> Path:
    """:func:`data_root`, after generating the synthetic set into the cache if it is not there yet."""
    if config.root is not None:
        return Path(config.root)

    root = synthetic_root(config)
    if (root / TRUTH_FILE).exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    # Workers that start together (Ray tasks, processes) need the same set: one generates it, the others wait
    # on the lock and then find it (measured on a GPU lease: five processes generating one set at once took
    # minutes instead of seconds).
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / TRUTH_FILE).exists():
            if root.exists():  # an earlier generation died half-way: start again
                shutil.rmtree(root)
            # every core draws faces: the tree does not depend on how many
            generate(config.dataset, root, seed=config.synth_seed, scale=config.synth_scale,
                     image_size=config.synth_image_size, progress=progress, noise_scale=config.synth_noise,
                     noise=error_model(config.synth_errors),
                     workers=os.cpu_count() or 1)
    return root


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` sorted indices of ``n`` training faces; ``val`` is ``round(fraction * n)`` (at least 1)."""
    if n < 2:
        raise ValueError(f"validation_split: need at least 2 training faces to hold one out, got {n}")
    n_val = min(n - 1, max(1, int(round(fraction * n))))
    perm = np.random.default_rng([int(seed), 7919]).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


@dataclass
class RunData:
    """The faces of one run.

    ``train`` and ``val`` partition the training subset. ``eval_records``
    holds every distinct evaluated face once; ``subset_rows[s]`` are the rows
    of subset ``s`` in it (``"val"`` for a tuning run, else the test subsets).
    """

    root: Path
    train: list[Record]
    val: list[Record]
    eval_records: list[Record]
    subset_rows: dict[str, np.ndarray]


def _dedupe(subsets: dict[str, list[Record]]) -> tuple[list[Record], dict[str, np.ndarray]]:
    """Evaluate each distinct face once, whatever subsets it belongs to."""
    records, index, rows = [], {}, {}
    for s, recs in subsets.items():
        r_rows = []
        for r in recs:
            if r.key not in index:
                index[r.key] = len(records)
                records.append(r)
            r_rows.append(index[r.key])
        rows[s] = np.asarray(r_rows, dtype=np.int64)
    return records, rows


# Subsets of synthetic sets this process has read: the cache writes such a set once (its truth file last) and
# never changes it, so later runs on it need not parse thousands of annotation files again (measured: 0.7-1.5 s
# of a run's fixed cost on 300W). A real data set is read every time: its files may be edited between runs.
_OPENED: dict = {}


def _open(dataset: str, root: Path, subset: str, synthetic: bool) -> list[Record]:
    if not synthetic:
        return open_dataset(dataset, root, subset)

    key = (dataset, str(Path(root).resolve()), subset, (Path(root) / TRUTH_FILE).stat().st_mtime_ns)
    if key not in _OPENED:
        _OPENED[key] = open_dataset(dataset, root, subset)
    return list(_OPENED[key])


def load_run_data(config: RunConfig, root: Path) -> RunData:
    """Open the lists a run needs and split off the validation faces (no image is decoded here)."""
    spec = dataset_spec(config.dataset)
    synthetic = config.root is None
    train_all = _open(config.dataset, root, config.train_subset, synthetic)
    tr, va = validation_split(len(train_all), config.val_fraction, config.split_seed)
    train, val = [train_all[i] for i in tr], [train_all[i] for i in va]
    if config.evaluate == "val":
        subsets = {VAL_SUBSET: val}
    else:
        subsets = {s: _open(config.dataset, root, s, synthetic) for s in spec.eval_subsets}
    eval_records, rows = _dedupe(subsets)
    return RunData(Path(root), train, val, eval_records, rows)


def check_images(records, progress: bool = False) -> None:
    """Decode every image once; raise naming the first file that is empty or does not decode.

    Cheap next to training (128 px synthetic JPEGs decode at thousands per
    second) and it turns a corrupt file into an error before the first epoch
    instead of a failure half-way through training.
    """
    from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

    seen = set()
    for r in tqdm(records, desc="checking images", disable=not progress, leave=False):
        if r.image_path in seen:
            continue
        seen.add(r.image_path)
        r.load_image()


def check_root(config: RunConfig, progress: bool = False) -> None:
    """Open every annotation list a run of ``config`` reads and decode every image it will read.

    A ``root`` without the release's layout, a malformed annotation or an
    image that is missing, empty or does not decode fails here, with a
    message naming the file, before any run (tuning runs included) starts.
    The synthetic benchmark (``root=None``) is written by the suite itself
    and checked by each run as it loads it.
    """
    if config.root is None:
        return
    spec = dataset_spec(config.dataset)
    records = [r for subset in (config.train_subset, *spec.eval_subsets)
               for r in open_dataset(config.dataset, config.root, subset)]
    check_images(records, progress=progress)
