"""Running many configurations: one after another in this process (the default)."""

from __future__ import annotations

from typing import Iterable

from .config import RunConfig
from .store import RunRecord, stored
from .training import run

__all__ = ["run_many"]


def run_many(configs: Iterable[RunConfig], progress: bool = True, extra_meta=None) -> list[RunRecord]:
    """Run (or load) several configurations with one overall progress bar; records in the order given.

    ``extra_meta``: ``None``, or one dict per configuration stored with its record.
    """
    from tqdm.auto import tqdm

    configs = list(configs)
    metas = list(extra_meta) if extra_meta is not None else [None] * len(configs)
    todo = sum(not stored(c) for c in configs)
    out = []
    with tqdm(total=len(configs), desc=f"runs ({todo} to train)", disable=not progress) as bar:
        for c, m in zip(configs, metas):
            out.append(run(c, progress=progress, extra_meta=m))
            bar.update(1)
    return out
