"""Logs Insights limits (10,000-character queries, StopQuery on every abnormal exit, bin() in
minutes, a failing query degrades only its part) and cross-account observability without roles
(log groups by ARN, AccountId on metric queries, IncludeLinkedAccounts/OwningAccount)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.aws.conftest import client
from tests.builders import WINDOW
from tools.aws.cloudwatch import CloudWatchMetrics, MetricId
from tools.aws.errors import AccessDeniedError, QueryError
from tools.aws.logs_insights import (
    MAX_LITERAL_CHARS,
    MAX_QUERY_CHARS,
    LogsInsights,
    bin_expr,
    bins_query,
    epoch_seconds,
    literal_of,
)
from tools.aws.replay import ReplayClients, ReplayLogs, client_error
from tools.aws.session import Location
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.telemetry.aws import AwsBackend, _query_bin

START = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
SOURCE = "444455556666"


class Capture:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        self.values.append(other)
        return True

    __hash__ = None  # type: ignore[assignment]


def insights(logs: Any) -> LogsInsights:
    return LogsInsights(
        logs,
        location=Location("111122223333", "eu-central-1"),
        sleep=lambda _: None,
        slots=threading.BoundedSemaphore(2),
    )


def test_long_literals_are_cut_and_a_large_set_is_split_under_10000_characters():
    templates = [f"ERROR {chr(65 + i)} " + chr(97 + i) * 3000 + " <*>" for i in range(8)]
    literals = [literal_of(t) for t in templates]
    assert all(lit is not None and len(lit) == MAX_LITERAL_CHARS for lit in literals)
    whole = bins_query([lit for lit in literals if lit], 60)
    assert len(whole) > MAX_QUERY_CHARS  # one query for all eight would be refused
    logs = client("logs")
    sent = Capture()
    stub = Stubber(logs)
    for n in range(2):
        stub.add_response(
            "start_query",
            {"queryId": f"q{n}"},
            {
                "logGroupNames": ["/aws/lambda/a"],
                "startTime": ANY,
                "endTime": ANY,
                "queryString": sent,
                "limit": 10_000,
            },
        )
        stub.add_response(
            "get_query_results",
            {
                "status": "Complete",
                "results": [
                    [
                        {"field": "rca_pid", "value": "1"},
                        {"field": "bin(1m)", "value": "2026-03-17 16:05:00.000"},
                        {"field": "rca_n", "value": str(10 + n)},
                    ]
                ],
            },
            {"queryId": f"q{n}"},
        )
    with stub:
        bins, result = insights(logs).pattern_bins(["/aws/lambda/a"], START, END, templates)
        stub.assert_no_pending_responses()
    assert len(sent.values) == 2 and all(len(q) <= MAX_QUERY_CHARS for q in sent.values)
    assert sum(q.count("strcontains") for q in sent.values) == 8
    # pattern ids are per query: the first pattern of each batch got its own counts
    counted = {t: sum(b.counts.values()) for t, b in bins.items() if b.counts}
    assert sorted(counted.values()) == [10, 11]
    assert result is not None and result.query_id == "q0,q1"


def test_a_query_over_the_limit_is_never_sent():
    logs = client("logs")
    with Stubber(logs), pytest.raises(QueryError, match="10000-character limit"):
        insights(logs).run("fields @message | filter " + "x" * MAX_QUERY_CHARS, ["g"], START, END)


def test_stop_query_when_polling_fails():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q-9"})
    stub.add_client_error("get_query_results", "AccessDeniedException", "no")
    stub.add_response("stop_query", {"success": True}, {"queryId": "q-9"})
    with stub, pytest.raises(AccessDeniedError):
        insights(logs).run("pattern @message", ["g"], START, END)
    stub.assert_no_pending_responses()


def test_bin_is_written_in_minutes_for_long_windows():
    assert bin_expr(60) == "1m" and bin_expr(300) == "5m" and bin_expr(7200) == "2h"
    assert bin_expr(90) == "90s"
    week = _query_bin(WINDOW.extend(before_s=7 * 86400))
    assert week % 60 == 0 and f"bin({week // 60}m)" in bins_query(["abcd"], week)


def _backend(root: Path, clients: Any, **kw: Any) -> AwsBackend:
    bundle = Bundle(root)
    arch = ArchitectureModel.load(bundle.workspace_path)
    return AwsBackend(
        arch, clients, sleep=lambda _: None, now=lambda: bundle.incident.window.end, **kw
    )


def test_a_failing_bins_query_degrades_only_that_part(chain_bundle: Path, monkeypatch):
    clients = ReplayClients(Bundle(chain_bundle))
    original = ReplayLogs.start_query

    def start_query(self: Any, **kw: Any) -> Any:
        if "rca_pid" in kw["queryString"]:
            raise client_error("StartQuery", "MalformedQueryException", "unexpected symbol")
        return original(self, **kw)

    monkeypatch.setattr(ReplayLogs, "start_query", start_query)
    aws = _backend(chain_bundle, lambda service, location: clients(service, location))
    got = aws.log_patterns(["/aws/lambda/orders"], WINDOW, WINDOW.previous(), 300)
    assert got.patterns and got.window_records > 0  # the pattern part still answers
    assert got.partial and "DEGRADED: per-bin counts failed" in got.query


def test_linked_source_account_log_groups_are_queried_by_arn():
    logs = client("logs")
    arn = f"arn:aws:logs:eu-central-1:{SOURCE}:log-group:/aws/lambda/orders"
    stub = Stubber(logs)
    stub.add_response(
        "start_query",
        {"queryId": "q-x"},
        {
            "logGroupIdentifiers": [arn],
            "startTime": ANY,
            "endTime": ANY,
            "queryString": "pattern @message",
        },
    )
    stub.add_response(
        "get_query_results", {"status": "Complete", "results": []}, {"queryId": "q-x"}
    )
    with stub:
        insights(logs).run("pattern @message", [arn], START, END)
        stub.assert_no_pending_responses()


def test_linked_account_metrics_carry_account_id_and_owning_account():
    cw = client("cloudwatch")
    metrics = CloudWatchMetrics(
        cw, location=Location(SOURCE, "eu-central-1"), now=lambda: END, linked_account=SOURCE
    )
    mid = MetricId(namespace="AWS/Lambda", metric="Errors", dimensions={"FunctionName": "orders"})
    stub = Stubber(cw)
    stub.add_response(
        "list_metrics",
        {
            "Metrics": [
                {
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
                }
            ],
            "OwningAccounts": [SOURCE],
        },
        {
            "Namespace": "AWS/Lambda",
            "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
            "IncludeLinkedAccounts": True,
            "OwningAccount": SOURCE,
        },
    )
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {"Id": "m0", "Timestamps": [START], "Values": [3.0], "StatusCode": "Complete"}
            ]
        },
        {
            "MetricDataQueries": [
                {
                    "Id": "m0",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": "Errors",
                            "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                    "AccountId": SOURCE,
                }
            ],
            "StartTime": START,
            "EndTime": END,
            "ScanBy": "TimestampAscending",
        },
    )
    with stub:
        assert metrics.list_metrics("AWS/Lambda", dimensions={"FunctionName": "orders"}) == [mid]
        (data,) = metrics.get_metric_data([(mid, "Sum")], START, END)
        stub.assert_no_pending_responses()
    assert data.values == [3.0]


def test_observability_mode_reads_source_accounts_through_the_monitoring_account(
    chain_bundle: Path, monkeypatch
):
    """Elements in a source account: logs by ARN and metrics by AccountId through the monitoring
    account's clients; CloudTrail (not covered by observability) is skipped and said so."""
    bundle = Bundle(chain_bundle)
    replay = ReplayClients(bundle)
    asked: list[tuple[str, Location]] = []

    def clients(service: str, location: Location) -> Any:
        asked.append((service, location))
        return replay(service, location)

    aws = _backend(chain_bundle, clients, observability=True)
    for element in aws.architecture.elements.values():
        element.properties["rca.account"] = SOURCE
    aws.group_location = {g: Location(SOURCE, None) for g in aws.group_location}
    aws.locations = [Location(SOURCE, None)]
    sent: list[dict[str, Any]] = []
    original = ReplayLogs.start_query

    def start_query(self: Any, **kw: Any) -> Any:
        sent.append(dict(kw))
        names = [g.rsplit(":log-group:", 1)[-1] for g in kw.pop("logGroupIdentifiers")]
        return original(self, **kw, logGroupNames=names)

    monkeypatch.setattr(ReplayLogs, "start_query", start_query)
    got = aws.log_patterns(["/aws/lambda/orders"], WINDOW, WINDOW.previous(), 300)
    assert got.window_records > 0
    arn = f"arn:aws:logs::{SOURCE}:log-group:/aws/lambda/orders"  # Region from the client
    assert sent and all(
        kw["logGroupIdentifiers"] == [arn] and "logGroupNames" not in kw for kw in sent
    )
    # diff, and the per-bin query over the window and over the baseline, all by ARN
    assert [(kw["startTime"], kw["endTime"]) for kw in sent[1:]] == [
        epoch_seconds(WINDOW.start, WINDOW.end),
        epoch_seconds(WINDOW.previous().start, WINDOW.previous().end),
    ]
    assert any(p.baseline_bins for p in got.patterns)
    assert {loc for _, loc in asked} == {Location(None, None)}  # the monitoring account only
    assert aws.write_events(WINDOW) == [] and aws.skipped_trails == [Location(SOURCE, None).label()]


def test_existing_linked_log_groups_are_looked_up_by_identifier():
    logs = client("logs")
    here = f"arn:aws:logs:eu-central-1:{SOURCE}:log-group:/aws/lambda/orders"
    gone = f"arn:aws:logs:eu-central-1:{SOURCE}:log-group:/aws/lambda/gone"
    stub = Stubber(logs)
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/orders", "logGroupArn": here + ":*"}]},
        {"logGroupIdentifiers": [here, gone]},
    )
    with stub:
        assert insights(logs).existing_groups([here, gone]) == {here}
        stub.assert_no_pending_responses()
