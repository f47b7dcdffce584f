"""The run store's command line: ``python -m aniso.runs verify [STORE ...] [--prune]`` (:mod:`~aniso.runs.verify`)."""

from __future__ import annotations

import sys

from .verify import main as verify_main

_USAGE = "usage: python -m aniso.runs verify [STORE ...] [--prune]   (verify --help says more)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "verify":
        print(f"{_USAGE}\nunknown command {argv[0]!r}: expected 'verify'" if argv else _USAGE, file=sys.stderr)
        return 2

    return verify_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
