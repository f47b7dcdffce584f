"""Committed files are the same bytes on every x86-64 CPU.

numpy, OpenCV and torch choose their SIMD loops at run time: the same computation may round its last bit
differently on an AVX2 and an AVX-512 machine. The synthetic data sets are generated on the machine (their
noise-free landmarks in float64), so every number derived from them can move by a unit in the last place from one
CPU to the next. What the suite commits states every derived number at :data:`aniso.files.STATED_DIGITS`
significant digits, which such a difference cannot change.

The end-to-end check renders the default store's verdicts (sections JSON and Markdown) twice, each in a fresh
cache that re-generates the data sets Figure 1 reads: once as this CPU runs, once with numpy's dispatched SIMD
groups (AVX2, AVX-512) disabled (``NPY_DISABLE_CPU_FEATURES``), and requires the same bytes. Before the numbers
were stated (17 digits), the two renders differed (a bootstrap limit of WFLW's Figure 1 geometry in its 16th
digit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

from aniso.files import STATED_DIGITS, stated
from aniso.writers import section_json, write_table
from aniso.verdicts import Verdict

RENDER = Path(__file__).with_name("render_verdicts.py")


def test_stated_rounds_every_float_and_keeps_the_rest():
    x = {"a": 0.061704955542858375, "b": [np.float64(1 / 3), np.int64(3), True, None, "t"], "c": (float("nan"),)}
    s = stated(x)
    assert s["a"] == 0.06170495554 and s["b"][0] == float(f"{1 / 3:.{STATED_DIGITS}g}")
    assert s["b"][1:] == [3, True, None, "t"] and type(s["b"][1]) is int and np.isnan(s["c"][0])
    assert json.dumps(s)  # JSON-ready: no numpy scalars left


def test_a_last_place_difference_writes_the_same_bytes(tmp_path):
    ci = 0.061704955542858375
    other = np.nextafter(np.nextafter(ci, 1), 1)  # two units in the last place above
    texts = [section_json("s", "t", [Verdict("claim", "reproduced", "n", "G.6", False, {"ci_low": v})])
             for v in (ci, other)]
    assert texts[0] == texts[1] and "0.06170495554" in texts[0]
    for i, v in enumerate((ci, other)):
        write_table(pd.DataFrame({"nme": [v, 2.5]}), tmp_path / str(i), "t")
    assert (tmp_path / "0" / "t.csv").read_bytes() == (tmp_path / "1" / "t.csv").read_bytes()


def _render(cache: Path, **env) -> str:
    # the committed store: no store variable passed on
    full = {k: v for k, v in os.environ.items() if k not in ("ANISO_RUNS_DIR", "ANISO_READ_RUNS")}
    full.update(ANISO_CACHE=str(cache), **env)
    out = subprocess.run([sys.executable, str(RENDER)], env=full, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _dispatched() -> list[str]:
    """numpy's SIMD groups above its baseline that this CPU runs (only those can be disabled)."""
    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


@pytest.mark.skipif(not _dispatched(),
                    reason="numpy dispatches no SIMD group beyond its baseline on this CPU: nothing to disable")
def test_committed_verdicts_do_not_depend_on_numpy_simd(tmp_path):
    wide = _render(tmp_path / "wide")
    narrow = _render(tmp_path / "narrow", NPY_DISABLE_CPU_FEATURES=" ".join(_dispatched()))
    assert '"verdicts"' in wide and "reproduced" in wide
    if wide != narrow:
        diff = [(a, b) for a, b in zip(wide.splitlines(), narrow.splitlines()) if a != b]
        pytest.fail(f"{len(diff)} line(s) differ with numpy's SIMD groups disabled, first: {diff[:3]}")
