"""The review pipeline: submit -> extract -> assess -> (pre-fill) -> completed, with a record.

:class:`Reviewer` drives one review through its states in the store
(``submitted`` -> ``extracting`` -> ``assessing`` -> ``completed``; ``pre-filling`` while the WA
Tool is written; ``failed`` with the error on any :class:`~tools.errors.RcaError`). A resumed
review reuses the stored extracted text and every checkpointed question.

:func:`build_reviewer` is the one factory the CLI uses: it picks the extractor (pdfplumber or
Textract), the assessor (heuristic or Bedrock), the retriever (local BM25 or a Bedrock
Knowledge Base) and the store (SQLite or DynamoDB) from explicit options.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lenses.catalog import GuidanceNote, Lens, load_guidance, load_lens
from reviews.assess import Assessor
from reviews.errors import DocumentError, ReviewError
from reviews.extract import Extractor, PdfPlumberExtractor
from reviews.models import Assessment, DocumentText, Mode, ReviewRecord
from reviews.runner import Progress, ReviewRunner, assemble
from reviews.store import ReviewStore
from tools.errors import RcaError
from tools.interrupts import shield


def new_review_id() -> str:
    """A sortable, unique review id: ``YYYYMMDD-HHMMSS-xxxxxx`` (UTC, 24 random bits)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class Reviewer:
    """Runs reviews end to end over one store (see the module docstring)."""

    def __init__(
        self,
        store: ReviewStore,
        extractor: Extractor,
        assessor: Assessor,
        retriever: Any,
        lens: Lens,
        notes: list[GuidanceNote],
        *,
        max_workers: int = 4,
        progress: Progress | None = None,
        runner_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.extractor = extractor
        self.assessor = assessor
        self.retriever = retriever
        self.lens = lens
        self.notes = notes
        self.max_workers = max_workers
        self.progress = progress or (lambda event, payload: None)
        self.runner_options = runner_options or {}

    def submit(
        self,
        document: Path,
        *,
        mode: Mode = "quick",
        pillars: list[str] | None = None,
        review_id: str | None = None,
    ) -> ReviewRecord:
        """Create the review record (state ``submitted``).

        Raises:
            LensError: an unknown pillar id.
        """
        self.lens.questions(pillars)  # validates pillar ids before anything is stored
        record = ReviewRecord(
            id=review_id or new_review_id(),
            document=str(document),
            document_name=document.name,
            lens_alias=self.lens.alias,
            pillars=list(pillars or []),
            mode=mode,
            assessor=self.assessor.name,
            extractor=self.extractor.name,
            questions_total=len(self.lens.questions(pillars)),
        )
        return self.store.create(record)

    def _fail(self, review_id: str, exc: BaseException, step: str) -> None:
        kind = exc.kind if isinstance(exc, DocumentError) else step
        message = str(exc) or type(exc).__name__
        # the original error matters more than bookkeeping; a second Ctrl-C waits for the write
        with shield(), contextlib.suppress(RcaError):
            self.store.set_state(review_id, "failed", error=message, error_kind=kind)

    def document(self, record: ReviewRecord) -> DocumentText:
        """The extracted text: the stored one, else extract now (state ``extracting``)."""
        if record.text_ref:
            return self.store.load_document(record.id)
        self.store.set_state(record.id, "extracting")
        self.progress("extracting", {"document": record.document, "extractor": self.extractor.name})
        try:
            doc = self.extractor.extract(Path(record.document))
            ref = self.store.save_document(record.id, doc)
        except RcaError as exc:
            self._fail(record.id, exc, "extracting")
            raise
        self.store.update(record.id, text_ref=ref, pages=len(doc.pages), sha256=doc.sha256)
        self.progress("extracted", {"pages": len(doc.pages), "words": doc.words, "ref": ref})
        return doc

    def run(self, review_id: str) -> Assessment:
        """Extract (unless stored) and assess (unless checkpointed); mark ``completed``.

        Raises:
            DocumentError: bad input; the record is ``failed`` with the reason.
            ReviewError: assessment failed; finished questions stay checkpointed (resume).
            KeyboardInterrupt: Ctrl-C or SIGTERM (:class:`tools.interrupts.Interrupted`) at any
                point; the record is ``failed`` with ``error_kind`` ``interrupted`` and a resume
                hint, never left ``extracting`` or ``assessing``.
        """
        record = self.store.get(review_id)
        try:
            doc = self.document(record)
            self.store.set_state(review_id, "assessing")
            runner = ReviewRunner(
                self.assessor,
                self.lens,
                self.retriever,
                self.notes,
                self.store,
                max_workers=self.max_workers,
                progress=self.progress,
                **self.runner_options,
            )
            try:
                assessment = runner.run(review_id, doc, record.mode, record.pillars or None)
            except RcaError as exc:
                self._fail(review_id, exc, "assessing")
                raise
            self.store.set_state(
                review_id, "completed", questions_done=len(assessment.questions)
            )
        except KeyboardInterrupt as exc:
            name = getattr(exc, "signal_name", "SIGINT")
            self._fail(
                review_id,
                ReviewError(
                    f"interrupted by {name}; `rca review --resume {review_id}` continues it"
                ),
                "interrupted",
            )
            raise
        return assessment

    def review(
        self, document: Path, *, mode: Mode = "quick", pillars: list[str] | None = None
    ) -> Assessment:
        """Submit and run a new review."""
        record = self.submit(document, mode=mode, pillars=pillars)
        self.progress("submitted", {"review_id": record.id})
        return self.run(record.id)


def load_assessment(store: ReviewStore, review_id: str, lens: Lens | None = None) -> Assessment:
    """The assessment of a stored review, assembled from its checkpoints (complete or not).

    Raises:
        ReviewNotFoundError: no such review.
        ReviewError: the review has no assessed question yet.
    """
    record = store.get(review_id)
    lens = lens or load_lens(record.lens_alias)
    questions = store.questions(review_id)
    if not questions:
        raise ReviewError(
            f"review {review_id} has no assessed question yet (state {record.state}"
            + (f": {record.error}" if record.error else "")
            + f"); run `rca review --resume {review_id}`"
        )
    assessor = questions[0].assessor
    return assemble(
        review_id,
        lens,
        questions,
        document=record.document,
        mode=record.mode,
        assessor=assessor,
        pillars=record.pillars or None,
    )


@dataclass
class ReviewOptions:
    """Explicit options of :func:`build_reviewer` (the CLI fills them from flags)."""

    lens: str = "wellarchitected"
    assessor: Literal["heuristic", "bedrock"] = "heuristic"
    extractor: Literal["pdfplumber", "textract"] = "pdfplumber"
    model_id: str | None = None
    knowledge_base_id: str | None = None
    bucket: str | None = None
    region: str | None = None
    profile: str | None = None
    max_workers: int = 4


def build_reviewer(
    options: ReviewOptions, store: ReviewStore, progress: Progress | None = None
) -> Reviewer:
    """The one factory: lens, guidance, retriever, extractor, assessor and runner settings.

    Raises:
        LensError: unknown lens; ReviewError: a missing AWS option (bucket, ...).
    """
    lens = load_lens(options.lens)
    notes = load_guidance(lens)
    session = None
    config = None
    if (
        options.assessor == "bedrock"
        or options.extractor == "textract"
        or options.knowledge_base_id
    ):
        import boto3
        from botocore.config import Config

        session = boto3.Session(profile_name=options.profile, region_name=options.region)
        config = Config(retries={"mode": "standard", "max_attempts": 3})
    retriever: Any
    if options.knowledge_base_id:
        from reviews.retrieve import BedrockKbRetriever

        retriever = BedrockKbRetriever(
            options.knowledge_base_id,
            client=session.client("bedrock-agent-runtime") if session else None,
            region=options.region,
        )
    else:
        from reviews.retrieve import LocalRetriever

        retriever = LocalRetriever(notes)
    extractor: Extractor
    if options.extractor == "textract":
        if not options.bucket:
            raise ReviewError(
                "--extractor textract needs --bucket (an S3 bucket Textract can read) or "
                "RCA_REVIEW_BUCKET"
            )
        from reviews.textract import TextractExtractor

        assert session is not None
        extractor = TextractExtractor(
            options.bucket, textract=session.client("textract"), s3=session.client("s3")
        )
    else:
        extractor = PdfPlumberExtractor()
    assessor: Assessor
    if options.assessor == "bedrock":
        from reviews.assessors.bedrock import DEFAULT_MODEL, BedrockAssessor

        assert session is not None
        assessor = BedrockAssessor(
            lens,
            options.model_id or DEFAULT_MODEL,
            client=session.client("bedrock-runtime", config=config),
            region=options.region,
        )
    else:
        from reviews.assessors.heuristic import HeuristicAssessor

        assessor = HeuristicAssessor()
    return Reviewer(
        store,
        extractor,
        assessor,
        retriever,
        lens,
        notes,
        max_workers=options.max_workers,
        progress=progress,
    )


def prefill(
    store: ReviewStore,
    review_id: str,
    plan: Any,
    lens: Lens,
    wa: Any,
    *,
    report_dir: Path | None = None,
    progress: Progress | None = None,
) -> Any:
    """Apply a WA Tool plan for a review (state ``pre-filling``, then ``completed``).

    ``plan`` is a :class:`~reviews.watool.WaPlan`, ``wa`` a :class:`~reviews.watool.WaToolClient`;
    returns the :class:`~reviews.watool.ApplyResult`. The caller has obtained consent.

    Raises:
        WaToolError: a call failed; the record is ``failed`` with the reason, and a re-run
            resumes (answers already equal are skipped).
    """
    from reviews.watool import apply_plan

    store.set_state(review_id, "pre-filling")
    try:
        result = apply_plan(plan, lens, wa, report_dir=report_dir, progress=progress)
    except RcaError as exc:
        store.set_state(review_id, "failed", error=str(exc), error_kind="pre-filling")
        raise
    store.set_state(
        review_id,
        "completed",
        workload_id=result.workload_id,
        milestone_number=result.milestone_number,
    )
    return result


def workload_name_for(record: ReviewRecord, doc: DocumentText | None) -> str:
    """A default WA Tool workload name: the PDF title, else the file name (3-100 characters)."""
    name = (doc.title if doc and doc.title else "") or Path(record.document_name).stem
    name = " ".join(name.split())[:100].strip()
    return name if len(name) >= 3 else f"review {record.id}"
