"""The investigation service on Amazon Bedrock AgentCore Runtime (code deployment).

The ``bedrock-agentcore`` SDK's :class:`BedrockAgentCoreApp` serves ``POST /invocations`` and
``GET /ping`` on port 8080, the contract AgentCore Runtime calls. Each invocation payload is a
:class:`RuntimeRequest` (JSON); the answer is a :class:`RuntimeReply` with the whole session
record, so every caller renders it like a local investigation. The surface is thin: it builds
the :class:`~agent.service.InvestigationService` once per process from the environment the CDK
stack sets and calls ``start`` / ``follow_up`` / ``get``.

Environment (set by ``infra/stacks/agent_stack.py``):

- ``RCA_SESSION_TABLE``: DynamoDB sessions table (partition key ``id``; TTL attribute ``ttl``,
  ``RCA_SESSION_TTL_DAYS`` after the last write);
- ``RCA_WORKSPACE``: the Structurizr workspace (``s3://`` URI or a path in the package);
- ``RCA_ACCOUNTS`` / ``RCA_REGIONS``: comma-separated accounts and Regions to investigate;
- ``RCA_MODEL_ID``: the Bedrock model or inference profile id; ``AWS_REGION``;
- ``RCA_GUARDRAIL_ID`` / ``RCA_GUARDRAIL_VERSION``: an optional Bedrock Guardrail applied to
  tool output before the model reads it;
- ``RCA_GATEWAY_URL``: the AgentCore Gateway's MCP URL (stack output ``GatewayUrl``): the
  loop's tool calls go through the Gateway to the tool Lambdas
  (:class:`tools.gateway_client.GatewayTools`, SigV4-signed with the runtime role, which holds
  ``bedrock-agentcore:InvokeGateway`` and no telemetry read action); unset, the tools run in
  this process (:func:`tools.toolbox.run_tool`) with the runtime's own credentials (and the
  ``RCA_ROLE_*`` / ``RCA_AWS_CONFIG`` role settings of :class:`tools.aws.session.RoleConfig`,
  which the deployed runtime does not get: its tools assume the workload roles);
  ``RCA_GATEWAY_TIMEOUT_S``: seconds per Gateway request (default 130);
- ``RCA_BUNDLE`` / ``RCA_MODEL_PROVIDER=heuristic``: serve an incident bundle with the offline
  investigator instead (trials without AWS; the tests; never through the Gateway).

Run locally: ``python -m agent.runtime`` (port 8080).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from agent.loop import ToolExecutor
from agent.service import (
    AwsSource,
    BundleSource,
    InvestigationService,
    ModelChoice,
    ProgressEvent,
    TelemetrySource,
)
from agent.sessions import SessionRecord, open_store
from tools.c4 import ArchitectureModel
from tools.errors import RcaError
from tools.models import Model, TimeWindow


class RuntimeRequest(Model):
    """One invocation: start an investigation, ask a follow-up, or read a session.

    ``session`` is the caller's session key (default: the AgentCore runtime session id);
    ``window`` (UTC) defaults to the last hour ending now.
    """

    action: Literal["start", "follow_up", "get"] = "start"
    question: str = Field(default="", max_length=4000)
    session: str | None = Field(default=None, max_length=256)
    window: TimeWindow | None = None
    focus: list[str] = Field(default_factory=list, max_length=20)
    max_steps: int = Field(default=8, ge=1, le=50)


class RuntimeReply(Model):
    """The result: ``ok`` with the session record and the progress events, or ``error`` with
    one line saying what failed and what to do."""

    status: Literal["ok", "error"]
    session: str | None = None
    record: SessionRecord | None = None
    events: list[ProgressEvent] = Field(default_factory=list)
    error: str | None = None


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _seconds(value: str | None) -> float:
    from tools.gateway_client import DEFAULT_TIMEOUT_S

    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        return float(value)
    except ValueError:
        raise RcaError(f"RCA_GATEWAY_TIMEOUT_S={value!r} is not a number of seconds") from None


class RuntimeSettings(Model):
    """What the runtime reads from its environment (see the module docstring)."""

    table: str | None = None
    workspace: str | None = None
    bundle: str | None = None
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    model_id: str | None = None
    provider: Literal["bedrock", "heuristic"] = "bedrock"
    region: str | None = None
    guardrail_id: str | None = None
    guardrail_version: str = "DRAFT"
    gateway_url: str | None = None
    gateway_timeout_s: float = Field(default=130.0, gt=0, le=900)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeSettings:
        """Raises RcaError naming the missing variable."""
        env = os.environ if env is None else env
        settings = cls(
            table=env.get("RCA_SESSION_TABLE") or None,
            workspace=env.get("RCA_WORKSPACE") or None,
            bundle=env.get("RCA_BUNDLE") or None,
            accounts=_list(env.get("RCA_ACCOUNTS")),
            regions=_list(env.get("RCA_REGIONS")),
            model_id=env.get("RCA_MODEL_ID") or None,
            provider="heuristic" if env.get("RCA_MODEL_PROVIDER") == "heuristic" else "bedrock",
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            guardrail_id=env.get("RCA_GUARDRAIL_ID") or None,
            guardrail_version=env.get("RCA_GUARDRAIL_VERSION") or "DRAFT",
            gateway_url=env.get("RCA_GATEWAY_URL") or None,
            gateway_timeout_s=_seconds(env.get("RCA_GATEWAY_TIMEOUT_S")),
        )
        if settings.bundle and settings.gateway_url:
            raise RcaError(
                "RCA_BUNDLE and RCA_GATEWAY_URL exclude each other: the Gateway's tools read "
                "AWS, not a bundle; unset one"
            )
        if settings.gateway_url and not settings.region:
            raise RcaError("not configured: set AWS_REGION (the Gateway's Region, for SigV4)")
        if not (settings.workspace or settings.bundle):
            raise RcaError("not configured: set RCA_WORKSPACE (or RCA_BUNDLE for a trial)")
        if settings.provider == "bedrock" and not settings.model_id:
            raise RcaError("not configured: set RCA_MODEL_ID (a Bedrock inference profile id)")
        return settings

    def tools(self) -> ToolExecutor | None:
        """How the loop runs tools: through the Gateway when ``gateway_url`` is set
        (:func:`tools.gateway_client.gateway_tools_from_env`), else None (in this process)."""
        from tools.gateway_client import gateway_tools_from_env

        if not self.gateway_url:
            return None
        return gateway_tools_from_env(
            {
                "RCA_GATEWAY_URL": self.gateway_url,
                "AWS_REGION": str(self.region or ""),
                "RCA_GATEWAY_TIMEOUT_S": str(self.gateway_timeout_s),
            }
        )

    def source(self) -> TelemetrySource:
        """The telemetry source: the bundle when set, else AWS with the workspace."""
        if self.bundle:
            return BundleSource(path=self.bundle)
        return AwsSource(
            workspace=str(self.workspace),
            accounts=self.accounts,
            regions=self.regions or ([self.region] if self.region else []),
        )

    def model(self, max_steps: int) -> ModelChoice:
        return ModelChoice(
            provider=self.provider,
            model_id=self.model_id,
            region=self.region,
            max_steps=max_steps,
            guardrail_id=self.guardrail_id,
            guardrail_version=self.guardrail_version,
        )

    def architecture(self) -> ArchitectureModel:
        """The workspace (of the bundle, or ``RCA_WORKSPACE``: a path or ``s3://`` URI).

        Raises:
            WorkspaceError: it cannot be read.
        """
        from tools.workspace import load_workspace

        if self.bundle:
            return ArchitectureModel.load(Path(self.bundle) / "workspace.json")
        return load_workspace(str(self.workspace))


def handle(
    payload: Any,
    runtime_session: str | None,
    *,
    service: InvestigationService,
    settings: RuntimeSettings,
) -> dict[str, Any]:
    """Serve one invocation; never raises for bad input or product errors (they come back as
    ``status="error"`` replies)."""
    try:
        request = RuntimeRequest.model_validate(payload or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return RuntimeReply(
            status="error", error=f"bad request: {where}: {first['msg']}"
        ).model_dump(mode="json")
    key = request.session or runtime_session
    if not key:
        return RuntimeReply(status="error", error="no session key: pass 'session'").model_dump(
            mode="json"
        )
    events: list[ProgressEvent] = []
    try:
        if request.action == "get":
            record = service.get(key)
        elif request.action == "follow_up":
            record = service.follow_up(
                key,
                request.question,
                model=settings.model(request.max_steps),
                listener=events.append,
            )
        else:
            record = service.start(
                key,
                request.question,
                settings.source(),
                model=settings.model(request.max_steps),
                window=request.window,
                focus=request.focus or None,
                listener=events.append,
            )
    except RcaError as exc:
        return RuntimeReply(status="error", session=key, error=str(exc)).model_dump(mode="json")
    return RuntimeReply(status="ok", session=key, record=record, events=events).model_dump(
        mode="json"
    )


def build_service(settings: RuntimeSettings | None = None) -> InvestigationService:
    """The service over the sessions store (DynamoDB ``RCA_SESSION_TABLE`` in the cloud),
    running tools the way ``settings`` say (through the Gateway when configured)."""
    return InvestigationService(open_store(), tools=settings.tools() if settings else None)


def create_app(
    service: InvestigationService | None = None, settings: RuntimeSettings | None = None
) -> Any:
    """The AgentCore app; ``service``/``settings`` default to the environment's (first call)."""
    from bedrock_agentcore.runtime import BedrockAgentCoreApp

    app = BedrockAgentCoreApp()
    state: dict[str, Any] = {"service": service, "settings": settings}

    @app.entrypoint
    def invoke(payload: Any, context: Any = None) -> dict[str, Any]:
        if state["settings"] is None:
            state["settings"] = RuntimeSettings.from_env()
        if state["service"] is None:
            state["service"] = build_service(state["settings"])
        session = getattr(context, "session_id", None)
        return handle(payload, session, service=state["service"], settings=state["settings"])

    return app


if __name__ == "__main__":  # pragma: no cover - the AgentCore Runtime entry point
    create_app().run()
