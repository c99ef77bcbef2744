"""What every command shares: consoles, the one-line error exit, progress display, options,
and the investigation service over the session store."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from agent.service import InvestigationService, Listener, ProgressEvent
from agent.sessions import open_store as session_store
from tools.errors import RcaError
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
    err.print(f"[red]error:[/red] {terminal(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a product error becomes one error line and exit code 1 (unless --debug)."""
    try:
        return fn(*args, **kwargs)
    except RcaError as exc:
        if state["debug"]:
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def listener(quiet: bool) -> Listener | None:
    """A progress listener printing each typed event on stderr (None when ``quiet``)."""
    if quiet:
        return None

    def show(event: ProgressEvent) -> None:
        if event.kind == "planning":
            head = f"[bold]step {event.step}[/bold] " if event.step else ""
            err.print(f"{head}{terminal(event.text)}", highlight=False)
        elif event.kind == "tool_call_started":
            line = f"  -> {event.tool} {strip_controls(event.text[:160])}"
            err.print(line, highlight=False, markup=False)
        elif event.kind == "tool_call_finished":
            extra = f" ({strip_controls(event.text)})" if event.text else ""
            err.print(
                f"  <- {event.tool}: {event.status}, {event.evidence} evidence, "
                f"{event.seconds or 0.0:.2f} s{extra}",
                highlight=False,
                markup=False,
            )
        elif event.kind == "observation":
            err.print(f"     {strip_controls(event.text[:200])}", highlight=False, markup=False)

    return show


def service() -> InvestigationService:
    """The investigation service over this machine's session store."""
    return InvestigationService(session_store())
