"""Opens what an investigation runs on (a bundle, or AWS with its workspace) and builds model
providers; :mod:`agent.service` runs, stores and reopens the investigations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.providers.base import ModelProvider
from agent.providers.heuristic import HeuristicProvider
from agent.sessions import SessionError, SessionRecord
from tools.aws.session import ClientFactory
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


def open_aws(
    source: dict[str, Any],
    window: TimeWindow | None,
    baseline: TimeWindow | None = None,
    *,
    clients: ClientFactory | None = None,
) -> InvestigationSetup:
    """A setup whose telemetry comes from AWS, described by its stored ``source`` dict
    (``workspace``: a path or ``s3://bucket/key`` URI; ``accounts``, ``regions``, ``profile``,
    ``region``, ``role_arn_template``, ``xray``). The window defaults to the last hour (UTC,
    whole minutes). ``clients`` replaces the boto3 sessions for telemetry (tests, replays).

    Accounts and Regions: an element is read in its ``rca.account`` / ``rca.region``
    (inherited from its parents); without ``rca.region`` it is read in ``region`` (the first of
    ``regions``), else the profile's or ``AWS_REGION``; without ``rca.account`` in the caller's
    account. Non-empty ``accounts`` / ``regions`` are also the only ones this source may read:
    an element mapped outside them is refused before any telemetry is read (see
    :func:`check_scope`).

    Raises:
        WorkspaceError: the workspace cannot be read (missing, denied, too large, not JSON).
        CredentialsError: no Region anywhere, unknown profile, bad role configuration.
        RcaError: an element maps to an account or Region outside the source's lists.
    """
    from tools.telemetry.aws import open_aws_session

    if window is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        window = TimeWindow(start=now - timedelta(hours=1), end=now)
    regions = list(source.get("regions") or [])
    arch, ctx = open_aws_session(
        str(source["workspace"]),
        window,
        baseline,
        profile=source.get("profile"),
        region=source.get("region") or (regions[0] if regions else None),
        role_arn_template=source.get("role_arn_template"),
        clients=clients,
        xray=bool(source.get("xray")),
    )
    check_scope(ctx.backend, list(source.get("accounts") or []), regions)
    return InvestigationSetup(architecture=arch, context=ctx, source=source)


def check_scope(backend: Any, accounts: list[str], regions: list[str]) -> None:
    """Refuse a workspace that maps telemetry outside the source's ``accounts`` / ``regions``
    (an empty list allows any). ``backend`` is an :class:`tools.telemetry.aws.AwsBackend`;
    elements without ``rca.account`` / ``rca.region`` are read in the caller's account and the
    source's default Region, so they always pass.

    Raises:
        RcaError: one line naming the element, its account or Region, and the allowed list.
    """
    for element in backend.architecture.elements.values():
        where = backend.location_of(element.id)
        if where not in backend.locations:
            continue  # no telemetry mapped to this element: nothing is read for it
        if accounts and where.account and where.account not in accounts:
            raise RcaError(
                f"element {element.name!r} is mapped to account {where.account} (rca.account), "
                f"which this source does not list ({', '.join(accounts)}); add the account or "
                "fix the element's rca.account"
            )
        if regions and where.region and where.region not in regions:
            raise RcaError(
                f"element {element.name!r} is mapped to Region {where.region} (rca.region), "
                f"which this source does not list ({', '.join(regions)}); add the Region or "
                "fix the element's rca.region"
            )


def reopen(record: SessionRecord, *, clients: ClientFactory | None = None) -> InvestigationSetup:
    """Rebuild the setup of a stored record (bundle or AWS; ``clients`` as in
    :func:`open_aws`), with its evidence ledger restored.

    Raises:
        SessionError: the record's telemetry source cannot be reopened here.
    """
    kind = record.source.get("kind")
    if kind == "aws":
        session = open_aws(record.source, record.window, record.baseline, clients=clients)
    elif kind == "bundle":
        session = open_bundle(record.source["path"], record.window)
    else:
        raise SessionError(
            f"session {record.id} ran on {kind}; it cannot be continued with the local loop"
        )
    session.context.baseline = record.baseline
    session.context.ledger.restore(record.turns[-1].evidence if record.turns else [])
    return session
