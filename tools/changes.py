"""The ``changes`` tool: control-plane write events mapped to components and the edges between them.

A CloudTrail record maps to a component when any of the component's ``rca.resources`` strings
occurs in the record (request parameters, response elements, resource ARNs), and to an edge when
a relationship's ``rca.resources`` does. Times are given relative to the onset (seconds, negative
= before the onset).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from pydantic import Field

from tools import significance
from tools.bundle import CloudTrailRecord
from tools.context import ToolContext, ToolResult
from tools.models import Evidence, Model, TimeWindow, iso
from tools.redact import redact, redact_value

MAX_CHANGES = 25
# writes a running workload makes about itself (a new execution environment or task opens a log
# stream; agents put metrics and trace segments): telemetry, not a change to the component
TELEMETRY_WRITES = frozenset(
    {"CreateLogStream", "PutLogEvents", "PutMetricData", "PutTraceSegments", "PutTelemetryRecords"}
)

_CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    (
        "network_config",
        re.compile(
            r"SecurityGroup|NetworkAcl|Route(?!53)|TransitGateway|VpcEndpoint|Subnet|NatGateway|"
            r"Firewall|PeeringConnection|ModifyVpc",
            re.I,
        ),
    ),
    ("dns_routing", re.compile(r"ResourceRecordSets|HostedZone|Resolver", re.I)),
    (
        "credentials",
        re.compile(
            r"Secret|RotateSecret|AccessKey|LoginProfile|Password|KeyPair|DisableKey|ScheduleKeyDeletion",
            re.I,
        ),
    ),
    ("certificate", re.compile(r"Certificate", re.I)),
    ("permissions", re.compile(r"Policy|Role|Permission|Grant", re.I)),
    (
        "deployment",
        re.compile(
            r"UpdateFunctionCode|PublishVersion|UpdateAlias|UpdateService|CreateDeployment|"
            r"RegisterTaskDefinition|UpdateStack|CreateStack|ExecuteChangeSet|StartDeployment|"
            r"RunInstances|UpdateApplication",
            re.I,
        ),
    ),
    (
        "capacity",
        re.compile(
            r"UpdateTable|Concurrency|UpdateAutoScaling|SetDesiredCapacity|PutScalingPolicy|"
            r"ModifyDBInstance|ModifyCacheCluster|UpdateCapacity|ProvisionedThroughput",
            re.I,
        ),
    ),
    (
        "configuration",
        re.compile(r"Update|Put|Modify|Set|Change|Create|Delete|Disable|Enable", re.I),
    ),
]


def change_category(event_name: str) -> str:
    """Fault category a write event most likely belongs to (network_config, deployment, ...)."""
    for category, pattern in _CATEGORIES:
        if pattern.search(event_name):
            return category
    return "configuration"


class ChangesInput(Model):
    """Arguments of the ``changes`` tool."""

    components: list[str] | None = Field(
        default=None, max_length=30, description="only changes touching these; None = all"
    )
    window: TimeWindow | None = Field(default=None, description="default: the incident window")
    lead_up_minutes: int | None = Field(
        default=None, ge=0, le=7 * 24 * 60, description="minutes before the window to include"
    )
    onset: datetime | None = Field(
        default=None, description="anomaly onset (UTC) to time changes against"
    )


class MappedChange(Model):
    """One write event with the components and edges it touches."""

    event_id: str
    event_name: str
    event_source: str
    time: datetime
    actor: str
    user_agent: str | None = None
    account: str | None
    region: str | None
    components: list[str]
    edges: list[tuple[str, str]]
    category: str
    seconds_from_onset: float
    parameters: str


def _mapping(ctx: ToolContext) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    arch = ctx.architecture
    to_component = {
        resource: element.id
        for element in arch.elements.values()
        for resource in arch.telemetry(element.id).resources
    }
    to_edge = {
        resource.strip(): (rel.source, rel.destination)
        for rel in arch.relationships
        for resource in rel.properties.get("rca.resources", "").split(",")
        if resource.strip()
    }
    return to_component, to_edge


def _occurs(resource: str, text: str) -> bool:
    """True when ``resource`` occurs in ``text`` as a whole token (``orders`` is not in
    ``ordersdb``, but is in ``arn:aws:lambda:...:function:orders``)."""
    pattern = rf"(?<![A-Za-z0-9_.-]){re.escape(resource)}(?![A-Za-z0-9_-])"
    return re.search(pattern, text) is not None


def map_change(
    record: CloudTrailRecord,
    to_component: dict[str, str],
    to_edge: dict[str, tuple[str, str]],
    onset: datetime,
) -> MappedChange:
    """Map one CloudTrail record to components and edges by resource-string occurrence.

    Every quoted field (parameters, actor, user agent) comes from the redacted record
    (:func:`tools.redact.redact_value`), before anything is cut to length."""
    text = json.dumps(  # matched against resource ids only, never quoted
        [
            record.raw.get("requestParameters"),
            record.raw.get("responseElements"),
            record.raw.get("resources"),
        ]
    )
    raw = redact_value(record.raw)
    components = sorted({c for r, c in to_component.items() if _occurs(r, text)})
    edges = sorted({e for r, e in to_edge.items() if _occurs(r, text)})
    params = json.dumps(raw.get("requestParameters") or {}, sort_keys=True)
    return MappedChange(
        event_id=record.eventID,
        event_name=record.eventName,
        event_source=record.eventSource,
        time=record.eventTime,
        actor=redact(record.actor),
        user_agent=raw.get("userAgent") if isinstance(raw.get("userAgent"), str) else None,
        account=record.recipientAccountId,
        region=record.awsRegion,
        components=components,
        edges=edges,
        category=change_category(record.eventName),
        seconds_from_onset=(record.eventTime - onset).total_seconds(),
        parameters=params[:400],
    )


def changes(ctx: ToolContext, args: ChangesInput) -> ToolResult:
    """Write events in the window and lead-up, mapped to components and edges.

    ``data.changes`` lists :class:`MappedChange` dicts (mapped ones first, then by time);
    ``data.unmapped`` counts events touching no known resource, by event name;
    ``data.telemetry_writes`` the writes a workload makes about itself (:data:`TELEMETRY_WRITES`:
    log streams, metrics, trace segments), which are no changes and are not examined.

    Raises:
        UnknownComponentError: a component filter does not resolve.
    """
    window = args.window or ctx.window
    lead_up_s = ctx.change_lead_up_s if args.lead_up_minutes is None else args.lead_up_minutes * 60
    search = window.extend(before_s=lead_up_s)
    onset = args.onset or window.start
    wanted = {ctx.architecture.get(c).id for c in args.components} if args.components else None
    to_component, to_edge = _mapping(ctx)
    records = ctx.backend.write_events(search)
    mapped: list[MappedChange] = []
    unmapped: dict[str, int] = {}
    telemetry: dict[str, int] = {}
    for record in records:
        if record.eventName in TELEMETRY_WRITES:
            # not a candidate cause, and not a test to correct for (Bonferroni over changes)
            telemetry[record.eventName] = telemetry.get(record.eventName, 0) + 1
            continue
        change = map_change(record, to_component, to_edge, onset)
        touched = set(change.components) | {n for e in change.edges for n in e}
        if not touched:
            unmapped[change.event_name] = unmapped.get(change.event_name, 0) + 1
            continue
        if wanted is None or touched & wanted:
            mapped.append(change)
    mapped.sort(key=lambda c: abs(c.seconds_from_onset))
    mapped = mapped[:MAX_CHANGES]
    mapped.sort(key=lambda c: c.time)
    names = ctx.architecture.elements
    searched = (
        f"CloudTrail write events (readOnly=false) {search.label()} "
        f"({lead_up_s / 60:.0f} min lead-up); onset reference {iso(onset)}"
    )
    evidence: list[Evidence] = []
    lines = []
    for c in mapped:
        where = ", ".join(names[x].name for x in c.components)
        if c.edges:
            where += (", " if where else "") + ", ".join(
                f"edge {names[a].name} -> {names[b].name}" for a, b in c.edges
            )
        side = "before" if c.seconds_from_onset <= 0 else "after"
        when = f"{abs(c.seconds_from_onset) / 60:.0f} min {side} onset"
        text = (
            f"{c.event_name} ({c.event_source}) at {iso(c.time)}, {when}, by {c.actor} "
            f"in account {c.account or '?'}: touches {where} [{c.category}]"
        )
        lines.append(text)
        target = c.edges[0][1] if c.edges else (c.components[0] if c.components else None)
        evidence.append(
            ctx.ledger.add(
                tool="changes",
                kind="change",
                component=target,
                edge=c.edges[0] if c.edges else None,
                summary=text,
                searched=searched,
                window=search,
                time=c.time,
                figures={
                    "seconds_from_onset": c.seconds_from_onset,
                    "evidence": significance.change_timing(
                        -c.seconds_from_onset, lead_up_s, len(mapped)
                    ),
                    "lead_up_s": lead_up_s,
                    "changes_examined": float(len(mapped)),
                },
                labels={
                    "test": "uniform timing of writes over the lead-up (Bonferroni over the "
                    "changes examined)",
                    "scope": "own",
                    "event_name": c.event_name,
                    "category": c.category,
                    "components": ",".join(c.components),
                },
                samples=[c.parameters],
            )
        )
    if unmapped:
        lines.append(
            "Not mapped to any component: "
            + ", ".join(f"{n} x{k}" for n, k in sorted(unmapped.items(), key=lambda i: -i[1]))
        )
    if telemetry:
        lines.append(
            "Telemetry writes, not changes: "
            + ", ".join(f"{n} x{k}" for n, k in sorted(telemetry.items(), key=lambda i: -i[1]))
        )
    if not mapped:
        lines.insert(0, f"No write events touching the components in {search.label()}.")
        evidence.append(
            ctx.ledger.add(
                tool="changes",
                kind="no_change",
                summary=lines[0],
                searched=searched,
                window=search,
                figures={"write_events": float(len(records))},
            )
        )
    return ToolResult(
        tool="changes",
        status="ok" if mapped else "no_data",
        params=args.model_dump(mode="json", exclude_none=True),
        summary="\n".join(lines),
        evidence=evidence,
        data={
            "changes": [c.model_dump(mode="json") for c in mapped],
            "unmapped": unmapped,
            "telemetry_writes": telemetry,
            "searched": search.label(),
        },
    )
