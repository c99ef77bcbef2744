"""Logs Insights wrapper: exact requests (Stubber), polling, pagination, timeout, errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from tests.aws.conftest import client
from tools.aws.errors import AccessDeniedError, NotFoundError, QueryError, ThrottledError
from tools.aws.logs_insights import (
    DIFF_QUERY,
    PATTERN_QUERY,
    LogsInsights,
    bins_query,
    epoch_seconds,
    literal_of,
    parse_insights_time,
    parse_patterns,
)
from tools.aws.session import Location

START = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
T0, T1 = 1773763200, 1773766799  # epoch seconds of START and END - 1 s


def rows(*dicts: dict[str, str]) -> list[list[dict[str, str]]]:
    return [
        [{"field": k, "value": v} for k, v in d.items()] + [{"field": "@ptr", "value": "x"}]
        for d in dicts
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def insights(logs, clock: Clock | None = None, **kw) -> LogsInsights:
    clock = clock or Clock()
    return LogsInsights(
        logs,
        location=Location("111122223333", "eu-central-1"),
        sleep=clock.sleep,
        clock=clock,
        slots=threading.BoundedSemaphore(2),
        **kw,
    )


def test_epoch_seconds_are_inclusive_seconds():
    assert epoch_seconds(START, END) == (T0, T1)
    assert int(START.timestamp()) == T0


def test_pattern_query_exact_request_polls_to_completion_and_reads_statistics():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupNames": ["/aws/lambda/a", "/aws/lambda/b"],
            "startTime": T0,
            "endTime": T1,
            "queryString": DIFF_QUERY,
        },
    )
    stub.add_response(
        "get_query_results", {"status": "Scheduled", "results": []}, {"queryId": "q-1"}
    )
    stub.add_response(
        "get_query_results",
        {"status": "Running", "results": rows({"@pattern": "ERROR <*>", "@sampleCount": "3"})},
        {"queryId": "q-1"},
    )
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": rows(
                {
                    "@pattern": "ERROR timeout <*>",
                    "@sampleCount": "40",
                    "@previousCount": "0",
                    "@ratio": "0.4",
                    "@severityLabel": "Error",
                },
                {"@pattern": "GET <*> 200", "@sampleCount": "60", "@previousCount": "58"},
            ),
            "statistics": {
                "recordsMatched": 100.0,
                "recordsScanned": 218.0,
                "bytesScanned": 40960.0,
            },
        },
        {"queryId": "q-1"},
    )
    clock = Clock()
    with stub:
        patterns, saw_previous, result = insights(logs, clock).patterns(
            ["/aws/lambda/a", "/aws/lambda/b"], START, END, diff=True
        )
        stub.assert_no_pending_responses()
    assert saw_previous
    assert [(p.pattern, p.count, p.previous_count) for p in patterns] == [
        ("ERROR timeout <*>", 40, 0),
        ("GET <*> 200", 60, 58),
    ]
    assert patterns[0].severity == "Error" and patterns[0].ratio == 0.4
    assert result.status == "Complete" and not result.partial and result.polls == 3
    assert result.statistics.bytes_scanned == 40960 and result.statistics.records_scanned == 218
    assert all("@ptr" not in row for row in result.rows)
    assert clock.sleeps[0] == 0.5 and clock.sleeps[1] > clock.sleeps[0]  # backoff between polls


def test_results_are_paginated_with_next_token_after_completion():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q-2"})
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": rows({"@pattern": "a", "@sampleCount": "1"}),
            "nextToken": "t2",
        },
        {"queryId": "q-2"},
    )
    stub.add_response(
        "get_query_results",
        {"status": "Complete", "results": rows({"@pattern": "b", "@sampleCount": "2"})},
        {"queryId": "q-2", "nextToken": "t2"},
    )
    with stub:
        patterns, saw_previous, _ = insights(logs).patterns(["g"], START, END, diff=False)
    assert [p.pattern for p in patterns] == ["a", "b"] and not saw_previous


def test_timeout_stops_the_query_and_returns_partial_results():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q-3"})
    for _ in range(3):
        stub.add_response(
            "get_query_results",
            {
                "status": "Running",
                "results": rows({"@pattern": "ERROR <*>", "@sampleCount": "7"}),
                "statistics": {"recordsScanned": 5000.0, "bytesScanned": 1e6},
            },
            {"queryId": "q-3"},
        )
    stub.add_response("stop_query", {"success": True}, {"queryId": "q-3"})
    with stub:
        result = insights(logs, timeout_s=2.0).run(PATTERN_QUERY, ["g"], START, END)
        stub.assert_no_pending_responses()
    assert result.partial and result.status == "Timeout"
    assert result.rows == [{"@pattern": "ERROR <*>", "@sampleCount": "7"}]
    assert result.statistics.bytes_scanned == 1e6


def test_keyboard_interrupt_stops_the_query():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q-4"})
    stub.add_response("stop_query", {"success": True}, {"queryId": "q-4"})

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    lq = LogsInsights(logs, sleep=interrupt, slots=threading.BoundedSemaphore(1))
    with stub, pytest.raises(KeyboardInterrupt):
        lq.run(PATTERN_QUERY, ["g"], START, END)
    stub.assert_no_pending_responses()
    assert lq.slots.acquire(blocking=False)  # the slot was released


@pytest.mark.parametrize(
    ("status", "partial"), [("Cancelled", True), ("Timeout", True), ("Unknown", True)]
)
def test_terminal_statuses_other_than_complete_are_partial(status, partial):
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q"})
    stub.add_response("get_query_results", {"status": status, "results": []})
    with stub:
        assert insights(logs).run(PATTERN_QUERY, ["g"], START, END).partial is partial


def test_failed_query_raises_query_error_naming_the_groups():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "q"})
    stub.add_response("get_query_results", {"status": "Failed", "results": []})
    with stub, pytest.raises(QueryError, match=r"/aws/lambda/a.*Infrequent Access"):
        insights(logs).run(PATTERN_QUERY, ["/aws/lambda/a"], START, END)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AccessDeniedException", AccessDeniedError),
        ("ResourceNotFoundException", NotFoundError),
        ("MalformedQueryException", QueryError),
    ],
)
def test_client_errors_are_translated(code, error):
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_client_error("start_query", service_error_code=code, service_message="nope")
    with stub, pytest.raises(error) as info:
        insights(logs).run(PATTERN_QUERY, ["g"], START, END)
    assert "111122223333/eu-central-1" in str(info.value) and code in str(info.value)
    assert isinstance(info.value.__cause__, Exception)
    if code == "AccessDeniedException":
        assert "logs:StartQuery" in str(info.value)


def _http(status: int, body: str) -> AWSResponse:
    class Raw:
        def stream(self, **_: object):
            yield body.encode()

    return AWSResponse("https://logs.eu-central-1.amazonaws.com/", status, {}, Raw())


def test_throttled_start_query_is_retried_by_botocore(monkeypatch):
    """Throttling goes through botocore's retry handler (Stubber would bypass it), so the
    responses are served at the HTTP layer (before-send)."""
    waits: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", waits.append)
    logs = client("logs")
    answers = [
        _http(400, '{"__type": "ThrottlingException", "message": "Rate exceeded"}'),
        _http(400, '{"__type": "LimitExceededException", "message": "too many queries"}'),
        _http(200, '{"queryId": "q-ok"}'),
        _http(200, '{"status": "Complete", "results": [], "statistics": {"bytesScanned": 10.0}}'),
    ]
    sent: list[str] = []

    def send(request, **_: object):
        sent.append(request.headers["X-Amz-Target"].decode().split(".")[-1])
        return answers.pop(0)

    logs.meta.events.register("before-send.cloudwatch-logs.*", send)
    result = insights(logs).run(PATTERN_QUERY, ["g"], START, END)
    assert sent == ["StartQuery", "StartQuery", "StartQuery", "GetQueryResults"]
    assert len(waits) == 2 and result.statistics.bytes_scanned == 10.0


def test_throttling_after_retries_is_a_throttled_error(monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _: None)
    logs = client("logs")
    logs.meta.events.register(
        "before-send.cloudwatch-logs.StartQuery",
        lambda request, **_: _http(
            400, '{"__type": "ThrottlingException", "message": "slow down"}'
        ),
    )
    with pytest.raises(ThrottledError, match="throttling"):
        insights(logs).run(PATTERN_QUERY, ["g"], START, END)


def test_more_than_50_groups_is_refused():
    with pytest.raises(ValueError, match="1-50"):
        insights(client("logs")).run(PATTERN_QUERY, [f"g{i}" for i in range(51)], START, END)


def test_semaphore_bounds_concurrent_queries():
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    logs = client("logs")
    lq = LogsInsights(logs, slots=slots)
    done = threading.Event()

    def run() -> None:
        with Stubber(logs) as stub:
            stub.add_response("start_query", {"queryId": "q"})
            stub.add_response("get_query_results", {"status": "Complete", "results": []})
            lq.run(PATTERN_QUERY, ["g"], START, END)
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    assert not done.wait(0.2)  # blocked: the only slot is taken
    slots.release()
    assert done.wait(5)
    worker.join()


def test_parse_patterns_reads_diff_field_variants():
    found, saw = parse_patterns(
        [{"@pattern": "x <*>", "@currentCount": "5", "@previousSampleCount": "2"}, {"other": "1"}]
    )
    assert saw and found[0].count == 5 and found[0].previous_count == 2 and len(found) == 1


def test_literal_of_picks_the_longest_fixed_text():
    assert literal_of("<*> ERROR Timeout after <*> ms calling remote-vehicle-api POST <*>") == (
        "ms calling remote-vehicle-api POST"
    )
    assert literal_of('saying "hi" <Token-1>') == "saying"
    assert literal_of("<*> <*>") is None


def test_bins_query_and_parsing():
    query = bins_query(["ERROR timeout", "GET /cart"], 60)
    assert 'strcontains(@message, "ERROR timeout") as rca_p0' in query
    assert "rca_p0 * 1 + rca_p1 * 2 as rca_pid" in query and "bin(1m)" in query
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response(
        "start_query",
        {"queryId": "q"},
        {
            "logGroupNames": ["g"],
            "startTime": T0,
            "endTime": T1,
            "queryString": query,
            "limit": 10000,
        },
    )
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": rows(
                {
                    "rca_pid": "1",
                    "bin(1m)": "2026-03-17 16:22:00.000",
                    "rca_n": "4",
                    "rca_first": "2026-03-17 16:22:31.250",
                    "rca_sample": "ERROR timeout 1",
                },
                {
                    "rca_pid": "1",
                    "bin(1m)": "2026-03-17 16:23:00.000",
                    "rca_n": "6",
                    "rca_first": "2026-03-17 16:23:00.100",
                    "rca_sample": "ERROR timeout 2",
                },
                {
                    "rca_pid": "3",
                    "bin(1m)": "2026-03-17 16:23:00.000",
                    "rca_n": "1",
                    "rca_first": "2026-03-17 16:23:00.100",
                    "rca_sample": "both",
                },
                {
                    "rca_pid": "2",
                    "bin(1m)": "2026-03-17 16:00:00.000",
                    "rca_n": "9",
                    "rca_first": "2026-03-17 16:00:01.000",
                    "rca_sample": "GET /cart/1",
                },
            ),
        },
    )
    with stub:
        bins, _ = insights(logs).pattern_bins(
            ["g"], START, END, ["ERROR timeout <*>", "GET /cart<*>"]
        )
    err = bins["ERROR timeout <*>"]
    assert sum(err.counts.values()) == 10  # the two-literal row (pid 3) is left out
    assert err.first_seen == parse_insights_time("2026-03-17 16:22:31.250")
    assert err.samples == ["ERROR timeout 1", "ERROR timeout 2"]
    assert bins["GET /cart<*>"].counts == {START: 9}
