"""The tool registry: one tool = one function with a pydantic input model.

The same registry yields the Converse tool specs, the Bedrock Agent action-group functions and
the Lambda handlers, so a tool's name is the same string everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tools.architecture import ArchitectureInput, architecture
from tools.changes import ChangesInput, changes
from tools.context import ToolContext, ToolResult
from tools.errors import RcaError
from tools.logs import LogsInput, logs
from tools.metrics import MetricsInput, metrics
from tools.models import Model
from tools.traces import TracesInput, traces


@dataclass(frozen=True)
class Tool:
    """A read-only RCA tool: its name, what it is for, its input model and its function."""

    name: str
    description: str
    input_model: type[Model]
    run: Callable[[ToolContext, Any], ToolResult]

    def spec(self) -> dict[str, Any]:
        """``{"name", "description", "input_schema"}`` with the JSON schema of the input model."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_model.model_json_schema(),
        }


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "architecture",
            "Resolve a symptom or component to C4 elements of the system and list the "
            "dependencies (downstream) or dependents (upstream) with relationship descriptions "
            "and each element's telemetry mapping.",
            ArchitectureInput,
            architecture,
        ),
        Tool(
            "logs",
            "Log templates of components in the incident window versus the baseline: new, "
            "surging and dropped patterns with counts, first occurrence and redacted samples.",
            LogsInput,
            logs,
        ),
        Tool(
            "metrics",
            "Metric anomalies of components against a robust baseline of the lead-up: onset, "
            "direction, size; and alarms that fired in the window.",
            MetricsInput,
            metrics,
        ),
        Tool(
            "changes",
            "Control-plane write events (CloudTrail) in the window and lead-up, mapped to "
            "components and to the edges between them, timed relative to the onset.",
            ChangesInput,
            changes,
        ),
        Tool(
            "traces",
            "Spans of the window versus fault-free reference windows: per call edge the network "
            "time (client minus server span), per span kind (service, operation, parent "
            "operation) changed child calls, log statements and status, the error origin, "
            "self-time (time in a service's own code, outside its calls) that rose from an onset "
            "in the window, and fan-out changes; each finding as -log10 p with direction-aware "
            "attribution.",
            TracesInput,
            traces,
        ),
    )
}


def run_tool(ctx: ToolContext, name: str, arguments: dict[str, Any]) -> ToolResult:
    """Validate ``arguments`` against the tool's input model and run it.

    Never raises for bad requests: an unknown tool, schema-invalid arguments or a product error
    (unknown component, telemetry failure) come back as a ``status="error"`` result whose text
    tells the caller how to correct the request.
    """
    tool = TOOLS.get(name)
    if tool is None:
        return ToolResult(
            tool=name,
            status="error",
            params=arguments,
            error=f"unknown tool {name!r}; available: {', '.join(TOOLS)}",
        )
    try:
        args = tool.input_model.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
        return ToolResult(
            tool=name, status="error", params=arguments, error=f"invalid arguments: {problems}"
        )
    try:
        return tool.run(ctx, args)
    except RcaError as exc:
        return ToolResult(tool=name, status="error", params=arguments, error=str(exc))
