"""The ``rca`` command.

Exit codes: 0 success; 1 a runtime error (bad bundle, unknown component, empty window, AWS
failure), printed as one line on stderr; 2 a usage error (unknown option or command, missing
argument, bad value), one line too (:class:`cli.common.OneLineErrors`). ``--json`` prints
exactly one JSON document on stdout; progress and messages go to stderr. ``--debug`` shows
tracebacks.
"""

from __future__ import annotations

import atexit
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from agent.factory import DEMO_BUNDLE, open_bundle
from agent.service import AwsSource, BundleSource, TelemetrySource
from cli import review as review_commands
from cli import sessions as session_commands
from cli.aws import register as register_aws
from cli.common import (
    AsJson,
    OneLineErrors,
    Profile,
    Quiet,
    Region,
    err,
    fail,
    guard,
    listener,
    out,
    service,
)
from cli.common import state as _state
from cli.lens import lens_app
from cli.sessions import (
    MaxSteps,
    ModelId,
    ModelName,
    Verbose,
    follow_up,
    model_choice,
    show_turn,
)
from cli.slack import register as register_slack
from tools.interrupts import install as install_interrupts
from tools.interrupts import received as interrupt_received
from tools.markup import terminal
from tools.models import TimeWindow

app = typer.Typer(
    cls=OneLineErrors,  # click's usage errors as one line, exit 2
    add_completion=False,
    no_args_is_help=True,
    help="Agentic ops assistant for AWS: incident root-cause analysis.",
    pretty_exceptions_enable=False,
)
bundle_app = typer.Typer(no_args_is_help=True, help="Incident bundles: validate, generate, import.")
app.add_typer(bundle_app, name="bundle")
app.add_typer(lens_app, name="lens")
session_commands.register(app)
register_slack(app)
review_commands.register(app)
register_aws(app)


@app.callback()
def main(debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False) -> None:
    """rca: investigate incidents on AWS (or on incident bundles, offline)."""
    _state["debug"] = debug
    if install_interrupts() and not _state.get("atexit"):  # Ctrl-C and SIGTERM: one line, 130
        _state["atexit"] = True
        atexit.register(_report_late_interrupt)


def _report_late_interrupt() -> None:
    """A signal that reached no handler of the command (while it imported a module or printed
    its result) still gets its one line."""
    name = interrupt_received()
    if name and not _state.get("failed"):
        sys.stderr.write(
            f"error: interrupted by {name}; run the command again to resume (finished work is "
            "kept: `rca sessions`, `rca review-list`)\n"
        )


def _window(start: str | None, end: str | None) -> TimeWindow | None:
    if not (start or end):
        return None
    if not (start and end):
        fail("give both --start and --end (ISO 8601 UTC)", 2)
    try:
        return TimeWindow.model_validate({"start": start, "end": end})
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"invalid window: {str(first.get('msg', exc)).removeprefix('Value error, ')}", 2)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The symptom, as you would tell a colleague.")],
    bundle: Annotated[
        Path | None, typer.Option(help="Incident bundle directory (default: the embedded demo).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Window start, ISO 8601 UTC.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO 8601 UTC.")] = None,
    component: Annotated[
        list[str] | None,
        typer.Option(help="Also examine this component (name or id); repeatable."),
    ] = None,
    session: Annotated[
        str | None, typer.Option(help="Continue this stored investigation with a follow-up.")
    ] = None,
    model: ModelName = "heuristic",
    model_id: ModelId = None,
    runtime: Annotated[
        str, typer.Option(help="loop (this process) or bedrock-agent (a managed Bedrock Agent).")
    ] = "loop",
    agent_id: Annotated[str | None, typer.Option(help="Bedrock Agent id (bedrock-agent).")] = None,
    agent_alias_id: Annotated[str | None, typer.Option(help="Bedrock Agent alias id.")] = None,
    aws: Annotated[
        bool, typer.Option("--aws", help="Read telemetry from AWS instead of a bundle.")
    ] = False,
    workspace: Annotated[
        str | None, typer.Option(help="Workspace with rca.* properties: path or s3:// (--aws).")
    ] = None,
    role_arn_template: Annotated[
        str | None,
        typer.Option(
            help="Read-only role per account, e.g. arn:aws:iam::{account}:role/rca (--aws)."
        ),
    ] = None,
    xray: Annotated[
        bool, typer.Option("--xray", help="Add call edges observed by X-Ray (--aws).")
    ] = False,
    profile: Profile = None,
    region: Region = None,
    max_steps: MaxSteps = 8,
    cloud: Annotated[
        bool,
        typer.Option("--cloud", help="Run on the deployed AgentCore runtime (see README Deploy)."),
    ] = False,
    runtime_arn: Annotated[
        str | None,
        typer.Option(envvar="RCA_AGENT_RUNTIME_ARN", help="AgentCore runtime ARN (--cloud)."),
    ] = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Investigate a symptom and print ranked root-cause hypotheses with evidence."""
    if not question.strip():
        fail("the question is empty; describe the symptom, e.g. 'checkout returns 502'", 2)
    if cloud:
        _ask_cloud(question, runtime_arn, session, start, end, component, max_steps,
                   profile=profile, region=region, as_json=as_json, quiet=quiet,
                   verbose=verbose)  # fmt: skip
        return
    choice = model_choice(
        model,
        model_id,
        profile,
        region,
        max_steps,
        runtime=runtime,
        agent_id=agent_id,
        agent_alias_id=agent_alias_id,
    )
    if session:
        follow_up(session, question, choice, as_json=as_json, quiet=quiet, verbose=verbose)
        return
    source: TelemetrySource
    if aws:
        if workspace is None:
            fail("--aws needs --workspace (a Structurizr workspace with rca.* properties)", 2)
        where = workspace if workspace.startswith("s3://") else str(Path(workspace).resolve())
        source = AwsSource(
            workspace=where,
            regions=[region] if region else [],
            profile=profile,
            role_arn_template=role_arn_template,
            xray=xray,
        )
    else:
        source = BundleSource(path=str(bundle or DEMO_BUNDLE))
    record = guard(
        service().start,
        None,
        question,
        source,
        model=choice,
        window=_window(start, end),
        focus=component,
        listener=listener(quiet),
    )
    show_turn(record, as_json=as_json, quiet=quiet, verbose=verbose)


def _ask_cloud(
    question: str,
    runtime_arn: str | None,
    session: str | None,
    start: str | None,
    end: str | None,
    component: list[str] | None,
    max_steps: int,
    *,
    profile: str | None,
    region: str | None,
    as_json: bool,
    quiet: bool,
    verbose: bool = False,
) -> None:
    """``rca ask --cloud``: one InvokeAgentRuntime call; renders like a local investigation."""
    from agent.cloud import CloudRuntime
    from agent.runtime import RuntimeRequest

    if not runtime_arn:
        fail("--cloud needs --runtime-arn or RCA_AGENT_RUNTIME_ARN (the agent stack output)", 2)
    request = RuntimeRequest(
        action="follow_up" if session else "start",
        question=question,
        session=session,
        window=_window(start, end),
        focus=component or [],
        max_steps=max_steps,
    )
    runtime = guard(CloudRuntime, runtime_arn, region=region, profile=profile)
    if not quiet:
        err.print(f"Investigating on the cloud runtime {runtime_arn}", highlight=False)
    reply = guard(runtime.invoke, request)
    show_turn(reply.record, as_json=as_json, quiet=quiet, verbose=verbose)


@app.command("eval")
def eval_(
    paths: Annotated[list[Path], typer.Argument(help="Bundles, or directories of bundles.")],
    model: ModelName = "heuristic",
    model_id: ModelId = None,
    profile: Profile = None,
    region: Region = None,
    max_steps: MaxSteps = 8,
    as_json: AsJson = False,
) -> None:
    """Run bundles with ground truth; print AC@1, AC@3, Avg@5 per system and fault kind."""
    from agent.evaluation import find_bundles
    from cli.render import render_case, render_scores

    choice = model_choice(model, model_id, profile, region, max_steps)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such path: {', '.join(missing)}", 2)
    if not find_bundles(paths):
        fail("no incident bundles found (a bundle is a directory with incident.yaml)")
    results, scores = guard(
        service().evaluate,
        paths,
        choice,
        on_case=None if as_json else (lambda r: render_case(err, r)),
    )
    if as_json:
        payload = {
            "cases": [r.model_dump() for r in results],
            "scores": [s.model_dump() for s in scores],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    render_scores(out, scores)


@bundle_app.command("validate")
def bundle_validate(path: Annotated[Path, typer.Argument(help="Bundle directory.")]) -> None:
    """Validate every file of a bundle and what ``rca ask`` relies on (workspace, telemetry in
    the window); print a summary, and warnings on stderr."""
    session = guard(open_bundle, path)
    b = session.require_bundle()
    arch = session.architecture
    mapped = {g for eid in arch.elements for g in arch.telemetry(eid).log_groups}
    warnings = list(b.warnings) + [
        f"log group {g} is mapped (rca.logGroups) but has no file in logs/"
        for g in sorted(mapped - set(b.log_files))
    ]
    for line in warnings:
        err.print(f"warning: {terminal(line)}", highlight=False)
    out.print(
        f"ok: {b.incident.id}: {len(session.architecture.elements)} elements, "
        f"{len(b.log_files)} log groups, {len(b.metric_points)} metric points, "
        f"{len(b.cloudtrail_records)} CloudTrail records, {len(b.alarm_changes)} alarm changes",
        highlight=False,
    )


@bundle_app.command("generate")
def bundle_generate(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write the scenario bundles.")
    ] = Path("scenarios/bundles"),
) -> None:
    """Regenerate every shipped scenario bundle from its spec (deterministic)."""
    from scenarios.generator import generate_all

    for path in guard(generate_all, out_dir):
        out.print(f"wrote {path}", highlight=False)


@bundle_app.command("generate-random")
def bundle_generate_random(
    workspace: Annotated[Path, typer.Option(help="Structurizr workspace JSON file.")],
    overlay: Annotated[
        Path | None,
        typer.Option(help="Overlay YAML (default: scenarios/overlays/<workspace name>.yaml)."),
    ] = None,
    seed_start: Annotated[int, typer.Option(help="First seed.")] = 0,
    count: Annotated[int, typer.Option(help="Number of incidents (seeds in a row).")] = 10,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the bundles.")] = Path(
        ".cache/generated"
    ),
) -> None:
    """Generate random incidents on a workspace (fault kind, place, timing from each seed)."""
    from scenarios.overlay import OVERLAYS_DIR
    from scenarios.randomgen import generate_set

    overlay = overlay or OVERLAYS_DIR / f"{workspace.stem}.yaml"
    paths = guard(generate_set, workspace, overlay, seed_start, count, out_dir)
    out.print(f"wrote {len(paths)} bundles to {out_dir}", highlight=False)


@bundle_app.command("import-nezha")
def bundle_import_nezha(
    source: Annotated[Path, typer.Argument(help="The Nezha data folder (with index.json).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the bundles.")] = Path(
        ".cache/nezha"
    ),
) -> None:
    """Convert the Nezha cases listed in index.json into incident bundles."""
    from scenarios.nezha import import_all

    if not (source / "index.json").is_file():
        fail(f"{source}: no index.json; pass the Nezha data folder (e.g. ../shared/data/nezha)")
    paths = guard(import_all, source, out_dir)
    out.print(f"wrote {len(paths)} bundles to {out_dir}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
