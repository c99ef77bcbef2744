"""The assessment runner: bounded parallelism, backoff on throttling, per-question checkpoints.

:class:`ReviewRunner` assesses the units of a review (a pillar per request in ``quick`` mode, a
question per request in ``deep`` mode) on a thread pool of ``max_workers`` threads. An
:class:`AdaptiveLimit` caps the requests in flight: it halves on every throttle (down to 1)
and grows by one after as many consecutive successes as the current limit (AIMD, the scheme
TCP and botocore's adaptive mode use), so a run settles just under the backend's rate instead of
hammering it. When the request quota is known, ``max_rps`` also spaces request starts
``1 / max_rps`` seconds apart (a client-side rate limit). A throttled unit waits
``base_delay_s * 2**(attempt-1)`` seconds (capped at ``max_delay_s``, jitter between half and
all of it) and is retried up to ``max_attempts`` times.

Each finished question is checkpointed in the store **by the worker that finished it**, so an
interrupted run (Ctrl-C, crash, throttling that never ends) keeps every finished question and a
re-run assesses only the rest (:meth:`ReviewRunner.run` skips checkpointed questions).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
from reviews.errors import AssessmentError, ThrottledError
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

Progress = Callable[[str, dict[str, Any]], None]


def _noop(event: str, payload: dict[str, Any]) -> None:
    return None


class AdaptiveLimit:
    """A concurrency limit that halves on throttling and creeps back up on success (AIMD)."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.active = 0
        self._streak = 0
        self._cond = threading.Condition()
        self.throttles = 0

    def acquire(self) -> None:
        """Block until fewer than ``limit`` requests are in flight, then take a slot."""
        with self._cond:
            while self.active >= self.limit:
                self._cond.wait()
            self.active += 1

    def release(self, throttled: bool) -> None:
        """Give the slot back; adapt the limit to the outcome."""
        with self._cond:
            self.active -= 1
            if throttled:
                self.throttles += 1
                self.limit = max(1, self.limit // 2)
                self._streak = 0
            else:
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()


class ReviewRunner:
    """Runs an assessor over a lens for one document (see the module docstring).

    ``retriever`` implements ``retrieve(query, filter=None, k=5)``; ``notes`` are the lens's
    guidance notes (the catalog the retrieved choice ids are resolved against).
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
        max_attempts: int = 6,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        progress: Progress | None = None,
        max_rps: float | None = None,
    ) -> None:
        self.assessor = assessor
        self.lens = lens
        self.retriever = retriever
        self.catalog = {n.choice_id: n for n in notes}
        self.store = store
        self.max_workers = max(1, max_workers)
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.progress = progress or _noop
        self.limit = AdaptiveLimit(self.max_workers)
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
        for attempt in range(1, self.max_attempts + 1):
            self.limit.acquire()
            self._pace()
            throttled = False
            try:
                with self._count_lock:
                    self.requests += 1
                return self.assessor.assess(doc, unit, guidance, mode)
            except ThrottledError as exc:
                throttled = True
                if attempt == self.max_attempts:
                    raise ThrottledError(
                        f"{unit.key}: still throttled after {attempt} attempts ({exc}); "
                        "re-run with --resume to continue, or lower --concurrency"
                    ) from exc
            finally:
                self.limit.release(throttled)
            delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
            self.progress("throttled", {"unit": unit.key, "attempt": attempt, "delay_s": delay})
            self.sleep(self.rng.uniform(delay / 2, delay))
        raise AssertionError("unreachable")  # pragma: no cover

    def _unit(
        self, review_id: str, doc: DocumentText, unit: Unit, mode: Mode
    ) -> list[QuestionAssessment]:
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
                question, draft, assessor=self.assessor.name, guidance=guidance[question.id]
            )
            self.store.save_question(review_id, qa)
            results.append(qa)
        return results

    def assess_unit(
        self, review_id: str, doc: DocumentText, unit: Unit, mode: Mode
    ) -> list[QuestionAssessment]:
        """Assess one unit now (throttling retried as in :meth:`run`), checkpoint each of its
        questions, return them (the service's "assess one question" step).

        Raises:
            AssessmentError: the assessor failed for good on this unit.
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
            AssessmentError: a unit failed for good; finished questions stay checkpointed and the
                first error is raised after the other units in flight have finished.
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
        started = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="assess")
        interrupted = False
        try:
            pending: dict[Future[list[QuestionAssessment]], Unit] = {
                pool.submit(self._unit, review_id, doc, unit, mode): unit for unit in units
            }
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        unit = pending.pop(future)
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
                        except Exception as exc:  # collected, raised after the rest finish
                            errors.append(exc)
                            self.progress("unit_failed", {"unit": unit.key, "error": str(exc)})
                    if results:
                        self.store.update(
                            review_id, questions_done=len(results), questions_total=total
                        )
            except BaseException:
                # Ctrl-C, SIGTERM or a crash: queued units are cancelled and the units in flight
                # are not waited for here (each checkpoints its questions when it ends), so the
                # caller can record the interruption at once.
                interrupted = True
                for future in pending:
                    future.cancel()
                raise
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=interrupted)
        self.progress("end", {"seconds": time.monotonic() - started, "requests": self.requests})
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
