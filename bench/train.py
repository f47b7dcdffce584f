"""Training throughput: fp32 against bf16, the bare model against the full training loop.

For each backbone and input size it measures images per second of

* ``bare fp32`` / ``bare bf16``: forward + backward + Adam on one batch held in
  memory (bf16 = ``torch.autocast`` with channels-last, what the runner uses
  where the device has bf16 units);
* ``loop bf16``: the runner's own loop (:func:`aniso.runs.training.train_step`
  fed by ``FaceDataset`` + ``make_loader`` with the light augmentation and the
  crop cache warm, ``--workers`` loader processes) on a synthetic 300W set;

and the ratios ``bf16 / fp32`` and ``loop / bare`` (how much of the model's
speed the full loop keeps; the goal on a GPU is >= 70%). On a GPU it also
measures what one loader worker delivers (decode + warp + augment) at the
input size, which sizes the default number of workers.

Usage::

    python bench/train.py                                  # CPU: ResNet18 at 64 px, 2 threads
    python bench/train.py --device cuda --archs resnet50 --sizes 256 --workers 8 --batch 64
    python bench/train.py --json out.json                  # also write the table as JSON

Run it on an idle machine: anything else on the cores changes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as aniso sets it (lib/aniso/__init__.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from aniso.data import open_dataset  # noqa: E402
from aniso.data.pipeline import AUGMENTATIONS, FaceDataset, make_loader  # noqa: E402
from aniso.losses import make_loss  # noqa: E402
from aniso.models import build_model  # noqa: E402
from aniso.runs.config import resolve_precision  # noqa: E402
from aniso.runs.training import train_step  # noqa: E402
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
    """Images/s of training steps on one in-memory batch."""
    model, loss_fn, opt = _model(arch, size, device, amp)
    data = {"image": torch.randn(batch, 3, size, size), "landmarks": torch.rand(batch, 68, 2) * size}
    if device.startswith("cuda"):
        data = {k: v.to(device) for k, v in data.items()}
    for _ in range(3):
        train_step(model, loss_fn, opt, data, device, amp)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        train_step(model, loss_fn, opt, data, device, amp)
    _sync(device)
    return batch * steps / (time.perf_counter() - t)


def loop(records, arch: str, size: int, batch: int, steps: int, device: str, workers: int) -> float:
    """Images/s of the runner's loop (loader, augmentation, bf16 where supported) over ``steps`` batches."""
    amp = resolve_precision("auto", device) == "bf16"
    model, loss_fn, opt = _model(arch, size, device, amp)
    ds = FaceDataset(records, get_scheme("300w"), input_size=size, train=True, augment=AUGMENTATIONS["light"])
    ds.prefetch(progress=False)
    loader = make_loader(ds, batch_size=batch, num_workers=workers, pin_memory=device.startswith("cuda"))
    it = _batches(loader)
    for _ in range(3):
        train_step(model, loss_fn, opt, next(it), device, amp)
    _sync(device)
    t, n = time.perf_counter(), 0
    for _ in range(steps):
        b = next(it)
        train_step(model, loss_fn, opt, b, device, amp)
        n += len(b["image"])
    _sync(device)
    return n / (time.perf_counter() - t)


def _batches(loader):
    """The loader's batches, epoch after epoch (a small set still feeds any number of steps)."""
    while True:
        yield from loader


def worker_rate(records, size: int, n: int = 400) -> float:
    """Items/s that one loader process delivers (decode on first touch, warp, augment), cache cold."""
    ds = FaceDataset(records, get_scheme("300w"), input_size=size, train=True, augment=AUGMENTATIONS["light"])
    t = time.perf_counter()
    for i in range(min(n, len(ds))):
        ds[i]
    return min(n, len(ds)) / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--archs", nargs="+", default=["resnet18"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (the runner's default: 2)")
    ap.add_argument("--workers", type=int, default=0, help="loader processes in the full loop")
    ap.add_argument("--faces", type=float, default=0.15, help="synthetic 300W scale for the full loop")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.device.startswith("cuda")
    bf16_ok = resolve_precision("auto", args.device) == "bf16"
    with tempfile.TemporaryDirectory() as tmp:
        root = generate("300w", Path(tmp) / "300w", scale=args.faces, image_size=max(128, max(args.sizes) * 5 // 4),
                        progress=False, workers=os.cpu_count() or 1)
        records = open_dataset("300w", root, "train")
        rows = []
        for arch in args.archs:
            for size in args.sizes:
                row = dict(arch=arch, size=size, batch=args.batch, fp32=bare(arch, size, args.batch, args.steps, args.device, False))
                row["bf16"] = bare(arch, size, args.batch, args.steps, args.device, True) if bf16_ok else None
                row["loop"] = loop(records, arch, size, args.batch, args.steps, args.device, args.workers)
                row["worker"] = worker_rate(records, size)
                rows.append(row)
                print(_line(row), flush=True)
    info = dict(device=args.device if not args.device.startswith("cuda") else torch.cuda.get_device_name(0),
                cpu=platform.processor(), threads=args.threads, workers=args.workers, torch=torch.__version__,
                bf16_units=bf16_ok, rows=rows)
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=1))
    return 0


def _line(r: dict) -> str:
    bf = f"{r['bf16']:.0f}" if r["bf16"] else "n/a"
    best = r["bf16"] or r["fp32"]
    speedup = f"{r['bf16'] / r['fp32']:.2f}x" if r["bf16"] else "-"
    return (f"{r['arch']:>16} {r['size']:>4}px b{r['batch']}: bare fp32 {r['fp32']:.0f} img/s, bare bf16 {bf} img/s "
            f"(bf16/fp32 {speedup}); full loop {r['loop']:.0f} img/s ({100 * r['loop'] / best:.0f}% of bare); "
            f"one loader worker {r['worker']:.0f} items/s")


if __name__ == "__main__":
    raise SystemExit(main())
