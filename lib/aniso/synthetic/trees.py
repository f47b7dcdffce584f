"""Reading back what a generated tree holds: the pose of every face and its label noise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import open_dataset, read_truth
from ..data.truth import TRUTH_FILE
from ..topology import Scheme, get_scheme

__all__ = ["tree_poses", "LabelNoise", "label_noise"]


def tree_poses(root: str | Path):
    """Per-face pose of a generated tree: a ``pandas.DataFrame`` indexed by record key, columns
    ``yaw``, ``pitch``, ``roll`` in degrees (from ``synthetic_truth.npz``; conventions in
    :mod:`aniso.synthetic.face.model`). Raises ``FileNotFoundError`` for a tree without a truth file.
    """
    import pandas as pd  # heavy (pandas): loaded where it is used  # noqa: PLC0415

    truth = read_truth(root)
    if truth is None:
        raise FileNotFoundError(f"{Path(root) / TRUTH_FILE} not found: only synthetic trees have per-face poses")
    keys = list(truth)
    pose = np.array([truth[k][1] for k in keys], dtype=np.float64).reshape(len(keys), 3)
    return pd.DataFrame(pose, index=pd.Index(keys, name="key"), columns=["yaw", "pitch", "roll"])


@dataclass(frozen=True)
class LabelNoise:
    """Written labels against the noise-free truth of one subset of a tree.

    ``keys`` (M,); ``labels``, ``truth``: (M, N, 2) pixels; ``scheme``: the
    data set's landmark scheme.
    """

    keys: tuple[str, ...]
    labels: np.ndarray
    truth: np.ndarray
    scheme: Scheme

    @property
    def residuals(self) -> np.ndarray:
        """``labels - truth``, (M, N, 2) pixels."""
        return self.labels - self.truth

    def along_across(self) -> tuple[np.ndarray, np.ndarray]:
        """Residual components (M, N) in pixels along each point's contour tangent (of the truth shape,
        :meth:`~aniso.topology.Scheme.unit_tangents`) and across it; NaN where a point has no tangent
        (``scheme.has_tangent`` false: corners and points on no curve)."""
        t = self.scheme.unit_tangents(self.truth)
        n = np.stack([-t[..., 1], t[..., 0]], axis=-1)
        res = self.residuals
        mask = np.where(self.scheme.has_tangent, 1.0, np.nan)
        return (res * t).sum(-1) * mask, (res * n).sum(-1) * mask


def label_noise(name: str, root: str | Path, subset: str) -> LabelNoise:
    """Labels and truth of ``subset`` of the generated ``name`` tree at ``root`` (through the real loaders).

    Raises ``ValueError`` when the tree has no truth for its faces (a real release).
    """
    records = open_dataset(name, root, subset)
    missing = [r.key for r in records if r.clean_landmarks is None]
    if missing:
        raise ValueError(f"{root}: {len(missing)} {name} {subset} faces have no synthetic truth "
                         f"(first {missing[0]!r}); label noise needs a generated tree")
    return LabelNoise(keys=tuple(r.key for r in records), labels=np.stack([r.landmarks for r in records]),
                      truth=np.stack([r.clean_landmarks for r in records]), scheme=get_scheme(name))
