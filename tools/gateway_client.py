"""The RCA tools called through an Amazon Bedrock AgentCore Gateway (MCP over streamable HTTP).

The cloud runtime's loop does not run the tools in its own process: it sends each tool call to
the Gateway, which invokes the tool's Lambda target (:mod:`tools.handlers`) under that tool's
read-only role. :class:`GatewayClient` is a small MCP client; :class:`GatewayTools` is the
tool executor the investigation loop uses (:class:`agent.loop.ToolExecutor`), the Gateway
twin of the in-process :func:`tools.toolbox.run_tool`.

Protocol (AgentCore developer guide, "Use an AgentCore gateway": MCP versions 2025-03-26,
2025-06-18 and 2025-11-25; MCP specification 2025-06-18, "Transports" and "Tools"):

- every message is one JSON-RPC 2.0 request ``POST``-ed to ``https://<gateway-id>.gateway.
  bedrock-agentcore.<region>.amazonaws.com/mcp`` with ``Content-Type: application/json`` and
  ``Accept: application/json, text/event-stream``; the answer is a JSON body or a
  ``text/event-stream`` whose ``data:`` events carry the JSON-RPC response;
- the session starts with ``initialize`` (the server may return an ``Mcp-Session-Id`` header,
  sent back on every later request with ``MCP-Protocol-Version``) and the
  ``notifications/initialized`` notification (answered 202);
- ``tools/list`` pages with ``cursor`` / ``nextCursor``; a Lambda target's tools are listed as
  ``<target>___<tool>`` (three underscores; the CDK stack names each target after its tool, so
  ``logs___logs``);
- ``tools/call`` takes ``{"name", "arguments"}`` and returns ``{"content": [{"type": "text",
  "text": ...}], "isError": bool}``: a Lambda target's JSON return value arrives as the text of
  one content item; a failed tool is ``isError: true`` (a result, not a JSON-RPC error); an
  unknown tool or a bad request is a JSON-RPC ``error`` ``{code, message}``.

Inbound authorization: the stack creates the Gateway with the IAM authorizer
(``AWS_IAM``), so every request is signed with SigV4 for the service ``bedrock-agentcore`` and
the Gateway's Region (botocore's :class:`~botocore.auth.SigV4Auth`, body included in the
signature), and the caller's role needs ``bedrock-agentcore:InvokeGateway`` on the Gateway ARN
(developer guide, "IAM-based inbound authorization"). The JWT authorizer is not used.

Failures never crash the loop: HTTP 429/503 and ``ThrottlingException`` are retried with
full-jitter exponential backoff (``max_attempts`` in all), then raise
:class:`~tools.aws.errors.ThrottledError`; 401/403 raise
:class:`~tools.aws.errors.AccessDeniedError`; a timeout, a JSON-RPC error or an unreadable
answer raise :class:`~tools.aws.errors.AwsError`. :class:`GatewayTools` turns each into one
``status="error"`` tool result, which the service reports as a gap.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from tools.aws.errors import AccessDeniedError, AwsError, CredentialsError, ThrottledError
from tools.context import ToolContext, ToolResult
from tools.errors import RcaError
from tools.gateway import TARGET_SEPARATOR
from tools.toolbox import TOOLS

SIGNING_SERVICE = "bedrock-agentcore"
PROTOCOL_VERSION = "2025-06-18"
DEFAULT_TIMEOUT_S = 130.0  # the tool Lambdas time out at 120 s (infra/stacks/tools_stack.py)
MAX_ERROR_TEXT = 500
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a tool answer is at most ~25 KB (tools.handlers.fit)
_RETRY_STATUS = frozenset({429, 502, 503, 504})


def _throttled(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an answer is throttling: HTTP 429, or an ``x-amzn-ErrorType`` naming a throttle
    (``ThrottlingException``, with or without its ``:<url>`` suffix). ``headers`` lower-cased."""
    return status == 429 or "Throttl" in headers.get("x-amzn-errortype", "")


def _one_line(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class GatewayClient:
    """A minimal MCP client for one AgentCore Gateway endpoint, SigV4-signed.

    ``url`` is the Gateway's MCP URL (the stack output ``GatewayUrl``, ending in ``/mcp``);
    ``region`` the Gateway's Region (the signing Region); ``credentials`` a botocore
    credentials object (default: the process's, from the standard chain: on AgentCore Runtime
    the execution role). ``timeout_s`` bounds each HTTP request (seconds);
    ``max_attempts`` counts the first try (retries only on throttling and 502/503/504).
    Thread-safe: the loop runs a turn's tool calls in parallel.
    """

    def __init__(
        self,
        url: str,
        *,
        region: str,
        credentials: Any | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise RcaError(f"gateway URL {url!r} must be https:// (the stack output GatewayUrl)")
        self.url = url
        self.region = region
        self._credentials = credentials
        self.timeout_s = timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.sleep = sleep
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._session: str | None = None
        self._protocol: str | None = None
        self._tools: dict[str, str] | None = None

    # ------------------------------------------------------------------ transport
    def credentials(self) -> Any:
        """The signing credentials (resolved once from the default chain when not given).

        Raises:
            CredentialsError: none found.
        """
        if self._credentials is None:
            import boto3

            found = boto3.Session(region_name=self.region).get_credentials()
            if found is None:
                raise CredentialsError(
                    "no AWS credentials to sign gateway requests: run with an IAM role or "
                    "set AWS credentials",
                    service=SIGNING_SERVICE,
                )
            self._credentials = found
        return self._credentials

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self._protocol:
            headers["MCP-Protocol-Version"] = self._protocol
        if self._session:
            headers["Mcp-Session-Id"] = self._session
        return headers

    def signed_request(self, body: bytes) -> urllib.request.Request:
        """The HTTP request for ``body``, signed with SigV4 (service ``bedrock-agentcore``)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        aws = AWSRequest(method="POST", url=self.url, data=body, headers=self._headers())
        SigV4Auth(self.credentials(), SIGNING_SERVICE, self.region).add_auth(aws)
        return urllib.request.Request(
            self.url, data=body, headers=dict(aws.headers.items()), method="POST"
        )

    def _send(self, message: dict[str, Any], operation: str) -> tuple[int, dict[str, str], bytes]:
        """POST one message; retries throttling; returns (status, headers, body).

        Raises:
            ThrottledError, AccessDeniedError, AwsError (see the module docstring).
        """
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        for attempt in range(1, self.max_attempts + 1):
            request = self.signed_request(body)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    data = response.read(MAX_RESPONSE_BYTES + 1)
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise AwsError(
                            f"the tool gateway's answer to {operation} exceeds "
                            f"{MAX_RESPONSE_BYTES} bytes",
                            service=SIGNING_SERVICE, operation=operation, code="TooLarge",
                        )  # fmt: skip
                    return response.status, headers, data
            except urllib.error.HTTPError as exc:
                status, text = exc.code, exc.read().decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            except (urllib.error.URLError, OSError) as exc:  # TimeoutError is an OSError
                reason = getattr(exc, "reason", exc)
                if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
                    raise AwsError(
                        f"the tool gateway did not answer {operation} within "
                        f"{self.timeout_s:g} s; narrow the request (fewer components, a "
                        "shorter window)",
                        service=SIGNING_SERVICE, operation=operation, code="Timeout",
                    ) from exc  # fmt: skip
                raise AwsError(
                    f"cannot reach the tool gateway for {operation}: {_one_line(str(reason))}",
                    service=SIGNING_SERVICE, operation=operation, code="ConnectionError",
                ) from exc  # fmt: skip
            if (_throttled(status, headers) or status in _RETRY_STATUS) and (
                attempt < self.max_attempts
            ):
                self.sleep(random.uniform(0, self.backoff_s * 2 ** (attempt - 1)))
                continue
            return status, headers, text.encode("utf-8")
        raise AssertionError("unreachable")  # pragma: no cover

    def _rpc(self, method: str, params: dict[str, Any], *, retry_session: bool = True) -> Any:
        """One JSON-RPC request; returns its ``result``.

        Raises:
            ThrottledError, AccessDeniedError, AwsError (see the module docstring).
        """
        rid = next(self._ids)
        message = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        status, headers, body = self._send(message, method)
        if status == 404 and self._session and retry_session:
            self._session = None  # the server ended the session: start a new one (spec)
            self.initialize()
            return self._rpc(method, params, retry_session=False)
        self._raise_for_status(status, headers, body, method)
        if method == "initialize" and headers.get("mcp-session-id"):
            self._session = headers["mcp-session-id"]
        reply = _response(body, headers.get("content-type", ""), rid, method)
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            code = error.get("code", "")
            text = _one_line(str(error.get("message", "no message")))
            raise AwsError(
                f"the tool gateway refused {method} (JSON-RPC error {code}): {text}",
                service=SIGNING_SERVICE, operation=method, code=str(code),
            )  # fmt: skip
        if "result" not in reply:
            raise AwsError(
                f"the tool gateway's answer to {method} has neither result nor error",
                service=SIGNING_SERVICE, operation=method, code="BadResponse",
            )  # fmt: skip
        return reply["result"]

    @staticmethod
    def _raise_for_status(status: int, headers: dict[str, str], body: bytes, op: str) -> None:
        if 200 <= status < 300:
            return
        text = _one_line(body.decode("utf-8", "replace"), 200)
        kind = headers.get("x-amzn-errortype", "").split(":")[0]
        if _throttled(status, headers):
            raise ThrottledError(
                f"the tool gateway throttled {op} (HTTP {status}) after retries; "
                "wait a minute or lower the loop's parallel tool calls",
                service=SIGNING_SERVICE, operation=op, code=kind or "ThrottlingException",
            )  # fmt: skip
        if status in (401, 403):
            raise AccessDeniedError(
                f"the tool gateway refused {op} (HTTP {status} {kind}): the runtime role needs "
                "bedrock-agentcore:InvokeGateway on the gateway, and requests must be SigV4 "
                f"for {SIGNING_SERVICE} in the gateway's Region ({text})",
                service=SIGNING_SERVICE, operation=op, code=kind or str(status),
            )  # fmt: skip
        raise AwsError(
            f"the tool gateway answered {op} with HTTP {status} {kind}: {text}",
            service=SIGNING_SERVICE, operation=op, code=kind or str(status),
        )  # fmt: skip

    # ------------------------------------------------------------------ MCP
    def initialize(self) -> dict[str, Any]:
        """The MCP handshake (``initialize`` then ``notifications/initialized``); keeps the
        session id and the negotiated protocol version. Returns the server's result."""
        self._protocol = None
        result = self._rpc(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "rca-ops-assistant", "version": "1"},
            },
            retry_session=False,
        )
        self._protocol = str((result or {}).get("protocolVersion") or PROTOCOL_VERSION)
        status, headers, body = self._send(
            {"jsonrpc": "2.0", "method": "notifications/initialized"}, "notifications/initialized"
        )
        self._raise_for_status(status, headers, body, "notifications/initialized")
        return dict(result or {})

    def _ready(self) -> None:
        with self._lock:
            if self._protocol is None:
                self.initialize()

    def list_tools(self) -> list[dict[str, Any]]:
        """Every tool the Gateway lists (all pages): ``[{"name", "description",
        "inputSchema"}, ...]``."""
        self._ready()
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):  # a bound on pages: 100 x the server's page size
            result = self._rpc("tools/list", {"cursor": cursor} if cursor else {})
            tools.extend(t for t in (result or {}).get("tools", []) if isinstance(t, dict))
            cursor = (result or {}).get("nextCursor")
            if not cursor:
                break
        return tools

    def tool_names(self, refresh: bool = False) -> dict[str, str]:
        """Our tool name -> the Gateway's ``<target>___<tool>`` name (cached)."""
        if self._tools is None or refresh:
            names: dict[str, str] = {}
            for tool in self.list_tools():
                full = str(tool.get("name", ""))
                names.setdefault(full.split(TARGET_SEPARATOR, 1)[-1], full)
            self._tools = names
        return self._tools

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """``tools/call`` of the Gateway tool ``name`` (its full ``<target>___<tool>`` name);
        returns the MCP result ``{"content": [...], "isError": bool, ...}``.

        Raises:
            AwsError: the result is not a JSON object, or the request failed (see :meth:`_rpc`;
                ``ThrottledError`` after the retries).
        """
        self._ready()
        result = self._rpc("tools/call", {"name": name, "arguments": arguments})
        if not isinstance(result, dict):
            raise AwsError(
                f"the tool gateway's tools/call result for {name} is not an object",
                service=SIGNING_SERVICE, operation="tools/call", code="BadResponse",
            )  # fmt: skip
        return result


def _response(body: bytes, content_type: str, rid: int, method: str) -> dict[str, Any]:
    """The JSON-RPC response with id ``rid`` from a JSON body or an SSE stream."""
    text = body.decode("utf-8", "replace")
    candidates: list[str] = []
    if "text/event-stream" in content_type:
        data: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif not line.strip() and data:
                candidates.append("\n".join(data))
                data = []
    else:
        candidates.append(text)
    for candidate in candidates:
        try:
            message = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and message.get("id") == rid:
            return message
    raise AwsError(
        f"the tool gateway's answer to {method} holds no JSON-RPC response with id {rid}",
        service=SIGNING_SERVICE, operation=method, code="BadResponse",
    )  # fmt: skip


def _text(result: dict[str, Any]) -> str:
    parts = result.get("content") or []
    return "\n".join(
        str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )


class GatewayTools:
    """The tool executor that calls the tools through the Gateway.

    Same contract as :func:`tools.toolbox.run_tool` (``(ctx, name, arguments) ->
    ToolResult``, never raises): an unknown tool, a tool the Gateway does not list, a Gateway
    error (``isError``, JSON-RPC error, throttling, timeout, access denied) all come back as a
    ``status="error"`` result with one line saying what failed. The incident window is sent
    as the ``window`` argument when the model gave none (the Lambda's own default would be the
    last hour ending now). The result is the tool Lambda's :class:`ToolResult` JSON, validated
    again here, so its text passes the one redactor (``ToolResult`` / ``Evidence`` validators)
    and reaches the model like any tool result: wrapped as untrusted data by the provider.
    """

    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    def __call__(self, ctx: ToolContext, name: str, arguments: dict[str, Any]) -> ToolResult:
        tool = TOOLS.get(name)
        if tool is None:
            return ToolResult(
                tool=name, status="error", params=arguments,
                error=f"unknown tool {name!r}; available: {', '.join(TOOLS)}",
            )  # fmt: skip
        sent = dict(arguments)
        if "window" in tool.input_model.model_fields and sent.get("window") is None:
            sent["window"] = ctx.window.model_dump(mode="json")
        try:
            full = self.client.tool_names().get(name) or self.client.tool_names(True).get(name)
            if full is None:
                listed = ", ".join(sorted(self.client.tool_names())) or "none"
                raise AwsError(
                    f"the tool gateway lists no tool {name!r} (listed: {listed}); "
                    "redeploy the tools stack",
                    service=SIGNING_SERVICE, operation="tools/list", code="UnknownTool",
                )  # fmt: skip
            result = self.client.call_tool(full, sent)
        except RcaError as exc:
            return ToolResult(tool=name, status="error", params=arguments, error=_one_line(exc))
        return _tool_result(name, arguments, result)


def _tool_result(name: str, arguments: dict[str, Any], result: dict[str, Any]) -> ToolResult:
    text = _text(result)
    if result.get("isError"):
        return ToolResult(
            tool=name, status="error", params=arguments,
            error=f"the {name} tool failed behind the gateway: "
            + _one_line(text or "no message"),
        )  # fmt: skip
    payload = result.get("structuredContent")
    if not isinstance(payload, dict):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            payload = None
    if not isinstance(payload, dict):
        return ToolResult(
            tool=name, status="error", params=arguments,
            error=f"the {name} tool answered through the gateway with no result JSON",
        )  # fmt: skip
    try:
        parsed = ToolResult.model_validate({**payload, "tool": name, "params": arguments})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "result"
        return ToolResult(
            tool=name, status="error", params=arguments,
            error=f"the {name} tool's gateway result is not a tool result ({where}: "
            f"{first['msg']})",
        )  # fmt: skip
    return parsed


def gateway_tools_from_env(env: Mapping[str, str] | None = None) -> GatewayTools | None:
    """The Gateway executor when ``RCA_GATEWAY_URL`` is set (``AWS_REGION`` the signing Region,
    ``RCA_GATEWAY_TIMEOUT_S`` seconds per request, default 130), else None: the tools then run
    in this process. The cloud stacks set it on the runtime, the Slack and the alarm Lambdas.

    Raises:
        RcaError: the URL is set without a Region, or the timeout is not a number.
    """
    env = os.environ if env is None else env
    url = env.get("RCA_GATEWAY_URL")
    if not url:
        return None
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise RcaError(
            "RCA_GATEWAY_URL is set without AWS_REGION (the Gateway's Region, for SigV4)"
        )
    raw = env.get("RCA_GATEWAY_TIMEOUT_S") or str(DEFAULT_TIMEOUT_S)
    try:
        timeout = float(raw)
    except ValueError:
        raise RcaError(f"RCA_GATEWAY_TIMEOUT_S={raw!r} is not a number of seconds") from None
    return GatewayTools(GatewayClient(url, region=region, timeout_s=timeout))
