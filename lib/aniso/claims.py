"""Every claim the report judges, as data, and how each kind is judged from run records.

A :class:`Claim` names its notebook, the cells it compares (keys of
:func:`aniso.suite.notebook_cells`), the subset and normalisation (default:
the data set's primary pair), what the NME is measured against (the labels,
or the noise-free truth of the synthetic benchmark) and its kind:

* ``better``: A has lower NME than B (:func:`aniso.stats.compare`);
* ``failures``: A fails less often (NME above ``threshold``), compared as the
  per-image failure indicator in percent;
* ``equivalent``: A and B differ by less than ``margin`` times B's NME;
* ``epoch1``: A's validation NME after the first epoch is lower;
* ``epochs_to``: A reaches the notebook's target NME in fewer epochs;
* ``spread``: A's NME spreads more over runs than B's;
* ``gain_grows``: A's gain over B is larger in the first pair of cells
  (``a``, ``b``) than in the second (``a2``, ``b2``);
* ``best_b``: the best cell at b = 3 beats the best cell at any other b;
* ``best_of``: the best of ``cells`` (by mean NME) beats the paper's loss
  (or, when the paper's loss is the best, the runner-up);
* ``geometry``: errors spread more along the contours than across them.

Cells compared seed for seed are paired (same seeds on both sides);
otherwise the unpaired rule applies (:mod:`aniso.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import dataset_spec
from .suite import FAMILY, PAPER_LOSSES, cell_key, loss_label

__all__ = ["Claim", "CLAIMS", "claims_for", "cells_of", "extra_loss_claims"]


@dataclass(frozen=True)
class Claim:
    id: str
    notebook: str
    text: str
    kind: str
    a: str = ""
    b: str = ""
    subset: str = ""
    norm: str = ""
    against: str = "labels"
    headline: bool = False
    margin: float = 0.05
    threshold: float = 0.08
    a2: str = ""
    b2: str = ""
    cells: tuple = field(default_factory=tuple)
    #: Judged only where every arm trains to its own plateau (a profile with ``plateau``); elsewhere the verdict
    #: is shown "at this budget" and not counted as the claim judged (the backbones: each converges at its own pace).
    plateau: bool = False


def _k(ds, loss, **kw) -> str:
    return cell_key(ds, loss, **kw)


def _numbered(group: str, rows: list[dict]) -> list[Claim]:
    return [Claim(id=f"{group}.{i}", **row) for i, row in enumerate(rows, 1)]


def _c1() -> list[Claim]:
    aniso = lambda ds: _k(ds, "anisotropic")  # noqa: E731
    rows = [dict(notebook="table6", text="Anisotropic beats L2 on 300W", kind="better", a=aniso("300w"),
                 b=_k("300w", "l2"), headline=True),
            dict(notebook="table6", text="Anisotropic beats L2 on 300W against the noise-free truth", kind="better",
                 a=aniso("300w"), b=_k("300w", "l2"), against="truth")]
    rows += [dict(notebook="table6", text=f"Anisotropic beats {loss_label(base)} on {dataset_spec(ds).label}",
                  kind="better", a=aniso(ds), b=_k(ds, base))
             for ds in ("300w", "wflw", "aflw") for base in PAPER_LOSSES[:-1] if (ds, base) != ("300w", "l2")]
    rows += [dict(notebook="table1",
                  text=f"Anisotropic beats {loss_label(base)} on 300W {s} ({norm.replace('_', '-')})", kind="better",
                  a=aniso("300w"), b=_k("300w", base), subset=s, norm=norm)
             for norm, base in (("inter_pupil", "wing"), ("inter_ocular", "adaptive_wing"))
             for s in ("common", "challenging", "full")]
    rows += [dict(notebook="table2", text=f"Anisotropic beats {loss_label(base)} on AFLW {s} (box normalisation)",
                  kind="better", a=aniso("aflw"), b=_k("aflw", base), subset=s, norm="box")
             for base in ("wing", "adaptive_wing") for s in ("full", "frontal")]
    rows += [dict(notebook="table3", text=f"Anisotropic beats AWing on WFLW {s}", kind="better", a=aniso("wflw"),
                  b=_k("wflw", "adaptive_wing"), subset=s, norm="inter_ocular")
             for s in dataset_spec("wflw").eval_subsets]
    rows += [dict(notebook="table3", text="Anisotropic beats Wing on WFLW test", kind="better", a=aniso("wflw"),
                  b=_k("wflw", "wing"), subset="test", norm="inter_ocular")]
    rows += [dict(notebook="table5", text=f"Anisotropic beats {loss_label(base)} on the 300W private set",
                  kind="better", a=aniso("300w"), b=_k("300w", base), subset="private", norm="inter_ocular")
             for base in ("adaptive_wing", "wing")]
    rows += [dict(notebook="table5", text="Anisotropic fails less often than AWing on the 300W private set (FR@8%)",
                  kind="failures", a=aniso("300w"), b=_k("300w", "adaptive_wing"), subset="private",
                  norm="inter_ocular", threshold=0.08)]
    return _numbered("C1", rows)


def _c2_to_c6() -> list[Claim]:
    aniso, wing = _k("300w", "anisotropic"), _k("300w", "wing")
    none, direct = _k("300w", "anisotropic", balancing="none"), _k("300w", "anisotropic", balancing="none",
                                                                   target="absolute")
    over = _k("300w", "anisotropic", balancing="wing")
    c2 = _numbered("C2", [
        dict(notebook="figure2", text="After one epoch the anisotropic model is closer to the faces than Wing's",
             kind="epoch1", a=aniso, b=wing, headline=True),
        dict(notebook="figure2", text="The anisotropic loss reaches the target NME in fewer epochs than Wing",
             kind="epochs_to", a=aniso, b=wing)])
    c3 = _numbered("C3", [
        dict(notebook="table4", text="Our (undersampling) balancing beats no balancing", kind="better", a=aniso,
             b=none, headline=True),
        dict(notebook="table4", text="Our balancing beats Wing's balancing", kind="better", a=aniso, b=over),
        dict(notebook="table4", text="Wing's data balancing improves on no balancing", kind="better", a=over, b=none),
        dict(notebook="table4", text="Wing's data balancing widens the spread over runs", kind="spread", a=over,
             b=none),
        dict(notebook="table4", text="The full method beats AWing", kind="better", a=aniso,
             b=_k("300w", "adaptive_wing"))])
    c4 = _numbered("C4", [
        dict(notebook="table4", text="Direct prediction and displacement from the mean of bin means make almost no "
                                     "difference", kind="equivalent", a=direct, b=none, headline=True)])
    c6 = _numbered("C6", [dict(notebook="supp_ab_sweep", text="b = 3 is the best across-contour scale",
                               kind="best_b", headline=True)])
    return c2 + c3 + c4 + _backbones() + c6


def _backbones(archs=("resnet18", "resnet50", "densenet121", "wide_resnet50_2"), study=None) -> list[Claim]:
    others, study = [a for a in archs if a != "resnet18"], study or {}
    return _numbered("C5", [
        dict(notebook="supp_architectures", text=f"{arch} and resnet18 make little difference", kind="equivalent",
             a=_k("300w", "anisotropic", **study, arch=arch), b=_k("300w", "anisotropic", **study, arch="resnet18"),
             margin=0.10, headline=i == 0, plateau=True) for i, arch in enumerate(others)])


def _geometry() -> list[Claim]:
    rows = [dict(notebook="figure1", text=f"Errors spread more along the contours than across them on "
                                          f"{dataset_spec(ds).label} (L2 model {what})",
                 kind="geometry", a=_k(ds, "l2"), against=against, headline=(ds, against) == ("300w", "labels"))
            for ds in ("300w", "wflw", "aflw") for against, what in (("labels", "against the labels"),
                                                                    ("truth", "against the noise-free truth"))]
    return _numbered("G", rows)


def _mechanism(noise=(0.0, 1.0, 2.0, 4.0), optimizers=("adam", "sgd"), study=None) -> list[Claim]:
    """The mechanism study's claims; with one noise level (the long CPU regime) the gain cannot grow, and the
    headline is the anisotropic loss against L2 with each optimiser at that level."""
    study = study or {}
    cell = lambda loss, opt, n: _k("300w", loss, **study, optimizer=opt, synth_noise=float(n))  # noqa: E731
    hi, lo = max(noise), min(noise)
    rows = [dict(notebook="mechanism", text=f"The anisotropic gain over L2 (against the truth) grows from {lo:g}x to "
                                            f"{hi:g}x along-contour label noise with {opt}", kind="gain_grows",
                 a=cell("anisotropic", opt, hi), b=cell("l2", opt, hi), a2=cell("anisotropic", opt, lo),
                 b2=cell("l2", opt, lo), against="truth", headline=True) for opt in optimizers if hi > lo]
    rows += [dict(notebook="mechanism", text=f"Anisotropic beats L2 with {opt} at {n:g}x label noise ({what})",
                  kind="better", a=cell("anisotropic", opt, n), b=cell("l2", opt, n), against=against,
                  headline=hi == lo and against == "truth")
             for opt in optimizers for n in noise for against, what in (("labels", "against the labels"),
                                                                         ("truth", "against the truth"))]
    return _numbered("M", rows)


def _family() -> list[Claim]:
    cells = tuple(_k("300w", loss) for loss in ("anisotropic",) + FAMILY)
    rows = [dict(notebook="table6", text="The best loss of the anisotropic family on 300W beats the runner-up (the "
                                         "verdict names both)", kind="best_of", cells=cells, headline=True)]
    rows += [dict(notebook="table6", text=f"{loss_label(loss)} beats {loss_label(base)} on 300W", kind="better",
                  a=_k("300w", loss), b=_k("300w", base)) for loss in FAMILY for base in ("anisotropic", "l2")]
    return _numbered("F", rows)


def extra_loss_claims(extra_losses, notebook: str = "table6") -> list[Claim]:
    """Claims for user losses: each against L2 and against the paper's loss, on every data set of Table 6."""
    rows = [dict(notebook=notebook, text=f"{loss_label(loss)} beats {loss_label(base)} on {dataset_spec(ds).label}",
                 kind="better", a=_k(ds, loss), b=_k(ds, base))
            for loss in extra_losses or () for ds in ("300w", "wflw", "aflw") for base in ("l2", "anisotropic")]
    return [Claim(id=f"F.u{i}", **row) for i, row in enumerate(rows, 1)]


#: Every claim, with the mechanism study on the default profile's grid.
CLAIMS: tuple[Claim, ...] = tuple(_c1() + _c2_to_c6() + _geometry() + _mechanism() + _family())


def claims_for(notebook: str, profile: str = "default", extra_losses=()) -> list[Claim]:
    """The claims a notebook judges: the mechanism study's follow the profile's grids; user-loss claims in Table 6;
    only on the data sets the profile covers."""
    from .runs import get_profile
    from .suite import grid, study_settings

    if notebook == "mechanism":
        return _mechanism(tuple(grid(profile, "noise")), tuple(grid(profile, "optimizers")), study_settings(profile))
    if notebook == "supp_architectures":
        return _backbones(tuple(grid(profile, "archs")), study_settings(profile))
    out = [c for c in CLAIMS if c.notebook == notebook]
    out += [c for c in extra_loss_claims(extra_losses) if c.notebook == notebook]
    covered = get_profile(profile).datasets
    return [c for c in out if all(k.split("/")[0] in covered for k in cells_of(c))]


def cells_of(claim: Claim) -> list[str]:
    """The cell keys a claim compares."""
    return [k for k in (claim.a, claim.b, claim.a2, claim.b2, *claim.cells) if k]
