"""What every command shares: consoles, the one-line error exit, progress display, options."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from agent.loop import Progress
from agent.sessions import DynamoSessionStore, SessionStore, SqliteSessionStore
from tools.errors import RcaError
from tools.interrupts import EXIT_INTERRUPTED
from tools.interrupts import install as install_interrupts
from tools.markup import strip_controls, terminal

T = TypeVar("T")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
state: dict[str, bool] = {"debug": False}

Profile = Annotated[str | None, typer.Option(help="AWS profile, as for the AWS CLI.")]
Region = Annotated[str | None, typer.Option(help="AWS Region, as for the AWS CLI.")]
Quiet = Annotated[bool, typer.Option(help="No progress on stderr.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line on stderr and exit with ``code`` (1 runtime, 2 usage)."""
    state["failed"] = True
    if code == EXIT_INTERRUPTED:  # recorded: a second signal now ends the process at once
        install_interrupts(exit_now=True)
    line = " ".join(terminal(message).split())  # one line, whatever the message held
    err.print(f"[red]error:[/red] {line}", markup=True, highlight=False)
    raise typer.Exit(code)


def guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a product error or an unreadable/unwritable file becomes one error line and
    exit code 1 (unless --debug); Ctrl-C or SIGTERM one line and exit code 130."""
    try:
        return fn(*args, **kwargs)
    except RcaError as exc:
        if state["debug"]:
            raise
        fail(str(exc))
    except OSError as exc:  # a file that cannot be written or read: say which, and why
        if state["debug"]:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}; check the path and its permissions")
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        fail(
            f"interrupted by {name}; run the command again to resume",
            EXIT_INTERRUPTED,
        )


def progress(quiet: bool) -> Progress:
    """A progress callback printing each step and tool call on stderr."""

    def show(event: str, payload: dict[str, Any]) -> None:
        if quiet:
            return
        if event == "step":
            err.print(
                f"[bold]step {payload['step']}[/bold] {terminal(str(payload['thought']))}",
                highlight=False,
            )
        elif event == "tool_start":
            args = json.dumps(payload["input"], default=str)
            line = f"  -> {payload['tool']} {strip_controls(args[:160])}"
            err.print(line, highlight=False, markup=False)
        elif event == "tool_end":
            extra = f" ({strip_controls(str(payload['error']))})" if payload.get("error") else ""
            err.print(
                f"  <- {payload['tool']}: {payload['status']}, {payload['evidence']} evidence, "
                f"{payload['seconds']:.2f} s{extra}",
                highlight=False,
                markup=False,
            )

    return show


def session_store() -> SessionStore:
    """DynamoDB when ``RCA_SESSION_TABLE`` is set (the cloud), else SQLite under ``RCA_HOME``."""
    table = os.environ.get("RCA_SESSION_TABLE")
    if table:
        import boto3

        return DynamoSessionStore(table, boto3.client("dynamodb"))
    home = os.environ.get("RCA_HOME")
    try:
        return SqliteSessionStore(Path(home) / "rca.db" if home else None)
    except RcaError as exc:  # unwritable RCA_HOME or a damaged database: one line
        fail(str(exc))
