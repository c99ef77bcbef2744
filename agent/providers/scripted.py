"""A scripted provider that replays recorded turns: tests the loop without a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.providers.base import LoopState, ModelProvider, Turn

TurnSource = Turn | Callable[[LoopState], Turn]


class ScriptedProvider(ModelProvider):
    """Returns the given turns in order; a callable turn is built from the loop state.

    Raises:
        IndexError: when the loop asks for more turns than were scripted.
    """

    name = "scripted"

    def __init__(self, turns: Sequence[TurnSource]) -> None:
        self.turns = list(turns)
        self.seen: list[LoopState] = []

    def next_turn(self, state: LoopState) -> Turn:
        self.seen.append(state)
        if not self.turns:
            raise IndexError("scripted provider ran out of turns")
        turn = self.turns.pop(0)
        return turn(state) if callable(turn) else turn
