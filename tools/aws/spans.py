"""Spans from AWS as bundle v2 span rows: AWS X-Ray traces, or CloudWatch Transaction Search.

One converter for both ``rca capture`` (written to ``spans.csv``) and the ``traces`` tool in the
AWS world (read live through :meth:`tools.telemetry.aws.AwsBackend.spans`). Rows have the
columns :data:`tools.bundle.SPAN_COLUMNS` plus :data:`tools.bundle.SPAN_OPTIONAL_COLUMNS`.

**Which source** (:func:`choose_source`): with Transaction Search enabled, X-Ray stores spans in
the ``aws/spans`` log group and "You cannot find traces through [BatchGetTraces] if Transaction
Search is enabled since trace is not indexed in X-Ray" (BatchGetTraces API reference); only a
share of spans (1% by default) is indexed as trace summaries (Enable Transaction Search, CloudWatch
user guide). So ``auto`` uses Transaction Search when ``aws/spans`` exists (DescribeLogGroups),
else X-Ray. ``RCA_SPAN_SOURCE`` (``auto`` | ``xray`` | ``transaction-search`` | ``none``) or
:attr:`SpanLimits.source` overrides it.

**X-Ray** (https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html,
https://docs.aws.amazon.com/xray/latest/api/API_BatchGetTraces.html):

- GetTraceSummaries ``StartTime`` / ``EndTime`` (datetimes), ``TimeRangeType="TraceId"`` (traces
  selected by their start time), ``Sampling=False``, optional ``FilterExpression``, paged by
  ``NextToken``; the range is cut into slices of at most :data:`XRAY_SLICE_S` (6 hours, a
  conservative bound; the API reference states none) and each slice reads at most its share of
  :attr:`SpanLimits.max_summary_pages` pages;
- BatchGetTraces ``TraceIds``: "Minimum number of 1 item. Maximum number of 5 items"
  (:data:`MAX_TRACE_IDS_PER_BATCH`; botocore's model omits the maximum), paged by ``NextToken``;
  ``UnprocessedTraceIds`` are reported; each ``Segments[].Document`` is a segment document
  (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html): ``id``,
  ``trace_id``, ``parent_id``, ``name``, ``start_time`` / ``end_time`` (epoch seconds),
  ``in_progress``, ``http.request`` / ``http.response.status``, the ``error`` (4xx), ``fault``
  (5xx) and ``throttle`` (429) flags, ``aws`` (``operation``, ``ec2.instance_id``,
  ``ecs.container``), ``origin``, ``inferred`` and nested ``subsegments`` whose ``namespace`` is
  ``aws`` (an AWS SDK call) or ``remote`` (another downstream call).
- Conversion: a segment is a ``server`` span of the service ``name``; a subsegment is a span of
  its segment's service, ``client`` when its namespace is ``aws`` / ``remote`` (``peer_service``:
  the service of a segment whose ``parent_id`` is this subsegment, else the subsegment's
  ``name``), else ``internal``. Inferred segments (X-Ray builds them from the caller's
  subsegment; they hold no measurement of their own) and in-progress ones are left out and
  counted.
- Sampling: X-Ray records the requests its sampling rules select; the rate applied to a trace is
  not returned by these APIs, so it is recorded as unknown. When a range holds more trace ids
  than :attr:`SpanLimits.max_traces`, a uniform subset is kept by a hash of the trace id, and the
  kept share is recorded.

**Transaction Search** (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search.html):
spans are OpenTelemetry spans stored as JSON log events in ``aws/spans`` "in semantic convention
format with W3C trace IDs"; fields used: ``traceId``, ``spanId``, ``parentSpanId``, ``name``,
``kind``, ``startTimeUnixNano``, ``durationNano``, ``status.code``,
``resource.attributes.service.name``, ``attributes.http.response.status_code`` (older
``attributes.http.status_code``), ``attributes.aws.remote.service`` / ``attributes.peer.service``
/ ``attributes.rpc.service`` on client spans. One Logs Insights count query, then one span query
(``limit`` at most :data:`tools.aws.logs_insights.MAX_ROWS_PER_PAGE`) that keeps whole traces by
the last two hex digits of the trace id when the range holds more spans than
:attr:`SpanLimits.max_spans`; the kept share is recorded. The span query passes
:func:`tools.aws.logs_insights.check_query` (10,000 characters) and runs through
:class:`~tools.aws.logs_insights.LogsInsights` (StopQuery on any abnormal exit).

Span text (service, operation, instance names) is untrusted: every string is redacted with
:func:`tools.redact.redact` and cut to :data:`MAX_TEXT_CHARS`; URL query strings are dropped.
A failing source (access denied, throttled, a failed query) is not raised: the read returns what
it has and one gap line per failure, so the ``traces`` tool can say what it could not check.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from tools.aws.errors import AwsError, aws_call
from tools.aws.logs_insights import MAX_ROWS_PER_PAGE, LogsInsights
from tools.aws.session import Location
from tools.models import Model, TimeWindow, to_utc
from tools.redact import redact

log = logging.getLogger(__name__)

SERVICE = "X-Ray"
SPAN_LOG_GROUP = "aws/spans"
MAX_TRACE_IDS_PER_BATCH = 5
XRAY_SLICE_S = 6 * 3600.0
MAX_TEXT_CHARS = 200
MAX_BATCH_PAGES = 5
MAX_SUBSEGMENT_DEPTH = 64
SpanSourceName = Literal["auto", "xray", "transaction-search", "none"]
SOURCES: tuple[str, ...] = ("auto", "xray", "transaction-search", "none")
XRAY_SAMPLING_NOTE = (
    "X-Ray records only the requests its sampling rules select; the rate applied to a trace is "
    "not returned by GetTraceSummaries or BatchGetTraces, so it is unknown"
)
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
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$"
)
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


class SpanLimits(Model):
    """Bounds of one span read (per call of :func:`read_spans`)."""

    source: SpanSourceName = Field(
        default="auto", description="auto: Transaction Search when aws/spans exists, else X-Ray"
    )
    max_traces: int = Field(default=200, ge=1, le=5000, description="X-Ray traces read")
    max_summary_pages: int = Field(default=20, ge=1, le=400, description="GetTraceSummaries")
    max_spans: int = Field(default=MAX_ROWS_PER_PAGE, ge=1, le=MAX_ROWS_PER_PAGE)
    filter_expression: str | None = Field(
        default=None, max_length=2000, description="X-Ray filter expression (optional)"
    )

    @classmethod
    def from_env(cls) -> SpanLimits:
        """Defaults, with ``RCA_SPAN_SOURCE`` when set.

        Raises:
            ValueError: ``RCA_SPAN_SOURCE`` is not one of :data:`SOURCES`.
        """
        value = os.environ.get("RCA_SPAN_SOURCE", "").strip().lower()
        if not value:
            return cls()
        if value not in SOURCES:
            raise ValueError(f"RCA_SPAN_SOURCE={value!r}: use one of {', '.join(SOURCES)}")
        return cls(source=value)  # type: ignore[arg-type]


class SpanRead(Model):
    """What one span read produced: rows (dicts of span columns) and its provenance.

    ``sampling``: ``rate`` is the share of the source's traces (X-Ray: of the trace summaries
    found; Transaction Search: of the spans) that was kept, ``recording_rate`` is always None
    (unknown, see the notes). ``gaps``: what could not be read, one line each; ``failed``: an
    AWS call failed (access denied, throttled, a failed query), so a later read may do better.
    """

    source: str
    location: str = ""
    rows: list[dict[str, Any]] = Field(default_factory=list)
    traces: int = 0
    calls: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    gaps: list[str] = Field(default_factory=list)
    failed: bool = False


# ------------------------------------------------------------------------------ text
def _text(value: Any) -> str:
    """Untrusted span text: redacted, one line, at most :data:`MAX_TEXT_CHARS`."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return redact(text)[:MAX_TEXT_CHARS]


def _route(method: Any, url: Any) -> str:
    """``METHOD /path`` from an HTTP request, the query string dropped and id-like path
    segments (numbers, long hex, UUIDs) written ``{id}`` so an operation names a route."""
    path = ""
    if url:
        try:
            parts = urlsplit(str(url))
            path = parts.path or "/"
        except ValueError:
            path = ""
    if path:
        path = "/".join("{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/"))
    return " ".join(x for x in (str(method or "").upper(), path) if x)


def _ns(seconds: Any) -> int | None:
    """Epoch seconds (a JSON number) as integer nanoseconds, exact for the decimal digits the
    document carries (``1773763200.331`` -> ``1773763200331000000``)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | str):
        return None
    try:
        value = Decimal(str(seconds))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return int(value * 1_000_000_000)


# ------------------------------------------------------------------------ X-Ray segments
def _instance(doc: dict[str, Any]) -> str:
    aws = doc.get("aws") if isinstance(doc.get("aws"), dict) else {}
    for group, key in (
        ("ecs", "container"),
        ("ecs", "container_id"),
        ("eks", "pod"),
        ("ec2", "instance_id"),
    ):
        part = aws.get(group)
        if isinstance(part, dict) and part.get(key):
            return _text(part[key])
    return ""


def _status(doc: dict[str, Any]) -> tuple[str, str]:
    """``(status, status_code)`` of a segment or subsegment (see the module docstring)."""
    http = doc.get("http") if isinstance(doc.get("http"), dict) else {}
    response = http.get("response") if isinstance(http.get("response"), dict) else {}
    code = response.get("status")
    status = (
        "fault"
        if doc.get("fault")
        else "throttle"
        if doc.get("throttle")
        else "error"
        if doc.get("error")
        else "ok"
    )
    if isinstance(code, int | float) and not isinstance(code, bool):
        return status, str(int(code))
    return status, "FAULT" if status == "fault" else ""


def _operation(doc: dict[str, Any], namespace: str) -> str:
    aws = doc.get("aws") if isinstance(doc.get("aws"), dict) else {}
    http = doc.get("http") if isinstance(doc.get("http"), dict) else {}
    request = http.get("request") if isinstance(http.get("request"), dict) else {}
    if aws.get("operation"):
        prefix = f"{doc.get('name')}." if namespace == "aws" and doc.get("name") else ""
        return _text(f"{prefix}{aws['operation']}")
    route = _route(request.get("method"), request.get("url"))
    return _text(route or doc.get("name"))


def segment_rows(
    documents: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Span rows from X-Ray segment documents (parsed JSON) of any number of traces.

    Returns the rows and counts of what was left out (``inferred``, ``in_progress``,
    ``malformed`` segments or subsegments). Subsegments nested deeper than
    :data:`MAX_SUBSEGMENT_DEPTH` are left out as malformed.
    """
    rows: list[dict[str, Any]] = []
    skipped = {"inferred": 0, "in_progress": 0, "malformed": 0}
    callee_of: dict[tuple[str, str], str] = {}
    for doc in documents:
        if not isinstance(doc, dict) or not doc.get("id") or not doc.get("trace_id"):
            skipped["malformed"] += 1
            continue
        if doc.get("inferred"):
            skipped["inferred"] += 1
            continue
        service = _text(doc.get("name"))
        instance = _instance(doc)
        trace = _text(doc["trace_id"])
        if doc.get("parent_id"):
            callee_of[(trace, str(doc["parent_id"]))] = service
        stack: list[tuple[dict[str, Any], str, int]] = [(doc, str(doc.get("parent_id") or ""), 0)]
        while stack:
            item, parent, depth = stack.pop()
            start, end = _ns(item.get("start_time")), _ns(item.get("end_time"))
            if item.get("in_progress") or end is None:
                skipped["in_progress"] += 1
                continue
            if start is None or end < start or not item.get("id") or depth > MAX_SUBSEGMENT_DEPTH:
                skipped["malformed"] += 1
                continue
            namespace = str(item.get("namespace") or "") if depth else ""
            kind = "server" if depth == 0 else "client" if namespace in ("aws", "remote") else ""
            status, code = _status(item)
            rows.append(
                {
                    "trace_id": trace,
                    "span_id": _text(item["id"]),
                    "parent_id": _text(parent),
                    "service": service,
                    "instance": instance,
                    "operation": _operation(item, namespace),
                    "kind": kind or "internal",
                    "start_ns": start,
                    "duration_ns": end - start,
                    "status_code": code,
                    "status": status,
                    "peer_service": _text(item.get("name")) if kind == "client" else "",
                }
            )
            for child in item.get("subsegments") or []:
                if isinstance(child, dict):
                    stack.append((child, str(item["id"]), depth + 1))
    for row in rows:  # the called service is the segment the client subsegment is parent of
        callee = callee_of.get((row["trace_id"], row["span_id"]))
        if row["kind"] == "client" and callee:
            row["peer_service"] = callee
    return rows, {k: v for k, v in skipped.items() if v}


# ----------------------------------------------------------------- Transaction Search
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
                "trace_id": _text(record["traceId"]),
                "span_id": _text(record["spanId"]),
                "parent_id": _text(record.get("parentSpanId")),
                "service": _text(
                    _first(
                        record, "resource.attributes.service.name", "attributes.aws.local.service"
                    )
                ),
                "instance": _text(
                    _first(
                        record,
                        "resource.attributes.service.instance.id",
                        "resource.attributes.k8s.pod.name",
                        "resource.attributes.host.name",
                    )
                ),
                "operation": _text(record.get("name")),
                "kind": kind,
                "start_ns": start,
                "duration_ns": duration,
                "status_code": code,
                "status": status,
                "peer_service": _text(peer),
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


# ------------------------------------------------------------------------- readers
def _gap(source: str, exc: AwsError) -> str:
    return f"{source} spans not read: {exc}"


def xray_spans(
    client: Any,
    window: TimeWindow,
    limits: SpanLimits,
    *,
    location: Location | None = None,
) -> SpanRead:
    """Spans of the traces that started in ``window`` from X-Ray (see the module docstring).

    Never raises an AWS error: a failing call ends that part of the read and adds a gap line.
    """
    where = location or Location()
    read = SpanRead(source="xray", location=where.label())

    def call(operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        read.calls += 1
        return aws_call(
            method,
            service=SERVICE,
            operation=operation,
            account=where.account,
            region=where.region,
            **kwargs,
        )

    slices = max(2, math.ceil(window.seconds / XRAY_SLICE_S))
    pages_per_slice = max(1, limits.max_summary_pages // slices)
    step = window.seconds / slices
    ids: dict[str, None] = {}
    truncated = 0
    processed = 0
    try:
        for i in range(slices):
            lo = window.start + timedelta(seconds=step * i)
            hi = window.end if i == slices - 1 else window.start + timedelta(seconds=step * (i + 1))
            request: dict[str, Any] = {
                "StartTime": to_utc(lo),
                "EndTime": to_utc(hi),
                "TimeRangeType": "TraceId",
                "Sampling": False,
            }
            if limits.filter_expression:
                request["FilterExpression"] = limits.filter_expression
            for page_no in range(pages_per_slice):
                page = call("GetTraceSummaries", client.get_trace_summaries, **request)
                processed += int(page.get("TracesProcessedCount") or 0)
                for summary in page.get("TraceSummaries") or []:
                    if summary.get("Id"):
                        ids[str(summary["Id"])] = None
                token = page.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
                if page_no == pages_per_slice - 1:
                    truncated += 1
    except AwsError as exc:
        read.gaps.append(_gap("X-Ray", exc))
        read.failed = True
    chosen = sorted(ids, key=lambda t: hashlib.blake2b(t.encode(), digest_size=8).digest())
    chosen = chosen[: limits.max_traces]
    read.sampling = {
        "method": "uniform subset of the trace summaries found, by a hash of the trace id",
        "traces_found": len(ids),
        "traces_read": len(chosen),
        "rate": round(len(chosen) / len(ids), 6) if ids else 1.0,
        "recording_rate": None,
        "note": XRAY_SAMPLING_NOTE,
        "summary_slices": slices,
        "slices_cut_at_page_limit": truncated,
        "traces_processed_count": processed,
    }
    if truncated:
        read.gaps.append(
            f"X-Ray trace summaries: {truncated} of {slices} time slices stopped at the page "
            f"limit ({pages_per_slice} pages each); their later traces were not seen"
        )
    documents: list[dict[str, Any]] = []
    unprocessed: list[str] = []
    traces_seen: set[str] = set()
    try:
        for start in range(0, len(chosen), MAX_TRACE_IDS_PER_BATCH):
            batch = chosen[start : start + MAX_TRACE_IDS_PER_BATCH]
            token: str | None = None
            for _ in range(MAX_BATCH_PAGES):
                kwargs: dict[str, Any] = {"TraceIds": batch}
                if token:
                    kwargs["NextToken"] = token
                page = call("BatchGetTraces", client.batch_get_traces, **kwargs)
                unprocessed += [str(t) for t in page.get("UnprocessedTraceIds") or []]
                for trace in page.get("Traces") or []:
                    traces_seen.add(str(trace.get("Id")))
                    for segment in trace.get("Segments") or []:
                        documents.extend(_documents(segment))
                token = page.get("NextToken")
                if not token:
                    break
    except AwsError as exc:
        read.gaps.append(_gap("X-Ray", exc))
        read.failed = True
    if unprocessed:
        read.gaps.append(f"X-Ray BatchGetTraces left {len(unprocessed)} trace(s) unprocessed")
    read.rows, read.skipped = segment_rows(documents)
    read.traces = len(traces_seen)
    if read.skipped.get("malformed"):
        read.gaps.append(
            f"X-Ray: {read.skipped['malformed']} malformed segment(s) or subsegment(s) left out"
        )
    return read


def _documents(segment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    text = segment.get("Document")
    if not text:
        return
    try:
        doc = json.loads(str(text))
    except (ValueError, RecursionError):
        yield {}  # counted as malformed
        return
    yield doc if isinstance(doc, dict) else {}


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
        read.gaps.append(_gap("Transaction Search", exc))
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


def _epoch_ns(when: datetime) -> int:
    return (calendar.timegm(when.utctimetuple()) * 1_000_000 + when.microsecond) * 1000


def _inside(start_ns: int, window: TimeWindow) -> bool:
    return _epoch_ns(window.start) <= start_ns < _epoch_ns(window.end)


def choose_source(limits: SpanLimits, insights: LogsInsights | None, group: str) -> str:
    """The span source to read: the configured one, or for ``auto`` Transaction Search when
    ``group`` (``aws/spans``) exists, else X-Ray. An error while looking (access denied to
    DescribeLogGroups) falls back to X-Ray."""
    if limits.source != "auto":
        return limits.source
    if insights is None:
        return "xray"
    try:
        return "transaction-search" if group in insights.existing_groups([group]) else "xray"
    except AwsError as exc:
        log.info("cannot tell whether %s exists (%s); reading X-Ray", group, exc)
        return "xray"


def read_spans(
    window: TimeWindow,
    limits: SpanLimits,
    *,
    xray_client: Callable[[], Any],
    insights: Callable[[], LogsInsights],
    location: Location | None = None,
    group: str = SPAN_LOG_GROUP,
) -> SpanRead:
    """Spans of ``window`` in one account and Region from the source :func:`choose_source`
    picks (clients are built lazily, only for the source used)."""
    if limits.source == "none":
        return SpanRead(source="none", gaps=["span reading is turned off (RCA_SPAN_SOURCE=none)"])
    logs = insights() if limits.source in ("auto", "transaction-search") else None
    source = choose_source(limits, logs, group)
    if source == "transaction-search" and logs is not None:
        return transaction_search_spans(logs, window, limits, group=group)
    return xray_spans(xray_client(), window, limits, location=location)


def name_services(
    rows: Sequence[dict[str, Any]], resolve: Callable[[str], str | None]
) -> dict[str, str]:
    """Rename ``service`` / ``peer_service`` of ``rows`` in place to workspace element names
    where ``resolve`` (name or alias -> element name, None when unknown) knows them; returns the
    renames made ``{source name: element name}``."""
    renamed: dict[str, str] = {}
    cache: dict[str, str | None] = {}
    for row in rows:
        for key in ("service", "peer_service"):
            name = row.get(key) or ""
            if not name:
                continue
            if name not in cache:
                cache[name] = resolve(name)
            target = cache[name]
            if target and target != name:
                row[key] = target
                renamed[name] = target
    return renamed


def to_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame with the bundle's span columns (required and optional)."""
    import pandas as pd

    from tools.bundle import SPAN_COLUMNS, SPAN_OPTIONAL_COLUMNS

    columns = [*SPAN_COLUMNS, *SPAN_OPTIONAL_COLUMNS]
    frame = pd.DataFrame(list(rows), columns=columns)
    for column in columns:
        if column not in ("start_ns", "duration_ns"):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "").astype(str)
    for column in ("start_ns", "duration_ns"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def read_window_label(read: SpanRead) -> str:
    """One line saying where spans came from (source, location, traces, spans, share kept)."""
    rate = read.sampling.get("rate")
    share = f", {rate:.1%} of the source's traces" if isinstance(rate, float) and rate < 1 else ""
    name = {"xray": "AWS X-Ray", "transaction-search": "CloudWatch Transaction Search"}.get(
        read.source, read.source
    )
    return f"{name} in {read.location}: {read.traces} traces, {len(read.rows)} spans{share}"
