"""``rca report``: an investigation session rendered as a Markdown incident report.

Sections: summary, impact (the anomalous entry-path components), timeline (timed evidence),
hypotheses, evidence with what produced it (the query, groups and window), gaps, next steps.
It renders :class:`agent.view.AnswerView`, the one view model every surface uses. Every
untrusted string (names, statements, evidence, notes) is redacted and escaped with
:func:`tools.markup.markdown_inline`, so log text cannot add HTML, links, headings or columns.
"""

from __future__ import annotations

from agent.render import render_prompt
from agent.sessions import SessionRecord
from agent.view import AnswerView, answer_view
from tools.c4 import ArchitectureModel
from tools.markup import markdown_inline
from tools.models import iso
from tools.redact import redact

TIMED_KINDS = ("metric_anomaly", "log_pattern", "change", "alarm")


def _cell(text: str | None, limit: int = 300) -> str:
    return markdown_inline(redact(text or ""), limit)


def render_report(record: SessionRecord, arch: ArchitectureModel | None = None) -> str:
    """The Markdown report of the last turn of a session (with the evidence of all turns)."""
    return render_view(answer_view(record, arch))


def render_view(view: AnswerView) -> str:
    """The Markdown report of one :class:`AnswerView`."""
    timed = sorted((e for e in view.evidence if e.time is not None), key=lambda e: e.time)  # type: ignore[arg-type, return-value]
    hypotheses = [
        {
            "rank": h.rank,
            "component": _cell(h.component, 200),
            "fault_category": h.fault_category,
            "confidence": h.confidence,
            "statement": _cell(h.statement, 1500),
            "propagation_path": [_cell(c, 200) for c in h.propagation_path],
            "supporting_evidence": [e.id for e in h.supporting],
            "contradicting_evidence": [e.id for e in h.contradicting],
            # ids only: telemetry text is quoted in the Evidence section, never among hypotheses
            "deciding": [e.id for e in h.deciding],
        }
        for h in view.hypotheses
    ]
    next_steps = list(
        dict.fromkeys(_cell(c, 500) for h in view.hypotheses[:3] for c in h.next_checks)
    )
    return render_prompt(
        "report.md.j2",
        question=_cell(view.question, 300),
        record_id=view.session_id,
        turns=view.turns,
        window=view.window,
        baseline=view.baseline,
        provider=view.provider,
        seconds=view.seconds,
        steps=view.steps,
        usage={
            "input_tokens": view.input_tokens,
            "output_tokens": view.output_tokens,
            "cache_read_tokens": view.cache_read_tokens,
            "cache_write_tokens": view.cache_write_tokens,
            "cost_usd": view.cost_usd,
        },
        partial=view.partial,
        summary=_cell(view.summary if view.answered else "No answer.", 2000),
        impact=[f"{_cell(e.component, 200)}: {_cell(e.summary, 200)}" for e in view.impact][:8],
        timeline=[
            {
                "time": iso(e.time),  # type: ignore[arg-type]
                "component": _cell(e.component, 200),
                "summary": _cell(e.summary, 220),
            }
            for e in timed
            if e.kind in TIMED_KINDS
        ][:40],
        hypotheses=hypotheses,
        evidence=[
            {
                "id": e.id,
                "tool": e.tool,
                "component": _cell(e.component, 200),
                "summary": _cell(e.summary),
                "searched": _cell(e.searched, 200),
            }
            for e in view.evidence
        ],
        gaps=[{"tool": g.tool, "reason": _cell(g.reason, 300)} for g in view.gaps],
        next_steps=next_steps,
        notes=[_cell(n, 500) for n in view.notes],
    )
