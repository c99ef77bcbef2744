"""Alarm-started investigations: a CloudWatch alarm state change becomes a question.

The event is EventBridge's ``CloudWatch Alarm State Change`` (source ``aws.cloudwatch``; detail
``alarmName``, ``state`` {value, reason, timestamp}, ``previousState``, ``configuration``
{description, metrics: [{id, metricStat: {metric: {namespace, name, dimensions}, period,
stat}}]}; CloudWatch user guide, "Alarm events and EventBridge"). AWS adds fields over time, so
the models ignore unknown keys (the one boundary here that must not be strict).

The component is the C4 element the workspace maps the alarm to (:func:`map_component`), in
this order: an ``rca.alarms`` property listing the alarm name; an ``rca.metrics`` selector the
alarm's metric matches (same namespace and metric, the selector's dimensions included in the
alarm's); a dimension value listed in ``rca.resources``; else the best free-text match of the
alarm's name and description.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from tools.c4 import ArchitectureModel, Element
from tools.errors import WorkspaceError
from tools.models import TimeWindow
from tools.redact import redact

LEAD_MINUTES = 60
"""Window before the state change that the investigation reads (the alarm's lead-up)."""
MAX_TEXT = 500


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AlarmMetric(_Loose):
    """``metricStat.metric`` of an alarm event: namespace, metric name and dimensions as an
    object ``{dimension name: value}`` (not the API's list of Name/Value pairs)."""

    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(_Loose):
    """``metricStat`` of one alarm query: the metric, ``period`` in seconds and the statistic
    (``Average``, ``Sum``, ``p99``, ...)."""

    metric: AlarmMetric = Field(default_factory=AlarmMetric)
    period: int | None = None
    stat: str | None = None


class MetricQuery(_Loose):
    """One entry of ``configuration.metrics``: a metric (``metricStat``) or a metric-math
    ``expression`` over other entries' ``id``."""

    id: str = ""
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = None


class AlarmConfiguration(_Loose):
    """``detail.configuration``: the alarm's description and metric queries."""

    description: str | None = None
    metrics: list[MetricQuery] = Field(default_factory=list)


class AlarmState(_Loose):
    """``detail.state`` / ``detail.previousState``: ``value`` (``OK``, ``ALARM``,
    ``INSUFFICIENT_DATA``), CloudWatch's ``reason`` text (untrusted) and the ``timestamp`` of the
    change (ISO 8601; UTC when it carries no offset, see :attr:`AlarmEvent.changed_at`)."""

    value: str
    reason: str = ""
    timestamp: datetime | None = None


class AlarmDetail(_Loose):
    """The event's ``detail``: alarm name, new and previous state, configuration."""

    alarm_name: str = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


class AlarmEvent(_Loose):
    """An EventBridge ``CloudWatch Alarm State Change`` event."""

    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    region: str
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str | None:
        """The alarm's ARN (the event's first ``resources`` entry), None when absent."""
        return self.resources[0] if self.resources else None

    @property
    def metrics(self) -> list[AlarmMetric]:
        """The alarm's metrics (metric-math expressions have none of their own)."""
        return [q.metric_stat.metric for q in self.detail.configuration.metrics if q.metric_stat]

    @property
    def changed_at(self) -> datetime:
        """When the alarm changed state (UTC), else the event time."""
        ts = self.detail.state.timestamp or self.time
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _selectors(element: Element) -> list[dict[str, object]]:
    raw = element.properties.get("rca.metrics")
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"element {element.name!r}: rca.metrics is not JSON ({exc})") from exc
    return [v for v in value if isinstance(v, dict)]


def _split(value: str | None) -> set[str]:
    return {p.strip() for p in (value or "").split(",") if p.strip()}


def map_component(arch: ArchitectureModel, alarm: AlarmEvent) -> tuple[Element | None, str]:
    """The element the alarm belongs to and how it was matched (see the module docstring);
    ``(None, "no match")`` when nothing in the workspace relates to it."""
    name = alarm.detail.alarm_name
    metrics = alarm.metrics
    values = {v for m in metrics for v in m.dimensions.values()}
    for element in arch.elements.values():
        if name in _split(element.properties.get("rca.alarms")):
            return element, "rca.alarms lists the alarm"
    for element in arch.elements.values():
        for sel in _selectors(element):
            for m in metrics:
                dims = sel.get("dimensions") or {}
                if (
                    sel.get("namespace") == m.namespace
                    and sel.get("metric") in (None, m.name)
                    and isinstance(dims, dict)
                    and all(m.dimensions.get(k) == v for k, v in dims.items())
                ):
                    return element, f"rca.metrics selects {m.namespace}/{m.name}"
    for element in arch.elements.values():
        resources = _split(element.properties.get("rca.resources"))
        hit = sorted(values & resources) or sorted(
            r for r in resources for v in values if r.endswith(f"/{v}") or r.endswith(f":{v}")
        )
        if hit:
            return element, f"rca.resources lists {hit[0]}"
    text = " ".join(p for p in (name, alarm.detail.configuration.description or "") if p)
    matches = arch.resolve(text, limit=1)
    if matches:
        return matches[0].element, f"name/description match ({', '.join(matches[0].matched)})"
    return None, "no match"


def _clip(text: str) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def question_for(alarm: AlarmEvent, element: Element | None) -> str:
    """The investigation question: what fired, when, on which metric, and the mapped component.
    Alarm text (name, description, reason) is redacted and clipped; it stays data."""
    d = alarm.detail
    parts = [
        f"CloudWatch alarm {_clip(d.alarm_name)!r} went from "
        f"{d.previous_state.value if d.previous_state else 'unknown'} to {d.state.value} at "
        f"{alarm.changed_at.strftime('%Y-%m-%d %H:%M:%S')} UTC "
        f"(account {alarm.account}, {alarm.region})."
    ]
    if d.configuration.description:
        parts.append(f"Alarm description: {_clip(d.configuration.description)}.")
    for m in alarm.metrics[:3]:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(m.dimensions.items()))
        parts.append(f"Metric: {m.namespace}/{m.name}" + (f" ({_clip(dims)})." if dims else "."))
    if d.state.reason:
        parts.append(f"Reason: {_clip(d.state.reason)}.")
    if element is not None:
        parts.append(f"The architecture maps this alarm to {element.name} ({element.kind}).")
    parts.append("What is the root cause?")
    return " ".join(parts)


def window_for(alarm: AlarmEvent, lead_minutes: int = LEAD_MINUTES) -> TimeWindow:
    """``[changed_at - lead_minutes, changed_at + 2 min)``, minute-aligned (UTC)."""
    at = alarm.changed_at.astimezone(UTC).replace(second=0, microsecond=0)
    return TimeWindow(start=at - timedelta(minutes=lead_minutes), end=at + timedelta(minutes=2))


def session_key(alarm: AlarmEvent) -> str:
    """One investigation per alarm transition (a redelivered event finds it stored)."""
    return f"alarm/{alarm.account}/{alarm.region}/{alarm.detail.alarm_name}/" + (
        alarm.changed_at.strftime("%Y%m%dT%H%M%SZ")
    )
