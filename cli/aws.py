"""``rca capture`` and ``rca aws ...``: the commands that talk to real AWS accounts.

``register(app)`` adds them to the ``rca`` app (``cli/main.py`` calls it). Commands are thin:
they parse options, build objects in one factory (:func:`_sessions`) and print; errors are one
line on stderr (exit 1), usage errors exit 2; ``--json`` prints exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.common import fail
from tools.aws.session import AwsSessions, Location, RoleConfig
from tools.errors import RcaError
from tools.models import TimeWindow

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Profile = Annotated[
    str | None, typer.Option(help="AWS named profile (like the AWS CLI's --profile).")
]
Region = Annotated[str | None, typer.Option(help="Default AWS Region (like the AWS CLI's).")]
RoleTemplate = Annotated[
    str | None,
    typer.Option(
        help="Role to assume in other accounts, e.g. arn:aws:iam::{account}:role/rca-readonly "
        "(default: $RCA_ROLE_ARN_TEMPLATE / $RCA_AWS_CONFIG)."
    ),
]
Workspace = Annotated[
    Path, typer.Option(help="Structurizr workspace JSON with rca.* element properties.")
]


def _fail(message: str, code: int = 1) -> None:
    fail(message, code)


def _window(start: str, end: str, what: str = "window") -> TimeWindow:
    try:
        return TimeWindow.model_validate({"start": start, "end": end})
    except ValueError as exc:
        _fail(f"invalid {what}: {str(exc).splitlines()[-1].strip()}", 2)
        raise  # unreachable: _fail exits


def _sessions(profile: str | None, region: str | None, role_arn_template: str | None) -> Any:
    return AwsSessions(profile=profile, region=region, roles=RoleConfig.resolve(role_arn_template))


def capture(
    workspace: Workspace,
    start: Annotated[str, typer.Option(help="Incident window start, ISO 8601 UTC.")],
    end: Annotated[str, typer.Option(help="Incident window end, ISO 8601 UTC.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Bundle directory to write.")],
    description: Annotated[
        str | None, typer.Option(help="The symptom, as an on-call engineer says it.")
    ] = None,
    incident_id: Annotated[str | None, typer.Option("--id", help="Incident id.")] = None,
    baseline_start: Annotated[
        str | None, typer.Option(help="Baseline start (default: the previous equal period).")
    ] = None,
    baseline_end: Annotated[str | None, typer.Option(help="Baseline end.")] = None,
    max_events_per_group: Annotated[
        int, typer.Option(min=1, max=100_000, help="Log events kept per log group.")
    ] = 5000,
    span_source: Annotated[
        str,
        typer.Option(
            help="Spans from: auto (Transaction Search when aws/spans exists, else X-Ray), "
            "xray, transaction-search or none."
        ),
    ] = "auto",
    max_traces: Annotated[
        int, typer.Option(min=1, max=5000, help="X-Ray traces read (BatchGetTraces).")
    ] = 200,
    profile: Profile = None,
    region: Region = None,
    role_arn_template: RoleTemplate = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    """Capture an incident window of real AWS accounts into an incident bundle (redacted)."""
    from tools.aws.span_rows import SOURCES, SpanLimits
    from tools.capture import CaptureLimits, capture_incident

    if span_source not in SOURCES:
        _fail(f"--span-source {span_source!r}: use one of {', '.join(SOURCES)}", 2)

    window = _window(start, end)
    baseline = None
    if baseline_start or baseline_end:
        if not (baseline_start and baseline_end):
            _fail("give both --baseline-start and --baseline-end", 2)
        baseline = _window(str(baseline_start), str(baseline_end), "baseline")
    if not workspace.is_file():
        _fail(f"{workspace}: workspace file not found", 2)
    try:
        report = capture_incident(
            workspace,
            window,
            out_dir,
            clients=_sessions(profile, region, role_arn_template),
            baseline=baseline,
            incident_id=incident_id,
            description=description,
            limits=CaptureLimits(
                max_events_per_group=max_events_per_group,
                spans=SpanLimits(source=span_source, max_traces=max_traces),  # type: ignore[arg-type]
            ),
        )
    except RcaError as exc:
        if debug:
            raise
        _fail(str(exc))
        return
    except KeyboardInterrupt:
        _fail("interrupted", 130)
        return
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    kept = sum(g.kept for g in report.log_groups.values())
    out.print(
        f"wrote {report.path}: {len(report.log_groups)} log groups ({kept} events), "
        f"{report.metric_series} metric series ({report.metric_points} points), "
        f"{report.cloudtrail_records} CloudTrail write events, {report.alarm_changes} alarm "
        f"changes, {report.spans} spans",
        highlight=False,
    )
    for line in report.span_sources:
        out.print(f"spans: {line}", highlight=False, markup=False)
    for line in report.span_gaps:
        err.print(f"spans not captured: {line}", highlight=False, markup=False)
    if report.missing_log_groups:
        err.print("log groups not found: " + ", ".join(report.missing_log_groups), highlight=False)
    out.print(f'replay it: rca ask "..." --bundle {report.path}', highlight=False)


def policy(
    role: Annotated[
        str, typer.Option(help="tools (read-only telemetry), agent, review or slack.")
    ] = "tools",
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Name=value for a placeholder, e.g. CrossAccountRoleName=rca-readonly, "
            "WorkspaceBucket=my-bucket, WorkspacePrefix=rca/, SessionsTable=rca-sessions.",
        ),
    ] = None,
) -> None:
    """Print the IAM policy a role needs, with its names filled in (see infra/iam/)."""
    from tools.aws.iam import DEFAULTS, placeholders, render_policy

    values: dict[str, str] = {}
    for item in setting or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            _fail(f"--set {item!r}: expected Name=value", 2)
        values[name.strip()] = value.strip()
    try:
        document = render_policy(role, values)
        names = placeholders(role)
    except RcaError as exc:
        _fail(str(exc), 2)
        return
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    used = ", ".join(f"{n}={values.get(n, DEFAULTS[n])!r}" for n in names)
    err.print(f"{role} policy settings (change with --set Name=value): {used}", markup=False)


def schema(
    tool: Annotated[
        list[str] | None, typer.Argument(help="Tools to include (default: all four).")
    ] = None,
) -> None:
    """Print the OpenAPI schema of the Bedrock Agent action group (from the tool models)."""
    from tools.handlers import openapi_schema
    from tools.toolbox import TOOLS

    unknown = [t for t in tool or [] if t not in TOOLS]
    if unknown:
        _fail(f"unknown tool {unknown[0]!r}; available: {', '.join(TOOLS)}", 2)
    sys.stdout.write(openapi_schema(tool or None) + "\n")


def check(
    workspace: Workspace,
    profile: Profile = None,
    region: Region = None,
    role_arn_template: RoleTemplate = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check credentials, role assumption and mapped log groups for every account of a workspace."""
    from tools.aws.logs_insights import LogsInsights, log_group_arn
    from tools.c4 import ArchitectureModel
    from tools.telemetry.aws import AwsBackend

    try:
        sessions = _sessions(profile, region, role_arn_template)
        observed = sessions.roles.cross_account == "observability" and not sessions.roles.configured
        backend = AwsBackend(ArchitectureModel.load(workspace), sessions, observability=observed)
    except RcaError as exc:
        _fail(str(exc))
        return
    by_location: dict[Location, list[str]] = {}
    for group, location in backend.group_location.items():
        by_location.setdefault(location, []).append(group)
    results: list[dict[str, Any]] = []
    for location in backend.locations:
        row: dict[str, Any] = {"account": location.account, "region": location.region}
        try:
            via = backend.serving_location(location)  # the monitoring account with observability
            sessions.session_for(via.account)
            client = sessions.client("logs", via)
            insights = LogsInsights(client, location=location)
            groups = sorted(by_location.get(location, []))
            linked = backend.linked_account(location)
            names = {
                log_group_arn(g, linked, location.region or client.meta.region_name)
                if linked
                else g: g
                for g in groups
            }
            found = {names[g] for g in insights.existing_groups(list(names))}
            row.update(ok=True, log_groups=len(groups), missing=sorted(set(groups) - found))
        except RcaError as exc:
            row.update(ok=False, error=str(exc))
        results.append(row)
    if as_json:
        sys.stdout.write(json.dumps({"locations": results}, indent=2) + "\n")
    else:
        for row in results:
            where = f"{row['account'] or 'default account'}/{row['region'] or 'default Region'}"
            if row["ok"]:
                missing = f", missing: {', '.join(row['missing'])}" if row["missing"] else ""
                out.print(f"ok   {where}: {row['log_groups']} log groups{missing}", highlight=False)
            else:
                out.print(f"FAIL {where}: {row['error']}", highlight=False)
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def models(
    family: Annotated[
        str | None,
        typer.Option(
            help="Model id prefix (default: $RCA_MODEL_FAMILY, config, anthropic.claude-sonnet)."
        ),
    ] = None,
    all_families: Annotated[bool, typer.Option("--all", help="Every text model family.")] = False,
    legacy: Annotated[bool, typer.Option(help="Include LEGACY models.")] = False,
    profile: Profile = None,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the models as JSON.")] = False,
) -> None:
    """List the Bedrock text models this account can invoke here, newest first, with the id to
    pass as --model-id (a cross-Region inference profile when one exists)."""
    from tools.aws.errors import AwsError
    from tools.aws.models import ModelCatalog, configured_family, configured_model
    from tools.aws.session import make_client

    chosen_family = None if all_families else configured_family(family)
    try:
        catalog = ModelCatalog(make_client("bedrock", profile=profile, region=region))
        found = catalog.usable(chosen_family, include_legacy=legacy)
        pinned = configured_model()
    except (RcaError, AwsError) as exc:
        _fail(str(exc))
        return
    default = next((m.invoke_id for m in found if m.status == "ACTIVE"), None)
    if as_json:
        payload = {
            "family": chosen_family,
            "configured_model_id": pinned,
            "default": None if pinned else default,
            "models": [m.model_dump(mode="json") for m in found],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if not found:
        _fail(f"no usable Bedrock text model of family {chosen_family!r} here; try --all")
    for m in found:
        mark = "*" if m.invoke_id == (pinned or default) else " "
        how = "inference profile" if m.via_profile else "on demand"
        out.print(
            f"{mark} {m.invoke_id:<55} {m.status:<7} {how:<17} max output {m.output_limit}",
            highlight=False,
            markup=False,
        )
    source = "RCA_MODEL_ID / --model-id / config" if pinned else "newest ACTIVE of the family"
    err.print(f"* = the model rca uses ({source})", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``rca capture`` and ``rca aws policy|schema|check`` to ``app``."""
    app.command("capture")(capture)
    aws_app = typer.Typer(
        no_args_is_help=True, help="AWS: read-only policy, action-group schema, access check."
    )
    aws_app.command("policy")(policy)
    aws_app.command("schema")(schema)
    aws_app.command("check")(check)
    aws_app.command("models")(models)
    app.add_typer(aws_app, name="aws")
