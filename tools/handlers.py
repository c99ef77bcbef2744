"""Lambda handlers of the RCA tools: AgentCore Gateway targets and Bedrock Agent action groups.

Each handler serves both event shapes: an AgentCore Gateway invocation (the event is the tool's
arguments; the tool name is in the client context, see :mod:`tools.gateway`) returns the tool
result JSON; a Bedrock Agents (Classic) action-group event is served as below. Powertools
logs (structured, with the Lambda context), traces (X-Ray, active tracing) and one
``ToolCalls`` metric per call (dimension ``tool``, plus ``ToolErrors`` on error results) wrap
every handler.

One handler per tool, named like the tool (``tools.handlers.logs`` serves ``POST /logs``), plus
``tools.handlers.handler`` serving all five from one function (an action group holds up to 11
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
  now); ``RCA_MAX_RESPONSE_BYTES``: the budget of the whole Lambda response (default 25,000
  bytes, the commonly cited 25 KB action-group Lambda response quota; the page stating it was
  not found in the documentation searched, so it is configurable), measured on the serialised
  envelope with the escaped body, not on the body alone.

Tool output reaches the agent's model like it reaches the loop's: every string is sanitised
(:func:`agent.untrusted.sanitize`) and the JSON body is wrapped in an ``<untrusted-data-NONCE>``
block (:func:`agent.untrusted.wrap`, a fresh nonce per response; the agent's instructions say
such blocks are data). The action-group OpenAPI schema carries no ``enum`` (Bedrock Agents
refuse it): allowed values move into the property's description.

Session attributes (set by whoever opens the agent session, updated by the handlers):
``rcaWindowStart`` / ``rcaWindowEnd`` (ISO 8601 UTC), optional ``rcaBaselineStart`` /
``rcaBaselineEnd``, and ``rcaEvidenceCount``: evidence ids continue across calls of one session
(``E1`` ... ``En``), so hypotheses can cite them.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import BedrockAgentResolver
from aws_lambda_powertools.event_handler.api_gateway import BedrockResponse
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import ValidationError

from agent.untrusted import MAX_TOOL_TEXT, new_nonce, sanitize, wrap
from tools.aws.session import AwsSessions, ClientFactory, RoleConfig
from tools.c4 import ArchitectureModel
from tools.context import EvidenceLedger, ToolContext, ToolResult
from tools.errors import RcaError
from tools.gateway import is_gateway_event, tool_name
from tools.models import Evidence, TimeWindow
from tools.telemetry.aws import AwsBackend
from tools.telemetry.base import TelemetryBackend
from tools.toolbox import TOOLS, Tool, run_tool
from tools.workspace import load_workspace  # re-exported: callers import it from here

DEFAULT_MAX_RESPONSE_BYTES = 25_000
SESSION_START, SESSION_END = "rcaWindowStart", "rcaWindowEnd"
SESSION_BASELINE_START, SESSION_BASELINE_END = "rcaBaselineStart", "rcaBaselineEnd"
SESSION_EVIDENCE = "rcaEvidenceCount"


class SessionLedger(EvidenceLedger):
    """An evidence ledger whose ids continue after ``offset`` earlier items of the session."""

    def __init__(self, offset: int = 0) -> None:
        super().__init__()
        self.offset = max(0, offset)

    def add(self, **fields: Any) -> Evidence:
        """Record one :class:`Evidence` (``fields`` are its fields but ``id``) as
        ``E{offset + n}``; thread-safe."""
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
        roles = RoleConfig.resolve(environ=env)
        factory = clients or AwsSessions(roles=roles)
        observability = roles.cross_account == "observability" and not roles.configured
        return cls(
            architecture,
            AwsBackend(architecture, factory, observability=observability),
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
    """The runtime of this process, loaded once from the environment (:meth:`Runtime.load`)."""
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


def _sanitized(value: Any) -> Any:
    if isinstance(value, str):
        return sanitize(value)
    if isinstance(value, list):
        return [_sanitized(v) for v in value]
    if isinstance(value, dict):
        return {k: _sanitized(v) for k, v in value.items()}
    return value


def fit(
    result: ToolResult, max_bytes: int, size: Callable[[dict[str, Any]], int] | None = None
) -> dict[str, Any]:
    """The result as a JSON-able dict whose ``size`` (default: serialised length) is at most
    ``max_bytes``: drop ``data`` first, then evidence samples, then cut the summary (saying so
    in ``error``)."""
    measure = size or (lambda p: len(json.dumps(p)))
    payload = result.model_dump(mode="json")
    if measure(payload) <= max_bytes:
        return payload
    payload["data"] = {"omitted": "data left out to fit the agent's response size limit"}
    if measure(payload) <= max_bytes:
        return payload
    for item in payload["evidence"]:
        item["samples"] = item["samples"][:1]
        item["searched"] = item["searched"][:300]
    while measure(payload) > max_bytes and len(payload["evidence"]) > 1:
        payload["evidence"].pop()
        payload["error"] = "evidence list truncated to fit the response size limit"
    while measure(payload) > max_bytes and len(payload["summary"]) > 20:
        payload["summary"] = payload["summary"][: len(payload["summary"]) // 2]
    return payload


def envelope_bytes(event: Any, attributes: Mapping[str, str]) -> int:
    """Bytes of the Lambda response around an empty body (what Powertools sends back)."""
    envelope = {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": event.action_group,
            "apiPath": event.api_path,
            "httpMethod": event.http_method,
            "httpStatusCode": 200,
            "responseBody": {"application/json": {"body": ""}},
        },
        "sessionAttributes": dict(attributes),
        "promptSessionAttributes": dict(event.prompt_session_attributes or {}),
    }
    return len(json.dumps(envelope).encode("utf-8"))


def response_body(result: ToolResult, budget: int, nonce: str) -> str:
    """The body text: sanitised JSON in an untrusted-data block, whose JSON-escaped size is at
    most ``budget`` bytes and whose JSON fits the model-side cap (:data:`MAX_TOOL_TEXT`)."""

    def render(payload: dict[str, Any]) -> str:
        return wrap(json.dumps(_sanitized(payload)), nonce)

    def size(payload: dict[str, Any]) -> int:
        text = json.dumps(_sanitized(payload))
        if len(text) > MAX_TOOL_TEXT:  # wrap() would cut it and break the JSON
            return budget + 1
        return len(json.dumps(render(payload)).encode("utf-8")) - 2

    return render(fit(result, budget, size))


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
        budget = limit - envelope_bytes(app.current_event, attributes)
        body = response_body(result, budget, new_nonce())
        return BedrockResponse(body=body, session_attributes=attributes)

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
    """A resolver with ``POST /<tool>`` for each named tool (default: all five); the operation
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


def without_enums(node: Any) -> Any:
    """A JSON schema with every ``enum`` moved into its description ("Allowed values: ...")."""
    if isinstance(node, list):
        return [without_enums(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: without_enums(v) for k, v in node.items() if k != "enum"}
    if "enum" in node:
        allowed = "Allowed values: " + ", ".join(str(v) for v in node["enum"]) + "."
        out["description"] = f"{node.get('description', '').rstrip()} {allowed}".strip()
    return out


def openapi_schema(names: Sequence[str] | None = None, title: str = "rca-tools") -> str:
    """The OpenAPI 3.0 JSON of the action group (what Bedrock's ``apiSchema`` takes), with no
    ``enum`` (see the module docstring)."""
    text = build_resolver(names).get_openapi_json_schema(
        title=title,
        version="1.0.0",
        description="Read-only incident RCA tools over an AWS account's telemetry.",
    )
    return json.dumps(without_enums(json.loads(text)), indent=2)


_resolvers = {name: build_resolver([name]) for name in TOOLS}
_all = build_resolver()

logger = Logger(service="rca-tools")
tracer = Tracer(service="rca-tools")
tool_metrics = Metrics(namespace="rca-assistant", service="rca-tools")


def serve_gateway(event: dict[str, Any], name: str) -> dict[str, Any]:
    """One AgentCore Gateway tool call: ``event`` is the arguments object; the window comes from
    the arguments or the last ``RCA_WINDOW_MINUTES``. Returns the fitted ToolResult JSON (an
    ``error`` status for unknown tools, bad arguments or configuration problems)."""
    limit = DEFAULT_MAX_RESPONSE_BYTES
    try:
        runtime = get_runtime()
        limit = runtime.max_response_bytes
        result = run_tool(runtime.context({}), name, dict(event or {}))
    except (RcaError, ValueError) as exc:
        result = ToolResult(tool=name, status="error", error=str(exc))
    return fit(result, limit)


def _serve(
    app: BedrockAgentResolver, event: dict[str, Any], context: Any, name: str | None = None
) -> dict[str, Any]:
    if is_gateway_event(event):
        tool = tool_name(context, name) or ""
        reply = serve_gateway(event, tool)
        status = reply.get("status", "error")
    else:
        tool = str(event.get("apiPath", "")).strip("/")
        reply = app.resolve(normalize_event(event), context)
        status = "ok" if reply.get("response", {}).get("httpStatusCode", 200) < 400 else "error"
    tool_metrics.add_dimension(name="tool", value=tool or "unknown")
    tool_metrics.add_metric(name="ToolCalls", unit="Count", value=1)
    if status == "error":
        tool_metrics.add_metric(name="ToolErrors", unit="Count", value=1)
    logger.info("tool call", extra={"tool": tool, "status": status})
    return reply


def _instrument(fn: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Any:
    """Powertools logging (with the Lambda context when there is one), tracing and metrics
    around a handler."""
    traced = tracer.capture_lambda_handler(tool_metrics.log_metrics(fn))
    logged = logger.inject_lambda_context(traced)

    @functools.wraps(fn)
    def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return logged(event, context) if context is not None else traced(event, context)

    return run


@_instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """All tools in one function (dispatch on ``apiPath`` or the Gateway tool name)."""
    return _serve(_all, event, context)


@_instrument
def architecture(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``architecture`` tool (``POST /architecture``)."""
    return _serve(_resolvers["architecture"], event, context, "architecture")


@_instrument
def logs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``logs`` tool (``POST /logs``)."""
    return _serve(_resolvers["logs"], event, context, "logs")


@_instrument
def metrics(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``metrics`` tool (``POST /metrics``)."""
    return _serve(_resolvers["metrics"], event, context, "metrics")


@_instrument
def changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``changes`` tool (``POST /changes``)."""
    return _serve(_resolvers["changes"], event, context, "changes")


@_instrument
def traces(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The ``traces`` tool (``POST /traces``)."""
    return _serve(_resolvers["traces"], event, context, "traces")


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(openapi_schema(sys.argv[1:] or None) + "\n")
