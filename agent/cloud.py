"""Invoke the deployed investigation runtime (AgentCore Runtime) from any client.

``InvokeAgentRuntime`` (``bedrock-agentcore`` data plane, ``POST
/runtimes/{agentRuntimeArn}/invocations``) takes the runtime ARN, a ``runtimeSessionId`` of 33
to 256 characters (one microVM session per id) and a JSON payload (a
:class:`~agent.runtime.RuntimeRequest`); the response body is the runtime's JSON reply
(:class:`~agent.runtime.RuntimeReply`). Source: the botocore service model of
``bedrock-agentcore`` and the AgentCore developer guide ("Invoke an AgentCore Runtime agent").
The call is not retried (a retry would run the investigation twice) and may take minutes.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from agent.runtime import RuntimeReply, RuntimeRequest
from tools.aws.errors import translate
from tools.aws.session import make_client
from tools.errors import RcaError

RUNTIME_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock-agentcore:[a-z0-9-]+:\d{12}:runtime/[A-Za-z0-9_-]+$"
)
MIN_SESSION_ID = 33
INVOKE_TIMEOUT_S = 900


def runtime_session_id(key: str | None = None) -> str:
    """A runtime session id of at least 33 characters: ``rca-<key>`` padded with a uuid when
    ``key`` is short, or ``rca-<uuid4 hex>`` without a key (characters outside
    ``[A-Za-z0-9-_]`` become ``-``)."""
    base = "rca-" + re.sub(r"[^A-Za-z0-9_-]", "-", key) if key else f"rca-{uuid.uuid4().hex}"
    if len(base) < MIN_SESSION_ID:
        base = f"{base}-{uuid.uuid5(uuid.NAMESPACE_URL, base).hex}"
    return base[:256]


class CloudRuntime:
    """A client of one deployed runtime; ``client`` (a ``bedrock-agentcore`` client) is
    injectable for tests."""

    def __init__(
        self,
        runtime_arn: str,
        *,
        client: Any = None,
        region: str | None = None,
        profile: str | None = None,
    ) -> None:
        if not RUNTIME_ARN.match(runtime_arn):
            raise RcaError(
                f"{runtime_arn!r} is not an AgentCore runtime ARN "
                "(arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>; see the "
                "RuntimeArn output of the agent stack)"
            )
        self.runtime_arn = runtime_arn
        self.client = client or make_client(
            "bedrock-agentcore",
            region=region or runtime_arn.split(":")[3],
            profile=profile,
            retries=False,
            read_timeout_s=INVOKE_TIMEOUT_S,
        )

    def invoke(self, request: RuntimeRequest) -> RuntimeReply:
        """Send one request; the session key doubles as the runtime session id, so follow-ups
        of one investigation reach the same runtime session.

        Raises:
            RcaError: the call failed (translated AWS error) or the runtime answered an error.
        """
        session = request.session or f"cli-{uuid.uuid4().hex[:12]}"
        request = request.model_copy(update={"session": session})
        try:
            reply = self.client.invoke_agent_runtime(
                agentRuntimeArn=self.runtime_arn,
                runtimeSessionId=runtime_session_id(session),
                contentType="application/json",
                accept="application/json",
                payload=json.dumps(request.model_dump(mode="json", exclude_none=True)).encode(),
            )
            body = reply["response"].read()
        except (ClientError, BotoCoreError) as exc:
            raise translate(
                exc, service="bedrock-agentcore", operation="InvokeAgentRuntime"
            ) from exc
        try:
            result = RuntimeReply.model_validate_json(body)
        except ValueError as exc:
            raise RcaError(
                f"the runtime answered something else than a reply: {body[:200]!r}"
            ) from exc
        if result.status == "error":
            raise RcaError(f"the cloud runtime could not answer: {result.error}")
        return result
