"""The investigation service: the one entry point every surface (CLI, Slack, Lambda) calls.

``InvestigationService.start`` / ``follow_up`` / ``get`` take a typed telemetry source
(:class:`BundleSource` or :class:`AwsSource`), a model choice and a session key the caller
chooses (a CLI id, or a Slack ``team/channel/thread_ts``). Progress arrives as typed
:class:`ProgressEvent` values. Sessions are written with a version check
(:meth:`agent.sessions.SessionStore.save_versioned`): when two follow-ups of one session finish
at once, the loser reloads the record and appends its turn again, so no turn is lost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from agent.factory import (
    DEMO_BUNDLE,
    InvestigationSetup,
    make_provider,
    open_aws,
    open_bundle,
    reopen,
)
from agent.loop import InvestigationLoop, ToolExecutor
from agent.sessions import Feedback, SessionError, SessionRecord, SessionStore, VersionConflict
from agent.view import AnswerView, answer_view
from tools.aws.session import ClientFactory
from tools.c4 import ArchitectureModel
from tools.errors import RcaError
from tools.models import Model, TimeWindow
from tools.workspace import load_workspace

if TYPE_CHECKING:
    from agent.evaluation import CaseResult, Scores

MAX_SAVE_ATTEMPTS = 8

EventKind = Literal[
    "planning", "tool_call_started", "tool_call_finished", "observation", "hypotheses", "gap"
]


class BundleSource(Model):
    """Telemetry from an incident bundle directory (default: the embedded demo)."""

    kind: Literal["bundle"] = "bundle"
    path: str = str(DEMO_BUNDLE)


class AwsSource(Model):
    """Telemetry from AWS: a Structurizr workspace (local path or ``s3://bucket/key`` URI, read
    again by whichever process reopens the session), the accounts and Regions to read, and the
    read-only role per account (``{account}`` placeholder).

    Elements are read in their ``rca.account`` / ``rca.region``; elements without
    ``rca.region`` in the first of ``regions`` (else the profile's or ``AWS_REGION``). Non-empty
    ``accounts`` / ``regions`` also bound what may be read: a workspace mapping an element
    elsewhere is refused (:func:`agent.factory.check_scope`)."""

    kind: Literal["aws"] = "aws"
    workspace: str
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    role_arn_template: str | None = None
    profile: str | None = None
    xray: bool = False


TelemetrySource = BundleSource | AwsSource


class ModelChoice(Model):
    """Which reasoning to use: ``heuristic`` (offline) or ``bedrock`` (Converse tool use), run
    by this process's loop (``runtime="loop"``) or by a managed Bedrock Agent
    (``runtime="bedrock-agent"`` with ``agent_id`` and ``agent_alias_id``)."""

    provider: Literal["heuristic", "bedrock"] = "heuristic"
    model_id: str | None = None
    region: str | None = None
    profile: str | None = None
    max_steps: int = Field(default=8, ge=1, le=50)
    runtime: Literal["loop", "bedrock-agent"] = "loop"
    agent_id: str | None = None
    agent_alias_id: str | None = None
    guardrail_id: str | None = Field(
        default=None, description="Bedrock Guardrail run on tool output (ApplyGuardrail)"
    )
    guardrail_version: str = "DRAFT"


class ProgressEvent(Model):
    """One typed progress event. ``kind``: planning (the source was opened, step 0, or a loop
    step begins; ``text`` its thought), tool_call_started (``tool``, ``text`` its input as
    JSON), tool_call_finished (``tool``, ``status``, ``evidence`` count, ``seconds``),
    observation (one thing a finished tool found: ``tool`` and the finding in ``text``),
    hypotheses (the answer arrived; ``text`` its summary), gap (what could not be checked and
    why, in ``text``)."""

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
            listener(
                ProgressEvent(
                    kind="tool_call_started",
                    tool=str(payload.get("tool")),
                    text=json.dumps(payload.get("input") or {}, default=str)[:300],
                )
            )
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
            for finding in payload.get("findings") or []:  # type: ignore[attr-defined]
                listener(
                    ProgressEvent(kind="observation", tool=str(payload.get("tool")), text=finding)
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


def new_key() -> str:
    """A fresh session key for callers without one of their own (12 hex characters)."""
    return uuid.uuid4().hex[:12]


def _describe(setup: InvestigationSetup) -> str:
    where = setup.source.get("path") or setup.source.get("workspace") or setup.source.get("kind")
    return (
        f"Investigating on {setup.source.get('kind')} {where} (workspace "
        f"{setup.architecture.name!r}, window {setup.context.window.label()})"
    )


class InvestigationService:
    """Starts, continues and reads investigations stored in a :class:`SessionStore`."""

    def __init__(
        self,
        store: SessionStore,
        *,
        clients: ClientFactory | None = None,
        tools: ToolExecutor | None = None,
    ) -> None:
        """``clients`` replaces the boto3 sessions that read AWS telemetry (tests, replays);
        the workspace itself is always read with :func:`tools.workspace.load_workspace`.
        ``tools`` runs the loop's tool calls (default: in this process; the cloud runtime
        passes :class:`tools.gateway_client.GatewayTools`)."""
        self.store = store
        self.clients = clients
        self.tools = tools

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
        return open_aws(stored, window, clients=self.clients)

    def start(
        self,
        key: str | None,
        question: str,
        source: TelemetrySource | None = None,
        *,
        model: ModelChoice | None = None,
        window: TimeWindow | None = None,
        focus: list[str] | None = None,
        context: str = "",
        listener: Listener | None = None,
    ) -> SessionRecord:
        """Run a first investigation and store it under ``key`` (None: a new key).

        ``context`` is untrusted text around the question (e.g. the alarm message a Slack
        thread started from); the loop hands it to the model wrapped as data.

        Raises:
            RcaError: bad question, source or model; VersionConflict when ``key`` exists (so a
            retried request never runs a second investigation under the same key).
        """
        if not question.strip():
            raise RcaError("the question is empty; describe the symptom, e.g. 'checkout fails'")
        key = key or new_key()
        model = model or ModelChoice()
        setup = self.open(source or BundleSource(), window)
        if listener is not None:
            listener(ProgressEvent(kind="planning", step=0, text=_describe(setup)))
            for warning in getattr(getattr(setup, "bundle", None), "warnings", None) or []:
                listener(ProgressEvent(kind="gap", text=warning))  # e.g. NaN metric values
        if model.runtime == "bedrock-agent":
            inv = _run_managed(setup, question, model, listener, key)
            source_dict: dict[str, Any] = {
                "kind": "bedrock-agent",
                "agent": f"{model.agent_id}/{model.agent_alias_id}",
            }
        else:
            loop = _loop(setup, model, listener, focus, tools=self.tools)
            inv = loop.run(question, investigation_id=key, context=context)
            source_dict = setup.source
        record = SessionRecord(
            id=key,
            source=source_dict,
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

    def sessions(self) -> list[tuple[str, Any, str]]:
        """``(key, created_at UTC, first question)`` of every stored session, newest first."""
        return self.store.list()

    def architecture(self, record: SessionRecord) -> ArchitectureModel | None:
        """The workspace of the session's source when it is still readable here, else None."""
        source = record.source
        if source.get("kind") == "aws":
            location = str(source.get("workspace", ""))
        elif source.get("kind") == "bundle":
            location = str(Path(str(source.get("path", ""))) / "workspace.json")
        else:
            return None
        try:
            return load_workspace(
                location, profile=source.get("profile"), region=source.get("region")
            )
        except RcaError:
            return None

    def view(self, record: SessionRecord) -> AnswerView:
        """The view model of the session's last turn (display names from its workspace)."""
        return answer_view(record, self.architecture(record))

    def report(self, key: str) -> str:
        """The Markdown incident report of session ``key`` (raises SessionError)."""
        from agent.report import render_view

        return render_view(self.view(self.get(key)))

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
        setup = reopen(record, clients=self.clients)
        loop = _loop(setup, model, listener, tools=self.tools)
        inv = loop.run(
            question,
            investigation_id=f"{key}-{len(record.turns) + 1}",
            context=record.context(),
            prior=record.steps,
        )

        def append(current: SessionRecord) -> None:
            inv.id = f"{key}-{len(current.turns) + 1}"
            current.turns.append(inv)

        record = self._update(key, record, append)
        _emit_outcome(record, listener)
        return record

    def add_feedback(self, key: str, feedback: Feedback) -> SessionRecord:
        """Store ``feedback`` with session ``key`` (version-checked, like a turn).

        Raises:
            SessionError: no such session, or the writes kept conflicting.
        """
        return self._update(key, self.store.load(key), lambda r: r.feedback.append(feedback))

    def _update(
        self, key: str, record: SessionRecord, change: Callable[[SessionRecord], None]
    ) -> SessionRecord:
        for _ in range(MAX_SAVE_ATTEMPTS):
            change(record)
            try:
                self.store.save_versioned(record, record.version)
            except VersionConflict:
                record = self.store.load(key)
                continue
            return record
        raise SessionError(f"session {key}: {MAX_SAVE_ATTEMPTS} conflicting writes; try again")

    def evaluate(
        self,
        paths: Iterable[Path],
        model: ModelChoice | None = None,
        on_case: Callable[[CaseResult], None] | None = None,
    ) -> tuple[list[CaseResult], list[Scores]]:
        """Investigate every bundle with ground truth under ``paths`` with ``model`` and score
        AC@1, AC@3, Avg@5 (see :mod:`agent.evaluation`). Nothing is stored."""
        from agent.evaluation import evaluate

        choice = model or ModelChoice()
        return evaluate(paths, on_case, loop_for=lambda setup: _loop(setup, choice, None))


def _run_managed(
    setup: InvestigationSetup,
    question: str,
    model: ModelChoice,
    listener: Listener | None,
    key: str,
) -> Any:
    """InvokeAgent on a managed Bedrock Agent; its trace becomes progress events."""
    from agent.managed import ManagedAgentRuntime

    if not (model.agent_id and model.agent_alias_id):
        raise RcaError("--runtime bedrock-agent needs --agent-id and --agent-alias-id")
    runtime = ManagedAgentRuntime(
        model.agent_id, model.agent_alias_id, profile=model.profile, region=model.region
    )
    inv = runtime.run(
        question,
        setup.context.window,
        setup.context.baseline,
        session_id=key,
        progress=_translate(listener),
    )
    inv.id = key
    return inv


def _loop(
    setup: InvestigationSetup,
    model: ModelChoice,
    listener: Listener | None,
    focus: list[str] | None = None,
    *,
    tools: ToolExecutor | None = None,
) -> InvestigationLoop:
    """The investigation loop for ``setup`` with the chosen model's provider (the Bedrock
    price per 1,000 tokens from ``agent.providers.bedrock.price_of`` and the prompt-cache rates
    from ``tools.aws.models.cache_rates``, for the cost estimate)."""
    provider = make_provider(
        model.provider,
        setup,
        focus=focus,
        model_id=model.model_id,
        region=model.region,
        profile=model.profile,
        max_steps=model.max_steps,
        guardrail=(model.guardrail_id, model.guardrail_version) if model.guardrail_id else None,
    )
    price, rates = (0.0, 0.0), (1.0, 1.0)
    if model.provider == "bedrock":
        from agent.providers.bedrock import price_of
        from tools.aws.models import cache_rates

        model_id = str(getattr(provider, "model_id", ""))
        price, rates = price_of(model_id), cache_rates(model_id)
    return InvestigationLoop(
        setup.context,
        provider,
        max_steps=model.max_steps,
        progress=_translate(listener),
        price_per_1k=price,
        cache_rates=rates,
        tools=tools,
    )


def source_from(value: dict[str, Any]) -> TelemetrySource:
    """A typed source from its stored dict form (raises pydantic ValidationError)."""
    if value.get("kind") == "aws":
        return AwsSource.model_validate(value)
    return BundleSource.model_validate(value)
