"""``rca report``: an investigation session rendered as a Markdown incident report.

Sections: summary, impact (the anomalous entry-path components), timeline (timed evidence),
hypotheses, evidence with what produced it (the query, groups and window), next steps. Every
untrusted string (names, statements, evidence, notes) is redacted and escaped with
:func:`tools.markup.markdown_inline`, so log text cannot add HTML, links, headings or columns.
"""

from __future__ import annotations

from agent.render import render_prompt
from agent.sessions import SessionRecord
from tools.c4 import ArchitectureModel
from tools.markup import markdown_inline
from tools.models import iso
from tools.redact import redact


def _cell(text: str, limit: int = 300) -> str:
    return markdown_inline(redact(text), limit)


def render_report(record: SessionRecord, arch: ArchitectureModel | None = None) -> str:
    """The Markdown report of the last turn of a session (with the evidence of all turns)."""
    turn = record.turns[-1]
    answer = turn.answer

    def name(component: str | None) -> str:
        if component is None:
            return ""
        if arch is not None and component in arch.elements:
            return _cell(arch.elements[component].name, 200)
        return _cell(component, 200)

    evidence = turn.evidence
    timed = sorted(((e.time, e) for e in evidence if e.time is not None), key=lambda pair: pair[0])
    impact = [
        f"{name(e.component)}: {_cell(e.summary, 200)}"
        for e in evidence
        if e.kind in ("metric_anomaly", "alarm") and e.labels.get("harmful", "true") == "true"
    ][:8]
    hypotheses = []
    for h in answer.hypotheses if answer else []:
        hypotheses.append(
            {
                "rank": h.rank,
                "component": name(h.component),
                "fault_category": h.fault_category,
                "confidence": h.confidence,
                "statement": _cell(h.statement, 1500),
                "propagation_path": [name(c) for c in h.propagation_path],
                "supporting_evidence": h.supporting_evidence,
                "contradicting_evidence": h.contradicting_evidence,
            }
        )
    next_steps = list(
        dict.fromkeys(
            _cell(c, 500) for h in (answer.hypotheses if answer else [])[:3] for c in h.next_checks
        )
    )
    return render_prompt(
        "report.md.j2",
        question=_cell(turn.question, 300),
        record_id=record.id,
        turns=len(record.turns),
        window=record.window.label(),
        baseline=record.baseline.label(),
        provider=turn.provider,
        seconds=sum(t.seconds for t in record.turns),
        steps=sum(len(t.steps) for t in record.turns),
        usage=turn.usage,
        partial=bool(answer and answer.partial),
        summary=_cell(answer.summary if answer else "No answer.", 2000),
        impact=impact,
        timeline=[
            {"time": iso(when), "component": name(e.component), "summary": _cell(e.summary, 220)}
            for when, e in timed
            if e.kind in ("metric_anomaly", "log_pattern", "change", "alarm")
        ][:40],
        hypotheses=hypotheses,
        evidence=[
            {
                "id": e.id,
                "tool": e.tool,
                "component": name(e.component),
                "summary": _cell(e.summary),
                "searched": _cell(e.searched, 200),
            }
            for e in evidence
        ],
        next_steps=next_steps,
        notes=[_cell(n, 500) for n in turn.notes],
    )
