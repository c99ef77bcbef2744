"""Builds investigations: one place that wires a bundle, the tools, a provider and the loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.loop import InvestigationLoop, Progress
from agent.models import Investigation
from agent.providers.heuristic import HeuristicProvider
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.context import ToolContext
from tools.errors import EmptyWindowError
from tools.models import TimeWindow
from tools.telemetry.bundle import BundleBackend

DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "scenarios" / "bundles" / "connected-vehicle-sg"


@dataclass
class BundleSession:
    """A loaded bundle with its architecture and tool context."""

    bundle: Bundle
    architecture: ArchitectureModel
    context: ToolContext


def open_bundle(path: Path | str, window: TimeWindow | None = None) -> BundleSession:
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
    )
    return BundleSession(bundle=bundle, architecture=arch, context=ctx)


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
    return loop.run(question or session.bundle.incident.description)
