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
    """A provider's decision: an optional thought and the tool calls to run (in parallel)."""

    thought: str = ""
    tool_calls: list[ToolCall]


@dataclass
class LoopState:
    """Everything a provider may read. ``feedback`` holds loop notices for the model."""

    question: str
    tool_specs: list[dict[str, Any]]
    steps: list[Step] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    steps_left: int = 0


class ModelProvider(ABC):
    """Decides the next turn of an investigation."""

    name: str = "provider"

    @abstractmethod
    def next_turn(self, state: LoopState) -> Turn:
        """Return the next turn.

        Raises:
            RcaError: the provider failed (throttled, no access, ...), with a one-line message.
        """
