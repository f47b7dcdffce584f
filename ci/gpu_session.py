"""One GPU session, prepared to fit a short lease: benchmark, a short paper-profile run, the converged runs.

    python ci/gpu_session.py --out OUT [--deadline 520] [--workers 4] [--notebooks table1 table4 table5 figure2]
    python ci/gpu_session.py --out /tmp/gs --tiny     # the same steps at smoke size on the CPU, to test it

Steps, each recorded under OUT (and in OUT/log.txt):

1. ``env.json``: the GPU, the driver, library versions, CPU count;
2. ``bench_cuda.json``: ``bench/train.py`` on the GPU (ResNet18 at 128 px, ResNet50 at 256 px, the full
   loop with loader workers against the bare model);
3. a short run of the paper profile (ResNet50, 256 px, synthetic 300W at release size, ``--paper-epochs``);
4. the runs the selected notebooks need on the ``converged`` profile: learning-rate tuning first, then the
   final runs, ``--workers`` at a time on the one GPU (each a process with its own loader workers), no new
   run started after ``--deadline`` seconds;
5. ``store.tar.gz`` (split into ``store.tar.gz.part*`` of < 15 MiB): the run store and tuning results, to be
   unpacked as ``results-gpu/runs`` and read by the notebooks with ``-p device cuda``.

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
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "lib"), os.environ.get("PYTHONPATH")) if p)


def log(out: Path, msg: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    with open(out / "log.txt", "a") as fh:
        fh.write(line + "\n")


def environment(out: Path) -> dict:
    import torch

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


def bench(out: Path, tiny: bool) -> None:
    log(out, "bench")
    args = (["--device", "cpu", "--archs", "resnet18", "--sizes", "32", "--steps", "3", "--batch", "8",
             "--faces", "0.02"] if tiny else
            ["--device", "cuda", "--archs", "resnet18", "resnet50", "--sizes", "128", "256", "--batch", "64",
             "--steps", "30", "--workers", "8", "--faces", "0.5"])
    subprocess.run([sys.executable, str(REPO / "bench" / "train.py"), *args, "--json", str(out / "bench_cuda.json")],
                   check=True, env=dict(os.environ, PYTHONPATH=str(REPO / "lib")))


def _train(config):
    """Worker: one run (stored as usual); returns its id and training seconds."""
    from aniso.runs import run

    rec = run(config, progress=False)
    return rec.id, rec.meta.get("train_seconds"), rec.meta.get("images_per_second")


def _score(config):
    """Worker: one learning-rate grid point (validation NME, inf when it diverges)."""
    from aniso.runs import tuning

    return tuning.score(config)


def _pool(workers: int):
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def tune(out: Path, configs: list, profile: str, workers: int, deadline: float) -> None:
    """Every tuning problem of ``configs``, its grid points in parallel; results stored as tune_lr stores them."""
    from aniso.runs import tuning

    problems = tuning.pending(configs, profile)
    points = [(i, j, c) for i, (_, grid) in enumerate(problems) for j, c in enumerate(grid)]
    log(out, f"tuning: {len(problems)} problems, {len(points)} grid points")
    scores: dict = {}
    t0 = time.time()
    with _pool(workers) as pool:
        futures = {pool.submit(_score, c): (i, j) for i, j, c in points}
        for f in as_completed(futures):
            scores[futures[f]] = f.result()
    for i, (base, grid) in enumerate(problems):
        result = tuning.store_result(base, grid, [scores[(i, j)] for j in range(len(grid))], time.time() - t0)
        log(out, f"  {result.summary()}")


def train(out: Path, configs: list, workers: int, deadline: float) -> list:
    """The final runs, ``workers`` at a time; none is started after ``deadline`` (seconds since the epoch)."""
    done = []
    with _pool(workers) as pool:
        pending = list(configs)
        running = {}
        while pending or running:
            while pending and len(running) < workers and time.time() < deadline:
                c = pending.pop(0)
                running[pool.submit(_train, c)] = c
            if not running:
                break
            f = next(as_completed(running))
            c = running.pop(f)
            try:
                done.append(f.result())
                log(out, f"  done {done[-1][0]} ({done[-1][1]:.0f} s, {done[-1][2] or 0:.0f} img/s)")
            except Exception as exc:  # report and go on: the others still finish
                log(out, f"  FAILED {c}: {exc!r}")
    log(out, f"final runs: {len(done)} of {len(configs)} done ({len(pending)} not started before the deadline)")
    return done


def converged(out: Path, args) -> None:
    from aniso import suite
    from aniso.runs import config_id

    profile = "smoke" if args.tiny else "converged"
    deadline = START + args.deadline
    cells = {}
    for nb in args.notebooks:
        for key, (cell, configs, _) in suite.plan(nb, profile=profile, device=args.device, tune=False,
                                                  progress=False).items():
            cells[key] = configs
    configs = [c.replace(num_workers=args.loader_workers) for cfgs in cells.values() for c in cfgs]
    # workers that need the same synthetic set wait while one generates it (the lock in aniso.runs.prepare_data)
    tune(out, configs, profile, args.workers, deadline)
    planned = {}
    for nb in args.notebooks:
        for key, (cell, cfgs, _) in suite.plan(nb, profile=profile, device=args.device, progress=False).items():
            planned[key] = [c.replace(num_workers=args.loader_workers) for c in cfgs]
    distinct = {config_id(c): c for cfgs in planned.values() for c in cfgs}  # cells shared by notebooks, once
    train(out, list(distinct.values()), args.workers, deadline)


def pack(out: Path, store: Path) -> None:
    """The store as one tar.gz, split into parts below the 16 MiB a file can bring back."""
    tar = out / "store.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(store, arcname="runs")
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
    ap.add_argument("--work", default="/tmp/gpu-session", help="the store and the cache (generated data, checkpoints)")
    ap.add_argument("--deadline", type=float, default=520.0, help="seconds after which no new run starts")
    ap.add_argument("--workers", type=int, default=5, help="runs at a time on the GPU")
    ap.add_argument("--loader-workers", type=int, default=2, help="loader processes per run")
    ap.add_argument("--paper-epochs", type=int, default=2)
    ap.add_argument("--notebooks", nargs="+", default=["table1", "table4", "table5", "figure2"])
    ap.add_argument("--tiny", action="store_true", help="smoke-sized, on the CPU: to test this script")
    args = ap.parse_args(argv)
    args.device = "cpu" if args.tiny else "cuda"
    out, work = Path(args.out).resolve(), Path(args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = work / "runs"
    os.environ.update(ANISO_RUNS_DIR=str(store), ANISO_READ_RUNS="", ANISO_CACHE=str(work / "cache"))
    log(out, f"environment: {environment(out)}")
    for step in (lambda: bench(out, args.tiny), lambda: paper_run(out, args), lambda: converged(out, args)):
        try:  # a step that breaks is logged; the next ones still run and what exists comes back
            step()
        except Exception:
            import traceback

            log(out, f"STEP FAILED:\n{traceback.format_exc()}")
    pack(out, store)
    log(out, "packed")
    return 0


def paper_run(out: Path, args) -> None:
    from aniso.runs import make_config, run

    paper = make_config("smoke" if args.tiny else "paper", dataset="300w", epochs=args.paper_epochs,
                        device=args.device, num_workers=0 if args.tiny else 8)
    rec = run(paper, progress=False)
    log(out, f"paper profile, {paper.epochs} epochs: {rec.id} {rec.meta['train_seconds']:.0f} s, "
             f"{rec.meta['images_per_second']:.0f} img/s, full NME {100 * rec.metrics['full']['inter_pupil']['nme']:.2f}%")


if __name__ == "__main__":
    sys.exit(main())
