"""Runs: configuration, profiles, the run store, training, dispatch and learning-rate tuning.

One run trains one model with one configuration and one seed and stores a
record (:class:`RunRecord`); asking again for the same configuration returns
the stored record. Modules, each one job:

* :mod:`~aniso.runs.config`: :class:`RunConfig`, validation, the run's id;
* :mod:`~aniso.runs.profiles`: the profiles (run sizes) and :func:`make_config`;
* :mod:`~aniso.runs.store`: where records live, provenance, version checks;
* :mod:`~aniso.runs.data`: the data folder, the validation split, image checks;
* :mod:`~aniso.runs.training` / :mod:`~aniso.runs.evaluation`: one run;
* :mod:`~aniso.runs.claims`: one worker trains a run at a time (claims in the store);
* :mod:`~aniso.runs.dispatch`: many runs, serially or through Ray (:mod:`~aniso.runs.cluster`);
* :mod:`~aniso.runs.tuning`: the learning rate each loss and optimiser trains with.
"""

from .config import RunConfig, check_config, config_id, resolve_device
from .data import data_root, prepare_data
from .cluster import RunsFailed
from .dispatch import run_many
from .profiles import PROFILES, Profile, Tuning, get_profile, make_config, profile_runs
from .store import RunRecord, cache_dir, runs_dir, stored, use_store
from .training import Interrupt, run
from .tuning import tune_lr, tune_many, tuned_config

__all__ = ["RunConfig", "RunRecord", "PROFILES", "Profile", "Tuning", "get_profile", "make_config", "profile_runs",
           "check_config", "config_id", "resolve_device", "data_root", "prepare_data", "run", "run_many", "RunsFailed",
           "Interrupt", "runs_dir", "cache_dir", "stored", "use_store", "tune_lr", "tune_many", "tuned_config"]
