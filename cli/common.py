"""What every command shares: consoles, the one-line error exit, progress display, options,
and the investigation service over the session store."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # Typer >= 0.20 ships its own copy of click as typer._click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer over click
    from click import exceptions as click_errors  # type: ignore[no-redef]

from agent.service import InvestigationService, Listener, ProgressEvent
from agent.sessions import open_store as session_store
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


class OneLineErrors(TyperGroup):
    """The root command group: click's own errors are one line on stderr, not a boxed panel.

    A usage error (unknown option or command, missing argument, bad value) prints
    ``error: <click's message> (try '<command> --help')`` and exits 2; any other click error
    prints ``error: <message>`` with its own exit code; an aborted prompt ``error: aborted``
    and 1. No usage block and no traceback. Commands run with ``standalone_mode=False`` so the
    errors reach this method; ``--help``, ``typer.Exit`` and the no-argument help behave as
    before (exit codes kept). Tests through ``CliRunner`` go through here too.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:  # `rca`, `rca bundle`: Typer printed
            sys.exit(exc.exit_code)  # the help already
        except click_errors.UsageError as exc:
            ctx = exc.ctx
            hint = ""
            if ctx is not None and ctx.command.get_help_option(ctx) is not None:
                hint = f" (try '{ctx.command_path} {ctx.help_option_names[0]}')"
            _click_error(f"{exc.format_message().rstrip('.')}{hint}", exc.exit_code)
        except click_errors.ClickException as exc:
            _click_error(exc.format_message(), exc.exit_code)
        except typer.Abort:  # Typer's own class (typer._click has none; older Typer: click's)
            _click_error("aborted", 1)
        except BrokenPipeError:  # `rca ... | head`: the reader left; stop quietly
            _stdout_closed()
        sys.exit(code if isinstance(code, int) else 0)


def _stdout_closed() -> NoReturn:
    """Exit after the reader of stdout went away, with no traceback at interpreter shutdown.

    Python's documented recipe (library/signal, "Note on SIGPIPE"): point stdout at devnull so
    the final flush cannot raise again, then exit 1.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)


def _click_error(message: str, code: int) -> NoReturn:
    line = " ".join(strip_controls(message).split())  # one line, whatever click's text held
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()
    sys.exit(code)


def guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a product error or an unreadable/unwritable file becomes one error line and
    exit code 1 (unless --debug); Ctrl-C or SIGTERM one line and exit code 130."""
    try:
        return fn(*args, **kwargs)
    except RcaError as exc:
        if state["debug"]:
            raise
        fail(str(exc))
    except BrokenPipeError:  # stdout's reader left (`| head`): OneLineErrors.main ends quietly
        raise
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
        elif event.kind == "gap" and not event.tool:  # the source itself: say it before the answer
            err.print(f"warning: {strip_controls(event.text[:300])}", highlight=False, markup=False)

    return show


def service() -> InvestigationService:
    """The investigation service over this machine's session store (one error line when the
    store cannot be opened: an unwritable ``RCA_HOME`` or a damaged database)."""
    try:
        return InvestigationService(session_store())
    except RcaError as exc:
        fail(str(exc))
