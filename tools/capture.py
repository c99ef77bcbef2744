"""``rca capture``: export an incident window of real AWS accounts into an incident bundle.

For the components of a workspace it writes, through :class:`~tools.bundle.BundleWriter`:

- ``logs/``: events of every mapped log group over the baseline and the window
  (FilterLogEvents), at most ``max_events_per_group`` per group: the span is cut into ``slices``
  equal slices and the first events of each are kept, so the shape over time survives and a
  noisy group cannot blow up the bundle; truncated slices are listed in ``incident.yaml``
  ``source.sampling``;
- ``metrics.csv``: every series of every ``rca.metrics`` selector over the metric baseline
  (three window lengths before the window, at least 30 minutes) and the window;
- ``cloudtrail.jsonl``: CloudTrail write events of the window and the 6 hours before it, in
  every account and Region of the workspace;
- ``alarms.jsonl``: alarm state changes over the same span as the metrics;
- ``spans.csv`` (bundle v2): spans of the traces that started in the baseline and the window,
  from AWS X-Ray or CloudWatch Transaction Search (``aws/spans``), read by the same code as the
  ``traces`` tool (:meth:`tools.telemetry.aws.AwsBackend.span_reads`, :mod:`tools.aws.spans`)
  within :class:`~tools.aws.span_rows.SpanLimits`; ``incident.yaml`` ``source.spans`` records the
  source used per account and Region, the share of traces kept, that the recording sampling
  rate is unknown, what was left out, and any failure (a failing span source is not fatal);
- ``workspace.json``: the workspace itself; ``incident.yaml``: window, baseline, description and
  the provenance (accounts, Regions, limits, sampling) in ``source``.

Secrets are redacted (:func:`tools.redact.redact`) in log messages, alarm reasons and every
string of the CloudTrail records (``requestParameters``, ``responseElements``, ...); values of
keys that name a secret (password, token, secret, ...) are replaced whole. The bundle replays with
``rca ask --bundle DIR``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from tools.aws.errors import NotFoundError
from tools.aws.log_events import LogEvents
from tools.aws.session import ClientFactory
from tools.aws.span_rows import SpanLimits, read_window_label, to_frame
from tools.bundle import BundleWriter, IncidentSpec, LogRecord, MetricPoint
from tools.c4 import ArchitectureModel
from tools.errors import WorkspaceError
from tools.models import Model, TimeWindow, iso
from tools.redact import redact, redact_value
from tools.telemetry.aws import AwsBackend


class CaptureLimits(Model):
    """Bounds of one capture (counts of events and API pages)."""

    max_events_per_group: int = Field(default=5000, ge=1, le=100_000)
    slices: int = Field(default=24, ge=1, le=240)
    max_trail_pages: int = Field(default=40, ge=1, le=400, description="50 events per page")
    change_lead_up_s: float = Field(default=6 * 3600.0, ge=0)
    spans: SpanLimits = Field(default_factory=SpanLimits)
    gzip: bool = True


class GroupSample(Model):
    """What was kept of one log group."""

    kept: int
    truncated_slices: int
    calls: int


class CaptureReport(Model):
    """What ``capture_incident`` wrote."""

    path: Path
    log_groups: dict[str, GroupSample] = Field(default_factory=dict)
    missing_log_groups: list[str] = Field(default_factory=list)
    metric_series: int = 0
    metric_points: int = 0
    cloudtrail_records: int = 0
    alarm_changes: int = 0
    spans: int = 0
    span_sources: list[str] = Field(default_factory=list)
    span_gaps: list[str] = Field(default_factory=list)


def capture_incident(
    workspace: Path,
    window: TimeWindow,
    out: Path,
    *,
    clients: ClientFactory,
    baseline: TimeWindow | None = None,
    incident_id: str | None = None,
    description: str | None = None,
    limits: CaptureLimits | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CaptureReport:
    """Capture ``window`` (and its baseline, default the previous equal period) of the accounts
    the workspace maps to into a bundle at ``out``.

    Raises:
        WorkspaceError: the workspace cannot be loaded.
        TelemetryError: an AWS call failed (access denied, throttled, ...); a missing log group
            is not an error (listed in ``missing_log_groups``).
    """
    limits = limits or CaptureLimits()
    architecture = ArchitectureModel.load(workspace)
    try:
        workspace_json = json.loads(Path(workspace).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkspaceError(f"{workspace}: cannot read the workspace ({exc})") from exc
    backend = AwsBackend(
        architecture,
        clients,
        now=now,
        max_trail_pages=limits.max_trail_pages,
        span_limits=limits.spans,
    )
    reference = baseline or window.previous()
    lookback = max(1800.0, 3 * window.seconds)
    log_span = TimeWindow(start=min(reference.start, window.start), end=window.end)
    metric_span = TimeWindow(
        start=min(reference.start, window.extend(before_s=lookback).start), end=window.end
    )
    trail_span = window.extend(before_s=limits.change_lead_up_s)
    writer = BundleWriter(out, gzip_files=limits.gzip)
    report = CaptureReport(path=out)

    for group, location in sorted(backend.group_location.items()):
        reader = LogEvents(clients("logs", location), location=location)
        try:
            sample = reader.sample(
                group, log_span.start, log_span.end, limits.max_events_per_group, limits.slices
            )
        except NotFoundError:
            report.missing_log_groups.append(group)
            continue
        writer.add_logs(
            group,
            (
                LogRecord(timestamp=r.timestamp, message=redact(r.message), stream=r.stream)
                for r in sample.records
            ),
        )
        report.log_groups[group] = GroupSample(
            kept=len(sample.records), truncated_slices=sample.truncated_slices, calls=sample.calls
        )

    for series in backend.metric_series(backend.selectors, metric_span):
        report.metric_series += 1
        for when, value in zip(series.timestamps, series.values, strict=True):
            writer.add_metric(
                MetricPoint(
                    timestamp=when,
                    namespace=series.namespace,
                    metric=series.metric,
                    dimensions=series.dimensions,
                    value=value,
                    unit=series.unit,
                )
            )
            report.metric_points += 1

    for record in backend.write_events(trail_span):
        writer.add_cloudtrail(redact_value(record.raw))
        report.cloudtrail_records += 1

    for change in backend.alarm_history(metric_span):
        writer.add_alarm(change.model_copy(update={"reason": redact(change.reason)}))
        report.alarm_changes += 1

    span_reads = [] if limits.spans.source == "none" else backend.span_reads(log_span)
    rows = [row for read in span_reads for row in read.rows]
    if rows:
        writer.add_spans(to_frame(rows))
    report.spans = len(rows)
    report.span_sources = [read_window_label(read) for read in span_reads]
    report.span_gaps = [gap for read in span_reads for gap in read.gaps]

    incident = IncidentSpec(
        bundle_version=2,
        id=incident_id or f"capture-{window.start.strftime('%Y%m%dT%H%M')}",
        title=f"Captured from AWS: {window.label()}",
        description=description or f"Incident captured from AWS for {window.label()}",
        window=window,
        baseline=baseline,
        source={
            "captured_from": "aws",
            "captured_at": iso(now()),
            "locations": [
                {"account": loc.account, "region": loc.region} for loc in backend.locations
            ],
            "log_span": log_span.label(),
            "metric_span": metric_span.label(),
            "cloudtrail_span": trail_span.label(),
            "sampling": {
                "method": "first events of each of `slices` equal time slices per log group",
                "max_events_per_group": limits.max_events_per_group,
                "slices": limits.slices,
                "groups": {
                    g: {"kept": s.kept, "truncated_slices": s.truncated_slices}
                    for g, s in sorted(report.log_groups.items())
                },
            },
            "missing_log_groups": report.missing_log_groups,
            "spans": {
                "span": log_span.label(),
                "limits": limits.spans.model_dump(mode="json", exclude_none=True),
                "reads": [
                    {
                        "source": read.source,
                        "location": read.location,
                        "traces": read.traces,
                        "spans": len(read.rows),
                        "calls": read.calls,
                        "sampling": read.sampling,
                        "left_out": read.skipped,
                        "gaps": read.gaps,
                    }
                    for read in span_reads
                ],
            },
            "cloudtrail_truncated": backend.truncated_trails,
            "redaction": "tools.redact (log messages, alarm reasons, CloudTrail strings, span "
            "service, operation and instance names)",
        },
    )
    writer.write(incident, workspace_json)
    return report
