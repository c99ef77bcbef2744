"""The typed values of the review service (:mod:`reviews.service`): its events, settings,
per-review options and the view models it returns (chat answer, summary).

Times are aware UTC datetimes; sizes in bytes; ``seconds`` in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from reviews.errors import ReviewError
from reviews.models import Citation, Mode, PillarSummary, ReviewState, Risk
from tools.models import Model

TOP_IMPROVEMENTS = 5

EventKind = Literal[
    "submitted",
    "state_changed",
    "extracting",
    "extracted",
    "assessment_started",
    "question_assessed",
    "throttled",
    "unit_failed",
    "assessment_finished",
    "report_written",
    "wa_workload",
    "wa_answer",
    "wa_milestone",
    "wa_report",
]


class ReviewEvent(Model):
    """One typed review event; every renderer (terminal, Slack) consumes these.

    ``kind``: submitted; state_changed (``state``); extracting (``text``: document and
    extractor) / extracted (``text``: the document name, ``data``: ``pages``, ``words``, ``ref``
    where the text is stored); assessment_started (``done``
    of ``total`` questions already checkpointed, ``data``: ``units``, ``mode``, ``workers``);
    question_assessed (``question_id``, ``number``, ``risk``, ``done`` of ``total``);
    throttled (``data``: ``unit``, ``error``: a unit still throttled after botocore's retries; no
    new unit starts); unit_failed (``text``);
    assessment_finished (``data``: ``seconds``, ``requests`` and, for a model assessor, the
    tokens of this run: ``input_tokens``, ``output_tokens``, ``cache_read_tokens``,
    ``cache_write_tokens``); report_written (``text``: the
    path or URI, ``data``: ``format``); wa_workload / wa_answer / wa_milestone / wa_report:
    WA Tool apply progress (``data`` as the WA Tool client reports it).
    """

    kind: EventKind
    review_id: str
    state: ReviewState | None = None
    question_id: str | None = None
    number: str | None = None
    risk: Risk | None = None
    done: int | None = None
    total: int | None = None
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


Listener = Callable[[ReviewEvent], None]


class ReviewSettings(Model):
    """Which world the service runs in (the embedded default, or AWS parts), and its limits.

    ``table``: a DynamoDB table (else ``RCA_REVIEW_TABLE``, else SQLite at ``db_path`` or the
    default path); ``bucket``: S3 bucket for Textract input and large extracted texts;
    ``knowledge_base_id``: Bedrock KB for guidance (else local BM25); ``chat``: the chat
    responder; ``reports_uri``: where :meth:`ReviewService.finalize` writes the reports (a
    directory or ``s3://bucket/prefix/``; None = nowhere); ``max_workers``: assessment requests
    in parallel (1-16).
    """

    lens: str = "wellarchitected"
    assessor: Literal["heuristic", "bedrock"] = "heuristic"
    extractor: Literal["pdfplumber", "textract"] = "pdfplumber"
    chat: Literal["heuristic", "bedrock"] = "heuristic"
    model_id: str | None = None
    knowledge_base_id: str | None = None
    bucket: str | None = None
    table: str | None = None
    db_path: str | None = None
    region: str | None = None
    profile: str | None = None
    max_workers: int = Field(default=4, ge=1, le=16)
    reports_uri: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ReviewSettings:
        """Settings from ``RCA_REVIEW_TABLE``, ``RCA_REVIEW_BUCKET``, ``RCA_REVIEW_KB_ID``,
        ``RCA_REVIEW_ASSESSOR``, ``RCA_REVIEW_EXTRACTOR``, ``RCA_MODEL_ID``,
        ``RCA_REVIEW_REPORTS`` and ``AWS_REGION`` (a Lambda task's configuration); explicit
        ``overrides`` win."""
        env = os.environ if environ is None else environ
        names = {
            "table": "RCA_REVIEW_TABLE",
            "bucket": "RCA_REVIEW_BUCKET",
            "knowledge_base_id": "RCA_REVIEW_KB_ID",
            "assessor": "RCA_REVIEW_ASSESSOR",
            "extractor": "RCA_REVIEW_EXTRACTOR",
            "model_id": "RCA_MODEL_ID",
            "reports_uri": "RCA_REVIEW_REPORTS",
            "region": "AWS_REGION",
        }
        data: dict[str, Any] = {k: env[v] for k, v in names.items() if env.get(v)}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)


class ReviewOptions(Model):
    """Per-review options of :meth:`ReviewService.submit`: ``mode`` (quick: one request per
    pillar; deep: one per question) and ``pillars`` (pillar ids; empty = every pillar)."""

    mode: Mode = "quick"
    pillars: list[str] = Field(default_factory=list)


class ChatAnswer(Model):
    """The service's answer to one chat question: ``text`` with its ``citations`` (pages,
    questions, best practices, guidance notes), ``answered`` False when the review cannot
    answer it, and ``turn`` the 1-based number of the stored question turn (the answer is
    ``turn + 1``)."""

    review_id: str
    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    answered: bool = True
    turn: int
    at: datetime = Field(description="when the answer was made (UTC)")


class Improvement(Model):
    """One entry of the improvement plan as :meth:`ReviewService.summary` shows it."""

    priority: int
    question_id: str
    number: str
    title: str
    bp_risk: str | None = None
    verdict: str


class ReviewSummary(Model):
    """What a chat surface shows when a review finishes: risk per pillar, totals and the top
    improvements (at most :data:`TOP_IMPROVEMENTS`)."""

    review_id: str
    document_name: str
    state: ReviewState
    mode: Mode
    assessor: str
    complete: bool
    questions: int
    risk_counts: dict[Risk, int]
    pillars: list[PillarSummary]
    improvements: list[Improvement]


class ConfirmationRequired(ReviewError):
    """:meth:`ReviewService.apply` was called without ``confirm=True``: nothing was written."""
