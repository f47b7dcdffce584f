"""A model's predictions on evaluation crops (:func:`predict`), and the metrics a run stores (:func:`evaluate`).

Every evaluated subset is scored under every normalisation the data set
reports (:class:`~aniso.data.DatasetSpec`), with :func:`aniso.metrics.summarize`:
mean NME, FR and AUC at 8% and 10%. Synthetic faces carry their noise-free
landmarks: each subset is also scored against them (``nme_truth``), which is
what a model really learned, label noise aside.
"""

from __future__ import annotations

import numpy as np

from ..data import dataset_spec
from ..metrics import nme, summarize
from ..topology import get_scheme

__all__ = ["predict", "evaluate", "quantise", "THRESHOLDS", "PRED_SCALE"]

THRESHOLDS = (0.08, 0.10)
#: Predictions are stored as integers in 1/PRED_SCALE of a pixel (to 0.001 px: half the bytes of float32, and
#: far below any error the suite measures); NMEs are computed before, from the full-precision predictions.
PRED_SCALE = 1024


def quantise(pred: np.ndarray) -> np.ndarray:
    """Predictions (pixels) as stored: ``int32`` in 1/:data:`PRED_SCALE` px, rounded from their float32 value."""
    return np.round(np.asarray(pred, dtype=np.float32).astype(np.float64) * PRED_SCALE).astype(np.int32)


def predict(model, crops, rows, amp: bool = False, batch_size: int = 256) -> np.ndarray:
    """``(len(rows), N, 2)`` float64 predictions of ``model`` in original-image pixels for the evaluation crops
    ``rows`` of ``crops`` (:class:`~aniso.data.resident.EvaluationCrops`; bf16 autocast and channels-last with
    ``amp``)."""
    import torch  # heavy: the report reads this module without loading torch  # noqa: PLC0415

    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.zeros((0, crops.scheme.n_points, 2))
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            x = crops.inputs(rows[start:start + batch_size])
            if amp:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(crops.device.type, dtype=torch.bfloat16, enabled=amp):
                out.append(model(x).float())
    return crops.to_original(torch.cat(out).cpu().numpy().astype(np.float64), rows)


def evaluate(pred: np.ndarray, data, dataset: str) -> tuple[dict, dict]:
    """Metrics and per-image arrays of every evaluated subset of ``data`` (:class:`~aniso.runs.data.RunData`).

    ``pred`` holds one row per ``data.eval_records`` (each distinct face once). Returns ``metrics``
    ``{subset: {"n": int, norm: {"nme", "fr@0.08", ..., "nme_truth"?}}}`` and ``arrays``: per face,
    ``faces/keys``, ``faces/pred`` (:func:`quantise`), ``nme/<norm>`` and, for synthetic data,
    ``nme_truth/<norm>`` (fractions); per subset, ``rows/<s>``, its faces' rows (a face in several subsets,
    e.g. 300W's common and full, is stored once).
    """
    spec = dataset_spec(dataset)
    scheme = get_scheme(spec.scheme)
    records = data.eval_records
    gt = np.stack([r.landmarks for r in records])
    boxes = np.stack([r.box for r in records])
    clean = (np.stack([r.clean_landmarks for r in records])
             if all(r.clean_landmarks is not None for r in records) else None)
    arrays = {"faces/keys": np.asarray([r.key for r in records], dtype=str), "faces/pred": quantise(pred)}
    for norm in spec.norms:
        arrays[f"nme/{norm}"] = nme(pred, gt, scheme, norm, boxes=boxes)
        if clean is not None:  # the truth's own normalising distance: what the face really measures
            arrays[f"nme_truth/{norm}"] = nme(pred, clean, scheme, norm, boxes=boxes)
    metrics = {}
    for s, rows in data.subset_rows.items():
        arrays[f"rows/{s}"] = np.asarray(rows, dtype=np.int32)
        metrics[s] = {"n": int(len(rows))}
        for norm in spec.norms:
            metrics[s][norm] = {k: v for k, v in summarize(arrays[f"nme/{norm}"][rows], THRESHOLDS).items()
                                if k != "n"}
            if clean is not None:
                metrics[s][norm]["nme_truth"] = float(arrays[f"nme_truth/{norm}"][rows].mean())
    return metrics, arrays
