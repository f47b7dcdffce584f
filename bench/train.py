"""Training throughput, side by side: the bare model, the runner's full loop, several runs packed on one device.

For each backbone and input size it measures images per second of

* ``bare fp32`` / ``bare bf16``: forward + backward + Adam on one batch already on the device (bf16 =
  ``torch.autocast`` with channels-last, what the runner uses where the device has bf16 units);
* ``loop``: the runner's own training loop (:class:`aniso.data.resident.TrainingCrops` on the device,
  the light augmentation rendered per batch there, :func:`aniso.runs.training.train_step`) on a synthetic 300W
  set, at the precision the runner picks; ``loop / bare`` is how much of the model's speed it keeps;
* ``reference`` (``--reference``): the per-item CPU pipeline the loop replaced (``FaceDataset`` and a
  ``DataLoader`` with ``--workers`` processes), for comparison;
* ``packed K`` (``--pack K ...``): K processes each running the loop at once on the same device, their images/s
  added up (started together, counted over the same ``--seconds``);

all under the runner's settings (:func:`aniso.runs.training.configure_torch`: deterministic kernels, cuDNN's
autotuner off). ``--fixed-cost`` also times whole runs (:func:`aniso.runs.run`, one epoch) twice in one
process: everything but the training steps (data, crops, model, validation, evaluation, the record), first with
the crops built, then with them cached.

Usage::

    python bench/train.py                                        # CPU: ResNet18 at 64 px, 2 threads
    python bench/train.py --reference --fixed-cost               # ... with the per-item pipeline and the fixed cost
    python bench/train.py --device cuda --archs resnet18 resnet50 --sizes 128 256 --batch 64 --pack 1 2 4
    python bench/train.py --json out.json                        # also write the results as JSON

Run it on an idle machine: anything else on the cores (or the GPU) changes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as aniso sets it (lib/aniso/__init__.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from aniso.data import open_dataset  # noqa: E402
from aniso.data.augment import AUGMENTATIONS, cache_margin  # noqa: E402
from aniso.data.pipeline import FaceDataset, make_loader
from aniso.data.resident import CropGeometry, TrainingCrops  # noqa: E402
from aniso.losses import make_loss  # noqa: E402
from aniso.models import build_model  # noqa: E402
from aniso.runs import make_config, run
from aniso.runs.config import resolve_precision  # noqa: E402
from aniso.runs.training import configure_torch, train_step  # noqa: E402
from aniso.synthetic import generate  # noqa: E402
from aniso.topology import get_scheme  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _model(arch: str, size: int, device: str, amp: bool):
    torch.manual_seed(0)
    model = build_model(arch, 68, mean_shape=np.full((68, 2), size / 2), output_scale=size / 8).to(device)
    if amp:
        model = model.to(memory_format=torch.channels_last)
    return model, make_loss("l2"), torch.optim.Adam(model.parameters(), 1e-4)


def bare(arch: str, size: int, batch: int, steps: int, device: str, amp: bool) -> float:
    """Images/s of training steps on one batch already on the device."""
    model, loss_fn, opt = _model(arch, size, device, amp)
    x = torch.randn(batch, 3, size, size, device=device)
    if amp:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.rand(batch, 68, 2, device=device) * size
    for _ in range(3):
        train_step(model, loss_fn, opt, x, y, amp)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        train_step(model, loss_fn, opt, x, y, amp)
    _sync(device)
    return batch * steps / (time.perf_counter() - t)


def _batches(train_set: TrainingCrops, batch: int, amp: bool):
    """The loop's batches, epoch after epoch (a small set still feeds any number of steps)."""
    aug, epoch = AUGMENTATIONS["light"], 0
    order = np.arange(len(train_set))
    while True:
        yield from train_set.epoch(np.random.default_rng(epoch).permutation(order), aug, 0, epoch, batch,
                                   channels_last=amp)
        epoch += 1


def resident_set(records, size: int, device: str, crops: Path) -> TrainingCrops:
    geometry = CropGeometry(size, 1.25, cache_margin(AUGMENTATIONS["light"]))
    return TrainingCrops(records, get_scheme("300w"), geometry, device, crops, progress=False)


def _timed(arch: str, size: int, device: str, batches, steps: int) -> float:
    """Images/s of ``steps`` training steps on ``batches`` (an iterator of (images, landmarks)), after 3 warm-up
    steps, at the precision the runner picks."""
    amp = resolve_precision("auto", device) == "bf16"
    model, loss_fn, opt = _model(arch, size, device, amp)
    for _ in range(3):
        train_step(model, loss_fn, opt, *next(batches), amp)
    _sync(device)
    t, n = time.perf_counter(), 0
    for _ in range(steps):
        x, y = next(batches)
        train_step(model, loss_fn, opt, x, y, amp)
        n += len(x)
    _sync(device)
    return n / (time.perf_counter() - t)


def loop(records, arch: str, size: int, batch: int, steps: int, device: str, crops: Path) -> float:
    """Images/s of the runner's loop over ``steps`` batches (crops on the device, augmented there)."""
    amp = resolve_precision("auto", device) == "bf16"
    return _timed(arch, size, device, _batches(resident_set(records, size, device, crops), batch, amp), steps)


def reference(records, arch: str, size: int, batch: int, steps: int, device: str, workers: int) -> float:
    """Images/s of the per-item pipeline the loop replaced: FaceDataset + DataLoader, cache warm."""

    amp = resolve_precision("auto", device) == "bf16"
    ds = FaceDataset(records, get_scheme("300w"), input_size=size, train=True, augment=AUGMENTATIONS["light"])
    ds.prefetch(progress=False)
    loader = make_loader(ds, batch_size=batch, num_workers=workers, pin_memory=device.startswith("cuda"))

    def batches():
        while True:
            for b in loader:
                x = b["image"].to(device, non_blocking=True)
                yield (x.contiguous(memory_format=torch.channels_last) if amp else x), b["landmarks"].to(device)

    return _timed(arch, size, device, batches(), steps)


def child(args) -> int:
    """One packed process: build the loop, say ready, wait for 'go' on stdin, train for --seconds, print JSON."""
    configure_torch(args.device, args.threads)
    records = open_dataset("300w", args.root, "train")
    amp = resolve_precision("auto", args.device) == "bf16"
    model, loss_fn, opt = _model(args.archs[0], args.sizes[0], args.device, amp)
    it = _batches(resident_set(records, args.sizes[0], args.device, Path(args.crops)), args.batch, amp)
    for _ in range(3):
        train_step(model, loss_fn, opt, *next(it), amp)
    _sync(args.device)
    print("ready", flush=True)
    sys.stdin.readline()
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < args.seconds:
        x, y = next(it)
        train_step(model, loss_fn, opt, x, y, amp)
        n += len(x)
    _sync(args.device)
    print(json.dumps({"images": n, "seconds": time.perf_counter() - t}), flush=True)
    return 0


def packed(k: int, arch: str, size: int, args, root: Path, crops: Path) -> float:
    """Total images/s of ``k`` processes running the loop at once on the device (started together)."""
    cmd = [sys.executable, __file__, "--child", "--root", str(root), "--crops", str(crops), "--device", args.device,
           "--archs", arch, "--sizes", str(size), "--batch", str(args.batch), "--seconds", str(args.seconds),
           "--threads", str(args.threads)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(k)]
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a packed process failed to start: {p.communicate()}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return sum(r["images"] / r["seconds"] for r in results)


def fixed_cost(device: str, size: int, threads: int) -> dict:
    """Seconds of everything but the training steps in two whole one-epoch runs of one process (crops built,
    then cached): a private store and cache, synthetic 300W at 10% of its release size."""

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(ANISO_RUNS_DIR=f"{tmp}/runs", ANISO_READ_RUNS="", ANISO_CACHE=f"{tmp}/cache")
        out = {}
        for seed, what in ((0, "first run (data generated, crops built)"), (1, "next run (crops cached)")):
            config = make_config("default", input_size=size, epochs=1, synth_scale=0.1, device=device, lr=1e-3,
                                 threads=threads, seed=seed)
            t0 = time.perf_counter()
            rec = run(config, progress=False)
            wall = time.perf_counter() - t0
            steps = rec.meta["timing"]["steps"]
            out[what] = {"wall": wall, "steps": steps, "fixed": wall - steps,
                         **{k: rec.meta["timing"][k] for k in ("setup", "validation", "final")}}
            print(f"fixed cost, {what}: {out[what]['fixed']:.2f} s of {wall:.2f} s (setup {out[what]['setup']:.2f}, "
                  f"validation {out[what]['validation']:.2f}, final evaluation {out[what]['final']:.2f})", flush=True)
    return out


def measure(args, records, root: Path, crops: Path) -> list[dict]:
    bf16_ok = resolve_precision("auto", args.device) == "bf16"
    rows = []
    for arch in args.archs:
        for size in args.sizes:
            row = dict(arch=arch, size=size, batch=args.batch,
                       fp32=bare(arch, size, args.batch, args.steps, args.device, False),
                       bf16=bare(arch, size, args.batch, args.steps, args.device, True) if bf16_ok else None,
                       loop=loop(records, arch, size, args.batch, args.steps, args.device, crops))
            if args.reference:
                row["reference"] = reference(records, arch, size, args.batch, args.steps, args.device, args.workers)
            row["packed"] = {k: packed(k, arch, size, args, root, crops) for k in args.pack}
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--archs", nargs="+", default=["resnet18"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (the runner's default: 2)")
    ap.add_argument("--reference", action="store_true", help="also time the per-item pipeline (FaceDataset)")
    ap.add_argument("--workers", type=int, default=0, help="loader processes of the per-item pipeline")
    ap.add_argument("--pack", nargs="*", type=int, default=[], help="numbers of processes to pack on the device")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long each packed process counts")
    ap.add_argument("--fixed-cost", action="store_true", help="also time a whole run's cost besides training")
    ap.add_argument("--faces", type=float, default=0.15, help="synthetic 300W scale for the loop")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--crops", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    configure_torch(args.device, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = generate("300w", Path(tmp) / "300w", scale=args.faces, image_size=max(128, max(args.sizes) * 5 // 4),
                        progress=False, workers=os.cpu_count() or 1)
        rows = measure(args, open_dataset("300w", root, "train"), root, Path(tmp) / "crops")
    info = dict(device=args.device if not args.device.startswith("cuda") else torch.cuda.get_device_name(0),
                cpu=platform.processor() or platform.machine(), threads=args.threads, torch=torch.__version__,
                bf16_units=resolve_precision("auto", args.device) == "bf16", rows=rows)
    if args.fixed_cost:
        info["fixed_cost"] = fixed_cost(args.device, args.sizes[0], args.threads)
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=1))
    return 0


def _line(r: dict) -> str:
    bf = f"{r['bf16']:.0f}" if r["bf16"] else "n/a"
    best = max(r["fp32"], r["bf16"] or 0)
    text = (f"{r['arch']:>16} {r['size']:>4}px b{r['batch']}: bare fp32 {r['fp32']:.0f} img/s, bare bf16 {bf} img/s; "
            f"loop {r['loop']:.0f} img/s ({100 * r['loop'] / (r['bf16'] or r['fp32']):.0f}% of bare "
            f"{'bf16' if r['bf16'] else 'fp32'}, {100 * r['loop'] / best:.0f}% of the faster bare)")
    if "reference" in r:
        text += f"; per-item pipeline {r['reference']:.0f} img/s"
    one = r["packed"].get(1)
    for k, v in r["packed"].items():
        text += f"; {k} packed {v:.0f} img/s" + (f" ({v / one:.2f}x one)" if one and k != 1 else "")
    return text


if __name__ == "__main__":
    raise SystemExit(main())
