"""Domain models of a Well-Architected review: document text, assessments, review records.

Shapes at a glance:

- :class:`DocumentText` ``pages[{number, text, tables: list[table[row[cell str]]], headings}]``:
  what an extractor produced; page numbers are 1-based PDF page numbers, ``text`` is the page's
  text in reading order (tables included as text lines), ``tables`` keeps every table as rows of
  cells, ``headings`` the page's heading lines with their level (when known).
- :class:`QuestionAssessment`: one WA question with one :class:`BestPracticeAssessment` per
  choice (best practice): verdict, WA Tool choice status, evidence quotes (verbatim substrings of
  their page's text), cited guidance (choice ids of retrieved guidance notes), rationale.
- :class:`Assessment`: all questions of a review plus per-pillar risk counts.
- :class:`ReviewRecord`: the review's state machine and where its artefacts live.

Risk values are the WA Tool's (``HIGH``, ``MEDIUM``, ``NONE``, ``NOT_APPLICABLE``,
``UNANSWERED``; wellarchitected API ``Risk`` enum). Times are aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, model_validator

from tools.models import Model

Verdict = Literal["addressed", "partly", "not_addressed", "insufficient_information"]
Risk = Literal["HIGH", "MEDIUM", "NONE", "NOT_APPLICABLE", "UNANSWERED"]
BpRisk = Literal["HIGH", "MEDIUM", "LOW", "NONE"]
ChoiceStatus = Literal["SELECTED", "UNSELECTED", "NOT_APPLICABLE"]
ChoiceReason = Literal[
    "OUT_OF_SCOPE", "BUSINESS_PRIORITIES", "ARCHITECTURE_CONSTRAINTS", "OTHER", "NONE"
]
Mode = Literal["quick", "deep"]
ExtractorName = Literal["pdfplumber", "textract"]
ReviewState = Literal["submitted", "extracting", "assessing", "pre-filling", "completed", "failed"]

RISKS: tuple[Risk, ...] = ("HIGH", "MEDIUM", "NONE", "NOT_APPLICABLE", "UNANSWERED")
VERDICTS: tuple[Verdict, ...] = ("addressed", "partly", "not_addressed", "insufficient_information")

#: Allowed state transitions; ``failed`` is reachable from every state and a failed or completed
#: review can be resumed (re-extracted, re-assessed or pre-filled again).
TRANSITIONS: dict[ReviewState, frozenset[ReviewState]] = {
    "submitted": frozenset({"extracting", "failed"}),
    "extracting": frozenset({"assessing", "failed"}),
    "assessing": frozenset({"completed", "pre-filling", "failed"}),
    "pre-filling": frozenset({"completed", "failed"}),
    "completed": frozenset({"pre-filling", "assessing", "failed"}),
    "failed": frozenset({"extracting", "assessing", "pre-filling", "failed"}),
}


def utcnow() -> datetime:
    """The current time, aware UTC, second precision."""
    return datetime.now(UTC).replace(microsecond=0)


class Heading(Model):
    """A heading line of a page: its ``text`` (as printed in the page text) and ``level``
    (1 = outermost), read from the document's typography (:mod:`reviews.extract`)."""

    text: str
    level: int = Field(ge=1)


class PageText(Model):
    """One page of extracted text: 1-based number, text in reading order, tables as cell grids,
    and the page's heading lines when the extractor knows the document's heading structure
    (empty: unknown, headings are then recognised from the text, :mod:`reviews.document`)."""

    number: int = Field(ge=1)
    text: str = ""
    tables: list[list[list[str]]] = Field(default_factory=list)
    headings: list[Heading] = Field(default_factory=list)


class DocumentText(Model):
    """A whole extracted document.

    ``sha256`` is the hex digest of the source file's bytes (the review's identity of the
    document); ``warnings`` carries extractor notices (Textract PARTIAL_SUCCESS pages, ...).
    """

    source: str = Field(description="file name or s3:// URI of the document")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    extractor: ExtractorName
    pages: list[PageText]
    title: str | None = None
    warnings: list[str] = Field(default_factory=list)

    def page(self, number: int) -> PageText:
        """The page with this 1-based number.

        Raises:
            KeyError: no such page.
        """
        for page in self.pages:
            if page.number == number:
                return page
        raise KeyError(number)

    @property
    def chars(self) -> int:
        """Characters of text over all pages."""
        return sum(len(p.text) for p in self.pages)

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the whole extraction (extractor, pages' text, tables and
        headings). Unlike :attr:`sha256` (the file's digest), one file read by two extractors,
        or re-extracted, gives two fingerprints: the key for anything built from the text."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @property
    def words(self) -> int:
        """Whitespace-separated words over all pages."""
        return sum(len(p.text.split()) for p in self.pages)


class Quote(Model):
    """Evidence: a verbatim substring of the text of page ``page`` of the document."""

    page: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=1200)


class BestPracticeAssessment(Model):
    """The verdict on one best practice (a WA Tool choice) of a question.

    ``status`` is what the WA Tool receives: ``SELECTED`` only for ``addressed``;
    ``NOT_APPLICABLE`` comes with a ``reason`` (WA ``ChoiceReason``) and a quote when the document
    puts the practice out of scope. ``guidance`` lists the choice ids of the guidance notes the
    verdict relied on (retrieved with a lens + question metadata filter). ``score`` is the
    heuristic evidence score (``None`` for model assessors).
    """

    choice_id: str
    title: str
    bp_id: str | None = None
    bp_risk: BpRisk | None = Field(default=None, description="lens risk of not following it")
    verdict: Verdict
    status: ChoiceStatus
    reason: ChoiceReason | None = None
    evidence: list[Quote] = Field(default_factory=list)
    guidance: list[str] = Field(default_factory=list)
    rationale: str = ""
    score: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BestPracticeAssessment:
        if self.status == "SELECTED" and self.verdict != "addressed":
            raise ValueError(f"{self.choice_id}: SELECTED requires verdict 'addressed'")
        if self.status == "NOT_APPLICABLE" and self.reason is None:
            raise ValueError(f"{self.choice_id}: NOT_APPLICABLE requires a reason")
        return self


class Recommendation(Model):
    """One improvement: a best practice that is not addressed, by priority (1 = first).

    See :mod:`reviews.plan` for the order, the effort classes and the sentence in ``text``.
    """

    question_id: str
    choice_id: str
    bp_id: str | None = None
    title: str
    bp_risk: BpRisk | None = None
    verdict: Verdict
    priority: int = Field(ge=1)
    text: str = Field(description="one sentence: what this document shows and what it lacks")
    url: str | None = Field(default=None, description="the AWS best-practice page")
    effort: Literal["quick win", "major initiative"] | None = None
    pillar_id: str | None = None
    number: str | None = Field(default=None, description="question number, e.g. REL 9")


class QuestionAssessment(Model):
    """One question of the lens, assessed.

    ``selected_choices`` / ``unselected_choices`` / ``not_applicable_choices`` partition the
    choice ids by status (checked); ``risk`` follows the lens risk rules (see
    :func:`reviews.assess.question_risk`); ``guidance_retrieved`` lists the choice ids of every
    note retrieved for the question, best first.
    """

    question_id: str
    number: str
    pillar_id: str
    title: str
    best_practices: list[BestPracticeAssessment]
    selected_choices: list[str] = Field(default_factory=list)
    unselected_choices: list[str] = Field(default_factory=list)
    not_applicable_choices: list[str] = Field(default_factory=list)
    risk: Risk
    summary: str = ""
    recommendations: list[Recommendation] = Field(default_factory=list)
    guidance_retrieved: list[str] = Field(default_factory=list)
    assessor: str
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _partition(cls, data: object) -> object:
        if isinstance(data, dict) and "best_practices" in data:
            bps = [bp if isinstance(bp, dict) else bp.model_dump() for bp in data["best_practices"]]
            data = dict(data)
            data.setdefault(
                "selected_choices", [b["choice_id"] for b in bps if b["status"] == "SELECTED"]
            )
            data.setdefault(
                "unselected_choices", [b["choice_id"] for b in bps if b["status"] == "UNSELECTED"]
            )
            data.setdefault(
                "not_applicable_choices",
                [b["choice_id"] for b in bps if b["status"] == "NOT_APPLICABLE"],
            )
        return data

    @model_validator(mode="after")
    def _check_partition(self) -> QuestionAssessment:
        by_status = {
            "SELECTED": self.selected_choices,
            "UNSELECTED": self.unselected_choices,
            "NOT_APPLICABLE": self.not_applicable_choices,
        }
        for status, ids in by_status.items():
            expected = [bp.choice_id for bp in self.best_practices if bp.status == status]
            if sorted(ids) != sorted(expected):
                raise ValueError(f"{self.question_id}: {status} choices do not match the verdicts")
        return self

    def best_practice(self, choice_id: str) -> BestPracticeAssessment:
        """The assessment of one choice.

        Raises:
            KeyError: the question has no such choice.
        """
        for bp in self.best_practices:
            if bp.choice_id == choice_id:
                return bp
        raise KeyError(choice_id)

    def verdicts(self) -> Counter[str]:
        """How many best practices got each verdict."""
        return Counter(bp.verdict for bp in self.best_practices)


class PillarSummary(Model):
    """Risk counts of one pillar: number of questions per WA risk value."""

    pillar_id: str
    name: str
    questions: int
    risk_counts: dict[Risk, int]


class DesignFact(Model):
    """A key design fact read from the document (``name`` e.g. ``rpo``), with page and sentence."""

    name: str
    label: str
    value: str
    page: int = Field(ge=1)
    quote: str


class Assessment(Model):
    """A finished (or partial) assessment of a document against a lens.

    ``workload`` is the document's own first sentence about the workload and ``facts`` its key
    design facts (:mod:`reviews.document`), for the executive summary and the chat.
    """

    review_id: str
    lens_alias: str
    lens_name: str
    lens_version: str | None = None
    document: str
    mode: Mode
    assessor: str
    pillars: list[PillarSummary]
    questions: list[QuestionAssessment]
    recommendations: list[Recommendation] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    complete: bool = True
    workload: str = ""
    facts: list[DesignFact] = Field(default_factory=list)

    def risk_counts(self) -> dict[Risk, int]:
        """Questions per risk value over every pillar."""
        total: Counter[str] = Counter(q.risk for q in self.questions)
        return {risk: total.get(risk, 0) for risk in RISKS}

    def question(self, question_id: str) -> QuestionAssessment:
        """The assessment of one question.

        Raises:
            KeyError: the question was not assessed.
        """
        for qa in self.questions:
            if qa.question_id == question_id:
                return qa
        raise KeyError(question_id)


class ReviewRecord(Model):
    """A review in the store: its inputs, its state and where its artefacts are.

    ``text_ref`` says where the extracted text lives (``inline``, a file path next to the SQLite
    database, or an ``s3://`` URI); ``error`` is the one-line reason of a ``failed`` state and
    ``error_kind`` the failing step or document problem (``encrypted``, ``no_text``, ...).

    ``nonce`` is the review's secret for the untrusted-data tags of its model requests
    (:func:`agent.untrusted.new_nonce`, drawn once when the review is created, never derived from
    the id): every task and resume of the review wraps the document with it, so all its requests
    share one byte-identical, cacheable prefix. It is stored with the record by the store but
    left out of every dump and repr (``--json`` output, logs, reports). A record stored before
    reviews had one loads with ``None``; :meth:`reviews.service.ReviewService.review_nonce` then
    draws a new one and stores it.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{4,64}$")
    document: str
    document_name: str
    sha256: str | None = None
    lens_alias: str = "wellarchitected"
    pillars: list[str] = Field(default_factory=list, description="empty = every pillar")
    mode: Mode = "quick"
    assessor: str = "heuristic"
    extractor: ExtractorName = "pdfplumber"
    state: ReviewState = "submitted"
    error: str | None = None
    error_kind: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    pages: int | None = None
    text_ref: str | None = None
    questions_total: int = 0
    questions_done: int = 0
    workload_id: str | None = None
    milestone_number: int | None = None
    version: int = Field(default=0, ge=0, description="bumped by every write (version check)")
    nonce: str | None = Field(
        default=None,
        exclude=True,
        repr=False,
        pattern=r"^[0-9a-f]{16,64}$",
        description="the review's untrusted-data tag nonce (secret: never dumped)",
    )


class Citation(Model):
    """What a chat answer relied on: a page, a question, a best practice or a guidance note."""

    kind: Literal["page", "question", "choice", "guidance"]
    ref: str = Field(description="page number, question id, or choice id")
    label: str = ""


class ChatTurn(Model):
    """One turn of a review chat."""

    role: Literal["user", "assistant"]
    text: str
    citations: list[Citation] = Field(default_factory=list)
    answered: bool = True
    at: datetime = Field(default_factory=utcnow)
