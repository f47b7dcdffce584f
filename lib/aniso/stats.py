"""Statistics behind every verdict on a claim: which runs count, which test, which outcome.

How a claim is judged, in plain words
-------------------------------------
**Unit of replication: the training run.** A method is trained several times
with different seeds (initialisation and sample order) and every run is
evaluated on the same test images. Averaging over test images is measurement,
not replication: the question a verdict answers is "would another set of seeds,
trained and evaluated the same way on these test images, show the same
thing?". So the evidence is the spread *between runs*, and three seeds are
three observations, however many test images there are.

**Paired by seed.** Seed i of method A and seed i of method B share their
initialisation and sample order, so much of what one seed does to the NME it
does to both methods. The paired rule takes, for every seed, the mean over
images of ``NME_B - NME_A`` (percent points; positive = A better) and asks
whether these per-seed gains are consistently above zero given how much they
vary from seed to seed (paired t test, R seeds give R - 1 degrees of freedom).
Runs with different seeds, or different numbers of runs, are compared
unpaired: Welch's t test on the mean NME of each run.

**One interval, one rule.** Every verdict reads the same two-sided 95%
interval (``1 - alpha``; each end is a one-sided 97.5% bound): entirely on
the claimed side of zero = *reproduced*; entirely on the other side =
*contradicted*; straddling zero = *inconclusive*. The printed p is one-sided in the claimed direction and
decides below 0.025 (``alpha / 2``): with no true difference each wrong
decisive outcome has a 2.5% chance, so at most 5% of such verdicts are
decisive, reproduced or contradicted (the 5% the seed-split audit allows). With
one run a side nothing can be decided: the seed-to-seed spread is unknown.

**Minimum detectable effect (MDE).** The true effect that this test, with
this many seeds and the seed-to-seed spread seen here, would find with 80%
probability. An inconclusive verdict with an MDE of 0.9 points says "a gain
below about 0.9 points could not have been seen", not "there is no gain".

**"Almost no difference" (equivalence).** The caller gives a margin in points
(:func:`relative_margin` turns "5% of the reference NME" into points). The same
95% interval entirely inside ``(-margin, +margin)`` = *reproduced* (two
one-sided tests, TOST, each at 2.5%); entirely beyond ``+margin`` or entirely
below ``-margin`` = *contradicted* (the difference is significantly larger
than the margin, which implies significantly different from zero);
otherwise *inconclusive*.

**One number per run** (epochs to reach a target NME, ``inf`` = never):
paired by seed, a sign test on the direction of each seed's difference (seeds
where both sides tie, including both never reaching the target, carry no
direction and are dropped); unpaired, Mann-Whitney U with its exact
permutation distribution (ties and ``inf`` handled by ranks). Both are exact,
so with few runs they simply cannot reach p < 0.025 (the sign test needs six
seeds that differ, Mann-Whitney four runs a side, or 3 against 5) and stay
inconclusive.

**"A spreads more over runs than B"**: Brown-Forsythe (Levene's test around
the median), inconclusive with fewer than three runs a side.

Why these tests
---------------
* The former rule bootstrapped over test images with each side's runs averaged.
  It treats the images as the replicates and never sees that a different set
  of seeds would move the whole difference: on two halves of one configuration
  it was decisive in 30 of 42 comparisons of the run store.
  ``tests/test_stats.py`` shows the same failure (about a third decisive) on a
  simulation where the paired t test holds its 5%.
* Paired t on the per-seed mean differences is exact when those differences
  are normal, which per-seed means over hundreds of images nearly are; it is
  the standard test with few replicates. Each seed's mean difference already
  contains that run's image-to-image noise, so the seed-to-seed spread
  measures it too: a separate image-level variance term would count it twice
  (a less powerful test) and would change the question to "on other test
  images" (the paper's claims are about its benchmark test sets).
* A bootstrap over seeds is not used: 3 seeds have 10 distinct resamples, and
  percentile intervals from R replicates are too narrow by about
  ``sqrt((R - 1) / R)`` with normal instead of t quantiles: with no
  difference a 95% percentile interval over 3 (5) normal seeds excludes 0 in
  about 24% (17%) of cases, not 5%.
* The MDE uses the noncentral t distribution (exact power of the t test at
  the observed spread), not the normal approximation, which at 3 seeds is far
  too optimistic.

All inputs are arrays; NMEs and effects are in percent points. Results are
:class:`Result` records whose ``evidence`` is one sentence for the report.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

__all__ = [
    "ALPHA", "POWER", "OUTCOMES", "Result", "minimum_detectable_effect", "relative_margin", "compare",
    "compare_equivalent", "compare_scalar", "compare_spread", "seed_split_audit",
]

ALPHA = 0.05  # two-sided: each direction decides at ALPHA / 2 (see the module docstring)
POWER = 0.8
OUTCOMES = ("reproduced", "contradicted", "inconclusive")


@dataclass(frozen=True)
class Result:
    """The statistics of one claim and its outcome.

    ``effect`` is in ``unit`` and positive in favour of A (A lower NME, fewer
    epochs, larger mean absolute deviation). ``p`` is one-sided for the claim (TOST: the larger
    of its two one-sided p), ``p_other`` one-sided for the opposite outcome;
    either decides below ``threshold`` (``alpha / 2``). ``ci_low``/``ci_high``
    is the two-sided ``confidence`` interval of the effect (nan for rank tests).
    ``per_run`` holds the per-seed effects (paired) or A's then B's per-run
    values (unpaired). ``sd`` is the seed-to-seed sd of the per-seed effect
    (paired) or of one run's value, pooled over both sides (unpaired); ``se`` the
    standard error of ``effect``; ``mde`` the minimum detectable effect at
    ``power``; ``smallest_p`` the least p the test can give with these runs
    (0 for t tests). ``reason`` says why nothing could be decided, if so.
    """

    claim: str
    test: str
    status: str
    effect: float
    p: float
    p_other: float
    threshold: float
    n_a: int
    n_b: int
    paired: bool
    evidence: str
    n_images: int | None = None
    ci_low: float = math.nan
    ci_high: float = math.nan
    confidence: float = math.nan
    per_run: tuple[float, ...] = ()
    sd: float = math.nan
    se: float = math.nan
    df: float = math.nan
    mde: float = math.nan
    power: float = POWER
    margin: float = math.nan
    smallest_p: float = 0.0
    reason: str = ""
    unit: str = "points"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in OUTCOMES:
            raise ValueError(f"Result status {self.status!r}: expected one of {OUTCOMES}")

    @property
    def decisive(self) -> bool:
        """Reproduced or contradicted."""
        return self.status != "inconclusive"


def _check_levels(alpha: float, power: float = POWER) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: expected a level in (0, 1), e.g. 0.05")
    if not alpha / 2 < power < 1:
        raise ValueError(f"power = {power!r}: expected a probability in (alpha/2, 1), e.g. 0.8")


def _outcome(p: float, p_other: float, alpha: float) -> str:
    if p < alpha / 2:
        return "reproduced"
    return "contradicted" if p_other < alpha / 2 else "inconclusive"


def _num(x: float, signed: bool = True) -> str:
    """Two decimals; two significant digits below 0.05 so that small effects do not print as 0.00."""
    if not np.isfinite(x):
        return ("+" if signed and x > 0 else "") + ("inf" if np.isinf(x) else "n/a")
    fmt = ".2g" if 0 < abs(x) < 0.05 else ".2f"
    return format(x, ("+" if signed else "") + fmt)


@lru_cache(maxsize=512)
def _noncentrality(df: float, alpha: float, power: float) -> float:
    """The shift (in standard errors) that a one-sided t test at ``alpha / 2`` finds with probability ``power``."""
    crit = stats.t.isf(alpha / 2, df)
    gap = lambda d: stats.nct.sf(crit, df, d) - power  # noqa: E731
    hi = 2 * crit + 4
    while gap(hi) < 0:  # heavy tails at df ~ 1 need a wider bracket
        hi *= 2
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-9))


def minimum_detectable_effect(se: float, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest true effect (unit of ``se``) that the t test on ``df`` degrees of freedom decides with
    probability ``power`` (one-sided at ``alpha / 2``), taking ``se`` as the true standard error.

    ``inf`` when nothing can be decided (no degrees of freedom or no spread known).
    """
    _check_levels(alpha, power)
    if not (df > 0) or not np.isfinite(se):
        return math.inf
    return float(se) * _noncentrality(float(df), float(alpha), float(power))


def relative_margin(reference_nme: float, fraction: float = 0.05) -> float:
    """An equivalence margin in points: ``fraction`` of a reference NME (points), e.g. 5% of 3.5 = 0.175."""
    if not (np.isfinite(reference_nme) and reference_nme > 0):
        raise ValueError(f"reference NME {reference_nme!r}: expected a positive NME in percent points")
    if not 0 < fraction < 1:
        raise ValueError(f"margin fraction {fraction!r}: expected a fraction in (0, 1), e.g. 0.05")
    return float(fraction * reference_nme)


def _runs_by_images(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected per-image NMEs of shape (runs, images), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: {int((~np.isfinite(arr)).sum())} NMEs are not finite; expected finite percent")
    return arr


def _run_values(x, name: str, allow_inf: bool = False) -> tuple[np.ndarray, int | None]:
    """One value per run: a 1-D array as it is, a (runs, images) array averaged over images."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 2:
        return _runs_by_images(arr, name).mean(axis=1), arr.shape[1]
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{name}: expected one value per run (1-D) or (runs, images), got shape {arr.shape}")
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name}: values {arr[bad].tolist()} at runs {np.flatnonzero(bad).tolist()} are not "
                         f"{'numbers' if allow_inf else 'finite'}")
    return arr, None


@dataclass(frozen=True)
class _TTest:
    """A t test of ``effect`` (points) as scipy ran it, two-sided, with what the verdicts need from it.

    One-sided p's against any ``shift`` (0 for a direction, the margins for
    TOST) come from the same statistic and the t distribution: calling scipy
    once per shift costs ~1 ms each in argument handling, which the
    calibration tests (thousands of comparisons) cannot afford; the tests check
    that both give the same p.
    """

    result: object  # scipy TtestResult of effect = 0, or None when nothing can be decided
    effect: float
    se: float
    sd: float
    df: float
    n_a: int
    n_b: int
    n_images: int | None
    paired: bool
    per_run: tuple
    reason: str

    @property
    def name(self) -> str:
        return "paired t" if self.paired else "Welch t"

    @property
    def over(self) -> str:
        if self.paired:
            return f"{self.n_a} seed pair{'s' * (self.n_a != 1)}"
        return f"{self.n_a} and {self.n_b} runs"

    def p_above(self, shift: float = 0.0) -> float:
        """One-sided p of "effect > shift"."""
        return float(stats.t.sf((self.effect - shift) / self.se, self.df))

    def p_below(self, shift: float = 0.0) -> float:
        """One-sided p of "effect < shift"."""
        return float(stats.t.cdf((self.effect - shift) / self.se, self.df))

    def interval(self, alpha: float) -> tuple[float, float]:
        ci = self.result.confidence_interval(1 - alpha)
        return float(ci.low), float(ci.high)


def _paired_t(a, b) -> _TTest:
    a, b = _runs_by_images(a, "a"), _runs_by_images(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired comparison: a has shape {a.shape} and b {b.shape}; expected the same seeds "
                         f"(rows) and test images (columns) on both sides, or paired=False")
    d = (b - a).mean(axis=1)  # per-seed gain, points; positive = A better
    r = len(d)
    reason = ("one seed pair: the seed-to-seed spread is unknown, nothing can be decided" if r < 2 else
              "every seed pair gives the same difference: no spread to test against" if np.ptp(d) == 0 else "")
    sd = float(d.std(ddof=1)) if r > 1 else math.nan
    return _TTest(result=None if reason else stats.ttest_rel(b.mean(axis=1), a.mean(axis=1)),
                  effect=float(d.mean()), se=sd / math.sqrt(r), sd=sd, df=float(r - 1), n_a=r, n_b=r,
                  n_images=a.shape[1], paired=True, per_run=tuple(d.tolist()), reason=reason)


def _welch_t(a, b) -> _TTest:
    ma, m_a = _run_values(a, "a")
    mb, m_b = _run_values(b, "b")
    if m_a != m_b:
        raise ValueError(f"unpaired comparison: a has {m_a} test images per run and b {m_b}; expected the same images")
    na, nb = len(ma), len(mb)
    reason = ""
    if min(na, nb) < 2:
        reason = f"{na} and {nb} runs: Welch's test needs two runs a side to know their spread"
    elif np.ptp(ma) == 0 and np.ptp(mb) == 0:
        reason = "every run gives the same NME on each side: no spread to test against"
    res, se, sd = None, math.nan, math.nan
    if not reason:
        with warnings.catch_warnings():
            # a side whose runs are all equal has variance exactly 0; scipy's "nearly identical" warning is moot
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            res = stats.ttest_ind(mb, ma, equal_var=False)
        va, vb = ma.var(ddof=1), mb.var(ddof=1)
        se, sd = math.sqrt(va / na + vb / nb), math.sqrt((va + vb) / 2)
    return _TTest(result=res, effect=float(mb.mean() - ma.mean()), se=se, sd=sd,
                  df=float(res.df) if res is not None else math.nan, n_a=na, n_b=nb, n_images=m_a, paired=False,
                  per_run=tuple(ma.tolist() + mb.tolist()), reason=reason)


def _fields(tt: _TTest, alpha: float, power: float) -> dict:
    """The Result fields every t-based verdict shares."""
    return dict(effect=tt.effect, n_a=tt.n_a, n_b=tt.n_b, paired=tt.paired, threshold=alpha / 2,
                n_images=tt.n_images, confidence=1 - alpha, per_run=tt.per_run, sd=tt.sd, se=tt.se, df=tt.df,
                mde=minimum_detectable_effect(tt.se, tt.df, alpha, power) if not tt.reason else math.inf,
                power=power, reason=tt.reason)


def _mde_text(f: dict) -> str:
    return f"detectable effect at {f['power']:.0%} power: {_num(f['mde'], signed=False)} points"


def compare(a, b, *, paired: bool = True, alpha: float = ALPHA, power: float = POWER) -> Result:
    """Judge "A has lower NME than B" from per-image NMEs (percent) of several runs a side.

    ``a`` and ``b``: arrays of shape (runs, images). With ``paired=True`` row i
    of ``a`` and of ``b`` come from the same seed and the shapes must match
    (paired t on the per-seed mean differences); with ``paired=False`` the runs
    are unrelated and may differ in number (Welch t on per-run mean NMEs; 1-D
    arrays of per-run mean NMEs are accepted too). Outcomes: module docstring.
    """
    _check_levels(alpha, power)
    tt = _paired_t(a, b) if paired else _welch_t(a, b)
    f = _fields(tt, alpha, power)
    if tt.reason:
        return Result("A lower NME", tt.name, "inconclusive", p=math.nan, p_other=math.nan, **f,
                      evidence=f"gain {_num(tt.effect)} points over {tt.over}; {tt.reason}")
    p, p_other = tt.p_above(0.0), tt.p_below(0.0)
    lo, hi = tt.interval(alpha)
    evidence = (f"gain {_num(tt.effect)} points [{1 - alpha:.0%} CI {_num(lo)}, {_num(hi)}], one-sided "
                f"p = {p:.2g} (decides below {alpha / 2:g}) over {tt.over} ({tt.name}, df {tt.df:.3g}); "
                + _mde_text(f))
    return Result("A lower NME", tt.name, _outcome(p, p_other, alpha), p=p, p_other=p_other, ci_low=lo,
                  ci_high=hi, evidence=evidence, **f)


def compare_equivalent(a, b, margin: float, *, paired: bool = True, alpha: float = ALPHA,
                       power: float = POWER) -> Result:
    """Judge "A and B make almost no difference": |mean NME difference| below ``margin`` points.

    Inputs as in :func:`compare`. Reproduced when the two one-sided tests of
    ``difference > -margin`` and ``difference < +margin`` both pass at
    ``alpha / 2`` (the ``1 - alpha`` interval lies inside the margin);
    contradicted when ``difference > +margin`` or ``< -margin`` passes at
    ``alpha / 2`` (the interval lies wholly beyond the margin); else inconclusive.
    """
    _check_levels(alpha, power)
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"equivalence margin {margin!r}: expected a positive number of NME points")
    tt = _paired_t(a, b) if paired else _welch_t(a, b)
    f = _fields(tt, alpha, power) | dict(margin=float(margin))
    claim, test = f"|difference| < {margin:.3g} points", f"TOST ({tt.name})"
    if tt.reason:
        return Result(claim, test, "inconclusive", p=math.nan, p_other=math.nan, **f,
                      evidence=f"difference {_num(tt.effect)} points over {tt.over}; {tt.reason}")
    p = max(tt.p_above(-margin), tt.p_below(margin))
    p_other = min(tt.p_above(margin), tt.p_below(-margin))
    lo, hi = tt.interval(alpha)
    evidence = (f"difference {_num(tt.effect)} points [{1 - alpha:.0%} CI {_num(lo)}, {_num(hi)}] against a "
                f"margin of ±{_num(margin, signed=False)}; TOST p = {p:.2g}, beyond-margin p = {p_other:.2g} "
                f"(each decides below {alpha / 2:g}) over {tt.over} ({tt.name}, df {tt.df:.3g}); " + _mde_text(f))
    return Result(claim, test, _outcome(p, p_other, alpha), p=p, p_other=p_other, ci_low=lo, ci_high=hi,
                  evidence=evidence, **f)


def _scalar_paired(a: np.ndarray, b: np.ndarray, alpha: float, unit: str) -> Result:
    """Sign test on the direction of each seed's difference (exact binomial)."""
    if a.shape != b.shape:
        raise ValueError(f"paired comparison: {len(a)} runs of A and {len(b)} of B; expected the same seeds, "
                         f"or paired=False")
    # positive = A lower; a tie includes both never reaching the target (inf == inf), where b - a is nan
    d = np.subtract(b, a, out=np.zeros_like(a), where=a != b)
    k, n = int((d > 0).sum()), int((d != 0).sum())
    smallest = 0.5 ** n if n else 1.0
    common = dict(claim="A lower", test="sign test", effect=float(np.median(d)), n_a=len(a), n_b=len(b),
                  paired=True, threshold=alpha / 2, per_run=tuple(d.tolist()), smallest_p=smallest, unit=unit.strip())
    counts = (f"A lower in {k} of {len(d)} seed pairs, higher in {n - k}, tied in {len(d) - n}; median "
              f"difference {_num(float(np.median(d)))}{unit}")
    if n == 0:
        reason = "no seed pair differs"
        return Result(status="inconclusive", p=math.nan, p_other=math.nan, reason=reason,
                      evidence=f"{counts}; {reason}", **common)
    p = float(stats.binomtest(k, n, 0.5, alternative="greater").pvalue)
    p_other = float(stats.binomtest(k, n, 0.5, alternative="less").pvalue)
    reason = f"{n} differing seed pairs cannot reach p < {alpha / 2:g}" if smallest >= alpha / 2 else ""
    return Result(status=_outcome(p, p_other, alpha), p=p, p_other=p_other, reason=reason,
                  evidence=f"{counts}; sign test one-sided p = {p:.2g} (decides below {alpha / 2:g}; smallest "
                           f"possible with {n} differing pairs: {smallest:.2g})", **common)


def _scalar_unpaired(a: np.ndarray, b: np.ndarray, alpha: float, unit: str) -> Result:
    """Mann-Whitney U with its exact permutation distribution (valid with ties and inf)."""
    # Without ties scipy's exact distribution is the permutation one, 20x faster. With ties (integer epochs,
    # inf) only the permutation distribution is exact (the asymptotic p is too small with few runs); it is
    # exhaustive below 10,000 arrangements (7 runs a side) and a fixed rng keeps larger cases deterministic.
    ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
    method = stats.PermutationMethod(n_resamples=9999, rng=np.random.default_rng(0)) if ties else "exact"
    p = float(stats.mannwhitneyu(b, a, alternative="greater", method=method).pvalue)
    p_other = float(stats.mannwhitneyu(b, a, alternative="less", method=method).pvalue)
    lower = float(np.mean((a[:, None] < b[None, :]) + 0.5 * (a[:, None] == b[None, :])))
    med_a, med_b = float(np.median(a)), float(np.median(b))
    median = lambda v: "never" if np.isinf(v) else _num(v, signed=False)  # noqa: E731  (inf = never reached)
    smallest = 1.0 / math.comb(len(a) + len(b), len(a))  # with no ties; ties can only raise it
    reason = f"{len(a)} and {len(b)} runs cannot reach p < {alpha / 2:g}" if smallest >= alpha / 2 else ""
    evidence = (f"A lower in {lower:.0%} of run pairs (ties count half), medians {median(med_a)} vs "
                f"{median(med_b)}{unit}; Mann-Whitney U one-sided p = {p:.2g} (decides below {alpha / 2:g}; "
                f"smallest possible with {len(a)} and {len(b)} runs: {smallest:.2g})")
    return Result("A lower", "Mann-Whitney U", _outcome(p, p_other, alpha),
                  effect=0.0 if med_a == med_b else med_b - med_a, p=p, p_other=p_other, threshold=alpha / 2,
                  n_a=len(a), n_b=len(b), paired=False, per_run=tuple(a.tolist() + b.tolist()),
                  smallest_p=smallest, reason=reason, unit=unit.strip(), evidence=evidence,
                  extra=dict(share_a_lower=lower))


def compare_scalar(a, b, *, paired: bool = True, alpha: float = ALPHA, unit: str = "") -> Result:
    """Judge "A's value is lower than B's" from one number per run (e.g. epochs to a target; ``inf`` = never).

    ``a``, ``b``: 1-D, one value per run; with ``paired=True`` entry i of both
    is the same seed. Paired: sign test on each seed's direction; unpaired:
    Mann-Whitney U (exact permutation p). ``effect`` is the median paired
    difference ``b - a`` (paired) or ``median(b) - median(a)`` (unpaired), in
    ``unit``; ``inf`` when one side never reached the target.
    """
    _check_levels(alpha)
    for name, x in (("a", a), ("b", b)):
        if np.ndim(x) != 1:
            raise ValueError(f"{name}: expected one value per run (1-D), got shape {np.shape(x)}")
    unit = f" {unit}" if unit else ""  # the sentences put it after a number
    a, _ = _run_values(a, "a", allow_inf=True)
    b, _ = _run_values(b, "b", allow_inf=True)
    return _scalar_paired(a, b, alpha, unit) if paired else _scalar_unpaired(a, b, alpha, unit)


def compare_spread(a, b, *, alpha: float = ALPHA) -> Result:
    """Judge "A's results spread more over runs than B's": Brown-Forsythe (Levene around the median).

    ``a``, ``b``: one value per run (e.g. mean NME, points) or (runs, images)
    NMEs, averaged over images. ``effect`` = mean absolute deviation of A's
    runs from their median minus B's (points), the quantity the test compares;
    ``extra`` holds both sds. The two-sided p is split by that direction into
    one-sided p's, each deciding below ``alpha / 2``. Fewer than three runs a
    side: inconclusive. With 3 or 5 runs a side the test is conservative (the
    median run deviates by 0: under 1% decisive without a difference), with 4
    or 6 about nominal (5-6%).
    """
    _check_levels(alpha)
    a, _ = _run_values(a, "a")
    b, _ = _run_values(b, "b")
    sd_a = float(a.std(ddof=1)) if len(a) > 1 else math.nan
    sd_b = float(b.std(ddof=1)) if len(b) > 1 else math.nan
    dev_a, dev_b = (float(np.mean(np.abs(x - np.median(x)))) for x in (a, b))
    sds = f"sd over runs {_num(sd_a, False)} vs {_num(sd_b, False)} points ({len(a)} and {len(b)} runs)"
    common = dict(claim="A spreads more", test="Brown-Forsythe", effect=dev_a - dev_b, n_a=len(a), n_b=len(b),
                  paired=False, threshold=alpha / 2, per_run=tuple(a.tolist() + b.tolist()),
                  extra=dict(sd_a=sd_a, sd_b=sd_b, mean_abs_dev_a=dev_a, mean_abs_dev_b=dev_b))
    reason = ("fewer than three runs a side cannot decide" if min(len(a), len(b)) < 3 else
              "no run differs from the others on either side" if np.ptp(a) == 0 and np.ptp(b) == 0 else "")
    if reason:
        return Result(status="inconclusive", p=math.nan, p_other=math.nan, reason=reason,
                      evidence=f"{sds}; {reason}", **common)
    half = float(stats.levene(a, b, center="median").pvalue) / 2
    p, p_other = (half, 1 - half) if dev_a > dev_b else (1 - half, half)
    return Result(status=_outcome(p, p_other, alpha), p=p, p_other=p_other,
                  evidence=f"{sds}; Brown-Forsythe one-sided p = {p:.2g} (decides below {alpha / 2:g})", **common)


def seed_split_audit(x, *, alpha: float = ALPHA, power: float = POWER) -> tuple[Result, Result]:
    """Compare the first half of one configuration's seeds with the second half, both ways (unpaired rule).

    ``x``: per-image NMEs (percent) of shape (runs, images), R >= 2 runs of ONE
    configuration; the halves have R // 2 and R - R // 2 runs. Any decisive
    outcome is a false one: over a run store at most ``alpha`` of them may be.
    """
    x = _runs_by_images(x, "x")
    if len(x) < 2:
        raise ValueError(f"seed-split audit: {len(x)} run; expected at least 2 runs of one configuration")
    first, second = x[: len(x) // 2], x[len(x) // 2:]
    return (compare(first, second, paired=False, alpha=alpha, power=power),
            compare(second, first, paired=False, alpha=alpha, power=power))
