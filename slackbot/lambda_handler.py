"""The Slack app over HTTP on AWS Lambda (API Gateway or a function URL in front).

``process_before_response=True``: Lambda freezes the process once the handler returns, so Bolt
acknowledges inside the request and runs each lazy listener (the investigation) in a second,
asynchronous invocation of this same function (``slack_bolt.adapter.aws_lambda``; the
function's role needs ``lambda:InvokeFunction`` on itself). Credentials come from the
environment or the Secrets Manager secret named by ``RCA_SLACK_SECRET_ID``; sessions and event
claims live in the DynamoDB table ``RCA_SESSION_TABLE``; the channel config comes from
``RCA_SLACK_CONFIG``; the investigation's tool calls go through the AgentCore Gateway when
``RCA_GATEWAY_URL`` is set (:func:`tools.gateway_client.gateway_tools_from_env`).
"""

from __future__ import annotations

from typing import Any

_handler: Any = None


def _build() -> Any:
    from slack_sdk import WebClient

    from agent.service import InvestigationService
    from agent.sessions import open_store
    from slackbot.app import build_app, review_handlers
    from slackbot.config import load_config
    from slackbot.dedupe import open_claims
    from slackbot.secrets import load_secrets
    from tools.aws.session import make_client
    from tools.gateway_client import gateway_tools_from_env

    secrets = load_secrets()
    secrets.require("bot_token", "signing_secret")
    assert secrets.bot_token is not None and secrets.signing_secret is not None
    config = load_config()
    app = build_app(
        config,
        InvestigationService(open_store(), tools=gateway_tools_from_env()),
        open_claims(),
        client=WebClient(token=secrets.bot_token.get_secret_value()),
        signing_secret=secrets.signing_secret.get_secret_value(),
        process_before_response=True,
        reviews=review_handlers(config),
    )
    return wire(app, make_client("lambda", retries=False))


def wire(app: Any, lambda_client: Any) -> Any:
    """The Lambda adapter for ``app``; lazy listeners start as asynchronous self-invocations
    (``Invoke`` with ``InvocationType="Event"``) through ``lambda_client`` (built by the
    project's client factory, without retries so a listener never runs twice)."""
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    handler = SlackRequestHandler(app)
    app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(
        handler.logger, lambda_client=lambda_client
    )
    return handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (API Gateway HTTP API / REST API proxy or function URL)."""
    global _handler
    if _handler is None:
        _handler = _build()
    return _handler.handle(event, context)
