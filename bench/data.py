"""Is data loading the bottleneck? Pipeline images/s against model training images/s.

Builds about 200 face records (a tiny synthetic WFLW tree from
``aniso.synthetic.generate`` when that works, else random 160x160
images with random landmarks), then measures:

* the pipeline: ``FaceDataset`` in train mode with the default augmentation,
  cache warm, one process (what one DataLoader worker does), items plus
  collation into batches of 32, at 64 and 256 pixels;
* one training step of ResNet18 and ResNet50 (torchvision, ``weights=None``,
  a 2N regression head, Adam, MSE) on random inputs, at the same sizes, batch
  32 (ResNet50 at 256 px: batch 8, it is slow on CPU), a few steps after one
  warm-up step;

and prints the ratio pipeline / model: above 1, one worker feeds the model
faster than it trains ("OK (loading is not the bottleneck)").

Usage: ``python bench/data.py [--records 200] [--seed 0]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from aniso.data import open_dataset
from aniso.data.pipeline import FaceDataset
from aniso.data.records import Record
from aniso.synthetic import generate
from aniso.topology import get_scheme


def synthetic_records(root: Path, n: int, seed: int) -> tuple[list[Record], str, str]:
    """About ``n`` records of a tiny synthetic WFLW tree; ``(records, scheme name, how they were made)``."""

    # WFLW has 7500 + 2500 faces; scale n / 10000 gives about n in all.
    tree = generate("wflw", root / "wflw", seed=seed, scale=n / 10000, image_size=160, progress=False)
    records = open_dataset("wflw", tree, "train") + open_dataset("wflw", tree, "test")
    return records, "wflw", f"synthetic WFLW tree ({len(records)} faces, 160x160 images)"


def random_records(root: Path, n: int, seed: int) -> tuple[list[Record], str, str]:
    """``n`` random 160x160 JPEG images with 68 random landmarks in their middle."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (160, 160, 3), dtype=np.uint8), (0, 0), 2.0)
        path = root / f"img_{i:04d}.jpg"
        cv2.imwrite(str(path), img)
        lm = rng.uniform(40, 120, (68, 2))
        records.append(Record(image_path=path, landmarks=lm, box=np.r_[lm.min(0), lm.max(0)], key=path.name))
    return records, "300w", f"random 160x160 images ({n} faces, 68 random landmarks)"


def pipeline_rate(records: list[Record], scheme: str, size: int, seconds: float = 3.0) -> tuple[float, float, int]:
    """(images/s warm, seconds to fill the cache, cache bytes) for one process, train mode, batches of 32."""
    ds = FaceDataset(records, scheme, input_size=size, train=True, seed=0)
    t0 = time.perf_counter()
    ds.prefetch(progress=False)
    fill = time.perf_counter() - t0
    collate = torch.utils.data.default_collate
    for i in range(min(32, len(ds))):  # warm-up: imports, allocator
        ds[i]
    done, epoch, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ds.set_epoch(epoch)
        for start in range(0, len(ds) - 31, 32):
            collate([ds[i] for i in range(start, start + 32)])
            done += 32
        epoch += 1
    return done / (time.perf_counter() - t0), fill, ds.cache_bytes


def model_rate(arch: str, size: int, n_points: int, batch: int, steps: int) -> float:
    """Training images/s of a torchvision ``arch`` with a 2N head: Adam step on an MSE loss, random inputs."""
    import torchvision  # heavy (torchvision): loaded where it is used  # noqa: PLC0415

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=2 * n_points)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size)
    y = torch.randn(batch, 2 * n_points)
    model.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="faces to build (about)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and of the augmentation")
    args = parser.parse_args()

    # One DataLoader worker is one process doing everything on one core.
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="aniso-bench-") as tmp:
        root = Path(tmp)
        try:
            records, scheme, how = synthetic_records(root, args.records, args.seed)
        except Exception as exc:  # the generator is optional here; fall back to random pictures
            print(f"synthetic generator unavailable ({type(exc).__name__}: {exc}); using random images")
            records, scheme, how = random_records(root, args.records, args.seed)
        n_points = get_scheme(scheme).n_points
        print(f"records: {how}; torch threads: {torch.get_num_threads()}")

        rows = []
        for size in (64, 256):
            rate, fill, nbytes = pipeline_rate(records, scheme, size)
            print(f"pipeline {size:3d} px: {rate:7.1f} images/s (one process, train augmentation, warm cache; "
                  f"cache fill {fill:.2f} s, {nbytes / 2**20:.1f} MiB for {len(records)} faces)")
            for arch in ("resnet18", "resnet50"):
                batch, steps = (8, 2) if (arch == "resnet50" and size == 256) else (32, 3)
                m = model_rate(arch, size, n_points, batch, steps)
                rows.append((size, arch, rate, m, batch))
                print(f"  {arch} {size:3d} px: {m:7.1f} images/s (training step, batch {batch}, {steps} steps)")

    print("\nsize  model     pipeline img/s  model img/s  ratio  verdict")
    for size, arch, rate, m, _ in rows:
        ratio = rate / m
        verdict = "OK (loading is not the bottleneck)" if ratio > 1 else \
            f"loading is the bottleneck: use >= {int(np.ceil(1 / ratio))} workers"
        print(f"{size:4d}  {arch:8s}  {rate:14.1f}  {m:11.1f}  {ratio:5.1f}  {verdict}")


if __name__ == "__main__":
    main()
