"""A verdict: the outcome of one claim, with its evidence in words and figures.

Outcomes (:data:`STATUSES`): **reproduced** (significant in the claimed
direction), **contradicted** (significant the other way), **inconclusive**
(neither), **no verdict** (an arm did not train: nothing is judged from it, and the
verdict says why). The statistics behind them live in :mod:`aniso.stats`; how run
records become its inputs, in :mod:`aniso.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Verdict", "STATUSES", "GROUPS", "counts"]

STATUSES = ("reproduced", "contradicted", "inconclusive", "no verdict")

#: The paper's claims, grouped as the report's headline lists them, plus the suite's own studies.
GROUPS = {
    "P": "positive controls: L1, smooth L1, Wing and AWing beat L2, as on every real data set (Table 6)",
    "C1": "the anisotropic loss beats the other losses",
    "C2": "it converges faster than Wing",
    "C3": "undersampling pose balance beats no balancing and Wing's balancing",
    "C4": "direct prediction and the displacement from the mean of bin means make almost no difference",
    "C5": "ResNet, DenseNet and Wide ResNet backbones make little difference",
    "C6": "b = 3 is the best across-contour scale",
    "G": "errors spread along the contours (Figure 1's premise)",
    "M": "when the anisotropic loss helps: label noise x optimiser (beyond the paper)",
    "F": "the anisotropic family and user losses (beyond the paper)",
}


def counts(status: str, stats: dict) -> bool:
    """Whether a verdict counts as its claim judged: an arm trained (not "no verdict") and it is not shown only "at
    this budget" (a backbone off its plateau). Counts, Holm's family and the regime comparison use this rule."""
    return status != "no verdict" and not stats.get("at_budget")


@dataclass
class Verdict:
    """The judgement of one claim.

    ``id`` is the claim's id (``"C1.2"``; its group is the part before the
    dot), ``headline`` marks the claim the report's headline shows for its
    group, ``numbers`` states the evidence in one sentence, ``stats`` keeps
    the figures machine-readable (effect, interval, one-sided p, detectable
    effect, runs, ...).
    """

    claim: str
    status: str
    numbers: str
    id: str = ""
    headline: bool = False
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Verdict status {self.status!r}: expected one of {STATUSES}")

    def markdown(self) -> str:
        tag = f"{self.id}: " if self.id else ""
        return f"- {tag}**{self.status}**: {self.claim}. {self.numbers}"
