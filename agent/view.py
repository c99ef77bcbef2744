"""One view model of an investigation answer, consumed by every renderer.

:func:`answer_view` turns the last turn of a :class:`~agent.sessions.SessionRecord` (or a bare
:class:`~agent.models.Investigation`) and the architecture into an :class:`AnswerView`: the
question and window, each hypothesis with its component's display name, its supporting and
contradicting evidence lines, the two or three *deciding* lines, and its next checks; the gaps
(what could not be checked and why), the loop's notes and the partial flag. The terminal
(``cli/render.py``), Markdown (``agent/report.py``) and Block Kit (``slackbot/blocks.py``)
renderers all read this model, so they cannot disagree about what the answer says.

Text in the view is *raw* (already redacted at the evidence boundary, and redacted again here
for the question and notes); each renderer escapes it with its own helper from
:mod:`tools.markup`.

Deciding evidence (the rule, :func:`deciding`): among a hypothesis's cited supporting evidence,
each line scores 2 when it is a change (a cause can precede an onset; a symptom cannot), 2 when
it is about the hypothesis's own component or an edge leaving it (a signal at the root rather
than at a victim), and 1 when it is an anomaly kind (log pattern, metric anomaly, alarm, trace);
ties keep the order the hypothesis cited them in. The two best lines are deciding; a third is the
first contradicting line when there is one (what argues against the hypothesis is always shown),
else the third-best supporting line.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from agent.models import Hypothesis, Investigation
from agent.sessions import SessionRecord
from tools.c4 import ArchitectureModel
from tools.models import Evidence, Model
from tools.redact import redact

ANOMALY_KINDS = frozenset({"log_pattern", "metric_anomaly", "alarm", "trace", "span_anomaly"})
DECIDING = 3


class EvidenceLine(Model):
    """One evidence item as shown to a person: id, tool, kind, component display name,
    summary, what was searched, and when it happened (UTC, when known)."""

    id: str
    tool: str
    kind: str
    component: str | None = None
    summary: str
    searched: str = ""
    time: datetime | None = None


class HypothesisView(Model):
    """One ranked hypothesis with display names and its evidence lines resolved."""

    rank: int
    component: str = Field(description="display name of the root-cause component")
    component_id: str
    fault_category: str
    confidence: float
    statement: str
    propagation_path: list[str] = Field(default_factory=list, description="display names")
    supporting: list[EvidenceLine] = Field(default_factory=list)
    contradicting: list[EvidenceLine] = Field(default_factory=list)
    deciding: list[EvidenceLine] = Field(
        default_factory=list, description="the 2-3 lines chosen by agent.view.deciding"
    )
    next_checks: list[str] = Field(default_factory=list)


class Gap(Model):
    """Something that could not be checked, and why (a tool error or a search without data)."""

    tool: str
    reason: str


class AnswerView(Model):
    """The answer of one investigation turn, ready for any renderer."""

    session_id: str
    turns: int = 1
    question: str
    window: str = Field(description="UTC window label")
    baseline: str
    provider: str
    steps: int = Field(description="loop steps over all turns")
    evidence_count: int
    seconds: float = Field(description="wall time over all turns, seconds")
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    summary: str
    partial: bool
    answered: bool = Field(description="false when the turn has no answer at all")
    hypotheses: list[HypothesisView] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    evidence: list[EvidenceLine] = Field(default_factory=list, description="every item, E1..En")
    impact: list[EvidenceLine] = Field(
        default_factory=list, description="harmful anomalies and alarms (the user-facing impact)"
    )


def _name(arch: ArchitectureModel | None, component: str | None) -> str | None:
    if component is None:
        return None
    if arch is not None and component in arch.elements:
        return arch.elements[component].name
    return component


def _line(ev: Evidence, arch: ArchitectureModel | None) -> EvidenceLine:
    return EvidenceLine(
        id=ev.id,
        tool=ev.tool,
        kind=ev.kind,
        component=_name(arch, ev.component),
        summary=ev.summary,
        searched=ev.searched,
        time=ev.time,
    )


def _component_id(h: Hypothesis, arch: ArchitectureModel | None) -> str:
    if arch is None or h.component in arch.elements:
        return h.component
    for eid, element in arch.elements.items():
        if element.name == h.component:
            return eid
    return h.component


def deciding(
    h: Hypothesis, evidence: dict[str, Evidence], component_id: str | None = None
) -> list[str]:
    """The ids of the 2-3 deciding evidence lines of ``h`` (the rule is in the module doc)."""
    root = component_id or h.component

    def score(ev: Evidence) -> int:
        at_root = ev.component == root or (ev.edge is not None and ev.edge[0] == root)
        return 2 * (ev.kind == "change") + 2 * at_root + (ev.kind in ANOMALY_KINDS)

    cited = [evidence[e] for e in h.supporting_evidence if e in evidence]
    ranked = sorted(enumerate(cited), key=lambda pair: (-score(pair[1]), pair[0]))
    chosen = [ev.id for _, ev in ranked[: DECIDING - 1]]
    against = [e for e in h.contradicting_evidence if e in evidence]
    if against:
        chosen.append(against[0])
    elif len(ranked) >= DECIDING:
        chosen.append(ranked[DECIDING - 1][1].id)
    return chosen


def _gaps(turn: Investigation) -> list[Gap]:
    gaps: list[Gap] = []
    for step in turn.steps:
        for ex in step.executions:
            if ex.result.status == "error" and ex.call.name != "submit_hypotheses":
                gaps.append(Gap(tool=ex.call.name, reason=redact(ex.result.error or "failed")))
    gaps += [Gap(tool=ev.tool, reason=ev.summary) for ev in turn.evidence if ev.kind == "no_data"]
    unique: dict[tuple[str, str], Gap] = {(g.tool, g.reason): g for g in gaps}
    return list(unique.values())


def answer_view(
    source: SessionRecord | Investigation, arch: ArchitectureModel | None = None
) -> AnswerView:
    """The view of the last turn of ``source`` (a session record or one investigation).

    Raises:
        ValueError: a session record without turns.
    """
    if isinstance(source, SessionRecord):
        if not source.turns:
            raise ValueError(f"session {source.id} has no turns")
        turn, session_id, all_turns = source.turns[-1], source.id, source.turns
    else:
        turn, session_id, all_turns = source, source.id, [source]
    evidence = {e.id: e for e in turn.evidence}
    answer = turn.answer
    lines = {eid: _line(ev, arch) for eid, ev in evidence.items()}
    hypotheses: list[HypothesisView] = []
    for h in answer.hypotheses if answer else []:
        cid = _component_id(h, arch)
        hypotheses.append(
            HypothesisView(
                rank=h.rank,
                component=_name(arch, cid) or h.component,
                component_id=cid,
                fault_category=h.fault_category,
                confidence=h.confidence,
                statement=h.statement,
                propagation_path=[_name(arch, c) or c for c in h.propagation_path],
                supporting=[lines[e] for e in h.supporting_evidence if e in lines],
                contradicting=[lines[e] for e in h.contradicting_evidence if e in lines],
                deciding=[lines[e] for e in deciding(h, evidence, cid)],
                next_checks=list(h.next_checks),
            )
        )
    return AnswerView(
        session_id=session_id,
        turns=len(all_turns),
        question=redact(turn.question),
        window=turn.window.label(),
        baseline=turn.baseline.label(),
        provider=turn.provider,
        steps=sum(len(t.steps) for t in all_turns),
        evidence_count=len(turn.evidence),
        seconds=round(sum(t.seconds for t in all_turns), 2),
        input_tokens=turn.usage.input_tokens,
        output_tokens=turn.usage.output_tokens,
        cache_read_tokens=turn.usage.cache_read_tokens,
        cache_write_tokens=turn.usage.cache_write_tokens,
        cost_usd=turn.usage.cost_usd,
        summary=redact(answer.summary) if answer else "",
        partial=bool(answer and answer.partial),
        answered=answer is not None,
        hypotheses=hypotheses,
        gaps=_gaps(turn),
        notes=[redact(n) for n in turn.notes],
        evidence=list(lines.values()),
        impact=[
            lines[e.id]
            for e in turn.evidence
            if e.kind in ("metric_anomaly", "alarm") and e.labels.get("harmful", "true") == "true"
        ],
    )
