"""Session commands: follow-ups (``rca ask --session``, ``rca chat``), ``rca report``,
``rca sessions``, and the managed Bedrock Agent runtime."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.factory import InvestigationSetup, continue_session, make_provider
from agent.providers.base import ModelProvider
from agent.sessions import SessionRecord, dump_json
from cli.common import AsJson, Profile, Quiet, Region, err, fail, guard, out, progress
from cli.common import session_store as _store
from tools.c4 import ArchitectureModel


def show_turn(
    record: SessionRecord, arch: ArchitectureModel | None, *, as_json: bool, quiet: bool
) -> None:
    """Print the last turn of a session (or the whole record as JSON)."""
    if as_json:
        sys.stdout.write(dump_json(record) + "\n")
        return
    from cli.render import render_investigation

    render_investigation(out, record.turns[-1], arch)
    if not quiet:
        err.print(
            f'session {record.id}: follow up with `rca ask --session {record.id} "..."` '
            f"or `rca chat {record.id}`; `rca report {record.id}` writes the report",
            highlight=False,
        )


def follow_up(
    session_id: str,
    question: str,
    *,
    model: str = "heuristic",
    model_id: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    max_steps: int = 8,
    as_json: bool = False,
    quiet: bool = False,
) -> SessionRecord:
    """Ask one follow-up in a stored session and print the answer."""
    store = _store()
    record = guard(store.load, session_id)

    def provider_for(session: InvestigationSetup) -> ModelProvider:
        return make_provider(
            model,
            session,
            model_id=model_id,
            region=region,
            profile=profile,
            max_steps=max_steps,
        )

    record = guard(
        continue_session,
        record,
        question,
        provider_for,
        store,
        progress=progress(quiet),
        max_steps=max_steps,
    )
    show_turn(record, _architecture(record), as_json=as_json, quiet=True)
    return record


def _architecture(record: SessionRecord) -> ArchitectureModel | None:
    """The workspace of the session's source, when it is still on disk."""
    source = record.source
    path = (
        Path(source["workspace"])
        if source.get("kind") == "aws"
        else Path(source.get("path", "")) / "workspace.json"
    )
    return ArchitectureModel.load(path) if path.is_file() else None


def run_managed(
    session: InvestigationSetup,
    question: str,
    agent_id: str | None,
    agent_alias_id: str | None,
    *,
    profile: str | None,
    region: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """``--runtime bedrock-agent``: InvokeAgent, trace as progress, same rendering."""
    from agent.managed import ManagedAgentRuntime

    if not (agent_id and agent_alias_id):
        fail("--runtime bedrock-agent needs --agent-id and --agent-alias-id", 2)
    runtime = ManagedAgentRuntime(agent_id, agent_alias_id, profile=profile, region=region)
    inv = guard(
        runtime.run,
        question,
        session.context.window,
        session.context.baseline,
        progress=progress(quiet),
    )
    record = SessionRecord(
        id=inv.id,
        source={"kind": "bedrock-agent", "agent": f"{agent_id}/{agent_alias_id}"},
        window=inv.window,
        baseline=inv.baseline,
        turns=[inv],
    )
    guard(_store().save, record)
    show_turn(record, session.architecture, as_json=as_json, quiet=quiet)


def register(app: typer.Typer) -> None:
    """Add ``chat``, ``report`` and ``sessions`` to the ``rca`` app."""

    @app.command()
    def chat(
        session_id: Annotated[str, typer.Argument(help="A stored investigation id.")],
        question: Annotated[
            str | None, typer.Argument(help="One follow-up; without it, read lines from stdin.")
        ] = None,
        model: Annotated[str, typer.Option(help="heuristic or bedrock.")] = "heuristic",
        model_id: Annotated[str | None, typer.Option(help="Bedrock model id.")] = None,
        profile: Profile = None,
        region: Region = None,
        quiet: Quiet = False,
    ) -> None:
        """Continue an investigation with follow-up questions (empty line or EOF ends)."""
        if question:
            follow_up(
                session_id,
                question,
                model=model,
                model_id=model_id,
                profile=profile,
                region=region,
                quiet=quiet,
            )
            return
        guard(_store().load, session_id)
        err.print("Ask a follow-up (empty line to end).", highlight=False)
        for line in sys.stdin:
            if not line.strip():
                break
            follow_up(
                session_id,
                line.strip(),
                model=model,
                model_id=model_id,
                profile=profile,
                region=region,
                quiet=quiet,
            )

    @app.command()
    def report(
        session_id: Annotated[str, typer.Argument(help="A stored investigation id.")],
        output: Annotated[
            Path | None, typer.Option("--out", help="Write the Markdown here (default: stdout).")
        ] = None,
    ) -> None:
        """Render an investigation as a Markdown incident report."""
        from agent.report import render_report

        record = guard(_store().load, session_id)
        text = render_report(record, _architecture(record))
        if output is None:
            sys.stdout.write(text)
            return
        guard(output.write_text, text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)

    @app.command()
    def sessions(as_json: AsJson = False) -> None:
        """List stored investigations, newest first."""
        rows = guard(_store().list)
        if as_json:
            payload = [{"id": i, "created_at": c.isoformat(), "question": q} for i, c, q in rows]
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
            return
        for sid, created, question in rows:
            out.print(f"{sid}  {created:%Y-%m-%d %H:%M}  {question[:80]}", highlight=False)
