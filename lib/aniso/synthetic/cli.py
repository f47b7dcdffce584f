"""Command line: write a synthetic 300W, WFLW or AFLW tree in the release format.

Usage::

    python -m aniso.synthetic {300w,wflw,aflw} OUT [--seed S] [--scale F] [--image-size PX]
                              [--noise-scale F]
                              [--contact-sheet PNG] [--force] [--quiet]

``--scale`` 1.0 gives the release's face counts; the default
(:data:`aniso.synthetic.DEFAULT_SCALE`) generates in seconds on one core.
``OUT`` must not exist or be empty unless ``--force``. ``--contact-sheet``
also draws a grid of faces of every scheme with their landmarks to ``PNG``.
The tree loads with ``aniso.data.open_dataset(name, OUT, subset)``. ``python -m aniso.synth``
runs the same command.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from .. import data
from ..files import atomic_write
from .difficulty import DEFAULT_SCALE, MIN_FACES, plan
from .generator import generate
from .sheet import contact_sheet


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aniso.synthetic",
        description="Write a synthetic face-landmark data set in the real release format of 300W, WFLW or AFLW.",
    )
    p.add_argument("dataset", choices=tuple(data.DATASETS), help="which release layout to write")
    p.add_argument("out", help="output folder (must not exist or be empty, unless --force)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files (default 0)")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help=f"faces relative to the release's counts (default {DEFAULT_SCALE}; "
                        f"at least {MIN_FACES} per folder/split)")
    p.add_argument("--image-size", type=int, default=128, help="side of the square images in pixels (default 128)")
    p.add_argument("--noise-scale", type=float, default=1.0,
                   help="factor on the along-contour annotation noise only (0: none; default 1)")
    p.add_argument("--contact-sheet", metavar="PNG", default=None,
                   help="also write a contact sheet of faces of every scheme with their landmarks")
    p.add_argument("--workers", type=int, default=1,
                   help="processes that draw the faces (the files do not depend on it; default 1)")
    p.add_argument("--force", action="store_true", help="replace the content of a non-empty OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _save_png(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG (110 dpi), atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(path, buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        counts = plan(args.dataset, args.scale)
        out = generate(args.dataset, args.out, seed=args.seed, scale=args.scale,
                       image_size=args.image_size, progress=not args.quiet, force=args.force,
                       noise_scale=args.noise_scale, workers=args.workers)
        if args.contact_sheet:
            _save_png(contact_sheet(seed=args.seed), Path(args.contact_sheet))
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parts = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"wrote {args.dataset} ({parts}) to {out}")
    if args.contact_sheet:
        print(f"contact sheet: {args.contact_sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
