"""Profiles: named run sizes, defined here and nowhere else.

A profile gives the seeds per cell, the :class:`~aniso.runs.config.RunConfig`
defaults (with per-data-set overrides), the grids of the supplementary
studies and the learning-rate tuning protocol. Timings are measured on the
development machine and recorded in the README.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import checks
from .config import RunConfig, check_config, with_loss_defaults
from .store import REPO_ROOT, use_store

__all__ = ["Profile", "Tuning", "PROFILES", "get_profile", "make_config", "profile_runs", "committed_stores",
           "results_stores", "use_results_store", "CALIBRATED", "chosen_error_model", "error_model", "is_available"]


@dataclass(frozen=True)
class Tuning:
    """The learning-rate tuning protocol: the same for every loss.

    For each (loss, optimiser, backbone) the search (:mod:`aniso.runs.tuning`) starts from the rates of
    ``grids[optimiser]`` (log-spaced) and extends them by at most ``extend`` steps of the 1-3-10 ladder on each
    side until the best rate has worse neighbours; each rate trains for ``epochs`` (a number, or one per
    optimiser) on the training faces minus the validation split, seed ``seed``, with the profile's settings and
    ``settings`` on top (e.g. a smaller training set); the rate with the lowest validation NME wins and every
    final run of that loss, optimiser and backbone uses it.
    """

    grids: dict
    epochs: int | dict
    seed: int = 0
    settings: dict = field(default_factory=dict)
    extend: int = 3

    def epochs_for(self, optimizer: str) -> int:
        """The tuning budget of one optimiser, in epochs."""
        return int(self.epochs[optimizer] if isinstance(self.epochs, dict) else self.epochs)


@dataclass(frozen=True)
class Profile:
    """A named set of defaults: ``runs`` seeds per cell plus RunConfig settings.

    ``per_dataset`` overrides settings per data set; ``grids`` are the supplementary studies' grids;
    ``tuning`` the learning-rate protocol; ``study`` the settings of the supplementary studies (sweep,
    backbones, mechanism) where they differ from the main tables. ``selective``: the profile runs only the
    experiments that name it (:mod:`aniso.experiments`), not every one; ``datasets``: the data sets its loss
    comparisons cover. ``plateau``: whether its runs train each backbone to a plateau of its
    own (claims about backbones are judged only there; elsewhere the verdict is "at this budget"). ``folder``: where
    the repository commits its results (its run store is ``<folder>/runs``), if it does. ``regime``: what a
    training regime the report compares (:mod:`aniso.regimes`) is, in a few words (empty: not one); ``device``:
    where its committed runs were made; ``borrows``: the profiles whose committed runs it shares. ``core_runs``: the
    seeds of the core comparisons (:func:`aniso.suite.is_core`: Table 6's six losses on 300W and the anisotropy
    against re-weighting pair), where they differ from ``runs`` (the paper's own five runs).
    """

    name: str
    runs: int
    settings: dict
    description: str
    per_dataset: dict = field(default_factory=dict)
    grids: dict = field(default_factory=dict)
    tuning: Tuning | None = None
    study: dict = field(default_factory=dict)
    selective: bool = False
    datasets: tuple = ("300w", "wflw", "aflw")
    plateau: bool = False
    folder: str | None = None
    regime: str = ""
    device: str = "cpu"
    borrows: tuple = ()
    core_runs: int | None = None

    def stores(self) -> list:
        """Its committed store (``<folder>/runs``), then those of the profiles it ``borrows`` runs from."""

        return [REPO_ROOT / get_profile(p).folder / "runs" for p in (self.name, *self.borrows)]


# Grids every profile shares unless it says otherwise.
# The (a, b) study: b on both sides of the paper's 3, a >= b (aniso.suite keeps only those pairs), the isotropic
# re-weightings a = b included: anisotropy (a > b) and re-weighting the contour points (any b) can be told apart.
_AB = ((1.5, 3.0, 6.0, 12.0), (1.5, 3.0, 6.0))
_ARCHS = ("resnet18", "resnet50", "densenet121", "wide_resnet50_2")
_NOISE = (0.0, 1.0, 2.0, 4.0)
_LR_GRIDS = {"adam": (3e-4, 1e-3, 3e-3), "adamw": (3e-4, 1e-3, 3e-3), "sgd": (3e-6, 1e-5, 3e-5)}
# SGD needs more than one epoch to rank its rates: its useful rates overshoot in the first epoch and recover
# (measured on 30% of 300W at 64 px, L2, validation NME after epochs 1-4: 3e-6: 25.5 19.8 14.6 14.2%;
# 1e-5: 73.0 16.8 11.9 11.5%; 3e-5: 63.0 16.5 14.2 12.0%; 1e-4 diverged), so one epoch picks the smallest rate.
_TUNING_EPOCHS = {"adam": 1, "adamw": 1, "sgd": 3}
# The supplementary studies (the mechanism study, the (a, b) sweep, the backbones) on 30% of the 300W training set in
# every regime that runs them: the same experiment everywhere, at a cost two CPU cores can pay in the default regime.
_STUDY = dict(synth_scale=0.3)
_SHARED_GRIDS = dict(ab=_AB, archs=_ARCHS, noise=_NOISE, optimizers=("adam", "sgd"))

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", runs=1, description="seconds per run, for CI: tiny synthetic sets, 32 px, 2 epochs",
        # fp32: at 32 px the bf16 kernels are slower than fp32 (measured: 5.3 s against 0.7 s an epoch)
        settings=dict(arch="resnet18", input_size=32, epochs=2, batch_size=16, synth_scale=0.02,
                      synth_image_size=64, val_fraction=0.2, augment="light", threads=2, precision="fp32"),
        per_dataset={"wflw": dict(synth_scale=0.006), "aflw": dict(synth_scale=0.0025)},
        grids=dict(_SHARED_GRIDS, archs=("resnet18", "resnet50"), noise=(0.0, 4.0), budget_epochs=(1,)),
        # one rate per optimiser and one step on each side: CI exercises the search at small cost
        tuning=Tuning(grids={"adam": (1e-3,), "adamw": (1e-3,), "sgd": (1e-5,)}, epochs=1,
                      settings=dict(synth_scale=0.015), extend=1),
        study=dict(synth_scale=0.015)),  # sized apart from the main tables, as in the default profile
    "default": Profile(
        "default", runs=3,
        description=("the default: synthetic 300W at release size (smaller WFLW and AFLW), ResNet18 at 64 px, "
                     "3 epochs, bf16 on two CPU cores; tuning and supplementary studies on 30% of the 300W "
                     "training set"),
        settings=dict(arch="resnet18", input_size=64, epochs=3, batch_size=32, synth_scale=1.0,
                      synth_image_size=128, augment="light", threads=2),
        per_dataset={"wflw": dict(synth_scale=0.12), "aflw": dict(synth_scale=0.04)},
        grids=dict(_SHARED_GRIDS, archs=("resnet18", "resnet50", "densenet121"), budget_epochs=(1, 2)),
        tuning=Tuning(grids=_LR_GRIDS, epochs=_TUNING_EPOCHS, settings=dict(synth_scale=0.3)),
        study=dict(_STUDY), folder="results", regime="CPU, ResNet18 at 64 px, 3 epochs"),
    "long": Profile(
        "long", runs=3,
        description=("a second CPU regime for the core claims: the default's settings and tuning, 10 epochs; "
                     "synthetic 300W at release size only; the paper's losses and the family under Adam, L2 and "
                     "the anisotropic loss under SGD; the mechanism study on 30% of the 300W training set, as in "
                     "the default"),
        settings=dict(arch="resnet18", input_size=64, epochs=10, batch_size=32, synth_scale=1.0,
                      synth_image_size=128, augment="light", threads=2),
        grids=dict(_SHARED_GRIDS, archs=("resnet18",), noise=(1.0,), budget_epochs=(3, 6)),
        # the default's tuning, so that the two CPU regimes differ in their training budget alone
        tuning=Tuning(grids=_LR_GRIDS, epochs=_TUNING_EPOCHS, settings=dict(synth_scale=0.3)),
        selective=True, datasets=("300w",), study=dict(_STUDY), folder="results-long",
        regime="CPU, ResNet18 at 64 px, 10 epochs", borrows=("default",)),
    "converged": Profile(
        "converged", runs=3,
        description="for a GPU: synthetic sets at release size, ResNet18 at 128 px, 20 epochs, 3 seeds",
        settings=dict(arch="resnet18", input_size=128, epochs=20, batch_size=64, synth_scale=1.0,
                      synth_image_size=160, augment="light"),
        grids=dict(_SHARED_GRIDS, ab=((3.0, 6.0, 9.0), (1.5, 3.0, 4.5)), budget_epochs=(5, 10)),
        tuning=Tuning(grids=_LR_GRIDS, epochs=4), study=dict(_STUDY), plateau=True, folder="results-gpu",
        regime="GPU, ResNet18 at 128 px, 20 epochs", device="cuda"),
    "paper": Profile(
        "paper", runs=5,
        description="the paper's protocol: ResNet50 at 256 px, 60 epochs, 5 runs; for a GPU and the real data",
        settings=dict(arch="resnet50", input_size=256, epochs=60, batch_size=32, synth_scale=1.0,
                      synth_image_size=320, schedule="step", augment="paper"),
        grids=dict(_SHARED_GRIDS, ab=((3.0, 4.5, 6.0, 9.0, 12.0), (1.0, 2.0, 3.0, 4.0, 5.0)),
                   archs=("resnet50", "densenet121", "wide_resnet50_2", "resnet18"), budget_epochs=(15, 30)),
        tuning=Tuning(grids=_LR_GRIDS, epochs=10), plateau=True),
}


# The calibration of the synthetic benchmark's annotation error (docs/CALIBRATION.md): its first stage is the
# default regime's protocol, so its reference candidate's runs (N0) are the default store's own.
PROFILES["calibration"] = dataclasses.replace(
    PROFILES["default"], name="calibration", selective=True, folder="results-calibration", regime="",
    description=("the annotation-error calibration (docs/CALIBRATION.md): the five baselines on every candidate "
                 "error model, stage 1 at the default regime's protocol, stage 2 at the long one's, the check at "
                 "the converged one's"))

#: A profile's ``synth_errors`` of this value means the annotation-error model the committed calibration chose
#: (:func:`chosen_error_model`): the calibrated benchmark, a data variant of its own beside today's (N0).
CALIBRATED = "calibrated"


def _calibrated(base: str, folder: str, borrows: tuple, description: str) -> Profile:
    """``base`` on the calibrated benchmark: the core claims on 300W (Table 6's six losses and the anisotropy
    against re-weighting pair at the paper's five seeds, the rest at three), Table 4 and the SGD pair; no budget
    curve. Its runs of the baselines are shared with the calibration's later stages (same configurations)."""
    p = PROFILES[base]
    grids = dict(p.grids, ab=((3.0, 6.0), (3.0,)), budget_epochs=())  # the (a, b) study's pair only: a = 6 and 3, b = 3
    return dataclasses.replace(p, name=f"{base}-calibrated", settings=dict(p.settings, synth_errors=CALIBRATED),
                               grids=grids, core_runs=5, selective=True, datasets=("300w",), folder=folder,
                               regime=f"{p.regime}; calibrated annotation error", borrows=borrows,
                               description=description)


PROFILES["long-calibrated"] = _calibrated(
    "long", "results-long-calibrated", ("calibration",),
    "the long regime (ResNet18 at 64 px, 10 epochs, two CPU cores) on the calibrated benchmark: the annotation-error "
    "model the calibration chose (docs/CALIBRATION.md); 300W's core claims, Table 6's six losses and the anisotropy "
    "against re-weighting pair at 5 seeds, the family, Table 4 and the SGD pair at 3")
PROFILES["converged-calibrated"] = _calibrated(
    "converged", "results-gpu-calibrated", ("converged", "calibration"),
    "the converged regime (for a GPU: ResNet18 at 128 px, 20 epochs) on the calibrated benchmark, the same claims "
    "as long-calibrated; its runs are trained by ci/gpu_session.py into results-gpu/runs")


def chosen_error_model() -> str | None:
    """The error model the committed calibration chose after its second stage (``None``: not yet). It is read from
    the calibration's verdicts (``<folder>/sections/calibration.json`` of its profile, whose notebook shares its
    name)."""
    calibration = PROFILES["calibration"]
    path = REPO_ROOT / calibration.folder / "sections" / f"{calibration.name}.json"
    if not path.exists():
        return None
    meta = json.loads(path.read_text()).get("meta", {})
    return meta.get("chosen") if meta.get("stage2") else None


def error_model(profile: str) -> str:
    """The annotation-error model a profile's runs train on (a calibrated profile's: the one the calibration chose;
    a clear error before that)."""
    return _resolve_errors(get_profile(profile).settings.get("synth_errors", RunConfig.synth_errors))


def is_available(profile: str) -> bool:
    """Whether a profile can make configurations: a calibrated one only once the calibration chose its model."""
    return get_profile(profile).settings.get("synth_errors") != CALIBRATED or chosen_error_model() is not None


def _resolve_errors(value):
    """A profile's ``synth_errors``: :data:`CALIBRATED` becomes the chosen model; a clear error before that."""
    if value != CALIBRATED:
        return value
    chosen = chosen_error_model()
    if chosen is None:
        raise ValueError(f"synth_errors={CALIBRATED!r} needs the annotation-error model the calibration chose, and "
                         f"{PROFILES['calibration'].folder}/sections/ has none yet: run `make calibrate` through its "
                         "second stage first (docs/CALIBRATION.md)")
    return chosen


def get_profile(name: str) -> Profile:
    """The profile ``name``; a clear error naming the known ones otherwise."""
    checks.one_of("profile", "profile", name, PROFILES)
    return PROFILES[name]


def committed_stores() -> tuple[str, ...]:
    """The run stores the repository commits (``<folder>/runs`` of each profile with a folder), relative to it."""
    return tuple(f"{p.folder}/runs" for p in PROFILES.values() if p.folder)


def results_stores(results_dir) -> tuple[Path, list[Path]]:
    """``<results_dir>/runs`` (resolved) and the other committed stores (:func:`committed_stores`)."""
    own = (REPO_ROOT / results_dir / "runs").resolve()
    return own, [REPO_ROOT / s for s in committed_stores() if (REPO_ROOT / s).resolve() != own]


def use_results_store(results_dir) -> None:
    """New runs go to ``<results_dir>/runs``; a run stored in any committed store (:func:`committed_stores`) is found
    there, not trained again. Unless the caller chose a store already (``ANISO_RUNS_DIR`` set)."""
    if "ANISO_RUNS_DIR" in os.environ:
        return
    use_store(*results_stores(results_dir))


def profile_runs(profile: str) -> int:
    """Number of seeds a profile asks for."""
    return get_profile(profile).runs


def make_config(profile: str = "default", **overrides) -> RunConfig:
    """A :class:`RunConfig` from a profile's defaults (its tuning protocol among them); explicit ``overrides`` win.
    The one place where a profile's settings, its per-data-set ones and a cell's, a study's or a notebook's meet.

    ``None`` values in ``overrides`` mean "keep the profile's value" (so a
    notebook can pass its parameters through unchanged). Every value is
    checked (:func:`~aniso.runs.config.check_config`).
    """
    prof = get_profile(profile)
    names = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown run setting(s) {unknown}: expected some of {sorted(names)}")
    values = dict(prof.settings, tuning=profile)
    values.update(prof.per_dataset.get(overrides.get("dataset") or RunConfig.dataset, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "synth_errors" in values:
        values["synth_errors"] = _resolve_errors(values["synth_errors"])
    values["loss_params"] = with_loss_defaults(values.get("loss", RunConfig.loss), values.get("loss_params") or {})
    config = RunConfig(**values)
    check_config(config)
    return config
