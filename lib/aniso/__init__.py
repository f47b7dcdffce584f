"""aniso: reproduction suite for "Not All Points Are Created Equal".

Layers, bottom first (a module imports only from the layers below its own; modules of one layer import none of
each other). ``pyproject.toml`` holds them as an import-linter contract that ``make test`` checks (``lint-imports``);
``docs/ARCHITECTURE.md`` has the whole map:

1. ``checks``, ``files``, ``topology``, ``stats``, ``verdicts``, ``paper``: no other aniso import;
2. ``data`` (loaders, registry, crops), ``metrics``, ``sampling``, ``analysis``, ``writers`` (tables, sections),
   ``replication`` (the paper's effect, regimes compared, Holm);
3. ``synthetic`` (the benchmark, written in the loaders' formats), ``losses``, ``drawing``, ``models``;
4. ``runs`` (configuration, profiles, store, training, dispatch, tuning);
5. ``suite`` (the cells every notebook draws), ``synth``;
6. ``claims`` (every claim, as data), ``notebook``, ``audit``, ``figure_data``, ``headline`` (the report's head);
7. ``judging``, then ``tables``, then ``regimes``, then ``reporting`` (the report), each on its own.
"""

import os

# torch's OpenMP threads (GNU libgomp) spin for a while before they sleep. With the default spin, a training
# that shares two cores with another process collapses (measured: fp32 ResNet18 at 64 px 23-33 images/s, against
# 60-70 with short spins or OMP_WAIT_POLICY=PASSIVE); PASSIVE, however, costs about 15% on idle cores (164 against
# 193 images/s in bf16). A short spin keeps both (bench/train.py, README). libgomp reads it when torch loads, so
# it is set before anything imports torch; an explicit setting in the environment wins.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

__version__ = "0.2.0"
