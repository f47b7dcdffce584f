"""One experiment per notebook, declared in one place: its cells, its claims, its figures' context, its regimes and
its place in a GPU session.

An :class:`Experiment` is everything the suite knows about a notebook (``notebooks/<name>.ipynb``): the cells it
trains under a profile (:mod:`aniso.suite`'s building blocks), the claims it judges (:mod:`aniso.claims`), what its
figures' claims are judged with, the profiles that run it and its GPU priority. The runner, the judge, the regimes,
the report and ``ci/gpu_session.py`` read these declarations; no other module names a notebook. Adding a notebook is
one :class:`Experiment` in :data:`EXPERIMENTS` plus the notebook file (``docs/ARCHITECTURE.md`` has the recipe).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from . import suite
from .claims import CLAIMS, Claim, ab_study, backbones, cells_of, extra_loss_claims, mechanism_claims
from .figure_data import error_geometry, val_curves
from .runs import RunRecord, config_id, get_profile, run_many, tune_many
from .runs.cluster import connected, parallel
from .runs.profiles import chosen_error_model
from .suite import Cell, loss_label

__all__ = ["Experiment", "EXPERIMENTS", "NOTEBOOKS", "gpu_priority", "BUDGET_CURVE", "REGIME_LINE", "get",
           "notebook_cells", "claims_for", "figure_context", "for_profile", "plan", "records", "prepare",
           "register", "CELL_PARAMS"]


def _declared_claims(name: str) -> Callable:
    """The claims of :data:`aniso.claims.CLAIMS` that name this notebook, and user losses' where it judges them."""
    def claims(profile: str, extra_losses=()) -> list[Claim]:
        return [c for c in CLAIMS if c.notebook == name] + \
            [c for c in extra_loss_claims(extra_losses) if c.notebook == name]
    return claims


@dataclass(frozen=True)
class Experiment:
    """A notebook's declaration.

    ``cells(profile, **params)``: ``{cell key: Cell}`` it trains (``params``: the notebook's cell parameters, e.g.
    ``extra_losses``, ``a_values``); ``claims(profile, extra_losses)``: the claims it judges (default: those of
    :data:`aniso.claims.CLAIMS` naming it); ``context(records, **params)``: what its figures' claims are judged
    with (``context_each``: from whichever of its cells are stored, else only once every one is); ``also``: the
    selective profiles (:attr:`aniso.runs.Profile.selective`) that run it beside every other profile; ``only``:
    the profiles that run it, and no other (None: every non-selective one); ``gpu``: its place in a GPU session
    (lower first; None: with the rest)."""

    name: str
    title: str
    cells: Callable[..., dict]
    claims: Callable[..., list] | None = None
    context: Callable[..., dict] | None = None
    context_each: bool = False
    also: tuple = ()
    only: tuple | None = None
    gpu: int | None = None

    def claims_for(self, profile: str, extra_losses=()) -> list[Claim]:
        """Its claims, on the data sets the profile covers."""
        found = (self.claims or _declared_claims(self.name))(profile, extra_losses)
        covered = get_profile(profile).datasets
        return [c for c in found if all(k.split("/")[0] in covered for k in cells_of(c))]

    def runs_in(self, profile: str) -> bool:
        """Whether the profile runs it (without being named)."""
        if self.only is not None:
            return profile in self.only
        return profile in self.also or not get_profile(profile).selective


# ----------------------------------------------------------------------------- the cells of each experiment

def _shown(ds: str) -> Callable:
    """Tables 1, 2, 3 and 5: three losses on one data set (the paper's loss beside Wing and AWing)."""
    return lambda profile, extra_losses=(): suite.loss_cells((ds,), extra_losses, profile, suite.SHOWN_LOSSES)


def _table6(profile: str, extra_losses=()) -> dict:
    return {**suite.loss_cells(("300w", "wflw", "aflw"), extra_losses, profile), **suite.budget_cells(profile)}


def _figure1(profile: str) -> dict:
    cells = (Cell(ds, "l2", label="L2") for ds in ("300w", "wflw", "aflw") if ds in get_profile(profile).datasets)
    return {c.key: c for c in cells}


def _figure2(profile: str) -> dict:
    cells = (Cell("300w", loss, label=loss_label(loss)) for loss in ("wing", "anisotropic", "l2"))
    return {c.key: c for c in cells}


# ----------------------------------------------------------------------------- what the figures' claims need

def _geometry(records: dict, a: float = 6.0, b: float = 3.0, seed: int = 0, **_) -> dict:
    """Figure 1: the error geometry per data set (ellipses of the anisotropic loss's ``a``, ``b``; bootstrap seeded
    with ``seed``)."""

    return {"geometry": {key.split("/")[0]: error_geometry(recs, a, b, seed=seed) for key, recs in records.items()}}


def _target(records: dict, target_nme: float | None = None, **_) -> dict:
    """Figure 2: the target NME (``target_nme`` percent, or the worse loss's final validation NME)."""

    target = (target_nme / 100) if target_nme is not None else max(val_curves(r)[:, -1].mean()
                                                                     for r in records.values())
    return {"target": float(target)}


# ----------------------------------------------------------------------------- the declarations

# The calibrated benchmark's regimes run the core claims on 300W, with Table 4 and the anisotropy against
# re-weighting pair (the (a, b) study at b = 3 only)
_CALIBRATED = ("long-calibrated", "converged-calibrated")
_CORE = ("long", *_CALIBRATED)  # the long CPU regime runs the core claims on 300W

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("table1", "Table 1: 300W", _shown("300w"), also=_CORE),
    Experiment("table2", "Table 2: AFLW", _shown("aflw")),
    Experiment("table3", "Table 3: WFLW", _shown("wflw")),
    Experiment("table4", "Table 4: the ablation", lambda profile: suite.ablation_cells(), gpu=1, also=_CALIBRATED),
    Experiment("table5", "Table 5: the 300W private set", _shown("300w"), also=_CORE),
    Experiment("table6", "Table 6: the losses", _table6, also=_CORE),
    Experiment("figure1", "Figure 1: the error geometry", _figure1, context=_geometry, context_each=True,
               also=_CORE),
    Experiment("figure2", "Figure 2: convergence", _figure2, context=_target, also=_CORE, gpu=3),
    Experiment("supp_ab_sweep", "The (a, b) sweep",
               lambda profile, a_values=None, b_values=None: suite.sweep_cells(profile, a_values, b_values),
               claims=lambda profile, extra=(): ab_study(suite.grid(profile, "ab"), suite.study_settings(profile)),
               also=_CALIBRATED),
    Experiment("supp_architectures", "Backbones", lambda profile, archs=None: suite.arch_cells(profile, archs),
               claims=lambda profile, extra=(): backbones(tuple(suite.grid(profile, "archs")),
                                                           suite.study_settings(profile))),
    Experiment("mechanism", "When the anisotropic loss helps",
               lambda profile, extra_losses=(): suite.mechanism_cells(profile, extra_losses), also=_CORE, gpu=2,
               claims=lambda profile, extra=(): mechanism_claims(tuple(suite.grid(profile, "noise")),
                                                           tuple(suite.grid(profile, "optimizers")),
                                                           suite.study_settings(profile))),
    Experiment("synthetic_benchmark", "The synthetic benchmark", lambda profile: {}),
    Experiment("calibration", "The annotation-error calibration",
               lambda profile, candidates=None, baselines=None, datasets=None: suite.calibration_cells(
                   profile, candidates, baselines, datasets),
               claims=lambda profile, extra=(): [], only=("calibration",)),
)}

#: The notebooks in the paper's order: the order the suite runs them and the report lists them.
NOTEBOOKS: tuple[str, ...] = tuple(EXPERIMENTS)

#: Table 6's L2 cells at fewer epochs: the NME-against-training-images curve of each regime.
BUDGET_CURVE = "table6"
#: The experiment whose 300W L2 cell gives each regime's line (L2 beside the label-noise floor).
REGIME_LINE = "figure2"

def calibrated() -> str | None:
    """The annotation-error model the committed calibration chose after its second stage (``None``: not yet)."""
    return chosen_error_model()


def gpu_priority() -> list:
    """A GPU session's groups, in order: ``(what, [(experiment, which of its cells, or None for all)], profile)``
    (``profile`` None: the session's, the converged one); a cell trains in the first group that has it. Once the
    calibration chose a model: its check first (L1 and L2 on 300W), then the calibrated benchmark's converged core
    cells (:data:`~aniso.runs.profiles.PROFILES` ``converged-calibrated``); then Table 6's 300W cells, the
    experiments by their ``gpu`` rank, the rest."""
    table6 = lambda keep: [("table6", keep)]  # noqa: E731
    ranked = sorted((e for e in EXPERIMENTS.values() if e.gpu is not None), key=lambda e: e.gpu)
    chosen = calibrated()
    core = lambda cell: suite.is_core(cell, _CALIBRATED[1])  # noqa: E731
    first = [(f"the calibrated benchmark ({chosen}): L1 and L2 on 300W",
              [("calibration", lambda cell: cell.settings.get("synth_errors") == chosen
                and cell.dataset in suite.CALIBRATION_CHECK["datasets"]
                and cell.loss in suite.CALIBRATION_CHECK["baselines"])], None),
             (f"the calibrated benchmark ({chosen}): 300W's core cells (Table 6's losses, anisotropy against "
              "re-weighting)", [("table6", core), ("supp_ab_sweep", core)], _CALIBRATED[1]),
             ] if chosen else []
    return [
        *first,
        ("300W: the paper's losses (Tables 1, 5, 6; Figure 2)",
         table6(lambda cell: cell.dataset == "300w" and "epochs" not in cell.settings
                and cell.loss in suite.PAPER_LOSSES), None),
        ("300W: the anisotropic family (Table 6)",
         table6(lambda cell: cell.dataset == "300w" and "epochs" not in cell.settings), None),
        *[(e.title, [(e.name, None)], None) for e in ranked],
        ("the rest", [(e.name, None) for e in EXPERIMENTS.values() if e.only is None and e.gpu is None], None),
    ]


def register(experiment: Experiment) -> None:
    """Declare another experiment (a test's, a user's): its notebook is ``notebooks/<name>.ipynb``."""
    EXPERIMENTS[experiment.name] = experiment


def get(name: str) -> Experiment:
    """The experiment of a notebook; a clear error naming the known ones otherwise."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown notebook {name!r}: expected one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def for_profile(profile: str) -> list[str]:
    """The notebooks a profile runs when none is named."""
    return [e.name for e in EXPERIMENTS.values() if e.runs_in(profile)]


def notebook_cells(notebook: str, profile: str, **params) -> dict[str, Cell]:
    """The cells a notebook draws, by key (``params``: its cell parameters; ``None`` values are left out)."""
    return get(notebook).cells(profile, **{k: v for k, v in params.items() if v is not None})


def claims_for(notebook: str, profile: str = "default", extra_losses=()) -> list[Claim]:
    """The claims a notebook judges (see :meth:`Experiment.claims_for`)."""
    return get(notebook).claims_for(profile, extra_losses)


def figure_context(notebook: str, records: dict, **params) -> dict:
    """What a notebook's figure claims are judged with, from its runs (``{}``: it has none)."""
    context = get(notebook).context
    return context(records, **params) if context is not None else {}


#: The notebook parameters that choose cells (the rest choose runs: profile, seeds, epochs, device, data roots).
CELL_PARAMS = ("extra_losses", "a_values", "b_values", "archs", "candidates", "baselines", "datasets")


def plan(notebook: str, progress: bool = True, tune: bool = True, keys=None, **params) -> dict:
    """:func:`aniso.suite.plan` of a notebook's cells (``params``: the run and cell parameters)."""
    cell_params = {k: params.pop(k) for k in CELL_PARAMS if k in params}
    cells = notebook_cells(notebook, params.get("profile", "default"), **cell_params)
    return suite.plan(cells, progress=progress, tune=tune, keys=keys, **params)


def records(notebook: str, progress: bool = True, **params) -> dict[str, list[RunRecord]]:
    """Run (or load) every cell of a notebook: ``{cell key: records, one per seed}`` (see :func:`plan`)."""
    planned = plan(notebook, progress=progress, **params)
    configs = [c for _, cfgs, _ in planned.values() for c in cfgs]
    metas = [m for _, _, ms in planned.values() for m in ms]
    done = iter(run_many(configs, progress=progress, extra_meta=metas))
    return {key: [next(done) for _ in cfgs] for key, (_, cfgs, _) in planned.items()}


def prepare(plans: dict[str, dict], workers: int | None = None, ray_address: str | None = None,
            progress: bool = True) -> int:
    """Tune, then train, every run that the notebooks of ``plans`` need: in parallel through Ray when asked.

    ``plans``: ``{notebook: keyword arguments of plan()}``, what each notebook will be given. Every grid point
    of every learning rate still to tune is one sweep (:func:`~aniso.runs.tune_many`), every distinct final
    run another (:func:`~aniso.runs.run_many`), with ``workers`` and ``ray_address`` as they take them; the
    notebooks then find everything stored. Returns the number of distinct runs.
    """

    untuned = {nb: plan(nb, progress=progress, tune=False, **kw) for nb, kw in plans.items()}
    all_configs = [c for p in untuned.values() for _, cfgs, _ in p.values() for c in cfgs]
    threads = max((c.threads for c in all_configs), default=1)
    to_tune = [suite.tuning_base(cell, c) for nb, kw in plans.items() for cell, cfgs, _ in untuned[nb].values()
               if suite.is_tuned(cell, kw.get("profile", "default")) for c in cfgs]
    with connected(workers, ray_address, threads) if parallel(workers, ray_address) else nullcontext():
        tune_many(to_tune, progress=progress, workers=workers, ray_address=ray_address)
        runs = {}
        for nb, kw in plans.items():
            for _, cfgs, metas in plan(nb, progress=progress, **kw).values():
                for c, m in zip(cfgs, metas):
                    runs.setdefault(config_id(c), (c, m))
        run_many([c for c, _ in runs.values()], progress=progress, extra_meta=[m for _, m in runs.values()],
                 workers=workers, ray_address=ray_address)
    return len(runs)
