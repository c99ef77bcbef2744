"""The telemetry backend over an incident bundle (the embedded default).

Log patterns are mined with Drain3 (:mod:`tools.logmining`) over the baseline and window records
of the requested log groups; metrics, alarms and CloudTrail records are read from the bundle files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.bundle import AlarmStateChange, Bundle, CloudTrailRecord
from tools.loglevel import log_level
from tools.models import TimeWindow
from tools.redact import redact
from tools.telemetry.base import (
    LogPattern,
    LogPatternResult,
    MetricSelector,
    MetricSeries,
    TelemetryBackend,
    reference_bin_seconds,
)

MAX_SAMPLES = 3


class BundleBackend(TelemetryBackend):
    """Serves one incident bundle. Read-only; safe to share between threads after loading."""

    name = "bundle"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._by_namespace: dict[str, list[Any]] | None = None
        self._redacted: dict[str, str] = {}
        self._patterns: dict[Any, LogPatternResult] = {}

    def _redact(self, message: str) -> str:
        """:func:`tools.redact.redact` of a raw line, remembered per distinct line for the
        backend's lifetime (log lines repeat; every tool call would redact them again)."""
        found = self._redacted.get(message)
        if found is None:
            found = redact(message)
            self._redacted[message] = message if found == message else found
        return found

    def log_patterns(
        self, log_groups: list[str], window: TimeWindow, baseline: TimeWindow, bin_seconds: int
    ) -> LogPatternResult:
        """Drain3 templates of the window's records, counted in window and baseline."""
        return self.reference_log_patterns(log_groups, window, [baseline], bin_seconds)

    def reference_log_patterns(
        self,
        log_groups: list[str],
        window: TimeWindow,
        references: list[TimeWindow],
        bin_seconds: int,
    ) -> LogPatternResult:
        """Templates (Drain3, or the record's event key when it has one) of the window's
        records, counted in the window (per ``bin_seconds`` bin) and over every reference
        window (in total, and per whole bin of
        :func:`tools.telemetry.base.reference_bin_seconds`). Each raw line is
        redacted (:func:`tools.redact.redact`) before it is mined or sampled. A repeated
        request (same groups, periods and bins) returns the first result without mining again."""
        key = (
            tuple(log_groups),
            (window.start, window.end),
            tuple((r.start, r.end) for r in references),
            bin_seconds,
        )
        found = self._patterns.get(key)
        if found is None:
            found = self._mine(log_groups, window, references, bin_seconds)
            self._patterns[key] = found
        return found

    def _mine(
        self,
        log_groups: list[str],
        window: TimeWindow,
        references: list[TimeWindow],
        bin_seconds: int,
    ) -> LogPatternResult:
        from tools.logmining import LogTemplateMiner  # Drain3 on use: AWS-world runs skip it

        baseline = references[0]
        miner = LogTemplateMiner()
        n_bins = max(1, int(-(-window.seconds // bin_seconds)))
        # whole reference bins, each reference binned from its own start
        ref_width = reference_bin_seconds(references, bin_seconds)
        ref_bins = [int(r.seconds // ref_width) for r in references]
        ref_offset = [sum(ref_bins[:j]) for j in range(len(references))]
        n_ref_bins = sum(ref_bins)
        baseline_bins: dict[int | str, list[int]] = defaultdict(lambda: [0] * n_ref_bins)
        window_counts: dict[int | str, int] = defaultdict(int)
        baseline_counts: dict[int | str, int] = defaultdict(int)
        bins: dict[int | str, list[int]] = defaultdict(lambda: [0] * n_bins)
        samples: dict[int | str, list[str]] = defaultdict(list)
        links: dict[int | str, list[str]] = defaultdict(list)
        first_seen: dict[int | str, datetime] = {}
        scanned = scanned_bytes = n_window = n_baseline = 0
        missing = [g for g in log_groups if g not in self.bundle.log_files]
        for group in log_groups:
            table = self.bundle.log_table(group)
            inside = table.between(window)
            keep = inside.copy()
            which: dict[int, int] = {}  # record -> the first reference that holds it
            for j, ref in enumerate(references):
                within = table.between(ref)
                which.update(dict.fromkeys((within & ~keep).nonzero()[0].tolist(), j))
                keep |= within
            for i in keep.nonzero()[0].tolist():
                raw, when, key = table.messages[i], table.times[i], table.event_keys[i]
                in_window = bool(inside[i])
                scanned += 1
                scanned_bytes += len(raw.encode("utf-8"))
                # redact the raw line before mining: Drain3 masks digits, after which a token
                # such as ``xoxb-<*>-<*>-...`` no longer matches any secret rule
                message = self._redact(raw)
                # a stable source location is its own template, never masked (bundle v2),
                # named by the line's level (its first word is a timestamp in most formats)
                cluster = f"{log_level(raw) or '-'} {key}" if key else miner.add(message)
                if in_window:
                    n_window += 1
                    window_counts[cluster] += 1
                    index = int((when - window.start).total_seconds() // bin_seconds)
                    bins[cluster][min(index, n_bins - 1)] += 1
                    first_seen.setdefault(cluster, when)
                    if len(samples[cluster]) < MAX_SAMPLES and message not in samples[cluster]:
                        samples[cluster].append(message)
                        if table.span_ids[i]:
                            links[cluster].append(f"{table.trace_ids[i] or ''}/{table.span_ids[i]}")
                else:
                    n_baseline += 1
                    baseline_counts[cluster] += 1
                    j = which[i]
                    index = int((when - references[j].start).total_seconds() // ref_width)
                    if index < ref_bins[j]:
                        baseline_bins[cluster][ref_offset[j] + index] += 1
        patterns = [
            LogPattern(
                template=cluster if isinstance(cluster, str) else miner.template(cluster),
                window_count=window_counts.get(cluster, 0),
                baseline_count=baseline_counts.get(cluster, 0),
                bins=bins[cluster] if cluster in bins else [0] * n_bins,
                baseline_bins=(
                    baseline_bins[cluster] if cluster in baseline_bins else [0] * n_ref_bins
                ),
                samples=samples.get(cluster, []),
                first_seen=first_seen.get(cluster),
                span_links=links.get(cluster, []),
            )
            for cluster in sorted(set(window_counts) | set(baseline_counts), key=str)
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
            baseline_seconds=sum(r.seconds for r in references),
            baseline_bin_seconds=ref_width,
        )

    def _index(self) -> dict[str, list[tuple[str, dict[str, str], str, Any, Any]]]:
        """Series per namespace, built once from the bundle's metric table: (metric,
        dimensions, unit, epoch-seconds array, values array), time-ordered, one point per
        timestamp (the last one read)."""
        import numpy as np
        import pandas as pd  # on first use: the tool Lambdas and the runtime never read bundles

        if self._by_namespace is None:
            index: dict[str, list[Any]] = defaultdict(list)
            frame = self.bundle.metric_frame
            if frame is None:
                points = self.bundle.metric_points
                frame = pd.DataFrame(
                    {
                        "timestamp": pd.to_datetime([p.timestamp for p in points], utc=True),
                        "namespace": [p.namespace for p in points],
                        "metric": [p.metric for p in points],
                        "dimensions": [json.dumps(p.dimensions, sort_keys=True) for p in points],
                        "dims": [p.dimensions for p in points],
                        "value": [p.value for p in points],
                        "unit": [p.unit for p in points],
                    }
                )
            if len(frame):
                start = pd.Timestamp(0, tz="UTC")
                frame = frame.assign(epoch=(frame["timestamp"] - start).dt.total_seconds())
                frame = frame.sort_values("epoch", kind="stable")
                frame = frame.drop_duplicates(
                    ["namespace", "metric", "dimensions", "epoch"], keep="last"
                )
                keys = ["namespace", "metric", "dimensions"]
                codes = frame.groupby(keys, sort=True).ngroup().to_numpy()
                order = np.argsort(codes, kind="stable")  # by series, time order kept
                codes = codes[order]
                starts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist()]
                ends = [*starts[1:], len(codes)]
                epochs = frame["epoch"].to_numpy()[order]
                values = frame["value"].to_numpy(dtype=float)[order]
                firsts = frame.iloc[order[starts]]
                for (namespace, metric, dims, unit), lo, hi in zip(
                    zip(
                        firsts["namespace"],
                        firsts["metric"],
                        firsts["dims"],
                        firsts["unit"],
                        strict=True,
                    ),
                    starts,
                    ends,
                    strict=True,
                ):
                    index[str(namespace)].append(
                        (str(metric), dict(dims), str(unit), epochs[lo:hi], values[lo:hi])
                    )
            self._by_namespace = dict(index)
        return self._by_namespace

    def metric_series(
        self, selectors: list[MetricSelector], window: TimeWindow
    ) -> list[MetricSeries]:
        """Series of every datapoint matching any selector, within ``window`` (each series
        once, even when several selectors match it)."""
        import numpy as np

        index = self._index()
        lo, hi = window.start.timestamp(), window.end.timestamp()
        found: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricSeries] = {}
        for selector in selectors:
            for metric, dims, unit, times, values in index.get(selector.namespace, []):
                key = (selector.namespace, metric, tuple(sorted(dims.items())))
                if key in found or not selector.matches(selector.namespace, metric, dims):
                    continue
                first, last = np.searchsorted(times, [lo, hi], side="left")
                if first >= last:
                    continue
                # values come from the validated metric table: no second validation per series
                found[key] = MetricSeries.model_construct(
                    namespace=selector.namespace,
                    metric=metric,
                    dimensions=dims,
                    unit=unit,
                    timestamps=[
                        datetime.fromtimestamp(float(t), tz=UTC) for t in times[first:last]
                    ],
                    values=[float(v) for v in values[first:last]],
                )
        return [found[k] for k in sorted(found)]

    def alarm_history(self, window: TimeWindow) -> list[AlarmStateChange]:
        return [a for a in self.bundle.alarm_changes if window.contains(a.timestamp)]

    def write_events(self, window: TimeWindow) -> list[CloudTrailRecord]:
        return [
            r for r in self.bundle.cloudtrail_records if r.is_write and window.contains(r.eventTime)
        ]

    def spans(self, window: TimeWindow) -> Any:
        """The bundle's spans starting in ``window``; None when the bundle has no spans."""
        table = self.bundle.spans
        if table.empty:
            return None
        lo, hi = int(window.start.timestamp() * 1e9), int(window.end.timestamp() * 1e9)
        starts = table["start_ns"]
        return table[(starts >= lo) & (starts < hi)]

    def span_logs(self, window: TimeWindow, references: list[TimeWindow]) -> Any:
        """Log records with a span link and an event key in any of the windows (every log
        group of the bundle); the level is :func:`tools.loglevel.log_level` of the line and
        ``message`` the raw line (the traces tool matches it against the services a span
        called; it never leaves the tool)."""
        import pandas as pd

        rows: list[tuple[str, str, str, str, int, str]] = []
        for group in self.bundle.log_files:
            table = self.bundle.log_table(group)
            keep = table.between(window)
            for period in references:
                keep |= table.between(period)
            for i in keep.nonzero()[0].tolist():
                span_id, key = table.span_ids[i], table.event_keys[i]
                if span_id is None or key is None:
                    continue
                rows.append(
                    (
                        table.trace_ids[i] or "",
                        span_id,
                        key,
                        log_level(table.messages[i]),
                        int(table.times[i].timestamp() * 1e9),
                        table.messages[i],
                    )
                )
        return pd.DataFrame(
            rows, columns=["trace_id", "span_id", "event_key", "level", "t_ns", "message"]
        )

    def coverage(self) -> TimeWindow | None:
        """From the earliest to the latest timestamp of any telemetry in the bundle."""
        times: list[datetime] = []
        for group in self.bundle.log_files:
            table = self.bundle.log_table(group)
            if len(table):
                times += [table.times[0], table.times[-1]]
        frame = self.bundle.metric_frame
        if frame is not None and len(frame):
            times += [
                frame["timestamp"].min().to_pydatetime(),
                frame["timestamp"].max().to_pydatetime(),
            ]
        elif frame is None and self.bundle.metric_points:
            stamps = [p.timestamp for p in self.bundle.metric_points]
            times += [min(stamps), max(stamps)]
        trail = self.bundle.cloudtrail_records
        if trail:
            times += [trail[0].eventTime, trail[-1].eventTime]
        if not times:
            return None
        return TimeWindow(start=min(times), end=max(times) + timedelta(seconds=1))
