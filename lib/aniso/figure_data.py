"""Data behind the figures, computed from stored runs (:mod:`aniso.drawing` draws it, notebooks show it).

* :func:`error_geometry`: assumed vs observed per-point error covariances (Figure 1);
* :func:`tracked_faces`: a run's predictions on its tracked test faces after every epoch (Figures 2, 3);
* :func:`val_curves`, :func:`epochs_to_reach`: validation NME per epoch (Figure 2's curves, convergence claims);
* :func:`label_noise_floor`: NME of the synthetic labels against their noise-free truth.
"""

from __future__ import annotations

import numpy as np

from . import analysis
from .data import dataset_spec, open_dataset
from .data.augment import crop_matrix, transform_points
from .losses import learned_covariances
from .metrics import nme
from .runs.data import data_root, prepare_data
from .runs.store import RunRecord
from .topology import get_scheme

__all__ = ["subset_records", "error_geometry", "tracked_faces", "epochs_to_reach", "val_curves", "label_noise_floor",
           "label_noise_geometry"]


def subset_records(record: RunRecord, subset: str) -> list:
    """The data-set records of one evaluated subset, in the order of the run's stored arrays."""
    config = record.config
    by_key = {r.key: r for r in open_dataset(config.dataset, prepare_data(config, progress=False), subset)}
    keys = record.keys(subset)
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"run {record.id}: {len(missing)} evaluated faces of {subset!r} are no longer in the data "
                         f"set (first: {missing[0]!r}); was the data regenerated?")
    return [by_key[k] for k in keys]


def error_geometry(records: list[RunRecord], a: float, b: float, n_boot: int = 300, seed: int = 0) -> dict:
    """Assumed and observed per-point error covariances for Figure 1.

    All in the normalised frame of :mod:`aniso.analysis` (inter-ocular
    distance 1, eyes level). Returns ``mean`` ``(N, 2)``, ``assumed``,
    ``observed`` (model residuals against the labels, pooled over the
    runs), ``observed_truth`` (against the noise-free truth, synthetic data
    only, else ``None``), ``label_noise`` (labels against truth on the
    training set, synthetic only), and for each observed set the median
    along/across ratio with its 95% bootstrap interval (``ratio_*``).
    """
    config = records[0].config
    scheme = get_scheme(config.dataset)
    subset = dataset_spec(config.dataset).primary[0]
    faces = subset_records(records[0], subset)
    gt = np.stack([f.landmarks for f in faces])
    pred = np.concatenate([r.predictions(subset) for r in records])
    reps = len(records)
    res = analysis.normalised_residuals(pred, np.concatenate([gt] * reps), scheme)
    mean = analysis.mean_shape_normalised(gt, scheme)
    by_run = lambda x: x.reshape(reps, len(faces), *x.shape[1:])  # noqa: E731  (runs are stacked run-major)
    train = open_dataset(config.dataset, data_root(config), config.train_subset)
    out = {"scheme": scheme, "mean": mean, "assumed": analysis.assumed_covariances(mean, scheme, a, b),
           "learned": _learned(np.stack([t.landmarks for t in train]), scheme),
           "observed": analysis.point_covariances(res),
           "ratio_observed": analysis.ratio_interval(by_run(res), mean, scheme, n_boot, seed),
           "observed_truth": None, "label_noise": None, "n_faces": len(faces), "runs": reps}
    if all(f.clean_landmarks is not None for f in faces):
        clean = np.stack([f.clean_landmarks for f in faces])
        res_t = analysis.normalised_residuals(pred, np.concatenate([clean] * reps), scheme)
        out["observed_truth"] = analysis.point_covariances(res_t)
        out["ratio_truth"] = analysis.ratio_interval(by_run(res_t), mean, scheme, n_boot, seed)
        noise = analysis.normalised_residuals(np.stack([t.landmarks for t in train]),
                                              np.stack([t.clean_landmarks for t in train]), scheme)
        out["label_noise"] = analysis.point_covariances(noise)
        out["ratio_labels"] = analysis.ratio_interval(noise, mean, scheme, n_boot, seed)
    return out


def _learned(train_shapes: np.ndarray, scheme) -> np.ndarray:
    """The covariances the ``learned_anisotropic`` loss estimates from the training labels, eyes levelled
    (their size is in the Procrustes frame's units: figures rescale them, only their shape is compared)."""

    lc = learned_covariances(train_shapes, scheme)
    i, j = scheme.ocular
    v = lc.mean_shape[j] - lc.mean_shape[i]
    c, s = v / np.linalg.norm(v)
    rot = np.array([[c, s], [-s, c]])  # turns the eye line onto +x, as analysis.normalised_residuals does
    return rot @ lc.covariance @ rot.T


def label_noise_geometry(dataset: str, root) -> tuple[np.ndarray, np.ndarray, object]:
    """The synthetic labels' noise on the training set: mean shape and per-point covariances of labels minus
    truth, in the normalised frame (inter-ocular distance 1, eyes level), and the scheme."""
    scheme = get_scheme(dataset)
    train = open_dataset(dataset, root, dataset_spec(dataset).train_subset)
    if any(t.clean_landmarks is None for t in train):
        raise ValueError(f"{root}: no noise-free truth beside the labels (only the synthetic benchmark has one)")
    labels, clean = np.stack([t.landmarks for t in train]), np.stack([t.clean_landmarks for t in train])
    res = analysis.normalised_residuals(labels, clean, scheme)
    return analysis.mean_shape_normalised(clean, scheme), analysis.point_covariances(res), scheme


def _yaw_label(yaw) -> str:
    # round first, so that -0.3 degrees prints as "yaw 0°", not "yaw -0°"
    v = int(round(float(yaw)))
    return f"yaw {v:+d}°" if v else "yaw 0°"


def tracked_faces(record: RunRecord, size: int = 128) -> dict:
    """Crops of the run's tracked test faces and its predictions on them after every epoch.

    Returns ``images`` (list of ``(size, size, 3)`` uint8), ``gt`` (list of
    ``(N, 2)``), ``pred`` ``(E + 1, F, N, 2)`` — all in crop pixels — ``epochs``
    (0 = before training) and ``labels`` (pose of each face when known).
    """
    import cv2  # heavy (cv2): loaded where it is used  # noqa: PLC0415


    config = record.config
    tr = record.tracked
    by_key = {r.key: r for r in subset_records(record, dataset_spec(config.dataset).primary[0])}
    images, gts, mats, labels = [], [], [], []
    for key in tr["keys"]:
        rec = by_key[str(key)]
        m = crop_matrix(rec.gt_box, size, config.crop_scale)
        images.append(cv2.warpAffine(rec.load_image(), m, (size, size), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE))
        gts.append(transform_points(rec.landmarks, m))
        mats.append(m)
        yaw = rec.attributes.get("yaw")
        labels.append(_yaw_label(yaw) if yaw is not None else str(key))
    pred = np.stack([np.stack([transform_points(tr["pred"][e, f], mats[f]) for f in range(len(mats))])
                     for e in range(len(tr["epochs"]))]) if len(mats) else np.zeros((0, 0))
    return {"images": images, "gt": gts, "pred": pred, "epochs": list(map(int, tr["epochs"])), "labels": labels}


def epochs_to_reach(records, target: float) -> np.ndarray:
    """Per run, the first epoch whose validation NME (fraction) is <= ``target``; ``inf`` if never."""
    out = []
    for r in records:
        h = r.history
        hit = h.index[h["val_nme"] <= target]
        out.append(float(h.loc[hit[0], "epoch"]) if len(hit) else float("inf"))
    return np.asarray(out)


def val_curves(records) -> np.ndarray:
    """``(R, E)`` validation NME (fraction) per run and epoch."""
    return np.stack([r.history["val_nme"].to_numpy() for r in records])


def label_noise_floor(record: RunRecord, subset: str, norm: str) -> float | None:
    """Mean NME (fraction) of the test labels against their noise-free truth: what a perfect model scores
    against the labels. ``None`` for real data (no truth)."""
    faces = subset_records(record, subset)
    if any(f.clean_landmarks is None for f in faces):
        return None
    labels = np.stack([f.landmarks for f in faces])
    clean = np.stack([f.clean_landmarks for f in faces])
    boxes = np.stack([f.box for f in faces])
    return float(nme(labels, clean, record.config.dataset, norm, boxes=boxes).mean())
