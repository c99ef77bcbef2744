"""AWS X-Ray: the service graph, and the spans of traces as bundle v2 span rows.

**Service graph** (:class:`XRayServiceGraph`): ``GetServiceGraph`` returns ``Services`` (each
with ``ReferenceId``, ``Name`` and ``Edges`` whose ``ReferenceId`` points at the callee), paged by
``NextToken``; StartTime/EndTime are datetimes.
https://docs.aws.amazon.com/xray/latest/api/API_GetServiceGraph.html

**Spans** (:func:`xray_spans`;
  https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html,
https://docs.aws.amazon.com/xray/latest/api/API_BatchGetTraces.html):

- GetTraceSummaries ``StartTime`` / ``EndTime`` (datetimes), ``TimeRangeType="TraceId"`` (traces
  selected by their start time), ``Sampling=False``, optional ``FilterExpression``, paged by
  ``NextToken``; the range is cut into slices of at most :data:`XRAY_SLICE_S` (6 hours, a
  conservative bound; the API reference states none) and each slice reads at most its share of
  :attr:`~tools.aws.span_rows.SpanLimits.max_summary_pages` pages;
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
  than :attr:`~tools.aws.span_rows.SpanLimits.max_traces`, a uniform subset is kept by a hash of the
  trace id, and the kept share is recorded.

With Transaction Search enabled, BatchGetTraces finds no traces; :mod:`tools.aws.spans` then reads
:mod:`tools.aws.transaction_search` instead. A failing call (access denied, throttled) is not
raised by :func:`xray_spans`: the read returns what it has and one gap line per failure.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from tools.aws.errors import AwsError, aws_call
from tools.aws.session import LocatedWrapper, Location
from tools.aws.span_rows import SpanLimits, SpanRead, gap_line, span_text
from tools.models import TimeWindow, to_utc

SERVICE = "X-Ray"
MAX_TRACE_IDS_PER_BATCH = 5
XRAY_SLICE_S = 6 * 3600.0
MAX_BATCH_PAGES = 5
MAX_SUBSEGMENT_DEPTH = 64
XRAY_SAMPLING_NOTE = (
    "X-Ray records only the requests its sampling rules select; the rate applied to a trace is "
    "not returned by GetTraceSummaries or BatchGetTraces, so it is unknown"
)
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$"
)


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
def _object(value: Any) -> dict[str, Any]:
    """A JSON object field of a segment document, ``{}`` when absent or not an object."""
    return value if isinstance(value, dict) else {}


def _instance(doc: dict[str, Any]) -> str:
    aws = _object(doc.get("aws"))
    for group, key in (
        ("ecs", "container"),
        ("ecs", "container_id"),
        ("eks", "pod"),
        ("ec2", "instance_id"),
    ):
        part = aws.get(group)
        if isinstance(part, dict) and part.get(key):
            return span_text(part[key])
    return ""


def _status(doc: dict[str, Any]) -> tuple[str, str]:
    """``(status, status_code)`` of a segment or subsegment (see the module docstring)."""
    http = _object(doc.get("http"))
    response = _object(http.get("response"))
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
    aws = _object(doc.get("aws"))
    http = _object(doc.get("http"))
    request = _object(http.get("request"))
    if aws.get("operation"):
        prefix = f"{doc.get('name')}." if namespace == "aws" and doc.get("name") else ""
        return span_text(f"{prefix}{aws['operation']}")
    route = _route(request.get("method"), request.get("url"))
    return span_text(route or doc.get("name"))


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
        service = span_text(doc.get("name"))
        instance = _instance(doc)
        trace = span_text(doc["trace_id"])
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
                    "span_id": span_text(item["id"]),
                    "parent_id": span_text(parent),
                    "service": service,
                    "instance": instance,
                    "operation": _operation(item, namespace),
                    "kind": kind or "internal",
                    "start_ns": start,
                    "duration_ns": end - start,
                    "status_code": code,
                    "status": status,
                    "peer_service": span_text(item.get("name")) if kind == "client" else "",
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
        read.gaps.append(gap_line("X-Ray", exc))
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
            batch_token: str | None = None
            for _ in range(MAX_BATCH_PAGES):
                kwargs: dict[str, Any] = {"TraceIds": batch}
                if batch_token:
                    kwargs["NextToken"] = batch_token
                page = call("BatchGetTraces", client.batch_get_traces, **kwargs)
                unprocessed += [str(t) for t in page.get("UnprocessedTraceIds") or []]
                for trace in page.get("Traces") or []:
                    traces_seen.add(str(trace.get("Id")))
                    for segment in trace.get("Segments") or []:
                        documents.extend(_documents(segment))
                batch_token = page.get("NextToken")
                if not batch_token:
                    break
    except AwsError as exc:
        read.gaps.append(gap_line("X-Ray", exc))
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


class XRayServiceGraph(LocatedWrapper):
    """The X-Ray service graph of one account and Region.

    Raises:
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service = SERVICE

    def edges(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """Observed calls as sorted, unique ``(caller service name, callee service name)``."""
        names: dict[int, str] = {}
        raw: list[tuple[int, int]] = []
        token: str | None = None
        while True:
            page = self._call(
                "GetServiceGraph",
                self.client.get_service_graph,
                StartTime=to_utc(start),
                EndTime=to_utc(end),
                **({"NextToken": token} if token else {}),
            )
            for service in page.get("Services", []):
                ref = service.get("ReferenceId")
                if ref is None:
                    continue
                names[ref] = str(service.get("Name") or ref)
                raw += [
                    (ref, e["ReferenceId"]) for e in service.get("Edges", []) if "ReferenceId" in e
                ]
            token = page.get("NextToken")
            if not token:
                break
        return sorted({(names[a], names[b]) for a, b in raw if a in names and b in names})
