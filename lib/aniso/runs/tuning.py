"""Learning-rate tuning: every loss gets the same budget on the validation split, and a bracketed choice.

A loss's scale is not erased by every optimiser: at a shared learning rate under SGD, the anisotropic loss
(contour gradients 9-36 times smaller than L2's at a = 6, b = 3) simply takes smaller steps. So before the final
runs, each (loss, optimiser, backbone) trains the same short budget at the rates of the profile's grid
(:class:`~aniso.runs.profiles.Tuning`, log-spaced), scored by the validation NME (primary normalisation) of the
training set's held-out faces; test subsets are never touched. The lowest score wins (ties: the lower rate); a
rate whose loss diverges scores infinity.

The grid is only where the search starts: while the best rate is the smallest (or the largest) one scored, the
next rate below (above) it on the 1-3-10 ladder is scored too, at most ``Tuning.extend`` steps on each side, so
that the chosen rate ends with a worse neighbour on both sides (*bracketed*); a rate above one that diverged is
never tried. A result that is not bracketed within those steps says so, and the report shows it.

Tuning runs on the profile's tuning data set (300W) with the profile's defaults and the tuning's own settings,
the loss (and its parameters), the optimiser, the backbone and the annotation-error model of the run being tuned
(each error model is a benchmark of its own), and the same device,
precision and threads. Its result serves every variant of that loss, optimiser and backbone (other data sets,
balancing, targets, label-noise levels): the budget stays the same for every loss, which is what makes the
comparison fair, and the report says so.

Storage, in the run store: every scored rate is a small file ``tuning/points/<run id>.json`` (so an interrupted
search, or another problem that needs the same rate, scores it once), and every finished search
``tuning/<key>.json`` (key: the loss, the optimiser and a hash of the problem). Asking again reuses both.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

from ..data import dataset_spec
from ..files import atomic_write
from .cluster import RunsFailed, check_same_run, connected, parallel, sweep
from .config import RunConfig, config_id
from .data import VAL_SUBSET
from .profiles import Tuning, get_profile, make_config
from .store import read_dirs, runs_dir
from .training import run

__all__ = ["TuningResult", "Problem", "tuning_problem", "tuning_configs", "tune_lr", "tune_many", "tuned_config",
           "TUNING_DATASET", "pending", "score", "stored_score", "stored_result", "read_point", "read_result",
           "DamagedTuningFile", "search", "search_all", "next_rates", "is_bracketed", "ladder_step"]

#: The data set every tuning runs on.
TUNING_DATASET = "300w"


@dataclass
class TuningResult:
    """Scores (validation NME, fraction; ``inf`` = diverged) per learning rate scored (ascending), the chosen
    rate, whether it is bracketed by worse neighbours, and the training seconds the search took."""

    key: str
    loss: str
    loss_params: dict
    optimizer: str
    dataset: str
    epochs: int
    seed: int
    grid: list
    scores: list
    chosen: float
    seconds: float
    bracketed: bool = False
    arch: str = "resnet18"

    def summary(self) -> str:
        cells = ", ".join(f"{lr:g}: {'diverged' if math.isinf(s) else f'{100 * s:.2f}%'}"
                          for lr, s in zip(self.grid, self.scores))
        where = "bracketed by worse neighbours" if self.bracketed else "NOT bracketed"
        return (f"{self.optimizer} lr {self.chosen:g} chosen from {{{cells}}} ({where}; validation NME after "
                f"{self.epochs} epoch(s) on {self.dataset}, {self.arch}, seed {self.seed})")


@dataclass(frozen=True)
class Problem:
    """One search: the tuning run's configuration (its ``lr`` is a placeholder), the starting grid and how far
    it may extend on each side."""

    base: RunConfig
    grid: tuple
    extend: int

    @property
    def key(self) -> str:
        blob = json.dumps([config_id(self.base.replace(lr=1.0)), list(self.grid), self.extend])
        return f"{self.base.loss}-{self.base.optimizer}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"

    def config(self, lr: float) -> RunConfig:
        return self.base.replace(lr=float(lr))


def _tuning(profile: str) -> Tuning:
    tuning = get_profile(profile).tuning
    if tuning is None:
        raise ValueError(f"profile {profile!r} has no learning-rate tuning")
    return tuning


def tuning_problem(config: RunConfig, profile: str | None = None) -> Problem:
    """The search that serves ``config``'s loss, optimiser and backbone (validation only), under the protocol of
    the profile the configuration names (``config.tuning``; ``profile``: another one)."""
    profile = profile or config.tuning
    tuning = _tuning(profile)
    base = make_config(profile, dataset=TUNING_DATASET, loss=config.loss, loss_params=config.loss_params,
                       optimizer=config.optimizer, arch=config.arch, synth_errors=config.synth_errors,
                       device=config.device, precision=config.precision,
                       threads=config.threads, evaluate="val", epochs=tuning.epochs_for(config.optimizer),
                       seed=tuning.seed, **tuning.settings)
    return Problem(base, tuple(float(x) for x in tuning.grids[config.optimizer]), int(tuning.extend))


def tuning_configs(config: RunConfig, profile: str | None = None) -> list[RunConfig]:
    """The starting grid's runs for ``config``'s problem (the search may add rates beyond it)."""
    problem = tuning_problem(config, profile)
    return [problem.config(lr) for lr in problem.grid]


# ----------------------------------------------------------------------------- the search

def ladder_step(lr: float, direction: int) -> float:
    """The next rate below (``direction`` -1) or above (+1) ``lr`` on the ladder 1, 3, 10, 30, ... x 10^k."""
    k = math.floor(math.log10(lr) + 1e-9)
    rungs = sorted(m * 10.0 ** e for e in range(k - 1, k + 2) for m in (1.0, 3.0))
    if direction < 0:
        return float(f"{max(r for r in rungs if r < lr * (1 - 1e-6)):.3g}")
    return float(f"{min(r for r in rungs if r > lr * (1 + 1e-6)):.3g}")


def _best(scores: dict[float, float]) -> float:
    return min(scores, key=lambda lr: (scores[lr], lr))


def is_bracketed(scores: dict[float, float]) -> bool:
    """Whether the best rate has a scored rate on each side, both worse (a diverged one counts as worse)."""
    lrs = sorted(scores)
    i = lrs.index(_best(scores))
    return 0 < i < len(lrs) - 1 and scores[lrs[i - 1]] > scores[lrs[i]] and scores[lrs[i + 1]] > scores[lrs[i]]


def next_rates(scores: dict[float, float], grid, extend: int) -> list[float]:
    """The rates to score next: the grid's unscored ones, else one step beyond the best where it is an end of what
    was scored (not above a diverged or non-finite best, at most ``extend`` steps beyond the grid on each side);
    none when the search is over."""
    todo = [float(lr) for lr in grid if lr not in scores]
    if todo:
        return todo
    lrs, best = sorted(scores), _best(scores)
    out = []
    if best == lrs[0] and sum(lr < min(grid) for lr in lrs) < extend:
        out.append(ladder_step(best, -1))
    if best == lrs[-1] and math.isfinite(scores[best]) and sum(lr > max(grid) for lr in lrs) < extend:
        out.append(ladder_step(best, +1))
    return out


def search(problem: Problem, score_many: Callable[[list[RunConfig]], list[float]]) -> tuple[dict, float]:
    """Run ``problem``'s search: ``score_many`` scores a list of configurations (serially, in parallel, ...);
    returns ``({lr: score}, seconds)``."""
    scores: dict[float, float] = {}
    t0 = time.time()
    while rates := next_rates(scores, problem.grid, problem.extend):
        scores.update(zip(rates, score_many([problem.config(lr) for lr in rates])))
    return scores, time.time() - t0


# ----------------------------------------------------------------------------- scoring and storage

def _point_path(config: RunConfig, directory=None):
    return (directory or runs_dir()) / "tuning" / "points" / f"{config_id(config)}.json"


class DamagedTuningFile(ValueError):
    """A tuning file that does not parse; the message names it and the remedy."""

    def __init__(self, path, problem: str, redo: str = "tune again"):
        self.path = path
        super().__init__(f"damaged tuning file {path}: {problem}. Restore it from git (`git checkout -- {path}`) or "
                         f"delete it to {redo}")


def read_point(path) -> dict:
    """One stored tuning score (``{"id", "lr", "score", "seconds"}``); :class:`DamagedTuningFile` otherwise."""
    try:
        point = json.loads(path.read_text())
        float(point["score"]), float(point["lr"])
        return point
    except (ValueError, TypeError, KeyError) as exc:
        raise DamagedTuningFile(path, f"it does not parse as a tuning score ({type(exc).__name__}: {exc})",
                                "score that learning rate again") from None


def read_result(path) -> TuningResult:
    """One stored search (:class:`TuningResult`), keyed by its file name; :class:`DamagedTuningFile` otherwise."""
    try:
        result = TuningResult(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise DamagedTuningFile(path, f"it does not parse as a tuning result ({type(exc).__name__}: {exc})") from None
    if result.key != path.stem:
        raise DamagedTuningFile(path, f"its key {result.key!r} is not its file name")
    return result


def stored_score(config: RunConfig) -> float | None:
    """The stored score of one tuning run, or ``None``."""
    for d in read_dirs():
        p = _point_path(config, d)
        if p.exists():
            return float(read_point(p)["score"])
    return None


def score(config: RunConfig, progress: bool = False) -> float:
    """Validation NME of one tuning run (``inf`` when its loss diverges), trained once and then read back."""

    found = stored_score(config)
    if found is not None:
        return found
    norm = dataset_spec(config.dataset).primary[1]
    t0 = time.time()
    try:
        record = run(config, progress=progress, keep=False)
        value = record.metrics[VAL_SUBSET][norm]["nme"]
        value = value if math.isfinite(value) else math.inf
    except FloatingPointError:
        value = math.inf
    atomic_write(_point_path(config), json.dumps({"id": config_id(config), "lr": config.lr, "score": value,
                                                   "seconds": time.time() - t0}))
    return value


def _load(key: str) -> TuningResult | None:
    for d in read_dirs():
        p = d / "tuning" / f"{key}.json"
        if p.exists():
            return read_result(p)
    return None


def store_result(problem: Problem, scores: dict[float, float], seconds: float) -> TuningResult:
    """The chosen rate (lowest score; ties: the lower rate) written to the store."""
    b = problem.base
    if all(math.isinf(s) for s in scores.values()):
        raise FloatingPointError(f"learning-rate tuning for {b.loss} with {b.optimizer}: every rate tried "
                                 f"{sorted(scores)} diverged; lower the profile's grid")
    lrs = sorted(scores)
    result = TuningResult(problem.key, b.loss, dict(b.loss_params), b.optimizer, TUNING_DATASET, b.epochs, b.seed,
                          lrs, [scores[lr] for lr in lrs], _best(scores), seconds, is_bracketed(scores), b.arch)
    atomic_write(runs_dir() / "tuning" / f"{problem.key}.json", json.dumps(asdict(result), indent=1))
    return result


def stored_result(config: RunConfig, profile: str | None = None) -> TuningResult | None:
    """The stored search for ``config``'s loss, optimiser and backbone, or ``None`` (nothing is trained)."""
    return _load(tuning_problem(config, profile).key)


def tune_lr(config: RunConfig, profile: str | None = None, progress: bool = True) -> TuningResult:
    """The tuned learning rate for ``config``'s loss, optimiser and backbone (searched once, then read back)."""
    problem = tuning_problem(config, profile)
    found = _load(problem.key)
    if found is not None:
        return found
    scores, seconds = search(problem, lambda cfgs: [score(c, progress) for c in cfgs])
    return store_result(problem, scores, seconds)


def pending(configs, profile: str | None = None) -> list[Problem]:
    """The distinct searches that ``configs`` need and the store does not hold yet."""
    problems: dict = {}
    for c in configs:
        p = tuning_problem(c, profile)
        if _load(p.key) is None:
            problems.setdefault(p.key, p)
    return list(problems.values())


def search_all(problems: list[Problem], score_many: Callable[[list[RunConfig]], list[float]]) -> list[TuningResult]:
    """Every search of ``problems`` advanced together: each round scores the next rates of all unfinished ones in
    one call of ``score_many`` (a parallel executor fills its workers), then stores each finished result."""
    scores: list[dict] = [{} for _ in problems]
    t0 = time.time()
    while True:
        todo = [(i, lr) for i, p in enumerate(problems) for lr in next_rates(scores[i], p.grid, p.extend)]
        if not todo:
            break
        for (i, lr), s in zip(todo, score_many([problems[i].config(lr) for i, lr in todo])):
            scores[i][lr] = s
    return [store_result(p, s, time.time() - t0) for p, s in zip(problems, scores)]


def tune_many(configs, profile: str | None = None, progress: bool = True, workers: int | None = None,
              ray_address: str | None = None) -> list[TuningResult]:
    """:func:`tune_lr` for each configuration (in order), the searches of every distinct problem run together.

    Serial (``workers`` None or 1, no address) is :func:`tune_lr` one after the other. Otherwise each round of
    every search (:func:`search_all`) is one Ray sweep (:func:`~aniso.runs.cluster.sweep`); every rate is scored
    and stored as :func:`score` does it. Failed tuning runs (other than a diverging loss, which scores ``inf``)
    raise :class:`~aniso.runs.cluster.RunsFailed` after the others finished.
    """

    configs = list(configs)
    if parallel(workers, ray_address):
        problems = pending(configs, profile)
        if problems:
            search_all(problems, lambda cfgs: _score_parallel(cfgs, progress, workers, ray_address))
    return [tune_lr(c, profile, progress) for c in configs]


def _score_task(config: RunConfig, expected: str) -> float:
    """What a Ray task does for one rate: :func:`score`, once sure it is the driver's run."""

    check_same_run(config, expected)
    return score(config, False)


def _score_parallel(configs: list[RunConfig], progress: bool, workers: int | None, ray_address: str | None) -> list:
    """Scores of ``configs`` as Ray tasks (stored ones read back without a task)."""

    known = [stored_score(c) for c in configs]
    todo = [c for c, s in zip(configs, known) if s is None]
    if todo:
        tasks = [(c, (c, config_id(c))) for c in todo]
        with connected(workers, ray_address, threads=max(c.threads for c in todo)):
            outcomes = sweep(_score_task, tasks, workers, progress, desc="tuning runs")
        failures = [(c, o.error) for (c, _), o in zip(tasks, outcomes) if not o.ok]
        if failures:
            raise RunsFailed(failures, len(tasks))
    return [s if s is not None else stored_score(c) for c, s in zip(configs, known)]


def tuned_config(config: RunConfig, profile: str | None = None, progress: bool = True) -> tuple[RunConfig, dict]:
    """``config`` with its tuned learning rate, and the metadata its record keeps about the choice."""
    result = tune_lr(config, profile, progress)
    meta = {"lr_tuning": {"key": result.key, "chosen": result.chosen, "grid": result.grid, "scores": result.scores,
                          "epochs": result.epochs, "dataset": result.dataset, "bracketed": result.bracketed,
                          "arch": result.arch}}
    return config.replace(lr=result.chosen), meta
