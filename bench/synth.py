"""Benchmark: synthetic images generated per second, per data set, on one core.

Generates a small tree of each data set (``--scale``, default 0.02) into a
temporary folder with OpenCV and BLAS limited to one thread, and prints the
rate (rendering, annotation noise and every file write included) and what it
implies for a tree at ``DEFAULT_SCALE``.

    python bench/synth.py [--scale F] [--image-size PX]
"""

from __future__ import annotations

import os

# One core: set before numpy / OpenCV load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

from aniso import synthetic  # noqa: E402
from aniso.data import DATASETS  # noqa: E402
from aniso.synthetic.face import default_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.02, help="size of the timed trees (default 0.02)")
    ap.add_argument("--image-size", type=int, default=128, help="image side in pixels (default 128)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    default_model()  # load the mean face once, outside the timings
    print(f"synthetic generation, one core, {args.image_size} px, timed at scale {args.scale}")
    print(f"{'data set':8s} {'faces':>6s} {'seconds':>8s} {'faces/s':>8s}   default scale {synthetic.DEFAULT_SCALE}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in DATASETS:
            n = sum(synthetic.plan(name, args.scale).values())
            t0 = time.perf_counter()
            synthetic.generate(name, Path(tmp) / name, seed=0, scale=args.scale, image_size=args.image_size,
                               progress=False)
            dt = time.perf_counter() - t0
            rate = n / dt
            n_def = sum(synthetic.plan(name, synthetic.DEFAULT_SCALE).values())
            print(f"{name:8s} {n:6d} {dt:8.2f} {rate:8.1f}   {n_def} faces, about {n_def / rate:.1f} s")


if __name__ == "__main__":
    main()
