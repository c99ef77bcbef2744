"""Pass/fail series (a canary's SuccessPercent): a proportion test, not a level shift."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from tests.builders import ONSET, T0, WINDOW
from tools import significance
from tools.metrics import detect_anomaly, detect_proportion, pass_fail_scale
from tools.telemetry.base import MetricSeries


def canary(fails: list[bool], metric: str = "SuccessPercent") -> MetricSeries:
    """One run per minute; the window is the last 30 points."""
    start = T0 - timedelta(minutes=len(fails) - 30)
    return MetricSeries(
        namespace="CloudWatchSynthetics",
        metric=metric,
        unit="Percent",
        timestamps=[start + timedelta(minutes=i) for i in range(len(fails))],
        values=[0.0 if f else 100.0 for f in fails],
    )


def test_a_canary_failing_on_a_minority_of_runs_is_significant() -> None:
    """360 baseline runs with 3 failures; from the onset (10 min into the window) 6 of 20 runs
    fail: the median stays 100% (no level shift), the proportion test finds it."""
    rng = np.random.default_rng(5)
    base = [bool(x) for x in rng.random(360) < 3 / 360]
    before = [False] * 10
    after = [i % 10 in (0, 3, 7) for i in range(20)]
    series = canary(base + before + after)
    assert pass_fail_scale(series) == 100.0
    assert detect_anomaly(series, WINDOW, 6 * 3600) is None
    found = detect_proportion(series, WINDOW, 6 * 3600)
    assert found is not None and found.harmful and found.direction == -1
    assert found.evidence >= significance.SIGNIFICANT
    assert found.onset == ONSET
    assert found.role == "availability"


def test_a_canary_failing_as_often_as_in_its_baseline_is_not() -> None:
    rng = np.random.default_rng(6)
    fails = [bool(x) for x in rng.random(390) < 0.05]
    found = detect_proportion(canary(fails), WINDOW, 6 * 3600)
    assert found is None or found.evidence < significance.SIGNIFICANT


def test_only_zero_or_full_scale_series_are_pass_fail() -> None:
    level = canary([False] * 60)
    level.values[-1] = 97.5  # a success rate over many requests is a level, not a run
    assert pass_fail_scale(level) is None
    latency = canary([False] * 60, metric="Duration")
    assert pass_fail_scale(latency) is None
