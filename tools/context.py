"""What every tool call needs: the architecture, a telemetry backend, the incident window and the
evidence ledger that hands out stable evidence ids; and the uniform tool result."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from tools.c4 import ArchitectureModel
from tools.models import Evidence, Model, TimeWindow
from tools.redact import redact, redact_value
from tools.telemetry.base import TelemetryBackend


class EvidenceLedger:
    """Issues evidence ids ``E1``, ``E2``, ... in order and keeps every item (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[Evidence] = []
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> Evidence:
        """Create, store and return an :class:`Evidence` with the next id."""
        with self._lock:
            evidence = Evidence(id=f"E{len(self._items) + 1}", **fields)
            self._items.append(evidence)
            return evidence

    def all(self) -> list[Evidence]:
        """Every evidence item so far, in id order."""
        with self._lock:
            return list(self._items)

    def restore(self, items: list[Evidence]) -> None:
        """Reload items from a stored investigation (ids must be contiguous from E1)."""
        with self._lock:
            self._items = list(items)


@dataclass
class ToolContext:
    """Shared state of one investigation's tool calls.

    ``metric_lookback_s``: seconds of history before the window used as the metric baseline
    (default: three window lengths, at least 30 minutes). ``change_lead_up_s``: seconds before the
    window searched for control-plane changes (default 6 hours). ``references``: fault-free
    reference windows (adjacent and historical) the traces and logs tools compare against;
    ``broken_series``: metric series labels known to be broken, skipped by the metrics tool.
    """

    architecture: ArchitectureModel
    backend: TelemetryBackend
    window: TimeWindow
    baseline: TimeWindow
    ledger: EvidenceLedger = field(default_factory=EvidenceLedger)
    metric_lookback_s: float = 0.0
    change_lead_up_s: float = 6 * 3600.0
    references: list[TimeWindow] = field(default_factory=list)
    broken_series: list[str] = field(default_factory=list)

    def reference_windows(self) -> list[TimeWindow]:
        """The fault-free reference windows (bundle v2 ``reference_windows``), else the
        baseline alone."""
        return list(self.references) or [self.baseline]

    def __post_init__(self) -> None:
        if not self.metric_lookback_s:
            self.metric_lookback_s = max(1800.0, 3 * self.window.seconds)


class ToolResult(Model):
    """The uniform result of one tool call.

    ``status`` is ``ok`` (evidence found), ``no_data`` (the search ran and found nothing; the
    summary says what was searched) or ``error`` (the call failed; ``error`` says why and how to
    correct the request). ``data`` is the structured payload; ``summary`` the text a model reads.
    """

    tool: str
    status: Literal["ok", "no_data", "error"]
    params: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

    @field_validator("summary")
    @classmethod
    def _redact_summary(cls, value: str) -> str:
        # The tool-result boundary, like the evidence one: what a model, a store or ``--json``
        # sees of a tool's text and structured payload has passed the one redactor.
        return redact(value)

    @field_validator("error")
    @classmethod
    def _redact_error(cls, value: str | None) -> str | None:
        return redact(value) if value else value

    @field_validator("data")
    @classmethod
    def _redact_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact_value(value)
