"""The ``rca`` command.

Exit codes: 0 success; 1 a runtime error (bad bundle, unknown component, empty window, AWS
failure), printed as one line on stderr; 2 a usage error (typer). ``--json`` prints exactly one
JSON document on stdout; progress and messages go to stderr. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.factory import DEMO_BUNDLE, open_bundle
from agent.loop import InvestigationLoop
from agent.providers.heuristic import HeuristicProvider
from tools.errors import RcaError
from tools.models import TimeWindow

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Agentic ops assistant for AWS: incident root-cause analysis.",
    pretty_exceptions_enable=False,
)
bundle_app = typer.Typer(no_args_is_help=True, help="Incident bundles: validate, generate, import.")
app.add_typer(bundle_app, name="bundle")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state: dict[str, bool] = {"debug": False}


def fail(message: str, code: int = 1) -> None:
    """Print one error line on stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except RcaError as exc:
        if _state["debug"]:
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)


@app.callback()
def main(debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False) -> None:
    """rca: investigate incidents on AWS (or on incident bundles, offline)."""
    _state["debug"] = debug


def _progress(quiet: bool) -> Any:
    def show(event: str, payload: dict[str, Any]) -> None:
        if quiet:
            return
        if event == "step":
            err.print(f"[bold]step {payload['step']}[/bold] {payload['thought']}", highlight=False)
        elif event == "tool_start":
            args = json.dumps(payload["input"], default=str)
            err.print(f"  -> {payload['tool']} {args[:160]}", highlight=False, markup=False)
        elif event == "tool_end":
            status = payload["status"]
            extra = f" ({payload['error']})" if payload.get("error") else ""
            err.print(
                f"  <- {payload['tool']}: {status}, {payload['evidence']} evidence, "
                f"{payload['seconds']:.2f} s{extra}",
                highlight=False,
                markup=False,
            )

    return show


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The symptom, as you would tell a colleague.")],
    bundle: Annotated[
        Path | None,
        typer.Option(help="Incident bundle directory (default: the embedded demo)."),
    ] = None,
    start: Annotated[str | None, typer.Option(help="Window start, ISO 8601 UTC.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO 8601 UTC.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the investigation as JSON.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress on stderr.")] = False,
    component: Annotated[
        list[str] | None,
        typer.Option(help="Also examine this component (name or id); repeatable."),
    ] = None,
    max_steps: Annotated[int, typer.Option(min=1, max=50, help="Loop turn budget.")] = 8,
) -> None:
    """Investigate a symptom and print ranked root-cause hypotheses with evidence."""
    if not question.strip():
        fail("the question is empty; describe the symptom, e.g. 'checkout returns 502'", 2)
    path = bundle or DEMO_BUNDLE
    window = None
    if start or end:
        if not (start and end):
            fail("give both --start and --end (ISO 8601 UTC)", 2)
        try:
            window = TimeWindow.model_validate({"start": start, "end": end})
        except ValueError as exc:
            fail(f"invalid window: {str(exc).splitlines()[-1].strip()}", 2)
    session = _guard(open_bundle, path, window)
    if not quiet:
        err.print(
            f"Investigating on bundle {path} (workspace {session.architecture.name!r}, "
            f"window {session.context.window.label()})",
            highlight=False,
        )
    provider = _guard(HeuristicProvider, session.architecture, component)
    loop = InvestigationLoop(
        session.context,
        provider,
        max_steps=max_steps,
        progress=_progress(quiet),
    )
    inv = _guard(loop.run, question)
    if as_json:
        sys.stdout.write(inv.model_dump_json(indent=2) + "\n")
        return
    from cli.render import render_investigation

    render_investigation(out, inv, session.architecture)


@app.command("eval")
def eval_(
    paths: Annotated[list[Path], typer.Argument(help="Bundles, or directories of bundles.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Run bundles with ground truth; print AC@1, AC@3, Avg@5 per system and fault kind."""
    from agent.evaluation import evaluate, find_bundles
    from cli.render import render_case, render_scores

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such path: {', '.join(missing)}", 2)
    if not find_bundles(paths):
        fail("no incident bundles found (a bundle is a directory with incident.yaml)")
    results, scores = _guard(
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
    """Validate every file of a bundle; print a summary."""
    session = _guard(open_bundle, path)
    b = session.bundle
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

    paths = _guard(generate_all, out_dir)
    for path in paths:
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
    paths = _guard(import_all, source, out_dir)
    out.print(f"wrote {len(paths)} bundles to {out_dir}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
