"""HTTP on Lambda: the ack returns inside the request and the investigation starts as an
asynchronous self-invocation (botocore Stubber on the Lambda client), which then runs it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from agent.sessions import SqliteSessionStore
from slackbot.lambda_handler import wire
from tests.slackbot.conftest import answers, chain_config, command, make_app
from tests.slackbot.fake_slack import FakeSlack

ARN = "arn:aws:lambda:eu-central-1:111122223333:function:rca-slack"


class Context:
    function_name = "rca-slack"
    invoked_function_arn = ARN


def _api_gateway_event(request: Any) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event carrying a signed Slack request."""
    return {
        "version": "2.0",
        "rawPath": "/slack/events",
        "headers": {k: v[0] for k, v in request.headers.items()},
        "requestContext": {"http": {"method": "POST"}},
        "body": request.raw_body,
        "isBase64Encoded": False,
    }


def test_lambda_acks_first_and_runs_the_investigation_in_a_second_invocation(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app = make_app(fake, store, chain_config(chain), tmp_path, process_before_response=True)
    client = boto3.client("lambda", region_name="eu-central-1")
    stub = Stubber(client)
    invocations: list[dict[str, Any]] = []
    stub.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": ARN, "InvocationType": "Event", "Payload": ANY},
    )
    handler = wire(app, client)
    original = client.invoke

    def record(**kwargs: Any) -> Any:
        invocations.append(json.loads(kwargs["Payload"]))
        return original(**kwargs)

    client.invoke = record  # type: ignore[method-assign]
    with stub:
        started = time.perf_counter()
        response = handler.handle(
            _api_gateway_event(command("checkout fails in the web app")), Context()
        )
        ack_s = time.perf_counter() - started
    assert response["statusCode"] == 200 and "Starting an investigation" in response["body"]
    assert ack_s < 3.0
    assert answers(fake) == [] and fake.of("chat.postMessage") == []  # nothing ran yet
    stub.assert_no_pending_responses()
    lazy = invocations[0]
    assert lazy["headers"]["x-slack-bolt-lazy-only"] == "1"
    # the second invocation (Lambda delivers the event payload) runs the work
    handler.handle(lazy, Context())
    assert len(answers(fake)) == 1
    assert "Orders API" in json.dumps(answers(fake)[0]["blocks"])
