"""Ray: the connection, what each run asks for, and a sweep of independent tasks with one progress bar.

Only imported for a parallel sweep (``workers`` > 1 or a Ray address); the serial path never imports Ray.

* :func:`connected` joins a running cluster (``ray_address``, e.g. one started with ``ray start`` on Slurm or
  Kubernetes as Ray documents it) or starts a local one on this machine. A local cluster gets
  ``num_cpus = workers x threads``: ``workers`` CPU runs of ``threads`` torch threads each fit at once, even on a
  machine with fewer cores (they then share them), and no more.
* :func:`resources`: a run on CUDA asks for one GPU, or ``1 / K`` of one with ``ANISO_RUNS_PER_GPU=K`` (K runs
  share each GPU: one run of a small model leaves most of a large GPU idle), and one CPU; a run on the CPU for
  ``threads`` CPUs, its torch thread count, so that Ray never puts more runs on a machine than it has cores for.
* :func:`worker_env`: the environment every task runs with: the run store, the cache, the claim expiry, the
  OpenMP settings and thread counts of this process, and ``PYTHONPATH`` with this copy of ``aniso`` (every node
  needs the repository at the same path, e.g. on the shared filesystem, or ``aniso`` installed).
* :func:`sweep` runs ``fn(*args)`` for each task, at most ``workers`` at once, and returns every outcome; a
  task that fails is reported (configuration and traceback) as soon as it fails, and the others go on.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import aniso

from .config import RunConfig, config_id, resolve_device
from .progress import SweepProgress
from .store import cache_dir, read_dirs, runs_dir

__all__ = ["parallel", "connected", "resources", "runs_per_gpu", "worker_env", "check_same_run", "Outcome",
           "RunsFailed", "sweep"]

#: Passed on to every task when set here: the store, the cache, claims, OpenMP and BLAS threads.
PASSED_ENV = ("ANISO_CLAIM_EXPIRY", "ANISO_CHECKPOINT_EVERY", "ANISO_RUNS_PER_GPU", "GOMP_SPINCOUNT", "OMP_NUM_THREADS",
              "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG")


def parallel(workers: int | None, ray_address: str | None) -> bool:
    """Whether a sweep goes through Ray: more than one worker, or a cluster address. Bad values raise."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"run setting workers={workers!r} is invalid: expected a positive integer (or None)")
    if ray_address is not None and (not isinstance(ray_address, str) or not ray_address.strip()):
        raise ValueError(f"run setting ray_address={ray_address!r} is invalid: expected 'host:port', 'auto' or None")
    return (workers or 1) > 1 or ray_address is not None


def worker_env() -> dict[str, str]:
    """Environment variables every Ray task gets (absolute paths, so a task's working directory does not matter)."""

    lib = str(Path(aniso.__file__).resolve().parents[1])
    env = {"ANISO_RUNS_DIR": str(runs_dir().resolve()), "ANISO_CACHE": str(cache_dir().resolve()),
           "ANISO_READ_RUNS": os.pathsep.join(str(d.resolve()) for d in read_dirs()[1:]),
           "PYTHONPATH": os.pathsep.join(p for p in (lib, os.environ.get("PYTHONPATH", "")) if p)}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    return env


def runs_per_gpu() -> int:
    """How many runs share one GPU (``ANISO_RUNS_PER_GPU``, default 1); a bad value raises."""
    text = os.environ.get("ANISO_RUNS_PER_GPU", "1")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"ANISO_RUNS_PER_GPU={text!r} is invalid: expected a positive integer")
    return int(text)


def resources(config: RunConfig) -> dict:
    """What one run asks Ray for: ``{"num_gpus": 1 / runs_per_gpu(), "num_cpus": 1}`` on CUDA, ``{"num_cpus":
    threads}`` on the CPU. A run's numbers do not depend on what shares its GPU (deterministic kernels, no
    autotuning: :func:`aniso.runs.training.configure_torch`).

    The device is resolved here, on the driver, as the run's id is; a device ``cuda:N`` is refused (Ray assigns
    each task its GPU, which the task then sees as ``cuda``).
    """
    device = resolve_device(config.device)
    if device.startswith("cuda:"):
        raise ValueError(f"run setting device={config.device!r} is invalid for a Ray sweep: expected 'cuda', 'cpu' "
                         f"or 'auto' (Ray gives each run its own GPU)")
    if device == "cuda":
        return {"num_gpus": 1.0 / runs_per_gpu(), "num_cpus": 1}
    return {"num_cpus": config.threads}


def check_same_run(config: RunConfig, expected: str) -> None:
    """In a task: raise unless ``config`` is run ``expected`` here too (the driver computed the id)."""
    rid = config_id(config)
    if rid != expected:  # e.g. device "auto": a CPU on the driver, a GPU on this node
        raise RuntimeError(f"run {expected} (device {config.device!r}) is run {rid} on {socket.gethostname()}: the "
                           f"device or precision resolves differently on the driver and on this node; give "
                           f"device='cuda' or 'cpu' explicitly")


@contextmanager
def connected(workers: int | None, ray_address: str | None, threads: int = 1) -> Iterator[None]:
    """Inside: Ray is initialised (a running session is reused; one started here is shut down on leaving).

    ``ray_address``: join that cluster. Else a local cluster with ``num_cpus = workers x threads`` (``threads``:
    the largest thread count of the runs to come); it finds this machine's GPUs itself.
    """
    import ray  # heavy (ray): loaded where it is used  # noqa: PLC0415

    if ray.is_initialized():
        yield
        return
    if ray_address is not None:
        ray.init(address=ray_address, log_to_driver=True)
    else:
        ray.init(num_cpus=max(1, (workers or 1) * threads), include_dashboard=False, log_to_driver=True)
    try:
        yield
    finally:
        ray.shutdown()


@dataclass
class Outcome:
    """One task's result (``ok``) or failure (``error``: its traceback), where it ran and how long it took (s)."""

    ok: bool
    value: object = None
    error: str = ""
    host: str = ""
    seconds: float = 0.0


class RunsFailed(RuntimeError):
    """Some runs of a sweep failed; ``failures`` holds ``(config, traceback)`` pairs. The others finished."""

    def __init__(self, failures: list[tuple[RunConfig, str]], total: int):
        self.failures = failures
        parts = [f"{len(failures)} of {total} runs failed (the others finished and are stored; running the sweep "
                 f"again trains only what is missing):"]
        for config, error in failures:
            parts.append(f"--- run {config.to_dict()}\n{error.rstrip()}")
        super().__init__("\n".join(parts))


def _call(fn: Callable, args: tuple) -> Outcome:
    """What a Ray task runs: ``fn(*args)``, its exception caught with its traceback (a task never raises)."""
    t0 = time.time()
    _interruptible()
    try:
        value = fn(*args)
    except Exception:
        return Outcome(False, error=traceback.format_exc(), host=socket.gethostname(), seconds=time.time() - t0)
    return Outcome(True, value, host=socket.gethostname(), seconds=time.time() - t0)


def _interruptible() -> None:
    """Let ``ray.cancel`` interrupt this worker: it sends SIGINT, which a cluster started from a background job
    (``cmd &`` in a script, CI) passes on ignored, and an ignored SIGINT would let a cancelled run train to its end."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def sweep(fn: Callable, tasks: Sequence[tuple[RunConfig, tuple]], workers: int | None, progress: bool = True,
          desc: str = "runs", done: int = 0) -> list[Outcome]:
    """Run ``fn(*args)`` for each ``(config, args)`` as a Ray task asking for :func:`resources` ``(config)``.

    At most ``workers`` tasks are in flight (``None``: as many as the cluster takes). Outcomes come back in the
    order of ``tasks``. One progress line for the whole sweep (:class:`~aniso.runs.progress.SweepProgress`):
    ``done`` (already stored) plus finished tasks of the total, the training images per second of the tasks
    that return ``{"images": n, ...}``, and the time left; each failure is printed when it happens, with its
    configuration and traceback. Must run inside :func:`connected`.
    """
    import ray  # heavy (ray): loaded where it is used  # noqa: PLC0415
    from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

    remote, env = ray.remote(_call), {"env_vars": worker_env()}
    options = [resources(c) for c, _ in tasks]  # a bad device fails here, before anything is submitted

    def submit(i: int):
        # Ray retries a task whose worker died; the retry waits for the dead worker's claim to expire
        return remote.options(runtime_env=env, max_retries=3, **options[i]).remote(fn, tasks[i][1])

    limit = workers or len(tasks)
    outcomes: list[Outcome | None] = [None] * len(tasks)
    pending: dict = {}
    queue = iter(range(len(tasks)))
    bar = SweepProgress(done + len(tasks), done, desc, progress)
    try:
        for i in queue:
            pending[submit(i)] = i
            if len(pending) >= limit:
                break
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                outcomes[i] = ray.get(ready[0])
            except ray.exceptions.RayError as e:  # the worker died (killed, out of memory, node lost)
                outcomes[i] = Outcome(False, error=f"{type(e).__name__}: {e}")
            if not outcomes[i].ok:
                tqdm.write(f"FAILED ({desc}) on {outcomes[i].host or '?'}: {tasks[i][0].to_dict()}\n"
                           f"{outcomes[i].error}")
            value = outcomes[i].value
            bar.finished(value.get("images", 0) if isinstance(value, dict) else 0, outcomes[i].ok)
            nxt = next(queue, None)
            if nxt is not None:
                pending[submit(nxt)] = nxt
    except KeyboardInterrupt:
        _cancel(list(pending))
        raise
    finally:
        bar.close()
    return outcomes


def _cancel(refs: list) -> None:
    """Interrupt running tasks: each gets a ``KeyboardInterrupt``, so its run keeps its checkpoint and releases its
    claim (a killed worker's claim would block the run until it expires). Waits up to 30 s for them."""
    import ray  # heavy (ray): loaded where it is used  # noqa: PLC0415

    for ref in refs:
        ray.cancel(ref)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=30)
