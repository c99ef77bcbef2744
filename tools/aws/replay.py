"""Clients that answer the AWS calls of the RCA wrappers from an incident bundle.

``ReplayClients(bundle)`` is a :class:`~tools.aws.session.ClientFactory`: the AWS backend runs
against it exactly as against boto3 clients, offline. It serves the request shapes the wrappers
send (and rejects others as AWS would): Logs Insights ``pattern @message``, ``pattern @message |
diff`` and the per-pattern ``strcontains`` bin query (templates mined with Drain3, like the
bundle backend), DescribeLogGroups, FilterLogEvents, ListMetrics, GetMetricData, DescribeAlarms,
DescribeAlarmHistory, CloudTrail LookupEvents, an empty X-Ray service graph, and the bundle's
spans as X-Ray traces (GetTraceSummaries, BatchGetTraces). ``aws/spans`` does not exist in a
replay, so span reading picks X-Ray.

Uses: the end-to-end test (same scenario through the bundle and the AWS backend), the API-call
benchmark (``extra_groups`` simulates an account with many unrelated log groups), capture tests.
Every call is recorded in ``calls`` as ``(service, operation, account, region)``; Logs Insights
statistics (records and bytes scanned) are computed from the records in the queried range.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from tools.aws.logs_insights import DIFF_QUERY, MAX_LOG_GROUPS_PER_QUERY, PATTERN_QUERY
from tools.aws.session import Location
from tools.bundle import Bundle, LogRecord, MetricPoint
from tools.logmining import LogTemplateMiner
from tools.models import to_utc

_FLAG = re.compile(r'strcontains\(@message, "([^"]*)"\) as rca_p(\d+)')
_BIN = re.compile(r"bin\((\d+)([smh])\)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
LOG_EVENT_OVERHEAD_BYTES = 26  # CloudWatch Logs counts 26 bytes of metadata per event


def client_error(operation: str, code: str, message: str) -> ClientError:
    """A botocore ``ClientError`` as a service would raise it."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _fmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


@dataclass(frozen=True)
class ExtraGroup:
    """A simulated log group that holds no records but has a volume (for statistics)."""

    events_per_minute: float
    bytes_per_event: float = 200.0


@dataclass
class CallLog:
    """Every call made through the replay clients, and the Logs Insights volume scanned."""

    calls: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    bytes_scanned: float = 0.0
    records_scanned: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, service: str, operation: str, location: Location) -> None:
        with self.lock:
            self.calls.append((service, operation, location.account, location.region))

    def count(self, service: str | None = None, operation: str | None = None) -> int:
        return sum(
            1
            for s, o, _, _ in self.calls
            if (service is None or s == service) and (operation is None or o == operation)
        )


class _Base:
    service = ""

    def __init__(self, owner: ReplayClients, location: Location) -> None:
        self.owner = owner
        self.bundle = owner.bundle
        self.location = location

    def _log(self, operation: str) -> None:
        self.owner.log.add(self.service, operation, self.location)


class ReplayLogs(_Base):
    """``logs`` client: Logs Insights queries, DescribeLogGroups, FilterLogEvents."""

    service = "logs"

    def _groups(self) -> dict[str, Any]:
        return {**dict.fromkeys(self.bundle.log_files), **self.owner.extra_groups}

    def _records(self, group: str, start: datetime, end: datetime) -> list[LogRecord]:
        return [r for r in self.bundle.log_records(group) if start <= r.timestamp < end]

    def _volume(self, groups: list[str], start: datetime, end: datetime) -> tuple[float, float]:
        records = volume = 0.0
        for group in groups:
            extra = self.owner.extra_groups.get(group)
            if extra is not None:
                n = extra.events_per_minute * (end - start).total_seconds() / 60
                records += n
                volume += n * (extra.bytes_per_event + LOG_EVENT_OVERHEAD_BYTES)
                continue
            for r in self._records(group, start, end):
                records += 1
                volume += len(r.message.encode("utf-8")) + LOG_EVENT_OVERHEAD_BYTES
        return records, volume

    def start_query(self, **kw: Any) -> dict[str, Any]:
        self._log("StartQuery")
        groups = list(kw.get("logGroupNames") or [])
        if not 1 <= len(groups) <= MAX_LOG_GROUPS_PER_QUERY:
            raise client_error("StartQuery", "InvalidParameterException", "1-50 log groups")
        unknown = [g for g in groups if g not in self._groups()]
        if unknown:
            raise client_error(
                "StartQuery", "ResourceNotFoundException", f"Log group {unknown[0]} does not exist"
            )
        start = datetime.fromtimestamp(int(kw["startTime"]), tz=UTC)
        end = datetime.fromtimestamp(int(kw["endTime"]) + 1, tz=UTC)
        query = str(kw["queryString"])
        rows, scanned = self._evaluate(query, groups, start, end)
        records, volume = scanned
        with self.owner.log.lock:
            self.owner.log.bytes_scanned += volume
            self.owner.log.records_scanned += records
        query_id = f"q{next(self.owner.ids)}"
        self.owner.queries[query_id] = {
            "rows": rows[: int(kw.get("limit") or 10_000)],
            "statistics": {
                "recordsMatched": float(len(rows)),
                "recordsScanned": records,
                "bytesScanned": volume,
            },
            "polls": 0,
        }
        return {"queryId": query_id}

    def get_query_results(self, **kw: Any) -> dict[str, Any]:
        self._log("GetQueryResults")
        query = self.owner.queries.get(kw["queryId"])
        if query is None:
            raise client_error("GetQueryResults", "ResourceNotFoundException", "unknown query")
        query["polls"] += 1
        done = query["polls"] > self.owner.polls_until_complete
        results = [[{"field": k, "value": str(v)} for k, v in row.items()] for row in query["rows"]]
        return {
            "status": "Complete" if done else "Running",
            "results": results if done else results[: len(results) // 2],
            "statistics": query["statistics"],
        }

    def stop_query(self, **kw: Any) -> dict[str, Any]:
        self._log("StopQuery")
        return {"success": True}

    def describe_log_groups(self, **kw: Any) -> dict[str, Any]:
        self._log("DescribeLogGroups")
        prefix = kw.get("logGroupNamePrefix", "")
        names = sorted(g for g in self._groups() if g.startswith(prefix))
        start = int(kw.get("nextToken") or 0)
        size = int(kw.get("limit") or 50)
        page = names[start : start + size]
        out: dict[str, Any] = {"logGroups": [{"logGroupName": n} for n in page]}
        if start + size < len(names):
            out["nextToken"] = str(start + size)
        return out

    def filter_log_events(self, **kw: Any) -> dict[str, Any]:
        self._log("FilterLogEvents")
        group = kw["logGroupName"]
        if group not in self._groups():
            raise client_error("FilterLogEvents", "ResourceNotFoundException", "no such group")
        start = datetime.fromtimestamp(kw["startTime"] / 1000, tz=UTC)
        end = datetime.fromtimestamp((kw["endTime"] + 1) / 1000, tz=UTC)
        records = self._records(group, start, end)
        offset = int(kw.get("nextToken") or 0)
        limit = min(int(kw.get("limit") or 10_000), self.owner.page_size)
        page = records[offset : offset + limit]
        out: dict[str, Any] = {
            "events": [
                {
                    "timestamp": int(r.timestamp.timestamp() * 1000),
                    "message": r.message,
                    "logStreamName": r.stream,
                }
                for r in page
            ]
        }
        if offset + limit < len(records):
            out["nextToken"] = str(offset + limit)
        return out

    # ------------------------------------------------------------ queries
    def _evaluate(
        self, query: str, groups: list[str], start: datetime, end: datetime
    ) -> tuple[list[dict[str, Any]], tuple[float, float]]:
        if query in (PATTERN_QUERY, DIFF_QUERY):
            diff = query == DIFF_QUERY
            previous = start - (end - start)
            miner = LogTemplateMiner()
            current: dict[int, int] = defaultdict(int)
            before: dict[int, int] = defaultdict(int)
            for group in groups:
                for r in self._records(group, previous if diff else start, end):
                    cluster = miner.add(r.message)
                    (current if r.timestamp >= start else before)[cluster] += 1
            total = sum(current.values()) or 1
            rows = []
            for group in groups:  # simulated groups: one steady pattern with their volume
                extra = self.owner.extra_groups.get(group)
                if extra is not None:
                    per_period = round(extra.events_per_minute * (end - start).total_seconds() / 60)
                    synthetic: dict[str, Any] = {
                        "@pattern": f"{group} request <*> done",
                        "@sampleCount": per_period,
                    }
                    if diff and self.owner.diff_previous_field:
                        synthetic[self.owner.diff_previous_field] = per_period
                    rows.append(synthetic)
            for cluster in sorted(set(current) | set(before)):
                row: dict[str, Any] = {
                    "@pattern": miner.template(cluster),
                    "@ratio": round(current.get(cluster, 0) / total, 4),
                    "@sampleCount": current.get(cluster, 0),
                    "@severityLabel": "Error"
                    if "error" in miner.template(cluster).lower()
                    else "Info",
                }
                if diff and self.owner.diff_previous_field:
                    row[self.owner.diff_previous_field] = before.get(cluster, 0)
                if row["@sampleCount"] or diff:
                    rows.append(row)
            return rows, self._volume(groups, previous if diff else start, end)
        flags = _FLAG.findall(query)
        width = _BIN.search(query)
        if flags and width and "rca_pid" in query:
            literals = {int(i): lit for lit, i in flags}
            bin_s = int(width.group(1)) * _UNIT_S[width.group(2)]
            bin_field = f"bin({width.group(1)}{width.group(2)})"
            groups_out: dict[tuple[int, datetime], list[LogRecord]] = defaultdict(list)
            for group in groups:
                for r in self._records(group, start, end):
                    pid = sum(2**i for i, lit in literals.items() if lit in r.message)
                    if pid:
                        slot = start + timedelta(
                            seconds=((r.timestamp - start).total_seconds() // bin_s) * bin_s
                        )
                        groups_out[(pid, slot)].append(r)
            rows = [
                {
                    "rca_pid": pid,
                    bin_field: _fmt(slot),
                    "rca_n": len(items),
                    "rca_first": _fmt(min(r.timestamp for r in items)),
                    "rca_sample": min(items, key=lambda r: r.timestamp).message,
                }
                for (pid, slot), items in sorted(groups_out.items())
            ]
            return rows, self._volume(groups, start, end)
        raise client_error("StartQuery", "MalformedQueryException", f"unsupported: {query!r}")


class ReplayCloudWatch(_Base):
    """``cloudwatch`` client: ListMetrics, GetMetricData, DescribeAlarmHistory, DescribeAlarms."""

    service = "cloudwatch"

    def _points(self) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], list[MetricPoint]]:
        return self.owner.metric_index()

    def list_metrics(self, **kw: Any) -> dict[str, Any]:
        self._log("ListMetrics")
        want = {d["Name"]: d["Value"] for d in kw.get("Dimensions", [])}
        names = sorted(
            key
            for key in self._points()
            if key[0] == kw["Namespace"]
            and kw.get("MetricName") in (None, key[1])
            and all(dict(key[2]).get(k) == v for k, v in want.items())
        )
        start = int(kw.get("NextToken") or 0)
        page = names[start : start + 500]
        out: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": ns,
                    "MetricName": m,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                }
                for ns, m, dims in page
            ]
        }
        if start + 500 < len(names):
            out["NextToken"] = str(start + 500)
        return out

    def get_metric_data(self, **kw: Any) -> dict[str, Any]:
        self._log("GetMetricData")
        queries = kw["MetricDataQueries"]
        if len(queries) > 500:
            raise client_error("GetMetricData", "ValidationError", "at most 500 queries")
        start, end = to_utc(kw["StartTime"]), to_utc(kw["EndTime"])
        results = []
        for q in queries:
            if "MetricStat" not in q:
                results.append(
                    {"Id": q["Id"], "Timestamps": [], "Values": [], "StatusCode": "Complete"}
                )
                continue
            stat = q["MetricStat"]
            metric = stat["Metric"]
            key = (
                metric["Namespace"],
                metric["MetricName"],
                tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))),
            )
            period = int(stat["Period"])
            slots: dict[datetime, list[float]] = defaultdict(list)
            for p in self._points().get(key, []):
                if start <= p.timestamp < end:
                    offset = (p.timestamp - start).total_seconds() // period * period
                    slots[start + timedelta(seconds=offset)].append(p.value)
            times = sorted(slots)
            values = [_aggregate(slots[t], stat["Stat"]) for t in times]
            results.append(
                {
                    "Id": q["Id"],
                    "Label": metric["MetricName"],
                    "Timestamps": times,
                    "Values": values,
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results}

    def describe_alarm_history(self, **kw: Any) -> dict[str, Any]:
        self._log("DescribeAlarmHistory")
        start, end = to_utc(kw["StartDate"]), to_utc(kw["EndDate"])
        items = [
            {
                "AlarmName": a.alarm_name,
                "AlarmType": "MetricAlarm",
                "Timestamp": a.timestamp,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {a.old_state} to {a.new_state}",
                "HistoryData": json.dumps(
                    {
                        "version": "1.0",
                        "oldState": {"stateValue": a.old_state},
                        "newState": {"stateValue": a.new_state, "stateReason": a.reason},
                    }
                ),
            }
            for a in self.bundle.alarm_changes
            if start <= a.timestamp < end
        ]
        offset = int(kw.get("NextToken") or 0)
        size = int(kw.get("MaxRecords") or 100)
        out: dict[str, Any] = {"AlarmHistoryItems": items[offset : offset + size]}
        if offset + size < len(items):
            out["NextToken"] = str(offset + size)
        return out

    def describe_alarms(self, **kw: Any) -> dict[str, Any]:
        self._log("DescribeAlarms")
        names = set(kw.get("AlarmNames") or [])
        if len(names) > 100:
            raise client_error("DescribeAlarms", "ValidationError", "at most 100 names")
        alarms = {}
        for a in self.bundle.alarm_changes:
            if a.alarm_name in names and a.namespace and a.metric:
                alarms[a.alarm_name] = {
                    "AlarmName": a.alarm_name,
                    "Namespace": a.namespace,
                    "MetricName": a.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in a.dimensions.items()],
                }
        return {"MetricAlarms": list(alarms.values()), "CompositeAlarms": []}


def _aggregate(values: list[float], stat: str) -> float:
    if stat == "Sum":
        return float(sum(values))
    if stat == "Maximum":
        return float(max(values))
    if stat == "Minimum":
        return float(min(values))
    if stat == "SampleCount":
        return float(len(values))
    return float(sum(values) / len(values))


class ReplayCloudTrail(_Base):
    """``cloudtrail`` client: LookupEvents over the bundle's records of this account/Region."""

    service = "cloudtrail"

    def lookup_events(self, **kw: Any) -> dict[str, Any]:
        self._log("LookupEvents")
        attributes = kw.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise client_error(
                "LookupEvents", "InvalidLookupAttributesException", "one attribute only"
            )
        start, end = to_utc(kw["StartTime"]), to_utc(kw["EndTime"])
        records = []
        for r in self.bundle.cloudtrail_records:
            if not start <= r.eventTime < end:
                continue
            if self.location.account and r.recipientAccountId not in (None, self.location.account):
                continue
            if self.location.region and r.awsRegion not in (None, self.location.region):
                continue
            if attributes:
                key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
                if key == "ReadOnly" and str(not r.is_write).lower() != value:
                    continue
                if key == "ResourceName" and value not in json.dumps(r.raw):
                    continue
                if key == "EventName" and r.eventName != value:
                    continue
            records.append(r)
        records.sort(key=lambda r: r.eventTime, reverse=True)  # newest first, like the API
        offset = int(kw.get("NextToken") or 0)
        size = min(int(kw.get("MaxResults") or 50), 50)
        page = records[offset : offset + size]
        out: dict[str, Any] = {
            "Events": [
                {
                    "EventId": r.eventID,
                    "EventName": r.eventName,
                    "EventTime": r.eventTime,
                    "EventSource": r.eventSource,
                    "ReadOnly": str(not r.is_write).lower(),
                    "CloudTrailEvent": json.dumps(r.raw),
                }
                for r in page
            ]
        }
        if offset + size < len(records):
            out["NextToken"] = str(offset + size)
        return out


class ReplayXRay(_Base):
    """``xray`` client: an empty service graph; the bundle's spans (``spans.csv``) as X-Ray
    traces: GetTraceSummaries (traces by start time, :attr:`ReplayClients.summary_page_size`
    per page) and BatchGetTraces (at most 5 trace ids, as the API reference says), whose
    segment documents :func:`segment_documents` builds."""

    service = "xray"

    def get_service_graph(self, **kw: Any) -> dict[str, Any]:
        self._log("GetServiceGraph")
        return {"Services": [], "StartTime": kw["StartTime"], "EndTime": kw["EndTime"]}

    def get_trace_summaries(self, **kw: Any) -> dict[str, Any]:
        self._log("GetTraceSummaries")
        lo, hi = to_utc(kw["StartTime"]).timestamp(), to_utc(kw["EndTime"]).timestamp()
        starts = self.owner.trace_starts()
        ids = sorted(t for t, start in starts.items() if lo <= start < hi)
        offset = int(kw.get("NextToken") or 0)
        size = self.owner.summary_page_size
        out: dict[str, Any] = {
            "TraceSummaries": [
                {"Id": t, "StartTime": datetime.fromtimestamp(starts[t], tz=UTC)}
                for t in ids[offset : offset + size]
            ],
            "TracesProcessedCount": len(ids[offset : offset + size]),
            "ApproximateTime": to_utc(kw["EndTime"]),
        }
        if offset + size < len(ids):
            out["NextToken"] = str(offset + size)
        return out

    def batch_get_traces(self, **kw: Any) -> dict[str, Any]:
        self._log("BatchGetTraces")
        ids = list(kw.get("TraceIds") or [])
        if not 1 <= len(ids) <= 5:
            raise client_error(
                "BatchGetTraces", "InvalidRequestException", "TraceIds: 1 to 5 items"
            )
        documents = self.owner.trace_documents()
        traces = [
            {
                "Id": t,
                "Segments": [
                    {"Id": d["id"], "Document": json.dumps(d)} for d in documents.get(t, [])
                ],
            }
            for t in ids
            if t in documents
        ]
        return {"Traces": traces, "UnprocessedTraceIds": [t for t in ids if t not in documents]}


def segment_documents(spans: Any) -> dict[str, list[dict[str, Any]]]:
    """X-Ray segment documents per trace id from bundle span rows (a DataFrame with
    :data:`tools.bundle.SPAN_COLUMNS`): a span whose parent is missing or in another service
    starts a segment (``name`` = service, ``parent_id`` = the parent span); a span whose parent
    is in the same service is a subsegment of it, ``namespace: remote`` when it calls another
    service or its kind is ``client``. A numeric status code becomes ``http.response.status``
    (with ``fault`` for 5xx, ``error`` for 4xx, ``throttle`` for 429); ``ERROR`` / ``FAULT``
    become ``fault``. Times are epoch seconds."""
    rows = spans.to_dict(orient="records")
    by_id = {(r["trace_id"], r["span_id"]): r for r in rows}
    callers = {(r["trace_id"], r["parent_id"]) for r in rows if r["parent_id"]}
    children: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    roots: list[dict[str, Any]] = []
    for r in rows:
        parent = by_id.get((r["trace_id"], r["parent_id"])) if r["parent_id"] else None
        if parent is None or parent["service"] != r["service"]:
            roots.append(r)
        else:
            children[(r["trace_id"], r["parent_id"])].append(r)

    def build(r: dict[str, Any], segment: bool) -> dict[str, Any]:
        start = int(r["start_ns"]) / 1e9
        doc: dict[str, Any] = {
            "id": r["span_id"],
            "name": r["service"] if segment else r["operation"],
            "start_time": start,
            "end_time": start + int(r["duration_ns"]) / 1e9,
        }
        if segment:
            doc["trace_id"] = r["trace_id"]
            if r["parent_id"]:
                doc["parent_id"] = r["parent_id"]
            if r.get("instance"):
                doc["aws"] = {"ecs": {"container": r["instance"]}}
            doc["http"] = {"request": {"method": "GET", "url": f"/{r['operation']}"}}
        elif (r["trace_id"], r["span_id"]) in callers or r.get("kind") == "client":
            doc["namespace"] = "remote"
        code = str(r.get("status_code") or "").strip().upper()
        if code.isdigit():
            doc.setdefault("http", {})["response"] = {"status": int(code)}
            status = int(code)
            doc["fault"] = status >= 500
            doc["error"] = 400 <= status < 500
            doc["throttle"] = status == 429
        elif code in ("ERROR", "FAULT"):
            doc["fault"] = True
        subs = [build(c, False) for c in children.get((r["trace_id"], r["span_id"]), [])]
        if subs:
            doc["subsegments"] = subs
        return doc

    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in roots:
        out[r["trace_id"]].append(build(r, True))
    return dict(out)


class ReplayClients:
    """A :class:`~tools.aws.session.ClientFactory` serving one bundle.

    ``polls_until_complete``: GetQueryResults answers Running (with half the rows) that many
    times before Complete. ``diff_previous_field``: the field name diff rows carry the previous
    count in (None: rows without one, to exercise the two-query fallback). ``page_size`` caps
    FilterLogEvents pages.
    """

    _CLASSES: ClassVar[dict[str, type[_Base]]] = {
        "logs": ReplayLogs,
        "cloudwatch": ReplayCloudWatch,
        "cloudtrail": ReplayCloudTrail,
        "xray": ReplayXRay,
    }

    def __init__(
        self,
        bundle: Bundle,
        *,
        extra_groups: dict[str, ExtraGroup] | None = None,
        polls_until_complete: int = 1,
        diff_previous_field: str | None = "@previousCount",
        page_size: int = 10_000,
        summary_page_size: int = 100,
    ) -> None:
        self.bundle = bundle
        self.extra_groups = dict(extra_groups or {})
        self.polls_until_complete = polls_until_complete
        self.diff_previous_field = diff_previous_field
        self.page_size = page_size
        self.summary_page_size = summary_page_size
        self._documents: dict[str, list[dict[str, Any]]] | None = None
        self._trace_starts: dict[str, float] | None = None
        self.log = CallLog()
        self.queries: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self._index: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[MetricPoint]] | None
        self._index = None
        self._lock = threading.Lock()

    def metric_index(self) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], list[MetricPoint]]:
        with self._lock:
            if self._index is None:
                index: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[MetricPoint]]
                index = defaultdict(list)
                for p in self.bundle.metric_points:
                    index[(p.namespace, p.metric, tuple(sorted(p.dimensions.items())))].append(p)
                self._index = dict(index)
            return self._index

    def trace_documents(self) -> dict[str, list[dict[str, Any]]]:
        """The bundle's spans as X-Ray segment documents per trace id (built once)."""
        with self._lock:
            if self._documents is None:
                self._documents = segment_documents(self.bundle.spans)
            return self._documents

    def trace_starts(self) -> dict[str, float]:
        """Start of each trace (its earliest span), epoch seconds."""
        with self._lock:
            if self._trace_starts is None:
                spans = self.bundle.spans
                first = spans.groupby("trace_id")["start_ns"].min() if len(spans) else {}
                self._trace_starts = {str(t): int(v) / 1e9 for t, v in dict(first).items()}
            return self._trace_starts

    def __call__(self, service: str, location: Location) -> Any:
        if service not in self._CLASSES:
            raise KeyError(f"the replay serves {', '.join(self._CLASSES)}, not {service!r}")
        return self._CLASSES[service](self, location)
