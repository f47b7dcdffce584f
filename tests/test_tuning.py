"""The learning-rate search: ladder steps, bracketing, extension limits, divergence (no training here)."""

from __future__ import annotations

import math

import pytest

from aniso.runs import make_config
from aniso.runs.tuning import Problem, is_bracketed, ladder_step, next_rates, search


def test_ladder_steps_along_1_3_10():
    assert ladder_step(3e-4, -1) == 1e-4 and ladder_step(1e-4, -1) == 3e-5
    assert ladder_step(3e-4, +1) == 1e-3 and ladder_step(1e-3, +1) == 3e-3
    assert ladder_step(1e-6, -1) == 3e-7 and ladder_step(5e-4, -1) == 3e-4 and ladder_step(5e-4, +1) == 1e-3


def _search(f, grid, extend=3):
    problem = Problem(make_config("smoke", lr=1.0), tuple(grid), extend)
    calls = []

    def score_many(configs):
        calls.append([c.lr for c in configs])
        return [f(c.lr) for c in configs]

    scores, _ = search(problem, score_many)
    return scores, calls


@pytest.mark.parametrize("optimum", [3e-5, 1e-3, 3e-2])
def test_the_search_brackets_a_known_minimum(optimum):
    f = lambda lr: (math.log10(lr) - math.log10(optimum)) ** 2  # noqa: E731
    scores, calls = _search(f, (3e-4, 1e-3, 3e-3))
    best = min(scores, key=scores.get)
    assert best == pytest.approx(optimum) and is_bracketed(scores)
    lrs = sorted(scores)
    i = lrs.index(best)
    assert scores[lrs[i - 1]] > scores[best] < scores[lrs[i + 1]]
    assert calls[0] == [3e-4, 1e-3, 3e-3] and all(len(c) <= 2 for c in calls[1:])


def test_the_search_stops_at_its_extension_limit_unbracketed():
    f = lambda lr: math.log10(lr)  # noqa: E731 - always better lower: never bracketed
    scores, _ = _search(f, (3e-4, 1e-3, 3e-3), extend=2)
    assert sorted(scores) == [3e-5, 1e-4, 3e-4, 1e-3, 3e-3] and not is_bracketed(scores)
    assert next_rates(scores, (3e-4, 1e-3, 3e-3), 2) == []


def test_a_diverged_rate_counts_as_worse_and_nothing_above_it_is_tried():
    f = lambda lr: math.inf if lr > 1e-3 else -math.log10(lr)  # noqa: E731 - better higher, diverges above 1e-3
    scores, calls = _search(f, (3e-4, 1e-3, 3e-3))
    assert min(scores, key=scores.get) == 1e-3 and is_bracketed(scores)
    assert max(scores) == 3e-3 and len(calls) == 1
    everything_diverges = {1e-3: math.inf}
    assert next_rates(everything_diverges, (1e-3,), 3) == [3e-4]


def test_one_rate_grids_extend_both_ways():
    scores, calls = _search(lambda lr: abs(math.log10(lr) + 3), (1e-3,), extend=1)
    assert calls == [[1e-3], [3e-4, 3e-3]] and is_bracketed(scores)


def test_a_configuration_carries_its_tuning_protocol():
    from aniso.runs import make_config
    from aniso.runs.config import config_id
    from aniso.runs.tuning import tuning_problem

    smoke, default = make_config("smoke", loss="l1"), make_config("default", loss="l1")
    assert (smoke.tuning, default.tuning) == ("smoke", "default")
    assert tuning_problem(smoke).key == tuning_problem(smoke, "smoke").key != tuning_problem(default).key
    assert tuning_problem(smoke).base.epochs == 1 and tuning_problem(smoke).base.tuning == "smoke"
    # how the rate was found is not part of the run: the rate is
    assert config_id(default) == config_id(default.replace(tuning="long"))
