"""Amazon Bedrock Converse as the model of the investigation loop (tool use).

Request shape (Bedrock Runtime ``Converse``): ``modelId`` (a model id or an inference profile
id/ARN), ``system`` [{"text"}], ``messages`` (see :func:`agent.render.converse_messages`),
``toolConfig`` {"tools": [{"toolSpec": {"name", "description", "inputSchema": {"json"}}}]},
``inferenceConfig`` {"maxTokens", "temperature"}. The reply's ``output.message.content`` holds
``text`` and ``toolUse`` blocks; ``usage`` holds ``inputTokens`` / ``outputTokens`` and, when
the prompt cache was used, ``cacheReadInputTokens`` / ``cacheWriteInputTokens`` (``inputTokens``
then counts only the tokens neither read from nor written to the cache).

Prompt caching: where the model caches (:func:`tools.aws.models.prompt_caching`; nothing here is
model-specific), the request carries up to three ``{"cachePoint": {"type": "default"}}`` blocks
where :func:`tools.aws.models.cache_checkpoints` places them, token counts estimated as
characters / 4: after the tool specs (last item of ``toolConfig.tools``, only where the family
caches tools), after the system prompt (last item of ``system``), and at the end of the latest
message (last block of ``messages[-1].content``, a user turn: the question, or the tool results
and loop notices). The conversation checkpoint moves to the newest message on every turn rather
than one being added per turn, so a request never holds more than three (the documented models
allow four); the next turn reads the prefix written by the previous one. This is the documented
multi-turn pattern: Anthropic, "During each turn, we mark the final block of the final message
with ``cache_control`` so the conversation can be incrementally cached. The system will
automatically lookup and use the longest previously cached prefix for follow-up messages"
(https://docs.claude.com/en/docs/build-with-claude/prompt-caching, "Continuing a multi-turn
conversation"); AWS, "Claude models on Amazon Bedrock support simplified cache management. You
can place a single cachePoint, and Amazon Bedrock automatically checks for cache hits on
prefixes up to approximately 20 content blocks before that marker"
(https://aws.amazon.com/blogs/machine-learning/optimizing-cost-and-latency-with-amazon-bedrock-prompt-caching;
https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html). A turn that adds more
than about 20 blocks (ten parallel tool calls) may miss the previous prefix and write it again.
For Amazon Nova the user guide documents no such lookback: whether its next turn reads the
moved checkpoint's prefix is not documented (nor simulated in ``benchmarks/agent_cost.py``).
Each checkpoint needs the model's minimum tokens since the previous one and Amazon Nova caches at
most 20K tokens (both applied by :func:`tools.aws.models.cache_checkpoints`). A
``cachePoint`` is a sibling block of the message, never
inside a ``toolResult`` (botocore ``ToolResultContentBlock`` has no such member; ``ContentBlock``,
``SystemContentBlock`` and ``Tool`` do), and adds no message, so user/assistant alternation is
unchanged. The guardrail (ApplyGuardrail on tool output, its verdict remembered per tool call)
only replaces a tool result's text, so earlier messages stay byte-identical from turn to turn and
the cached prefix stays valid. A model that does not cache gets exactly the request without any
checkpoint.
Errors are translated by :func:`tools.aws.errors.translate_model` into one-line
:class:`~tools.errors.ModelError` messages naming the model and Region and what to pass.

The model id is never hard-coded: ``--model-id`` > ``RCA_MODEL_ID`` > the config file > the
newest ACTIVE model of the family (:func:`tools.aws.models.resolve_model`). ``maxTokens`` is
clamped to the model's output limit; ``toolResult.status`` is sent only to families that accept
it (:func:`tools.aws.models.supports_tool_status`). ``stopReason``: ``max_tokens`` keeps the
complete tool calls of the cut turn and drops the last (possibly cut) one, so the next turn asks
for the rest (the same request is never re-sent); ``guardrail_intervened`` and
``content_filtered`` raise :class:`~tools.errors.ModelError` saying so.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from agent.models import ToolCall
from agent.providers.base import LoopState, ModelProvider, Turn
from agent.render import converse_messages, render_prompt, result_text, tool_config
from agent.untrusted import new_nonce
from tools.aws.errors import AwsError, translate_model
from tools.aws.models import (
    add_cache_points,
    estimate_tokens,
    output_limit,
    resolve_model,
    supports_tool_status,
    token_usage,
)
from tools.aws.session import make_client
from tools.errors import ModelError

BLOCKED_STOPS = {
    "guardrail_intervened": "a Bedrock guardrail intervened on the model's output",
    "content_filtered": "the model's output was blocked by Bedrock content filtering",
}
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


class BedrockConverseProvider(ModelProvider):
    """Drives the loop with a Bedrock model through Converse tool use.

    ``client`` is an injectable ``bedrock-runtime`` client (built from ``profile``/``region``
    with adaptive retries otherwise). ``guardrail`` = (identifier, version) runs ApplyGuardrail
    on every tool result before the model sees it.
    """

    name = "bedrock"

    def __init__(
        self,
        model_id: str | None = None,
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
        catalog_client: Any | None = None,
    ) -> None:
        self.model_id = resolve_model(
            model_id, catalog_client=catalog_client, profile=profile, region=region
        )
        self.region = region
        self.temperature = temperature
        self.max_tokens = min(max_tokens, output_limit(self.model_id))
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
                    raise translate_model(
                        exc, self.model_id, self.region, action="bedrock:ApplyGuardrail"
                    ) from exc
                self._checked[ex.call.id] = (
                    "tool output blocked by the configured Bedrock guardrail"
                    if reply.get("action") == "GUARDRAIL_INTERVENED"
                    else ""
                )
        return {k: v for k, v in self._checked.items() if v}

    def request(self, state: LoopState) -> dict[str, Any]:
        """The exact Converse request for the loop state, with cache checkpoints where the model
        caches (see the module docstring)."""
        messages = converse_messages(state, self.nonce, self._guard(state))
        if not supports_tool_status(self.model_id):
            for message in messages:
                for block in message["content"]:
                    block.get("toolResult", {}).pop("status", None)
        tools = tool_config(state.tool_specs)
        system: list[dict[str, Any]] = [{"text": self.system}]
        add_cache_points(
            self.model_id,
            [
                ("tools", tools["tools"], estimate_tokens(json.dumps(tools["tools"]))),
                ("system", system, estimate_tokens(self.system)),
                (
                    "messages",
                    messages[-1]["content"],
                    estimate_tokens(json.dumps(messages, ensure_ascii=False)),
                ),
            ],
        )
        return {
            "modelId": self.model_id,
            "system": system,
            "messages": messages,
            "toolConfig": tools,
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": self.temperature},
        }

    def next_turn(self, state: LoopState) -> Turn:
        """Call Converse once and turn its reply into a :class:`Turn`.

        Raises:
            ModelError: credentials, access, model not found or not usable on demand.
            ThrottledError: still throttled after botocore's retries (the one class).
            ContextOverflowError: the conversation is too long for the model.
        """
        try:
            reply = self.client.converse(**self.request(state))
        except (ClientError, BotoCoreError) as exc:
            raise translate_model(exc, self.model_id, self.region) from exc
        stop = str(reply.get("stopReason", ""))
        if stop in BLOCKED_STOPS:
            raise ModelError(
                f"{BLOCKED_STOPS[stop]} (model {self.model_id}, stopReason {stop}); rephrase the "
                "question or review the guardrail configuration"
            )
        content = reply.get("output", {}).get("message", {}).get("content", [])
        thought = " ".join(block["text"] for block in content if "text" in block).strip()
        if stop == "max_tokens":
            uses = [i for i, block in enumerate(content) if "toolUse" in block]
            if uses:
                content = [b for i, b in enumerate(content) if i != uses[-1]]
            thought = (
                f"{thought} [output cut at maxTokens={self.max_tokens}: the last tool call was "
                "dropped; request the remaining calls in the next turn]"
            ).strip()
        calls = [
            ToolCall(
                id=block["toolUse"]["toolUseId"],
                name=block["toolUse"]["name"],
                input=block["toolUse"].get("input") or {},
            )
            for block in content
            if "toolUse" in block
        ]
        return Turn(thought=thought, tool_calls=calls, **token_usage(reply.get("usage")))
