"""The progress of a sweep as a whole: runs done of runs planned, images per second, time left.

A long sweep (hundreds of runs, several at once) needs more than each run's own bar: :class:`SweepProgress`
keeps one line for all of it, on screen (tqdm) and as text for logs (:meth:`SweepProgress.line`).
"""

from __future__ import annotations

import time

__all__ = ["SweepProgress", "run_images"]


def run_images(meta: dict) -> int:
    """Training images a finished run went through (faces of its training split x epochs), from its record."""
    return int(meta.get("data", {}).get("n_train", 0)) * int(meta.get("config", {}).get("epochs", 0))


class SweepProgress:
    """Counts finished runs and their training images; estimates the time left from the pace so far.

    ``total``: runs planned; ``done``: already finished before this sweep (stored), which count as done but not
    towards the pace. The estimate assumes the remaining runs cost what the finished ones did on average.
    """

    def __init__(self, total: int, done: int = 0, desc: str = "runs", progress: bool = True):
        from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

        self.total, self.done, self.new, self.images = total, done, 0, 0
        self.failed = 0
        self.started = time.time()
        self.bar = tqdm(total=total, initial=done, desc=desc, disable=not progress, smoothing=0)

    def finished(self, images: int = 0, ok: bool = True) -> None:
        """One run ended (``ok=False``: it failed; it counts as done, not towards the images)."""
        self.done += 1
        self.new += 1
        self.images += images if ok else 0
        self.failed += not ok
        self.bar.update(1)
        self.bar.set_postfix_str(self.rates())

    def skip(self) -> None:
        """One planned run was found stored: done, without counting towards the pace."""
        self.done += 1
        self.bar.update(1)

    def rates(self) -> str:
        elapsed = max(time.time() - self.started, 1e-9)
        left = self.total - self.done
        eta = elapsed / self.new * left if self.new else float("nan")
        eta_text = f"{eta / 60:.1f} min" if eta == eta else "?"
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.images / elapsed:,.0f} img/s, ~{eta_text} left{failed}"

    def line(self) -> str:
        """``"12/48 runs done, 8,950 img/s, ~2.1 min left"``."""
        return f"{self.done}/{self.total} runs done, {self.rates()}"

    def close(self) -> None:
        self.bar.close()
