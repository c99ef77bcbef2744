"""``rca slack serve``: the Slack app in Socket Mode (see ``slackbot/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import err, guard


def register(app: typer.Typer) -> None:
    """Add ``slack serve`` to the ``rca`` app."""
    slack_app = typer.Typer(no_args_is_help=True, help="The Slack app (Bolt for Python).")
    app.add_typer(slack_app, name="slack")

    @slack_app.command("serve")
    def serve(
        config: Annotated[
            Path | None,
            typer.Option(
                help="Channel config YAML (default: $RCA_SLACK_CONFIG, else every allowed "
                "channel investigates the embedded demo bundle)."
            ),
        ] = None,
    ) -> None:
        """Run the app in Socket Mode (SLACK_BOT_TOKEN and SLACK_APP_TOKEN, from the
        environment or the Secrets Manager secret named by RCA_SLACK_SECRET_ID)."""
        from slackbot.app import serve_socket_mode

        err.print("Slack app: connecting in Socket Mode (Ctrl-C stops)", highlight=False)
        guard(serve_socket_mode, config)
