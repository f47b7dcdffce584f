"""Learning-rate tuning: every loss gets the same budget on the validation split.

A loss's scale is not erased by every optimiser: at a shared learning rate
under SGD, the anisotropic loss (contour gradients 9-36 times smaller than
L2's at a = 6, b = 3) simply takes smaller steps. So before the final runs,
each (loss, optimiser) pair trains the same short budget at every rate of the
profile's grid (:class:`~aniso.runs.profiles.Tuning`, log-spaced), scored by
the validation NME (primary normalisation) of the training set's held-out
faces; test subsets are never touched. The lowest score wins; a rate whose
loss diverges scores infinity.

Tuning runs on the profile's tuning data set (300W) with the profile's
defaults, the loss (and its parameters) and the optimiser of the run being
tuned, and the same device, precision and threads. Its result serves every
variant of that loss and optimiser (other data sets, balancing, targets,
backbones, label-noise levels): the budget stays the same for every loss,
which is what makes the comparison fair, and the report says so.

Results are small JSON files in ``<store>/tuning/`` keyed by a hash of the
grid's run ids: asking again reuses them, like runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass

from ..files import atomic_write
from .config import RunConfig, config_id
from .profiles import Tuning, get_profile, make_config
from .store import read_dirs, runs_dir

__all__ = ["TuningResult", "tuning_configs", "tune_lr", "tune_many", "tuned_config", "TUNING_DATASET", "pending", "score",
           "store_result"]

#: The data set every tuning runs on.
TUNING_DATASET = "300w"


@dataclass
class TuningResult:
    """Scores (validation NME, fraction; ``inf`` = diverged) per learning rate, and the chosen rate."""

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

    def summary(self) -> str:
        cells = ", ".join(f"{lr:g}: {'diverged' if math.isinf(s) else f'{100 * s:.2f}%'}"
                          for lr, s in zip(self.grid, self.scores))
        return (f"{self.optimizer} lr {self.chosen:g} chosen from {{{cells}}} (validation NME after "
                f"{self.epochs} epoch(s) on {self.dataset}, seed {self.seed})")


def tuning_configs(config: RunConfig, profile: str) -> list[RunConfig]:
    """The grid's runs for ``config``'s loss and optimiser (validation only)."""
    tuning = _tuning(profile)
    grid = tuning.grids[config.optimizer]
    base = make_config(profile, dataset=TUNING_DATASET, loss=config.loss, loss_params=config.loss_params,
                       optimizer=config.optimizer, device=config.device, precision=config.precision,
                       threads=config.threads, evaluate="val", epochs=tuning.epochs, seed=tuning.seed,
                       **tuning.settings)
    return [base.replace(lr=float(lr)) for lr in grid]


def _tuning(profile: str) -> Tuning:
    tuning = get_profile(profile).tuning
    if tuning is None:
        raise ValueError(f"profile {profile!r} has no learning-rate tuning")
    return tuning


def _key(configs: list[RunConfig]) -> str:
    blob = json.dumps([config_id(c) for c in configs])
    return f"{configs[0].loss}-{configs[0].optimizer}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def _load(key: str) -> TuningResult | None:
    for d in read_dirs():
        p = d / "tuning" / f"{key}.json"
        if p.exists():
            return TuningResult(**json.loads(p.read_text()))
    return None


def score(config: RunConfig, progress: bool = False) -> float:
    """Validation NME of one grid point (``inf`` when its loss diverges)."""
    from ..data import dataset_spec
    from .data import VAL_SUBSET
    from .training import run

    norm = dataset_spec(config.dataset).primary[1]
    try:
        record = run(config, progress=progress, keep=False)
    except FloatingPointError:
        return math.inf
    value = record.metrics[VAL_SUBSET][norm]["nme"]
    return value if math.isfinite(value) else math.inf


def _score_task(config: RunConfig, expected: str) -> float:
    """What a Ray task does for one grid point: :func:`score`, once sure it is the driver's run."""
    from .cluster import check_same_run

    check_same_run(config, expected)
    return score(config, False)


def tune_lr(config: RunConfig, profile: str, progress: bool = True) -> TuningResult:
    """The tuned learning rate for ``config``'s loss and optimiser (trained once, then read from the store)."""
    configs = tuning_configs(config, profile)
    found = _load(_key(configs))
    if found is not None:
        return found
    t0 = time.time()
    scores = [score(c, progress) for c in configs]
    return store_result(config, configs, scores, time.time() - t0)


def store_result(config: RunConfig, configs: list[RunConfig], scores: list[float], seconds: float) -> TuningResult:
    """Choose the rate with the lowest score (ties: the lower rate) and write the result to the store."""
    if all(math.isinf(s) for s in scores):
        raise FloatingPointError(f"learning-rate tuning for {config.loss} with {config.optimizer}: every rate of the "
                                 f"grid {[c.lr for c in configs]} diverged; widen the profile's grid")
    best = min(range(len(scores)), key=lambda i: (scores[i], configs[i].lr))
    key = _key(configs)
    result = TuningResult(key, config.loss, dict(config.loss_params), config.optimizer, TUNING_DATASET,
                          configs[0].epochs, configs[0].seed, [c.lr for c in configs], scores, configs[best].lr,
                          seconds)
    atomic_write(runs_dir() / "tuning" / f"{key}.json", json.dumps(asdict(result), indent=1))
    return result


def tune_many(configs, profile: str, progress: bool = True, workers: int | None = None,
              ray_address: str | None = None) -> list[TuningResult]:
    """:func:`tune_lr` for each configuration (in order), the grids of every distinct problem trained at once.

    Serial (``workers`` None or 1, no address) is :func:`tune_lr` one after the other. Otherwise every grid
    point of every (loss, optimiser) problem not yet stored is a Ray task (:func:`~aniso.runs.cluster.sweep`),
    scored as :func:`tune_lr` scores it, and each result is stored exactly as :func:`tune_lr` stores it (same
    key, same JSON; ``seconds`` is the grid's training time summed over its points), so that later calls find
    it. Failed grid points (other than a diverging loss, which scores ``inf``) raise
    :class:`~aniso.runs.cluster.RunsFailed` after the others finished.
    """
    from .cluster import parallel

    configs = list(configs)
    if parallel(workers, ray_address):
        problems = pending(configs, profile)
        if problems:
            _tune_parallel(problems, progress, workers, ray_address)
    return [tune_lr(c, profile, progress) for c in configs]


def pending(configs, profile: str) -> list[tuple[RunConfig, list[RunConfig]]]:
    """The distinct (loss, optimiser) problems of ``configs`` not tuned yet: ``(config, its grid's runs)`` each.

    For any executor: score every grid run (:func:`score`), then :func:`store_result` each problem.
    """
    problems: dict = {}
    for c in configs:
        grid = tuning_configs(c, profile)
        if _load(_key(grid)) is None:
            problems.setdefault(_key(grid), (c, grid))
    return list(problems.values())


def _tune_parallel(problems: list, progress: bool, workers: int | None, ray_address: str | None) -> None:
    """Score every grid point of ``problems`` (``(config, grid)`` pairs) as Ray tasks; store each result."""
    from .cluster import RunsFailed, connected, sweep

    tasks = [(g, (g, config_id(g))) for _, grid in problems for g in grid]
    with connected(workers, ray_address, threads=max(c.threads for c, _ in tasks)):
        outcomes = iter(sweep(_score_task, tasks, workers, progress, desc="tuning runs"))
    scored = [[next(outcomes) for _ in grid] for _, grid in problems]
    failures = [(g, o.error) for (_, grid), outs in zip(problems, scored) for g, o in zip(grid, outs) if not o.ok]
    if failures:
        raise RunsFailed(failures, len(tasks))
    for (c, grid), outs in zip(problems, scored):
        store_result(c, grid, [o.value for o in outs], sum(o.seconds for o in outs))


def tuned_config(config: RunConfig, profile: str, progress: bool = True) -> tuple[RunConfig, dict]:
    """``config`` with its tuned learning rate, and the metadata its record keeps about the choice."""
    result = tune_lr(config, profile, progress)
    meta = {"lr_tuning": {"key": result.key, "chosen": result.chosen, "grid": result.grid, "scores": result.scores,
                          "epochs": result.epochs, "dataset": result.dataset}}
    return config.replace(lr=result.chosen), meta
