"""Benchmark the landmark losses: forward + backward time of each, as a ratio to
l2_loss, and the anisotropic loss's cost as a share of one training step.

Run: ``python bench/losses.py`` (about a minute on two CPU cores).

For B = 64 and the 68- (300W) and 98-point (WFLW) schemes it prints, per
loss, the median time of one forward + backward pass on a (B, N, 2) batch
(after warm-up) and its ratio to ``l2_loss``. Then it times one training step
of a ResNet18 (torchvision, weights=None, fc with 2N outputs) at 64x64 px,
batch 64, with the anisotropic loss and an SGD step, and prints the
anisotropic loss's forward + backward time as a percentage of that step.
Goal: anisotropic < 1% of the step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision

from aniso.losses import LOSS_NAMES, anisotropic_loss, make_loss
from aniso.topology import get_scheme

GOAL_PERCENT = 1.0  # the anisotropic loss should cost less than this share of a training step


def time_call(fn, warmup: int, repeats: int, inner: int) -> float:
    """Median over ``repeats`` blocks of the mean seconds per call in a block of ``inner`` calls."""
    return time_interleaved({"f": fn}, warmup, repeats, inner)["f"]


def time_interleaved(fns: dict, warmup: int, repeats: int, inner: int) -> dict[str, float]:
    """Like :func:`time_call` for several functions, taking their blocks in turn.

    Round-robin blocks spread the load of other processes on a shared machine
    over all candidates alike, so the ratios stay fair even when the absolute
    times drift.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    blocks: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            blocks[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(b) for name, b in blocks.items()}


def loss_fwd_bwd(loss, pred: torch.Tensor, target: torch.Tensor):
    def step() -> None:
        pred.grad = None
        loss(pred, target).backward()

    return step


def bench_losses(scheme_name: str, batch: int, size: int, seed: int, repeats: int, inner: int) -> dict[str, float]:
    scheme = get_scheme(scheme_name)
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(batch, scheme.n_points, 2, generator=g) * size
    pred = (target + 2.0 * torch.randn(target.shape, generator=g)).requires_grad_(True)
    train_shapes = target.numpy()  # labels for learned_anisotropic's covariance estimate (built once, not timed)
    fns = {name: loss_fwd_bwd(make_loss(name, scheme=scheme, input_size=size, train_shapes=train_shapes), pred, target)
           for name in LOSS_NAMES}
    # The function form rebuilds the scheme's index tensors on every call; shown to justify the module.
    fns["anisotropic (function)"] = loss_fwd_bwd(lambda p, t: anisotropic_loss(p, t, scheme), pred, target)
    return time_interleaved(fns, warmup=inner, repeats=repeats, inner=inner)


def bench_step(scheme_name: str, batch: int, size: int, seed: int, repeats: int) -> float:
    """Median seconds of one ResNet18 training step (forward, anisotropic loss, backward, SGD)."""
    scheme = get_scheme(scheme_name)
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=2 * scheme.n_points)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = make_loss("anisotropic", scheme=scheme)
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=g)
    target = torch.rand(batch, scheme.n_points, 2, generator=g) * size

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        pred = model(images).view(batch, scheme.n_points, 2)
        loss_fn(pred, target).backward()
        opt.step()

    return time_call(step, warmup=2, repeats=repeats, inner=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64, help="images per batch")
    parser.add_argument("--size", type=int, default=64, help="input side in pixels")
    parser.add_argument("--repeats", type=int, default=25, help="timed blocks per loss (median taken)")
    parser.add_argument("--inner", type=int, default=20, help="calls per timed block")
    parser.add_argument("--step-repeats", type=int, default=5, help="timed ResNet18 steps (median taken)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {torch.get_num_threads()}, "
          f"device cpu, float32, B={args.batch}, input {args.size}x{args.size} px")
    schemes = ("300w", "wflw")
    results = {s: bench_losses(s, args.batch, args.size, args.seed, args.repeats, args.inner) for s in schemes}

    print("\nforward + backward of the loss alone (median), ratio to l2_loss")
    header = f"{'loss':<24}" + "".join(f"{s + ' (N=' + str(get_scheme(s).n_points) + ')':>26}" for s in schemes)
    print(header)
    print("-" * len(header))
    for name in results[schemes[0]]:
        cells = ""
        for s in schemes:
            t = results[s][name]
            cells += f"{t * 1e6:>12.1f} us {t / results[s]['l2']:>8.2f}x   "
        print(f"{name:<24}{cells}")

    print("\nanisotropic loss as a share of one ResNet18 training step (SGD, anisotropic loss)")
    met_all = True
    for s in schemes:
        step = bench_step(s, args.batch, args.size, args.seed, args.step_repeats)
        share = 100.0 * results[s]["anisotropic"] / step
        met = share < GOAL_PERCENT
        met_all &= met
        print(f"  {s:<5} step {step * 1e3:8.1f} ms   anisotropic fwd+bwd {results[s]['anisotropic'] * 1e6:7.1f} us"
              f"   share {share:6.3f} %   {'met' if met else 'NOT met'}")
    print(f"\ngoal: anisotropic < {GOAL_PERCENT:g}% of the step -> {'met' if met_all else 'NOT met'}")


if __name__ == "__main__":
    main()
