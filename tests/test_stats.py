"""Statistics of the verdicts: known values, bad input, and calibration on simulated runs.

The calibration tests simulate what the suite stores: per-image NMEs (percent)
of R seeds of methods A and B on the same M test images, where

    NME[method, seed, image] = difficulty[image] + seed_shift[seed]
                               + method_by_seed[method, seed] + noise[method, seed, image]
                               (+ effect for B)

difficulty is shared by every run, seed_shift by A and B of the same seed,
and the seed shift (sd 0.4 points) is as large as the effects judged. A
decisive outcome without a planted effect is a false one; its rate may not
exceed the 5% the rule promises plus binomial slack: the 99% one-sided
binomial upper bound for the number of simulated comparisons (7.5% for 400).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from aniso import stats

SEED_SD, INTER_SD, NOISE_SD, M = 0.4, 0.12, 0.8, 150  # points, points, points, images


def simulate(rng, n_sims, runs, effect=0.0, n_images=M, paired=True):
    """A and B per-image NMEs (percent), each of shape (n_sims, runs, n_images).

    ``paired``: seed i of A and of B share their seed shift; otherwise B's
    runs come from other seeds (the unpaired case).
    """
    difficulty = rng.gamma(4.0, 0.9, (n_sims, 1, n_images))
    seed_shift = rng.normal(0.0, SEED_SD, (1 if paired else 2, n_sims, runs, 1))
    inter = rng.normal(0.0, INTER_SD, (2, n_sims, runs, 1))
    noise = rng.normal(0.0, NOISE_SD, (2, n_sims, runs, n_images))
    a = difficulty + seed_shift[0] + inter[0] + noise[0]
    b = difficulty + seed_shift[-1] + inter[1] + noise[1] + effect
    return a, b


def true_se(runs, n_images=M):
    """Standard error of the paired effect in the simulation: sd of one seed's mean difference / sqrt(R)."""
    return math.sqrt(2 * INTER_SD**2 + 2 * NOISE_SD**2 / n_images) / math.sqrt(runs)


def upper_slack(n, rate=stats.ALPHA):
    """Largest false-decision share consistent with ``rate`` (99% one-sided binomial bound over n comparisons)."""
    return sps.binom.ppf(0.99, n, rate) / n


def lower_slack(n, rate=stats.ALPHA):
    return sps.binom.ppf(0.01, n, rate) / n


def decisive_share(results):
    return float(np.mean([r.decisive for r in results]))


def old_rule_decisive(a, b, rng, n_boot=400):
    """The former rule: runs averaged per image, 95% percentile bootstrap over images of B - A.

    Decisive when 0 lies outside the interval (reporting.compare before aniso.stats).
    """
    d = b.mean(axis=0) - a.mean(axis=0)
    boots = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return lo > 0 or hi < 0


class TestPairedKnownValues:
    def test_matches_scipy_paired_t_on_seed_means(self):
        rng = np.random.default_rng(1)
        a, b = simulate(rng, 1, 4, effect=0.2)
        r = stats.compare(a[0], b[0])
        am, bm = a[0].mean(axis=1), b[0].mean(axis=1)
        ref = sps.ttest_rel(bm, am, alternative="greater")
        assert r.p == pytest.approx(ref.pvalue) and r.df == 3
        assert r.effect == pytest.approx((bm - am).mean())
        assert r.per_run == pytest.approx(tuple(bm - am))
        ci = sps.ttest_rel(bm, am).confidence_interval(0.95)
        assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
        assert r.sd == pytest.approx((bm - am).std(ddof=1)) and r.se == pytest.approx(r.sd / 2)
        assert (r.n_a, r.n_b, r.n_images, r.paired) == (4, 4, M, True)
        assert r.mde == pytest.approx(stats.minimum_detectable_effect(r.se, 3))

    def test_interval_and_p_agree(self):
        rng = np.random.default_rng(2)
        for effect in (0.0, 0.15, 0.4, -0.4):
            a, b = simulate(rng, 1, 3, effect=effect)
            r = stats.compare(a[0], b[0])
            assert (r.ci_low > 0) == (r.p < r.threshold) and (r.ci_high < 0) == (r.p_other < r.threshold)
            assert r.status == ("reproduced" if r.ci_low > 0 else "contradicted" if r.ci_high < 0 else "inconclusive")

    def test_sentence_states_the_numbers(self):
        a, b = simulate(np.random.default_rng(3), 1, 3, effect=1.0)
        r = stats.compare(a[0], b[0])
        for part in (f"{r.effect:+.2f}", f"{r.ci_low:+.2f}", f"{r.ci_high:+.2f}", f"p = {r.p:.2g}",
                     "3 seed pairs", f"{r.mde:.2f} points", "80% power", "95% CI"):
            assert part in r.evidence

    def test_one_seed_decides_nothing(self):
        r = stats.compare(np.full((1, 5), 3.0), np.full((1, 5), 9.0))
        assert r.status == "inconclusive" and "one seed pair" in r.evidence
        assert math.isinf(r.mde) and math.isnan(r.p)

    def test_identical_methods_are_inconclusive(self):
        a = np.random.default_rng(4).uniform(2, 5, (3, 10))
        r = stats.compare(a, a.copy())
        assert r.status == "inconclusive" and "same difference" in r.reason

    def test_deterministic(self):
        a, b = simulate(np.random.default_rng(5), 1, 3, effect=0.1)
        r1, r2 = stats.compare(a[0], b[0]), stats.compare(a[0], b[0])
        assert (r1.evidence, r1.per_run, r1.p, r1.mde) == (r2.evidence, r2.per_run, r2.p, r2.mde)
        u1, u2 = (stats.compare_scalar([3, 4, 4, 9], [4, 6, np.inf, 9], paired=False) for _ in range(2))
        assert u1.evidence == u2.evidence

    @pytest.mark.parametrize("a, b, match", [
        (np.ones((3, 5)), np.ones((3, 6)), "same seeds"),
        (np.ones(5), np.ones(5), r"shape \(runs, images\)"),
        (np.array([[1.0, np.nan]]), np.ones((1, 2)), "not finite"),
        (np.ones((0, 5)), np.ones((0, 5)), r"shape \(runs, images\)"),
    ])
    def test_bad_input_raises(self, a, b, match):
        with pytest.raises(ValueError, match=match):
            stats.compare(a, b)

    def test_bad_levels_raise(self):
        with pytest.raises(ValueError, match="alpha"):
            stats.compare(np.ones((2, 2)), np.ones((2, 2)), alpha=1.5)
        with pytest.raises(ValueError, match="power"):
            stats.minimum_detectable_effect(1.0, 3, power=0.01)
        with pytest.raises(ValueError, match="status"):
            stats.Result("c", "t", "maybe", 0.0, 0.5, 0.5, 0.025, 1, 1, True, "")


class TestMDE:
    def test_large_df_is_the_normal_formula(self):
        z = sps.norm.isf(stats.ALPHA / 2) + sps.norm.isf(1 - stats.POWER)
        assert stats.minimum_detectable_effect(0.1, 1e7) == pytest.approx(0.1 * z, rel=1e-4)

    def test_fewer_seeds_need_larger_effects(self):
        mdes = [stats.minimum_detectable_effect(1.0, df) for df in (1, 2, 4, 9, 30)]
        assert all(x > y for x, y in zip(mdes, mdes[1:]))
        assert math.isinf(stats.minimum_detectable_effect(1.0, 0))

    def test_power_of_the_exact_t_test_at_the_mde(self):
        for df in (2, 4, 7.3):
            d = stats.minimum_detectable_effect(1.0, df)
            assert sps.nct.sf(sps.t.isf(stats.ALPHA / 2, df), df, d) == pytest.approx(stats.POWER, abs=1e-8)


class TestCalibration:
    """Without a method effect at most 5% (+ slack) decisive; with one of MDE size, 80% found."""

    N = 400

    @pytest.mark.parametrize("runs", [3, 5])
    def test_paired_rule_no_effect(self, runs):
        a, b = simulate(np.random.default_rng(10 + runs), self.N, runs)
        share = decisive_share(stats.compare(x, y) for x, y in zip(a, b))
        # the paired t test is exact here: too few decisions would mean a broken test too
        assert lower_slack(self.N) <= share <= upper_slack(self.N), share

    def test_old_image_bootstrap_is_not_calibrated(self):
        rng = np.random.default_rng(20)
        a, b = simulate(rng, self.N, 3)
        old = float(np.mean([old_rule_decisive(x, y, rng) for x, y in zip(a, b)]))
        new = decisive_share(stats.compare(x, y) for x, y in zip(a, b))
        assert new <= upper_slack(self.N) < old, (new, old)
        assert old > 0.2  # the seed-to-seed variation it ignores makes a third of the null comparisons decisive

    @pytest.mark.parametrize("runs", [4, 6])
    def test_seed_split_audit_no_effect(self, runs):
        n = 250  # configurations; each gives two mirrored verdicts
        a, _ = simulate(np.random.default_rng(30 + runs), n, runs)
        verdicts = [v for x in a for v in stats.seed_split_audit(x)]
        assert all(not v.paired for v in verdicts)
        assert decisive_share(verdicts) <= upper_slack(len(verdicts) // 2)  # the two ways are one test mirrored

    def test_unpaired_rule_no_effect_unequal_runs(self):
        a, b = simulate(np.random.default_rng(40), self.N, 5, paired=False)
        share = decisive_share(stats.compare(x, y[:3], paired=False) for x, y in zip(a, b))
        assert share <= upper_slack(self.N), share

    @pytest.mark.parametrize("runs", [3, 5])
    def test_power_at_mde_and_twice(self, runs):
        mde = stats.minimum_detectable_effect(true_se(runs), runs - 1)
        found = []
        for k, (effect, n) in enumerate(((mde, 800), (2 * mde, 150))):
            a, b = simulate(np.random.default_rng(50 + 10 * runs + k), n, runs, effect=effect)
            found.append(float(np.mean([stats.compare(x, y).status == "reproduced" for x, y in zip(a, b)])))
        # tolerance 0.05 = 3.5 binomial sd at n = 800 and power 0.8
        assert found[0] == pytest.approx(stats.POWER, abs=0.05), found
        assert found[1] >= 0.95, found


class TestEquivalence:
    def test_relative_margin(self):
        assert stats.relative_margin(3.5, 0.05) == pytest.approx(0.175)
        with pytest.raises(ValueError, match="reference NME"):
            stats.relative_margin(-1.0)
        with pytest.raises(ValueError, match="fraction"):
            stats.relative_margin(3.5, 5)
        with pytest.raises(ValueError, match="margin"):
            stats.compare_equivalent(np.ones((2, 2)), np.ones((2, 2)), 0.0)

    def test_zero_difference_with_enough_seeds_is_equivalent(self):
        a, b = simulate(np.random.default_rng(60), 200, 10)
        margin = stats.relative_margin(float(a.mean()), 0.10)  # 0.36 points, twice the sd of one seed's difference
        res = [stats.compare_equivalent(x, y, margin) for x, y in zip(a, b)]
        assert np.mean([r.status == "reproduced" for r in res]) >= 0.9
        assert not any(r.status == "contradicted" for r in res)
        r = res[0]
        assert (r.status == "reproduced") == (-margin < r.ci_low and r.ci_high < margin)
        assert f"±{margin:.2f}" in r.evidence and "TOST" in r.test
        # the two one-sided tests are scipy's t tests against the margins
        d = (b[0] - a[0]).mean(axis=1)
        tost = max(sps.ttest_1samp(d, -margin, alternative="greater").pvalue,
                   sps.ttest_1samp(d, margin, alternative="less").pvalue)
        assert r.p == pytest.approx(tost)

    def test_three_margins_apart_is_contradicted(self):
        margin = stats.relative_margin(3.6, 0.10)
        a, b = simulate(np.random.default_rng(61), 200, 5, effect=3 * margin)
        assert np.mean([stats.compare_equivalent(x, y, margin).status == "contradicted" for x, y in zip(a, b)]) >= 0.9
        a, b = simulate(np.random.default_rng(62), 200, 5, effect=-3 * margin)
        assert np.mean([stats.compare_equivalent(x, y, margin).status == "contradicted" for x, y in zip(a, b)]) >= 0.9

    def test_difference_at_the_margin_rarely_decides(self):
        margin, n = stats.relative_margin(3.6, 0.05), 400
        a, b = simulate(np.random.default_rng(63), n, 5, effect=margin)
        res = [stats.compare_equivalent(x, y, margin) for x, y in zip(a, b)]
        # at the boundary each outcome is wrong; each has at most alpha/2
        for status in ("reproduced", "contradicted"):
            assert np.mean([r.status == status for r in res]) <= upper_slack(n, stats.ALPHA / 2)

    def test_unpaired_equivalence(self):
        a, b = simulate(np.random.default_rng(64), 1, 8)
        r = stats.compare_equivalent(a[0], b[0, :6], 1.5, paired=False)
        assert r.status == "reproduced" and r.test == "TOST (Welch t)" and (r.n_a, r.n_b) == (8, 6)
        ma, mb = a[0].mean(axis=1), b[0, :6].mean(axis=1)
        assert r.p == pytest.approx(sps.ttest_ind(mb + 1.5, ma, equal_var=False, alternative="greater").pvalue)
        w = stats.compare(a[0], b[0, :6], paired=False)
        ref = sps.ttest_ind(mb, ma, equal_var=False, alternative="greater")
        assert w.p == pytest.approx(ref.pvalue) and w.df == pytest.approx(ref.df)


def epochs(rng, n_sims, runs, shift=0.0, budget=20, paired=True):
    """Epochs to a target NME per run (inf = not within the budget); ``paired``: A and B share a seed term."""
    seed = rng.normal(0, 3, (1 if paired else 2, n_sims, runs))
    e = np.ceil(12 + seed + rng.normal(0, 2, (2, n_sims, runs)) + np.array([0.0, shift])[:, None, None])
    return np.where(e > budget, np.inf, e)


class TestScalar:
    def test_never_reached_and_ties(self):
        r = stats.compare_scalar([3, 4, 5, 6, 7, 8], [5, 6, np.inf, np.inf, 9, 9], unit="epochs")
        assert r.status == "reproduced" and r.p == pytest.approx(1 / 64) and r.test == "sign test"
        r = stats.compare_scalar([np.inf, 4, 5], [np.inf, 4, 7])
        assert r.per_run == (0.0, 0.0, 2.0) and "tied in 2" in r.evidence
        assert stats.compare_scalar([np.inf] * 3, [np.inf] * 3).reason == "no seed pair differs"

    def test_tiny_runs_stay_inconclusive_however_clear(self):
        r = stats.compare_scalar([1, 2, 3], [50, 60, np.inf])
        assert r.status == "inconclusive" and r.smallest_p == 0.125 and "cannot reach" in r.reason
        r = stats.compare_scalar([1, 2, 3], [50, 60, np.inf], paired=False, unit="epochs")
        assert r.status == "inconclusive" and r.smallest_p == pytest.approx(0.05)
        assert "medians 2.00 vs 60.00 epochs" in r.evidence
        assert stats.compare_scalar([1, 2, 3, 4], [50, 60, 70, np.inf], paired=False).status == "reproduced"
        assert stats.compare_scalar([50, 60, 70, np.inf], [1, 2, 3, 4], paired=False).status == "contradicted"

    def test_mann_whitney_p_is_exact_with_ties(self):
        a, b = np.array([3.0, 4, 4, np.inf, 5]), np.array([4.0, 6, np.inf, np.inf, 7])
        pooled, lower = np.concatenate([a, b]), lambda x, y: np.mean((x[:, None] < y) + 0.5 * (x[:, None] == y))
        shares = np.array([lower(pooled[list(i)], np.delete(pooled, list(i)))
                           for i in itertools.combinations(range(10), 5)])
        r = stats.compare_scalar(a, b, paired=False)
        assert r.p == pytest.approx(np.mean(shares >= lower(a, b) - 1e-12))
        assert r.extra["share_a_lower"] == pytest.approx(lower(a, b))

    def test_no_effect_calibration(self):
        n, rng = 400, np.random.default_rng(70)
        a, b = epochs(rng, n, 8)
        assert decisive_share(stats.compare_scalar(x, y) for x, y in zip(a, b)) <= upper_slack(n)
        n = 100  # Mann-Whitney's permutation p with ties takes ~3 ms; its exactness is checked by enumeration below
        a, b = epochs(rng, n, 5, paired=False)
        assert decisive_share(stats.compare_scalar(x, y, paired=False) for x, y in zip(a, b)) <= upper_slack(n)

    def test_clear_effect_is_found(self):
        rng = np.random.default_rng(71)
        a, b = epochs(rng, 50, 8, shift=6)
        assert np.mean([stats.compare_scalar(x, y).status == "reproduced" for x, y in zip(a, b)]) >= 0.8

    def test_bad_input_raises(self):
        with pytest.raises(ValueError, match="not numbers"):
            stats.compare_scalar([1, np.nan], [1, 2])
        with pytest.raises(ValueError, match="same seeds"):
            stats.compare_scalar([1, 2], [1, 2, 3])
        with pytest.raises(ValueError, match="one value per run"):
            stats.compare_scalar(np.ones((2, 3)), np.ones((2, 3)))


class TestSpread:
    def test_needs_three_runs(self):
        r = stats.compare_spread([1.0, 5.0], [3.0, 3.1])
        assert r.status == "inconclusive" and "three runs" in r.reason

    def test_wide_against_narrow(self):
        wide, narrow = [1.0, 3.0, 5.0, 1.5, 4.8], [3.0, 3.01, 2.99, 3.005, 2.995]
        r = stats.compare_spread(wide, narrow)
        assert r.status == "reproduced" and r.effect > 0 and r.p < r.threshold and r.extra["sd_a"] > r.extra["sd_b"]
        assert stats.compare_spread(narrow, wide).status == "contradicted"
        assert r.p == pytest.approx(sps.levene(wide, narrow, center="median").pvalue / 2)

    @pytest.mark.parametrize("runs", [4, 5])
    def test_no_effect_calibration(self, runs):
        n = 400
        a, b = simulate(np.random.default_rng(80 + runs), n, runs, paired=False)
        assert decisive_share(stats.compare_spread(x, y) for x, y in zip(a, b)) <= upper_slack(n)

    def test_accepts_per_image_nmes(self):
        a, b = simulate(np.random.default_rng(81), 1, 4)
        r = stats.compare_spread(a[0], b[0])
        assert r.extra["sd_a"] == pytest.approx(a[0].mean(axis=1).std(ddof=1))


class TestAudit:
    def test_halves_and_mirror(self):
        a, _ = simulate(np.random.default_rng(90), 1, 5)
        first, second = stats.seed_split_audit(a[0])
        assert (first.n_a, first.n_b) == (2, 3) and (second.n_a, second.n_b) == (3, 2)
        assert first.effect == pytest.approx(-second.effect) and first.p == pytest.approx(second.p_other)

    def test_two_runs_decide_nothing_and_one_raises(self):
        assert not any(v.decisive for v in stats.seed_split_audit(np.ones((2, 4)) + [[0], [1]]))
        with pytest.raises(ValueError, match="at least 2 runs"):
            stats.seed_split_audit(np.ones((1, 4)))
