"""Pieces of the review pipeline the service composes: review ids, the assessment of a stored
review, the WA Tool pre-fill with its state changes, the default workload name.

A review moves ``submitted`` -> ``extracting`` -> ``assessing`` -> ``completed``
(``pre-filling`` while the WA Tool is written; ``failed`` with the error on any
:class:`~tools.errors.RcaError`). The orchestration lives in :mod:`reviews.service`;
:class:`Reviewer` and :func:`build_reviewer` are the earlier interface, now thin adapters.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lenses.catalog import GuidanceNote, Lens, load_lens
from reviews.assess import Assessor
from reviews.document import with_summary
from reviews.errors import ReviewError, StoreError
from reviews.extract import Extractor
from reviews.models import Assessment, DocumentText, Mode, ReviewRecord
from reviews.runner import Progress, assemble
from reviews.store import ReviewStore
from tools.errors import RcaError


def new_review_id() -> str:
    """A sortable, unique review id: ``YYYYMMDD-HHMMSS-xxxxxx`` (UTC, 24 random bits)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class Reviewer:
    """The earlier whole-review interface, kept for scripts: a thin adapter over
    :class:`reviews.service.ReviewService` (which holds the orchestration)."""

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
        from reviews.service import ReviewService, ReviewSettings

        self.progress = progress
        self.service = ReviewService(
            store,
            settings=ReviewSettings(lens=lens.alias, max_workers=max_workers),
            lens=lens,
            notes=notes,
            retriever=retriever,
            assessor=assessor,
            extractor=extractor,
            runner_options=runner_options,
        )
        self.store, self.lens = store, lens

    def submit(
        self,
        document: Path,
        *,
        mode: Mode = "quick",
        pillars: list[str] | None = None,
        review_id: str | None = None,
    ) -> ReviewRecord:
        """Create the review record (state ``submitted``); the document is checked when the
        review runs (so a bad file ends as a ``failed`` record).

        Raises:
            LensError: an unknown pillar id.
        """
        from reviews.service import ReviewOptions

        options = ReviewOptions(mode=mode, pillars=list(pillars or []))
        record = self.service.new_record(
            str(document), document.name, options, review_id or new_review_id()
        )
        return self.store.create(record)

    def run(self, review_id: str) -> Assessment:
        """Extract (unless stored), assess (unless checkpointed), finalize; the assessment.

        Raises:
            DocumentError: bad input; the record is ``failed`` with the reason.
            ReviewError: assessment failed; finished questions stay checkpointed (resume).
            KeyboardInterrupt: Ctrl-C or SIGTERM (:class:`tools.interrupts.Interrupted`) at any
                point; the record is ``failed`` with ``error_kind`` ``interrupted`` and a resume
                hint, never left ``extracting`` or ``assessing``.
        """
        self.service.run(review_id, listener=_legacy(self.progress))
        return self.service.assessment(review_id)

    def review(
        self, document: Path, *, mode: Mode = "quick", pillars: list[str] | None = None
    ) -> Assessment:
        """Submit and run a new review."""
        return self.run(self.submit(document, mode=mode, pillars=pillars).id)


def _legacy(progress: Progress | None) -> Any:
    """The service's typed events as the runner's ``(event, payload)`` callback."""
    if progress is None:
        return None
    names = {
        "assessment_started": "start",
        "question_assessed": "question",
        "assessment_finished": "end",
    }

    def listener(event: Any) -> None:
        payload = event.model_dump(exclude_none=True)
        progress(names.get(event.kind, event.kind), {**payload.pop("data", {}), **payload})

    return listener


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
    assessment = assemble(
        review_id,
        lens,
        questions,
        document=record.document,
        mode=record.mode,
        assessor=assessor,
        pillars=record.pillars or None,
    )
    try:
        doc = store.load_document(review_id)
    except StoreError:
        return assessment  # no extracted text kept: the summary goes without design facts
    return with_summary(assessment, doc)  # the workload and key facts, as a fresh run has


def __getattr__(name: str) -> Any:
    """``ReviewOptions``: the earlier name of :class:`reviews.service.ReviewSettings`."""
    if name == "ReviewOptions":
        from reviews.service import ReviewSettings

        return ReviewSettings
    raise AttributeError(name)


def build_reviewer(options: Any, store: ReviewStore, progress: Progress | None = None) -> Reviewer:
    """A :class:`Reviewer` for ``options`` (a :class:`reviews.service.ReviewSettings`): the
    parts come from :class:`reviews.service.ReviewService` (clients by ``make_client``).

    Raises:
        LensError: unknown lens; ReviewError: a missing AWS option (bucket, ...).
    """
    from reviews.service import ReviewService

    service = ReviewService(store, settings=options)
    return Reviewer(
        store,
        service.extractor,
        service.assessor,
        service.retriever,
        service.lens,
        service.notes,
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
