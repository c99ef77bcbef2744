"""The telemetry interface every backend implements (incident bundle, AWS).

Backends answer bounded, aggregate questions; they never take raw query strings from a model.
What belongs to a component comes from Structurizr element properties (see
:class:`ComponentTelemetry`), so one workspace drives both worlds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from pydantic import Field

from tools.bundle import AlarmStateChange, CloudTrailRecord
from tools.models import Model, TimeWindow
from tools.significance import MIN_DISPERSION_BINS


class MetricSelector(Model):
    """Which metrics belong to a component.

    A datapoint matches when its namespace is equal, its metric name is equal (or ``metric`` is
    None: every metric of the namespace), and its dimensions include every pair of ``dimensions``.
    ``stat`` is the CloudWatch statistic the AWS backend requests (Average, Sum, p99, ...).
    """

    namespace: str
    metric: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: str = "Average"

    def matches(self, namespace: str, metric: str, dimensions: dict[str, str]) -> bool:
        """True when a datapoint with these identifiers belongs to this selector."""
        if namespace != self.namespace or (self.metric is not None and metric != self.metric):
            return False
        return all(dimensions.get(k) == v for k, v in self.dimensions.items())


class ComponentTelemetry(Model):
    """The telemetry of one C4 element, read from its properties.

    Element properties (all optional, Structurizr properties are strings):

    - ``rca.logGroups``: comma-separated log group names;
    - ``rca.metrics``: JSON list of :class:`MetricSelector` objects;
    - ``rca.resources``: comma-separated resource ids or ARNs (security group ids, function names,
      DB instance ids, certificate ARNs, ...) that CloudTrail events are matched against;
    - ``rca.account``, ``rca.region``: where the telemetry lives (AWS backend);
    - ``rca.aliases``: comma-separated extra names for free-text resolution.

    Relationships may carry ``rca.resources`` too (e.g. the security group rule between two
    containers); a change touching them is mapped to that edge.
    """

    component: str
    name: str
    log_groups: list[str] = Field(default_factory=list)
    metrics: list[MetricSelector] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    account: str | None = None
    region: str | None = None

    @property
    def empty(self) -> bool:
        """True when the element maps to no telemetry at all."""
        return not (self.log_groups or self.metrics or self.resources)


class MetricSeries(Model):
    """One metric time series: parallel lists of UTC timestamps and values (ascending time)."""

    namespace: str
    metric: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: str = "None"
    timestamps: list[datetime] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """``Namespace/Metric[Dim=value,...]``, dimensions sorted by name."""
        dims = ",".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        return f"{self.namespace}/{self.metric}" + (f"[{dims}]" if dims else "")


REFERENCE_BIN_CANDIDATES = (60, 30, 15, 10, 5)
"""Widths (seconds) tried for the reference periods' bins, largest first, none above the
window's bin width."""


def reference_bin_seconds(references: list[TimeWindow], bin_seconds: int) -> int:
    """Width (seconds) of the reference periods' bins: the window's ``bin_seconds`` when the
    references hold at least :data:`tools.significance.MIN_DISPERSION_BINS` whole bins of it,
    else the largest of :data:`REFERENCE_BIN_CANDIDATES` below it that does, else the smallest
    candidate. Wider bins hold whole bursts (lines of one request, a burst of retries), so the
    largest that leaves enough bins to estimate a variance is used; counts of independent bins
    add up, so their variance-to-mean ratio carries over to the window's count at any width."""
    widths = [bin_seconds, *(c for c in REFERENCE_BIN_CANDIDATES if c < bin_seconds)]
    for width in widths:
        if sum(int(r.seconds // width) for r in references) >= MIN_DISPERSION_BINS:
            return width
    return widths[-1]


class LogPattern(Model):
    """A log template with its counts in the incident window and the baseline.

    ``bins`` are counts per time bin of the incident window (``bin_seconds`` wide, from its start).
    ``baseline_bins`` are counts per bin of the reference periods (``baseline_bin_seconds``
    wide, :func:`reference_bin_seconds`; each period binned from its own start, whole bins only,
    periods concatenated), from which the logs tool estimates how bursty the template is; empty
    when the backend cannot count them (the tool then tests against a Poisson null).
    """

    template: str
    window_count: int
    baseline_count: int
    bins: list[int] = Field(default_factory=list)
    baseline_bins: list[int] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list, description="raw lines, not yet redacted")
    first_seen: datetime | None = Field(default=None, description="first occurrence in the window")
    span_links: list[str] = Field(
        default_factory=list, description="``trace_id/span_id`` of window samples, when linked"
    )


class LogPatternResult(Model):
    """What a log pattern query found, and what it searched."""

    log_groups: list[str]
    window: TimeWindow
    baseline: TimeWindow
    query: str = Field(description="the query or method that produced the patterns")
    bin_seconds: int
    patterns: list[LogPattern] = Field(default_factory=list)
    window_records: int = 0
    baseline_records: int = 0
    records_scanned: int = 0
    bytes_scanned: int = 0
    partial: bool = False
    missing_groups: list[str] = Field(default_factory=list)
    baseline_seconds: float | None = Field(
        default=None, description="total length of the reference periods, when several"
    )
    baseline_bin_seconds: int | None = Field(
        default=None, description="width of the patterns' ``baseline_bins``, when counted"
    )


class TelemetryBackend(ABC):
    """Read-only access to the telemetry of one incident (a bundle) or one account (AWS)."""

    name: str = "base"

    @abstractmethod
    def log_patterns(
        self, log_groups: list[str], window: TimeWindow, baseline: TimeWindow, bin_seconds: int
    ) -> LogPatternResult:
        """Templates of the log events in ``window`` with their counts in ``baseline``.

        Raises:
            TelemetryError: when the source fails.
        """

    @abstractmethod
    def metric_series(
        self, selectors: list[MetricSelector], window: TimeWindow
    ) -> list[MetricSeries]:
        """Every series matching any selector, restricted to ``window``."""

    @abstractmethod
    def alarm_history(self, window: TimeWindow) -> list[AlarmStateChange]:
        """Alarm state changes in ``window``, ascending time."""

    @abstractmethod
    def write_events(self, window: TimeWindow) -> list[CloudTrailRecord]:
        """CloudTrail control-plane write events (``readOnly`` false) in ``window``."""

    def reference_log_patterns(
        self,
        log_groups: list[str],
        window: TimeWindow,
        references: list[TimeWindow],
        bin_seconds: int,
    ) -> LogPatternResult:
        """Like :meth:`log_patterns`, with the baseline counts taken over every window of
        ``references`` (``baseline_seconds`` set to their total length). The default uses the
        first reference only; backends that can count over several override it.

        Raises:
            TelemetryError: when the source fails.
        """
        return self.log_patterns(log_groups, window, references[0], bin_seconds)

    def spans(self, window: TimeWindow) -> Any:
        """Spans starting in ``window`` as a pandas DataFrame with
        :data:`tools.bundle.SPAN_COLUMNS`, or None when this backend has no span source (the
        traces tool then reports the gap)."""
        return None

    def span_logs(self, window: TimeWindow, references: list[TimeWindow]) -> Any:
        """Span-linked log statements in ``window`` and ``references``: a DataFrame with
        ``trace_id``, ``span_id``, ``event_key``, ``level``, ``t_ns`` (epoch ns); empty when the
        source has none."""
        import pandas as pd

        return pd.DataFrame(columns=["trace_id", "span_id", "event_key", "level", "t_ns"])

    @abstractmethod
    def coverage(self) -> TimeWindow | None:
        """The span of time this backend holds telemetry for, or None when unknown/unbounded."""
