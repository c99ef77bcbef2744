"""The assessment runner: bounded parallelism, one retry layer, per-question checkpoints.

:class:`ReviewRunner` assesses the units of a review (a pillar per request in ``quick`` mode, a
question per request in ``deep`` mode) on ``max_workers`` daemon threads
(:class:`tools.interrupts.DaemonExecutor`). When the request quota is known, ``max_rps`` spaces
request starts ``1 / max_rps`` seconds apart (a client-side rate limit, not a retry).

Retries: botocore's retry mode on every client (:func:`tools.aws.session.make_client`: adaptive,
8 attempts, exponential backoff with jitter and a client-side token bucket) is the only
call-level retry layer. A unit whose calls are still throttled after it raised the one
:class:`~tools.aws.errors.ThrottledError`; the runner does not re-run it. It stops starting new
units (the ones queued are cancelled), lets the units in flight finish and checkpoint, and raises
one :class:`~tools.aws.errors.ThrottledError` naming the throttled units and how to resume, so the
review is marked ``failed`` with ``error_kind`` ``throttled`` and ``--resume`` assesses the rest.
In the cloud, the Step Functions ``Retry`` on ``ThrottledError`` around each question's task is
the one unit-level layer (``infra/stacks/reviews_stack.py``).

Each finished question is checkpointed in the store **by the worker that finished it**, so an
interrupted run (Ctrl-C, crash, throttling) keeps every finished question and a re-run assesses
only the rest (:meth:`ReviewRunner.run` skips checkpointed questions). On Ctrl-C or SIGTERM the
units in flight are not waited for, neither here nor at interpreter exit (daemon workers), so the
process ends promptly; a unit cut off that way is simply assessed again on resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from lenses.catalog import GuidanceNote, Lens
from reviews.assess import (
    Assessor,
    QuestionGuidance,
    Unit,
    finish_question,
    make_units,
    retrieve_guidance,
)
from reviews.document import with_summary
from reviews.errors import AssessmentError
from reviews.models import (
    RISKS,
    Assessment,
    DocumentText,
    Mode,
    PillarSummary,
    QuestionAssessment,
    Recommendation,
)
from reviews.plan import order_plan
from reviews.store import ReviewStore
from tools.aws.errors import ThrottledError
from tools.interrupts import DaemonExecutor

Progress = Callable[[str, dict[str, Any]], None]


def _noop(event: str, payload: dict[str, Any]) -> None:
    return None


class ReviewRunner:
    """Runs an assessor over a lens for one document (see the module docstring).

    ``retriever`` implements ``retrieve(query, filter=None, k=5)``; ``notes`` are the lens's
    guidance notes (the catalog the retrieved choice ids are resolved against); ``sleep``
    (seconds) is what ``max_rps`` pacing waits with.
    """

    def __init__(
        self,
        assessor: Assessor,
        lens: Lens,
        retriever: Any,
        notes: list[GuidanceNote],
        store: ReviewStore,
        *,
        max_workers: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        progress: Progress | None = None,
        max_rps: float | None = None,
    ) -> None:
        self.assessor = assessor
        self.lens = lens
        self.retriever = retriever
        self.catalog = {n.choice_id: n for n in notes}
        self.store = store
        self.max_workers = max(1, max_workers)
        self.sleep = sleep
        self.progress = progress or _noop
        self.requests = 0
        self._count_lock = threading.Lock()
        self.max_rps = max_rps
        self._next_start = 0.0
        self._pace_lock = threading.Lock()

    def _pace(self) -> None:
        """Space request starts at least ``1 / max_rps`` seconds apart (when a quota is known)."""
        if not self.max_rps:
            return
        with self._pace_lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self.max_rps
        if start > now:
            self.sleep(start - now)

    def _guidance(self, doc: DocumentText, unit: Unit) -> dict[str, QuestionGuidance]:
        return {
            q.id: retrieve_guidance(
                self.retriever,
                self.lens,
                q,
                self.assessor.guidance_query(doc, q),
                self.catalog,
            )
            for q in unit.questions
        }

    def _call(
        self, doc: DocumentText, unit: Unit, guidance: dict[str, QuestionGuidance], mode: Mode
    ) -> list[Any]:
        """One assessor request; a :class:`ThrottledError` (botocore's retries spent) is raised
        as is: the unit is not re-run here."""
        self._pace()
        with self._count_lock:
            self.requests += 1
        return self.assessor.assess(doc, unit, guidance, mode)

    def _unit(
        self, review_id: str, doc: DocumentText, unit: Unit, mode: Mode
    ) -> list[QuestionAssessment]:
        from reviews.gaps import gaps_for  # numpy and the stemmer: not at the handlers' import

        guidance = self._guidance(doc, unit)
        drafts = self._call(doc, unit, guidance, mode)
        by_id = {d.question_id: d for d in drafts}
        results = []
        for question in unit.questions:
            draft = by_id.get(question.id)
            if draft is None:
                raise AssessmentError(
                    f"{self.assessor.name} assessor returned no answer for {question.number} "
                    f"({question.id})"
                )
            qa = finish_question(
                question,
                draft,
                assessor=self.assessor.name,
                guidance=guidance[question.id],
                gaps=gaps_for(doc, list(self.catalog.values())),
            )
            self.store.save_question(review_id, qa)
            results.append(qa)
        return results

    def assess_unit(
        self, review_id: str, doc: DocumentText, unit: Unit, mode: Mode
    ) -> list[QuestionAssessment]:
        """Assess one unit now, checkpoint each of its questions, return them (the service's
        "assess one question" step, the Step Functions task).

        Raises:
            AssessmentError: the assessor failed for good on this unit.
            ThrottledError: still throttled after botocore's retries (the task's ``Retry``).
        """
        return self._unit(review_id, doc, unit, mode)

    def run(
        self,
        review_id: str,
        doc: DocumentText,
        mode: Mode,
        pillars: list[str] | None = None,
    ) -> Assessment:
        """Assess every question not yet checkpointed; return the whole assessment.

        Raises:
            ThrottledError: a unit was still throttled after botocore's retries; no new unit was
                started after it, the units in flight finished and are checkpointed, and the
                message (one line) names the throttled units and how to resume.
            AssessmentError: a unit failed for good; finished questions stay checkpointed and the
                first error is raised after the other units have finished.
            LensError: an unknown pillar id.
        """
        wanted = {q.id for q in self.lens.questions(pillars)}
        done = {
            qa.question_id: qa for qa in self.store.questions(review_id) if qa.question_id in wanted
        }
        units = make_units(self.lens, mode, pillars, skip=set(done))
        total = len(wanted)
        self.progress(
            "start",
            {
                "total": total,
                "done": len(done),
                "units": len(units),
                "mode": mode,
                "workers": self.max_workers,
            },
        )
        results: dict[str, QuestionAssessment] = dict(done)
        errors: list[BaseException] = []
        throttled: list[tuple[Unit, ThrottledError]] = []
        started = time.monotonic()
        usage_before = self.assessor.usage()
        pool = DaemonExecutor(max_workers=self.max_workers, thread_name_prefix="assess")
        interrupted = False
        pending: dict[Future[list[QuestionAssessment]], Unit] = {}
        try:
            for unit in units:  # inside the handler: a signal while queueing cancels too
                pending[pool.submit(self._unit, review_id, doc, unit, mode)] = unit
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    unit = pending.pop(future)
                    if future.cancelled():
                        continue
                    try:
                        for qa in future.result():
                            results[qa.question_id] = qa
                            self.progress(
                                "question",
                                {
                                    "question_id": qa.question_id,
                                    "number": qa.number,
                                    "risk": qa.risk,
                                    "done": len(results),
                                    "total": total,
                                },
                            )
                    except ThrottledError as exc:  # botocore's retries are spent: stop here
                        throttled.append((unit, exc))
                        self.progress("throttled", {"unit": unit.key, "error": str(exc)})
                        for queued in pending:
                            queued.cancel()  # the ones not started; in flight ones finish
                    except Exception as exc:  # collected, raised after the rest finish
                        errors.append(exc)
                        self.progress("unit_failed", {"unit": unit.key, "error": str(exc)})
                if results:
                    self.store.update(review_id, questions_done=len(results), questions_total=total)
        except BaseException:
            # Ctrl-C, SIGTERM or a crash: queued units are cancelled and the units in flight
            # are not waited for, here or at exit (daemon workers), so the caller records the
            # interruption at once; a unit cut off is assessed again on resume.
            interrupted = True
            for future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=interrupted)
        used = {k: v - usage_before.get(k, 0) for k, v in self.assessor.usage().items()}
        self.progress(
            "end", {"seconds": time.monotonic() - started, "requests": self.requests, **used}
        )
        if throttled:
            raise _still_throttled(review_id, throttled, len(results), total)
        if errors:
            first = errors[0]
            if isinstance(first, AssessmentError):
                raise first
            raise AssessmentError(f"assessment failed: {type(first).__name__}: {first}") from first
        record = self.store.get(review_id)
        assessment = assemble(
            review_id,
            self.lens,
            [results[q.id] for q in self.lens.questions(pillars) if q.id in results],
            document=record.document,
            mode=mode,
            assessor=self.assessor.name,
            pillars=pillars,
        )
        return with_summary(assessment, doc)  # the workload and key facts, for the summary


def _still_throttled(
    review_id: str, throttled: list[tuple[Unit, ThrottledError]], done: int, total: int
) -> ThrottledError:
    """The one-line error of a run stopped by throttling (what, how far, how to resume)."""
    keys = ", ".join(unit.key for unit, _ in throttled[:3]) + (
        f" and {len(throttled) - 3} more" if len(throttled) > 3 else ""
    )
    first = throttled[0][1]
    error = ThrottledError(
        f"review {review_id} stopped, throttled on {keys} after botocore's retries ({first}); "
        f"{done} of {total} questions are checkpointed: re-run with "
        f"`rca review --resume {review_id}` later, or lower --concurrency",
        service=first.service,
        operation=first.operation,
        code=first.code,
        account=first.account,
        region=first.region,
    )
    error.__cause__ = first
    return error


def assemble(
    review_id: str,
    lens: Lens,
    questions: list[QuestionAssessment],
    *,
    document: str,
    mode: Mode,
    assessor: str,
    pillars: list[str] | None = None,
) -> Assessment:
    """Build the :class:`Assessment` from question results: pillar risk counts, improvement plan.

    The improvement plan lists every best practice that is not selected, ordered by
    :func:`reviews.plan.order_plan` (risk, relevance to the workload, effort); priorities are
    renumbered 1..n.
    """
    order = {q.id: n for n, q in enumerate(lens.questions())}
    questions = sorted(questions, key=lambda qa: order.get(qa.question_id, 10_000))
    summaries = []
    for pillar in lens.pillars:
        mine = [qa for qa in questions if qa.pillar_id == pillar.id]
        if not mine:
            continue
        counts = {risk: sum(1 for qa in mine if qa.risk == risk) for risk in RISKS}
        summaries.append(
            PillarSummary(
                pillar_id=pillar.id, name=pillar.name, questions=len(mine), risk_counts=counts
            )
        )
    plan: list[Recommendation] = order_plan(questions, lens)
    complete = {qa.question_id for qa in questions} >= {q.id for q in lens.questions(pillars)}
    return Assessment(
        review_id=review_id,
        lens_alias=lens.alias,
        lens_name=lens.name,
        lens_version=lens.version,
        document=document,
        mode=mode,
        assessor=assessor,
        pillars=summaries,
        questions=questions,
        recommendations=plan,
        complete=complete,
    )
