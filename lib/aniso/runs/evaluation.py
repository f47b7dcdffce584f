"""The metrics a run stores (predictions come from :meth:`aniso.data.resident.ResidentSet.predict`).

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

__all__ = ["evaluate", "THRESHOLDS"]

THRESHOLDS = (0.08, 0.10)


def evaluate(pred: np.ndarray, data, dataset: str) -> tuple[dict, dict]:
    """Metrics and per-image arrays of every evaluated subset of ``data`` (:class:`~aniso.runs.data.RunData`).

    ``pred`` holds one row per ``data.eval_records``. Returns ``metrics``
    ``{subset: {"n": int, norm: {"nme", "fr@0.08", ..., "nme_truth"?}}}`` and
    ``arrays`` with ``keys/<s>``, ``pred/<s>``, ``nme/<s>/<norm>`` and, for
    synthetic data, ``nme_truth/<s>/<norm>`` (fractions).
    """
    spec = dataset_spec(dataset)
    scheme = get_scheme(spec.scheme)
    records = data.eval_records
    gt = np.stack([r.landmarks for r in records])
    boxes = np.stack([r.box for r in records])
    clean = (np.stack([r.clean_landmarks for r in records])
             if all(r.clean_landmarks is not None for r in records) else None)
    metrics, arrays = {}, {}
    for s, rows in data.subset_rows.items():
        arrays[f"keys/{s}"] = np.asarray([records[i].key for i in rows], dtype=str)
        arrays[f"pred/{s}"] = pred[rows].astype(np.float32)
        metrics[s] = {"n": int(len(rows))}
        for norm in spec.norms:
            e = nme(pred[rows], gt[rows], scheme, norm, boxes=boxes[rows])
            arrays[f"nme/{s}/{norm}"] = e
            metrics[s][norm] = {k: v for k, v in summarize(e, THRESHOLDS).items() if k != "n"}
            if clean is not None:
                # the truth's own normalising distance: what the face really measures
                et = nme(pred[rows], clean[rows], scheme, norm, boxes=boxes[rows])
                arrays[f"nme_truth/{s}/{norm}"] = et
                metrics[s][norm]["nme_truth"] = float(et.mean())
    return metrics, arrays
