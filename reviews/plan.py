"""The improvement plan of a review: the practices this document does not address, in order.

:func:`order_plan` takes every question's recommendations (only best practices that are not
``SELECTED``; not-applicable ones never appear) and orders them:

1. by **risk**: the lens risk of not following the practice (HIGH, MEDIUM, LOW), then whether
   the question itself is HIGH risk;
2. by **relevance to the workload** the document describes: the share of the pillar's practices
   the document addresses, then the share of the question's practices it touches, so a
   disaster-recovery design leads with Reliability and a document that never mentions costs
   does not open with Cost Optimization;
3. by **effort**: quick wins (a setting, a document, an alarm, a policy) before major initiatives
   (new architecture, automation programmes, organisational change), classified from the words
   of the practice's guidance (:func:`effort_of`);

and renumbers priorities 1..n. Each item carries its AWS best-practice page (the lens's URL of
the choice), its effort class and one sentence about this document
(:func:`gap_sentence`): what it has on this practice (a verbatim quote, chosen for its relevance
by :mod:`reviews.gaps`, with its page) or which of the practice's signals it does not mention,
and what it lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lenses.catalog import GuidanceNote, Lens
from lenses.format import LensError
from reviews.models import QuestionAssessment, Recommendation

if TYPE_CHECKING:  # the document reader loads numpy and the stemmer: only where it is used
    from reviews.gaps import DocumentGaps

QUICK_WIN = "quick win"
MAJOR = "major initiative"
TOP = 10

_MAJOR = re.compile(
    r"\b(?:architect\w*|redesign\w*|re-architect\w*|migrat\w*|multi-region|multiple regions|"
    r"automat\w*|pipeline\w*|culture|organi[sz]ation\w*|teams?|programme|program|"
    r"platform|chaos|game days?|decompos\w*|microservices?|cell-based|shard\w*|"
    r"continuous\w*|machine learning|self-healing|infrastructure as code)\b",
    re.I,
)
_QUICK = re.compile(
    r"\b(?:document\w*|defin\w*|tag\w*|enabl\w*|configur\w*|polic\w*|alarm\w*|alert\w*|"
    r"review\w*|list\w*|record\w*|set|turn on|owner\w*|classif\w*|runbooks?|playbooks?|"
    r"dashboards?|budget\w*|retention|lifecycle|rotation|mfa)\b",
    re.I,
)
_RISK = {"HIGH": 0, "MEDIUM": 1, "LOW": 2, "NONE": 3, None: 4}


def effort_of(note: GuidanceNote | None, title: str) -> str:
    """``quick win`` or ``major initiative`` from the guidance words (major words win ties)."""
    text = f"{title}. {note.good if note else ''}"
    major = len(_MAJOR.findall(text))
    quick = len(_QUICK.findall(text))
    return MAJOR if major >= max(1, quick) else QUICK_WIN


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    acronym = len(text) > 1 and text[1].isupper()
    return text if acronym else text[:1].lower() + text[1:]


def _short(text: str, limit: int = 90) -> str:
    short = " ".join(text.split())
    return short if len(short) <= limit else short[: limit - 3].rstrip() + "..."


def _names(names: list[str] | tuple[str, ...]) -> str:
    names = list(dict.fromkeys(names))[:3]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"


def gap_sentence(
    title: str,
    note: GuidanceNote | None,
    verdict: str,
    quote: tuple[int, str] | None,
    gaps: DocumentGaps | None = None,
) -> str:
    """One sentence about this document: what it has on this practice and what it lacks.

    ``quote`` is the practice's own partial evidence (page, verbatim text), used when the
    verdict is ``partly`` and the line is on the practice's topic. ``gaps`` is the document read
    for the plan (:class:`reviews.gaps.DocumentGaps`): the sentence quotes the statement it finds
    relevant to this practice (naming the practice's concepts the line matches), or, when none
    is, says which of the practice's signals the document does not mention. Without ``gaps``
    the sentence claims nothing about the document beyond the verdict. The text carries quotes
    and guidance only, never scores.
    """
    want = _lower_first(note.good) if note else _lower_first(title)
    if quote is not None and verdict == "partly":
        page, text = quote
        stmt = gaps.statement_of(page, text) if gaps is not None else None
        if gaps is None or note is None or stmt is None or gaps.on_topic(stmt, note):
            return (
                f"The document shows \u201c{_short(text)}\u201d (p. {page}) but does not state "
                f"that {want}."
            )
    if gaps is None or note is None:
        return f"The review found nothing in the document that shows that {want}."
    found = gaps.relevant(note)
    if found is not None:
        stmt = found.statement
        if found.names:
            return (
                f"The document names {_names(found.names)} in \u201c{_short(stmt.display)}\u201d "
                f"(p. {stmt.page}) but does not show that {want}."
            )
        return (
            f"The closest the document comes is \u201c{_short(stmt.display)}\u201d "
            f"(p. {stmt.page}), which does not show that {want}."
        )
    absent = gaps.absent_signals(note)
    if absent:
        return f"The document does not mention {_either(absent)}, so it does not show that {want}."
    return f"No statement of the document speaks to this, so it does not show that {want}."


def _share(qa: QuestionAssessment, verdicts: tuple[str, ...]) -> float:
    bps = [bp for bp in qa.best_practices if bp.status != "NOT_APPLICABLE"]
    if not bps:
        return 0.0
    return sum(bp.verdict in verdicts for bp in bps) / len(bps)


def relevance(questions: Iterable[QuestionAssessment]) -> dict[str, tuple[float, float]]:
    """Question id -> (pillar share addressed, question share touched), each 0-1.

    The pillar share is the mean over its questions of the share of practices addressed; the
    question share counts practices addressed or partly.
    """
    qs = list(questions)
    by_pillar: dict[str, list[float]] = {}
    for qa in qs:
        by_pillar.setdefault(qa.pillar_id, []).append(_share(qa, ("addressed",)))
    pillar = {p: sum(v) / len(v) for p, v in by_pillar.items()}
    return {
        qa.question_id: (pillar[qa.pillar_id], _share(qa, ("addressed", "partly"))) for qa in qs
    }


def order_plan(
    questions: list[QuestionAssessment], lens: Lens, notes: dict[str, GuidanceNote] | None = None
) -> list[Recommendation]:
    """The whole plan, ordered (see the module docstring), priorities renumbered 1..n."""
    notes = notes or {}
    rel = relevance(questions)
    items: list[tuple[tuple[float, ...], Recommendation]] = []
    for qa in questions:
        for rec in qa.recommendations:
            bp = qa.best_practice(rec.choice_id)
            if bp.status != "UNSELECTED":
                continue
            try:
                url = rec.url or lens.choice(qa.question_id, rec.choice_id).url
            except LensError:
                url = None
            effort = rec.effort or effort_of(notes.get(rec.choice_id), rec.title)
            rec = rec.model_copy(
                update={
                    "url": url,
                    "effort": effort,
                    "pillar_id": qa.pillar_id,
                    "number": qa.number,
                }
            )
            pillar_share, question_share = rel.get(qa.question_id, (0.0, 0.0))
            key = (
                float(_RISK.get(rec.bp_risk, 4)),
                -round(pillar_share, 3),
                -round(question_share, 1),
                0.0 if effort == QUICK_WIN else 1.0,
                0.0 if rec.verdict == "partly" else 1.0,
            )
            items.append((key, rec))
    items.sort(key=lambda kr: kr[0])
    return [rec.model_copy(update={"priority": n}) for n, (_, rec) in enumerate(items, start=1)]
