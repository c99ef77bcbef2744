"""The ``traces`` tool: spans of the incident window against fault-free reference windows.

Its input model lives here, with the tool function the toolbox registers; the detectors (call
edge network time, span behaviour, error origin, fan-out; pandas and scipy) are in
:mod:`tools.trace_analysis`, imported on the first call, so the tool Lambdas and the agent
runtime, which never read span tables on AWS, stay free of pandas.
"""

from __future__ import annotations

from pydantic import Field

from tools.context import ToolContext, ToolResult
from tools.models import Model, TimeWindow


class TracesInput(Model):
    """Arguments of the ``traces`` tool."""

    components: list[str] = Field(
        default_factory=list,
        max_length=60,
        description="element names or ids to report on; empty: every service with spans",
    )
    window: TimeWindow | None = Field(default=None, description="default: the incident window")


def traces(ctx: ToolContext, args: TracesInput) -> ToolResult:
    """Run the ``traces`` tool (see :func:`tools.trace_analysis.traces` for what it reports).

    A runtime packaged without the detectors' libraries (pandas, scipy) gets a ``no_data``
    result whose gap says so, not an import error.
    """
    try:
        from tools.trace_analysis import traces as run
    except ImportError as exc:
        gap = f"traces not checked: this runtime lacks the span detectors' libraries ({exc.name})"
        return ToolResult(
            tool="traces",
            status="no_data",
            params=args.model_dump(mode="json", exclude_none=True),
            summary=f"Not checked: {gap}",
            data={"gaps": [gap]},
        )
    return run(ctx, args)
