"""One GPU allocation turned into finished converged runs, in instalments: a benchmark, then the converged profile's
missing runs in priority order until a time limit; the next allocation continues where this one stopped.

    python ci/gpu_session.py --out OUT --time-limit 480 --resume results-gpu/runs [--runs-per-gpu 3] [--bench 150]
    python ci/gpu_session.py --out /tmp/gs --tiny --time-limit 60      # smoke size on the CPU, to test it

Steps, each logged in ``OUT/log.txt``:

1. ``env.json``: the GPU, the driver, library versions, CPU count;
2. with ``--bench SECONDS``: ``bench_cuda.json``, from ``bench/train.py`` (bare model, the runner's loop, packed
   runs, a run's fixed cost) for ResNet18 at 128 px and ResNet50 at 256 px, stopped after SECONDS;
3. the converged profile's runs that neither this session's store nor ``--resume`` (the committed
   ``results-gpu/runs``) holds, group by group in :func:`priority` order (once the calibration chose an error
   model, the calibrated benchmark's converged cells first: they are stored beside the others, and
   ``converged-calibrated`` reads them there): a group's learning rates first (every
   search advanced together), then its runs; ``--runs-per-gpu`` worker processes share the GPU, each keeping its
   data on the device from one run to the next. No run starts once the time left is shorter than the last runs
   took; at the time limit the runs in flight stop at their next epoch's end, and what they trained is lost: only
   finished records reach the store;
4. ``store.tar.gz``: this session's new records and tuning results (``runs/...``); unpack it into ``results-gpu/``
   (``tar xzf OUT/store.tar.gz -C results-gpu``) and commit.

Runs are the library's own (:func:`aniso.runs.run`), stored as usual; nothing here changes a result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
import traceback

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "lib"), os.environ.get("PYTHONPATH")) if p)

from aniso import experiments, suite  # noqa: E402  (after lib/ is on the path)
from aniso.experiments import gpu_priority  # noqa: E402
from aniso.runs import Interrupt, config_id, run, stored, tuning  # noqa: E402
from aniso.runs.progress import SweepProgress, run_images  # noqa: E402
from aniso.runs.store import use_store  # noqa: E402

#: What is trained first: (what, [(notebook, which of its cells)], profile or None for the converged one); a cell
#: shared by several groups trains in the first. The calibrated benchmark's check and core cells (once chosen), the
#: 300W loss comparison (Tables 1, 5 and 6, Figure 2), then the ablation, the mechanism study, the rest.
def priority() -> list:
    """The session's groups, in order (:func:`aniso.experiments.gpu_priority`)."""

    return gpu_priority()


def log(out: Path, msg: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    with open(out / "log.txt", "a") as fh:
        fh.write(line + "\n")


def environment(out: Path) -> dict:
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    info = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), capability=list(torch.cuda.get_device_capability(0)),
                    memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True)
        info["nvidia_smi"] = smi.stdout.strip()
    (out / "env.json").write_text(json.dumps(info, indent=1))
    return info


def bench(out: Path, args) -> None:
    """``bench/train.py`` within ``--bench`` seconds: ResNet18 at 128 px (the converged profile's batch, 64; one and
    three packed runs), a run's fixed cost, and ResNet50 at 256 px (the paper profile's batch, 32; one and two)."""
    common = [sys.executable, str(REPO / "bench" / "train.py")]
    jobs = ([["--device", "cpu", "--sizes", "32", "--steps", "3", "--batch", "8", "--faces", "0.02", "--pack", "1",
              "2", "--seconds", "2"]] if args.tiny else
            [["--device", "cuda", "--archs", "resnet18", "--sizes", "128", "--batch", "64", "--steps", "60",
              "--pack", "1", "3", "--seconds", "6", "--fixed-cost", "--faces", "0.3"],
             ["--device", "cuda", "--archs", "resnet50", "--sizes", "256", "--batch", "32", "--steps", "40",
              "--pack", "1", "2", "--seconds", "6", "--faces", "0.3"]])
    results, t0 = [], time.time()
    for i, job in enumerate(jobs):
        left = args.bench - (time.time() - t0)
        if left < 20:
            log(out, f"bench: no time left for {' '.join(job)}")
            break
        path = out / f"bench_{i}.json"
        log(out, f"bench {' '.join(job)}")
        try:
            proc = subprocess.run([*common, *job, "--json", str(path)], timeout=left, capture_output=True, text=True)
            log(out, proc.stdout.strip() + (f"\nSTDERR: {proc.stderr[-2000:]}" if proc.returncode else ""))
        except subprocess.TimeoutExpired as exc:
            log(out, f"bench stopped after {left:.0f} s; it had printed:\n{exc.stdout or ''}")
            break
        if path.exists():
            results.append(json.loads(path.read_text()))
            path.unlink()
    (out / "bench_cuda.json").write_text(json.dumps(results, indent=1))


# ----------------------------------------------------------------------------- worker processes

def _score(config, stop_at: float):
    """Worker: one learning rate's score (validation NME, inf when it diverges); None when out of time."""

    if time.time() > stop_at:
        return None
    return tuning.score(config)


def _train(config, meta, stop_at: float):
    """Worker: one run (stored as usual); stopped at an epoch's end after ``stop_at`` (then nothing is stored)."""

    def stop(epoch, row):
        if time.time() > stop_at:
            raise Interrupt(f"time limit reached after epoch {epoch}")

    t0 = time.time()
    try:
        rec = run(config, progress=False, extra_meta=meta, on_epoch_end=stop)
    except Interrupt:
        return None
    return {"id": rec.id, "seconds": time.time() - t0, "images": run_images(rec.meta),
            "ips": rec.meta.get("images_per_second"), "fixed": rec.meta.get("timing", {}).get("fixed")}


class OutOfTime(Exception):
    """The session's time limit came before the work did."""


class Pool:
    """``workers`` processes sharing the device; no work starts after ``stop_at`` (seconds since the epoch)."""

    def __init__(self, out: Path, workers: int, stop_at: float):
        self.out, self.stop_at, self.recent = out, stop_at, []
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))

    def score_many(self, configs) -> list:
        if time.time() > self.stop_at:
            raise OutOfTime()
        scores = list(self.pool.map(_score, configs, [self.stop_at] * len(configs)))
        if any(s is None for s in scores):
            raise OutOfTime()
        return scores

    def train(self, items: list, progress) -> None:
        """Train ``(config, meta)`` items, ``workers`` at a time; log each and the sweep's progress."""
        todo, running = list(items), {}
        while todo or running:
            while todo and len(running) < self.pool._max_workers and self._time_for_one():
                config, meta = todo.pop(0)
                running[self.pool.submit(_train, config, meta, self.stop_at)] = config
            if not running:
                raise OutOfTime(f"no time left for another run (the last ones took up to {self._expected():.0f} s)")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                config = running.pop(f)
                try:
                    r = f.result()
                except Exception as exc:  # reported; the others go on
                    log(self.out, f"  FAILED {config.to_dict()}: {exc!r}")
                    progress.finished(0, ok=False)
                    continue
                if r is None:
                    log(self.out, f"  stopped by the time limit: {config.loss}, seed {config.seed} (nothing stored)")
                    continue
                self.recent = (self.recent + [r["seconds"]])[-self.pool._max_workers:]
                progress.finished(r["images"])
                log(self.out, f"  done {r['id']} in {r['seconds']:.1f} s ({r['ips'] or 0:,.0f} img/s training, "
                              f"{r['fixed'] or 0:.1f} s besides training); {progress.line()}")

    def _expected(self) -> float:
        """What the next run should take: the longest of the last few (one per worker), so that a first run that
        also generated its data set does not hold back the ones after it."""
        return max(self.recent, default=0.0)

    def _time_for_one(self) -> bool:
        return time.time() + self._expected() < self.stop_at

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------- the converged instalment

def group_cells(profile: str, parts) -> dict:
    """``{cell key: (notebook, cell)}`` of one priority group."""

    cells = {}
    for nb, keep in parts:
        for key, cell in experiments.notebook_cells(nb, profile).items():
            if keep is None or keep(cell):
                cells.setdefault(key, (nb, cell))
    return cells


def plan_group(profile: str, device: str, cells: dict, tune: bool) -> list:
    """The group's ``(cell, config, meta)`` per cell and seed (tuned learning rates when ``tune``)."""

    out = []
    for nb in dict.fromkeys(nb for nb, _ in cells.values()):
        keys = [k for k, (n, _) in cells.items() if n == nb]
        for cell, configs, metas in experiments.plan(nb, profile=profile, device=device, tune=tune, progress=False,
                                                     keys=keys).values():
            out += [(cell, c, m) for c, m in zip(configs, metas)]
    return out


def converged(out: Path, args, pool: Pool, groups=None) -> None:
    """The runs of ``groups`` (default: every group of :func:`priority`), their learning rates first."""

    seen: set = set()
    for what, parts, own in priority():  # a cell trains in the first group that has it
        profile = "smoke" if args.tiny else (own or "converged")
        cells = {k: v for k, v in group_cells(profile, parts).items() if (profile, k) not in seen}
        seen |= {(profile, k) for k in cells}
        if groups is not None and what not in {g[0] for g in groups}:
            continue
        if not cells:
            continue
        bases = [suite.tuning_base(cell, c) for cell, c, _ in plan_group(profile, args.device, cells, tune=False)
                 if suite.is_tuned(cell, profile)]
        problems = tuning.pending(bases)
        log(out, f"{what}: {len(cells)} cells; {len(problems)} learning-rate searches to run")
        for result in tuning.search_all(problems, pool.score_many) if problems else []:
            log(out, f"  {result.loss}, {result.arch}: {result.summary()}")
        items = {config_id(c): (c, m) for _, c, m in plan_group(profile, args.device, cells, tune=True)}
        todo = [item for item in items.values() if not stored(item[0])]
        progress = SweepProgress(len(items), len(items) - len(todo), what, progress=False)
        log(out, f"  {len(items)} runs, {len(items) - len(todo)} already stored")
        pool.train(todo, progress)


def converged_groups(out: Path, args, pool: Pool) -> None:
    """:func:`converged`, a group that breaks (logged) leaving the next ones to run; stops at the time limit."""
    for group in priority():
        try:
            converged(out, args, pool, [group])
        except OutOfTime:
            raise
        except Exception:

            log(out, f"GROUP FAILED ({group[0]}):\n{traceback.format_exc()}")


def pack(out: Path, store: Path) -> None:
    """The store as one tar.gz (``runs/...``), split into parts below the 16 MiB a file can bring back."""
    tar = out / "store.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(store, arcname="runs", filter=lambda ti: None if "/claims" in ti.name else ti)
    data = tar.read_bytes()
    part = 15 * 2**20
    if len(data) > part:
        tar.unlink()
        for i in range(0, len(data), part):
            (out / f"store.tar.gz.part{i // part}").write_bytes(data[i:i + part])


START = time.time()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="what comes back: env, bench, log, the packed store (a few files)")
    ap.add_argument("--work", default="/tmp/gpu-session", help="this session's store and cache")
    ap.add_argument("--resume", action="append", default=[], help="a store whose runs need not be trained again "
                    "(e.g. results-gpu/runs); may be given several times")
    ap.add_argument("--time-limit", type=float, default=480.0, help="seconds from the start after which no work "
                    "starts and the runs in flight stop")
    ap.add_argument("--bench", type=float, default=0.0, help="seconds for the benchmark (0: none)")
    ap.add_argument("--runs-per-gpu", type=int, default=3, help="worker processes sharing the device")
    ap.add_argument("--tiny", action="store_true", help="smoke-sized, on the CPU: to test this script")
    args = ap.parse_args(argv)
    args.device = "cpu" if args.tiny else "cuda"
    out, work = Path(args.out).resolve(), Path(args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = work / "runs"
    store.mkdir(parents=True, exist_ok=True)

    use_store(store, args.resume)
    os.environ.update(ANISO_CACHE=str(work / "cache"), ANISO_CHECKPOINT_EVERY="1e9")
    log(out, f"environment: {environment(out)}")
    stop_at = START + args.time_limit
    if args.bench > 0:
        try:
            bench(out, args)
        except Exception:  # logged; the runs still come

            log(out, f"BENCH FAILED:\n{traceback.format_exc()}")
    pool = Pool(out, args.runs_per_gpu, stop_at)
    try:
        converged_groups(out, args, pool)
        log(out, "every group of the converged profile done")
    except OutOfTime as exc:
        log(out, f"time limit reached ({args.time_limit:.0f} s{': ' + str(exc) if str(exc) else ''}): the runs not "
                 f"finished are left for the next session")
    finally:
        pool.close()
        pack(out, store)
        log(out, f"packed {sum(1 for _ in store.glob('*.json'))} new runs into {out / 'store.tar.gz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
