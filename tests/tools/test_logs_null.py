"""The logs tool's null model: template counts per time bin, overdispersed when bursty."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from scipy import stats

from tests.builders import WINDOW
from tools import significance
from tools.bundle import Bundle, BundleWriter, IncidentSpec, LogRecord
from tools.logs import classify
from tools.telemetry.base import LogPattern

# 20 reference bins holding 60 lines: three bursts of retries, nothing in between (mean 3)
BURSTY = [0, 0, 20, 0, 0, 0, 0, 0, 25, 0, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0]
EVEN = [3, 2, 4, 3, 3, 2, 4, 3, 3, 4, 2, 3, 3, 3, 2, 4, 3, 3, 3, 3]
RATIO = 0.5  # the window is half as long as the references: 30 lines expected


def pattern(k: int, baseline_bins: list[int]) -> LogPattern:
    return LogPattern(
        template="WARN retry <*>",
        window_count=k,
        baseline_count=60,
        baseline_bins=baseline_bins,
    )


def test_index_of_dispersion_is_the_variance_to_mean_ratio() -> None:
    mean = sum(BURSTY) / len(BURSTY)
    variance = sum((b - mean) ** 2 for b in BURSTY) / (len(BURSTY) - 1)
    assert significance.index_of_dispersion(BURSTY) == pytest.approx(variance / mean)
    assert significance.index_of_dispersion(BURSTY) > 10
    # not overdispersed, too few bins, no events: the Poisson
    assert significance.index_of_dispersion(EVEN) == 1.0
    assert significance.index_of_dispersion(BURSTY[:7]) == 1.0
    assert significance.index_of_dispersion([0] * 20) == 1.0


def test_negative_binomial_matches_scipy_and_falls_back_to_poisson() -> None:
    mean, phi = 30.0, 4.0
    want = -float(stats.nbinom.logsf(74, mean / (phi - 1), 1 / phi)) / significance.LN10
    assert significance.negative_binomial(75, mean, phi) == pytest.approx(want, abs=1e-3)
    low = -float(stats.nbinom.logcdf(1, mean / (phi - 1), 1 / phi)) / significance.LN10
    assert significance.negative_binomial(1, mean, phi, lower=True) == pytest.approx(low, abs=1e-3)
    assert significance.negative_binomial(75, mean, 1.0) == significance.poisson(75, mean)
    assert significance.negative_binomial(75, mean, phi) < significance.poisson(75, mean)
    assert significance.negative_binomial(20, mean, phi) == 0.0  # below the mean: no excess
    assert significance.negative_binomial(40, mean, phi, lower=True) == 0.0
    assert significance.negative_binomial(10**6, 1.0, 50.0) > 100  # no underflow to 0


def test_a_bursty_baseline_does_not_flag_an_ordinary_burst() -> None:
    """75 lines where 30 are expected: a surge against independent lines (Poisson), but one
    burst of a template whose baseline bins hold bursts of 15 to 25 lines is ordinary."""
    assert classify(pattern(75, []), RATIO).status == "surge"  # no bins: Poisson
    assert classify(pattern(75, EVEN), RATIO).status == "surge"  # even bins: Poisson
    bursty = classify(pattern(75, BURSTY), RATIO)
    assert bursty.status == "steady" and bursty.evidence == 0.0
    assert bursty.dispersion == pytest.approx(significance.index_of_dispersion(BURSTY), abs=0.01)


def test_a_real_surge_of_a_bursty_template_still_flags() -> None:
    surge = classify(pattern(600, BURSTY), RATIO)
    assert surge.status == "surge" and surge.z >= 4
    assert surge.evidence >= significance.SIGNIFICANT
    assert surge.evidence < classify(pattern(600, []), RATIO).evidence  # but less than Poisson


def test_poisson_fallback_without_enough_overdispersed_bins() -> None:
    lam = 61 * RATIO  # the add-one expected count
    for bins in ([], EVEN, BURSTY[:7]):
        change = classify(pattern(75, bins), RATIO)
        assert change.dispersion == 1.0
        assert change.evidence == significance.poisson(75, lam)
        assert change.z == round((75 - 30) / (30 + 1) ** 0.5, 2)


def test_drops_are_tested_against_the_same_null() -> None:
    gone = classify(pattern(2, BURSTY), 1.0)
    assert gone.status in ("drop", "vanished")
    assert 0 < gone.evidence < classify(pattern(2, []), 1.0).evidence


def test_bundle_backend_counts_whole_reference_bins(tmp_path: Path) -> None:
    """Reference bins are whole bins of each reference, from its own start, concatenated;
    a bursty template's bursts show in them and the tool does not call its burst a surge."""
    writer = BundleWriter(tmp_path / "b")
    first, second = WINDOW.previous(), WINDOW.previous().previous()

    def line(when, key: str) -> None:
        writer.add_log(
            "/ecs/cart",
            LogRecord(timestamp=when, message=f"{when:%H:%M:%S} WARN retry", event_key=key),
        )

    for ref in (first, second):  # a burst of 12 lines every 10 minutes
        for minute in range(0, 30, 10):
            for i in range(12):
                line(ref.start + timedelta(minutes=minute, seconds=i), "retry#1")
    for i in range(30):  # the window: one burst of 30 (expected 36 over 30 minutes)
        line(WINDOW.start + timedelta(minutes=4, seconds=i), "retry#1")
    root = writer.write(IncidentSpec(id="burst", description="cart", window=WINDOW), {})
    from tools.telemetry.bundle import BundleBackend

    result = BundleBackend(Bundle(root)).reference_log_patterns(
        ["/ecs/cart"], WINDOW, [first, second], 60
    )
    (retry,) = result.patterns
    assert len(retry.baseline_bins) == 60 and sum(retry.baseline_bins) == 72
    assert retry.baseline_bins[:11] == [12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12]
    assert retry.baseline_bins[30] == 12  # the second reference starts its own bins
    assert classify(retry, WINDOW.seconds / result.baseline_seconds).dispersion > 5


def test_reference_bins_are_the_widest_that_leave_enough_bins() -> None:
    from tools.telemetry.base import reference_bin_seconds

    def refs(*seconds: int) -> list:
        return [WINDOW.previous().extend(before_s=s - WINDOW.seconds) for s in seconds]

    assert reference_bin_seconds(refs(1800), 60) == 60  # 30 whole minutes
    assert reference_bin_seconds(refs(100, 83, 59), 60) == 15  # 6 + 5 + 3 quarter minutes
    assert reference_bin_seconds(refs(300), 300) == 30  # never wider than the window's bins
    assert reference_bin_seconds(refs(20), 60) == 5  # too short: the smallest, Poisson then
