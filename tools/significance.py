"""One evidence scale for every detector: ``-log10 p`` under an explicit null model.

Every detector (metrics, logs, traces, changes) reports the strength of what it found as
``evidence = -log10 p`` (in ``Evidence.figures["evidence"]``), with the test named in
``Evidence.labels["test"]``. Large values are strong evidence; :data:`SIGNIFICANT` (p = 0.001) is
the level below which an answer says there is no significant evidence.

Tests (scipy.stats; the tail probabilities are computed in log space, so very small p values do
not underflow to 0; where even the log tail underflows the Chernoff bound
``n * KL(k/n || p0)`` is used, which is tight on the log scale):

- :func:`binomial`: ``k`` or more of ``n`` trials when each succeeds with ``p0`` (edge
  exceedances, span behaviour irregularities); with a design effect ``deff`` the trials are
  correlated in clusters (spans of one trace, calls of one stall, requests of one time block)
  and the test runs on the effective counts ``k / deff`` of ``n / deff`` (Rao & Scott 1992);
- :func:`block_correlation`: the intra-block correlation ``rho`` of a binary outcome estimated,
  without labels, from the reference windows' between-block variation, and
  :func:`design_effect` ``1 + (m - 1) * rho`` for ``m`` trials per block;
- :func:`poisson`: ``k`` or more events when ``lam`` are expected;
- :func:`index_of_dispersion` and :func:`negative_binomial`: counts of bursty events (log
  template counts), the variance-to-mean ratio of the reference's counts per time bin and the
  negative binomial tail with that variance (Poisson when the counts are not overdispersed);
- :func:`normal`: a one-sided standard normal tail of a robust z (metric level shifts);
- :func:`bonferroni`: the family-wise correction for the strongest of ``m`` tests;
- :func:`answer_level`: the level below which an *answer* says there is no significant
  evidence, keeping false alarms at :data:`FALSE_ALARM_RATE` per investigation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only where tables are analysed (the agent's Lambda has none)
    import pandas as pd

SIGNIFICANT = 3.0
"""-log10 of the significance level of one test family (p = 0.001): a detector's finding is
significant at or above it (slow edges, shares, the scorer's anomaly flags)."""
FALSE_ALARM_RATE = 0.01
"""The family-wise false-alarm rate per investigation that :func:`answer_level` keeps."""
LN10 = math.log(10.0)


def answer_level(families: int) -> float:
    """-log10 p below which an answer says "no significant evidence" instead of ranking noise.

    Derivation (Bonferroni over families; no fitting): every tool call corrects the strongest
    of its tests within each detector family it runs (:func:`bonferroni`: the edges of a
    traces call, the series of a metrics call, the templates of a logs call), so under the
    null one family's reported evidence reaches ``L`` with probability at most ``10 ** -L``.
    An investigation reports the strongest of its ``families`` families, so it raises a false
    alarm with probability at most ``families * 10 ** -L``; the level that keeps that at
    :data:`FALSE_ALARM_RATE` is ``L = -log10(FALSE_ALARM_RATE / families)``, and never below
    :data:`SIGNIFICANT`. This holds only as far as the null models hold on fault-free data:
    ``benchmarks/traces_fault_free.py`` checks the traces detectors on fault-free windows.
    """
    level = -math.log10(FALSE_ALARM_RATE / max(1, families))
    return round(max(SIGNIFICANT, level), 3)


def _from_log(log_p: float) -> float:
    return max(0.0, -log_p / LN10)


def _kl(q: float, p: float) -> float:
    q = min(max(q, 1e-12), 1 - 1e-12)
    p = min(max(p, 1e-12), 1 - 1e-12)
    return q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))


def binomial(k: int, n: int, p0: float, deff: float = 1.0) -> float:
    """-log10 P(X >= k) for X ~ Binomial(n, p0); 0 when ``k <= n * p0`` (no excess).

    ``deff`` (>= 1): the design effect of clustered trials (:func:`design_effect`); the test
    then runs on the effective counts ``k / deff`` of ``n / deff`` trials (Rao, J. N. K. and
    Scott, A. J. (1992), "A simple method for the analysis of clustered binary data",
    Biometrics 48(2):577-585), with the binomial tail continued to non-integer counts by the
    regularized incomplete beta function ``P(X >= k) = I_p0(k, n - k + 1)``.
    """
    if n <= 0 or k <= 0 or k <= n * p0:
        return 0.0
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    if deff > 1.0:
        k, n = k / deff, n / deff
        log_p = float(stats.beta.logcdf(p0, k, n - k + 1))
    else:
        log_p = float(stats.binom.logsf(k - 1, n, p0))
    if not math.isfinite(log_p):
        log_p = -n * _kl(k / n, p0)
    return round(_from_log(log_p), 3)


NEAR_DETERMINISTIC = 0.1
"""The reference rate (or its complement) at or below which a test unit is near-deterministic
(a statement nearly always written, a call nearly always made): the pooled correlation of
:func:`block_correlation` is estimated over such units, the kind a unit whose own reference
never varied belongs to."""


def block_correlation(blocks: pd.DataFrame, keys: list[str]) -> tuple[pd.Series, float]:
    """The intra-block correlation ``rho`` of a binary outcome, per test unit and pooled.

    ``blocks``: one row per (unit, block) of the *reference* data, with the unit's ``keys``
    columns, ``k`` (trials with the outcome in the block) and ``n`` (trials in the block), a
    block being a stretch of wall-clock time (or any cluster of trials that may share a cause:
    a trace, a stall, a day's traffic mix). Model: within a block the trials share a rate drawn
    around the unit's mean ``p`` (beta-binomial), so ``Var(k_j) = n_j p (1-p) (1 + (n_j - 1)
    rho)``. Moment estimator (Williams, D. A. (1982), "Extra-binomial variation in logistic
    linear models", Applied Statistics 31(2):144-148): with the unit's pooled rate ``p^``, the
    Pearson statistic ``X2 = sum_j (k_j - n_j p^)^2 / (n_j p^ (1 - p^))`` has expectation
    ``(J - 1) + rho * (N - sum_j n_j^2 / N - J + 1)`` over its ``J`` blocks of ``N`` trials, so
    ``rho = (X2 - (J - 1)) / (N - sum n_j^2 / N - J + 1)``. A unit whose reference rate is 0 or
    1, or whose blocks hold one trial each, tells nothing about ``rho`` (NaN). The pooled
    estimate, for such units, sums numerators and denominators over the informative units
    that are near-deterministic like them (reference rate or its complement at most
    :data:`NEAR_DETERMINISTIC`; all informative units when there are none): the correlation of
    an outcome differs between a data-dependent branch taken by half the requests of a burst
    and a statement nearly always written, and a unit that never varied is of the second
    kind. Both clipped to [0, 1]. No labels: only the reference windows are used.

    Returns (per-unit rho indexed by ``keys``, pooled rho).
    """
    import numpy as np
    import pandas as pd

    if blocks.empty:
        return pd.Series(dtype=float), 0.0
    b = blocks[[*keys, "k", "n"]].copy()
    b = b[b["n"] > 0]
    g = b.groupby(keys, sort=False)
    big_n = g["n"].transform("sum").astype(float)
    p = g["k"].transform("sum").astype(float) / big_n
    varying = (p > 0) & (p < 1)
    denom = (b["n"] * p * (1 - p)).where(varying, np.nan)
    b = b.assign(
        x2=((b["k"] - b["n"] * p) ** 2 / denom).fillna(0.0),
        n2=b["n"].astype(float) ** 2,
        informative=varying,
        extreme=np.minimum(p, 1 - p) <= NEAR_DETERMINISTIC,
    )
    per = b.groupby(keys, sort=False).agg(
        x2=("x2", "sum"),
        n2=("n2", "sum"),
        big_n=("n", "sum"),
        j=("n", "size"),
        informative=("informative", "any"),
        extreme=("extreme", "all"),
    )
    num = per["x2"] - (per["j"] - 1)
    den = per["big_n"] - per["n2"] / per["big_n"] - per["j"] + 1
    ok = per["informative"] & (den > 0)
    rho = (num / den.where(ok, np.nan)).clip(0.0, 1.0)
    like = ok & per["extreme"] if (ok & per["extreme"]).any() else ok
    pooled = float(num[like].sum() / den[like].sum()) if like.any() else 0.0
    if not math.isfinite(pooled):
        pooled = 0.0
    return rho, min(max(pooled, 0.0), 1.0)


def design_effect(trials: float, blocks: float, rho: float) -> float:
    """Kish's design effect ``1 + (m - 1) * rho`` of ``trials`` spread over ``blocks`` clusters
    (``m`` = trials per block) with intra-block correlation ``rho`` (Kish, L. (1965), Survey
    Sampling, Wiley, section 5.4); 1 for independent trials. ``n / deff`` is the effective
    number of independent trials: all in one block with ``rho = 1`` leaves one."""
    m = trials / max(1.0, blocks)
    return max(1.0, 1.0 + (m - 1.0) * max(0.0, rho))


def poisson(k: int, lam: float) -> float:
    """-log10 P(X >= k) for X ~ Poisson(lam); 0 when ``k <= lam``."""
    if k <= 0 or k <= lam:
        return 0.0
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    lam = max(lam, 1e-9)
    log_p = float(stats.poisson.logsf(k - 1, lam))
    if not math.isfinite(log_p):
        log_p = -(k * math.log(k / lam) - k + lam)  # Chernoff bound of the Poisson tail
    return round(_from_log(log_p), 3)


MIN_DISPERSION_BINS = 8
"""Fewest reference time bins from which :func:`index_of_dispersion` estimates a dispersion
(below it the sample variance is too noisy to tell bursts from chance, and 1 is returned)."""


def index_of_dispersion(bins: Sequence[int], min_bins: int = MIN_DISPERSION_BINS) -> float:
    """The variance-to-mean ratio ``phi = s^2 / mean`` of event counts per time bin (>= 1).

    ``bins``: counts of one kind of event (a log template) in consecutive equal time bins of
    the reference periods. Events that come in bursts (one request writes several lines,
    retries come together) vary more between bins than independent events do: their counts
    are overdispersed, ``Var = phi * mean`` with ``phi > 1``. ``phi`` is the moment estimate
    of the quasi-Poisson dispersion parameter, Pearson's ``X2 / (J - 1)`` of the ``J`` bins
    under a constant rate (McCullagh, P. and Nelder, J. A. (1989), Generalized Linear Models,
    2nd ed., Chapman & Hall, section 6.2.3), i.e. Fisher's index of dispersion (Cochran,
    W. G. (1954), "Some methods for strengthening the common chi2 tests", Biometrics
    10(4):417-451, section 8). Returns 1.0 (Poisson) with fewer than ``min_bins`` bins, with
    no event at all, or when the sample variance does not exceed the mean.
    """
    n = len(bins)
    if n < max(2, min_bins):
        return 1.0
    mean = sum(bins) / n
    if mean <= 0:
        return 1.0
    variance = sum((b - mean) ** 2 for b in bins) / (n - 1)
    return max(1.0, variance / mean)


def negative_binomial(k: int, mean: float, phi: float = 1.0, lower: bool = False) -> float:
    """-log10 P(X >= k) (or P(X <= k) when ``lower``) for an overdispersed count X with
    ``E[X] = mean`` and ``Var[X] = phi * mean``; 0 when ``k`` is on the expected side.

    Model: the negative binomial with the moment-matched dispersion (NB2 with size
    ``r = mean / (phi - 1)`` and ``p = 1 / phi``: Cameron, A. C. and Trivedi, P. K. (2013),
    Regression Analysis of Count Data, 2nd ed., Cambridge University Press, sections 3.3 and
    3.2.3), the gamma-Poisson mixture of a rate that varies between bursts. A window of ``m``
    reference bins sums ``m`` such counts, whose variance is ``m`` times a bin's, so ``phi``
    of the bins is also the window's. ``phi <= 1`` is the Poisson (:func:`poisson`).
    """
    mean = max(mean, 1e-9)
    if lower:
        if k >= mean:
            return 0.0
    elif k <= 0 or k <= mean:
        return 0.0
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    if phi <= 1.0 + 1e-9:
        dist = stats.poisson(mean)
    else:
        dist = stats.nbinom(mean / (phi - 1.0), 1.0 / phi)
    log_p = float(dist.logcdf(k) if lower else dist.logsf(k - 1))
    if not math.isfinite(log_p):  # Chernoff bound of the Poisson tail on the scaled counts
        kk, lam = max(k, 1e-9) / max(phi, 1.0), mean / max(phi, 1.0)
        log_p = -(kk * math.log(kk / lam) - kk + lam)
    return round(_from_log(log_p), 3)


def normal(z: float) -> float:
    """-log10 P(Z >= |z|) for a standard normal Z (one-sided; the caller chose the direction)."""
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    log_p = float(stats.norm.logsf(abs(z)))
    if not math.isfinite(log_p):  # Mills-ratio asymptote of the normal tail
        log_p = -(z * z) / 2 - math.log(abs(z) * math.sqrt(2 * math.pi))
    return round(_from_log(log_p), 3)


def bonferroni(evidence: float, m: int) -> float:
    """The strongest of ``m`` tests, corrected: ``evidence - log10 m`` (floored at 0)."""
    return round(max(0.0, evidence - math.log10(max(1, m))), 3)


def change_timing(lead_s: float, lead_up_s: float, m: int = 1) -> float:
    """Evidence that a write event ``lead_s`` seconds before an onset is not a coincidence.

    Null model: write events fall uniformly over the ``lead_up_s`` searched before the onset, so
    one lands within ``lead_s`` of it with probability ``lead_s / lead_up_s`` (``lead_s``
    floored at 60 s, the resolution of onsets); Bonferroni over the ``m`` changes examined.
    A change after the onset (``lead_s < 0``) is no evidence of a cause (0).
    """
    if lead_s < -60.0 or lead_up_s <= 0:
        return 0.0
    p = min(1.0, max(lead_s, 60.0) / lead_up_s)
    return bonferroni(_from_log(math.log(p)), m)


def fisher(evidences: list[float]) -> float:
    """Fisher's combination of independent tests, each given as -log10 p: -log10 of
    P(chi2 with 2k degrees of freedom >= -2 sum ln p)."""
    values = [e for e in evidences if e > 0]
    if not values:
        return 0.0
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    statistic = 2 * LN10 * sum(values)
    dof = 2 * len(values)
    log_p = float(stats.chi2.logsf(statistic, dof))
    if not math.isfinite(log_p):  # leading term of the chi-square tail (even dof)
        half = statistic / 2
        log_p = -half + (dof / 2 - 1) * math.log(half) - math.lgamma(dof / 2)
    return round(_from_log(log_p), 3)
