"""The telemetry backend over real AWS accounts: same interface and behaviour as the bundle backend.

What belongs to a component comes from the workspace element properties (``rca.logGroups``,
``rca.metrics``, ``rca.resources``); ``rca.account`` / ``rca.region`` (inherited from the parent
element when absent) decide which account and Region serve each log group and metric, through a
:class:`~tools.aws.session.ClientFactory` (normally :class:`~tools.aws.session.AwsSessions`, which
assumes a read-only role in other accounts).

Cost and speed (per investigation):

- logs: one ``pattern @message | diff`` Logs Insights query per component and account (at most
  50 log groups each) scanning the window and the previous period only the mapped log groups,
  plus one query for per-minute counts of the most changed patterns in the window and one for
  their counts per reference bin in the baseline (the null model's dispersion); with an
  explicit baseline that is not the previous equal period, two ``pattern`` queries instead of
  ``diff``;
- metrics: ListMetrics once per (namespace, dimensions) of a selector, then GetMetricData in
  batches of up to 500 metrics; with ``prefetch_metrics`` every selector of the workspace is
  fetched in the first call for a window (one or two calls instead of one per component);
- changes: one CloudTrail ``ReadOnly=false`` LookupEvents sweep per account and Region of the
  workspace (2 requests/s each), cached per window;
- alarms: one DescribeAlarmHistory sweep per account and Region, cached per window;
- spans (the ``traces`` tool): per account and Region, either X-Ray (GetTraceSummaries pages and
  BatchGetTraces calls of 5 trace ids, at most ``SpanLimits.max_traces`` traces) or one Logs
  Insights count query and one span query on ``aws/spans`` (CloudWatch Transaction Search, at
  most 10,000 spans), chosen as :mod:`tools.aws.spans` says; cached per window.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.aws.cloudtrail import CloudTrailLookup
from tools.aws.cloudwatch import MAX_QUERIES_PER_CALL, CloudWatchMetrics, MetricId, default_unit
from tools.aws.errors import CredentialsError, NotFoundError, QueryError, ThrottledError
from tools.aws.logs_insights import (
    DIFF_QUERY,
    MAX_LOG_GROUPS_PER_QUERY,
    PATTERN_QUERY,
    InsightsPattern,
    LogsInsights,
    PatternBins,
    QueryResult,
    bin_index,
    log_group_arn,
)
from tools.aws.pattern_match import match_templates
from tools.aws.session import AwsSessions, ClientFactory, Location, RoleConfig
from tools.aws.span_rows import SpanLimits, SpanRead, name_services, read_window_label, to_frame
from tools.aws.spans import read_spans
from tools.aws.transaction_search import SPAN_LOG_GROUP
from tools.aws.xray import XRayServiceGraph
from tools.bundle import AlarmStateChange, CloudTrailRecord
from tools.c4 import ArchitectureModel
from tools.context import ToolContext
from tools.errors import TelemetryError, WorkspaceError
from tools.models import TimeWindow
from tools.significance import MIN_DISPERSION_BINS
from tools.telemetry.base import (
    LogPattern,
    LogPatternResult,
    MetricSelector,
    MetricSeries,
    TelemetryBackend,
    reference_bin_seconds,
)
from tools.workspace import load_workspace

log = logging.getLogger(__name__)

_DEFAULT = Location()


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _wkey(window: TimeWindow) -> tuple[datetime, datetime]:
    return (window.start, window.end)


def _selector_key(selector: MetricSelector) -> str:
    return selector.model_dump_json()


class AwsBackend(TelemetryBackend):
    """Serves the telemetry of the accounts a workspace maps to. Read-only; thread-safe.

    ``clients(service, location)`` returns boto3 clients (or stand-ins such as
    :class:`tools.aws.replay.ReplayClients`). ``sleep`` / ``clock`` are passed to the pollers.

    Raises (from every method): :class:`~tools.errors.TelemetryError` subclasses of
    :mod:`tools.aws.errors` (access denied, throttled, credentials, query failed).
    """

    name = "aws"

    def __init__(
        self,
        architecture: ArchitectureModel,
        clients: ClientFactory,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        query_timeout_s: float = 120.0,
        poll_s: float = 0.5,
        max_trail_pages: int = 40,
        prefetch_metrics: bool = True,
        anomaly_band_stddev: float | None = None,
        observability: bool = False,
        span_limits: SpanLimits | None = None,
    ) -> None:
        self.architecture = architecture
        if span_limits is None:
            try:
                span_limits = SpanLimits.from_env()
            except ValueError as exc:
                raise TelemetryError(str(exc)) from exc
        self.span_limits = span_limits
        self.observability = observability
        self.skipped_trails: list[str] = []
        self.clients = clients
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.query_timeout_s = query_timeout_s
        self.poll_s = poll_s
        self.max_trail_pages = max_trail_pages
        self.prefetch_metrics = prefetch_metrics
        self.anomaly_band_stddev = anomaly_band_stddev
        self.group_location: dict[str, Location] = {}
        self.selector_location: dict[str, Location] = {}
        self.selectors: list[MetricSelector] = []
        self.locations: list[Location] = []
        self._map_workspace()
        self._lock = threading.RLock()
        self._expanded: dict[tuple[Location, str, tuple[tuple[str, str], ...]], list[MetricId]] = {}
        self._metric_cache: dict[
            tuple[Location, Any, str, tuple[datetime, datetime]], list[Any]
        ] = {}
        self._prefetched: set[tuple[datetime, datetime]] = set()
        self._alarm_cache: dict[tuple[datetime, datetime], list[AlarmStateChange]] = {}
        self._trail_cache: dict[tuple[datetime, datetime], list[CloudTrailRecord]] = {}
        self.truncated_trails: list[str] = []
        self._span_cache: dict[tuple[datetime, datetime], list[SpanRead]] = {}

    # ------------------------------------------------------------- mapping
    def location_of(self, element_id: str) -> Location:
        """``(rca.account, rca.region)`` of an element, each inherited from its ancestors."""
        account = region = None
        current: str | None = element_id
        while current is not None and (account is None or region is None):
            element = self.architecture.elements.get(current)
            if element is None:
                break
            account = account or element.properties.get("rca.account") or None
            region = region or element.properties.get("rca.region") or None
            current = element.parent
        return Location(account, region)

    def _map_workspace(self) -> None:
        locations: dict[Location, None] = {}
        for element in self.architecture.elements.values():
            try:
                tele = self.architecture.telemetry(element.id)
            except WorkspaceError as exc:
                log.warning("skipping the telemetry of %s: %s", element.name, exc)
                continue
            where = self.location_of(element.id)
            for group in tele.log_groups:
                self.group_location.setdefault(group, where)
            for selector in tele.metrics:
                key = _selector_key(selector)
                if key not in self.selector_location:
                    self.selector_location[key] = where
                    self.selectors.append(selector)
            if not tele.empty or "rca.account" in element.properties:
                locations.setdefault(where, None)
        self.locations = list(locations) or [_DEFAULT]

    def serving_location(self, location: Location) -> Location:
        """The location whose client serves ``location``: with cross-account observability,
        the monitoring account (the caller's) in the same Region; else ``location`` itself."""
        if self.observability and location.account:
            return Location(None, location.region)
        return location

    def linked_account(self, location: Location) -> str | None:
        """The source account read through the monitoring account, if any."""
        return location.account if self.observability and location.account else None

    def _insights(self, location: Location) -> LogsInsights:
        return LogsInsights(
            self.clients("logs", self.serving_location(location)),
            location=location,
            sleep=self.sleep,
            clock=self.clock,
            timeout_s=self.query_timeout_s,
            poll_s=self.poll_s,
        )

    def _cloudwatch(self, location: Location) -> CloudWatchMetrics:
        return CloudWatchMetrics(
            self.clients("cloudwatch", self.serving_location(location)),
            location=location,
            now=self.now,
            linked_account=self.linked_account(location),
        )

    # ---------------------------------------------------------------- logs
    def log_patterns(
        self, log_groups: list[str], window: TimeWindow, baseline: TimeWindow, bin_seconds: int
    ) -> LogPatternResult:
        """Logs Insights patterns of ``window`` with their counts in ``baseline``.

        ``diff`` serves the default baseline (the previous equal period); any other baseline is
        served by a second ``pattern`` query, its patterns matched to the window's by template
        text, else (each query clusters only its own period, so the same lines can get two
        texts) one-to-one up to dynamic tokens (:func:`tools.aws.pattern_match.match_templates`;
        ambiguous or generic matches stay unmatched). The most changed patterns (up to 8 per
        chunk of log groups) get per-minute counts, exact first occurrence and samples from one
        more query over the window, and their counts
        per reference bin (``baseline_bins``) from the same per-bin query over the baseline: the
        logs tool's dispersion ``phi`` (:mod:`tools.logs`), as on bundles. The reference bin
        width is the bundle backend's (:func:`tools.telemetry.base.reference_bin_seconds`),
        widened only where the baseline would need more than :data:`MAX_QUERY_BINS` query bins
        (:func:`_baseline_bin_plan`); it is ``baseline_bin_seconds``. The other patterns have
        no ``baseline_bins`` (``pattern`` and ``diff`` return one count per pattern and period,
        ``@sampleCount``), so the tool tests them against its Poisson null, as it does every
        pattern when the baseline holds fewer than 8 reference bins (no baseline query then).

        Missing log groups are reported in ``missing_groups``; a query stopped at the timeout
        makes ``partial`` true. A per-bin query that fails (:class:`QueryError`, or throttling
        past botocore's retries) or is stopped at the timeout degrades only its part: it is
        named after ``DEGRADED:`` in ``query`` and ``partial`` is set; an incomplete baseline
        per-bin answer is not used (its missing bins would read as bursts).
        """
        use_diff = baseline == window.previous()
        n_bins = max(1, math.ceil(window.seconds / bin_seconds))
        ref_width, ref_query_bin = _baseline_bin_plan(baseline, bin_seconds)
        n_ref_bins = int(baseline.seconds // ref_width)
        counts: dict[str, list[int]] = {}
        results: list[QueryResult] = []
        missing: list[str] = []
        methods: list[str] = []
        by_location: dict[Location, list[str]] = defaultdict(list)
        for group in dict.fromkeys(log_groups):
            by_location[self.group_location.get(group, _DEFAULT)].append(group)
        binned: dict[str, PatternBins] = {}
        base_binned: dict[str, PatternBins] = {}
        degraded: list[str] = []
        for location, groups in by_location.items():
            insights = self._insights(location)
            linked = self.linked_account(location)
            if linked:  # a source account's log groups, queried by ARN from the monitoring one
                meta = getattr(insights.client, "meta", None)
                region = location.region or getattr(meta, "region_name", None) or ""
                names = {log_group_arn(g, linked, region): g for g in groups}
                groups = list(names)
            else:
                names = {g: g for g in groups}
            for chunk in _chunks(groups, MAX_LOG_GROUPS_PER_QUERY):
                try:
                    chunk, gone, first = self._first_query(insights, chunk, window, use_diff)
                except QueryError as exc:  # this part of the evidence only
                    degraded.append(f"patterns of {len(chunk)} log group(s) failed: {exc}")
                    continue
                missing += [names.get(g, g) for g in gone]
                if first is None:
                    continue
                local: dict[str, list[int]] = {}
                patterns, saw_previous, result = first
                results.append(result)
                for p in patterns:
                    _add(local, p.pattern, p.count, p.previous_count or 0)
                if use_diff and saw_previous:
                    method = f"`{DIFF_QUERY}` (window vs the previous equal period)"
                else:
                    try:
                        base, _, base_result = insights.patterns(
                            chunk, baseline.start, baseline.end, diff=False
                        )
                    except QueryError as exc:
                        degraded.append(f"baseline patterns failed: {exc}")
                        base, base_result = [], None
                    if base_result is not None:
                        results.append(base_result)
                    local = _with_baseline(
                        {t: c[0] for t, c in local.items()},
                        base,
                        {p.pattern: p.severity for p in patterns},
                    )
                    method = f"`{PATTERN_QUERY}` over the window and over the baseline"
                methods.append(f"{method} in {location.label()} on {len(chunk)} log group(s)")
                top = _most_changed(local, window.seconds / baseline.seconds)
                if top:
                    bins = _pattern_bins(
                        insights, chunk, window, top, _query_bin(window), results, degraded
                    )
                    for template, detail in bins.items():
                        binned[template] = _merge_bins(binned.get(template), detail)
                if top and n_ref_bins >= MIN_DISPERSION_BINS:
                    bins = _pattern_bins(
                        insights,
                        chunk,
                        baseline,
                        top,
                        ref_query_bin,
                        results,
                        degraded,
                        reference=True,
                    )
                    for template, detail in bins.items():
                        base_binned[template] = _merge_bins(base_binned.get(template), detail)
                for template, (in_window, in_baseline) in local.items():
                    _add(counts, template, in_window, in_baseline)
        patterns_out = []
        for template, (in_window, in_baseline) in sorted(counts.items()):
            per_bin = [0] * n_bins
            found = binned.get(template)
            if found is not None:
                for when, n in found.counts.items():
                    per_bin[bin_index(when, window.start, bin_seconds, n_bins)] += n
            reference = base_binned.get(template)
            patterns_out.append(
                LogPattern(
                    template=template,
                    window_count=in_window,
                    baseline_count=in_baseline,
                    bins=per_bin,
                    baseline_bins=(
                        _reference_bins(reference, baseline, ref_width, n_ref_bins)
                        if reference is not None
                        else []
                    ),
                    samples=found.samples if found else [],
                    first_seen=found.first_seen if found else None,
                )
            )
        return LogPatternResult(
            log_groups=log_groups,
            window=window,
            baseline=baseline,
            query="CloudWatch Logs Insights "
            + ("; ".join(methods) if methods else "(no query: no log group found)")
            + "; per-minute counts of the most changed patterns (strcontains)"
            + (f", and per {ref_width} s bin of the baseline" if base_binned else "")
            + "".join(f"; DEGRADED: {d}" for d in degraded),
            bin_seconds=bin_seconds,
            baseline_bin_seconds=ref_width if base_binned else None,
            patterns=patterns_out,
            window_records=sum(c[0] for c in counts.values()),
            baseline_records=sum(c[1] for c in counts.values()),
            records_scanned=int(sum(r.statistics.records_scanned for r in results)),
            bytes_scanned=int(sum(r.statistics.bytes_scanned for r in results)),
            partial=any(r.partial for r in results) or bool(degraded),
            missing_groups=missing,
        )

    @staticmethod
    def _first_query(
        insights: LogsInsights, chunk: list[str], window: TimeWindow, use_diff: bool
    ) -> tuple[list[str], list[str], tuple[list[InsightsPattern], bool, QueryResult] | None]:
        """The window's pattern query on ``chunk``; when StartQuery names a missing log group,
        the groups that exist are found (DescribeLogGroups) and queried instead.

        Returns ``(queried groups, missing groups, (patterns, saw_previous, result) or None)``.
        """
        try:
            return chunk, [], insights.patterns(chunk, window.start, window.end, diff=use_diff)
        except NotFoundError:
            existing = insights.existing_groups(chunk)
            kept = [g for g in chunk if g in existing]
            gone = [g for g in chunk if g not in existing]
            if not kept:
                return [], gone, None
            return kept, gone, insights.patterns(kept, window.start, window.end, diff=use_diff)

    # ------------------------------------------------------------- metrics
    def _expand(self, location: Location, selector: MetricSelector) -> list[MetricId]:
        dims = tuple(sorted(selector.dimensions.items()))
        key = (location, selector.namespace, dims)
        if key not in self._expanded:
            self._expanded[key] = self._cloudwatch(location).list_metrics(
                selector.namespace, dimensions=dict(dims)
            )
        found = [m for m in self._expanded[key] if selector.metric in (None, m.metric)]
        if not found and selector.metric:
            # ListMetrics only lists metrics with data in the past two weeks
            found = [
                MetricId(
                    namespace=selector.namespace, metric=selector.metric, dimensions=dict(dims)
                )
            ]
        return found

    def _fetch(self, wanted: Iterable[tuple[Location, MetricId, str]], window: TimeWindow) -> None:
        todo: dict[Location, list[tuple[MetricId, str]]] = defaultdict(list)
        for location, mid, stat in wanted:
            if (location, mid.key, stat, _wkey(window)) not in self._metric_cache:
                todo[location].append((mid, stat))
        for location, metrics in todo.items():
            unique = list({(m.key, s): (m, s) for m, s in metrics}.values())
            data = self._cloudwatch(location).get_metric_data(
                unique, window.start, window.end, anomaly_band_stddev=self.anomaly_band_stddev
            )
            for d in data:
                self._metric_cache[(location, d.metric.key, d.stat, _wkey(window))] = [d]

    def _wanted(self, selectors: Iterable[MetricSelector]) -> list[tuple[Location, MetricId, str]]:
        out = []
        for selector in selectors:
            location = self.selector_location.get(_selector_key(selector), _DEFAULT)
            out += [(location, mid, selector.stat) for mid in self._expand(location, selector)]
        return out

    def metric_series(
        self, selectors: list[MetricSelector], window: TimeWindow
    ) -> list[MetricSeries]:
        """Every series matching any selector in ``window`` (ascending time).

        A selector without a metric name expands to every metric ListMetrics finds with its
        dimensions; a selector's dimensions may be a subset of the metric's (as on bundles).
        Units are not returned by GetMetricData: Sum / SampleCount series are ``Count``.
        """
        with self._lock:
            wanted = self._wanted(selectors)
            if (
                self.prefetch_metrics
                and _wkey(window) not in self._prefetched
                and len(self.selectors) <= MAX_QUERIES_PER_CALL
            ):
                self._prefetched.add(_wkey(window))
                wanted_all = self._wanted(self.selectors)
                self._fetch(wanted_all + wanted, window)
            else:
                self._fetch(wanted, window)
            series: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricSeries] = {}
            for location, mid, stat in wanted:
                for d in self._metric_cache.get((location, mid.key, stat, _wkey(window)), []):
                    if mid.key in series or not d.timestamps:
                        continue
                    series[mid.key] = MetricSeries(
                        namespace=mid.namespace,
                        metric=mid.metric,
                        dimensions=dict(mid.dimensions),
                        unit=default_unit(stat),
                        timestamps=list(d.timestamps),
                        values=list(d.values),
                    )
            return [series[k] for k in sorted(series)]

    # -------------------------------------------------------------- alarms
    def alarm_history(self, window: TimeWindow) -> list[AlarmStateChange]:
        """Alarm state changes in ``window`` in every account and Region of the workspace."""
        with self._lock:
            if _wkey(window) not in self._alarm_cache:
                unique: dict[tuple[str, datetime, str], AlarmStateChange] = {}
                for location in self.locations:
                    for c in self._cloudwatch(location).alarm_history(window.start, window.end):
                        unique.setdefault((c.alarm_name, c.timestamp, c.new_state), c)
                changes = list(unique.values())
                self._alarm_cache[_wkey(window)] = sorted(
                    changes, key=lambda c: (c.timestamp, c.alarm_name)
                )
            return list(self._alarm_cache[_wkey(window)])

    # ------------------------------------------------------------- changes
    def write_events(self, window: TimeWindow) -> list[CloudTrailRecord]:
        """CloudTrail write events in ``window`` in every account and Region of the workspace
        (one lookup sweep each, in parallel; each sweep at 2 requests/s)."""
        with self._lock:
            if _wkey(window) not in self._trail_cache:

                readable = []
                for location in self.locations:
                    if self.linked_account(location):  # CloudTrail is not covered by observability
                        self.skipped_trails.append(location.label())
                        log.warning(
                            "CloudTrail of %s skipped: cross-account observability does not "
                            "cover CloudTrail; configure a read-only role for that account",
                            location.label(),
                        )
                    else:
                        readable.append(location)

                def sweep(location: Location) -> tuple[Location, list[CloudTrailRecord], bool]:
                    lookup = CloudTrailLookup(
                        self.clients("cloudtrail", location),
                        location=location,
                        max_pages=self.max_trail_pages,
                    )
                    records = lookup.write_events(window.start, window.end)
                    return location, records, lookup.truncated

                with ThreadPoolExecutor(max_workers=max(1, min(4, len(readable)))) as pool:
                    swept = list(pool.map(sweep, readable))
                unique: dict[str, CloudTrailRecord] = {}
                for location, records, truncated in swept:
                    if truncated:
                        self.truncated_trails.append(location.label())
                    for record in records:
                        unique.setdefault(record.eventID, record)
                self._trail_cache[_wkey(window)] = sorted(
                    unique.values(), key=lambda r: (r.eventTime, r.eventID)
                )
            return list(self._trail_cache[_wkey(window)])

    def observed_edges(self, window: TimeWindow) -> list[tuple[str, str]]:
        """X-Ray service-graph edges ``(caller, callee)`` observed in ``window``, all locations."""
        edges: set[tuple[str, str]] = set()
        for location in dict.fromkeys(self.serving_location(loc) for loc in self.locations):
            graph = XRayServiceGraph(self.clients("xray", location), location=location)
            edges.update(graph.edges(window.start, window.end))
        return sorted(edges)

    def span_reads(self, window: TimeWindow) -> list[SpanRead]:
        """Spans that started in ``window``, read once per account and Region (the serving
        location, see :meth:`serving_location`) from X-Ray or Transaction Search
        (:func:`tools.aws.spans.read_spans`); service names that match a workspace element or
        its ``rca.aliases`` are renamed to the element's name. Cached per window unless a read
        failed. Never raises an AWS error: failures are gap lines of the reads."""
        with self._lock:
            cached = self._span_cache.get(_wkey(window))
        if cached is not None:
            return cached
        reads: list[SpanRead] = []
        for location in dict.fromkeys(self.serving_location(loc) for loc in self.locations):
            read = read_spans(
                window,
                self.span_limits,
                xray_client=lambda loc=location: self.clients("xray", loc),
                insights=lambda loc=location: self._insights(loc),
                location=location,
                group=SPAN_LOG_GROUP,
            )
            name_services(read.rows, self._element_name)
            reads.append(read)
        if not any(read.failed for read in reads):  # a failed read is retried next time
            with self._lock:
                self._span_cache[_wkey(window)] = reads
        return reads

    def _element_name(self, name: str) -> str | None:
        return self.architecture.get(name).name if self.architecture.has(name) else None

    def spans(self, window: TimeWindow) -> Any:
        """The spans of :meth:`span_reads` as one DataFrame (:data:`tools.bundle.SPAN_COLUMNS`
        and the optional columns); ``attrs["gaps"]`` lists what could not be read and
        ``attrs["sources"]`` where the spans came from. None when span reading is turned off
        (``RCA_SPAN_SOURCE=none``)."""
        if self.span_limits.source == "none":
            return None
        reads = self.span_reads(window)
        frame = to_frame([row for read in reads for row in read.rows])
        frame.attrs["gaps"] = [gap for read in reads for gap in read.gaps]
        frame.attrs["sources"] = [read_window_label(read) for read in reads]
        return frame

    def coverage(self) -> TimeWindow | None:
        """None: an account's telemetry is unbounded (retention decides)."""
        return None


def _add(counts: dict[str, list[int]], template: str, window: int, baseline: int) -> None:
    entry = counts.setdefault(template, [0, 0])
    entry[0] += window
    entry[1] += baseline


def _with_baseline(
    window: dict[str, int], base: list[InsightsPattern], severity: dict[str, str | None]
) -> dict[str, list[int]]:
    """``{template: [window count, baseline count]}`` from two ``pattern`` queries' answers: a
    baseline template counts for the window template of the same text, else for the one it
    equals up to dynamic tokens (:func:`tools.aws.pattern_match.match_templates`, one-to-one
    and conservative), else it is a template of the baseline only."""
    counts = {t: [n, 0] for t, n in window.items()}
    in_base: dict[str, int] = defaultdict(int)
    for p in base:
        in_base[p.pattern] += p.count
        severity.setdefault(p.pattern, p.severity)
    pairs = match_templates(
        [t for t, n in window.items() if n > 0 and t not in in_base],
        [t for t in in_base if t not in counts],
        severity,
    )
    renamed = {b: w for w, b in pairs.items()}
    for template, n in in_base.items():
        _add(counts, renamed.get(template, template), 0, n)
    return counts


def _most_changed(counts: dict[str, list[int]], ratio: float, limit: int = 8) -> list[str]:
    """Templates seen in the window, most significant change first (the logs tool's z-score)."""
    scored = []
    for template, (k, b) in counts.items():
        if k <= 0:
            continue
        expected = b * ratio
        scored.append(((k - expected) / math.sqrt(expected + 1.0), k, template))
    scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
    return [t for _, _, t in scored[:limit]]


def _merge_bins(left: PatternBins | None, right: PatternBins) -> PatternBins:
    if left is None:
        return right
    counts = dict(left.counts)
    for when, n in right.counts.items():
        counts[when] = counts.get(when, 0) + n
    firsts = [t for t in (left.first_seen, right.first_seen) if t is not None]
    return PatternBins(
        counts=counts,
        first_seen=min(firsts) if firsts else None,
        samples=(left.samples + [s for s in right.samples if s not in left.samples])[:3],
    )


MAX_QUERY_BINS = 1200
"""Bins of one per-bin query per pattern: 8 patterns of 1,200 bins stay within the 10,000 rows
the query asks for (``limit``, one GetQueryResults page)."""


def _query_bin(window: TimeWindow) -> int:
    """Bin width in seconds for per-pattern counts: 60 s, wider for windows over 20 hours."""
    return max(60, math.ceil(window.seconds / MAX_QUERY_BINS / 60) * 60)


def _baseline_bin_plan(baseline: TimeWindow, bin_seconds: int) -> tuple[int, int]:
    """``(reference bin width, query bin width)`` in seconds for the baseline's per-bin counts.

    The reference width is the bundle backend's (:func:`tools.telemetry.base.reference_bin_seconds`
    of the baseline and the window's ``bin_seconds``). The query counts in bins of the largest
    divisor of it on which the baseline starts (``gcd`` of the width and the start in epoch
    seconds), so every query bin falls in exactly one reference bin whether Logs Insights aligns
    ``bin()`` to the epoch or to the query's start; when that grid would need more than
    :data:`MAX_QUERY_BINS` bins the query bins are the reference bins (aligned to the start only
    up to the offset). A baseline that would need more than :data:`MAX_QUERY_BINS` reference
    bins (e.g. a week against an hour's window) gets the smallest multiple of the width that
    fits: wider bins hold whole bursts too, and still leave about 1,200 bins for the variance.
    """
    width = reference_bin_seconds([baseline], bin_seconds)
    needed = math.ceil(baseline.seconds / MAX_QUERY_BINS)
    if needed > width:
        width = math.ceil(needed / width) * width
        return width, width
    aligned = math.gcd(width, math.floor(baseline.start.timestamp()))
    return width, aligned if aligned >= needed else width


def _pattern_bins(
    insights: LogsInsights,
    chunk: list[str],
    period: TimeWindow,
    templates: list[str],
    bin_s: int,
    results: list[QueryResult],
    degraded: list[str],
    *,
    reference: bool = False,
) -> dict[str, PatternBins]:
    """:meth:`LogsInsights.pattern_bins` over ``period`` (the baseline when ``reference``); its
    result is added to ``results``. A failure (query error, throttling after retries) is added
    to ``degraded`` and gives no bins; so does a baseline answer stopped at the timeout: counts
    missing from some of its bins would read as bursts and hide real surges."""
    which = "baseline " if reference else ""
    try:
        bins, result = insights.pattern_bins(chunk, period.start, period.end, templates, bin_s)
    except (QueryError, ThrottledError) as exc:
        degraded.append(f"{which}per-bin counts failed: {exc}")
        return {}
    if result is not None:
        results.append(result)
        if reference and result.partial:
            degraded.append(
                f"{which}per-bin counts incomplete (query {result.status}): Poisson null for "
                "those patterns"
            )
            return {}
    return bins


def _reference_bins(
    found: PatternBins, baseline: TimeWindow, width: int, n_ref_bins: int
) -> list[int]:
    """Counts per whole reference bin of ``width`` seconds from the baseline's start (the
    partial last bin left out, as on bundles) from a per-bin query's counts."""
    out = [0] * n_ref_bins
    for when, n in found.counts.items():
        index = max(0, int((when - baseline.start).total_seconds() // width))
        if index < n_ref_bins:
            out[index] += n
    return out


def open_aws_session(
    workspace: Path | str,
    window: TimeWindow,
    baseline: TimeWindow | None,
    *,
    profile: str | None,
    region: str | None,
    role_arn_template: str | None = None,
    clients: ClientFactory | None = None,
    xray: bool = False,
) -> tuple[ArchitectureModel, ToolContext]:
    """Load a Structurizr workspace (a path or an ``s3://bucket/key`` URI, read with
    :func:`tools.workspace.load_workspace`) and build a tool context served by AWS accounts.

    ``window`` / ``baseline`` are UTC; the baseline defaults to the previous equal period.
    ``profile`` / ``region`` work like the AWS CLI's; ``role_arn_template`` (else
    ``RCA_ROLE_ARN_TEMPLATE`` / ``RCA_AWS_CONFIG``) names the read-only role to assume in other
    accounts. ``clients`` replaces the boto3 sessions (tests, replays). ``xray`` adds the call
    edges the X-Ray service graph observed in the window and the baseline to the declared C4
    graph (X-Ray service names are matched to element names and ``rca.aliases``).

    Raises:
        WorkspaceError: the workspace cannot be loaded.
        CredentialsError: no Region anywhere, unknown profile, or invalid role configuration.
    """
    architecture = load_workspace(workspace, profile=profile, region=region)
    factory: ClientFactory
    roles = RoleConfig.resolve(role_arn_template)
    observability = roles.cross_account == "observability" and not roles.configured
    if clients is None:
        sessions = AwsSessions(profile=profile, region=region, roles=roles)
        factory = sessions
        backend = AwsBackend(architecture, factory, observability=observability)
        if sessions.default_region is None and any(loc.region is None for loc in backend.locations):
            raise CredentialsError(
                "no AWS Region: pass --region, set AWS_REGION, or set rca.region on the elements"
            )
    else:
        factory = clients
        backend = AwsBackend(architecture, factory, observability=observability)
    context = ToolContext(
        architecture=architecture,
        backend=backend,
        window=window,
        baseline=baseline or window.previous(),
    )
    if xray:
        span = TimeWindow(
            start=min(context.baseline.start, window.start),
            end=max(context.baseline.end, window.end),
        )
        observed = backend.observed_edges(span)
        architecture.add_observed(observed, "AWS X-Ray service graph")
    return architecture, context


__all__ = ["AwsBackend", "InsightsPattern", "NotFoundError", "open_aws_session"]
