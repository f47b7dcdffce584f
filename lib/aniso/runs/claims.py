"""Claims on runs: one worker trains a run at a time, across processes and machines that share the store.

(Not to be confused with :mod:`aniso.claims`, the paper's claims: a claim here is a lock on one run.)

A worker about to train run ``<id>`` creates ``<runs_dir>/claims/<id>.claim`` with ``O_CREAT | O_EXCL``:
exactly one creator wins (atomic on a local disk and on NFS v3 and later). The file holds the worker's host,
process id, start time and a random token. While the run trains, a heartbeat thread and every epoch end touch
the file (its mtime); the claim is removed when the run finishes or fails.

A claim whose mtime is older than the expiry (:func:`claim_expiry`: ``ANISO_CLAIM_EXPIRY`` seconds, default
:data:`DEFAULT_EXPIRY` = 15 minutes) belonged to a worker that died (killed, machine lost): another worker
takes it over and resumes the run from its epoch checkpoint in the cache. A claim made in this process's own
pid namespace of this boot of this machine (the file records where, :func:`_where`) whose process is gone is stale
at once: a run killed by hand restarts without waiting for the expiry. A recycled pid only makes the claim look
alive, so the expiry still decides there. A worker that finds a fresh claim
waits, polling, until the record appears (it then loads it) or the claim is released or expires (it then
trains).

Across machines, the run store *and* the cache must be one shared filesystem (NFS, Lustre, CephFS, ...) and the
machines' clocks synchronised (NTP: the expiry is measured against the file's mtime). With separate folders the
claims do not see each other, every machine trains its own copy, and a run taken over by another machine
restarts from scratch instead of resuming from the checkpoint.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from .store import runs_dir

__all__ = ["DEFAULT_EXPIRY", "Claim", "claim_expiry", "claim_path", "claim_status", "try_claim", "acquire"]

#: Seconds without a heartbeat after which a claim is stale (overridden by ``ANISO_CLAIM_EXPIRY``).
DEFAULT_EXPIRY = 15 * 60.0


def claim_expiry() -> float:
    """Seconds after its last heartbeat that a claim expires (``ANISO_CLAIM_EXPIRY`` or :data:`DEFAULT_EXPIRY`)."""
    text = os.environ.get("ANISO_CLAIM_EXPIRY", "")
    if not text:
        return DEFAULT_EXPIRY
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"environment variable ANISO_CLAIM_EXPIRY={text!r} is invalid: expected a number of "
                         f"seconds > 0")
    return value


def claim_path(run_id: str) -> Path:
    """Where the claim on ``run_id`` lives: ``<runs_dir>/claims/<run_id>.claim``."""
    return runs_dir() / "claims" / f"{run_id}.claim"


def _age(path: Path) -> float | None:
    """Seconds since ``path`` was last touched, or ``None`` when it does not exist."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def _holder(path: Path) -> dict:
    """What a claim file says about its holder (``{}`` when it is gone or still being written)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@functools.cache  # fixed for a process's life; asked at every claim check
def _where() -> str | None:
    """This process's pid namespace on this boot of this machine (host, boot id, namespace inode): the scope in
    which a claim's pid can be looked up; ``None`` where the system does not say (not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{socket.gethostname()}|{boot}|{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def _exited(holder: dict) -> bool:
    """Whether the claim's process is known to be gone: it ran where this process runs (:func:`_where`) and no
    process has its pid. Anything else (another machine or container, an old claim without the field, a pid
    that exists, perhaps recycled) is not known: the expiry decides."""
    where, pid = holder.get("where"), holder.get("pid")
    if where is None or where != _where() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only the existence check
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def stale_reason(age: float, expiry: float) -> str:
    """Why a stale claim is stale, in words (the heartbeat's age against the expiry, else its exited process)."""
    return f"no heartbeat for {age:.0f} s, expiry {expiry:g} s" if age > expiry else "its process has exited"


def _stale(path: Path, age: float | None, expiry: float) -> bool:
    """A claim file is stale when its heartbeat is older than the expiry or its process has exited."""
    return age is not None and (age > expiry or (path.suffix == ".claim" and _exited(_holder(path))))


def claim_status(path: Path) -> tuple[float | None, bool, dict]:
    """Read-only look at a claim file (or a ``.takeover`` lock): ``(seconds since its last heartbeat, stale?,
    what it says about its holder)``; the age is ``None`` when the file is gone. Stale: older than
    :func:`claim_expiry`, or its process has exited (:func:`_exited`), so a worker asking for the run would take
    it over."""
    age = _age(path)
    return age, _stale(path, age, claim_expiry()), _holder(path) if path.suffix == ".claim" else {}


class Claim:
    """A claim this process holds; a heartbeat thread keeps it fresh until :meth:`release`."""

    def __init__(self, path: Path, token: str, expiry: float):
        self.path, self.token, self.expiry = path, token, expiry
        self._stop = threading.Event()
        # a few beats per expiry, so that a slow filesystem or a busy machine never lets a live claim expire
        self._beat = threading.Thread(target=self._heartbeat, args=(min(60.0, max(0.1, expiry / 4)),),
                                      name=f"claim {path.stem}", daemon=True)
        self._beat.start()

    def held(self) -> bool:
        """Whether the file is still this claim (not released, not taken over after it expired)."""
        return _holder(self.path).get("token") == self.token

    def refresh(self) -> None:
        """Touch the claim (mtime = now) if it is still ours."""
        if self.held():
            try:
                os.utime(self.path)
            except FileNotFoundError:
                pass

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.refresh()

    def release(self) -> None:
        """Stop the heartbeat and remove the claim (unless someone else holds it now)."""
        self._stop.set()
        self._beat.join()
        if self.held():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _create(path: Path, expiry: float) -> Claim | None:
    """Create the claim file atomically; ``None`` when it exists."""
    token = uuid.uuid4().hex
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "token": token,
                   "where": _where()}, f)
    return Claim(path, token, expiry)


def _take_over(path: Path, expiry: float) -> Claim | None:
    """Replace a stale claim by ours. A ``.takeover`` lock (itself ``O_EXCL``) makes the check-remove-create
    sequence one step: two workers that both saw the claim stale cannot both remove it and both create theirs."""
    lock = path.with_suffix(".takeover")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        age = _age(lock)
        if age is not None and age > expiry:  # a worker died in the middle of a takeover
            lock.unlink(missing_ok=True)
        return None
    try:
        age = _age(path)
        if _stale(path, age, expiry):
            who = _holder(path)
            print(f"run {path.stem}: taking over the claim of {who.get('host', '?')} pid {who.get('pid', '?')} "
                  f"({stale_reason(age, expiry)}); it resumes from its checkpoint", file=sys.stderr, flush=True)
            path.unlink(missing_ok=True)
        return _create(path, expiry)
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def try_claim(run_id: str) -> Claim | None:
    """Claim ``run_id`` now: a new claim, a stale one taken over, or ``None`` when someone holds a fresh one."""
    path = claim_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    expiry = claim_expiry()
    claim = _create(path, expiry)
    if claim is None and _stale(path, _age(path), expiry):
        claim = _take_over(path, expiry)
    return claim


def acquire(run_id: str, done: Callable[[], bool], poll: float | None = None) -> Claim | None:
    """Claim ``run_id``, waiting while another worker holds a fresh claim; ``None`` once ``done()`` is true.

    ``done`` says whether the run no longer needs training (its record is stored). It is checked after every
    successful claim too: a holder that finished between our check and our claim leaves nothing to train.
    ``poll``: seconds between looks (default: a twentieth of the expiry, between 0.2 and 5 s).
    """
    expiry = claim_expiry()
    poll = poll if poll is not None else min(5.0, max(0.2, expiry / 20))
    said = False
    while True:
        claim = try_claim(run_id)
        if claim is not None:
            if done():
                claim.release()
                return None
            return claim
        if done():
            return None
        if not said:
            who = _holder(claim_path(run_id))
            print(f"run {run_id} is being trained by {who.get('host', '?')} pid {who.get('pid', '?')}: waiting for "
                  f"its record (the claim expires {expiry:g} s after its last heartbeat)", file=sys.stderr, flush=True)
            said = True
        time.sleep(poll)
