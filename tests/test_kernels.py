"""The numeric kernels' fingerprint: what it records, and that it tells apart what the CPU's name cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

from aniso.runs.kernels import KERNEL_VARIABLES, SIMD_FLAGS, fingerprint, kernel_differences
from aniso.runs.store import provenance

_PRINT = "import json; from aniso.runs.kernels import fingerprint; print(json.dumps(fingerprint()))"


def _fingerprint_with(**env) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    out = subprocess.run([sys.executable, "-c", _PRINT], env={**full, **env}, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


def test_fingerprint_records_the_dispatch_and_threads():
    import torch

    fp = fingerprint()
    assert set(fp) == {"cpu_flags", "numpy", "torch", "threads", "variables"}
    assert set(fp["cpu_flags"]) <= set(SIMD_FLAGS) and fp["threads"] == torch.get_num_threads()
    assert fp["numpy"] == [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    assert fp["torch"] == torch.backends.cpu.get_cpu_capability()
    assert json.loads(json.dumps(fp)) == fp and not kernel_differences(fp, fingerprint())


def test_a_run_records_its_kernels():
    assert provenance("cpu", "fp32")["kernels"] == fingerprint()


def test_capped_kernels_change_the_fingerprint():
    """Same CPU, same name: numpy capped to its baseline (or torch to AVX2) runs other loops, and the
    fingerprint says so where the model name cannot."""
    plain = _fingerprint_with()
    capped = _fingerprint_with(NPY_DISABLE_CPU_FEATURES=" ".join(plain["numpy"]) or "X86_V3",
                               ATEN_CPU_CAPABILITY="default")
    diff = kernel_differences(plain, capped)
    assert "variables" in diff and capped["variables"]["ATEN_CPU_CAPABILITY"] == "default"
    assert capped["numpy"] == [] and capped["torch"] == "DEFAULT"
    assert ("numpy" in diff) == bool(plain["numpy"]) and ("torch" in diff) == (plain["torch"] != "DEFAULT")


def test_a_record_without_a_fingerprint_differs():
    assert kernel_differences(None, fingerprint()) == {"kernels": (None, fingerprint())}
    assert kernel_differences({}, {"threads": 2}) == {"kernels": (None, {"threads": 2})}
    assert kernel_differences({"threads": 1, "torch": "AVX2"}, {"threads": 2, "torch": "AVX2"}) == {"threads": (1, 2)}
