"""The ``architecture`` tool: resolve a symptom or component to C4 elements and walk dependencies.

Returns the entry elements, their dependencies (downstream) or dependents (upstream) with the
relationship descriptions and technology, and each element's telemetry mapping.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tools.c4 import ArchitectureModel, Dependency, Element
from tools.context import ToolContext, ToolResult
from tools.models import Model

__all__ = ["ArchitectureInput", "ArchitectureModel", "architecture"]

MAX_ENTRIES = 3


class ArchitectureInput(Model):
    """Arguments of the ``architecture`` tool: a free-text ``symptom`` or a ``component`` name."""

    symptom: str | None = Field(default=None, max_length=2000, description="free-text symptom")
    component: str | None = Field(default=None, max_length=200, description="element name or id")
    direction: Literal["downstream", "upstream", "both"] = Field(
        default="downstream", description="downstream = what it depends on"
    )
    depth: int | None = Field(default=None, ge=1, le=10, description="hops; None = all")

    @model_validator(mode="after")
    def _one_of(self) -> ArchitectureInput:
        if not (self.symptom or self.component):
            raise ValueError("give a symptom (free text) or a component name")
        return self


def _describe(arch: ArchitectureModel, element: Element) -> dict[str, object]:
    tele = arch.telemetry(element.id)
    return {
        "id": element.id,
        "name": element.name,
        "kind": element.kind,
        "technology": element.technology,
        "description": element.description,
        "log_groups": tele.log_groups,
        "metrics": len(tele.metrics),
        "resources": tele.resources,
        "account": tele.account,
        "region": tele.region,
    }


def _hop(dep: Dependency) -> str:
    rel = dep.path[-1]
    tech = f" [{rel.technology}]" if rel.technology else ""
    return f"{dep.element.name} (hop {dep.distance}: '{rel.description}'{tech})"


def architecture(ctx: ToolContext, args: ArchitectureInput) -> ToolResult:
    """Resolve the entry elements and list the elements on the affected path.

    ``data`` holds ``entries`` (element dicts), ``affected`` (ids of the entries and every element
    reached, entries first, nearest first), ``edges`` ([source, destination, description]) and
    ``elements`` (id -> element dict with telemetry mapping).

    Raises:
        UnknownComponentError: ``component`` names no element (the message suggests close names).
    """
    arch = ctx.architecture
    if args.component:
        entries = [arch.get(args.component)]
        how = f"component {args.component!r}"
    else:
        matches = arch.resolve(args.symptom or "")
        if not matches:
            names = ", ".join(e.name for e in arch.with_telemetry()[:15])
            return ToolResult(
                tool="architecture",
                status="no_data",
                params=args.model_dump(exclude_none=True),
                summary=(
                    f"No element of workspace {arch.name!r} matches the symptom. Name a component "
                    f"instead; elements with telemetry: {names}"
                ),
            )
        top = matches[0].score
        entries = [m.element for m in matches if m.score >= 0.5 * top][:MAX_ENTRIES]
        how = "symptom resolved by matching " + "; ".join(
            f"{m.element.name} ({', '.join(m.matched)})" for m in matches[: len(entries)]
        )
    affected: dict[str, None] = {}
    edges: list[list[str]] = []
    lines = []
    for entry in entries:
        affected[entry.id] = None
        reached: list[Dependency] = []
        if args.direction in ("downstream", "both"):
            reached += arch.downstream(entry.id, args.depth)
        if args.direction in ("upstream", "both"):
            reached += arch.upstream(entry.id, args.depth)
        for child in arch.children(entry.id):
            affected[child.id] = None
        for dep in reached:
            affected[dep.element.id] = None
        lines.append(
            f"{entry.name} ({entry.kind}{', ' + entry.technology if entry.technology else ''}) "
            f"-> {args.direction}: " + ("; ".join(_hop(d) for d in reached) or "nothing")
        )
    for rel in arch.relationships:
        if rel.source in affected and rel.destination in affected:
            edges.append([rel.source, rel.destination, rel.description])
    elements = {eid: _describe(arch, arch.elements[eid]) for eid in affected}
    no_telemetry = [arch.elements[e].name for e in affected if arch.telemetry(e).empty]
    summary = "\n".join(lines)
    if no_telemetry:
        summary += "\nNo telemetry mapped for: " + ", ".join(no_telemetry)
    evidence = [
        ctx.ledger.add(
            tool="architecture",
            kind="topology",
            component=entry.id,
            summary=line,
            searched=f"workspace {arch.name!r}; {how}",
        )
        for entry, line in zip(entries, lines, strict=True)
    ]
    return ToolResult(
        tool="architecture",
        status="ok",
        params=args.model_dump(exclude_none=True),
        summary=summary,
        evidence=evidence,
        data={
            "entries": [_describe(arch, e) for e in entries],
            "affected": list(affected),
            "edges": edges,
            "elements": elements,
        },
    )
