"""The telemetry backend over an incident bundle (the embedded default).

Log patterns are mined with Drain3 (:mod:`tools.logmining`) over the baseline and window records
of the requested log groups; metrics, alarms and CloudTrail records are read from the bundle files.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from tools.bundle import AlarmStateChange, Bundle, CloudTrailRecord, MetricPoint
from tools.logmining import LogTemplateMiner
from tools.models import TimeWindow
from tools.redact import redact
from tools.telemetry.base import (
    LogPattern,
    LogPatternResult,
    MetricSelector,
    MetricSeries,
    TelemetryBackend,
)

MAX_SAMPLES = 3


class BundleBackend(TelemetryBackend):
    """Serves one incident bundle. Read-only; safe to share between threads after loading."""

    name = "bundle"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._by_namespace: dict[str, list[MetricPoint]] | None = None

    def log_patterns(
        self, log_groups: list[str], window: TimeWindow, baseline: TimeWindow, bin_seconds: int
    ) -> LogPatternResult:
        """Drain3 templates of the window's records, counted in window and baseline. Each raw
        line is redacted (:func:`tools.redact.redact`) before it is mined or sampled."""
        miner = LogTemplateMiner()
        n_bins = max(1, int(-(-window.seconds // bin_seconds)))
        window_counts: dict[int, int] = defaultdict(int)
        baseline_counts: dict[int, int] = defaultdict(int)
        bins: dict[int, list[int]] = defaultdict(lambda: [0] * n_bins)
        samples: dict[int, list[str]] = defaultdict(list)
        first_seen: dict[int, datetime] = {}
        scanned = scanned_bytes = n_window = n_baseline = 0
        missing = [g for g in log_groups if g not in self.bundle.log_files]
        for group in log_groups:
            for record in self.bundle.log_records(group):
                in_window = window.contains(record.timestamp)
                if not in_window and not baseline.contains(record.timestamp):
                    continue
                scanned += 1
                scanned_bytes += len(record.message.encode("utf-8"))
                # redact the raw line before mining: Drain3 masks digits, after which a token
                # such as ``xoxb-<*>-<*>-...`` no longer matches any secret rule
                message = redact(record.message)
                cluster = miner.add(message)
                if in_window:
                    n_window += 1
                    window_counts[cluster] += 1
                    index = int((record.timestamp - window.start).total_seconds() // bin_seconds)
                    bins[cluster][min(index, n_bins - 1)] += 1
                    first_seen.setdefault(cluster, record.timestamp)
                    if len(samples[cluster]) < MAX_SAMPLES and message not in samples[cluster]:
                        samples[cluster].append(message)
                else:
                    n_baseline += 1
                    baseline_counts[cluster] += 1
        patterns = [
            LogPattern(
                template=miner.template(cluster),
                window_count=window_counts.get(cluster, 0),
                baseline_count=baseline_counts.get(cluster, 0),
                bins=bins[cluster] if cluster in bins else [0] * n_bins,
                samples=samples.get(cluster, []),
                first_seen=first_seen.get(cluster),
            )
            for cluster in sorted(set(window_counts) | set(baseline_counts))
        ]
        return LogPatternResult(
            log_groups=log_groups,
            window=window,
            baseline=baseline,
            query="drain3 template mining over the bundle's log records",
            bin_seconds=bin_seconds,
            patterns=patterns,
            window_records=n_window,
            baseline_records=n_baseline,
            records_scanned=scanned,
            bytes_scanned=scanned_bytes,
            missing_groups=missing,
        )

    def metric_series(
        self, selectors: list[MetricSelector], window: TimeWindow
    ) -> list[MetricSeries]:
        """Series of every datapoint matching any selector, within ``window``."""
        if self._by_namespace is None:
            index: dict[str, list[MetricPoint]] = defaultdict(list)
            for point in self.bundle.metric_points:
                index[point.namespace].append(point)
            self._by_namespace = dict(index)
        grouped: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[MetricPoint]] = (
            defaultdict(list)
        )
        for selector in selectors:
            for point in self._by_namespace.get(selector.namespace, []):
                if window.contains(point.timestamp) and selector.matches(
                    point.namespace, point.metric, point.dimensions
                ):
                    key = (point.namespace, point.metric, tuple(sorted(point.dimensions.items())))
                    grouped[key].append(point)
        series = []
        for (namespace, metric, dims), points in sorted(grouped.items()):
            unique = {p.timestamp: p for p in points}  # overlapping selectors: keep one point
            ordered = [unique[t] for t in sorted(unique)]
            series.append(
                MetricSeries(
                    namespace=namespace,
                    metric=metric,
                    dimensions=dict(dims),
                    unit=ordered[0].unit,
                    timestamps=[p.timestamp for p in ordered],
                    values=[p.value for p in ordered],
                )
            )
        return series

    def alarm_history(self, window: TimeWindow) -> list[AlarmStateChange]:
        return [a for a in self.bundle.alarm_changes if window.contains(a.timestamp)]

    def write_events(self, window: TimeWindow) -> list[CloudTrailRecord]:
        return [
            r for r in self.bundle.cloudtrail_records if r.is_write and window.contains(r.eventTime)
        ]

    def coverage(self) -> TimeWindow | None:
        """From the earliest to the latest timestamp of any telemetry in the bundle."""
        times: list[datetime] = []
        for group in self.bundle.log_files:
            records = self.bundle.log_records(group)
            if records:
                times += [records[0].timestamp, records[-1].timestamp]
        points = self.bundle.metric_points
        if points:
            stamps = [p.timestamp for p in points]
            times += [min(stamps), max(stamps)]
        trail = self.bundle.cloudtrail_records
        if trail:
            times += [trail[0].eventTime, trail[-1].eventTime]
        if not times:
            return None
        return TimeWindow(start=min(times), end=max(times) + timedelta(seconds=1))
