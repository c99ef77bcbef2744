"""Amazon Bedrock Converse as the model of the investigation loop (tool use).

Request shape (Bedrock Runtime ``Converse``): ``modelId`` (a model id or an inference profile
id/ARN), ``system`` [{"text"}], ``messages`` (see :func:`agent.render.converse_messages`),
``toolConfig`` {"tools": [{"toolSpec": {"name", "description", "inputSchema": {"json"}}}]},
``inferenceConfig`` {"maxTokens", "temperature"}. The reply's ``output.message.content`` holds
``text`` and ``toolUse`` blocks; ``usage`` holds ``inputTokens`` / ``outputTokens``.
Errors are translated into one-line :class:`~tools.errors.ModelError` messages naming the model
and Region and what to configure.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from agent.models import ToolCall
from agent.providers.base import LoopState, ModelProvider, Turn
from agent.render import converse_messages, render_prompt, result_text, tool_config
from agent.untrusted import new_nonce
from tools.aws.errors import AwsError
from tools.aws.session import make_client
from tools.errors import ContextOverflowError, ModelError

DEFAULT_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
# US dollars per 1,000 input / output tokens (on-demand list prices; an estimate only).
PRICES: dict[str, tuple[float, float]] = {
    "anthropic.claude-3-5-sonnet": (0.003, 0.015),
    "anthropic.claude-3-7-sonnet": (0.003, 0.015),
    "anthropic.claude-sonnet-4": (0.003, 0.015),
    "anthropic.claude-3-5-haiku": (0.0008, 0.004),
    "anthropic.claude-3-haiku": (0.00025, 0.00125),
    "amazon.nova-pro": (0.0008, 0.0032),
    "amazon.nova-lite": (0.00006, 0.00024),
}


def price_of(model_id: str) -> tuple[float, float]:
    """Estimated price per 1,000 input and output tokens for a model id or inference profile."""
    for prefix, price in PRICES.items():
        if prefix in model_id:
            return price
    return (0.0, 0.0)


def translate(exc: Exception, model_id: str, region: str | None) -> ModelError:
    """One-line, actionable error for a failed Bedrock call."""
    where = f"model {model_id} in {region or 'the default Region'}"
    if isinstance(exc, NoCredentialsError):
        return ModelError(
            f"no AWS credentials for Bedrock ({where}): pass --profile, set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`"
        )
    if isinstance(exc, NoRegionError):
        return ModelError("no AWS Region for Bedrock: pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return ModelError(f"cannot reach Bedrock for {where}: check the Region and network")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "AccessDeniedException":
            return ModelError(
                f"access denied to {where}: enable model access in the Bedrock console and "
                "allow bedrock:InvokeModel for this identity"
            )
        if code in ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequests"):
            return ModelError(
                f"Bedrock throttled {where} after retries: retry later, use a cross-Region "
                "inference profile, or ask for a higher tokens-per-minute quota"
            )
        if code == "ValidationException" and any(
            w in message.lower() for w in ("too long", "context", "too many tokens", "max_tokens")
        ):
            return ContextOverflowError(
                f"the investigation no longer fits the context of {where}: lower --max-steps "
                "or ask about fewer components"
            )
        if code == "ResourceNotFoundException" or "model identifier is invalid" in message:
            return ModelError(f"{where} not found: check --model-id and the Region")
        return ModelError(f"Bedrock {code} for {where}: {message[:200]}")
    return ModelError(f"Bedrock call for {where} failed: {exc}")


class BedrockConverseProvider(ModelProvider):
    """Drives the loop with a Bedrock model through Converse tool use.

    ``client`` is an injectable ``bedrock-runtime`` client (built from ``profile``/``region``
    with adaptive retries otherwise). ``guardrail`` = (identifier, version) runs ApplyGuardrail
    on every tool result before the model sees it.
    """

    name = "bedrock"

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL,
        *,
        window: str,
        baseline: str,
        max_steps: int = 8,
        client: Any | None = None,
        region: str | None = None,
        profile: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 2048,
        guardrail: tuple[str, str] | None = None,
        nonce: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.region = region
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.guardrail = guardrail
        self.nonce = nonce or new_nonce()
        self.system = render_prompt(
            "system.j2", nonce=self.nonce, max_steps=max_steps, window=window, baseline=baseline
        )
        if client is None:
            try:
                client = make_client("bedrock-runtime", profile=profile, region=region)
            except AwsError as exc:
                raise ModelError(f"cannot build the Bedrock client: {exc}") from exc
        self.client = client
        self._checked: dict[str, str] = {}
        self.region = region or getattr(client.meta, "region_name", None)

    def _guard(self, state: LoopState) -> dict[str, str]:
        """ApplyGuardrail (source INPUT) on tool results not checked yet; returns replacements
        for the ones the guardrail intervened on."""
        if self.guardrail is None:
            return {}
        for step in state.steps:
            for ex in step.executions:
                if ex.call.id in self._checked:
                    continue
                try:
                    reply = self.client.apply_guardrail(
                        guardrailIdentifier=self.guardrail[0],
                        guardrailVersion=self.guardrail[1],
                        source="INPUT",
                        content=[{"text": {"text": result_text(ex.result)}}],
                    )
                except (ClientError, BotoCoreError) as exc:
                    raise translate(exc, self.model_id, self.region) from exc
                self._checked[ex.call.id] = (
                    "tool output blocked by the configured Bedrock guardrail"
                    if reply.get("action") == "GUARDRAIL_INTERVENED"
                    else ""
                )
        return {k: v for k, v in self._checked.items() if v}

    def request(self, state: LoopState) -> dict[str, Any]:
        """The exact Converse request for the loop state."""
        return {
            "modelId": self.model_id,
            "system": [{"text": self.system}],
            "messages": converse_messages(state, self.nonce, self._guard(state)),
            "toolConfig": tool_config(state.tool_specs),
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": self.temperature},
        }

    def next_turn(self, state: LoopState) -> Turn:
        """Call Converse once and turn its reply into a :class:`Turn`.

        Raises:
            ModelError: credentials, access, throttling (after botocore retries), not found.
            ContextOverflowError: the conversation is too long for the model.
        """
        try:
            reply = self.client.converse(**self.request(state))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self.model_id, self.region) from exc
        content = reply.get("output", {}).get("message", {}).get("content", [])
        thought = " ".join(block["text"] for block in content if "text" in block).strip()
        calls = [
            ToolCall(
                id=block["toolUse"]["toolUseId"],
                name=block["toolUse"]["name"],
                input=block["toolUse"].get("input") or {},
            )
            for block in content
            if "toolUse" in block
        ]
        usage = reply.get("usage", {})
        return Turn(
            thought=thought,
            tool_calls=calls,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
        )
