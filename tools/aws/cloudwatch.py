"""CloudWatch metrics and alarms: ListMetrics, GetMetricData, DescribeAlarmHistory, DescribeAlarms.

API facts (AWS API reference, mirrored in botocore's service model):

- GetMetricData: "as many as **500** different metrics in a single request, with a total of as
  many as **100,800** data points"; StartTime/EndTime are datetimes (sent as ISO 8601 UTC);
  results page with ``NextToken``. Retention decides the finest period: 60 s data for 15 days,
  300 s for 63 days, 3600 s for 455 days.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
- ``ANOMALY_DETECTION_BAND(m, stddev)`` is a metric math expression returning the expected band.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
- ListMetrics filters by namespace, metric name and dimensions (a metric matches when it has
  those dimensions), 500 results per page with ``NextToken``; it lists metrics that had data in
  the past two weeks.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html
- DescribeAlarmHistory with ``HistoryItemType=StateUpdate`` returns state transitions whose
  ``HistoryData`` is a JSON document with ``oldState`` / ``newState`` ``stateValue`` and
  ``stateReason``; DescribeAlarms takes at most 100 ``AlarmNames`` per call.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, ValidationError

from tools.aws.session import LocatedWrapper, Location
from tools.bundle import AlarmStateChange
from tools.models import Model, to_utc

SERVICE = "CloudWatch"
MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
MAX_POINTS_PER_SERIES = 1440
MAX_ALARM_NAMES_PER_CALL = 100
COUNT_STATS = frozenset(["Sum", "SampleCount"])


class MetricId(Model):
    """One metric's identity: namespace, name and its exact dimension set."""

    namespace: str
    metric: str
    dimensions: dict[str, str] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """A hashable identity: ``(namespace, metric, sorted (dimension, value) pairs)``."""
        return (self.namespace, self.metric, tuple(sorted(self.dimensions.items())))


class MetricData(Model):
    """The datapoints of one metric and statistic (ascending time), with its status.

    ``status`` is GetMetricData's StatusCode (Complete, PartialData, InternalError, Forbidden);
    ``band_low`` / ``band_high`` are set when an anomaly detection band was requested.
    """

    metric: MetricId
    stat: str
    period_s: int
    timestamps: list[datetime] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list)
    status: str = "Complete"
    band_timestamps: list[datetime] = Field(default_factory=list)
    band_values: list[float] = Field(default_factory=list)


def choose_period(start: datetime, end: datetime, now: datetime) -> int:
    """The GetMetricData period in seconds (a multiple of 60, at least 60) for ``[start, end)``.

    At most :data:`MAX_POINTS_PER_SERIES` points per series, and no finer than the retention of
    the oldest point allows (60 s up to 15 days old, 300 s up to 63 days, then 3600 s).
    """
    age_days = (now - start).total_seconds() / 86400
    finest = 60 if age_days <= 15 else 300 if age_days <= 63 else 3600
    span = max((end - start).total_seconds(), 60.0)
    needed = math.ceil(span / MAX_POINTS_PER_SERIES / 60) * 60
    period = max(finest, needed)
    return int(math.ceil(period / finest) * finest)


def _dims(dimensions: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]


class CloudWatchMetrics(LocatedWrapper):
    """CloudWatch metrics and alarms in one account and Region.

    ``client`` is a boto3 ``cloudwatch`` client (or stand-in); ``now`` returns the current UTC
    time (injectable, for the retention rule of :func:`choose_period`). ``linked_account`` reads
    a source account's metrics from a monitoring account (CloudWatch cross-account
    observability, no role): ListMetrics sends ``IncludeLinkedAccounts`` / ``OwningAccount`` and
    every metric query carries ``AccountId`` (API_ListMetrics, API_MetricDataQuery).

    Raises (from every method):
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service = SERVICE

    def __init__(
        self,
        client: Any,
        *,
        location: Location | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        linked_account: str | None = None,
    ) -> None:
        super().__init__(client, location=location)
        self.now = now
        self.linked_account = linked_account

    def _pages(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> list[Any]:
        pages = []
        token: str | None = None
        while True:
            request = {**kwargs, **({"NextToken": token} if token else {})}
            page = self._call(operation, method, **request)
            pages.append(page)
            token = page.get("NextToken")
            if not token:
                return pages

    # --------------------------------------------------------------- metrics
    def list_metrics(
        self, namespace: str, metric: str | None = None, dimensions: dict[str, str] | None = None
    ) -> list[MetricId]:
        """Every metric of ``namespace`` (and ``metric``) having all of ``dimensions``."""
        request: dict[str, Any] = {"Namespace": namespace}
        if metric:
            request["MetricName"] = metric
        if dimensions:
            request["Dimensions"] = _dims(dimensions)
        if self.linked_account:
            request["IncludeLinkedAccounts"] = True
            request["OwningAccount"] = self.linked_account
        found: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricId] = {}
        for page in self._pages("ListMetrics", self.client.list_metrics, **request):
            for m in page.get("Metrics", []):
                mid = MetricId(
                    namespace=m["Namespace"],
                    metric=m["MetricName"],
                    dimensions={d["Name"]: d["Value"] for d in m.get("Dimensions", [])},
                )
                found.setdefault(mid.key, mid)
        return [found[k] for k in sorted(found)]

    def get_metric_data(
        self,
        metrics: Sequence[tuple[MetricId, str]],
        start: datetime,
        end: datetime,
        *,
        period_s: int | None = None,
        anomaly_band_stddev: float | None = None,
    ) -> list[MetricData]:
        """Datapoints of every ``(metric, stat)`` in ``[start, end)``, batched.

        A call holds at most 500 queries and 100,800 datapoints (the period decides points per
        series); an anomaly band adds one expression query per metric. Pages follow NextToken.
        Returns one :class:`MetricData` per input, in input order.
        """
        period = period_s or choose_period(start, end, self.now())
        points = max(1, math.ceil((end - start).total_seconds() / period))
        per_query = 2 if anomaly_band_stddev is not None else 1
        batch = max(1, min(MAX_QUERIES_PER_CALL, MAX_DATAPOINTS_PER_CALL // points) // per_query)
        out: list[MetricData] = []
        for offset in range(0, len(metrics), batch):
            chunk = metrics[offset : offset + batch]
            queries: list[dict[str, Any]] = []
            for i, (mid, stat) in enumerate(chunk):
                queries.append(
                    {
                        "Id": f"m{i}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": mid.namespace,
                                "MetricName": mid.metric,
                                "Dimensions": _dims(mid.dimensions),
                            },
                            "Period": period,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
                if self.linked_account:
                    queries[-1]["AccountId"] = self.linked_account
                if anomaly_band_stddev is not None:
                    queries.append(
                        {
                            "Id": f"b{i}",
                            "Expression": f"ANOMALY_DETECTION_BAND(m{i}, {anomaly_band_stddev:g})",
                            "ReturnData": True,
                        }
                    )
            series: dict[str, tuple[list[datetime], list[float], str]] = {}
            for page in self._pages(
                "GetMetricData",
                self.client.get_metric_data,
                MetricDataQueries=queries,
                StartTime=to_utc(start),
                EndTime=to_utc(end),
                ScanBy="TimestampAscending",
            ):
                for result in page.get("MetricDataResults", []):
                    times, values, _ = series.setdefault(result["Id"], ([], [], "Complete"))
                    times += [to_utc(t) for t in result.get("Timestamps", [])]
                    values += [float(v) for v in result.get("Values", [])]
                    series[result["Id"]] = (times, values, result.get("StatusCode", "Complete"))
            for i, (mid, stat) in enumerate(chunk):
                times, values, status = series.get(f"m{i}", ([], [], "Complete"))
                pairs = sorted({t: v for t, v in zip(times, values, strict=True)}.items())
                data = MetricData(
                    metric=mid,
                    stat=stat,
                    period_s=period,
                    timestamps=[t for t, _ in pairs],
                    values=[v for _, v in pairs],
                    status=status,
                )
                if anomaly_band_stddev is not None:
                    b_times, b_values, _ = series.get(f"b{i}", ([], [], "Complete"))
                    data.band_timestamps, data.band_values = b_times, b_values
                out.append(data)
        return out

    # ---------------------------------------------------------------- alarms
    def describe_alarms(self, names: Sequence[str]) -> dict[str, MetricId | None]:
        """Alarm name -> the metric it watches (the first metric of a math alarm), or None
        (composite alarms, or alarms deleted since)."""
        out: dict[str, MetricId | None] = {name: None for name in names}
        unique = sorted(set(names))
        for offset in range(0, len(unique), MAX_ALARM_NAMES_PER_CALL):
            for page in self._pages(
                "DescribeAlarms",
                self.client.describe_alarms,
                AlarmNames=unique[offset : offset + MAX_ALARM_NAMES_PER_CALL],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            ):
                for alarm in page.get("MetricAlarms", []):
                    out[alarm["AlarmName"]] = _alarm_metric(alarm)
        return out

    def alarm_history(self, start: datetime, end: datetime) -> list[AlarmStateChange]:
        """Alarm state transitions in ``[start, end)``, ascending time, with the watched metric.

        One DescribeAlarmHistory sweep (StateUpdate items, pages of 100) and one DescribeAlarms
        call per 100 distinct alarm names. Items whose HistoryData is not the documented JSON are
        skipped.
        """
        changes: list[AlarmStateChange] = []
        for page in self._pages(
            "DescribeAlarmHistory",
            self.client.describe_alarm_history,
            HistoryItemType="StateUpdate",
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            StartDate=to_utc(start),
            EndDate=to_utc(end),
            ScanBy="TimestampAscending",
            MaxRecords=100,
        ):
            for item in page.get("AlarmHistoryItems", []):
                change = _state_change(item)
                if change is not None and start <= change.timestamp < end:
                    changes.append(change)
        if not changes:
            return []
        metrics = self.describe_alarms([c.alarm_name for c in changes])
        for change in changes:
            mid = metrics.get(change.alarm_name)
            if mid is not None:
                change.namespace, change.metric = mid.namespace, mid.metric
                change.dimensions = dict(mid.dimensions)
        return sorted(changes, key=lambda c: (c.timestamp, c.alarm_name))


def _alarm_metric(alarm: dict[str, Any]) -> MetricId | None:
    if alarm.get("MetricName") and alarm.get("Namespace"):
        return MetricId(
            namespace=alarm["Namespace"],
            metric=alarm["MetricName"],
            dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
        )
    for query in alarm.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric and metric.get("MetricName") and metric.get("Namespace"):
            return MetricId(
                namespace=metric["Namespace"],
                metric=metric["MetricName"],
                dimensions={d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            )
    return None


def _state_change(item: dict[str, Any]) -> AlarmStateChange | None:
    try:
        data = json.loads(item.get("HistoryData") or "{}")
        old, new = data["oldState"], data["newState"]
        return AlarmStateChange(
            alarm_name=item["AlarmName"],
            timestamp=item["Timestamp"],
            old_state=old["stateValue"],
            new_state=new["stateValue"],
            reason=str(new.get("stateReason") or item.get("HistorySummary") or "")[:1000],
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError):
        return None


def default_unit(stat: str) -> str:
    """GetMetricData returns no unit: ``Count`` for Sum/SampleCount statistics, else ``None``."""
    return "Count" if stat in COUNT_STATS else "None"
