"""The data sets the suite knows: one record per data set, used by loaders, generator, runner and report.

Each :class:`DatasetSpec` gathers the facts that more than one part of the
suite needs: the landmark scheme, the subsets a loader understands and their
sizes in the real release (both owned by the loader module, which reads that
layout), which subset trains, which subsets every run evaluates, the
normalisations the paper reports for the data set, and the primary
(subset, normalisation) pair that tables and figures lead with.

AFLW reports two normalisations: the face-box size of the AFLW-Full protocol
(what the compared methods use) and inter-pupil (what the paper's text says).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import aflw, w300, wflw

__all__ = ["DatasetSpec", "DATASETS", "dataset_spec", "DATASET_NAMES"]


@dataclass(frozen=True)
class DatasetSpec:
    """What the suite knows about one data set.

    Attributes:
        name: the suite's name (``"300w"``, ``"wflw"``, ``"aflw"``), also its scheme's name.
        label: how tables print it (``"300W"``).
        subsets: every subset the loader understands, in reporting order.
        expected_counts: faces per subset in the real release.
        train_subset: the subset runs train on (a validation split is carved from it).
        eval_subsets: the test subsets every run is evaluated on.
        norms: normalisations reported for this data set (keys of :data:`aniso.metrics.NORMS`).
        primary: ``(subset, norm)`` that tables and figures lead with.
    """

    name: str
    label: str
    subsets: tuple[str, ...]
    expected_counts: dict
    train_subset: str
    eval_subsets: tuple[str, ...]
    norms: tuple[str, ...]
    primary: tuple[str, str]

    @property
    def scheme(self) -> str:
        """Name of the landmark scheme (:func:`aniso.topology.get_scheme`)."""
        return self.name


DATASETS: dict[str, DatasetSpec] = {
    "300w": DatasetSpec(
        "300w", "300W", w300.SUBSETS, w300.EXPECTED_COUNTS, "train",
        eval_subsets=("common", "challenging", "full", "private"),
        norms=("inter_pupil", "inter_ocular"), primary=("full", "inter_pupil")),
    "wflw": DatasetSpec(
        "wflw", "WFLW", wflw.SUBSETS, wflw.EXPECTED_COUNTS, "train",
        eval_subsets=("test", "pose", "expression", "illumination", "makeup", "occlusion", "blur"),
        norms=("inter_ocular",), primary=("test", "inter_ocular")),
    "aflw": DatasetSpec(
        "aflw", "AFLW", aflw.SUBSETS, aflw.EXPECTED_COUNTS, "train",
        eval_subsets=("full", "frontal"),
        norms=("box", "inter_pupil"), primary=("full", "box")),
}
DATASET_NAMES = tuple(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (case-insensitive); a clear error for an unknown name."""
    key = str(name).lower()
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: expected one of {', '.join(DATASETS)}")
    return DATASETS[key]
