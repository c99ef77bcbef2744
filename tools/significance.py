"""One evidence scale for every detector: ``-log10 p`` under an explicit null model.

Every detector (metrics, logs, traces, changes) reports the strength of what it found as
``evidence = -log10 p`` (in ``Evidence.figures["evidence"]``), with the test named in
``Evidence.labels["test"]``. Large values are strong evidence; :data:`SIGNIFICANT` (p = 0.001) is
the level below which an answer says there is no significant evidence.

Tests (scipy.stats; the tail probabilities are computed in log space, so very small p values do
not underflow to 0; where even the log tail underflows the Chernoff bound
``n * KL(k/n || p0)`` is used, which is tight on the log scale):

- :func:`binomial`: ``k`` or more of ``n`` trials when each succeeds with ``p0`` (edge
  exceedances, span behaviour irregularities);
- :func:`poisson`: ``k`` or more events when ``lam`` are expected (log template counts);
- :func:`normal`: a one-sided standard normal tail of a robust z (metric level shifts);
- :func:`bonferroni`: the family-wise correction for the strongest of ``m`` tests.
"""

from __future__ import annotations

import math

from scipy import stats

SIGNIFICANT = 3.0
"""-log10 of the significance level (p = 0.001)."""
LN10 = math.log(10.0)


def _from_log(log_p: float) -> float:
    return max(0.0, -log_p / LN10)


def _kl(q: float, p: float) -> float:
    q = min(max(q, 1e-12), 1 - 1e-12)
    p = min(max(p, 1e-12), 1 - 1e-12)
    return q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))


def binomial(k: int, n: int, p0: float) -> float:
    """-log10 P(X >= k) for X ~ Binomial(n, p0); 0 when ``k <= n * p0`` (no excess)."""
    if n <= 0 or k <= 0 or k <= n * p0:
        return 0.0
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    log_p = float(stats.binom.logsf(k - 1, n, p0))
    if not math.isfinite(log_p):
        log_p = -n * _kl(k / n, p0)
    return round(_from_log(log_p), 3)


def poisson(k: int, lam: float) -> float:
    """-log10 P(X >= k) for X ~ Poisson(lam); 0 when ``k <= lam``."""
    if k <= 0 or k <= lam:
        return 0.0
    lam = max(lam, 1e-9)
    log_p = float(stats.poisson.logsf(k - 1, lam))
    if not math.isfinite(log_p):
        log_p = -(k * math.log(k / lam) - k + lam)  # Chernoff bound of the Poisson tail
    return round(_from_log(log_p), 3)


def normal(z: float) -> float:
    """-log10 P(Z >= |z|) for a standard normal Z (one-sided; the caller chose the direction)."""
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
    statistic = 2 * LN10 * sum(values)
    dof = 2 * len(values)
    log_p = float(stats.chi2.logsf(statistic, dof))
    if not math.isfinite(log_p):  # leading term of the chi-square tail (even dof)
        half = statistic / 2
        log_p = -half + (dof / 2 - 1) * math.log(half) - math.lgamma(dof / 2)
    return round(_from_log(log_p), 3)
