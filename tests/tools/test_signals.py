"""Metric anomaly detection, log pattern classification and change mapping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.builders import ONSET, T0, WINDOW, trail
from tools.bundle import CloudTrailRecord
from tools.changes import change_category, map_change
from tools.logs import ERROR_WORDS, _error, classify
from tools.metrics import detect_anomaly, harmful, metric_role
from tools.telemetry.base import LogPattern, MetricSeries


def series(
    values: list[float], metric: str = "Latency", unit: str = "Milliseconds"
) -> MetricSeries:
    start = T0 - timedelta(minutes=len(values) - 30)
    return MetricSeries(
        namespace="AWS/X",
        metric=metric,
        unit=unit,
        timestamps=[start + timedelta(minutes=i) for i in range(len(values))],
        values=values,
    )


def test_level_shift_detected_with_onset_and_direction() -> None:
    rng = np.random.default_rng(1)
    values = (
        list(100 + rng.normal(0, 3, 120))
        + list(100 + rng.normal(0, 3, 10))
        + list(300 + rng.normal(0, 3, 20))
    )
    a = detect_anomaly(series(values), WINDOW, 1800)
    assert a is not None
    assert a.direction == 1 and a.harmful and a.role == "latency"
    assert a.onset == ONSET
    assert a.change_pct is not None and 180 < a.change_pct < 220


def test_noise_and_single_spikes_are_not_anomalies() -> None:
    rng = np.random.default_rng(2)
    values = list(100 + rng.normal(0, 5, 150))
    assert detect_anomaly(series(values), WINDOW, 1800) is None
    values[-15] = 400  # one spike, then back to normal
    assert detect_anomaly(series(values), WINDOW, 1800) is None


def test_small_counts_on_a_zero_baseline_are_noise() -> None:
    values = [0.0] * 120 + [0, 1, 0, 2, 1, 0] * 5
    assert detect_anomaly(series(values, "Errors", "Count"), WINDOW, 1800) is None
    values = [0.0] * 120 + [0.0] * 10 + [30.0] * 20
    a = detect_anomaly(series(values, "Errors", "Count"), WINDOW, 1800)
    assert a is not None and a.z > 4


def test_traffic_drop_is_a_load_anomaly() -> None:
    values = [100.0] * 130 + [3.0] * 20
    a = detect_anomaly(series(values, "Invocations", "Count"), WINDOW, 1800)
    assert a is not None and a.direction == -1 and a.role == "load"


def test_insufficient_baseline() -> None:
    assert detect_anomaly(series([1.0] * 32), WINDOW, 60) is None


def test_metric_roles() -> None:
    assert metric_role("5XXError") == "errors"
    assert metric_role("ThrottledRequests") == "errors"
    assert metric_role("TargetResponseTime") == "latency"
    assert metric_role("PodSuccessRate(%)") == "availability"
    assert metric_role("CpuUsageRate(%)") == "saturation"
    assert metric_role("Invocations") == "load"
    assert harmful("availability", -1) and not harmful("latency", -1)


def test_log_pattern_classification() -> None:
    ratio = 1.0
    new = classify(
        LogPattern(template="ERROR connect ETIMEDOUT <*>", window_count=12, baseline_count=0), ratio
    )
    assert new.status == "new" and new.error
    surge = classify(
        LogPattern(template="WARN retry <*>", window_count=60, baseline_count=10), ratio
    )
    assert surge.status == "surge" and not surge.error
    drop = classify(
        LogPattern(template="order stored", window_count=2, baseline_count=100), ratio, traffic=0.05
    )
    assert drop.status == "drop"
    steady = classify(
        LogPattern(template="GET <*> 200", window_count=105, baseline_count=100), ratio
    )
    assert steady.status == "steady"
    redacted = classify(
        LogPattern(
            template="x", window_count=3, baseline_count=0, samples=["login password=hunter2"]
        ),
        ratio,
    )
    assert "hunter2" not in redacted.samples[0]


@pytest.mark.parametrize(
    "text",
    [
        "INFO Completed POST /orders status=200 in 18 ms",
        "WARN Upstream TIMED OUT after 3 s",
        "ERROR c.b.Payment#12 Unauthorised",
        "status 503 from checkout",
        "status 5030 is not a 5xx",
        "oOm killer",
        "\u212aILLED by the kernel (Kelvin sign)",
        "caf\u00e9 unavailable",
        "plain line",
    ],
)
def test_error_flag_equals_the_case_insensitive_regex(text: str) -> None:
    # the ASCII fast path is a speed-up only: the flag is what ERROR_WORDS finds
    pattern = LogPattern(template=text, window_count=1, baseline_count=0, bins=[1])
    assert _error(pattern) == bool(ERROR_WORDS.search(text + " "))


def test_change_mapping_by_whole_tokens_and_edges() -> None:
    record = CloudTrailRecord.from_raw(
        trail(
            "RevokeSecurityGroupIngress",
            ONSET - timedelta(minutes=5),
            {
                "groupId": "sg-0rvm",
                "ipPermissions": {"items": [{"groups": {"items": [{"groupId": "sg-0bff"}]}}]},
            },
            source="ec2.amazonaws.com",
        )
    )
    to_component = {"sg-0rvm": "rvm", "sg-0bff": "bff", "sg-0": "nobody"}
    to_edge = {"sg-0rvm": ("bff", "rvm")}
    change = map_change(record, to_component, to_edge, ONSET)
    assert change.components == ["bff", "rvm"]
    assert change.edges == [("bff", "rvm")]
    assert change.seconds_from_onset == -300
    assert change.category == "network_config"


def test_change_categories() -> None:
    assert change_category("UpdateFunctionCode20150331v2") == "deployment"
    assert change_category("ChangeResourceRecordSets") == "dns_routing"
    assert change_category("RotateSecret") == "credentials"
    assert change_category("UpdateTable") == "capacity"
    assert change_category("AuthorizeSecurityGroupIngress") == "network_config"
    assert change_category("DeleteCertificate") == "certificate"


def test_pressure_is_not_saturation() -> None:
    assert metric_role("ConcurrentExecutions") == "pressure"
    assert metric_role("DatabaseConnections") == "pressure"
    assert metric_role("MemoryUtilization") == "saturation"


def test_vanished_pattern_against_steady_traffic() -> None:
    gone = LogPattern(template="order stored", window_count=0, baseline_count=40)
    assert classify(gone, 1.0, traffic=1.0).status == "vanished"  # the rest kept logging
    assert classify(gone, 1.0, traffic=0.1).status == "drop"  # everything dropped: less traffic


def test_ranked_classification_equals_classifying_every_pattern_then_sorting() -> None:
    import random

    from tools.logs import _classify_ranked

    rng = random.Random(7)
    words = ["GET /x", "Timeout calling db", "user login ok", "ERROR failed", "cache hit"]
    patterns = [
        LogPattern(
            template=f"{rng.choice(words)} {i}",
            window_count=rng.choice([0, 0, 1, 3, 5, 12, 40]),
            baseline_count=rng.choice([0, 0, 2, 6, 20, 80]),
            bins=[0] * 6,
            samples=[rng.choice(words)],
        )
        for i in range(300)
    ]
    every = [classify(p, 0.5, WINDOW, 300, 1.2) for p in patterns]
    every.sort(key=lambda c: (c.status == "steady", not c.error, -abs(c.z)))
    assert _classify_ranked(patterns, 0.5, WINDOW, 300, 1.2, None) == every
    assert _classify_ranked(patterns, 0.5, WINDOW, 300, 1.2, 25) == every[:25]
    assert len({c.status for c in every[:25]}) > 1  # the prefix mixes kinds of change


def test_telemetry_writes_are_no_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a new execution environment opens a log stream in the component's log group minutes
    # before the onset: no candidate cause, and no test that dilutes the deployment's timing
    from agent.factory import open_bundle
    from tests.builders import write_chain_bundle
    from tools.changes import ChangesInput, changes

    ctx = open_bundle(write_chain_bundle(tmp_path / "b")).context
    stream = CloudTrailRecord.from_raw(
        trail(
            "CreateLogStream",
            ONSET - timedelta(minutes=1),
            {"logGroupName": "/aws/lambda/orders", "logStreamName": "2026/01/01/[$LATEST]ab"},
            source="logs.amazonaws.com",
            eid="9",
        )
    )
    real = ctx.backend.write_events
    monkeypatch.setattr(ctx.backend, "write_events", lambda window: [*real(window), stream])
    result = changes(ctx, ChangesInput(onset=ONSET))
    names = [c["event_name"] for c in result.data["changes"]]
    assert "CreateLogStream" not in names and "UpdateFunctionCode20150331v2" in names
    assert result.data["telemetry_writes"] == {"CreateLogStream": 2}
    deploy = [e for e in result.evidence if e.labels.get("event_name", "").startswith("Update")]
    assert {e.figures["changes_examined"] for e in deploy} == {float(len(names))}
