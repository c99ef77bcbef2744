"""How an investigation looks to a language model: tool results as text and the Converse
message list (user question, assistant tool calls, user tool results), with every tool result
wrapped as untrusted data (:mod:`agent.untrusted`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agent.models import Step
from agent.providers.base import LoopState
from agent.untrusted import wrap
from tools.context import ToolResult

PROMPTS = Path(__file__).parent / "prompts"
_ENV = Environment(
    loader=FileSystemLoader(PROMPTS),
    undefined=StrictUndefined,
    autoescape=False,  # plain text prompts, not HTML
    keep_trailing_newline=True,
)


def render_prompt(name: str, **values: Any) -> str:
    """Render ``agent/prompts/<name>`` (jinja2, undefined variables are errors)."""
    return _ENV.get_template(name).render(**values)


def result_text(result: ToolResult) -> str:
    """A compact plain-text rendering of a tool result (status, summary, evidence, samples)."""
    lines = [f"tool {result.tool}: {result.status}"]
    if result.error:
        lines.append(f"error: {result.error}")
    if result.summary:
        lines.append(result.summary)
    for ev in result.evidence:
        lines.append(f"{ev.id} [{ev.tool}/{ev.kind}] {ev.summary}")
        lines.append(f"   searched: {ev.searched}")
        for sample in ev.samples[:2]:
            lines.append(f"   sample: {sample[:300]}")
    return "\n".join(lines)


def _assistant(step: Step) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if step.thought:
        content.append({"text": step.thought})
    for ex in step.executions:
        content.append(
            {"toolUse": {"toolUseId": ex.call.id, "name": ex.call.name, "input": ex.call.input}}
        )
    return {"role": "assistant", "content": content}


def _results(step: Step, nonce: str, overrides: dict[str, str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {
            "toolResult": {
                "toolUseId": ex.call.id,
                "content": [
                    {"text": wrap(overrides.get(ex.call.id) or result_text(ex.result), nonce)}
                ],
                "status": "error" if ex.result.status == "error" else "success",
            }
        }
        for ex in step.executions
    ]
    content += [{"text": f"Loop notice: {notice}"} for notice in step.notices]
    return {"role": "user", "content": content}


def converse_messages(
    state: LoopState, nonce: str, overrides: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The Converse ``messages`` for the loop state.

    Shape: ``[{"role": "user", "content": [{"text": ...}]}, {"role": "assistant", "content":
    [{"text"}, {"toolUse": {"toolUseId", "name", "input"}}]}, {"role": "user", "content":
    [{"toolResult": {"toolUseId", "content": [{"text"}], "status"}}]}, ...]`` (Converse API,
    Bedrock Runtime). A step without tool calls is rendered as assistant text plus a notice.
    ``overrides`` replaces the text of some tool results (toolUseId -> text), e.g. when a
    guardrail blocked them.
    """
    opening: list[dict[str, Any]] = []
    if state.context:
        opening.append({"text": "Earlier in this investigation:\n" + wrap(state.context, nonce)})
    opening.append({"text": f"Symptom / question from the on-call engineer: {state.question}"})
    messages: list[dict[str, Any]] = [{"role": "user", "content": opening}]
    for step in state.steps:
        assistant = _assistant(step)
        if not assistant["content"]:
            assistant["content"] = [{"text": "(no output)"}]
        messages.append(assistant)
        results = _results(step, nonce, overrides or {})
        if not results["content"]:
            results["content"] = [{"text": "Loop notice: call a tool or submit_hypotheses."}]
        messages.append(results)
    return messages


def tool_config(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Converse ``toolConfig`` from tool specs (``{"name", "description", "input_schema"}``)."""
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": spec["name"],
                    "description": spec["description"],
                    "inputSchema": {"json": json.loads(json.dumps(spec["input_schema"]))},
                }
            }
            for spec in specs
        ]
    }
