"""Concurrent writers on one review: parallel chat processes and parallel "assess one question"
processes on one SQLite store, with what was stored, the lost races retried, and wall time.

Usage::

    python benchmarks/review_concurrency.py [--processes 4] [--chats 3]

Rows:

- ``chat, before the fix``: :meth:`ReviewService.chat` over a store that appends turns the
  former way (count the turns, insert turn ``count + 1``, no version check, no retry),
  reproduced here as the baseline, in ``--processes`` processes of ``--chats`` chats each;
- ``chat, versioned``: :meth:`ReviewService.chat` in the same processes (answers computed for
  real, turns written with the turn-number check and retried);
- ``assess_question``: every process walks all 24 questions of two pillars from a different
  starting point (:meth:`ReviewService.assess_question`, idempotent, version-checked counter).

The document is a generated two-page PDF (``tests/reviews/pdfs.py``); processes are started with
``spawn`` and released together by a barrier. ``retries`` sums each process's
:attr:`ReviewStore.retries` (writes that lost a race and were retried). Nothing is fitted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PILLARS = ["reliability", "operationalExcellence"]


def _chat(db: str, review_id: str, opts: dict[str, Any], n: int, barrier: Any, queue: Any) -> None:
    from reviews.models import ChatTurn
    from reviews.service import ReviewService
    from reviews.store import SqliteReviewStore

    class NaiveStore(SqliteReviewStore):
        """The former append: count the turns, insert ``count + 1``; no check, no retry."""

        def append_turns(self, review_id: str, turns: list[ChatTurn]) -> int:
            for turn in turns:
                with self._conn() as conn:
                    (count,) = conn.execute(
                        "SELECT COUNT(*) FROM review_chat WHERE review_id=?", (review_id,)
                    ).fetchone()
                    conn.execute(
                        "INSERT INTO review_chat (review_id, n, data) VALUES (?, ?, ?)",
                        (review_id, count + 1, turn.model_dump_json()),
                    )
            return 0

    service = ReviewService((NaiveStore if opts["naive"] else SqliteReviewStore)(Path(db)))
    failed = 0
    barrier.wait(timeout=120)
    for i in range(opts["chats"]):
        try:
            service.chat(review_id, f"How is the database backed up? (worker {n}, chat {i})")
        except Exception:  # the unique constraint of the issue report
            failed += 1
    queue.put((failed, service.store.retries))


def _assess(
    db: str, review_id: str, opts: dict[str, Any], n: int, barrier: Any, queue: Any
) -> None:
    from reviews.service import ReviewService
    from reviews.store import SqliteReviewStore

    service = ReviewService(SqliteReviewStore(Path(db)))
    ids = service.questions(review_id)
    workers = int(opts["workers"])
    start = n * len(ids) // workers
    failed = 0
    barrier.wait(timeout=120)
    for qid in ids[start:] + ids[:start]:
        try:
            service.assess_question(review_id, qid)
        except Exception:
            failed += 1
    queue.put((failed, service.store.retries))


def _processes(target: Any, processes: int, *args: Any) -> tuple[float, int, int]:
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(processes + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, n, barrier, queue)) for n in range(processes)]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)  # every process has imported and opened its store
    started = time.perf_counter()
    results = [queue.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - started
    for p in procs:
        p.join(timeout=60)
    return seconds, sum(r[0] for r in results), sum(r[1] for r in results)


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 0 when the versioned rows stored everything, else 1."""
    from reviews.service import ReviewOptions, ReviewService
    from reviews.store import SqliteReviewStore
    from tests.reviews import pdfs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--chats", type=int, default=3)
    args = parser.parse_args(argv)
    p, c = args.processes, args.chats
    rows = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "order-service.pdf"
        pdf.write_bytes(pdfs.text_pdf(pdfs.DESIGN_PAGES))
        for name, naive in (("chat, before the fix", True), ("chat, versioned", False)):
            db = Path(tmp) / f"{len(rows)}.db"
            service = ReviewService(SqliteReviewStore(db))
            rid = service.submit(pdf, options=ReviewOptions(pillars=PILLARS)).id
            service.run(rid)
            opts = {"naive": naive, "chats": c}
            seconds, failed, retries = _processes(_chat, p, str(db), rid, opts)
            stored = len(service.history(rid))
            rows.append((name, f"{stored}/{2 * p * c} turns", failed, retries, seconds))
            ok = ok and (naive or stored == 2 * p * c)
        db = Path(tmp) / "assess.db"
        service = ReviewService(SqliteReviewStore(db))
        rid = service.submit(pdf, options=ReviewOptions(pillars=PILLARS)).id
        service.extract(rid)
        seconds, failed, retries = _processes(_assess, p, str(db), rid, {"workers": p})
        total = len(service.questions(rid))
        stored = len(service.store.questions(rid))
        counted = service.status(rid).questions_done
        rows.append(
            (
                "assess_question",
                f"{stored}/{total} questions, counter {counted}",
                failed,
                retries,
                seconds,
            )
        )
        ok = ok and stored == counted == total
    print(f"{p} processes, {c} chats each; one SQLite store (WAL)")
    print(f"{'writers':<22} {'stored':<30} {'failed':>6} {'retries':>7} {'seconds':>8}")
    for name, stored_text, failed, retries, seconds in rows:
        print(f"{name:<22} {stored_text:<30} {failed:>6} {retries:>7} {seconds:>8.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
