"""CloudWatch Transaction Search: spans of the ``aws/spans`` log group as bundle v2 span rows.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search.html:
spans are OpenTelemetry spans stored as JSON log events in ``aws/spans`` "in semantic convention
format with W3C trace IDs"; fields used: ``traceId``, ``spanId``, ``parentSpanId``, ``name``,
``kind``, ``startTimeUnixNano``, ``durationNano``, ``status.code``,
``resource.attributes.service.name``, ``attributes.http.response.status_code`` (older
``attributes.http.status_code``), ``attributes.aws.remote.service`` / ``attributes.peer.service``
/ ``attributes.rpc.service`` on client spans. One Logs Insights count query, then one span query
(``limit`` at most :data:`tools.aws.logs_insights.MAX_ROWS_PER_PAGE`) that keeps whole traces by
the last two hex digits of the trace id when the range holds more spans than
:attr:`~tools.aws.span_rows.SpanLimits.max_spans`; the kept share is recorded. The span query passes
:func:`tools.aws.logs_insights.check_query` (10,000 characters) and runs through
:class:`~tools.aws.logs_insights.LogsInsights` (StopQuery on any abnormal exit).

A failing query (access denied, throttled, failed) is not raised by
:func:`transaction_search_spans`: the read returns what it has and a gap line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from tools.aws.errors import AwsError
from tools.aws.logs_insights import MAX_ROWS_PER_PAGE, LogsInsights
from tools.aws.span_rows import SpanLimits, SpanRead, gap_line, span_text
from tools.bundle import epoch_micros
from tools.models import TimeWindow, to_utc

SPAN_LOG_GROUP = "aws/spans"
TS_SAMPLING_NOTE = (
    "Transaction Search ingests every span X-Ray receives; sampling before that (the "
    "application's OpenTelemetry sampler) is not recorded in the spans, so it is unknown"
)
_KINDS = {
    "1": "internal",
    "2": "server",
    "3": "client",
    "4": "producer",
    "5": "consumer",
}
_STATUS = {"0": "unset", "1": "ok", "2": "error"}
TS_FIELDS = (
    "traceId",
    "spanId",
    "parentSpanId",
    "name",
    "kind",
    "startTimeUnixNano",
    "durationNano",
    "status.code",
    "resource.attributes.service.name",
    "resource.attributes.service.instance.id",
    "resource.attributes.host.name",
    "resource.attributes.k8s.pod.name",
    "attributes.aws.local.service",
    "attributes.http.response.status_code",
    "attributes.http.status_code",
    "attributes.aws.remote.service",
    "attributes.peer.service",
    "attributes.rpc.service",
)
"""Fields the Transaction Search span query reads (flattened JSON paths of ``aws/spans``)."""


def _first(row: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


def otel_rows(records: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Span rows from Transaction Search spans: Logs Insights result rows keyed by the
    flattened field names of :data:`TS_FIELDS` (``status.code``,
    ``resource.attributes.service.name``, ...). Returns the rows and the count of malformed
    records left out."""
    rows: list[dict[str, Any]] = []
    malformed = 0
    for record in records:
        start = _int(record.get("startTimeUnixNano"))
        duration = _int(record.get("durationNano"))
        if not record.get("traceId") or not record.get("spanId") or start is None:
            malformed += 1
            continue
        if duration is None or duration < 0:
            malformed += 1
            continue
        kind_text = str(record.get("kind") or "").strip().upper().removeprefix("SPAN_KIND_")
        kind = _KINDS.get(kind_text, kind_text.lower())
        if kind == "unspecified":
            kind = ""
        status_text = str(record.get("status.code") or "").strip().upper()
        status_text = status_text.removeprefix("STATUS_CODE_")
        status = _STATUS.get(status_text, status_text.lower())
        http = _first(record, "attributes.http.response.status_code", "attributes.http.status_code")
        code = str(_int(http)) if _int(http) is not None else ""
        if not code and status == "error":
            code = "ERROR"
        peer = ""
        if kind in ("client", "producer"):
            peer = _first(
                record,
                "attributes.aws.remote.service",
                "attributes.peer.service",
                "attributes.rpc.service",
            )
        rows.append(
            {
                "trace_id": span_text(record["traceId"]),
                "span_id": span_text(record["spanId"]),
                "parent_id": span_text(record.get("parentSpanId")),
                "service": span_text(
                    _first(
                        record, "resource.attributes.service.name", "attributes.aws.local.service"
                    )
                ),
                "instance": span_text(
                    _first(
                        record,
                        "resource.attributes.service.instance.id",
                        "resource.attributes.k8s.pod.name",
                        "resource.attributes.host.name",
                    )
                ),
                "operation": span_text(record.get("name")),
                "kind": kind,
                "start_ns": start,
                "duration_ns": duration,
                "status_code": code,
                "status": status,
                "peer_service": span_text(peer),
            }
        )
    return rows, ({"malformed": malformed} if malformed else {})


def _int(value: Any) -> int | None:
    """An integer field (nanoseconds need all 19 digits: parsed exactly, not through float)."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return int(number) if number.is_finite() else None


def suffix_filter(rate: float) -> tuple[str, float]:
    """A Logs Insights filter keeping whole traces whose id ends in one of ``m`` of the 256
    two-hex-digit suffixes (``m = floor(rate * 256)``, at least 1), and the kept share
    ``m / 256``; ``("", 1.0)`` when ``rate >= 1``. W3C trace ids are lowercase hex."""
    if rate >= 1.0:
        return "", 1.0
    m = max(1, math.floor(rate * 256))
    suffixes = "|".join(f"{i:02x}" for i in range(m))
    return f"| filter traceId like /({suffixes})$/ ", m / 256


def spans_query(filter_clause: str, limit: int) -> str:
    """The Transaction Search span query (fields of :data:`TS_FIELDS`)."""
    return (
        f"fields {', '.join(TS_FIELDS)} {filter_clause}| sort startTimeUnixNano asc | limit {limit}"
    )


COUNT_QUERY = "stats count(*) as spans"


def transaction_search_spans(
    insights: LogsInsights,
    window: TimeWindow,
    limits: SpanLimits,
    *,
    group: str = SPAN_LOG_GROUP,
) -> SpanRead:
    """Spans that started in ``window`` from the ``aws/spans`` log group (Logs Insights; see the
    module docstring). ``group`` is the log group name, or its ARN for a linked source account.

    Never raises an AWS error: a failing query adds a gap line and returns what was read.
    """
    read = SpanRead(source="transaction-search", location=insights.location.label())
    limit = min(limits.max_spans, MAX_ROWS_PER_PAGE)
    try:
        counted = insights.run(COUNT_QUERY, [group], window.start, window.end)
        read.calls += counted.polls + 1
        total = int(_int((counted.rows or [{}])[0].get("spans")) or 0)
        clause, rate = suffix_filter(limit / total if total else 1.0)
        result = insights.run(
            spans_query(clause, limit), [group], window.start, window.end, limit=limit
        )
        read.calls += result.polls + 1
    except AwsError as exc:
        read.gaps.append(gap_line("Transaction Search", exc))
        read.failed = True
        return read
    read.rows, read.skipped = otel_rows(result.rows)
    read.rows = [r for r in read.rows if _inside(r["start_ns"], window)]
    read.traces = len({r["trace_id"] for r in read.rows})
    read.sampling = {
        "method": "whole traces whose id ends in one of the first m of 256 two-hex-digit suffixes",
        "spans_in_source": total,
        "rate": rate,
        "recording_rate": None,
        "note": TS_SAMPLING_NOTE,
    }
    if result.partial:
        read.gaps.append(f"Transaction Search span query ended {result.status}: partial spans")
    if len(result.rows) >= limit:
        read.gaps.append(
            f"Transaction Search: the span query hit its limit of {limit} rows; spans later in "
            f"{window.label()} were cut"
        )
    return read


def _inside(start_ns: int, window: TimeWindow) -> bool:
    """True when ``start_ns`` (nanoseconds since the epoch) lies in ``window`` (``[start, end)``,
    exact integer arithmetic)."""
    lo, hi = (epoch_micros(to_utc(t)) * 1000 for t in (window.start, window.end))
    return lo <= start_ns < hi
