"""The logs tool's per-template null on AWS: the most changed patterns' per-bin query also runs
over the baseline (exact StartQuery request), its rows fill ``LogPattern.baseline_bins`` at the
bundle backend's reference bin width, an ordinary burst of a bursty template is no longer a surge
(the same verdict as through the bundle backend), and a failing baseline query degrades only
that part."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.aws.conftest import client
from tests.builders import WINDOW, chain_workspace
from tools import significance
from tools.aws.logs_insights import DIFF_QUERY, bins_query, epoch_seconds
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle, BundleWriter, IncidentSpec, LogRecord
from tools.c4 import ArchitectureModel
from tools.context import ToolContext
from tools.logs import LogsInput, classify, logs
from tools.telemetry.aws import AwsBackend, _baseline_bin_plan
from tools.telemetry.base import reference_bin_seconds
from tools.telemetry.bundle import BundleBackend

GROUP = "/aws/lambda/orders"
BASELINE = WINDOW.previous()
BIN_S = 120  # the logs tool's bin for a 30-minute window: a twelfth, in whole minutes
RETRY = "WARN retry <*> upstream busy"
LITERAL = "upstream busy"  # the pattern's longest fixed text
# per 2-minute bin of the baseline: three bursts of retries, nothing in between (60 lines)
BURSTS = {2: 20, 7: 25, 12: 15}
BASELINE_BINS = [BURSTS.get(i, 0) for i in range(15)]
# the window: four bursts of 30 (120 lines where 60 are expected: a surge for a Poisson count)
WINDOW_BURSTS = {3: 30, 11: 30, 19: 30, 26: 30}  # minute of the window -> lines


def _fmt(when) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.000")


def _rows(*dicts: dict[str, str]) -> list[list[dict[str, str]]]:
    return [[{"field": k, "value": v} for k, v in d.items()] for d in dicts]


def _architecture(tmp_path: Path) -> ArchitectureModel:
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(chain_workspace()))
    return ArchitectureModel.load(path)


def _stub_insights(stub: Stubber, *, baseline_fails: bool = False) -> dict[str, Any]:
    """The three queries of one chunk, in order: diff, window bins, baseline bins."""
    t0, t1 = epoch_seconds(WINDOW.start, WINDOW.end)
    stub.add_response(
        "start_query",
        {"queryId": "q-diff"},
        {"logGroupNames": [GROUP], "startTime": t0, "endTime": t1, "queryString": DIFF_QUERY},
    )
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": _rows(
                {"@pattern": RETRY, "@sampleCount": "120", "@previousCount": "60"},
                # no fixed text of 4 characters: no per-bin counts, the Poisson null
                {"@pattern": "GET <*> 200", "@sampleCount": "600", "@previousCount": "600"},
            ),
            "statistics": {"recordsMatched": 1380.0, "recordsScanned": 1380.0, "bytesScanned": 9e4},
        },
        {"queryId": "q-diff"},
    )
    stub.add_response(
        "start_query",
        {"queryId": "q-bins"},
        {
            "logGroupNames": [GROUP],
            "startTime": t0,
            "endTime": t1,
            "queryString": bins_query([LITERAL], 60),
            "limit": 10_000,
        },
    )
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": _rows(
                *(
                    {
                        "rca_pid": "1",
                        "bin(1m)": _fmt(WINDOW.start + timedelta(minutes=m)),
                        "rca_n": str(n),
                        "rca_first": _fmt(WINDOW.start + timedelta(minutes=m)),
                        "rca_sample": "WARN retry 7 upstream busy",
                    }
                    for m, n in WINDOW_BURSTS.items()
                )
            ),
        },
        {"queryId": "q-bins"},
    )
    b0, b1 = epoch_seconds(BASELINE.start, BASELINE.end)
    baseline_request = {
        "logGroupNames": [GROUP],
        "startTime": b0,
        "endTime": b1,
        "queryString": bins_query([LITERAL], BIN_S),  # bin(2m): the reference bins themselves
        "limit": 10_000,
    }
    if baseline_fails:
        stub.add_client_error(
            "start_query",
            "MalformedQueryException",
            "unexpected symbol",
            expected_params=baseline_request,
        )
        return baseline_request
    stub.add_response("start_query", {"queryId": "q-base"}, baseline_request)
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": _rows(
                *(
                    {
                        "rca_pid": "1",
                        "bin(2m)": _fmt(BASELINE.start + timedelta(seconds=BIN_S * i)),
                        "rca_n": str(n),
                        "rca_first": _fmt(BASELINE.start + timedelta(seconds=BIN_S * i)),
                        "rca_sample": "WARN retry 3 upstream busy",
                    }
                    for i, n in BURSTS.items()
                )
            ),
            "statistics": {"recordsMatched": 60.0, "recordsScanned": 700.0, "bytesScanned": 4e4},
        },
        {"queryId": "q-base"},
    )
    return baseline_request


def _write_bursts(writer: BundleWriter) -> BundleWriter:
    """The retry lines of :data:`BURSTS` (baseline) and :data:`WINDOW_BURSTS` (window)."""
    for start, bursts, width in (
        (BASELINE.start, BURSTS, BIN_S),
        (WINDOW.start, WINDOW_BURSTS, 60),
    ):
        for at, n in bursts.items():
            for j in range(n):
                when = start + timedelta(seconds=width * at + j)
                writer.add_log(
                    GROUP, LogRecord(timestamp=when, message=f"WARN retry {j} upstream busy")
                )
    return writer


def _aws(tmp_path: Path, logs_client: Any) -> AwsBackend:
    return AwsBackend(
        _architecture(tmp_path), lambda service, location: logs_client, sleep=lambda _: None
    )


def test_the_baseline_per_bin_query_is_sent_and_fills_baseline_bins(tmp_path: Path) -> None:
    logs_client = client("logs")
    stub = Stubber(logs_client)
    request = _stub_insights(stub)
    assert request["startTime"] == int(BASELINE.start.timestamp())
    assert request["endTime"] == int(BASELINE.end.timestamp()) - 1  # inclusive seconds
    with stub:
        got = _aws(tmp_path, logs_client).log_patterns([GROUP], WINDOW, BASELINE, BIN_S)
        stub.assert_no_pending_responses()
    retry = next(p for p in got.patterns if p.template == RETRY)
    steady = next(p for p in got.patterns if p.template == "GET <*> 200")
    assert reference_bin_seconds([BASELINE], BIN_S) == got.baseline_bin_seconds == BIN_S
    assert retry.baseline_bins == BASELINE_BINS
    assert retry.bins == [0, 30, 0, 0, 0, 30, 0, 0, 0, 30, 0, 0, 0, 30, 0]
    assert steady.baseline_bins == [] and steady.bins == [0] * 15  # no literal: Poisson
    assert not got.partial and "DEGRADED" not in got.query
    assert "per 120 s bin of the baseline" in got.query
    assert got.bytes_scanned == int(9e4 + 4e4)  # the baseline query's bytes are counted


def test_an_ordinary_burst_is_not_a_surge_on_aws_as_on_bundles(tmp_path: Path) -> None:
    """Without reference bins (the AWS backend before) the burst is a significant surge under
    the Poisson null; with them it is steady, the same verdict and dispersion as through the
    bundle backend on the same lines."""
    logs_client = client("logs")
    stub = Stubber(logs_client)
    _stub_insights(stub)
    with stub:
        got = _aws(tmp_path, logs_client).log_patterns([GROUP], WINDOW, BASELINE, BIN_S)
    retry = next(p for p in got.patterns if p.template == RETRY)
    ratio = WINDOW.seconds / BASELINE.seconds
    poisson = classify(retry.model_copy(update={"baseline_bins": []}), ratio, WINDOW, BIN_S)
    assert poisson.status == "surge" and poisson.evidence >= significance.SIGNIFICANT
    on_aws = classify(retry, ratio, WINDOW, BIN_S)
    assert on_aws.status == "steady" and on_aws.evidence == 0.0
    phi = significance.index_of_dispersion(BASELINE_BINS)
    assert phi > 10 and on_aws.dispersion == pytest.approx(phi, abs=0.01)

    # the same lines in a bundle: the bundle backend's verdict and dispersion are the same
    writer = _write_bursts(BundleWriter(tmp_path / "bundle"))
    root = writer.write(IncidentSpec(id="burst", description="orders", window=WINDOW), {})
    mined = BundleBackend(Bundle(root)).log_patterns([GROUP], WINDOW, BASELINE, BIN_S)
    (bundle_retry,) = mined.patterns
    assert mined.baseline_bin_seconds == got.baseline_bin_seconds
    assert bundle_retry.baseline_bins == retry.baseline_bins
    on_bundle = classify(bundle_retry, ratio, WINDOW, BIN_S)
    assert (on_bundle.status, on_bundle.evidence, on_bundle.dispersion) == (
        on_aws.status,
        on_aws.evidence,
        on_aws.dispersion,
    )


def test_the_logs_tool_gives_the_same_verdict_through_both_backends(tmp_path: Path) -> None:
    """End to end: the logs tool on one bundle, served by the bundle backend and by the AWS
    backend over replayed Logs Insights answers, finds no significant change in the burst."""
    writer = BundleWriter(tmp_path / "bundle")
    for period in (BASELINE, WINDOW):
        for minute in range(30):  # a steady template besides the bursty one
            for s in (0, 20, 40):
                when = period.start + timedelta(minutes=minute, seconds=s)
                writer.add_log(GROUP, LogRecord(timestamp=when, message=f"order {s} stored"))
    _write_bursts(writer)
    root = writer.write(
        IncidentSpec(id="burst", description="orders", window=WINDOW), chain_workspace()
    )
    bundle = Bundle(root)
    arch = ArchitectureModel.load(bundle.workspace_path)
    verdicts = {}
    for name, backend in (
        ("bundle", BundleBackend(bundle)),
        ("aws", AwsBackend(arch, ReplayClients(bundle), sleep=lambda _: None)),
    ):
        ctx = ToolContext(architecture=arch, backend=backend, window=WINDOW, baseline=BASELINE)
        result = logs(ctx, LogsInput(components=["Orders API"]))
        (component,) = result.data["components"].values()
        retry = next(c for c in component["changes"] if "retry" in c["template"])
        verdicts[name] = (retry["status"], retry["evidence"], retry["dispersion"])
        assert not any(e.kind == "log_pattern" for e in result.evidence), name
    assert verdicts["aws"] == verdicts["bundle"] and verdicts["aws"][0] == "steady"


def test_a_failing_baseline_query_degrades_only_that_part(tmp_path: Path) -> None:
    logs_client = client("logs")
    stub = Stubber(logs_client)
    _stub_insights(stub, baseline_fails=True)
    with stub:
        got = _aws(tmp_path, logs_client).log_patterns([GROUP], WINDOW, BASELINE, BIN_S)
        stub.assert_no_pending_responses()
    retry = next(p for p in got.patterns if p.template == RETRY)
    # the patterns, counts, window bins, first occurrence and samples are all there
    assert (retry.window_count, retry.baseline_count) == (120, 60)
    assert retry.bins == [0, 30, 0, 0, 0, 30, 0, 0, 0, 30, 0, 0, 0, 30, 0]
    assert retry.first_seen == WINDOW.start + timedelta(minutes=3)
    assert retry.samples == ["WARN retry 7 upstream busy"]
    assert got.window_records == 720 and got.baseline_records == 660
    # only the reference bins are missing (the Poisson null), and the result says so
    assert retry.baseline_bins == [] and got.baseline_bin_seconds is None
    assert got.partial and "DEGRADED: baseline per-bin counts failed" in got.query
    assert got.query.count("per-bin counts failed") == 1  # the window's query answered


def test_baseline_bin_plan() -> None:
    """The bundle backend's width; query bins on the baseline's own grid; long baselines in
    wider multiples of it that stay within 1,200 bins a pattern (10,000 rows for 8)."""
    assert _baseline_bin_plan(BASELINE, BIN_S) == (120, 120)
    assert _baseline_bin_plan(BASELINE, 300) == (60, 60)  # 6 bins of 300 s are too few
    odd = BASELINE.model_copy(update={"start": BASELINE.start + timedelta(seconds=60)})
    assert _baseline_bin_plan(odd, BIN_S) == (120, 60)  # starts on the minute, not on 2 min
    week = BASELINE.extend(before_s=7 * 86400)
    width, query = _baseline_bin_plan(week, 300)
    assert width % 300 == 0 and week.seconds / width <= 1200 and query == width
    assert reference_bin_seconds([week], 300) == 300 < width
