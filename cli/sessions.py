"""Session commands: follow-ups (``rca ask --session``, ``rca chat``), ``rca report``,
``rca sessions`` and ``rca feedback export``; each parses options, calls
:class:`agent.service.InvestigationService` and renders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.service import ModelChoice
from agent.sessions import SessionRecord, dump_json
from cli.common import AsJson, Profile, Quiet, Region, err, fail, guard, listener, out, service

Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show every evidence line, not just the deciding.")
]

ModelName = Annotated[
    str, typer.Option(help="heuristic (offline, default) or bedrock (Converse tool use).")
]
ModelId = Annotated[str | None, typer.Option(help="Bedrock model id or inference profile id/ARN.")]
MaxSteps = Annotated[int, typer.Option(min=1, max=50, help="Loop turn budget.")]


def model_choice(
    model: str,
    model_id: str | None,
    profile: str | None,
    region: str | None,
    max_steps: int = 8,
    **runtime: str | None,
) -> ModelChoice:
    """The validated model choice (a usage error exits 2)."""
    if model not in ("heuristic", "bedrock"):
        fail(f"unknown --model {model!r}: use heuristic or bedrock", 2)
    if runtime.get("runtime") not in (None, "loop", "bedrock-agent"):
        fail(f"unknown --runtime {runtime['runtime']!r}: use loop or bedrock-agent", 2)
    return ModelChoice.model_validate(
        {
            "provider": model,
            "model_id": model_id,
            "profile": profile,
            "region": region,
            "max_steps": max_steps,
            **{k: v for k, v in runtime.items() if v is not None},
        }
    )


def show_turn(record: SessionRecord, *, as_json: bool, quiet: bool, verbose: bool = False) -> None:
    """Print the last turn of a session (or the whole record as JSON)."""
    if as_json:
        sys.stdout.write(dump_json(record) + "\n")
        return
    from cli.render import render_investigation

    render_investigation(out, service().view(record), verbose=verbose)
    if not quiet:
        err.print(
            f'session {record.id}: follow up with `rca ask --session {record.id} "..."` '
            f"or `rca chat {record.id}`; `rca report {record.id}` writes the report",
            highlight=False,
        )


def follow_up(
    session_id: str,
    question: str,
    model: ModelChoice,
    *,
    as_json: bool = False,
    quiet: bool = False,
    verbose: bool = False,
) -> SessionRecord:
    """Ask one follow-up in a stored session and print the answer."""
    record = guard(service().follow_up, session_id, question, model=model, listener=listener(quiet))
    show_turn(record, as_json=as_json, quiet=True, verbose=verbose)
    return record


def register(app: typer.Typer) -> None:
    """Add ``chat``, ``report``, ``sessions`` and ``feedback`` to the ``rca`` app."""

    @app.command()
    def chat(
        session_id: Annotated[str, typer.Argument(help="A stored investigation id.")],
        question: Annotated[
            str | None, typer.Argument(help="One follow-up; without it, read lines from stdin.")
        ] = None,
        model: ModelName = "heuristic",
        model_id: ModelId = None,
        profile: Profile = None,
        region: Region = None,
        quiet: Quiet = False,
        verbose: Verbose = False,
    ) -> None:
        """Continue an investigation with follow-up questions (empty line or EOF ends)."""
        choice = model_choice(model, model_id, profile, region)
        if question:
            follow_up(session_id, question, choice, quiet=quiet, verbose=verbose)
            return
        guard(service().get, session_id)
        err.print("Ask a follow-up (empty line to end).", highlight=False)
        for line in sys.stdin:
            if not line.strip():
                break
            follow_up(session_id, line.strip(), choice, quiet=quiet, verbose=verbose)

    @app.command()
    def report(
        session_id: Annotated[str, typer.Argument(help="A stored investigation id.")],
        output: Annotated[
            Path | None, typer.Option("--out", help="Write the Markdown here (default: stdout).")
        ] = None,
    ) -> None:
        """Render an investigation as a Markdown incident report."""
        text = guard(service().report, session_id)
        if output is None:
            sys.stdout.write(text)
            return
        guard(output.write_text, text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)

    @app.command()
    def sessions(as_json: AsJson = False) -> None:
        """List stored investigations, newest first."""
        rows = guard(service().sessions)
        if as_json:
            payload = [{"id": i, "created_at": c.isoformat(), "question": q} for i, c, q in rows]
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
            return
        for sid, created, question in rows:
            out.print(f"{sid}  {created:%Y-%m-%d %H:%M}  {question[:80]}", highlight=False)

    feedback_app = typer.Typer(no_args_is_help=True, help="Feedback given on answers (Slack).")
    app.add_typer(feedback_app, name="feedback")

    @feedback_app.command("export")
    def feedback_export(
        output: Annotated[
            Path, typer.Option("--out", help="Directory for the evaluation cases.")
        ] = Path("feedback-cases"),
        as_json: AsJson = False,
    ) -> None:
        """Turn confirmed answers into evaluation cases (bundles with ground truth, for
        `rca eval`; a cases.jsonl lists every case, AWS sessions included)."""
        from agent.feedback import export_cases

        cases = guard(export_cases, service(), output)
        if as_json:
            sys.stdout.write(json.dumps([c.model_dump(mode="json") for c in cases], indent=2))
            sys.stdout.write("\n")
            return
        bundles = sum(1 for c in cases if c.bundle)
        out.print(
            f"wrote {len(cases)} cases to {output / 'cases.jsonl'} ({bundles} as bundles for "
            f"`rca eval {output}`)",
            highlight=False,
        )
