"""Lambda handlers of the four RCA tools, as Amazon Bedrock Agent action groups.

One handler per tool, named like the tool (``tools.handlers.logs`` serves ``POST /logs``), plus
``tools.handlers.handler`` serving all four from one function (an action group holds up to 11
API operations). Routing, request validation and the OpenAPI schema of the action group come from
Powertools' ``BedrockAgentResolver``, built from the same pydantic input models the Converse tool
specs use (:data:`tools.toolbox.TOOLS`); every handler calls the same
:func:`tools.toolbox.run_tool`. Print the schema with ``python -m tools.handlers [tool ...]``.

Event and response format (https://docs.aws.amazon.com/bedrock/latest/userguide/agents-lambda.html):
the event carries ``apiPath``, ``httpMethod``, ``requestBody.content["application/json"]
.properties`` as ``[{name, type, value}]`` (values are strings; arrays and objects arrive as
JSON text or as ``[a, b]`` / ``{k=v}`` text, normalised here before validation) and
``sessionAttributes``; the response is ``{"messageVersion": "1.0", "response": {actionGroup,
apiPath, httpMethod, httpStatusCode, responseBody: {"application/json": {"body": <JSON text>}}},
"sessionAttributes": ...}``.

Configuration (environment, read per cold start):

- ``RCA_WORKSPACE``: the Structurizr workspace, ``s3://bucket/key.json`` or a file path
  (default ``workspace.json`` next to the handler package);
- ``RCA_ROLE_ARN_TEMPLATE`` / ``RCA_AWS_CONFIG``: cross-account read-only roles
  (:mod:`tools.aws.session`); ``AWS_REGION`` is set by Lambda;
- ``RCA_WINDOW_MINUTES``: the incident window when the session names none (default 60, ending
  now); ``RCA_MAX_RESPONSE_BYTES``: response body cap (default 20,000 bytes).

Session attributes (set by whoever opens the agent session, updated by the handlers):
``rcaWindowStart`` / ``rcaWindowEnd`` (ISO 8601 UTC), optional ``rcaBaselineStart`` /
``rcaBaselineEnd``, and ``rcaEvidenceCount``: evidence ids continue across calls of one session
(``E1`` ... ``En``), so hypotheses can cite them.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import BedrockAgentResolver
from aws_lambda_powertools.event_handler.api_gateway import BedrockResponse
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import ValidationError

from tools.aws.session import AwsSessions, ClientFactory, RoleConfig
from tools.c4 import ArchitectureModel
from tools.context import EvidenceLedger, ToolContext, ToolResult
from tools.errors import RcaError
from tools.models import Evidence, TimeWindow
from tools.telemetry.aws import AwsBackend
from tools.telemetry.base import TelemetryBackend
from tools.toolbox import TOOLS, Tool, run_tool
from tools.workspace import load_workspace  # re-exported: callers import it from here

DEFAULT_MAX_RESPONSE_BYTES = 20_000
SESSION_START, SESSION_END = "rcaWindowStart", "rcaWindowEnd"
SESSION_BASELINE_START, SESSION_BASELINE_END = "rcaBaselineStart", "rcaBaselineEnd"
SESSION_EVIDENCE = "rcaEvidenceCount"


class SessionLedger(EvidenceLedger):
    """An evidence ledger whose ids continue after ``offset`` earlier items of the session."""

    def __init__(self, offset: int = 0) -> None:
        super().__init__()
        self.offset = max(0, offset)

    def add(self, **fields: Any) -> Evidence:
        with self._lock:
            evidence = Evidence(id=f"E{self.offset + len(self._items) + 1}", **fields)
            self._items.append(evidence)
            return evidence


class Runtime:
    """What the handlers share across warm invocations: the workspace and the backend.

    ``load`` builds it from the environment on first use; tests inject one with
    :func:`set_runtime` (an architecture and any :class:`TelemetryBackend`).
    """

    def __init__(
        self,
        architecture: ArchitectureModel,
        backend: TelemetryBackend,
        *,
        window_minutes: float = 60.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.architecture = architecture
        self.backend = backend
        self.window_minutes = window_minutes
        self.max_response_bytes = max_response_bytes
        self.now = now

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, clients: ClientFactory | None = None
    ) -> Runtime:
        """Build from ``RCA_WORKSPACE`` and the role configuration.

        Raises:
            WorkspaceError: the workspace cannot be read or parsed.
            CredentialsError: invalid role configuration.
        """
        env = os.environ if environ is None else environ
        location = env.get("RCA_WORKSPACE") or str(Path(__file__).with_name("workspace.json"))
        architecture = load_workspace(location)
        factory = clients or AwsSessions(roles=RoleConfig.resolve(environ=env))
        return cls(
            architecture,
            AwsBackend(architecture, factory),
            window_minutes=float(env.get("RCA_WINDOW_MINUTES", "60")),
            max_response_bytes=int(env.get("RCA_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)),
        )

    def context(self, attributes: Mapping[str, str]) -> ToolContext:
        """The tool context of one call: window from the session attributes, else the last
        ``window_minutes`` minutes; the ledger continues the session's evidence ids."""
        window = _window(attributes.get(SESSION_START), attributes.get(SESSION_END))
        if window is None:
            end = self.now().replace(second=0, microsecond=0)
            window = TimeWindow(start=end - timedelta(minutes=self.window_minutes), end=end)
        baseline = _window(
            attributes.get(SESSION_BASELINE_START), attributes.get(SESSION_BASELINE_END)
        )
        offset = _count(attributes.get(SESSION_EVIDENCE))
        return ToolContext(
            architecture=self.architecture,
            backend=self.backend,
            window=window,
            baseline=baseline or window.previous(),
            ledger=SessionLedger(offset),
        )


def _count(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _window(start: str | None, end: str | None) -> TimeWindow | None:
    if not (start and end):
        return None
    try:
        return TimeWindow.model_validate({"start": start, "end": end})
    except ValidationError:
        return None


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    """Install the runtime the handlers use (tests, custom wiring); None reloads from env."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime


def get_runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.load()
        return _runtime


# ------------------------------------------------------------- requests
def _coerce(value: Any, kind: str) -> Any:
    """A Bedrock property value (always text) as the JSON value its schema type names."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if kind == "string":
        return value
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if kind == "array" and text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [p.strip().strip("\"'") for p in inner.split(",")] if inner else []
    if kind == "object" and text.startswith("{") and text.endswith("}"):
        pairs = [p.split("=", 1) for p in text[1:-1].split(",") if "=" in p]
        return {k.strip(): v.strip() for k, v in pairs}
    return value


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Bedrock Agent event whose request-body property values are JSON values."""
    body = (event.get("requestBody") or {}).get("content") or {}
    media = body.get("application/json")
    if not media or not media.get("properties"):
        return event
    properties = []
    for prop in media["properties"]:
        kind = str(prop.get("type") or "string").lower()
        properties.append({**prop, "value": _coerce(prop.get("value"), kind)})
    content = {**body, "application/json": {**media, "properties": properties}}
    return {**event, "requestBody": {**event["requestBody"], "content": content}}


def fit(result: ToolResult, max_bytes: int) -> dict[str, Any]:
    """The result as a JSON-able dict no larger than ``max_bytes`` once serialised: drop
    ``data`` first, then evidence samples, then cut the summary (saying so in ``error``)."""
    payload = result.model_dump(mode="json")
    if len(json.dumps(payload)) <= max_bytes:
        return payload
    payload["data"] = {"omitted": "data left out to fit the agent's response size limit"}
    if len(json.dumps(payload)) <= max_bytes:
        return payload
    for item in payload["evidence"]:
        item["samples"] = item["samples"][:1]
        item["searched"] = item["searched"][:300]
    while len(json.dumps(payload)) > max_bytes and len(payload["evidence"]) > 1:
        payload["evidence"].pop()
        payload["error"] = "evidence list truncated to fit the response size limit"
    if len(json.dumps(payload)) > max_bytes:
        payload["summary"] = payload["summary"][: max_bytes // 2]
    return payload


def _route(app: BedrockAgentResolver, tool: Tool) -> Callable[..., BedrockResponse[Any]]:
    def route(body: Any) -> BedrockResponse[Any]:
        attributes = dict(app.current_event.session_attributes or {})
        limit, offset = DEFAULT_MAX_RESPONSE_BYTES, _count(attributes.get(SESSION_EVIDENCE))
        try:
            runtime = get_runtime()
            limit = runtime.max_response_bytes
            ctx = runtime.context(attributes)
            if isinstance(ctx.ledger, SessionLedger):
                offset = ctx.ledger.offset
            result = run_tool(ctx, tool.name, body.model_dump(mode="json", exclude_none=True))
        except (RcaError, ValueError) as exc:  # configuration: workspace, roles, window
            result = ToolResult(tool=tool.name, status="error", error=str(exc))
        attributes[SESSION_EVIDENCE] = str(offset + len(result.evidence))
        return BedrockResponse(body=fit(result, limit), session_attributes=attributes)

    route.__name__ = tool.name
    route.__doc__ = tool.description
    route.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "body",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[tool.input_model, Body()],
            )
        ],
        return_annotation=inspect.Signature.empty,
    )
    return route


def build_resolver(names: Sequence[str] | None = None) -> BedrockAgentResolver:
    """A resolver with ``POST /<tool>`` for each named tool (default: all four); the operation
    id and description are the tool's name and description, the request body its input model."""
    app = BedrockAgentResolver()
    for name in names or list(TOOLS):
        tool = TOOLS[name]
        app.post(
            f"/{name}",
            description=tool.description,
            summary=f"RCA tool: {name}",
            operation_id=name,
        )(_route(app, tool))
    return app


def openapi_schema(names: Sequence[str] | None = None, title: str = "rca-tools") -> str:
    """The OpenAPI 3.0 JSON of the action group (what Bedrock's ``apiSchema`` takes)."""
    return build_resolver(names).get_openapi_json_schema(
        title=title,
        version="1.0.0",
        description="Read-only incident RCA tools over an AWS account's telemetry.",
    )


_resolvers = {name: build_resolver([name]) for name in TOOLS}
_all = build_resolver()


def _serve(app: BedrockAgentResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(normalize_event(event), context)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """All four tools in one function (dispatch on ``apiPath``)."""
    return _serve(_all, event, context)


def architecture(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``architecture`` tool (``POST /architecture``)."""
    return _serve(_resolvers["architecture"], event, context)


def logs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``logs`` tool (``POST /logs``)."""
    return _serve(_resolvers["logs"], event, context)


def metrics(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``metrics`` tool (``POST /metrics``)."""
    return _serve(_resolvers["metrics"], event, context)


def changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``changes`` tool (``POST /changes``)."""
    return _serve(_resolvers["changes"], event, context)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(openapi_schema(sys.argv[1:] or None) + "\n")
