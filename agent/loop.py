"""The investigation loop (ReAct): ask the provider for a turn, run its tool calls, repeat.

Bounds: ``max_steps`` turns and ``max_tool_calls`` tool executions; independent calls of one turn
run in parallel; an identical repeated call is not re-run (the earlier evidence ids are returned
instead). The answer arrives through ``submit_hypotheses``; every cited evidence id is checked
against the ledger, and an answer that cites unknown ids is sent back once for correction. When
the budget runs out, the evidence scorer produces a partial answer that says so.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from agent.models import Hypotheses, Investigation, Step, ToolCall, ToolExecution
from agent.providers.base import SUBMIT_TOOL, LoopState, ModelProvider, Turn
from agent.scoring import annotate, score, to_hypotheses
from tools.context import EvidenceLedger, ToolContext, ToolResult
from tools.toolbox import TOOLS, run_tool

Progress = Callable[[str, dict[str, object]], None]


class ToolExecutor(Protocol):
    """How a tool call is executed: ``(ctx, name, arguments) -> ToolResult``, never raising
    for a bad call or a failing tool (an ``error`` result says what failed).

    Two implementations: :func:`tools.toolbox.run_tool` runs the tool in this process (the
    embedded world, the CLI, Slack in Socket Mode); :class:`tools.gateway_client.GatewayTools`
    calls it through the AgentCore Gateway (the cloud runtime). ``ctx`` carries the incident
    window and a private evidence ledger; the loop numbers the evidence afterwards.
    """

    def __call__(self, ctx: ToolContext, name: str, arguments: dict[str, Any]) -> ToolResult: ...


MAX_FINDINGS = 5  # observation events per tool call (the rest stay in the evidence list)
MAX_PARALLEL = 4


def _noop(event: str, payload: dict[str, object]) -> None:
    return None


def _key(call: ToolCall) -> str:
    return call.name + json.dumps(call.input, sort_keys=True, default=str)


def submit_spec() -> dict[str, object]:
    """The tool spec of ``submit_hypotheses`` (input schema: the Hypotheses model)."""
    return {
        "name": SUBMIT_TOOL,
        "description": "Submit the final ranked hypotheses. Cite only evidence ids (E1, E2, ...) "
        "that tools returned in this investigation.",
        "input_schema": Hypotheses.model_json_schema(),
    }


class InvestigationLoop:
    """Runs one investigation with a provider over a tool context."""

    def __init__(
        self,
        ctx: ToolContext,
        provider: ModelProvider,
        *,
        max_steps: int = 8,
        max_tool_calls: int = 40,
        max_tokens: int = 200_000,
        price_per_1k: tuple[float, float] = (0.0, 0.0),
        cache_rates: tuple[float, float] = (1.0, 1.0),
        progress: Progress | None = None,
        tools: ToolExecutor | None = None,
    ) -> None:
        """``max_tokens``: input plus output tokens over all turns, prompt-cache reads and
        writes included (0 = unbounded);
        ``price_per_1k``: US dollars per 1,000 input and output tokens, for the cost estimate;
        ``cache_rates``: prompt-cache writes and reads as multiples of the input price
        (:func:`tools.aws.models.cache_rates` of the model);
        ``tools``: how tool calls run (default in this process, see :class:`ToolExecutor`)."""
        self.ctx = ctx
        self.provider = provider
        self.max_steps = max_steps
        self.max_tool_calls = max_tool_calls
        self.max_tokens = max_tokens
        self.price_per_1k = price_per_1k
        self.cache_rates = cache_rates
        self.progress = progress or _noop
        self.tools: ToolExecutor = tools or run_tool

    def _execute(self, call: ToolCall, seen: dict[str, ToolResult]) -> ToolExecution:
        started = time.perf_counter()
        key = _key(call)
        if key in seen:
            earlier = seen[key]
            result = ToolResult(
                tool=call.name,
                status="error",
                params=call.input,
                error="identical call already made in this investigation; reuse evidence "
                + (", ".join(e.id for e in earlier.evidence) or "(none)")
                + " or change the arguments",
            )
        else:  # a private ledger: ids are assigned in call order afterwards (see _commit)
            result = self.tools(replace(self.ctx, ledger=EvidenceLedger()), call.name, call.input)
        return ToolExecution(call=call, result=result, seconds=time.perf_counter() - started)

    def _commit(self, execution: ToolExecution) -> None:
        """Give the execution's evidence its final ids, in call order, so that parallel calls
        number their evidence deterministically."""
        execution.result.evidence = [
            self.ctx.ledger.add(**ev.model_dump(exclude={"id"})) for ev in execution.result.evidence
        ]

    def run(
        self,
        question: str,
        investigation_id: str | None = None,
        *,
        context: str = "",
        prior: list[Step] | None = None,
    ) -> Investigation:
        """Investigate ``question``; returns the investigation with its answer (never None).

        ``context`` and ``prior`` carry earlier turns of a session (see :mod:`agent.sessions`).

        Raises:
            RcaError: the provider failed (credentials, throttling, model access).
        """
        started = time.perf_counter()
        inv = Investigation(
            id=investigation_id or uuid.uuid4().hex[:12],
            question=question,
            window=self.ctx.window,
            baseline=self.ctx.baseline,
            provider=self.provider.name,
            started_at=datetime.now(UTC),
        )
        state = LoopState(
            question=question,
            tool_specs=[t.spec() for t in TOOLS.values()] + [submit_spec()],
            context=context,
            prior=list(prior or []),
        )
        seen: dict[str, ToolResult] = {
            _key(ex.call): ex.result for step in state.prior for ex in step.executions
        }
        calls_made = 0
        corrected = False
        for index in range(self.max_steps):
            state.steps_left = self.max_steps - index
            step_started = time.perf_counter()
            self.progress("thinking", {"step": index + 1})
            turn = self.provider.next_turn(state)
            self._account(inv, turn)
            step = Step(index=index + 1, thought=turn.thought)
            self.progress("step", {"step": index + 1, "thought": turn.thought})
            submits = [c for c in turn.tool_calls if c.name == SUBMIT_TOOL]
            work = [c for c in turn.tool_calls if c.name != SUBMIT_TOOL]
            budget = max(0, self.max_tool_calls - calls_made)
            if len(work) > budget:
                step.notices.append(
                    f"Tool-call budget reached: {len(work) - budget} call(s) not run; submit now."
                )
                work = work[:budget]
            for call in work:
                self.progress("tool_start", {"tool": call.name, "input": call.input})
            with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
                executions = list(pool.map(lambda c: self._execute(c, seen), work))
            for ex in executions:
                self._commit(ex)
                seen.setdefault(_key(ex.call), ex.result)
                self.progress(
                    "tool_end",
                    {
                        "tool": ex.call.name,
                        "status": ex.result.status,
                        "seconds": ex.seconds,
                        "evidence": len(ex.result.evidence),
                        "error": ex.result.error,
                        "findings": [
                            ev.summary for ev in ex.result.evidence if ev.kind != "no_data"
                        ][:MAX_FINDINGS],
                    },
                )
            calls_made += len(work)
            step.executions = executions
            if not turn.tool_calls:
                step.notices.append("No tool call: call a tool or submit_hypotheses.")
            accepted = False
            for call in submits[:1]:
                answer, problem = self._check(call)
                if answer is not None and problem is None:
                    inv.answer = answer
                    accepted = True
                    break
                verdict = "rejected"
                if corrected:
                    inv.notes.append(f"answer rejected again: {problem}; the scorer ranks instead")
                else:
                    inv.notes.append(f"answer rejected once: {problem}")
                step.executions.append(
                    ToolExecution(
                        call=call,
                        result=ToolResult(
                            tool=SUBMIT_TOOL, status="error", error=f"{verdict}: {problem}"
                        ),
                        seconds=0.0,
                    )
                )
                step.notices.append(f"submit_hypotheses rejected: {problem}. Fix and resubmit.")
            for extra in submits[1:]:
                step.notices.append(f"only one submit_hypotheses per turn; ignored {extra.id}")
            step.seconds = time.perf_counter() - step_started
            state.steps.append(step)
            inv.steps.append(step)
            if accepted or (submits and corrected):
                break
            if submits:
                corrected = True
            if self.max_tokens and inv.usage.tokens >= self.max_tokens:
                inv.notes.append(f"token budget of {self.max_tokens} reached")
                break
        if inv.answer is None:
            inv.answer = self._fallback()
            inv.notes.append(
                "budget reached before a valid answer: the hypotheses are the evidence "
                "scorer's ranking of what was gathered (partial)"
            )
        else:
            annotate(self.ctx.architecture, inv.answer, self.ctx.ledger.all())
        inv.evidence = self.ctx.ledger.all()
        inv.seconds = time.perf_counter() - started
        self.progress("done", {"seconds": inv.seconds})
        return inv

    def _account(self, inv: Investigation, turn: Turn) -> None:
        usage = inv.usage
        usage.input_tokens += turn.input_tokens
        usage.output_tokens += turn.output_tokens
        usage.cache_read_tokens += turn.cache_read_tokens
        usage.cache_write_tokens += turn.cache_write_tokens
        price_in, price_out = self.price_per_1k
        write_rate, read_rate = self.cache_rates
        billed_in = (
            usage.input_tokens
            + usage.cache_write_tokens * write_rate
            + usage.cache_read_tokens * read_rate
        )
        billed_out = usage.output_tokens / 1000 * price_out
        usage.cost_usd = round(billed_in / 1000 * price_in + billed_out, 6)

    def _check(self, call: ToolCall) -> tuple[Hypotheses | None, str | None]:
        try:
            answer = Hypotheses.model_validate(call.input)
        except ValidationError as exc:
            first = exc.errors()[0]
            return None, f"invalid input at {'.'.join(map(str, first['loc']))}: {first['msg']}"
        known = {e.id for e in self.ctx.ledger.all()}
        cited = {
            eid
            for h in answer.hypotheses
            for eid in h.supporting_evidence + h.contradicting_evidence
        }
        invented = sorted(cited - known)
        if invented:
            return answer, f"evidence ids not returned by any tool: {', '.join(invented)}"
        if any(not h.supporting_evidence for h in answer.hypotheses if h.confidence > 0.05):
            return answer, "every hypothesis with confidence above 0.05 must cite evidence"
        arch = self.ctx.architecture
        unknown = [h.component for h in answer.hypotheses if not arch.has(h.component)]
        if unknown:
            return answer, f"components not in the architecture: {', '.join(unknown)}"
        return answer, None

    def _fallback(self) -> Hypotheses:
        evidence = self.ctx.ledger.all()
        candidates = sorted({e.component for e in evidence if e.component})
        arch = self.ctx.architecture
        ranked = score(arch, evidence, candidates)
        hypotheses = to_hypotheses(arch, ranked, [])
        if not hypotheses:
            from agent.models import Hypothesis

            hypotheses = [
                Hypothesis(
                    rank=1,
                    statement="The investigation ended before any anomaly was found.",
                    component=candidates[0] if candidates else "unknown",
                    confidence=0.02,
                )
            ]
        return Hypotheses(
            summary="Partial answer: the step budget ran out before the investigation finished.",
            hypotheses=hypotheses,
            partial=True,
        )
