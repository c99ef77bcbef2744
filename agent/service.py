"""The investigation service: the one entry point every surface (CLI, Slack, Lambda) calls.

``InvestigationService.start`` / ``follow_up`` / ``get`` take a typed telemetry source
(:class:`BundleSource` or :class:`AwsSource`), a model choice and a session key the caller
chooses (a CLI id, or a Slack ``team/channel/thread_ts``). Progress arrives as typed
:class:`ProgressEvent` values. Sessions are written with a version check
(:meth:`agent.sessions.SessionStore.save_versioned`): when two follow-ups of one session finish
at once, the loser reloads the record and appends its turn again, so no turn is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from agent.factory import (
    DEMO_BUNDLE,
    InvestigationSetup,
    make_provider,
    open_aws,
    open_bundle,
    reopen,
)
from agent.loop import InvestigationLoop
from agent.sessions import SessionError, SessionRecord, SessionStore, VersionConflict
from tools.errors import RcaError
from tools.models import Model, TimeWindow

MAX_SAVE_ATTEMPTS = 8

EventKind = Literal[
    "planning", "tool_call_started", "tool_call_finished", "observation", "hypotheses", "gap"
]


class BundleSource(Model):
    """Telemetry from an incident bundle directory (default: the embedded demo)."""

    kind: Literal["bundle"] = "bundle"
    path: str = str(DEMO_BUNDLE)


class AwsSource(Model):
    """Telemetry from AWS: a Structurizr workspace (local path or ``s3://`` URI), the accounts
    and Regions to read, and the read-only role per account (``{account}`` placeholder)."""

    kind: Literal["aws"] = "aws"
    workspace: str
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    role_arn_template: str | None = None
    profile: str | None = None
    xray: bool = False


TelemetrySource = BundleSource | AwsSource


class ModelChoice(Model):
    """Which reasoning to use: ``heuristic`` (offline) or ``bedrock`` (Converse tool use)."""

    provider: Literal["heuristic", "bedrock"] = "heuristic"
    model_id: str | None = None
    region: str | None = None
    profile: str | None = None
    max_steps: int = Field(default=8, ge=1, le=50)


class ProgressEvent(Model):
    """One typed progress event. ``kind``: planning (a loop step begins; ``text`` its thought),
    tool_call_started / tool_call_finished (``tool``, and when finished ``status``,
    ``evidence`` count, ``seconds``), observation, hypotheses (the answer arrived), gap (what
    could not be checked and why, in ``text``)."""

    kind: EventKind
    step: int | None = None
    tool: str | None = None
    status: str | None = None
    evidence: int | None = None
    seconds: float | None = None
    text: str = ""


Listener = Callable[[ProgressEvent], None]


def _translate(listener: Listener | None) -> Callable[[str, dict[str, object]], None] | None:
    """Adapts the loop's untyped progress callback to typed events (None: no listener)."""
    if listener is None:
        return None

    def emit(event: str, payload: dict[str, object]) -> None:
        if event == "step":
            listener(
                ProgressEvent(
                    kind="planning",
                    step=int(payload.get("step", 0) or 0),  # type: ignore[call-overload]
                    text=str(payload.get("thought") or ""),
                )
            )
        elif event == "tool_start":
            listener(ProgressEvent(kind="tool_call_started", tool=str(payload.get("tool"))))
        elif event == "tool_end":
            status = str(payload.get("status"))
            listener(
                ProgressEvent(
                    kind="tool_call_finished",
                    tool=str(payload.get("tool")),
                    status=status,
                    evidence=int(payload.get("evidence", 0) or 0),  # type: ignore[call-overload]
                    seconds=float(payload.get("seconds", 0.0) or 0.0),  # type: ignore[arg-type]
                    text=str(payload.get("error") or ""),
                )
            )
            if status == "error":
                listener(
                    ProgressEvent(
                        kind="gap",
                        tool=str(payload.get("tool")),
                        text=str(payload.get("error") or "the tool failed"),
                    )
                )

    return emit


def _emit_outcome(record: SessionRecord, listener: Listener | None) -> None:
    if listener is None:
        return
    turn = record.turns[-1]
    for ev in turn.evidence:
        if ev.kind == "no_data":
            listener(ProgressEvent(kind="gap", tool=ev.tool, text=ev.summary))
    if turn.answer is not None:
        listener(ProgressEvent(kind="hypotheses", text=turn.answer.summary))


class InvestigationService:
    """Starts, continues and reads investigations stored in a :class:`SessionStore`."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def open(self, source: TelemetrySource, window: TimeWindow | None = None) -> InvestigationSetup:
        """The architecture and tool context for ``source``.

        Raises:
            RcaError: the bundle or workspace cannot be opened, or AWS cannot be reached.
        """
        if isinstance(source, BundleSource):
            return open_bundle(source.path, window)
        stored = {
            "kind": "aws",
            "workspace": source.workspace,
            "accounts": source.accounts,
            "regions": source.regions,
            "profile": source.profile,
            "region": source.regions[0] if source.regions else None,
            "role_arn_template": source.role_arn_template,
            "xray": source.xray,
        }
        return open_aws(stored, window)

    def start(
        self,
        key: str,
        question: str,
        source: TelemetrySource | None = None,
        *,
        model: ModelChoice | None = None,
        window: TimeWindow | None = None,
        focus: list[str] | None = None,
        listener: Listener | None = None,
    ) -> SessionRecord:
        """Run a first investigation and store it under ``key``.

        Raises:
            RcaError: bad question, source or model; VersionConflict when ``key`` exists.
        """
        if not question.strip():
            raise RcaError("the question is empty; describe the symptom, e.g. 'checkout fails'")
        model = model or ModelChoice()
        setup = self.open(source or BundleSource(), window)
        loop = _loop(setup, model, listener, focus)
        inv = loop.run(question, investigation_id=key)
        record = SessionRecord(
            id=key,
            source=setup.source,
            window=setup.context.window,
            baseline=setup.context.baseline,
            turns=[inv],
        )
        self.store.save_versioned(record, 0)
        _emit_outcome(record, listener)
        return record

    def get(self, key: str) -> SessionRecord:
        """The stored session (raises SessionError when absent)."""
        return self.store.load(key)

    def follow_up(
        self,
        key: str,
        question: str,
        *,
        model: ModelChoice | None = None,
        listener: Listener | None = None,
    ) -> SessionRecord:
        """Ask a follow-up in session ``key``: earlier evidence is reused and the new turn is
        appended with a version-checked write; on a conflict the record is reloaded and the
        turn appended again (up to MAX_SAVE_ATTEMPTS times).

        Raises:
            SessionError: no such session, or the writes kept conflicting.
        """
        if not question.strip():
            raise RcaError("the follow-up question is empty")
        model = model or ModelChoice()
        record = self.store.load(key)
        setup = reopen(record)
        loop = _loop(setup, model, listener)
        inv = loop.run(
            question,
            investigation_id=f"{key}-{len(record.turns) + 1}",
            context=record.context(),
            prior=record.steps,
        )
        for _ in range(MAX_SAVE_ATTEMPTS):
            inv.id = f"{key}-{len(record.turns) + 1}"
            record.turns.append(inv)
            try:
                self.store.save_versioned(record, record.version)
            except VersionConflict:
                record = self.store.load(key)
                continue
            _emit_outcome(record, listener)
            return record
        raise SessionError(f"session {key}: {MAX_SAVE_ATTEMPTS} conflicting writes; try again")


def _loop(
    setup: InvestigationSetup,
    model: ModelChoice,
    listener: Listener | None,
    focus: list[str] | None = None,
) -> InvestigationLoop:
    """The investigation loop for ``setup`` with the chosen model's provider."""
    provider = make_provider(
        model.provider,
        setup,
        focus=focus,
        model_id=model.model_id,
        region=model.region,
        profile=model.profile,
        max_steps=model.max_steps,
    )
    return InvestigationLoop(
        setup.context, provider, max_steps=model.max_steps, progress=_translate(listener)
    )


def source_from(value: dict[str, Any]) -> TelemetrySource:
    """A typed source from its stored dict form (raises pydantic ValidationError)."""
    if value.get("kind") == "aws":
        return AwsSource.model_validate(value)
    return BundleSource.model_validate(value)
