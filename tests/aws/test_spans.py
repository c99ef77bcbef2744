"""Spans from AWS: X-Ray segment documents and Transaction Search spans into bundle v2 span rows,
read with the documented request shapes (botocore Stubber), bounded, and degrading to gap lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.aws.conftest import client, event
from tools.aws.logs_insights import LogsInsights
from tools.aws.span_rows import SpanLimits, to_frame
from tools.aws.spans import read_spans
from tools.aws.transaction_search import (
    otel_rows,
    spans_query,
    suffix_filter,
    transaction_search_spans,
)
from tools.aws.xray import MAX_TRACE_IDS_PER_BATCH, segment_rows, xray_spans
from tools.bundle import SPAN_COLUMNS, SPAN_OPTIONAL_COLUMNS
from tools.models import TimeWindow

START = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)
HOUR = TimeWindow(start=START, end=START + timedelta(hours=1))


def _documents() -> list[dict[str, Any]]:
    trace = event("xray_trace")["Traces"][0]
    return [json.loads(s["Document"]) for s in trace["Segments"]]


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["span_id"]: r for r in rows}


# ---------------------------------------------------------------------- the converter
def test_segment_documents_become_spans_with_nested_subsegments():
    rows, skipped = segment_rows(_documents())
    spans = _by_id(rows)
    assert skipped == {"inferred": 1, "in_progress": 1}  # X-Ray's inferred DynamoDB, audit
    assert len(rows) == 7
    root = spans["4b1f0c2e8a9d7e61"]
    assert root["service"] == "orders-api" and root["kind"] == "server" and root["parent_id"] == ""
    assert root["instance"] == "orders-api-7f9c"  # aws.ecs.container
    assert root["operation"] == "POST /orders/{id}/items"  # id masked, query string dropped
    assert (root["status"], root["status_code"]) == ("fault", "502")
    assert root["start_ns"] == 1_773_763_200_100_000_000 and root["duration_ns"] == 231_000_000
    dynamo = spans["9c2a1e3f4b5d6c70"]
    assert dynamo["kind"] == "client" and dynamo["operation"] == "DynamoDB.GetItem"
    assert dynamo["peer_service"] == "DynamoDB" and dynamo["parent_id"] == root["span_id"]
    # the remote subsegment's callee is the segment whose parent it is
    remote = spans["6a7b8c9d0e1f2a3b"]
    assert remote["kind"] == "client" and remote["peer_service"] == "payments"
    assert remote["operation"] == "POST /charge/{id}" and remote["service"] == "orders-api"
    nested = spans["5e6f7a8b9c0d1e2f"]  # a subsegment of a subsegment
    assert nested["parent_id"] == "1d2e3f4a5b6c7d80" and nested["kind"] == "internal"
    assert nested["service"] == "orders-api"
    callee = spans["7c8d9e0f1a2b3c4d"]
    assert callee["parent_id"] == remote["span_id"] and callee["instance"] == "i-0abc123def4567890"
    # network time between the two services: client 187 ms - server 170 ms
    assert remote["duration_ns"] - callee["duration_ns"] == 17_000_000
    card = spans["8d9e0f1a2b3c4d5e"]  # 4xx flag without a status: not a failure code
    assert (card["status"], card["status_code"], card["peer_service"]) == (
        "error",
        "",
        "card-gateway",
    )
    assert "AKIA" not in json.dumps(rows)


def test_span_text_is_redacted_and_bounded():
    doc = {
        "id": "a1",
        "trace_id": "1-1-1",
        "name": "svc password=hunter2 " + "x" * 500,
        "start_time": 1.0,
        "end_time": 2.0,
        "http": {"request": {"method": "GET", "url": "/login?password=hunter2"}},
    }
    (row,), _ = segment_rows([doc])
    assert "hunter2" not in json.dumps(row)
    assert len(row["service"]) <= 200 and row["operation"] == "GET /login"


def test_malformed_and_deep_documents_are_left_out_not_raised():
    deep: dict[str, Any] = {"id": "x0", "name": "n", "start_time": 1.0, "end_time": 2.0}
    node = deep
    for i in range(1, 100):
        child = {"id": f"x{i}", "name": "n", "start_time": 1.0, "end_time": 2.0}
        node["subsegments"] = [child]
        node = child
    deep |= {"trace_id": "1-2-3"}
    bad = [{"name": "no id"}, {"id": "b", "trace_id": "t", "start_time": "x", "end_time": 2}]
    rows, skipped = segment_rows([deep, *bad])
    assert len(rows) == 65 and skipped["malformed"] == 3


def test_transaction_search_rows_become_spans():
    rows, skipped = otel_rows(
        [
            {
                "traceId": "67f3a2c05e1b2a9c4d7f8e6a1b2c3d4e",
                "spanId": "4b1f0c2e8a9d7e61",
                "name": "POST /orders/{id}",
                "kind": "SERVER",
                "startTimeUnixNano": "1773763200100000000",
                "durationNano": "231000000",
                "status.code": "ERROR",
                "resource.attributes.service.name": "orders-api",
                "resource.attributes.host.name": "ip-10-0-1-25",
                "attributes.http.response.status_code": "502",
            },
            {
                "traceId": "67f3a2c05e1b2a9c4d7f8e6a1b2c3d4e",
                "spanId": "6a7b8c9d0e1f2a3b",
                "parentSpanId": "4b1f0c2e8a9d7e61",
                "name": "DynamoDB.GetItem",
                "kind": "SPAN_KIND_CLIENT",
                "startTimeUnixNano": "1773763200110000000",
                "durationNano": "18000000",
                "status.code": "UNSET",
                "resource.attributes.service.name": "orders-api",
                "attributes.aws.remote.service": "AWS::DynamoDB",
            },
            {
                "traceId": "67f3a2c05e1b2a9c4d7f8e6a1b2c3d4e",
                "spanId": "7c8d9e0f1a2b3c4d",
                "parentSpanId": "6a7b8c9d0e1f2a3b",
                "name": "charge",
                "kind": "2",
                "startTimeUnixNano": "1773763200150000000",
                "durationNano": "1000",
                "status.code": "2",
                "attributes.aws.local.service": "payments",
            },
            {"traceId": "t", "spanId": "s", "name": "no start"},
        ]
    )
    assert skipped == {"malformed": 1}
    server, dynamo, charge = rows
    assert (server["kind"], server["status"], server["status_code"]) == ("server", "error", "502")
    assert server["instance"] == "ip-10-0-1-25" and server["service"] == "orders-api"
    assert (dynamo["kind"], dynamo["peer_service"], dynamo["status_code"]) == (
        "client",
        "AWS::DynamoDB",
        "",
    )
    assert dynamo["parent_id"] == server["span_id"]
    assert (charge["kind"], charge["status"], charge["status_code"]) == ("server", "error", "ERROR")
    assert charge["service"] == "payments"


def test_frame_has_the_bundle_span_columns():
    rows, _ = segment_rows(_documents())
    frame = to_frame(rows)
    assert list(frame.columns) == [*SPAN_COLUMNS, *SPAN_OPTIONAL_COLUMNS]
    assert str(frame["start_ns"].dtype) == "Int64" and len(frame) == 7


# ------------------------------------------------------------------------------ X-Ray
def _summaries(ids: list[str]) -> list[dict[str, Any]]:
    return [{"Id": t, "StartTime": START, "Duration": 0.2, "HasFault": False} for t in ids]


def _trace(trace_id: str) -> dict[str, Any]:
    doc = {
        "id": trace_id[-16:],
        "trace_id": trace_id,
        "name": "orders-api",
        "start_time": START.timestamp() + 1,
        "end_time": START.timestamp() + 1.2,
    }
    return {
        "Id": trace_id,
        "Duration": 0.2,
        "Segments": [{"Id": doc["id"], "Document": json.dumps(doc)}],
    }


def _ids(n: int) -> list[str]:
    return [f"1-67f3a2c0-{i:024x}" for i in range(1, n + 1)]


def _record_batches(xray: Any) -> list[list[str]]:
    sent: list[list[str]] = []
    xray.meta.events.register(
        "provide-client-params.xray.BatchGetTraces",
        lambda params, **_: sent.append(list(params["TraceIds"])),
    )
    return sent


def test_xray_reads_summaries_paged_per_slice_and_traces_five_at_a_time():
    xray = client("xray")
    sent = _record_batches(xray)
    stub = Stubber(xray)
    half = START + timedelta(minutes=30)
    ids = _ids(7)
    first = {"StartTime": START, "EndTime": half, "TimeRangeType": "TraceId", "Sampling": False}
    second = {"StartTime": half, "EndTime": HOUR.end, "TimeRangeType": "TraceId", "Sampling": False}
    stub.add_response(
        "get_trace_summaries",
        {"TraceSummaries": _summaries(ids[:4]), "TracesProcessedCount": 4, "NextToken": "p2"},
        first,
    )
    stub.add_response(
        "get_trace_summaries",
        {"TraceSummaries": _summaries(ids[4:6]), "TracesProcessedCount": 2},
        {**first, "NextToken": "p2"},
    )
    stub.add_response("get_trace_summaries", {"TraceSummaries": _summaries(ids[6:])}, second)
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(t) for t in ids[:5]], "NextToken": "more"},
        {"TraceIds": ANY},
    )
    stub.add_response("batch_get_traces", {"Traces": []}, {"TraceIds": ANY, "NextToken": "more"})
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(t) for t in ids[5:6]], "UnprocessedTraceIds": ids[6:]},
        {"TraceIds": ANY},
    )
    with stub:
        read = xray_spans(xray, HOUR, SpanLimits())
    stub.assert_no_pending_responses()
    assert [len(b) for b in sent] == [5, 5, 2]  # the second call is the first batch's next page
    assert sorted(sent[0] + sent[2]) == sorted(ids)
    assert read.source == "xray" and len(read.rows) == 6 and read.traces == 6
    assert read.sampling["rate"] == 1.0 and read.sampling["recording_rate"] is None
    assert "not returned" in read.sampling["note"]
    assert read.gaps == ["X-Ray BatchGetTraces left 1 trace(s) unprocessed"]


def test_xray_keeps_at_most_max_traces_and_records_the_share():
    xray = client("xray")
    sent = _record_batches(xray)
    stub = Stubber(xray)
    ids = _ids(12)
    stub.add_response("get_trace_summaries", {"TraceSummaries": _summaries(ids)}, ANY_SUMMARY)
    stub.add_response("get_trace_summaries", {"TraceSummaries": []}, ANY_SUMMARY)
    for _ in range(2):
        stub.add_response("batch_get_traces", {"Traces": []}, {"TraceIds": ANY})
    with stub:
        read = xray_spans(xray, HOUR, SpanLimits(max_traces=6, filter_expression="fault = true"))
    assert [len(b) for b in sent] == [MAX_TRACE_IDS_PER_BATCH, 1]
    assert read.sampling["traces_found"] == 12 and read.sampling["rate"] == 0.5


ANY_SUMMARY = {
    "StartTime": ANY,
    "EndTime": ANY,
    "TimeRangeType": "TraceId",
    "Sampling": False,
    "FilterExpression": "fault = true",
}


def test_xray_page_limit_is_a_gap_not_a_silent_cut():
    xray = client("xray")
    stub = Stubber(xray)
    request = {"StartTime": ANY, "EndTime": ANY, "TimeRangeType": "TraceId", "Sampling": False}
    stub.add_response("get_trace_summaries", {"TraceSummaries": [], "NextToken": "n"}, request)
    stub.add_response("get_trace_summaries", {"TraceSummaries": []}, request)
    with stub:
        read = xray_spans(xray, HOUR, SpanLimits(max_summary_pages=2))
    assert read.sampling["slices_cut_at_page_limit"] == 1
    assert any("page limit" in g for g in read.gaps)


@pytest.mark.parametrize(
    ("operation", "code", "expected"),
    [
        ("get_trace_summaries", "ThrottledException", "throttling"),
        ("get_trace_summaries", "AccessDeniedException", "xray:GetTraceSummaries"),
        ("batch_get_traces", "AccessDeniedException", "xray:BatchGetTraces"),
    ],
)
def test_throttling_and_access_denied_degrade_to_a_gap_line(operation, code, expected):
    xray = client("xray")
    stub = Stubber(xray)
    request = {"StartTime": ANY, "EndTime": ANY, "TimeRangeType": "TraceId", "Sampling": False}
    if operation == "batch_get_traces":
        stub.add_response("get_trace_summaries", {"TraceSummaries": _summaries(_ids(2))}, request)
        stub.add_response("get_trace_summaries", {"TraceSummaries": []}, request)
    stub.add_client_error(operation, service_error_code=code, service_message="no")
    with stub:
        read = xray_spans(xray, HOUR, SpanLimits())
    assert read.rows == [] and len(read.gaps) == 1 and read.failed
    assert read.gaps[0].startswith("X-Ray spans not read: X-Ray")
    assert expected in read.gaps[0].lower() or expected in read.gaps[0]


# ------------------------------------------------------------------ Transaction Search
def _insights(logs: Any) -> LogsInsights:
    return LogsInsights(logs, sleep=lambda _s: None)


def _field_rows(rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    return [[{"field": k, "value": v} for k, v in row.items()] for row in rows]


TS_ROW = {
    "traceId": "67f3a2c05e1b2a9c4d7f8e6a1b2c3d00",
    "spanId": "4b1f0c2e8a9d7e61",
    "name": "GET /orders/{id}",
    "kind": "SERVER",
    "startTimeUnixNano": str(int((START.timestamp() + 60) * 1e9)),
    "durationNano": "12000000",
    "status.code": "UNSET",
    "resource.attributes.service.name": "orders-api",
    "attributes.http.response.status_code": "200",
}


def test_transaction_search_is_chosen_when_aws_spans_exists_and_samples_whole_traces():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "aws/spans"}]},
        {"logGroupNamePrefix": "aws/spans", "limit": 1},
    )
    first, last = int(START.timestamp()), int(HOUR.end.timestamp()) - 1
    stub.add_response(
        "start_query",
        {"queryId": "q-count"},
        {
            "logGroupNames": ["aws/spans"],
            "startTime": first,
            "endTime": last,
            "queryString": "stats count(*) as spans",
        },
    )
    stub.add_response(
        "get_query_results",
        {"status": "Complete", "results": _field_rows([{"spans": "30000"}])},
        {"queryId": "q-count"},
    )
    clause, rate = suffix_filter(10_000 / 30_000)
    assert rate == 85 / 256 and "|54)$/" in clause and "(00|01|" in clause
    stub.add_response(
        "start_query",
        {"queryId": "q-spans"},
        {
            "logGroupNames": ["aws/spans"],
            "startTime": first,
            "endTime": last,
            "queryString": spans_query(clause, 10_000),
            "limit": 10_000,
        },
    )
    outside = {
        **TS_ROW,
        "spanId": "x",
        "startTimeUnixNano": str(int(START.timestamp()) * 10**9 - 1),
    }
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": _field_rows([TS_ROW, outside]),
            "statistics": {"recordsMatched": 2.0, "recordsScanned": 30000.0, "bytesScanned": 9e6},
        },
        {"queryId": "q-spans"},
    )
    xray_built: list[bool] = []
    with stub:
        read = read_spans(
            HOUR,
            SpanLimits(),
            xray_client=lambda: xray_built.append(True),
            insights=lambda: _insights(logs),
        )
    stub.assert_no_pending_responses()
    assert not xray_built  # X-Ray is not touched when Transaction Search holds the spans
    assert read.source == "transaction-search" and len(read.rows) == 1 and read.gaps == []
    assert read.sampling["rate"] == 85 / 256 and read.sampling["spans_in_source"] == 30000
    assert read.rows[0]["status_code"] == "200" and read.rows[0]["kind"] == "server"
    assert len(spans_query(clause, 10_000)) < 10_000


def test_x_ray_is_chosen_without_aws_spans():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response(
        "describe_log_groups", {"logGroups": []}, {"logGroupNamePrefix": "aws/spans", "limit": 1}
    )
    xray = client("xray")
    xstub = Stubber(xray)
    request = {"StartTime": ANY, "EndTime": ANY, "TimeRangeType": "TraceId", "Sampling": False}
    xstub.add_response("get_trace_summaries", {"TraceSummaries": []}, request)
    xstub.add_response("get_trace_summaries", {"TraceSummaries": []}, request)
    with stub, xstub:
        read = read_spans(
            HOUR, SpanLimits(), xray_client=lambda: xray, insights=lambda: _insights(logs)
        )
    assert read.source == "xray" and read.rows == [] and read.gaps == []


def test_a_failed_span_query_is_a_gap_and_a_full_result_is_noted():
    logs = client("logs")
    stub = Stubber(logs)
    stub.add_client_error(
        "start_query", service_error_code="AccessDeniedException", service_message="no"
    )
    with stub:
        read = transaction_search_spans(_insights(logs), HOUR, SpanLimits())
    assert read.rows == [] and "logs:StartQuery" in read.gaps[0]

    logs = client("logs")
    stub = Stubber(logs)
    stub.add_response("start_query", {"queryId": "c"}, ANY_QUERY)
    stub.add_response(
        "get_query_results",
        {"status": "Complete", "results": _field_rows([{"spans": "1"}])},
        {"queryId": "c"},
    )
    stub.add_response("start_query", {"queryId": "s"}, {**ANY_QUERY, "limit": 1})
    stub.add_response(
        "get_query_results",
        {"status": "Complete", "results": _field_rows([TS_ROW])},
        {"queryId": "s"},
    )
    with stub:
        read = transaction_search_spans(_insights(logs), HOUR, SpanLimits(max_spans=1))
    assert len(read.rows) == 1 and "hit its limit of 1 rows" in read.gaps[0]


ANY_QUERY = {"logGroupNames": ["aws/spans"], "startTime": ANY, "endTime": ANY, "queryString": ANY}


def test_span_source_setting(monkeypatch):
    monkeypatch.setenv("RCA_SPAN_SOURCE", "transaction-search")
    assert SpanLimits.from_env().source == "transaction-search"
    monkeypatch.setenv("RCA_SPAN_SOURCE", "zipkin")
    with pytest.raises(ValueError, match="RCA_SPAN_SOURCE"):
        SpanLimits.from_env()
    off = read_spans(HOUR, SpanLimits(source="none"), xray_client=list, insights=list)
    assert off.rows == [] and "turned off" in off.gaps[0]


def test_x_ray_spans_give_each_service_its_self_time():
    """The traces tool's self-time on spans converted from X-Ray: the orders API's segment
    (231 ms) minus its DynamoDB call (18 ms) and its call to payments (187 ms); its internal
    subsegments are its own time. Both worlds share the span model."""
    from tools.trace_analysis import _joined
    from tools.trace_selftime import self_times

    rows, _ = segment_rows(_documents())
    every = TimeWindow(start=START - timedelta(days=365), end=START + timedelta(days=365))
    got = self_times(_joined(to_frame(rows), every, [])).set_index("service")["self_ns"]
    assert got["orders-api"] == (231 - 18 - 187) * 1_000_000
    assert got["payments"] == (170 - 166) * 1_000_000
