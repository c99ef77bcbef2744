"""Slack credentials, from the environment or AWS Secrets Manager; never logged.

Environment: ``SLACK_BOT_TOKEN`` (xoxb-), ``SLACK_SIGNING_SECRET`` (HTTP mode) and
``SLACK_APP_TOKEN`` (xapp-, Socket Mode). When ``RCA_SLACK_SECRET_ID`` names a Secrets Manager
secret, its ``SecretString`` is read instead: a JSON object with the same three keys
(``GetSecretValue``, AWS Secrets Manager API reference). Values are pydantic ``SecretStr``, so
``repr``, logs and error messages show ``**********``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from tools.aws.errors import raise_if_throttled
from tools.errors import RcaError
from tools.models import Model

KEYS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


class SlackSecrets(Model):
    """The app's tokens (each may be absent when the mode does not need it)."""

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None

    def require(self, *names: str) -> None:
        """Raises RcaError naming the missing variables (never their values)."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            env = ", ".join(
                KEYS[("bot_token", "signing_secret", "app_token").index(n)] for n in missing
            )
            raise RcaError(
                f"missing Slack credentials: set {env} in the environment, or put them in a "
                "Secrets Manager secret named by RCA_SLACK_SECRET_ID"
            )


def load_secrets(client: Any | None = None) -> SlackSecrets:
    """The credentials from Secrets Manager (``RCA_SLACK_SECRET_ID``) or the environment.

    Raises:
        RcaError: the secret cannot be read or is not a JSON object (the message names the
        secret id and the AWS error code, never the secret's content).
    """
    secret_id = os.environ.get("RCA_SLACK_SECRET_ID")
    values: dict[str, Any] = {k: os.environ.get(k) for k in KEYS}
    if secret_id:
        if client is None:
            from tools.aws.session import make_client

            client = make_client("secretsmanager")
        try:
            reply = client.get_secret_value(SecretId=secret_id)
        except (ClientError, BotoCoreError) as exc:
            raise_if_throttled(exc, service="Secrets Manager", operation="GetSecretValue")
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise RcaError(f"cannot read Slack secret {secret_id}: {code}") from None
        try:
            stored = json.loads(reply.get("SecretString") or "")
        except ValueError:
            stored = None
        if not isinstance(stored, dict):
            raise RcaError(f"Slack secret {secret_id} must be a JSON object with {', '.join(KEYS)}")
        values.update({k: stored[k] for k in KEYS if stored.get(k)})
    return SlackSecrets(
        bot_token=values["SLACK_BOT_TOKEN"],
        signing_secret=values["SLACK_SIGNING_SECRET"],
        app_token=values["SLACK_APP_TOKEN"],
    )
