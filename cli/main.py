"""The ``rca`` command.

Exit codes: 0 success; 1 a runtime error (bad bundle, unknown component, empty window, AWS
failure), printed as one line on stderr; 2 a usage error. ``--json`` prints exactly one JSON
document on stdout; progress and messages go to stderr. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import atexit
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from agent.factory import (
    DEMO_BUNDLE,
    InvestigationSetup,
    make_provider,
    open_aws,
    open_bundle,
    start_session,
)
from cli import review as review_commands
from cli import sessions as session_commands
from cli.aws import register as register_aws
from cli.common import AsJson, Profile, Quiet, Region, err, fail, guard, out, progress
from cli.common import session_store as _store
from cli.common import state as _state
from cli.lens import lens_app
from tools.interrupts import install as install_interrupts
from tools.interrupts import received as interrupt_received
from tools.markup import terminal
from tools.models import TimeWindow

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Agentic ops assistant for AWS: incident root-cause analysis.",
    pretty_exceptions_enable=False,
)
bundle_app = typer.Typer(no_args_is_help=True, help="Incident bundles: validate, generate, import.")
app.add_typer(bundle_app, name="bundle")
app.add_typer(lens_app, name="lens")
session_commands.register(app)
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


def _aws_session(
    workspace: Path,
    start: str | None,
    end: str | None,
    profile: str | None,
    region: str | None,
    role_arn_template: str | None,
    xray: bool = False,
) -> InvestigationSetup:
    """A session whose telemetry comes from AWS: the window defaults to the last hour."""
    source = {
        "kind": "aws",
        "workspace": str(workspace.resolve()),
        "profile": profile,
        "region": region,
        "role_arn_template": role_arn_template,
        "xray": xray,
    }
    return guard(open_aws, source, _window(start, end))


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
    model: Annotated[
        str, typer.Option(help="heuristic (offline, default) or bedrock (Converse tool use).")
    ] = "heuristic",
    model_id: Annotated[
        str | None, typer.Option(help="Bedrock model id or inference profile id/ARN.")
    ] = None,
    runtime: Annotated[
        str, typer.Option(help="loop (this process) or bedrock-agent (a managed Bedrock Agent).")
    ] = "loop",
    agent_id: Annotated[str | None, typer.Option(help="Bedrock Agent id (bedrock-agent).")] = None,
    agent_alias_id: Annotated[str | None, typer.Option(help="Bedrock Agent alias id.")] = None,
    aws: Annotated[
        bool, typer.Option("--aws", help="Read telemetry from AWS instead of a bundle.")
    ] = False,
    workspace: Annotated[
        Path | None, typer.Option(help="Structurizr workspace with rca.* properties (--aws).")
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
    max_steps: Annotated[int, typer.Option(min=1, max=50, help="Loop turn budget.")] = 8,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Investigate a symptom and print ranked root-cause hypotheses with evidence."""
    if not question.strip():
        fail("the question is empty; describe the symptom, e.g. 'checkout returns 502'", 2)
    if model not in ("heuristic", "bedrock"):
        fail(f"unknown --model {model!r}: use heuristic or bedrock", 2)
    if session:
        session_commands.follow_up(
            session,
            question,
            model=model,
            model_id=model_id,
            profile=profile,
            region=region,
            max_steps=max_steps,
            as_json=as_json,
            quiet=quiet,
        )
        return
    if aws:
        if workspace is None:
            fail("--aws needs --workspace (a Structurizr workspace with rca.* properties)", 2)
        bundle_session = _aws_session(
            workspace, start, end, profile, region, role_arn_template, xray
        )
        path = workspace
    else:
        path = bundle or DEMO_BUNDLE
        bundle_session = guard(open_bundle, path, _window(start, end))
    loaded = getattr(bundle_session, "bundle", None)
    for line in getattr(loaded, "warnings", []):
        err.print(f"warning: {terminal(line)}", highlight=False)
    if not quiet:
        err.print(
            f"Investigating on bundle {path} (workspace {bundle_session.architecture.name!r}, "
            f"window {bundle_session.context.window.label()})",
            highlight=False,
        )
    if runtime == "bedrock-agent":
        session_commands.run_managed(
            bundle_session,
            question,
            agent_id,
            agent_alias_id,
            profile=profile,
            region=region,
            as_json=as_json,
            quiet=quiet,
        )
        return
    if runtime != "loop":
        fail(f"unknown --runtime {runtime!r}: use loop or bedrock-agent", 2)
    provider = guard(
        make_provider,
        model,
        bundle_session,
        focus=component,
        model_id=model_id,
        region=region,
        profile=profile,
        max_steps=max_steps,
    )
    price = getattr(provider, "model_id", None)
    from agent.providers.bedrock import price_of

    record = guard(
        start_session,
        bundle_session,
        question,
        provider,
        _store(),
        progress=progress(quiet),
        max_steps=max_steps,
        price_per_1k=price_of(price) if price else (0.0, 0.0),
    )
    session_commands.show_turn(record, bundle_session.architecture, as_json=as_json, quiet=quiet)


@app.command("eval")
def eval_(
    paths: Annotated[list[Path], typer.Argument(help="Bundles, or directories of bundles.")],
    as_json: AsJson = False,
) -> None:
    """Run bundles with ground truth; print AC@1, AC@3, Avg@5 per system and fault kind."""
    from agent.evaluation import evaluate, find_bundles
    from cli.render import render_case, render_scores

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such path: {', '.join(missing)}", 2)
    if not find_bundles(paths):
        fail("no incident bundles found (a bundle is a directory with incident.yaml)")
    results, scores = guard(
        evaluate, paths, on_case=None if as_json else (lambda r: render_case(err, r))
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
