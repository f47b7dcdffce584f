"""The runs behind every notebook: cells, their building blocks and their configurations (which experiment uses
which cells is declared in :mod:`aniso.experiments`).

A *cell* is one method on one data set (:class:`Cell`): a set of run
settings trained once per seed. Its key names it, e.g. ``"300w/anisotropic"``
or ``"300w/anisotropic/balancing=none"`` (:func:`cell_key`), and claims refer
to cells by key (:mod:`aniso.claims`). A configuration is identified by its
hash, so two notebooks that ask for the same cell get the same stored runs:
the anisotropic 300W runs of Table 1 are the anisotropic column of Table 6
and the last row of Table 4, and are trained once.

The paper's full method is the default of every run: anisotropic loss,
displacement from the mean of bin means, per-epoch undersampling over 9 pose
bins, the profile's optimiser at the learning rate tuned for the loss
(:mod:`aniso.runs.tuning`). A loss comparison changes only the loss; the
ablation only the target and the balancing; and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pathlib import Path
from types import MappingProxyType

from .data import dataset_spec
from .runs import RunConfig, get_profile, make_config, prepare_data, profile_runs, tuned_config
from .runs.config import with_loss_defaults
from .runs.data import check_root
from .runs.profiles import error_model
from .synthetic.noise import ERROR_MODELS
from .topology import get_scheme

__all__ = ["PAPER_LOSSES", "FAMILY", "SHOWN_LOSSES", "LOSS_LABELS", "ABLATION", "BASELINES", "Cell", "cell_key",
           "loss_label", "plan", "seeds", "grid", "source_label", "roots", "describe", "synthetic_set",
           "study_settings", "tuning_base", "is_tuned", "cell_configs", "dataset_spec", "get_scheme", "loss_cells",
           "budget_cells", "ablation_cells", "mechanism_cells", "sweep_cells", "arch_cells", "calibration_cells",
           "CALIBRATION_CHECK"]

PAPER_LOSSES = ("l2", "l1", "smooth_l1", "wing", "adaptive_wing", "anisotropic")
#: Relatives of the paper's loss, beyond the paper (:mod:`aniso.losses`).
FAMILY = ("anisotropic_direction", "learned_anisotropic", "anisotropic_wing")
LOSS_LABELS = {"l2": "L2", "l1": "L1", "smooth_l1": "smooth L1", "wing": "Wing", "adaptive_wing": "AWing",
               "anisotropic": "Anisotropic", "anisotropic_direction": "ADNet direction",
               "learned_anisotropic": "learned anisotropic", "anisotropic_wing": "anisotropic Wing"}

# Table 4's rows: label -> run settings (each row adds one thing to the one above, as in the paper).
ABLATION = {
    "Anisotropic": dict(balancing="none", target="displacement"),
    "Anisotropic + direct prediction": dict(balancing="none", target="absolute"),
    "Anisotropic + Wing's data balancing": dict(balancing="wing", target="displacement"),
    "Anisotropic + our data balancing": dict(balancing="under", target="displacement"),
}
_DEFAULTS = {"balancing": RunConfig.balancing, "target": RunConfig.target}


def loss_label(loss: str) -> str:
    """How tables name a loss: its label, or a user loss's attribute name (``pkg.mod:my_loss`` -> ``my_loss``)."""
    return LOSS_LABELS.get(loss, loss.rsplit(":", 1)[-1])


def cell_key(dataset: str, loss: str, **settings) -> str:
    """``"<dataset>/<loss>"`` plus ``/name=value`` for each setting that differs from the suite's default."""
    parts = [dataset, loss]
    for k in sorted(settings):
        v = settings[k]
        if k in _DEFAULTS and v == _DEFAULTS[k]:
            continue
        parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return "/".join(parts)


@dataclass(frozen=True)
class Cell:
    """One method on one data set: ``settings`` (RunConfig overrides) trained once per seed.

    ``tune_defaults``: the cell trains at the learning rate tuned for its loss with the loss's default
    parameters (the (a, b) sweep: one loss, many parameterisations), instead of tuning each variant.
    """

    dataset: str
    loss: str
    settings: dict = field(default_factory=dict)
    label: str = ""
    tune_defaults: bool = False

    @property
    def key(self) -> str:
        params = self.settings.get("loss_params", {})
        flat = {k: v for k, v in self.settings.items() if k != "loss_params"}
        return cell_key(self.dataset, self.loss, **flat, **params)


def grid(profile: str, name: str):
    """A profile's grid (``"ab"``: (a values, b values); ``"archs"``; ``"noise"``; ``"optimizers"``)."""
    grids = get_profile(profile).grids
    if name not in grids:
        raise ValueError(f"profile {profile!r} has no grid {name!r}: it has {sorted(grids)}")
    return grids[name]


def _losses(extra_losses) -> tuple:
    return PAPER_LOSSES + FAMILY + tuple(extra_losses or ())


#: The losses Tables 1, 2, 3 and 5 show (and judge): the paper's loss beside Wing and AWing.
SHOWN_LOSSES = ("wing", "adaptive_wing", "anisotropic")


def loss_cells(datasets, extra_losses, profile: str, losses=None) -> dict[str, Cell]:
    """``losses`` (default: every loss) on each data set the profile covers; the paper's loss's relatives on 300W
    only (the budget of two CPU cores); user losses always."""
    losses = tuple(losses or PAPER_LOSSES + FAMILY) + tuple(extra_losses or ())
    covered = [ds for ds in datasets if ds in get_profile(profile).datasets]
    cells = [Cell(ds, loss, label=loss_label(loss)) for ds in covered for loss in losses
             if ds == "300w" or loss not in FAMILY]
    return {c.key: c for c in cells}


def budget_cells(profile: str) -> dict[str, Cell]:
    """L2 on 300W with fewer epochs than the profile's: with the profile's own L2 cell, the curve of NME against
    training images that says what more compute would buy."""
    cells = [Cell("300w", "l2", {"epochs": int(e)}, f"L2, {e} epoch(s)") for e in grid(profile, "budget_epochs")]
    return {c.key: c for c in cells}


def ablation_cells() -> dict[str, Cell]:
    cells = [Cell("300w", "anisotropic", settings, label) for label, settings in ABLATION.items()]
    cells.append(Cell("300w", "adaptive_wing", label="AWing (reference)"))
    return {c.key: c for c in cells}


def study_settings(profile: str) -> dict:
    """Run settings of the supplementary studies (sweep, backbones, mechanism) where the profile sizes them
    differently from the main tables (e.g. a smaller training set on two CPU cores)."""
    return dict(get_profile(profile).study)


def mechanism_cells(profile: str, extra_losses) -> dict[str, Cell]:
    """L2 and the paper's loss over label noise x optimiser; the relatives (and user losses) at the highest
    noise with the first optimiser, where they have the most to gain (what the profile's budget allows)."""
    study, noise, opts = study_settings(profile), grid(profile, "noise"), grid(profile, "optimizers")
    cells = [Cell("300w", loss, {**study, "optimizer": opt, "synth_noise": float(n)}, loss_label(loss))
             for n in noise for opt in opts for loss in ("l2", "anisotropic")]
    cells += [Cell("300w", loss, {**study, "optimizer": opts[0], "synth_noise": float(max(noise))}, loss_label(loss))
              for loss in FAMILY + tuple(extra_losses or ())]
    return {c.key: c for c in cells}


def sweep_cells(profile: str, a_values, b_values) -> dict[str, Cell]:
    a_grid, b_grid = grid(profile, "ab")
    cells = [Cell("300w", "anisotropic", {**study_settings(profile), "loss_params": {"a": float(a), "b": float(b)}},
                  f"a={a:g}, b={b:g}", tune_defaults=True)
             for a in (a_values or a_grid) for b in (b_values or b_grid) if a >= b]  # along the contour >= across
    return {c.key: c for c in cells}


def arch_cells(profile: str, archs) -> dict[str, Cell]:
    cells = [Cell("300w", "anisotropic", {**study_settings(profile), "arch": arch}, arch)
             for arch in (archs or grid(profile, "archs"))]
    return {c.key: c for c in cells}


#: The baselines whose behaviour on real faces is known (the positive controls of the calibration).
BASELINES = ("l2", "l1", "smooth_l1", "wing", "adaptive_wing")


#: The calibration's check (docs/CALIBRATION.md): the chosen model's L2 and L1 on 300W at the converged protocol.
CALIBRATION_CHECK = MappingProxyType({"baselines": ("l2", "l1"), "datasets": ("300w",)})


def calibration_cells(profile: str, candidates, baselines, datasets=None) -> dict[str, Cell]:
    """The baselines (never the paper's loss) on each candidate annotation-error model and each data set the
    profile covers (``datasets``: only these of them)."""
    covered = get_profile(profile).datasets
    outside = sorted(set(datasets or ()) - set(covered))
    if outside:
        raise ValueError(f"data set(s) {outside} are not in profile {profile!r}: expected some of {list(covered)}")
    cells = [Cell(ds, loss, {"synth_errors": m}, f"{loss_label(loss)}, {m}") for m in (candidates or ERROR_MODELS)
             for ds in (datasets or covered) for loss in (baselines or BASELINES)]
    unknown = sorted({c.settings["synth_errors"] for c in cells} - set(ERROR_MODELS))
    if unknown:
        raise ValueError(f"unknown candidate error model(s) {unknown}: expected some of {list(ERROR_MODELS)}")
    wrong = sorted({c.loss for c in cells} - set(BASELINES))
    if wrong:
        raise ValueError(f"the calibration trains the baselines only {BASELINES}, not {wrong}")
    return {c.key: c for c in cells}


def seeds(profile: str, runs: int | None = None, seed: int = 0, cell: Cell | None = None) -> list[int]:
    """The seeds of a profile's runs (``runs`` overrides the profile's count; a core ``cell``, :func:`is_core`, has
    the profile's ``core_runs`` where it sets them)."""
    prof = get_profile(profile)
    n = runs if runs is not None else (prof.core_runs if prof.core_runs and cell is not None
                                       and is_core(cell, profile) else profile_runs(profile))
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"notebook parameter runs={runs!r} is invalid: expected a positive integer (or None)")
    return list(range(int(seed), int(seed) + n))


#: What :func:`is_core` names, in words (the notebooks' seed counts say it).
CORE_TEXT = "Table 6's six losses on 300W and the anisotropy-against-re-weighting pair"
#: The (a, b) study's anisotropy-against-re-weighting pair at the paper's b (claim C6.2): a = 2b against a = b.
CORE_AB = ({"a": 6.0, "b": 3.0}, {"a": 3.0, "b": 3.0})


def is_core(cell: Cell, profile: str) -> bool:
    """Whether a cell is one of the core comparisons that a profile's ``core_runs`` applies to: Table 6's six losses
    on 300W at the profile's own settings, and the anisotropy-against-re-weighting pair (:data:`CORE_AB`) at the
    study's settings."""
    if cell.dataset != "300w":
        return False
    if cell.loss in PAPER_LOSSES and not cell.settings:
        return True
    rest = {k: v for k, v in cell.settings.items() if k != "loss_params"}
    return cell.loss == "anisotropic" and cell.settings.get("loss_params") in CORE_AB and \
        rest == study_settings(profile)


def roots(data_root_300w=None, data_root_wflw=None, data_root_aflw=None) -> dict:
    """The notebooks' data-root parameters as ``{dataset: root or None}`` (None: the synthetic benchmark)."""
    return {"300w": data_root_300w, "wflw": data_root_wflw, "aflw": data_root_aflw}


def cell_configs(cell: Cell, profile: str, seed_list, device: str = "auto", root: str | None = None,
                 epochs: int | None = None) -> list[RunConfig]:
    """A cell's configuration per seed, before tuning: the profile's settings, the cell's (its own epochs, the budget
    curve's, win over ``epochs``, a notebook's), the data root and the device, merged by
    :func:`~aniso.runs.make_config` alone."""
    settings = {"epochs": epochs, **cell.settings}
    return [make_config(profile, dataset=cell.dataset, loss=cell.loss, root=root, seed=s, device=device, **settings)
            for s in seed_list]


def plan(cells: dict[str, Cell], profile: str = "default", runs: int | None = None, seed: int = 0,
         epochs: int | None = None, device: str = "auto", data_roots: dict | None = None, progress: bool = True,
         tune: bool = True, keys=None) -> dict[str, tuple[Cell, list[RunConfig], list[dict]]]:
    """Every configuration ``cells`` (an experiment's, :func:`aniso.experiments.notebook_cells`) need:
    ``{cell key: (cell, configs per seed, record metadata per seed)}``.

    Checks every setting and opens every data root's annotation lists first
    (a bad value fails here, before any training); then resolves each cell's
    learning rate by tuning (``tune=False`` keeps the profile's rate). ``keys``: only these cells.
    """
    data_roots = data_roots or {}
    if keys is not None:
        cells = {k: c for k, c in cells.items() if k in set(keys)}
    out = {}
    for key, cell in cells.items():
        configs = cell_configs(cell, profile, seeds(profile, runs, seed, cell), device, data_roots.get(cell.dataset),
                               epochs)
        out[key] = [cell, configs, [None] * len(configs)]
    for ds in {c.dataset for c in cells.values()}:
        check_root(next(cfgs[0] for cell, cfgs, _ in out.values() if cell.dataset == ds), progress=progress)
    for key, (cell, configs, _) in out.items():
        if tune and is_tuned(cell, profile):
            tuned = [tuned_config(tuning_base(cell, c), progress=progress) for c in configs]
            out[key] = [cell, [c.replace(lr=t[0].lr) for c, t in zip(configs, tuned)], [t[1] for t in tuned]]
    return {k: tuple(v) for k, v in out.items()}


def tuning_base(cell: Cell, config: RunConfig) -> RunConfig:
    """The configuration whose tuned learning rate a cell uses (its own, or its loss's with default parameters)."""
    return config.replace(loss_params=with_loss_defaults(config.loss, {})) if cell.tune_defaults else config


def is_tuned(cell: Cell, profile: str) -> bool:
    """Whether a cell trains at the tuned learning rate (one that sets its own rate keeps it)."""
    return get_profile(profile).tuning is not None and "lr" not in cell.settings


def source_label(profile: str, data_roots: dict | None = None, datasets=None) -> str:
    """How our rows are labelled in tables: ``ours (synthetic, default)``; ``ours (synthetic, annotation error N2a,
    long-calibrated)`` on another annotation-error model than today's."""
    data_roots = data_roots or {}
    given = [data_roots.get(ds) is not None for ds in (datasets or data_roots or ["300w"])] or [False]
    data = "real data" if all(given) else "synthetic" if not any(given) else "real and synthetic data"
    errors = error_model(profile)
    if not all(given) and errors != RunConfig.synth_errors:
        data += f", annotation error {errors}"
    return f"ours ({data}, {profile})"


def describe(cells: dict, recs: dict, profile: str, data_roots: dict | None = None) -> str:
    """The header line a notebook prints: what ran, with the actual number of seeds per cell."""
    counts = sorted({len(r) for r in recs.values()})
    datasets = sorted({dataset_spec(c.dataset).label for c in cells.values()})
    n = "/".join(map(str, counts)) if counts else "0"
    return (f"{source_label(profile, data_roots)}: {len(recs)} cells on {', '.join(datasets) or '-'}, {n} seed(s) "
            f"per cell; {get_profile(profile).description}")


def synthetic_set(dataset: str, profile: str = "default", progress: bool = True) -> Path:
    """The folder of the synthetic set a profile trains on (generated into the cache when missing)."""
    return prepare_data(make_config(profile, dataset=dataset), progress=progress)
