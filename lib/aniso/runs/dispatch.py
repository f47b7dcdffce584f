"""Running many configurations: one after another in this process (the default), or as Ray tasks.

Serial (``workers`` None or 1, no address) imports no Ray and stops at the first failure. Parallel runs each
missing run as a Ray task (:mod:`~aniso.runs.cluster`) on a local cluster or a running one; the run store stays
the only place results live: a task trains and stores its run (under its claim, :mod:`~aniso.runs.claims`) and
the driver reads the record back from the store. A Ray task's record is bit for bit the serial one (same
configuration, same torch thread count, same environment); only its times differ.
"""

from __future__ import annotations

from typing import Iterable

from .cluster import RunsFailed, check_same_run, connected, parallel, sweep
from .config import RunConfig, config_id
from .progress import SweepProgress, run_images
from .store import RunRecord, check_stored, find, read_dirs, warn_other_versions
from .training import run

__all__ = ["run_many"]


def run_many(configs: Iterable[RunConfig], progress: bool = True, extra_meta=None, workers: int | None = None,
             ray_address: str | None = None) -> list[RunRecord]:
    """Run (or load) several configurations with one overall progress bar; records in the order given.

    ``extra_meta``: ``None``, or one dict per configuration stored with its record. ``workers`` > 1 or
    ``ray_address`` (``"host:port"`` of a cluster started with ``ray start``, or ``"auto"``) trains the missing
    runs in parallel through Ray, at most ``workers`` at once; a configuration given twice trains once. Every run
    that fails is reported with its configuration and traceback, and once the others have finished
    :class:`~aniso.runs.cluster.RunsFailed` lists them all.

    Every stored record among them is loaded first: a damaged one raises
    :class:`~aniso.runs.store.DamagedRecord` (naming the file and the remedy) before anything trains.
    """

    configs = list(configs)
    metas = list(extra_meta) if extra_meta is not None else [None] * len(configs)
    if len(metas) != len(configs):
        raise ValueError(f"run_many: extra_meta has {len(metas)} entries for {len(configs)} configurations")
    loaded = check_stored(config_id(c) for c in configs)
    if not parallel(workers, ray_address):
        return _serial(configs, metas, progress, loaded)

    with connected(workers, ray_address, threads=max((c.threads for c in configs), default=1)):
        return _parallel(configs, metas, progress, workers, loaded)


def _serial(configs: list[RunConfig], metas: list, progress: bool, loaded: dict) -> list[RunRecord]:
    """Each run in turn: a loaded record as it is, a missing one trained (a configuration given twice, once)."""

    ids = [config_id(c) for c in configs]
    bar = SweepProgress(len(configs), desc=f"runs ({len(set(ids) - loaded.keys())} to train)", progress=progress)
    out = []
    try:
        for c, m, rid in zip(configs, metas, ids):
            if rid in loaded:
                bar.skip()
            else:
                loaded[rid] = run(c, progress=progress, extra_meta=m)
                bar.finished(run_images(loaded[rid].meta))
            out.append(loaded[rid])
    finally:
        bar.close()
    return out


def _train_one(config: RunConfig, meta: dict | None, expected: str) -> dict:
    """What a Ray task does: train and store one run (or find it stored); returns its id and training images."""

    check_same_run(config, expected)
    record = run(config, progress=False, extra_meta=meta)
    return {"id": expected, "images": run_images(record.meta)}


def _parallel(configs: list[RunConfig], metas: list, progress: bool, workers: int | None,
              loaded: dict) -> list[RunRecord]:
    """Dispatch every distinct missing run; then every record, in the order given (the new ones read from the
    store)."""

    ids = [config_id(c) for c in configs]
    first = {}
    for i, rid in enumerate(ids):
        first.setdefault(rid, i)
    missing = [i for rid, i in first.items() if rid not in loaded]
    tasks = [(configs[i], (configs[i], metas[i], ids[i])) for i in missing]
    outcomes = sweep(_train_one, tasks, workers, progress, desc="runs", done=len(first) - len(missing))
    failures = [(c, o.error) for (c, _), o in zip(tasks, outcomes) if not o.ok]
    if failures:
        raise RunsFailed(failures, len(first))
    for i in missing:
        loaded[ids[i]] = _load(ids[i])
    return [loaded[rid] for rid in ids]


def _load(rid: str) -> RunRecord:
    """A record a task stored, read back here (not retrained: a missing one means the store is not shared)."""
    if find(rid) is None:
        raise FileNotFoundError(f"run {rid} was trained by a Ray task but is not in the store here "
                                f"({', '.join(map(str, read_dirs()))}): every node must write to the same, shared "
                                f"run store (ANISO_RUNS_DIR) and cache (ANISO_CACHE)")
    record = RunRecord.load(rid)
    warn_other_versions(record)
    return record
