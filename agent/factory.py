"""Builds investigations: one place that wires a bundle, the tools, a provider and the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.loop import InvestigationLoop, Progress
from agent.models import Investigation
from agent.providers.base import ModelProvider
from agent.providers.heuristic import HeuristicProvider
from agent.sessions import SessionError, SessionRecord, SessionStore
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.context import ToolContext
from tools.errors import BundleError, EmptyWindowError, RcaError
from tools.models import TimeWindow
from tools.telemetry.bundle import BundleBackend

DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "scenarios" / "bundles" / "connected-vehicle-sg"


@dataclass
class InvestigationSetup:
    """What an investigation runs on: the architecture, the tool context, and where the
    telemetry comes from (``source``: ``{"kind": "bundle", "path"}`` or ``{"kind": "aws",
    "workspace", "profile", "region", "role_arn_template"}``); ``bundle`` for bundles."""

    architecture: ArchitectureModel
    context: ToolContext
    source: dict[str, Any]
    bundle: Bundle | None = None

    def require_bundle(self) -> Bundle:
        """The incident bundle (raises BundleError when the telemetry is not a bundle)."""
        if self.bundle is None:
            raise BundleError(
                f"this investigation reads from {self.source.get('kind')}, not a bundle"
            )
        return self.bundle


def open_bundle(path: Path | str, window: TimeWindow | None = None) -> InvestigationSetup:
    """Load and validate a bundle and build the tool context for it.

    Raises:
        BundleError: the bundle is malformed.
        WorkspaceError: its workspace cannot be loaded.
        EmptyWindowError: the window holds no telemetry of the bundle.
    """
    bundle = Bundle(path)
    bundle.validate()
    arch = ArchitectureModel.load(bundle.workspace_path)
    backend = BundleBackend(bundle)
    incident = bundle.incident
    window = window or incident.window
    coverage = backend.coverage()
    if coverage is None:
        raise EmptyWindowError(f"{bundle.root}: the bundle holds no telemetry at all")
    if coverage.end <= window.start or coverage.start >= window.end:
        raise EmptyWindowError(
            f"the window {window.label()} holds no telemetry; the bundle covers "
            f"{coverage.label()}; choose a window inside it"
        )
    baseline = incident.baseline if window == incident.window and incident.baseline else None
    ctx = ToolContext(
        architecture=arch,
        backend=backend,
        window=window,
        baseline=baseline or window.previous(),
        references=[
            r.window
            for r in incident.reference_windows
            if r.end <= window.start or r.start >= window.end
        ]
        if window == incident.window
        else [],
        broken_series=list(incident.broken_series),
    )
    return InvestigationSetup(
        architecture=arch,
        context=ctx,
        source={"kind": "bundle", "path": str(Path(bundle.root).resolve())},
        bundle=bundle,
    )


def investigate_bundle(
    path: Path | str,
    question: str | None = None,
    *,
    window: TimeWindow | None = None,
    progress: Progress | None = None,
) -> Investigation:
    """Run the heuristic investigator on a bundle (question defaults to its description)."""
    session = open_bundle(path, window)
    loop = InvestigationLoop(
        session.context, HeuristicProvider(session.architecture), progress=progress
    )
    return loop.run(question or session.require_bundle().incident.description)


def make_provider(
    kind: str,
    session: InvestigationSetup,
    *,
    focus: list[str] | None = None,
    model_id: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    max_steps: int = 8,
    guardrail: tuple[str, str] | None = None,
) -> ModelProvider:
    """The model provider named ``kind``: ``heuristic`` (default, offline) or ``bedrock``
    (``guardrail``: a Bedrock Guardrail id and version applied to tool output).

    Raises:
        UnknownComponentError: a focus component is unknown (heuristic).
        ModelError: the Bedrock client cannot be built (no Region, bad profile).
        RcaError: an unknown provider kind.
    """
    if kind == "heuristic":
        return HeuristicProvider(session.architecture, focus)
    if kind == "bedrock":
        from agent.providers.bedrock import BedrockConverseProvider

        return BedrockConverseProvider(
            model_id,
            window=session.context.window.label(),
            baseline=session.context.baseline.label(),
            max_steps=max_steps,
            region=region,
            profile=profile,
            guardrail=guardrail,
        )
    raise RcaError(f"unknown model provider {kind!r}; use heuristic or bedrock")


def start_session(
    session: InvestigationSetup,
    question: str,
    provider: ModelProvider,
    store: SessionStore,
    *,
    progress: Progress | None = None,
    max_steps: int = 8,
    price_per_1k: tuple[float, float] = (0.0, 0.0),
) -> SessionRecord:
    """Run a first investigation and store it as a new session."""
    loop = InvestigationLoop(
        session.context,
        provider,
        max_steps=max_steps,
        progress=progress,
        price_per_1k=price_per_1k,
    )
    inv = loop.run(question)
    record = SessionRecord(
        id=inv.id,
        source=session.source,
        window=session.context.window,
        baseline=session.context.baseline,
        turns=[inv],
    )
    store.save(record)
    return record


def open_aws(
    source: dict[str, Any], window: TimeWindow | None, baseline: TimeWindow | None = None
) -> InvestigationSetup:
    """A setup whose telemetry comes from AWS, described by its stored ``source`` dict
    (``workspace``, ``profile``, ``region``, ``role_arn_template``, ``xray``). The window
    defaults to the last hour (UTC, whole minutes).

    Raises:
        RcaError: the workspace cannot be read or AWS cannot be reached.
    """
    from tools.telemetry.aws import open_aws_session

    if window is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        window = TimeWindow(start=now - timedelta(hours=1), end=now)
    arch, ctx = open_aws_session(
        Path(source["workspace"]),
        window,
        baseline,
        profile=source.get("profile"),
        region=source.get("region"),
        role_arn_template=source.get("role_arn_template"),
        xray=bool(source.get("xray")),
    )
    return InvestigationSetup(architecture=arch, context=ctx, source=source)


def reopen(record: SessionRecord) -> InvestigationSetup:
    """Rebuild the bundle session of a stored record, with its evidence ledger restored.

    Raises:
        SessionError: the record's telemetry source cannot be reopened here.
    """
    kind = record.source.get("kind")
    if kind == "aws":
        session = open_aws(record.source, record.window, record.baseline)
    elif kind == "bundle":
        session = open_bundle(record.source["path"], record.window)
    else:
        raise SessionError(
            f"session {record.id} ran on {kind}; it cannot be continued with the local loop"
        )
    session.context.baseline = record.baseline
    session.context.ledger.restore(record.turns[-1].evidence if record.turns else [])
    return session


def continue_session(
    record: SessionRecord,
    question: str,
    provider_for: Callable[[InvestigationSetup], ModelProvider],
    store: SessionStore,
    *,
    progress: Progress | None = None,
    max_steps: int = 8,
    price_per_1k: tuple[float, float] = (0.0, 0.0),
) -> SessionRecord:
    """Ask a follow-up in a stored session: earlier evidence is reused, new evidence continues
    the numbering, and the new turn is stored."""
    session = reopen(record)
    loop = InvestigationLoop(
        session.context,
        provider_for(session),
        max_steps=max_steps,
        progress=progress,
        price_per_1k=price_per_1k,
    )
    inv = loop.run(
        question,
        investigation_id=f"{record.id}-{len(record.turns) + 1}",
        context=record.context(),
        prior=record.steps,
    )
    record.turns.append(inv)
    store.save(record)
    return record
