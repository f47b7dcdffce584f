"""The numeric kernels a run was made with: what decides whether it re-creates bit for bit.

A CPU's model name does not identify its kernels: virtual machines report the same ``AMD EPYC`` or ``Intel Xeon``
for different generations, and numpy, torch (ATen, oneDNN, MKL) and OpenCV choose their SIMD loops (AVX2,
AVX-512, AMX) at run time from the instruction sets the CPU exposes, unless an environment variable caps them.
Under the same lock (library versions), the loops they choose are a function of:

* the SIMD instruction sets the CPU reports (:data:`SIMD_FLAGS`, from ``/proc/cpuinfo``),
* the environment variables that cap or change that choice (:data:`KERNEL_VARIABLES`),
* the thread count (a reduction split over more threads adds in another order),
* and on a GPU, the device model and the CUDA and cuDNN versions.

:func:`fingerprint` records them with what numpy and torch report they dispatch (readable evidence of the same
facts); every record's provenance keeps it under ``kernels``. Two runs of one configuration are expected to be
bit-identical when their fingerprints are equal (:func:`kernel_differences` is empty). Records made before the
fingerprint existed have none, and nothing can be said of their kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

__all__ = ["SIMD_FLAGS", "KERNEL_VARIABLES", "fingerprint", "kernel_differences"]

#: The instruction sets whose presence changes which loops numpy, torch (ATen, oneDNN, MKL) or OpenCV run.
SIMD_FLAGS = ("sse4_2", "avx", "f16c", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
              "avx512ifma", "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq",
              "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")

#: Environment variables that cap or change the kernels chosen (recorded only when set).
KERNEL_VARIABLES = ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                    "DNNL_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE",
                    "OPENBLAS_L2_SIZE", "OPENCV_CPU_DISABLE")


def _cpu_flags() -> list[str]:
    """The :data:`SIMD_FLAGS` the CPU reports (``[]`` where ``/proc/cpuinfo`` cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return [f for f in SIMD_FLAGS if f in have]


def _numpy_dispatch() -> list[str]:
    """numpy's dispatched feature groups this process runs (those the CPU has and no variable disabled)."""
    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def fingerprint(device: str = "cpu") -> dict:
    """What decides a run's kernels on ``device`` (``"cpu"`` or ``"cuda..."``), as a JSON-ready mapping."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    out = {"cpu_flags": _cpu_flags(), "numpy": _numpy_dispatch(), "torch": torch.backends.cpu.get_cpu_capability(),
           "threads": torch.get_num_threads(),
           "variables": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ}}
    if str(device).startswith("cuda"):
        out["cuda"] = {"device": torch.cuda.get_device_name(0), "capability": list(torch.cuda.get_device_capability(0)),
                       "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    return out


def kernel_differences(recorded: dict | None, now: dict) -> dict[str, tuple]:
    """``{field: (recorded, now)}`` for every field of two fingerprints that differs; a record without a
    fingerprint (``None``, made before it existed) differs in ``"kernels"``: ``(None, now)``."""
    if not recorded:
        return {"kernels": (None, now)}
    return {k: (recorded.get(k), now.get(k)) for k in sorted(set(recorded) | set(now)) if recorded.get(k) != now.get(k)}
