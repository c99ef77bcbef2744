"""The system's C4 model: a Structurizr workspace loaded with buildzr, as a networkx graph.

An edge ``a -> b`` is a declared relationship "a uses b" (a depends on b): *downstream* of an
element are its dependencies, *upstream* are the elements that depend on it. Deployment-level
relationships (container instances, infrastructure nodes) are folded onto the logical elements.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator

from tools.errors import UnknownComponentError, WorkspaceError
from tools.models import Model
from tools.redact import redact
from tools.telemetry.base import ComponentTelemetry, MetricSelector
from tools.text import STOPWORDS, words

if TYPE_CHECKING:  # networkx and buildzr (~0.15 s of CPU) are imported where a model is built
    import networkx as nx

_STOP = STOPWORDS | frozenset(
    [
        "can",
        "can't",
        "cannot",
        "customer",
        "customers",
        "do",
        "does",
        "no",
        "not",
        "since",
        "too",
        "user",
        "users",
        "when",
        "while",
    ]
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ly", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed word tokens of ``text``."""
    return [_stem(w) for w in words(text) if w not in _STOP]


class Element(Model):
    """A C4 element: person, software system, container, component, or infrastructure node."""

    id: str
    name: str
    kind: str
    description: str = ""
    technology: str = ""
    tags: list[str] = Field(default_factory=list)
    parent: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("description", "technology")
    @classmethod
    def _redact(cls, value: str) -> str:
        # workspace text is untrusted: redacted where it enters (before search, evidence, prompts)
        return redact(value)


class Relationship(Model):
    """A declared dependency ``source`` uses ``destination``."""

    source: str
    destination: str
    description: str = ""
    technology: str = ""
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("description", "technology")
    @classmethod
    def _redact(cls, value: str) -> str:
        return redact(value)


class Match(Model):
    """A free-text resolution result: the element, its score and the terms that matched."""

    element: Element
    score: float
    matched: list[str]


class Dependency(Model):
    """An element reached from another one, with the relationship path (first hop first)."""

    element: Element
    distance: int
    path: list[Relationship]


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class ArchitectureModel:
    """Elements and relationships of one workspace, with traversal and free-text resolution."""

    def __init__(
        self, name: str, elements: Iterable[Element], relationships: Iterable[Relationship]
    ) -> None:
        self.name = name
        import networkx as nx

        self.elements: dict[str, Element] = {e.id: e for e in elements}
        self.graph: nx.DiGraph = nx.DiGraph()
        for element in self.elements.values():
            self.graph.add_node(element.id)
        self.relationships: list[Relationship] = []
        for rel in relationships:
            if rel.source == rel.destination:
                continue
            if rel.source not in self.elements or rel.destination not in self.elements:
                continue
            if self.graph.has_edge(rel.source, rel.destination):
                continue
            self.relationships.append(rel)
            self.graph.add_edge(rel.source, rel.destination, relationship=rel)
        self._index = self._build_index()

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: Path | str) -> ArchitectureModel:
        """Load a Structurizr workspace JSON file.

        Raises:
            WorkspaceError: the file is missing, not JSON, or not a Structurizr workspace.
        """
        path = Path(path)
        if not path.is_file():
            raise WorkspaceError(f"{path}: workspace file not found")
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except RecursionError as exc:
            raise WorkspaceError(f"{path}: JSON nested too deeply for a workspace") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"{path}: not valid JSON ({exc})") from exc
        from buildzr.loaders import JsonLoader

        try:
            workspace = JsonLoader().load(str(path))
        except (
            ValidationError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            RecursionError,
        ) as exc:
            raise WorkspaceError(
                f"{path}: not a Structurizr workspace ({str(exc).splitlines()[0]})"
            ) from exc
        if workspace.model is None:
            raise WorkspaceError(f"{path}: the workspace has no model")
        try:
            return cls.from_buildzr(workspace)
        except WorkspaceError as exc:
            raise WorkspaceError(f"{path}: {exc}") from exc

    @classmethod
    def from_buildzr(cls, workspace: Any) -> ArchitectureModel:
        """Build from a ``buildzr.models.Workspace``.

        Raises:
            WorkspaceError: an element has no id or repeats another's.
        """
        elements: list[Element] = []
        rels: list[Relationship] = []
        alias: dict[str, str] = {}  # deployment instance id -> logical element id
        seen_ids: set[str] = set()

        def add(obj: Any, kind: str, parent: str | None = None) -> None:
            if obj.id is None or str(obj.id) in seen_ids:
                problem = "has no id" if obj.id is None else f"repeats id {obj.id!r}"
                raise WorkspaceError(f"{kind} {obj.name or '(unnamed)'!r} {problem}")
            seen_ids.add(str(obj.id))
            elements.append(
                Element(
                    id=str(obj.id),
                    name=obj.name or str(obj.id),
                    kind=kind,
                    description=getattr(obj, "description", None) or "",
                    technology=getattr(obj, "technology", None) or "",
                    tags=_split(getattr(obj, "tags", None)),
                    parent=parent,
                    properties={str(k): str(v) for k, v in (obj.properties or {}).items()},
                )
            )
            for rel in getattr(obj, "relationships", None) or []:
                rels.append(
                    Relationship(
                        source=str(obj.id),
                        destination=str(rel.destinationId),
                        description=rel.description or "",
                        technology=rel.technology or "",
                        properties={str(k): str(v) for k, v in (rel.properties or {}).items()},
                    )
                )

        model = workspace.model
        for person in model.people or []:
            add(person, "person")
        for system in model.softwareSystems or []:
            add(system, "softwareSystem")
            for container in system.containers or []:
                add(container, "container", str(system.id))
                for component in container.components or []:
                    add(component, "component", str(container.id))
        for custom in getattr(model, "customElements", None) or []:
            add(custom, "customElement")

        def walk(node: Any) -> None:
            for inst in node.containerInstances or []:
                alias[str(inst.id)] = str(inst.containerId)
                _fold(inst, str(inst.containerId))
            for inst in node.softwareSystemInstances or []:
                alias[str(inst.id)] = str(inst.softwareSystemId)
                _fold(inst, str(inst.softwareSystemId))
            for infra in node.infrastructureNodes or []:
                add(infra, "infrastructureNode")
            for child in node.children or []:
                walk(child)

        def _fold(inst: Any, logical: str) -> None:
            for rel in inst.relationships or []:
                rels.append(
                    Relationship(
                        source=logical,
                        destination=str(rel.destinationId),
                        description=rel.description or "",
                        technology=rel.technology or "",
                    )
                )

        for node in model.deploymentNodes or []:
            walk(node)
        for rel in rels:
            rel.source = alias.get(rel.source, rel.source)
            rel.destination = alias.get(rel.destination, rel.destination)
        return cls(workspace.name or "workspace", elements, rels)

    # ------------------------------------------------------------- resolution
    def _doc(self, element: Element) -> tuple[list[str], list[str]]:
        names = terms(element.name) + [
            t for a in _split(element.properties.get("rca.aliases")) for t in terms(a)
        ]
        body = terms(element.description) + terms(element.technology)
        return names, body

    def _build_index(self) -> dict[str, tuple[Counter[str], Counter[str]]]:
        index = {}
        df: Counter[str] = Counter()
        for element in self.elements.values():
            names, body = self._doc(element)
            index[element.id] = (Counter(names), Counter(body))
            df.update(set(names) | set(body))
        total = max(len(self.elements), 1)
        self._idf = {t: math.log(1 + total / n) for t, n in df.items()}
        return index

    def resolve(self, text: str, limit: int = 5) -> list[Match]:
        """Elements that free text refers to, best first (empty when nothing matches).

        Scoring: IDF-weighted term overlap, name and alias terms count three times as much as
        description and technology terms; an exact name phrase adds a bonus. Terms match by
        equality or shared 5-letter prefix ("remotely" ~ "remote").
        """
        query = terms(text)
        lowered = text.lower()
        results = []
        for eid, (names, body) in self._index.items():
            element = self.elements[eid]
            score, matched = 0.0, []
            for q in dict.fromkeys(query):
                best = 0.0
                for field_terms, weight in ((names, 3.0), (body, 1.0)):
                    for t in field_terms:
                        if t == q or (len(q) >= 5 and len(t) >= 5 and t[:5] == q[:5]):
                            best = max(best, weight * self._idf.get(t, 1.0))
                if best:
                    score += best
                    matched.append(q)
            if element.name.lower() in lowered and len(element.name) > 2:
                score += 5.0
            if score > 0:
                results.append(Match(element=element, score=round(score, 3), matched=matched))
        results.sort(key=lambda m: (-m.score, m.element.name))
        return results[:limit]

    def has(self, ref: str) -> bool:
        """True when ``ref`` names an element (id, name or alias)."""
        try:
            self.get(ref)
        except UnknownComponentError:
            return False
        return True

    def get(self, ref: str) -> Element:
        """The element with this id or (case-insensitive) name or alias.

        Raises:
            UnknownComponentError: nothing matches; the message lists close names.
        """
        if ref in self.elements:
            return self.elements[ref]
        wanted = ref.strip().lower()
        for element in self.elements.values():
            names = [element.name.lower()] + [
                a.lower() for a in _split(element.properties.get("rca.aliases"))
            ]
            if wanted in names:
                return element
        close = [m.element.name for m in self.resolve(ref, limit=3)]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownComponentError(f"unknown component {ref!r} in workspace {self.name!r}{hint}")

    # -------------------------------------------------------------- traversal
    def _reach(self, start: str, depth: int | None, reverse: bool) -> list[Dependency]:
        graph = self.graph.reverse(copy=False) if reverse else self.graph
        seen = {start: []}  # type: dict[str, list[Relationship]]
        frontier = [start]
        distance = 0
        out: list[Dependency] = []
        while frontier and (depth is None or distance < depth):
            distance += 1
            nxt = []
            for node in frontier:
                for succ in sorted(graph.successors(node)):
                    if succ in seen:
                        continue
                    a, b = (succ, node) if reverse else (node, succ)
                    rel = self.graph.edges[a, b]["relationship"]
                    seen[succ] = [*seen[node], rel]
                    out.append(
                        Dependency(element=self.elements[succ], distance=distance, path=seen[succ])
                    )
                    nxt.append(succ)
            frontier = nxt
        return out

    def downstream(self, ref: str, depth: int | None = None) -> list[Dependency]:
        """Dependencies of an element (what it uses), nearest first, each once."""
        return self._reach(self.get(ref).id, depth, reverse=False)

    def upstream(self, ref: str, depth: int | None = None) -> list[Dependency]:
        """Dependents of an element (what uses it), nearest first, each once."""
        return self._reach(self.get(ref).id, depth, reverse=True)

    def children(self, ref: str) -> list[Element]:
        """Direct children (containers of a system, components of a container)."""
        eid = self.get(ref).id
        return [e for e in self.elements.values() if e.parent == eid]

    def relationship(self, source: str, destination: str) -> Relationship | None:
        """The declared relationship ``source -> destination``, if any."""
        data = self.graph.get_edge_data(source, destination)
        return data["relationship"] if data else None

    def add_observed(self, edges: Iterable[tuple[str, str]], source: str) -> list[Relationship]:
        """Add observed call edges ``(caller, callee)`` (names, aliases or ids) that the workspace
        does not declare; names that match no element are skipped. Returns what was added.

        ``source`` names the observation (e.g. ``"AWS X-Ray service graph"``); it becomes the
        relationship's technology, and ``rca.observed`` = ``true`` marks it.
        """
        added = []
        for caller, callee in edges:
            if not (self.has(caller) and self.has(callee)):
                continue
            a, b = self.get(caller).id, self.get(callee).id
            if a == b or self.graph.has_edge(a, b):
                continue
            rel = Relationship(
                source=a,
                destination=b,
                description="Calls (observed)",
                technology=source,
                properties={"rca.observed": "true"},
            )
            self.relationships.append(rel)
            self.graph.add_edge(a, b, relationship=rel)
            added.append(rel)
        return added

    # -------------------------------------------------------------- telemetry
    def telemetry(self, ref: str) -> ComponentTelemetry:
        """The telemetry mapping of one element from its ``rca.*`` properties.

        Raises:
            WorkspaceError: ``rca.metrics`` is not a JSON list of metric selectors.
        """
        element = self.get(ref)
        props = element.properties
        metrics: list[MetricSelector] = []
        if props.get("rca.metrics"):
            try:
                raw = json.loads(props["rca.metrics"])
                metrics = [MetricSelector.model_validate(m) for m in raw]
            except (json.JSONDecodeError, ValidationError, TypeError) as exc:
                raise WorkspaceError(
                    f"element {element.name!r}: rca.metrics must be a JSON list of "
                    f'{{"namespace", "metric", "dimensions"}} objects ({exc})'
                ) from exc
        return ComponentTelemetry(
            component=element.id,
            name=element.name,
            log_groups=_split(props.get("rca.logGroups")),
            metrics=metrics,
            resources=_split(props.get("rca.resources")),
            account=props.get("rca.account"),
            region=props.get("rca.region"),
        )

    def with_telemetry(self) -> list[Element]:
        """Elements that map to any telemetry, in workspace order."""
        return [e for e in self.elements.values() if not self.telemetry(e.id).empty]
