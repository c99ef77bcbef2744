"""Domain models of an investigation: hypotheses, steps, tool calls and the investigation record."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from tools.context import ToolResult
from tools.models import Evidence, Model, TimeWindow

FaultCategory = Literal[
    "network_config",
    "dns_routing",
    "credentials",
    "certificate",
    "permissions",
    "deployment",
    "configuration",
    "capacity",
    "traffic_surge",
    "resource_exhaustion",
    "connection_pool",
    "latency",
    "code_error",
    "dependency_failure",
    "unknown",
]


class Hypothesis(Model):
    """One candidate root cause, citing the evidence that supports or contradicts it."""

    rank: int = Field(ge=1, description="1 = most likely")
    statement: str = Field(min_length=1, max_length=2000)
    component: str = Field(description="element id or name of the root-cause component")
    fault_category: FaultCategory = "unknown"
    confidence: float = Field(ge=0.0, le=1.0)
    supporting_evidence: list[str] = Field(default_factory=list, description="evidence ids")
    contradicting_evidence: list[str] = Field(default_factory=list, description="evidence ids")
    propagation_path: list[str] = Field(
        default_factory=list, description="component names from the root cause to the symptom"
    )
    next_checks: list[str] = Field(default_factory=list)
    scorer_confidence: float | None = Field(
        default=None, description="the evidence scorer's confidence, set by the loop"
    )


class Hypotheses(Model):
    """The final answer: ranked hypotheses (input schema of the ``submit_hypotheses`` tool)."""

    summary: str = Field(default="", max_length=4000)
    hypotheses: list[Hypothesis] = Field(min_length=1, max_length=10)
    partial: bool = Field(default=False, description="true when the budget ran out before the end")
    gaps: list[str] = Field(
        default_factory=list,
        max_length=30,
        description="what could not be checked and why (no spans, no logs for a component, a "
        "failed query, a missing permission), and why a low confidence is low",
    )


class ToolCall(Model):
    """One tool invocation requested by the model provider."""

    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolExecution(Model):
    """A tool call with its result and timing (seconds)."""

    call: ToolCall
    result: ToolResult
    seconds: float


class Step(Model):
    """One turn of the loop: what the model said, the tools it called, and how long it took."""

    index: int
    thought: str = ""
    executions: list[ToolExecution] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list, description="loop notices to the model")
    seconds: float = 0.0


class Usage(Model):
    """Model tokens used by an investigation and the estimated cost in US dollars.

    ``input_tokens`` excludes the input tokens read from (``cache_read_tokens``) or written to
    (``cache_write_tokens``) the model's prompt cache, as Bedrock's ``usage`` reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Every token of the investigation: input, output and prompt-cache reads and writes
        (what the loop's token budget counts)."""
        cached = self.cache_read_tokens + self.cache_write_tokens
        return self.input_tokens + self.output_tokens + cached


class Investigation(Model):
    """A whole investigation: question, steps, evidence, answer, timings (seconds, UTC times)."""

    id: str
    question: str
    window: TimeWindow
    baseline: TimeWindow
    provider: str
    started_at: datetime
    steps: list[Step] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    answer: Hypotheses | None = None
    notes: list[str] = Field(default_factory=list, description="loop notices: budgets, rejections")
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
