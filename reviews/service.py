"""The review service: the one entry point every surface (CLI, Slack, Step Functions tasks) calls.

A surface never wires a review itself; it calls :class:`ReviewService` and renders what comes
back (typed :class:`ReviewEvent` values while a review runs, records and view models after).

Whole review, in this process (the embedded default):
    ``submit`` -> ``run`` (extract, assess on a bounded thread pool with per-question
    checkpoints, finalize); ``run`` again resumes: nothing finished is redone.

Unit steps, one task each (the Step Functions state machine: a Map over ``questions``):
    ``submit`` -> ``extract`` -> ``questions`` -> ``assess_question`` per question (idempotent,
    safe in parallel processes) -> ``finalize`` -> ``plan`` -> ``apply(confirm=True)``.

After a review: ``status``, ``find`` (by the caller's key, e.g. a Slack thread), ``chat``,
``reports``, ``summary``, ``plan``, ``apply``.

Two worlds behind one interface (:class:`ReviewSettings`): the embedded default is a SQLite
store, pdfplumber, the local BM25 retriever and the heuristic assessor; the AWS world is a
DynamoDB store (S3 for large texts), Amazon Textract, Bedrock Knowledge Base Retrieve and the
Bedrock assessor. Every AWS client is built by :func:`tools.aws.session.make_client`; every
part is injectable.

Documents are a local path or an ``s3://bucket/key`` URI; the type (``%PDF-`` header in the
first 1024 bytes) and the size (the extractor's limit) are checked before anything is read
(:mod:`reviews.sources`). The typed values (events, settings, options, view models) are in
:mod:`reviews.service_models` and re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from agent.untrusted import new_nonce
from lenses.catalog import GuidanceNote, Lens, load_guidance, load_lens
from reviews.assess import Assessor, Unit
from reviews.errors import (
    DocumentError,
    ReviewConflictError,
    ReviewError,
    ReviewNotFoundError,
    StoreError,
)
from reviews.extract import LOCAL_MAX_BYTES, Extractor, PdfPlumberExtractor
from reviews.models import Assessment, ChatTurn, QuestionAssessment, ReviewRecord, ReviewState
from reviews.pipeline import load_assessment, new_review_id, prefill, workload_name_for
from reviews.runner import ReviewRunner
from reviews.service_models import (
    TOP_IMPROVEMENTS,
    ChatAnswer,
    ConfirmationRequired,
    EventKind,
    Improvement,
    Listener,
    ReviewEvent,
    ReviewOptions,
    ReviewSettings,
    ReviewSummary,
)
from reviews.sources import check_document, local_copy, parse_s3_uri
from reviews.store import ReviewStore, open_store
from tools.aws.errors import ThrottledError
from tools.errors import RcaError
from tools.interrupts import shield

__all__ = [
    "ChatAnswer",
    "ConfirmationRequired",
    "Improvement",
    "ReviewEvent",
    "ReviewOptions",
    "ReviewService",
    "ReviewSettings",
    "ReviewSummary",
    "parse_s3_uri",
]

FAILED_ASSESSOR = "failed"
"""The ``assessor`` of a question checkpointed by :meth:`ReviewService.mark_question_failed`."""
DEFAULT_FORMATS = ("md", "html", "json", "csv")
log = logging.getLogger(__name__)


class ReviewService:
    """Submit, run (or step through), inspect, chat on, report and pre-fill reviews.

    Every part is injectable: ``store`` (a :class:`~reviews.store.ReviewStore`), ``lens`` and
    ``notes``, ``retriever``, ``assessor``, ``extractor``, ``responder`` (chat), ``s3`` (a boto3
    S3 client, for ``s3://`` documents and reports), ``wa`` (a
    :class:`~reviews.watool.WaToolClient`), ``clients`` (boto3 clients by service name, e.g.
    ``{"textract": ..., "bedrock-runtime": ...}``; the rest are built by ``make_client``),
    ``session`` (a ``boto3.Session`` for every client the service builds). What is not injected
    comes from ``settings`` (default: the embedded world). ``runner_options`` are passed to
    :class:`~reviews.runner.ReviewRunner` (``sleep``, ``max_rps``); ``listener``
    receives the events of every call that gets none. A listener that raises is logged and
    ignored: rendering never fails a review.

    Raises (constructor): LensError (unknown lens), StoreError (store cannot be opened),
    ReviewError (an AWS part without its option, e.g. Textract without a bucket).
    """

    def __init__(
        self,
        store: ReviewStore | None = None,
        *,
        settings: ReviewSettings | None = None,
        lens: Lens | None = None,
        notes: list[GuidanceNote] | None = None,
        retriever: Any = None,
        assessor: Assessor | None = None,
        extractor: Extractor | None = None,
        responder: Any = None,
        s3: Any = None,
        wa: Any = None,
        clients: Mapping[str, Any] | None = None,
        session: Any = None,
        runner_options: dict[str, Any] | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.settings = settings or ReviewSettings()
        self.session = session
        self._clients: dict[str, Any] = dict(clients or {})
        if s3 is not None:
            self._clients["s3"] = s3
        self._store = store
        self.lens = lens or load_lens(self.settings.lens)
        self.notes = notes if notes is not None else load_guidance(self.lens)
        self._model_id: str | None = None
        self._retriever = retriever
        self.extractor = extractor or self._default_extractor()
        self.assessor = assessor or self._default_assessor()
        self._responder = responder
        self._wa = wa
        self.runner_options = dict(runner_options or {})
        self.listener = listener
        self._lenses: dict[str, tuple[Lens, list[GuidanceNote]]] = {
            self.lens.alias: (self.lens, self.notes)
        }

    # construction of the parts ----------------------------------------------------------

    @property
    def store(self) -> ReviewStore:
        """The review store (opened on first use: SQLite, or DynamoDB when a table is set).

        Raises:
            StoreError: it cannot be opened.
        """
        if self._store is None:
            s = self.settings
            self._store = open_store(
                path=Path(s.db_path) if s.db_path else None,
                table=s.table,
                bucket=s.bucket,
                region=s.region,
                profile=s.profile,
                session=self.session,
            )
        return self._store

    @property
    def retriever(self) -> Any:
        """The guidance retriever (built on first use: local BM25, or the Bedrock KB)."""
        if self._retriever is None:
            self._retriever = self._default_retriever()
        return self._retriever

    def client(self, service: str) -> Any:
        """A boto3 client built once by :func:`tools.aws.session.make_client`."""
        if service not in self._clients:
            from tools.aws.session import make_client

            self._clients[service] = make_client(
                service,
                session=self.session,
                profile=self.settings.profile,
                region=self.settings.region,
            )
        return self._clients[service]

    def _default_retriever(self) -> Any:
        if self.settings.knowledge_base_id:
            from reviews.retrieve import BedrockKbRetriever

            return BedrockKbRetriever(
                self.settings.knowledge_base_id,
                client=self.client("bedrock-agent-runtime"),
                region=self.settings.region,
            )
        from reviews.retrieve import LocalRetriever

        return LocalRetriever(self.notes)

    def _default_extractor(self) -> Extractor:
        if self.settings.extractor == "textract":
            if not self.settings.bucket:
                raise ReviewError(
                    "--extractor textract needs --bucket (an S3 bucket Textract can read) or "
                    "RCA_REVIEW_BUCKET"
                )
            from reviews.textract import TextractExtractor

            return TextractExtractor(
                self.settings.bucket, textract=self.client("textract"), s3=self.client("s3")
            )
        return PdfPlumberExtractor()

    def _default_assessor(self) -> Assessor:
        if self.settings.assessor == "bedrock":
            from reviews.assessors.bedrock import BedrockAssessor

            return BedrockAssessor(
                self.lens,
                self.bedrock_model(),
                client=self.client("bedrock-runtime"),
                region=self.settings.region,
            )
        from reviews.assessors.heuristic import HeuristicAssessor

        return HeuristicAssessor(self.notes)

    def bedrock_model(self) -> str:
        """The Bedrock model id of the assessor and the chat (the one place the service chooses
        a model): ``settings.model_id``, ``RCA_MODEL_ID`` or the config file, else the newest
        usable model of the configured family (:func:`tools.aws.models.resolve_model`).

        Raises:
            ReviewError: no model is configured and none of the family is usable here.
        """
        from tools.aws.models import configured_model, resolve_model
        from tools.errors import ModelError

        if self._model_id is None:
            explicit = configured_model(self.settings.model_id)
            try:
                self._model_id = resolve_model(
                    explicit,
                    catalog_client=None if explicit else self.client("bedrock"),
                    profile=self.settings.profile,
                    region=self.settings.region,
                )
            except ModelError as exc:
                raise ReviewError(str(exc)) from exc
        return self._model_id

    def _chat_responder(self) -> Any:
        if self._responder is None:
            from reviews.chat import BedrockResponder, RetrievalResponder

            if self.settings.chat == "bedrock":
                self._responder = BedrockResponder(
                    self.client("bedrock-runtime"), self.bedrock_model()
                )
            else:
                self._responder = RetrievalResponder()
        return self._responder

    def wa_client(self) -> Any:
        """The WA Tool client (injected, or built on the ``wellarchitected`` client)."""
        if self._wa is None:
            from reviews.watool import WaToolClient

            self._wa = WaToolClient(self.client("wellarchitected"))
        return self._wa

    def _lens_of(self, record: ReviewRecord) -> tuple[Lens, list[GuidanceNote]]:
        if record.lens_alias not in self._lenses:
            lens = load_lens(record.lens_alias)
            self._lenses[record.lens_alias] = (lens, load_guidance(lens))
        return self._lenses[record.lens_alias]

    def _check_lens(self, record: ReviewRecord) -> None:
        if record.lens_alias != self.lens.alias:
            raise ReviewError(
                f"review {record.id} uses lens {record.lens_alias!r} but this service assesses "
                f"with {self.lens.alias!r}; pass --lens {record.lens_alias}"
            )

    # events -------------------------------------------------------------------------------

    def _emitter(self, review_id: str, listener: Listener | None) -> Callable[..., None]:
        target = listener or self.listener

        def emit(kind: EventKind, **fields: Any) -> None:
            if target is None:
                return
            event = ReviewEvent(kind=kind, review_id=review_id, **fields)
            try:
                target(event)
            except Exception:  # a renderer's failure (e.g. a Slack post) never fails a review
                log.warning("review %s: the listener failed on %s", review_id, kind, exc_info=True)

        return emit

    def _progress(self, review_id: str, listener: Listener | None) -> Any:
        """Adapts the runner's and the WA Tool's untyped progress callbacks to typed events."""
        emit = self._emitter(review_id, listener)

        def progress(event: str, payload: dict[str, Any]) -> None:
            if event == "start":
                emit(
                    "assessment_started",
                    done=int(payload["done"]),
                    total=int(payload["total"]),
                    data={k: payload[k] for k in ("units", "mode", "workers")},
                )
            elif event == "question":
                emit(
                    "question_assessed",
                    question_id=payload["question_id"],
                    number=payload["number"],
                    risk=payload["risk"],
                    done=int(payload["done"]),
                    total=int(payload["total"]),
                )
            elif event == "throttled":
                emit("throttled", data=dict(payload))
            elif event == "unit_failed":
                emit("unit_failed", text=f"{payload['unit']}: {payload['error']}")
            elif event == "end":
                emit("assessment_finished", data=dict(payload))
            elif event in ("workload", "answer", "milestone", "report"):
                emit(f"wa_{event}", data=dict(payload))  # type: ignore[arg-type]

        return progress

    def _state(
        self, review_id: str, state: ReviewState, listener: Listener | None, **changes: Any
    ) -> ReviewRecord:
        before = self.store.get(review_id).state
        record = self.store.set_state(review_id, state, **changes)
        if record.state != before:
            self._emitter(review_id, listener)("state_changed", state=record.state)
        return record

    @contextlib.contextmanager
    def _failing(
        self, review_id: str, step: str, listener: Listener | None, *, errors: bool = True
    ) -> Iterator[None]:
        """Mark the review ``failed`` (reason; kind = the document problem or ``step``) when the
        block raises a product error (only when ``errors``) or is interrupted, then re-raise."""
        caught: tuple[type[BaseException], ...] = (
            (RcaError, KeyboardInterrupt) if errors else (KeyboardInterrupt,)
        )
        try:
            yield
        except caught as exc:
            if isinstance(exc, RcaError):
                kind = exc.kind if isinstance(exc, DocumentError) else step
                if isinstance(exc, ThrottledError):  # resumable: botocore's retries were spent
                    kind = "throttled"
                message = str(exc) or type(exc).__name__
            else:  # Ctrl-C or SIGTERM (tools.interrupts.Interrupted): never a stale state
                kind = "interrupted"
                name = getattr(exc, "signal_name", "SIGINT")
                message = f"interrupted by {name}; `rca review --resume {review_id}` continues it"
            # the original error matters more than bookkeeping; a second Ctrl-C waits for it;
            # a review already completed (a signal while its reports are written) stays so
            with shield(), contextlib.suppress(RcaError):
                if self.store.get(review_id).state != "completed":
                    self._state(review_id, "failed", listener, error=message, error_kind=kind)
            raise

    # submit -------------------------------------------------------------------------------

    def _max_bytes(self) -> int:
        limit = getattr(self.extractor, "max_bytes", None)
        if isinstance(limit, int):
            return limit
        if self.extractor.name == "textract":
            from reviews.textract import TEXTRACT_MAX_BYTES

            return TEXTRACT_MAX_BYTES
        return LOCAL_MAX_BYTES

    def check_document(self, document: str | Path) -> tuple[str, str]:
        """Check type and size before reading (:func:`reviews.sources.check_document` with
        the extractor's limit); return ``(s3 URI or absolute path, file name)``.

        Raises:
            NotAPdfError, DocumentTooLargeError, DocumentError / AwsError (S3).
        """
        return check_document(
            document,
            limit=self._max_bytes(),
            extractor=self.extractor.name,
            s3=lambda: self.client("s3"),
        )

    def new_record(
        self, document: str, name: str, options: ReviewOptions, review_id: str
    ) -> ReviewRecord:
        """The record of a new review of ``document`` with this service's lens and parts and
        the review's own random ``nonce`` (:func:`agent.untrusted.new_nonce`; not stored).

        Raises:
            LensError: an unknown pillar id.
        """
        return ReviewRecord(
            id=review_id,
            document=document,
            document_name=name,
            lens_alias=self.lens.alias,
            pillars=list(options.pillars),
            mode=options.mode,
            assessor=self.assessor.name,
            extractor=self.extractor.name,
            questions_total=len(self.lens.questions(options.pillars or None)),
            nonce=new_nonce(),
        )

    def submit(
        self,
        document: str | Path,
        *,
        options: ReviewOptions | None = None,
        key: str | None = None,
        review_id: str | None = None,
        listener: Listener | None = None,
    ) -> ReviewRecord:
        """Create a review (state ``submitted``) of a local PDF or an ``s3://`` object.

        ``key`` is the caller's key (a Slack ``team/channel/thread``, a CLI id): a key already
        bound returns its review unchanged (a retried submission never starts a second one).
        ``review_id`` fixes the id (default: a new sortable id).

        Raises:
            LensError: an unknown pillar id. DocumentError: not a PDF, too large, missing.
            StoreError: the store failed.
        """
        options = options or ReviewOptions()
        self.lens.questions(options.pillars or None)  # validates the pillar ids first
        if key is not None:
            found = self.find(key)
            if found is not None:
                return found
        where, name = self.check_document(document)
        rid = review_id or new_review_id()
        if key is not None:
            rid = self.store.bind_key(key, rid)
            with contextlib.suppress(ReviewNotFoundError):
                return self.store.get(rid)  # another submission with this key won
        record = self.new_record(where, name, options, rid)
        try:
            record = self.store.create(record)
        except StoreError:
            if key is None:
                raise
            return self.store.get(rid)  # created by a concurrent submission with the same key
        self._emitter(rid, listener)("submitted", state="submitted", text=name)
        return record

    # the steps ----------------------------------------------------------------------------

    def extract(self, review_id: str, *, listener: Listener | None = None) -> ReviewRecord:
        """Extract the document's text (unless stored) and store it; the review moves to
        ``assessing`` (ready for its questions). Idempotent.

        Raises:
            DocumentError: bad input; the record is ``failed`` with the reason and kind.
            ExtractionError / AwsError: the extractor failed; the record is ``failed``.
        """
        record = self.store.get(review_id)
        if record.text_ref:
            return record
        emit = self._emitter(review_id, listener)
        self._state(review_id, "extracting", listener)
        emit("extracting", text=f"{record.document_name} with {self.extractor.name}")
        with self._failing(review_id, "extracting", listener):
            with local_copy(
                record.document,
                limit=self._max_bytes(),
                extractor=self.extractor.name,
                s3=lambda: self.client("s3"),
            ) as path:
                doc = self.extractor.extract(path)
            if record.document.startswith("s3://") and self.extractor.name == "pdfplumber":
                doc = doc.model_copy(update={"source": record.document})
            ref = self.store.save_document(review_id, doc)
        emit(
            "extracted",
            text=record.document_name,
            data={"pages": len(doc.pages), "words": doc.words, "ref": ref},
        )
        return self._state(
            review_id, "assessing", listener, text_ref=ref, pages=len(doc.pages), sha256=doc.sha256
        )

    def questions(self, review_id: str, *, pending_only: bool = False) -> list[str]:
        """The question ids of a review in lens order (the Step Functions Map items);
        ``pending_only`` leaves out the checkpointed ones.

        Raises:
            ReviewNotFoundError: no such review.
        """
        record = self.store.get(review_id)
        lens, _ = self._lens_of(record)
        ids = [q.id for q in lens.questions(record.pillars or None)]
        if pending_only:
            done = {qa.question_id for qa in self.store.questions(review_id)}
            ids = [i for i in ids if i not in done]
        return ids

    def review_nonce(self, record: ReviewRecord) -> str:
        """The review's untrusted-data tag nonce (:attr:`ReviewRecord.nonce`), which every
        assessor request of the review uses. A record stored before reviews had one gets a new
        random one now, stored only if no other task stored one first (a version-checked
        write), so concurrent tasks of a resumed review still agree on it.

        Raises:
            StoreError / ReviewConflictError: the store failed or stayed busy.
        """
        if record.nonce:
            return record.nonce
        fresh = new_nonce()
        stored = self.store.mutate(record.id, lambda r: None if r.nonce else {"nonce": fresh})
        return stored.nonce or fresh

    def _runner(self, listener: Listener | None, record: ReviewRecord) -> ReviewRunner:
        return ReviewRunner(
            self.assessor.for_review(self.review_nonce(record)),
            self.lens,
            self.retriever,
            self.notes,
            self.store,
            max_workers=self.settings.max_workers,
            progress=self._progress(record.id, listener),
            **self.runner_options,
        )

    def _count_done(self, review_id: str, record: ReviewRecord) -> dict[str, Any]:
        wanted = set(self.questions(review_id))
        done = sum(1 for qa in self.store.questions(review_id) if qa.question_id in wanted)
        return {"questions_done": done, "questions_total": len(wanted)}

    def mark_question_failed(
        self, review_id: str, question_id: str, reason: str
    ) -> QuestionAssessment:
        """Checkpoint a question whose assessment kept failing as ``UNANSWERED`` (assessor
        ``failed``, ``reason`` in its warnings), so finalize can go on; re-running the review
        assesses it again. Returns the stored assessment.

        Raises:
            LensError: an unknown question id.
        """
        question = self.lens.question(question_id)
        qa = QuestionAssessment(
            question_id=question.id,
            number=question.number,
            pillar_id=question.pillar_id,
            title=question.title,
            best_practices=[],
            risk="UNANSWERED",
            summary="The assessment of this question failed; re-run the review to retry it.",
            assessor=FAILED_ASSESSOR,
            warnings=[f"assessment failed: {reason}"],
        )
        self.store.save_question(review_id, qa)
        return qa

    def assess_question(
        self, review_id: str, question_id: str, *, listener: Listener | None = None
    ) -> QuestionAssessment:
        """Assess one question and checkpoint it; a question already checkpointed is returned
        as stored (idempotent: a retried task does no work). Safe in parallel processes: each
        question is its own row/item and the record's counter is a version-checked write.

        One question is one assessor request here, whatever the review's mode (the mode still
        sets how the heuristic assessor matches evidence); for the heuristic assessor the result
        equals :meth:`run`'s, for a model assessor in quick mode it is a per-question request
        instead of a per-pillar one.

        Raises:
            ReviewError: the text is not extracted yet (call ``extract``), the question is not
                part of this review, or the review uses another lens.
            AssessmentError: the assessor failed; the record is ``failed`` with the reason (a
                later successful question moves it back to ``assessing``).
        """
        for qa in self.store.questions(review_id):
            if qa.question_id == question_id:
                return qa
        record = self.store.get(review_id)
        self._check_lens(record)
        if question_id not in self.questions(review_id):
            raise ReviewError(
                f"question {question_id!r} is not part of review {review_id}; "
                "list them with ReviewService.questions"
            )
        if not record.text_ref:
            raise ReviewError(f"review {review_id} has no extracted text yet; extract it first")
        doc = self.store.load_document(review_id)
        if record.state != "assessing":
            self._state(review_id, "assessing", listener)
        question = self.lens.question(question_id)
        unit = Unit(key=question.id, pillar_id=question.pillar_id, questions=[question])
        with self._failing(review_id, "assessing", listener):
            (qa,) = self._runner(listener, record).assess_unit(review_id, doc, unit, record.mode)
        try:  # the progress counter; finalize sets it anyway, so losing it fails nothing
            updated = self.store.mutate(review_id, lambda r: self._count_done(review_id, r))
        except ReviewConflictError:
            log.warning("review %s: progress counter not updated (busy); continuing", review_id)
            updated = self.store.get(review_id)
        self._emitter(review_id, listener)(
            "question_assessed",
            question_id=qa.question_id,
            number=qa.number,
            risk=qa.risk,
            done=updated.questions_done,
            total=updated.questions_total,
        )
        return qa

    def finalize(self, review_id: str, *, listener: Listener | None = None) -> ReviewRecord:
        """Check every question is assessed, mark the review ``completed`` and write the
        reports to ``settings.reports_uri`` when set (one ``report_written`` event each).

        Raises:
            ReviewError: questions are missing (the message says how many and which).
        """
        record = self.store.get(review_id)
        missing = self.questions(review_id, pending_only=True)
        if missing:
            raise ReviewError(
                f"review {review_id} has {len(missing)} unassessed question(s) "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); assess them "
                f"or run `rca review --resume {review_id}`"
            )
        total = record.questions_total or len(self.questions(review_id))
        record = self._state(
            review_id, "completed", listener, questions_done=total, questions_total=total
        )
        if self.settings.reports_uri:
            for fmt, where in self.publish_reports(review_id, self.settings.reports_uri).items():
                self._emitter(review_id, listener)(
                    "report_written", text=where, data={"format": fmt}
                )
        return record

    def run(self, review_id: str, *, listener: Listener | None = None) -> ReviewRecord:
        """Extract (unless stored), assess every question not yet checkpointed on a bounded
        thread pool, finalize. A second call resumes from the checkpoints; a completed review is
        returned unchanged.

        Raises:
            DocumentError: bad input; the record is ``failed`` with the reason.
            ReviewError: assessment failed; finished questions stay checkpointed (resume).
            KeyboardInterrupt: the record is ``failed`` ("interrupted"), checkpoints kept.
        """
        record = self.store.get(review_id)
        if record.state == "completed" and record.questions_done >= record.questions_total:
            return record  # nothing to do (a finished review is not re-finalized)
        # a signal between the steps (after extraction stored "assessing", while the document
        # loads) must not leave a stale "assessing" record either
        with self._failing(review_id, "assessing", listener, errors=False):
            record = self.extract(review_id, listener=listener)
            self._check_lens(record)
            if record.state != "assessing":
                self._state(review_id, "assessing", listener)
            doc = self.store.load_document(review_id)
        with self._failing(review_id, "assessing", listener):
            self._runner(listener, record).run(review_id, doc, record.mode, record.pillars or None)
        with self._failing(review_id, "assessing", listener, errors=False):
            return self.finalize(review_id, listener=listener)

    # after a review ----------------------------------------------------------------------

    def search_guidance(
        self,
        query: str,
        *,
        pillars: list[str] | None = None,
        question_ids: list[str] | None = None,
        k: int = 5,
    ) -> list[Any]:
        """Guidance passages of the service's lens for ``query`` (best first), filtered by
        pillar and question ids with the Knowledge Base filter semantics.

        Raises:
            RetrievalError: a bad ``k`` or a failed Retrieve call.
        """
        from reviews.retrieve import metadata_filter

        flt = metadata_filter(lens=self.lens.alias, pillars=pillars, question_ids=question_ids)
        return list(self.retriever.retrieve(query, flt, k))

    def status(self, review_id: str) -> ReviewRecord:
        """The review record (state, progress, error).

        Raises:
            ReviewNotFoundError: no such review.
        """
        return self.store.get(review_id)

    def find(self, key: str) -> ReviewRecord | None:
        """The review bound to the caller's ``key`` by :meth:`submit`, or None."""
        review_id = self.store.find_key(key)
        if review_id is None:
            return None
        try:
            return self.store.get(review_id)
        except ReviewNotFoundError:
            return None  # bound, but its submission has not created the record yet

    def recent(self, limit: int = 50) -> list[ReviewRecord]:
        """The most recent reviews first."""
        return self.store.list_reviews(limit)

    def assessment(self, review_id: str) -> Assessment:
        """The assessment assembled from the checkpoints (complete or not).

        Raises:
            ReviewNotFoundError; ReviewError: nothing assessed yet.
        """
        record = self.store.get(review_id)
        lens, _ = self._lens_of(record)
        return load_assessment(self.store, review_id, lens)

    def reports(
        self, review_id: str, formats: list[str] | tuple[str, ...] = DEFAULT_FORMATS
    ) -> dict[str, str]:
        """The reports as text, by format (``md``, ``html``, ``json``, ``csv``).

        Raises:
            ValueError: an unknown format; ReviewError: nothing assessed yet.
        """
        from reviews.report import render

        assessment = self.assessment(review_id)
        return {fmt: render(assessment, fmt) for fmt in formats}

    def write_reports(
        self, review_id: str, out_dir: Path, formats: list[str] | tuple[str, ...]
    ) -> dict[str, Path]:
        """Write ``review-<id>.<fmt>`` files into ``out_dir``; return their paths.

        Raises:
            ReviewError: nothing assessed yet, or the directory is not writable.
        """
        from reviews.report import write_reports

        try:
            return write_reports(self.assessment(review_id), out_dir, list(formats))
        except OSError as exc:
            raise ReviewError(f"cannot write the reports to {out_dir}: {exc}") from exc

    def publish_reports(
        self,
        review_id: str,
        destination: str,
        formats: list[str] | tuple[str, ...] = DEFAULT_FORMATS,
    ) -> dict[str, str]:
        """Write the reports to a directory or ``s3://bucket/prefix/``; return where, by format.

        Raises:
            ReviewError: the destination is not writable (an AwsError for S3 failures).
        """
        if not destination.startswith("s3://"):
            paths = self.write_reports(review_id, Path(destination), formats)
            return {fmt: str(path) for fmt, path in paths.items()}
        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        types = {
            "md": "text/markdown",
            "html": "text/html",
            "json": "application/json",
            "csv": "text/csv",
        }
        written = {}
        for fmt, text in self.reports(review_id, formats).items():
            key = f"{prefix.rstrip('/') + '/' if prefix else ''}review-{review_id}.{fmt}"
            try:
                self.client("s3").put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=text.encode("utf-8"),
                    ContentType=f"{types.get(fmt, 'text/plain')}; charset=utf-8",
                    ServerSideEncryption="AES256",
                )
            except (ClientError, BotoCoreError) as exc:
                from tools.aws.errors import translate

                raise translate(exc, service="S3", operation="PutObject") from exc
            written[fmt] = f"s3://{bucket}/{key}"
        return written

    def summary(self, review_id: str) -> ReviewSummary:
        """Risk per pillar, totals and the top improvements (for Slack and the terminal).

        Raises:
            ReviewNotFoundError; ReviewError: nothing assessed yet.
        """
        record = self.store.get(review_id)
        a = self.assessment(review_id)
        numbers = {qa.question_id: qa for qa in a.questions}
        return ReviewSummary(
            review_id=review_id,
            document_name=record.document_name,
            state=record.state,
            mode=a.mode,
            assessor=a.assessor,
            complete=a.complete,
            questions=len(a.questions),
            risk_counts=a.risk_counts(),
            pillars=a.pillars,
            improvements=[
                Improvement(
                    priority=rec.priority,
                    question_id=rec.question_id,
                    number=numbers[rec.question_id].number,
                    title=rec.title,
                    bp_risk=rec.bp_risk,
                    verdict=rec.verdict,
                )
                for rec in a.recommendations[:TOP_IMPROVEMENTS]
            ],
        )

    def chat(self, review_id: str, question: str) -> ChatAnswer:
        """Answer a follow-up question on a review, with citations; the question and its answer
        are stored as two adjacent turns (version-checked: parallel chats all land).

        Raises:
            ReviewNotFoundError; ReviewError: nothing assessed yet, or the chat model failed.
        """
        from reviews.chat import ReviewChat

        text = question.strip()
        if not text:
            raise ReviewError("ask a question about the review (the text is empty)")
        record = self.store.get(review_id)
        _, notes = self._lens_of(record)
        assessment = self.assessment(review_id)
        doc = self.store.load_document(review_id) if record.text_ref else None
        chat = ReviewChat(
            assessment,
            doc,
            notes,
            responder=self._chat_responder(),
            history=self.store.chat(review_id),
        )
        reply = chat.ask(text)
        turn = self.store.append_turns(review_id, [ChatTurn(role="user", text=text), reply])
        return ChatAnswer(
            review_id=review_id,
            question=text,
            text=reply.text,
            citations=reply.citations,
            answered=reply.answered,
            turn=turn,
            at=reply.at,
        )

    def history(self, review_id: str) -> list[ChatTurn]:
        """The stored chat turns of a review, oldest first."""
        return self.store.chat(review_id)

    def plan(
        self,
        review_id: str,
        *,
        workload_name: str | None = None,
        environment: Literal["PRODUCTION", "PREPRODUCTION"] = "PREPRODUCTION",
        aws_regions: list[str] | None = None,
        review_owner: str | None = None,
    ) -> Any:
        """The dry-run :class:`~reviews.watool.WaPlan`: the exact WA Tool calls that would
        pre-fill a workload (default name: the PDF title, else the file name). Nothing is sent.

        Raises:
            ReviewError: nothing assessed yet; WaToolError: a name breaks a WA Tool limit.
        """
        from reviews.watool import build_plan

        record = self.store.get(review_id)
        lens, _ = self._lens_of(record)
        assessment = self.assessment(review_id)
        doc = None
        if record.text_ref:
            with contextlib.suppress(RcaError):  # the title is a nicety for the workload name
                doc = self.store.load_document(review_id)
        return build_plan(
            assessment,
            lens,
            workload_name=workload_name or workload_name_for(record, doc),
            environment=environment,
            aws_regions=aws_regions,
            review_owner=review_owner,
        )

    def apply(
        self,
        review_id: str,
        *,
        confirm: bool,
        plan: Any = None,
        report_dir: Path | None = None,
        listener: Listener | None = None,
        **plan_options: Any,
    ) -> Any:
        """Write the plan to the AWS Well-Architected Tool; refuses unless ``confirm`` is True.

        ``plan`` defaults to :meth:`plan` with ``plan_options``; returns the
        :class:`~reviews.watool.ApplyResult`. The review is ``pre-filling`` meanwhile, then
        ``completed`` with the workload id and milestone.

        Raises:
            ConfirmationRequired: ``confirm`` is not True (nothing is sent).
            WaToolError: a call failed; the record is ``failed``; a re-run resumes.
        """
        if confirm is not True:
            raise ConfirmationRequired(
                f"review {review_id}: writing to the Well-Architected Tool needs explicit "
                "confirmation (apply(confirm=True), `--apply --yes`)"
            )
        record = self.store.get(review_id)
        lens, _ = self._lens_of(record)
        plan = plan or self.plan(review_id, **plan_options)
        before = record.state
        result = prefill(
            self.store,
            review_id,
            plan,
            lens,
            self.wa_client(),
            report_dir=report_dir,
            progress=self._progress(review_id, listener),
        )
        if before != "completed":
            self._emitter(review_id, listener)("state_changed", state="completed")
        return result
