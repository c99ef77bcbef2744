"""Assessment: the shared part of every assessor (units of work, guidance, risk, recommendations).

An assessment runs in **units**: in ``quick`` mode one unit per pillar (one request to the
model for all its questions), in ``deep`` mode one unit per question. Before a unit is
assessed, the guidance of each of its questions is retrieved with a metadata filter on
``lens`` and ``question_id`` (:func:`retrieve_guidance`), the same way for the local BM25
retriever and a Bedrock Knowledge Base.

Every assessor (:class:`Assessor`) returns, per question, one verdict per best practice
(``addressed`` / ``partly`` / ``not_addressed`` / ``insufficient_information``), evidence quotes
that :func:`verify_quotes` has checked to be verbatim on their page, and the guidance it relied
on. :func:`finish_question` then derives what the WA Tool needs, the same way for all
assessors:

- choice status: ``SELECTED`` for ``addressed``; ``NOT_APPLICABLE`` (with a reason) when the
  assessor says so; else ``UNSELECTED``;
- question risk (:func:`question_risk`): ``NOT_APPLICABLE`` when every best practice is;
  ``UNANSWERED`` only when no best practice was assessed at all; otherwise the lens's risk
  rules evaluated on the selected choices, not-applicable choices counting as satisfied, and
  the question's "None of these" choice when nothing is (``HIGH_RISK`` -> ``HIGH``,
  ``MEDIUM_RISK`` -> ``MEDIUM``, ``NO_RISK`` -> ``NONE``);
- recommendations: every best practice not addressed, highest lens risk first, then
  ``not_addressed`` before ``partly`` before ``insufficient_information``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lenses.catalog import GuidanceNote, Lens, Question
from reviews.evidence import locate_quote
from reviews.models import (
    BestPracticeAssessment,
    ChoiceReason,
    DocumentText,
    Mode,
    QuestionAssessment,
    Quote,
    Recommendation,
    Risk,
    Verdict,
)
from reviews.plan import effort_of, gap_sentence

if TYPE_CHECKING:  # the document reader loads numpy and the stemmer: only where it is used
    from reviews.gaps import DocumentGaps

NOT_ASSESSED = "not assessed"
_RULE_RISK: dict[str, Risk] = {"HIGH_RISK": "HIGH", "MEDIUM_RISK": "MEDIUM", "NO_RISK": "NONE"}
_RISK_ORDER: dict[str | None, int] = {"HIGH": 0, "MEDIUM": 1, "LOW": 2, "NONE": 3, None: 4}
_VERDICT_ORDER: dict[Verdict, int] = {
    "not_addressed": 0,
    "partly": 1,
    "insufficient_information": 2,
    "addressed": 3,
}


@dataclass
class QuestionGuidance:
    """Guidance retrieved for one question: notes best first, with retrieval scores.

    ``passages`` are the retriever's raw results (text, score, metadata) for model prompts;
    ``notes`` maps choice id -> the guidance note of that best practice (retrieved, or taken from
    the catalog when retrieval missed it, in which case ``missing`` names it).
    """

    question_id: str
    passages: list[Any] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)
    notes: dict[str, GuidanceNote] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


@dataclass
class Unit:
    """One request's worth of work: a pillar (quick mode) or a question (deep mode)."""

    key: str
    pillar_id: str
    questions: list[Question]


@dataclass
class BestPracticeDraft:
    """What an assessor decides for one best practice, before statuses and risk are derived."""

    choice_id: str
    verdict: Verdict
    evidence: list[Quote] = field(default_factory=list)
    guidance: list[str] = field(default_factory=list)
    rationale: str = ""
    not_applicable: ChoiceReason | None = None
    score: float | None = None


@dataclass
class QuestionDraft:
    """An assessor's answer for one question."""

    question_id: str
    best_practices: list[BestPracticeDraft]
    summary: str = ""
    warnings: list[str] = field(default_factory=list)


def make_units(
    lens: Lens, mode: Mode, pillars: list[str] | None = None, skip: set[str] | None = None
) -> list[Unit]:
    """Units of work in lens order; questions in ``skip`` (already checkpointed) are left out.

    Raises:
        LensError: an unknown pillar id.
    """
    skip = skip or set()
    units: list[Unit] = []
    lens.questions(pillars)  # validates the pillar ids
    wanted = pillars or [p.id for p in lens.pillars]
    for pillar_id in [p.id for p in lens.pillars if p.id in wanted]:
        questions = [q for q in lens.questions([pillar_id]) if q.id not in skip]
        if not questions:
            continue
        if mode == "quick":
            units.append(Unit(key=pillar_id, pillar_id=pillar_id, questions=questions))
        else:
            units.extend(Unit(key=q.id, pillar_id=pillar_id, questions=[q]) for q in questions)
    return units


def question_filter(lens_alias: str, question_id: str) -> Any:
    """The metadata filter ``lens == alias AND question_id == id`` for the retriever."""
    from reviews.retrieve import metadata_filter

    return metadata_filter(lens=lens_alias, question_ids=question_id)


def retrieve_guidance(
    retriever: Any,
    lens: Lens,
    question: Question,
    query: str,
    catalog: dict[str, GuidanceNote],
) -> QuestionGuidance:
    """Retrieve the guidance notes of ``question`` (filter: lens + question id), best first.

    ``k`` is the number of best practices of the question, so every note can come back; notes
    the retriever did not return are taken from ``catalog`` and listed in ``missing``.
    """
    practices = question.best_practices
    passages = retriever.retrieve(
        query, filter=question_filter(lens.alias, question.id), k=len(practices)
    )
    result = QuestionGuidance(question_id=question.id, passages=list(passages))
    for passage in passages:
        meta = getattr(passage, "metadata", {}) or {}
        choice_id = meta.get("choice_id")
        if meta.get("question_id") not in (None, question.id):
            continue  # the filter should make this impossible; never trust it blindly
        if isinstance(choice_id, str) and choice_id not in result.ranked:
            result.ranked.append(choice_id)
    for choice in practices:
        note = catalog.get(choice.id)
        if note is not None:
            result.notes[choice.id] = note
        if choice.id not in result.ranked:
            result.missing.append(choice.id)
    return result


def verify_quotes(doc: DocumentText, quotes: list[Quote]) -> tuple[list[Quote], list[str]]:
    """Keep the quotes found verbatim on their page (whitespace-tolerant, page text returned).

    Returns the verified quotes (text replaced by the page's own span) and one warning per
    dropped quote.
    """
    kept: list[Quote] = []
    dropped: list[str] = []
    for quote in quotes:
        try:
            page = doc.page(quote.page)
        except KeyError:
            dropped.append(f"quote on page {quote.page}: no such page")
            continue
        span = locate_quote(page.text, quote.text)
        if span is None:
            dropped.append(f"quote not found on page {quote.page}: {quote.text[:80]!r}")
            continue
        if all(not (k.page == quote.page and k.text == span) for k in kept):
            kept.append(Quote(page=quote.page, text=span))
    return kept, dropped


def question_risk(question: Question, bps: list[BestPracticeAssessment]) -> Risk:
    """The WA risk of a question from its best-practice statuses (see the module docstring)."""
    practices = [bp for bp in bps if bp.choice_id in {c.id for c in question.best_practices}]
    if practices and all(bp.status == "NOT_APPLICABLE" for bp in practices):
        return "NOT_APPLICABLE"
    applicable = [bp for bp in practices if bp.status != "NOT_APPLICABLE"]
    if not applicable or all(bp.rationale == NOT_ASSESSED for bp in applicable):
        return "UNANSWERED"
    return _RULE_RISK[question.risk(satisfied_choices(question, bps))]


def satisfied_choices(question: Question, bps: list[BestPracticeAssessment]) -> set[str]:
    """The choice ids the lens risk rules are evaluated on: selected and not-applicable
    practices, or the question's "None of these" choice when there are none."""
    satisfied = {bp.choice_id for bp in bps if bp.status in ("SELECTED", "NOT_APPLICABLE")}
    if not satisfied and question.none_choice is not None:
        satisfied = {question.none_choice.id}  # "None of these": the lens rules give HIGH
    return satisfied


def _recommendation_text(
    bp: BestPracticeAssessment, note: GuidanceNote | None, gaps: DocumentGaps | None
) -> str:
    quote = (bp.evidence[0].page, bp.evidence[0].text) if bp.evidence else None
    return gap_sentence(bp.title, note, bp.verdict, quote, gaps)


def finish_question(
    question: Question,
    draft: QuestionDraft,
    *,
    assessor: str,
    guidance: QuestionGuidance,
    gaps: DocumentGaps | None = None,
) -> QuestionAssessment:
    """Turn an assessor's draft into a checked :class:`QuestionAssessment`.

    ``gaps`` is the document read for the improvement plan's sentences
    (:class:`reviews.gaps.DocumentGaps`); without it a recommendation says only what the
    document lacks.

    Best practices the draft left out get ``insufficient_information``; choice ids not in the
    question must have been rejected by the assessor already (this function ignores none).
    """
    by_id = {bp.choice_id: bp for bp in draft.best_practices}
    bps: list[BestPracticeAssessment] = []
    for choice in question.best_practices:
        d = by_id.get(choice.id) or BestPracticeDraft(
            choice_id=choice.id,
            verdict="insufficient_information",
            rationale=NOT_ASSESSED,
        )
        if d.not_applicable is not None:
            status: Any = "NOT_APPLICABLE"
        elif d.verdict == "addressed":
            status = "SELECTED"
        else:
            status = "UNSELECTED"
        bps.append(
            BestPracticeAssessment(
                choice_id=choice.id,
                title=choice.title,
                bp_id=choice.bp_id,
                bp_risk=choice.risk,
                verdict=d.verdict,
                status=status,
                reason=d.not_applicable,
                evidence=d.evidence,
                guidance=d.guidance,
                rationale=d.rationale,
                score=d.score,
            )
        )
    risk = question_risk(question, bps)
    recs: list[Recommendation] = []
    todo = [bp for bp in bps if bp.status == "UNSELECTED"]
    todo.sort(key=lambda bp: (_RISK_ORDER.get(bp.bp_risk, 4), _VERDICT_ORDER[bp.verdict]))
    for n, bp in enumerate(todo, start=1):
        note = guidance.notes.get(bp.choice_id)
        recs.append(
            Recommendation(
                question_id=question.id,
                choice_id=bp.choice_id,
                bp_id=bp.bp_id,
                title=bp.title,
                bp_risk=bp.bp_risk,
                verdict=bp.verdict,
                priority=n,
                text=_recommendation_text(bp, note, gaps),
                url=question_choice_url(question, bp.choice_id),
                effort=effort_of(note, bp.title),  # type: ignore[arg-type]
                pillar_id=question.pillar_id,
                number=question.number,
            )
        )
    warnings = list(draft.warnings)
    if guidance.missing:
        warnings.append(
            "guidance not returned by the retriever (catalog note used): "
            + ", ".join(guidance.missing)
        )
    return QuestionAssessment(
        question_id=question.id,
        number=question.number,
        pillar_id=question.pillar_id,
        title=question.title,
        best_practices=bps,
        risk=risk,
        summary=draft.summary,
        recommendations=recs,
        guidance_retrieved=guidance.ranked,
        assessor=assessor,
        warnings=warnings,
    )


def question_choice_url(question: Question, choice_id: str) -> str | None:
    """The AWS best-practice page of a choice (the lens's helpful-resource URL), if any."""
    return next((c.url for c in question.choices if c.id == choice_id), None)


class Assessor(ABC):
    """Assesses one unit (a pillar's questions, or one question) of a document.

    Implementations must be thread-safe: the runner calls :meth:`assess` from several threads.
    """

    name: str = "assessor"

    @abstractmethod
    def assess(
        self,
        doc: DocumentText,
        unit: Unit,
        guidance: dict[str, QuestionGuidance],
        mode: Mode,
    ) -> list[QuestionDraft]:
        """One draft per question of ``unit``.

        Raises:
            ThrottledError: still throttled after botocore's retries (the unit is not re-run).
            AssessmentError: the backend failed or returned an invalid answer.
        """

    def guidance_query(self, doc: DocumentText, question: Question) -> str:
        """The retrieval query for a question (default: its title and description)."""
        return f"{question.title} {question.description}".strip()

    def usage(self) -> dict[str, int]:
        """Model tokens used so far (name -> count); empty for assessors without a model."""
        return {}

    def for_review(self, nonce: str) -> Assessor:
        """The assessor to use for one review's requests; ``nonce`` is the review's secret
        untrusted-data tag nonce (:attr:`reviews.models.ReviewRecord.nonce`). Default: this
        assessor (it sends nothing to a model); a model assessor returns a view that wraps the
        document with ``nonce``, so every task of the review sends the same prefix."""
        return self
