"""The model-provider interface of the investigation loop.

A provider sees the loop state (question, tool specs, every step so far, loop feedback) and
returns the next turn: a thought and tool calls. The final answer is a call of the
``submit_hypotheses`` tool whose input is the :class:`~agent.models.Hypotheses` model. Bedrock
Converse, the heuristic investigator and the scripted test provider all implement this.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agent.models import Step, ToolCall
from tools.models import Model

SUBMIT_TOOL = "submit_hypotheses"


class Turn(Model):
    """A provider's decision: an optional thought and the tool calls to run (in parallel).

    ``input_tokens`` / ``output_tokens``: what producing the turn cost (0 for local providers);
    ``cache_read_tokens`` / ``cache_write_tokens``: input tokens read from / written to the
    model's prompt cache (Bedrock ``cacheReadInputTokens`` / ``cacheWriteInputTokens``), not
    counted in ``input_tokens``.
    """

    thought: str = ""
    tool_calls: list[ToolCall]
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass
class LoopState:
    """Everything a provider may read.

    ``context`` summarises earlier turns of the same session (untrusted: it quotes evidence);
    ``prior`` holds those turns' steps, whose evidence can be reused without re-querying.
    """

    question: str
    tool_specs: list[dict[str, Any]]
    steps: list[Step] = field(default_factory=list)
    steps_left: int = 0
    context: str = ""
    prior: list[Step] = field(default_factory=list)

    @property
    def feedback(self) -> list[str]:
        """Every loop notice so far (rejections, budgets), oldest first."""
        return [notice for step in self.steps for notice in step.notices]


class ModelProvider(ABC):
    """Decides the next turn of an investigation."""

    name: str = "provider"

    @abstractmethod
    def next_turn(self, state: LoopState) -> Turn:
        """Return the next turn.

        Raises:
            RcaError: the provider failed (throttled, no access, ...), with a one-line message.
        """
