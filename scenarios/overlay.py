"""Workspace overlays: ``rca.*`` properties and simulation parameters for a Structurizr workspace.

The random incident generator (:mod:`scenarios.randomgen`) runs on any Structurizr workspace,
including real third-party ones such as ``../shared/data/structurizr/big-bank-plc.json`` that
carry no telemetry properties. An *overlay* (``scenarios/overlays/<name>.yaml``, model
:class:`Overlay`) names the elements that take part in the simulation and, for each, its runtime
and nominal behaviour. :func:`apply_overlay` is applied in memory at generation time: it returns
a copy of the workspace JSON whose listed elements carry the ``rca.*`` properties of their runtime
(below); the workspace file itself is never edited. Properties an element already has under
``rca.*`` are replaced, so a workspace with its own mapping (``scenarios/workspaces/checkout.json``)
is overlaid the same way.

Runtimes and the telemetry convention the overlay writes (``slug`` names the deployable;
``{ns}`` is :attr:`Overlay.namespace`, ``{acct}`` / ``{region}`` the overlay's account and region):

========== =================================================================================
runtime    properties
========== =================================================================================
client     ``rca.metrics``: ``{ns}`` {Service: slug} (client-observed Requests, Errors, latency)
ecs        ``rca.logGroups`` ``/ecs/{slug}``; ``rca.metrics`` ``{ns}`` {Service: slug} and
           ``AWS/ECS`` {ClusterName, ServiceName: slug}; ``rca.resources`` the ECS service ARN
lambda     ``rca.logGroups`` ``/aws/lambda/{slug}``; ``rca.metrics`` ``{ns}`` {Service: slug}
           and ``AWS/Lambda`` {FunctionName: slug}; ``rca.resources`` the name and function ARN
rds        ``rca.logGroups`` ``/aws/rds/instance/{slug}/error``; ``rca.metrics`` ``AWS/RDS``
           {DBInstanceIdentifier: slug}; ``rca.resources`` the id and DB ARN
dynamodb   ``rca.metrics`` ``AWS/DynamoDB`` {TableName: slug}; ``rca.resources`` the table ARN
queue      ``rca.metrics`` ``AWS/SQS`` {QueueName: slug}; ``rca.resources`` the queue ARN
external   ``rca.metrics`` ``CloudWatchSynthetics`` {CanaryName: slug} (a canary on the
           third-party endpoint); ``rca.resources`` the canary name
========== =================================================================================

Every element also gets ``rca.account``, ``rca.region`` and ``rca.aliases`` (the slug plus the
overlay's aliases). Call edges of the simulation are the workspace relationships between listed
elements (``a -> b``: a calls b), each with a call probability (1 unless the overlay says
otherwise); a ``client`` with ``fanout: one`` sends each request to one of its callees.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from tools.errors import RcaError
from tools.models import Model

OVERLAYS_DIR = Path(__file__).resolve().parent / "overlays"

Runtime = Literal["client", "ecs", "lambda", "rds", "dynamodb", "queue", "external"]
INSTRUMENTED: frozenset[str] = frozenset({"client", "ecs", "lambda"})
"""Runtimes that emit their own spans and application metrics (managed services and third
parties appear only as the callers' client spans)."""


class OverlayError(RcaError):
    """An overlay file is missing, malformed, or names elements the workspace lacks."""


class OverlayComponent(Model):
    """One workspace element taking part in the simulation."""

    element: str = Field(min_length=1, description="exact element name in the workspace")
    runtime: Runtime
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="deployable name")
    self_ms: float = Field(default=10.0, gt=0, le=5000, description="own processing, ms median")
    rpm: float | None = Field(
        default=None, gt=0, le=10_000, description="requests per minute originated (entries)"
    )
    fanout: Literal["all", "one"] = "all"
    instances: int = Field(default=3, ge=1, le=12)
    logger: str | None = Field(default=None, description="logger name (default from the slug)")
    aliases: list[str] = Field(default_factory=list)


class OverlayEdge(Model):
    """A call probability other than 1 for one relationship (``caller`` calls ``callee``)."""

    caller: str
    callee: str
    probability: float = Field(gt=0, le=1)
    propagate: float | None = Field(
        default=None, ge=0, le=1, description="chance a callee error fails the caller"
    )


class Overlay(Model):
    """``scenarios/overlays/<name>.yaml``."""

    system: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    workspace: str = Field(description="the workspace file it was written for (documentation)")
    description: str = ""
    account: str = Field(pattern=r"^\d{12}$")
    region: str = "eu-west-1"
    namespace: str = "App"
    cluster: str = "prod"
    components: list[OverlayComponent] = Field(min_length=2)
    edges: list[OverlayEdge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Overlay:
        names = [c.element for c in self.components]
        slugs = [c.slug for c in self.components]
        for label, values in (("element", names), ("slug", slugs)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{label} listed twice: {dupes}")
        if not any(c.rpm for c in self.components):
            raise ValueError("no component has rpm: name the entry points' request rates")
        for edge in self.edges:
            for name in (edge.caller, edge.callee):
                if name not in names:
                    raise ValueError(f"edge {edge.caller} -> {edge.callee}: {name!r} not listed")
        return self

    def component(self, element: str) -> OverlayComponent:
        """The listed component of an element name (raises KeyError)."""
        for comp in self.components:
            if comp.element == element:
                return comp
        raise KeyError(element)


def load_overlay(path: Path | str) -> Overlay:
    """Load and validate an overlay YAML file.

    Raises:
        OverlayError: the file is missing, not YAML, or invalid (the message names the field).
    """
    path = Path(path)
    if not path.is_file():
        raise OverlayError(f"{path}: overlay file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Overlay.model_validate(raw)
    except yaml.YAMLError as exc:
        raise OverlayError(f"{path}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "overlay"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise OverlayError(f"{path}: {where}: {msg}") from exc


def _selector(namespace: str, **dims: str) -> dict[str, Any]:
    return {"namespace": namespace, "dimensions": dims}


def component_properties(overlay: Overlay, comp: OverlayComponent) -> dict[str, str]:
    """The ``rca.*`` properties of one component under the runtime convention (module doc)."""
    ns, slug, acct, region = overlay.namespace, comp.slug, overlay.account, overlay.region
    metrics: list[dict[str, Any]] = []
    logs: list[str] = []
    resources: list[str] = []
    if comp.runtime in INSTRUMENTED:
        metrics.append(_selector(ns, Service=slug))
    if comp.runtime == "ecs":
        logs.append(f"/ecs/{slug}")
        metrics.append(_selector("AWS/ECS", ClusterName=overlay.cluster, ServiceName=slug))
        resources.append(f"arn:aws:ecs:{region}:{acct}:service/{overlay.cluster}/{slug}")
    elif comp.runtime == "lambda":
        logs.append(f"/aws/lambda/{slug}")
        metrics.append(_selector("AWS/Lambda", FunctionName=slug))
        resources += [slug, f"arn:aws:lambda:{region}:{acct}:function:{slug}"]
    elif comp.runtime == "rds":
        logs.append(f"/aws/rds/instance/{slug}/error")
        metrics.append(_selector("AWS/RDS", DBInstanceIdentifier=slug))
        resources += [slug, f"arn:aws:rds:{region}:{acct}:db:{slug}"]
    elif comp.runtime == "dynamodb":
        metrics.append(_selector("AWS/DynamoDB", TableName=slug))
        resources.append(f"arn:aws:dynamodb:{region}:{acct}:table/{slug}")
    elif comp.runtime == "queue":
        metrics.append(_selector("AWS/SQS", QueueName=slug))
        resources.append(f"arn:aws:sqs:{region}:{acct}:{slug}")
    elif comp.runtime == "external":
        metrics.append(_selector("CloudWatchSynthetics", CanaryName=slug))
        resources.append(slug)
    props = {
        "rca.metrics": json.dumps(metrics),
        "rca.account": acct,
        "rca.region": region,
        "rca.aliases": ",".join([slug, *comp.aliases]),
    }
    if logs:
        props["rca.logGroups"] = ",".join(logs)
    if resources:
        props["rca.resources"] = ",".join(resources)
    return props


def _elements(node: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in ("people", "softwareSystems", "containers", "components"):
        for child in node.get(key) or []:
            out.append(child)
            out += _elements(child)
    return out


def apply_overlay(workspace: dict[str, Any], overlay: Overlay) -> dict[str, Any]:
    """A deep copy of ``workspace`` (Structurizr JSON) with the overlay's ``rca.*`` properties
    set on the listed elements (their other properties kept, old ``rca.*`` ones dropped).

    Raises:
        OverlayError: a listed element is not in the workspace, or is there twice.
    """
    out = copy.deepcopy(workspace)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for element in _elements(out.get("model") or {}):
        by_name.setdefault(str(element.get("name")), []).append(element)
    for comp in overlay.components:
        found = by_name.get(comp.element, [])
        if len(found) != 1:
            known = ", ".join(sorted(by_name))
            what = "is not an element" if not found else "names more than one element"
            raise OverlayError(f"overlay {overlay.system!r}: {comp.element!r} {what} ({known})")
        element = found[0]
        kept = {
            k: v for k, v in (element.get("properties") or {}).items() if not k.startswith("rca.")
        }
        element["properties"] = {**kept, **component_properties(overlay, comp)}
    return out
