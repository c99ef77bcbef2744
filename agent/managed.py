"""The managed runtime: a Bedrock Agent whose action groups call the tool Lambdas.

``InvokeAgent`` (bedrock-agent-runtime) with ``enableTrace=True`` streams ``chunk`` events (the
final answer text) and ``trace`` events (``orchestrationTrace``: ``rationale``,
``invocationInput.actionGroupInvocationInput``, ``observation.actionGroupInvocationOutput`` /
``finalResponse``, ``modelInvocationOutput.metadata.usage``). The trace is shown as progress;
tool outputs (our ToolResult JSON) give the evidence; the answer must be the Hypotheses JSON
(the agent's instructions say so) and is checked like the loop's: cited ids must exist.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from agent.loop import Progress, _noop
from agent.models import Hypotheses, Investigation, Step
from tools.aws.errors import ThrottledError, translate_model
from tools.aws.session import make_client
from tools.context import ToolResult
from tools.errors import ModelError
from tools.models import Evidence, TimeWindow, iso

_ERROR_EVENTS = (
    "internalServerException",
    "validationException",
    "resourceNotFoundException",
    "serviceQuotaExceededException",
    "throttlingException",
    "accessDeniedException",
    "conflictException",
    "dependencyFailedException",
    "badGatewayException",
)


def _json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (models sometimes wrap JSON in prose or fences)."""
    start = text.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(text)):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start : end + 1])
                    except json.JSONDecodeError:
                        break
                    return value if isinstance(value, dict) else None
        start = text.find("{", start + 1)
    return None


class ManagedAgentRuntime:
    """Runs an investigation on a deployed Bedrock Agent (``--runtime bedrock-agent``)."""

    def __init__(
        self,
        agent_id: str,
        agent_alias_id: str,
        *,
        client: Any | None = None,
        region: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.agent_alias_id = agent_alias_id
        self.region = region
        if client is None:
            # No automatic retry: a retried InvokeAgent re-runs the agent; 900 s read timeout.
            client = make_client(
                "bedrock-agent-runtime", profile=profile, region=region, retries=False
            )
        self.client = client

    def run(
        self,
        question: str,
        window: TimeWindow,
        baseline: TimeWindow,
        *,
        session_id: str | None = None,
        progress: Progress | None = None,
    ) -> Investigation:
        """Invoke the agent and return the investigation (answer validated, evidence attached).

        Raises:
            ModelError: the call failed, the stream reported an error, or the answer is not
                valid Hypotheses JSON.
        """
        show = progress or _noop
        started = time.perf_counter()
        session_id = session_id or uuid.uuid4().hex
        where = f"agent {self.agent_id}/{self.agent_alias_id}"
        try:
            reply = self.client.invoke_agent(
                agentId=self.agent_id,
                agentAliasId=self.agent_alias_id,
                sessionId=session_id,
                inputText=question,
                enableTrace=True,
                sessionState={
                    "sessionAttributes": {  # read by tools/handlers.py
                        "rcaWindowStart": iso(window.start),
                        "rcaWindowEnd": iso(window.end),
                        "rcaBaselineStart": iso(baseline.start),
                        "rcaBaselineEnd": iso(baseline.end),
                    }
                },
            )
            events = list(reply["completion"])
        except (ClientError, BotoCoreError) as exc:
            raise translate_model(exc, where, self.region, action="bedrock:InvokeAgent") from exc
        inv = Investigation(
            id=session_id,
            question=question,
            window=window,
            baseline=baseline,
            provider="bedrock-agent",
            started_at=datetime.now(UTC),
        )
        evidence: dict[str, Evidence] = {}
        text: list[str] = []
        step = Step(index=1)
        for event in events:
            for key in _ERROR_EVENTS:
                if key in event:
                    detail = f"{where} failed: {key}: {event[key].get('message', '')}"
                    if key == "throttlingException":  # the one throttling error
                        raise ThrottledError(
                            f"{detail}; retry later", service="Bedrock Agent", code=key
                        )
                    raise ModelError(detail)
            if "chunk" in event:
                text.append(event["chunk"].get("bytes", b"").decode("utf-8", "replace"))
            trace = event.get("trace", {}).get("trace", {}).get("orchestrationTrace", {})
            if "rationale" in trace:
                step = Step(index=len(inv.steps) + 1, thought=trace["rationale"].get("text", ""))
                inv.steps.append(step)
                show("step", {"step": step.index, "thought": step.thought})
            call = trace.get("invocationInput", {}).get("actionGroupInvocationInput")
            if call:
                name = call.get("function") or call.get("apiPath", "?").strip("/")
                show("tool_start", {"tool": name, "input": call.get("parameters", [])})
            output = trace.get("observation", {}).get("actionGroupInvocationOutput")
            if output:
                result = self._result(output.get("text", ""))
                for ev in result.evidence if result else []:
                    evidence[ev.id] = ev
                show(
                    "tool_end",
                    {
                        "tool": result.tool if result else "?",
                        "status": result.status if result else "unparsed",
                        "seconds": 0.0,
                        "evidence": len(result.evidence) if result else 0,
                        "error": result.error if result else None,
                    },
                )
            usage = trace.get("modelInvocationOutput", {}).get("metadata", {}).get("usage", {})
            inv.usage.input_tokens += int(usage.get("inputTokens", 0))
            inv.usage.output_tokens += int(usage.get("outputTokens", 0))
        answer_text = "".join(text)
        raw = _json_object(answer_text)
        try:
            answer = Hypotheses.model_validate(raw)
        except ValidationError as exc:
            raise ModelError(
                f"{where} did not answer with the hypotheses JSON ({exc.error_count()} problems); "
                "check the agent's instructions; its answer began: "
                + answer_text[:160].replace("\n", " ")
            ) from exc
        for h in answer.hypotheses:
            invented = [
                e for e in h.supporting_evidence + h.contradicting_evidence if e not in evidence
            ]
            if invented:
                inv.notes.append(
                    f"hypothesis {h.rank} cited unknown evidence {', '.join(invented)}; removed"
                )
                h.supporting_evidence = [e for e in h.supporting_evidence if e in evidence]
                h.contradicting_evidence = [e for e in h.contradicting_evidence if e in evidence]
        inv.answer = answer
        inv.evidence = sorted(evidence.values(), key=lambda e: int(e.id[1:]))
        inv.seconds = time.perf_counter() - started
        show("done", {"seconds": inv.seconds})
        return inv

    @staticmethod
    def _result(text: str) -> ToolResult | None:
        raw = _json_object(text)
        if raw is None:
            return None
        try:
            return ToolResult.model_validate(raw)
        except ValidationError:
            return None


__all__ = ["ManagedAgentRuntime"]
