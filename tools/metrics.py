"""The ``metrics`` tool: per-component metric anomalies against a robust baseline, and alarms.

Method: for each series, the baseline is the lead-up before the window (``ctx.metric_lookback_s``);
its median and a robust scale give a z-score for every window point. The scale is the largest of
the scaled median absolute deviation (MAD x 1.4826, Rousseeuw & Croux 1993), the 10-90 percentile
range / 2.563 (so quantised or spiky baselines, such as latency percentiles that sit on one
histogram bucket, do not turn their usual excursions into anomalies), 5% of the median, and
sqrt(median + 1) for count metrics (Poisson noise).
A percent metric's scale is at least :data:`PERCENT_FLOOR` percentage point and a millicore
metric's 10 m (natural-unit floors, :func:`natural_floor`). The evidence of an anomaly is
``-log10 p`` of the one-sided normal tail of its robust z, Bonferroni-corrected over the
component's series (:mod:`tools.significance`); saturation (CPU, memory) is a component's *own*
evidence, every other role a *symptom* that can propagate along calls (``labels["scope"]``).
The onset is the first window point with |z| >= ``Z_THRESHOLD`` that starts a run of two
anomalous points (one when it is the last) and after which at least half of the remaining
points are anomalous in the same direction; size is the median of all points from the
onset on (a sustained level, so one excursion in a short window does not count as a shift).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from tools import significance
from tools.bundle import AlarmStateChange
from tools.context import ToolContext, ToolResult
from tools.models import Evidence, Model, TimeWindow, iso
from tools.redact import redact
from tools.telemetry.base import MetricSelector, MetricSeries

if TYPE_CHECKING:  # numpy and scipy.stats are imported on use: `rca --help`, the Lambdas skip them
    import numpy as np

Z_THRESHOLD = 4.0
ALARM_EVIDENCE = 3.0  # an alarm's threshold is designed as a rare exceedance: read as p = 0.001
PERCENT_FLOOR = 1.0  # percentage points: the natural-unit scale floor of a percent metric
ONSET_RUN = 2  # consecutive anomalous points that start an anomaly (a lone spike does not)
MIN_BASELINE_POINTS = 5
MAX_ANOMALIES_PER_COMPONENT = 6

_ROLE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "availability",
        re.compile(r"(success|healthy).*(rate|ratio|percent|%)|availab|healthyhost", re.I),
    ),
    ("errors", re.compile(r"error|fault|fail|5xx|4xx|exception|throttl|reject|denied", re.I)),
    (
        "latency",
        re.compile(r"latency|duration|responsetime|response_time|p9\d|p50|iteratorage", re.I),
    ),
    ("saturation", re.compile(r"cpu|memory|mem|disk|swap|gc|heap", re.I)),
    ("pressure", re.compile(r"connections|concurrent|queue|backlog|utiliz|inflight|pending", re.I)),
    (
        "load",
        re.compile(
            r"invocation|count|request|workload|ops|bytes|packets|consumed|throughput|"
            r"messages|publish|span|success",
            re.I,
        ),
    ),
]


def metric_role(metric: str) -> str:
    """Classify a metric name: availability, errors, latency, saturation, pressure, load, other.

    The role tells which direction is harmful: up for errors, latency, saturation and pressure,
    down for availability; load (traffic) anomalies matter in both directions. *Saturation*
    (CPU, memory) is a component's own resource; *pressure* (connections, concurrency, queues)
    builds up when a dependency slows down, so it propagates to callers.
    """
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(metric):
            return role
    return "other"


def _is_count(series: MetricSeries) -> bool:
    return series.unit.lower() == "count" or metric_role(series.metric) in ("errors", "load")


def harmful(role: str, direction: int) -> bool:
    """True when a move in ``direction`` (+1 up, -1 down) of a metric with ``role`` is bad.

    A metric of unknown role ("other", e.g. syscall counts) is reported but never called
    harmful: without knowing what it measures, its move is no evidence of a fault.
    """
    if role == "availability":
        return direction < 0
    if role == "load":
        return True
    if role == "other":
        return False
    return direction > 0


def natural_floor(series: MetricSeries) -> float:
    """The smallest scale a series' shifts are measured in, in its natural units: one
    percentage point for a percent metric, 10 millicores (1% of a core) for a Kubernetes
    millicore metric (name ending in ``(m)``); 0 otherwise. An idle pod's CPU moving 0.1% ->
    0.3% is not a shift, however steady it was before."""
    if series.unit == "Percent" or series.metric.endswith("(%)"):
        return PERCENT_FLOOR
    if series.metric.endswith("(m)"):
        return 10.0 * PERCENT_FLOOR
    return 0.0


class Anomaly(Model):
    """A sustained deviation of one series in the window from its baseline."""

    series: str
    role: str
    direction: int = Field(description="+1 up, -1 down")
    onset: datetime
    baseline_median: float
    window_median: float
    z: float = Field(description="robust z of the post-onset median, signed (uncapped)")
    change_pct: float | None = None
    harmful: bool
    sparse_baseline: bool = False
    evidence: float = Field(default=0.0, description="-log10 p (see test)")
    test: str = ""


def _periods(
    series: MetricSeries, window: TimeWindow, lookback_s: float, baseline: TimeWindow | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(epoch seconds, values, baseline mask, window mask) of a series: the baseline is the
    ``lookback_s`` before the window and, when given, ``baseline`` outside the window."""
    import numpy as np

    times = np.array([t.timestamp() for t in series.timestamps], dtype=float)
    values = np.array(series.values, dtype=float)
    start, end = window.start.timestamp(), window.end.timestamp()
    in_base = (times >= start - lookback_s) & (times < start)
    if baseline is not None:
        b_start, b_end = baseline.start.timestamp(), baseline.end.timestamp()
        in_base |= (times >= b_start) & (times < b_end) & ((times < start) | (times >= end))
    return times, values, in_base, (times >= start) & (times < end)


def detect_anomaly(
    series: MetricSeries,
    window: TimeWindow,
    lookback_s: float,
    baseline: TimeWindow | None = None,
) -> Anomaly | None:
    """The anomaly of ``series`` in ``window`` against the preceding ``lookback_s`` seconds and,
    when given, the declared ``baseline`` window too.

    With fewer than 5 baseline points (a *sparse* baseline, e.g. one fault-free reference minute)
    the scale is at least 25% of the baseline median, so only changes of 100% or more count.
    Returns None when the series is steady or has no baseline point.
    """
    import numpy as np

    times, values, in_base, in_window = _periods(series, window, lookback_s, baseline)
    base = values[in_base]
    win, win_times = values[in_window], times[in_window]
    base = base[np.isfinite(base)]
    finite = np.isfinite(win)
    win, win_times = win[finite], win_times[finite]
    if len(base) == 0 or len(win) == 0:
        return None
    sparse = len(base) < MIN_BASELINE_POINTS
    median = float(np.median(base))
    mad_scale = 1.4826 * float(np.median(np.abs(base - median)))
    p10, p90 = np.percentile(base, [10, 90])
    spread_scale = float(p90 - p10) / 2.563  # the 10-90 range of a normal is 2.563 sigma
    scale = max(mad_scale, spread_scale, (0.25 if sparse else 0.05) * abs(median), 1e-9)
    if _is_count(series):
        scale = max(scale, float(np.sqrt(abs(median) + 1.0)))
    scale = max(scale, natural_floor(series))
    z = (win - median) / scale
    flags = np.abs(z) >= Z_THRESHOLD
    for i in np.flatnonzero(flags):
        sign = 1 if z[i] > 0 else -1
        rest = z[i:] * sign >= Z_THRESHOLD
        run = min(ONSET_RUN, len(rest))
        if rest[:run].all() and rest.mean() >= 0.5:
            after = float(np.median(win[i:]))
            shift = (after - median) / scale
            role = metric_role(series.metric)
            strength, test = _evidence(role, shift, win[i:], base, sign)
            return Anomaly(
                series=series.label,
                role=role,
                direction=sign,
                onset=datetime.fromtimestamp(win_times[i], tz=window.start.tzinfo),
                baseline_median=round(median, 6),
                window_median=round(after, 6),
                z=round(float(shift), 2),
                change_pct=round(100 * (after - median) / abs(median), 1) if median else None,
                harmful=harmful(role, sign),
                sparse_baseline=sparse,
                evidence=strength,
                test=test,
            )
    return None


def _evidence(
    role: str, shift: float, after: np.ndarray, base: np.ndarray, sign: int
) -> tuple[float, str]:
    """-log10 p of a shift and the test used. A resource level (saturation: CPU, memory) is
    tested with the one-sided normal tail of its robust z (its scale has a natural-unit floor);
    every other role (latency percentiles, traffic, errors: heavy-tailed, with artefacts) with
    the one-sided Mann-Whitney U test of the post-onset points against the baseline points,
    which assumes nothing about the shape of the baseline distribution."""
    if role == "saturation":
        return significance.normal(shift), "one-sided normal tail of the robust z"
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    result = stats.mannwhitneyu(
        after, base, alternative="greater" if sign > 0 else "less", method="auto"
    )
    p = float(result.pvalue)
    value = -math.log10(p) if p > 0 else significance.normal(shift)
    return round(max(0.0, value), 3), "one-sided Mann-Whitney U vs the baseline points"


def pass_fail_scale(series: MetricSeries) -> float | None:
    """The full-scale value of a pass/fail series, or None when the series is not one.

    A pass/fail series records one run's outcome per point (a CloudWatch Synthetics canary's
    ``SuccessPercent`` is 100 or 0 per run; a health check's 1 or 0): every finite value is 0
    or the full scale (100 for a percent metric, else 1), and its role says which is a
    failure (availability: 0 fails; errors: full scale fails)."""
    role = metric_role(series.metric)
    if role not in ("availability", "errors"):
        return None
    full = 100.0 if natural_floor(series) == PERCENT_FLOOR else 1.0
    import numpy as np

    values = np.array(series.values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < MIN_BASELINE_POINTS or not np.isin(values, (0.0, full)).all():
        return None
    return full


def detect_proportion(
    series: MetricSeries,
    window: TimeWindow,
    lookback_s: float,
    baseline: TimeWindow | None = None,
) -> Anomaly | None:
    """A pass/fail series (:func:`pass_fail_scale`) failing more often in ``window`` than in
    its baseline (the ``lookback_s`` before the window and, when given, ``baseline``), as a
    proportion, not a level: a canary that fails on a minority of its runs keeps its median
    at 100% and shows no level shift.

    Test: from each failing run in the window as a candidate onset, the runs from the onset on
    hold ``k`` failures of ``n`` against ``k0`` of ``n0`` in the baseline; one-sided Fisher
    exact test (the two-proportion test exact for small counts: ``P(X >= k)`` with ``X``
    hypergeometric over the pooled runs), ``-log10 p`` Bonferroni-corrected over the candidate
    onsets. Returns None when the series is not pass/fail, has no baseline run, or does not
    fail significantly more often than its baseline (p >= 0.001 after the correction).
    """
    full = pass_fail_scale(series)
    if full is None:
        return None
    import numpy as np

    times, values, in_base, in_window = _periods(series, window, lookback_s, baseline)
    finite = np.isfinite(values)
    role = metric_role(series.metric)
    failing = values < full if role == "availability" else values > 0
    base_fail = failing[in_base & finite]
    win_fail, win_times = failing[in_window & finite], times[in_window & finite]
    n0, k0 = len(base_fail), int(base_fail.sum())
    onsets = np.flatnonzero(win_fail)
    if not n0 or not len(onsets):
        return None
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    best, best_i, best_kn = 0.0, -1, (0, 0)
    for i in onsets:
        k, n = int(win_fail[i:].sum()), len(win_fail) - int(i)
        if k / n <= k0 / n0:
            continue
        log_p = float(stats.hypergeom.logsf(k - 1, n + n0, k + k0, n))
        value = max(0.0, -log_p / math.log(10)) if math.isfinite(log_p) else 0.0
        if value > best:
            best, best_i, best_kn = value, int(i), (k, n)
    if best_i < 0:
        return None
    evidence = significance.bonferroni(best, len(onsets))
    if evidence < significance.SIGNIFICANT:  # as a level shift must pass Z_THRESHOLD
        return None
    k, n = best_kn
    ok_base = 100.0 * (1 - k0 / n0)
    ok_after = 100.0 * (1 - k / n)
    sign = -1 if role == "availability" else 1
    return Anomaly(
        series=series.label,
        role=role,
        direction=sign,
        onset=datetime.fromtimestamp(win_times[best_i], tz=window.start.tzinfo),
        baseline_median=round(ok_base if role == "availability" else 100 - ok_base, 3),
        window_median=round(ok_after if role == "availability" else 100 - ok_after, 3),
        z=round(sign * abs(significance_z(evidence)), 2),
        change_pct=None,
        harmful=True,
        sparse_baseline=n0 < MIN_BASELINE_POINTS,
        evidence=evidence,
        test=(
            f"one-sided Fisher exact two-proportion test of failing runs: {k} of {n} from the "
            f"onset vs {k0} of {n0} in the baseline (Bonferroni over {len(onsets)} onsets)"
        ),
    )


def significance_z(evidence: float) -> float:
    """The standard normal z whose one-sided tail is ``10 ** -evidence`` (for display)."""
    from scipy import stats  # on use: scipy.stats costs ~0.6 s of CPU to import

    return float(stats.norm.isf(min(0.5, 10.0**-evidence))) if evidence > 0 else 0.0


class MetricsInput(Model):
    """Arguments of the ``metrics`` tool."""

    components: list[str] = Field(min_length=1, max_length=30, description="element names or ids")
    window: TimeWindow | None = Field(default=None, description="default: the incident window")


def _anomaly_text(name: str, a: Anomaly, window: TimeWindow) -> str:
    verb = "rose" if a.direction > 0 else "dropped"
    pct = f" {abs(a.change_pct):.0f}%" if a.change_pct is not None else ""
    offset = (a.onset - window.start).total_seconds()
    return (
        f"{name}: {a.series} ({a.role}) {verb}{pct} from baseline median {a.baseline_median:g} "
        f"to {a.window_median:g} (robust z {a.z:+.1f}), onset {iso(a.onset)} "
        f"({offset:+.0f} s from window start)"
    )


def _merge(first: list[MetricSeries], second: list[MetricSeries]) -> list[MetricSeries]:
    """Series of two time ranges joined per label, in time order."""
    merged = {s.label: s.model_copy() for s in first}  # lists are replaced, never changed
    for s in second:
        if s.label not in merged:
            merged[s.label] = s
            continue
        target = merged[s.label]
        points = sorted(
            {
                **dict(zip(target.timestamps, target.values, strict=True)),
                **dict(zip(s.timestamps, s.values, strict=True)),
            }.items()
        )
        target.timestamps = [t for t, _ in points]
        target.values = [v for _, v in points]
    return list(merged.values())


def _alarm_matches(alarm: AlarmStateChange, selectors: list[MetricSelector]) -> bool:
    return bool(alarm.namespace and alarm.metric) and any(
        s.matches(alarm.namespace or "", alarm.metric or "", alarm.dimensions) for s in selectors
    )


def metrics(ctx: ToolContext, args: MetricsInput) -> ToolResult:
    """Anomalies of every metric mapped to each component, and alarms that fired in the window.

    ``data.components`` maps component id -> ``{"series": n, "anomalies": [Anomaly...],
    "alarms": [...]}``. Components without mapped metrics are listed in ``data.unmapped``.

    Raises:
        UnknownComponentError: a component does not resolve.
    """
    window = args.window or ctx.window
    arch = ctx.architecture
    history = window.extend(before_s=ctx.metric_lookback_s)
    alarms = [a for a in ctx.backend.alarm_history(window) if a.new_state == "ALARM"]
    evidence: list[Evidence] = []
    per_component: dict[str, dict[str, object]] = {}
    unmapped: list[str] = []
    lines: list[str] = []
    gaps: list[str] = []
    broken: dict[str, list[str]] = {}
    for ref in args.components:
        element = arch.get(ref)
        tele = arch.telemetry(element.id)
        if not tele.metrics:
            unmapped.append(element.name)
            continue
        series = ctx.backend.metric_series(tele.metrics, history)
        if args.window is None and not history.contains(ctx.baseline.start):
            series = _merge(series, ctx.backend.metric_series(tele.metrics, ctx.baseline))
        skipped = [s for s in series if s.label in ctx.broken_series]
        series = [s for s in series if s.label not in ctx.broken_series]
        for s in skipped:
            broken.setdefault(s.metric, []).append(element.name)
        reference = ctx.baseline if args.window is None else None
        found = [
            a
            for s in series
            if (
                a := (
                    detect_proportion(s, window, ctx.metric_lookback_s, reference)
                    if pass_fail_scale(s) is not None
                    else detect_anomaly(s, window, ctx.metric_lookback_s, reference)
                )
            )
        ]
        found.sort(key=lambda a: (not a.harmful, -abs(a.z)))
        fired = [a for a in alarms if _alarm_matches(a, tele.metrics)]
        searched = (
            f"{len(series)} series of {len(tele.metrics)} selectors "
            f"({', '.join(sorted({s.namespace for s in tele.metrics}))}); window {window.label()}; "
            f"baseline: {ctx.metric_lookback_s / 60:.0f} min before"
            + (f" and {ctx.baseline.label()}" if args.window is None else "")
        )
        for a in found[:MAX_ANOMALIES_PER_COMPONENT]:
            text = _anomaly_text(element.name, a, window)
            lines.append(text)
            evidence.append(
                ctx.ledger.add(
                    tool="metrics",
                    kind="metric_anomaly",
                    component=element.id,
                    summary=text,
                    searched=searched,
                    window=window,
                    time=a.onset,
                    figures={
                        "z": a.z,
                        "evidence": significance.bonferroni(a.evidence, max(1, len(series))),
                        "baseline_median": a.baseline_median,
                        "window_median": a.window_median,
                        "onset_offset_s": (a.onset - window.start).total_seconds(),
                        **({"change_pct": a.change_pct} if a.change_pct is not None else {}),
                    },
                    labels={
                        "series": a.series,
                        "role": a.role,
                        "direction": "up" if a.direction > 0 else "down",
                        "harmful": str(a.harmful).lower(),
                        "baseline": "sparse" if a.sparse_baseline else "lead-up",
                        "test": f"{a.test} (Bonferroni over {len(series)} series)",
                        "scope": "own" if a.role == "saturation" else "symptom",
                    },
                )
            )
        for alarm in fired:
            text = (
                f"{element.name}: alarm {alarm.alarm_name} {alarm.old_state} -> ALARM at "
                f"{iso(alarm.timestamp)}: {redact(alarm.reason)[:200]}"
            )
            lines.append(text)
            evidence.append(
                ctx.ledger.add(
                    tool="metrics",
                    kind="alarm",
                    component=element.id,
                    summary=text,
                    searched=f"alarm history in {window.label()}",
                    window=window,
                    time=alarm.timestamp,
                    figures={"evidence": ALARM_EVIDENCE},
                    labels={
                        "alarm": alarm.alarm_name,
                        "role": metric_role(alarm.metric or ""),
                        "test": "the alarm's own threshold, taken as p = 0.001",
                        "scope": "symptom",
                    },
                )
            )
        if not found and not fired:
            text = f"{element.name}: {len(series)} series steady, no alarm fired"
            if not series:
                text = f"{element.name}: no datapoints for its {len(tele.metrics)} metric selectors"
            lines.append(text)
            evidence.append(
                ctx.ledger.add(
                    tool="metrics",
                    kind="metric_steady" if series else "no_data",
                    component=element.id,
                    summary=text,
                    searched=searched,
                    window=window,
                    figures={"series": float(len(series))},
                )
            )
        per_component[element.id] = {
            "series": len(series),
            "anomalies": [a.model_dump(mode="json") for a in found],
            "alarms": [a.model_dump(mode="json") for a in fired],
        }
    if unmapped:
        lines.append("No metrics mapped (rca.metrics) for: " + ", ".join(unmapped))
    for metric, names in sorted(broken.items()):
        gaps.append(
            f"{metric} not checked on {len(names)} component(s) ({', '.join(names[:4])}"
            + (", ..." if len(names) > 4 else "")
            + "): known to be broken at the source"
        )
    has_signal = any(e.kind in ("metric_anomaly", "alarm") for e in evidence)
    return ToolResult(
        tool="metrics",
        status="ok" if has_signal else "no_data",
        params=args.model_dump(mode="json", exclude_none=True),
        summary="\n".join(lines),
        evidence=evidence,
        data={
            "components": per_component,
            "unmapped": unmapped,
            "window": window.label(),
            "gaps": gaps + ([f"no metrics mapped for {', '.join(unmapped)}"] if unmapped else []),
        },
    )
