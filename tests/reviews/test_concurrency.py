"""Concurrent writers on one review never lose a write: real parallel processes on SQLite, and
the DynamoDB conditional writes (moto) refusing a stale write that is then retried."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from reviews.errors import ReviewConflictError
from reviews.models import ChatTurn, ReviewRecord
from reviews.service import ReviewOptions, ReviewService
from reviews.store import DynamoReviewStore, ReviewStore, SqliteReviewStore
from tests.reviews import pdfs
from tests.reviews.test_service import PAGES

WORKERS = 4
CHATS_EACH = 3
QUESTIONS = [
    "How is the database backed up?",
    "Which Availability Zones does the order service use?",
    "How are deployments rolled back?",
    "What is the highest priority improvement?",
]


def _chat_worker(db: str, review_id: str, n: int, barrier: Any) -> None:
    service = ReviewService(SqliteReviewStore(Path(db)))
    barrier.wait(timeout=120)
    for i in range(CHATS_EACH):
        service.chat(review_id, f"{QUESTIONS[n]} (worker {n}, turn {i})")


def _assess_worker(db: str, review_id: str, n: int, barrier: Any) -> None:
    service = ReviewService(SqliteReviewStore(Path(db)))
    ids = service.questions(review_id)
    barrier.wait(timeout=120)
    # every worker walks every question from another starting point: workers race on the
    # record's counter and sometimes assess the same question at once
    for qid in ids[n * len(ids) // WORKERS :] + ids[: n * len(ids) // WORKERS]:
        service.assess_question(review_id, qid)


def _in_processes(target: Any, *args: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=target, args=(*args, n, barrier)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert codes == [0] * WORKERS, f"worker exit codes {codes}"


@pytest.fixture
def extracted(tmp_path: Path) -> tuple[Path, str]:
    """A SQLite store with one extracted (not yet assessed) review of two pillars."""
    pdf = tmp_path / "order-service.pdf"
    pdf.write_bytes(pdfs.text_pdf(PAGES))
    db = tmp_path / "reviews.db"
    service = ReviewService(SqliteReviewStore(db))
    options = ReviewOptions(pillars=["reliability", "operationalExcellence"])
    record = service.submit(pdf, options=options)
    service.extract(record.id)
    return db, record.id


def test_parallel_chats_in_processes_all_land(extracted: tuple[Path, str]) -> None:
    db, review_id = extracted
    ReviewService(SqliteReviewStore(db)).run(review_id)
    _in_processes(_chat_worker, str(db), review_id)
    turns = SqliteReviewStore(db).chat(review_id)
    assert len(turns) == 2 * WORKERS * CHATS_EACH
    asked = [t.text for t in turns if t.role == "user"]
    assert sorted(asked) == sorted(
        f"{QUESTIONS[n]} (worker {n}, turn {i})" for n in range(WORKERS) for i in range(CHATS_EACH)
    )
    # each question is directly followed by its own answer
    assert [t.role for t in turns] == ["user", "assistant"] * WORKERS * CHATS_EACH


def test_parallel_assess_question_in_processes_keeps_every_question(
    extracted: tuple[Path, str], tmp_path: Path
) -> None:
    db, review_id = extracted
    _in_processes(_assess_worker, str(db), review_id)
    service = ReviewService(SqliteReviewStore(db))
    ids = service.questions(review_id)
    stored = {qa.question_id for qa in service.store.questions(review_id)}
    assert stored == set(ids) and len(ids) == 13 + 11
    record = service.status(review_id)
    assert record.questions_done == len(ids) and record.state == "assessing"
    assert service.finalize(review_id).state == "completed"
    # the same assessment as one sequential run of the same document
    pdf = tmp_path / "order-service.pdf"
    one = ReviewService(SqliteReviewStore(tmp_path / "sequential.db"))
    rid = one.submit(
        pdf, options=ReviewOptions(pillars=["reliability", "operationalExcellence"])
    ).id
    one.run(rid)
    exclude = {"review_id", "created_at"}
    assert service.assessment(review_id).model_dump(exclude=exclude) == one.assessment(
        rid
    ).model_dump(exclude=exclude)


class _Interleaved:
    """Wraps a store so that another writer changes the record right after each of the first
    ``times`` reads: the write based on that read is stale and must be refused, then retried."""

    def __init__(self, store: ReviewStore, other: ReviewStore, times: int = 1) -> None:
        self.store, self.other, self.left = store, other, times
        self.puts: list[tuple[int, bool]] = []
        original_get, original_put = store.get, store._put

        def get(review_id: str) -> ReviewRecord:
            record = original_get(review_id)
            if self.left:
                self.left -= 1
                self.other.update(review_id, workload_id=f"other-{self.left}")
            return record

        def put(record: ReviewRecord, expected: int) -> None:
            try:
                original_put(record, expected)
            except ReviewConflictError:
                self.puts.append((expected, False))
                raise
            self.puts.append((expected, True))

        store.get = get  # type: ignore[method-assign]
        store._put = put  # type: ignore[method-assign]


def _record() -> ReviewRecord:
    return ReviewRecord(id="rev-2001", document="d.pdf", document_name="d.pdf")


@pytest.fixture
def dynamo() -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        DynamoReviewStore.create_table(client, "reviews")
        yield client


def test_dynamodb_refuses_a_stale_record_write_and_the_retry_lands(dynamo: Any) -> None:
    store = DynamoReviewStore("reviews", dynamo)
    other = DynamoReviewStore("reviews", dynamo)
    store.create(_record())
    stale = store.get("rev-2001")
    other.update("rev-2001", pages=3)  # version 0 -> 1
    with pytest.raises(ReviewConflictError):  # the conditional PutItem refuses version 0
        store._put(stale.model_copy(update={"version": 1, "pages": 9}), 0)
    assert store.get("rev-2001").pages == 3
    spy = _Interleaved(store, other, times=2)
    new = store.update("rev-2001", questions_done=7)
    assert spy.puts == [(1, False), (2, False), (3, True)]  # two stale writes refused
    final = other.get("rev-2001")
    assert final == new and final.version == 4
    assert final.questions_done == 7 and final.pages == 3 and final.workload_id == "other-0"


def test_dynamodb_chat_turn_numbers_are_conditional(dynamo: Any) -> None:
    store = DynamoReviewStore("reviews", dynamo)
    store.create(_record())
    a, b = ChatTurn(role="user", text="a"), ChatTurn(role="assistant", text="b")
    assert store.append_turns("rev-2001", [a, b]) == 1
    stale = store._last_turn
    calls = iter([0, 2])  # the first read is stale: turns 1 and 2 are taken
    store._last_turn = lambda review_id: next(calls)  # type: ignore[method-assign]
    c, d = ChatTurn(role="user", text="c"), ChatTurn(role="assistant", text="d")
    assert store.append_turns("rev-2001", [c, d]) == 3  # refused at 1, written at 3
    store._last_turn = stale  # type: ignore[method-assign]
    assert [t.text for t in store.chat("rev-2001")] == ["a", "b", "c", "d"]


def test_sqlite_refuses_a_stale_record_write_and_the_retry_lands(tmp_path: Path) -> None:
    store = SqliteReviewStore(tmp_path / "r.db")
    other = SqliteReviewStore(tmp_path / "r.db")
    store.create(_record())
    spy = _Interleaved(store, other, times=1)
    store.set_state("rev-2001", "extracting")
    assert spy.puts == [(0, False), (1, True)]
    final = other.get("rev-2001")
    assert final.state == "extracting" and final.workload_id == "other-0" and final.version == 2


def test_a_database_without_versions_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE reviews (id TEXT PRIMARY KEY, created_at TEXT, record TEXT)")
        old = _record().model_dump(mode="json")
        del old["version"]
        import json

        conn.execute(
            "INSERT INTO reviews VALUES (?, ?, ?)", ("rev-2001", old["created_at"], json.dumps(old))
        )
    store = SqliteReviewStore(db)
    assert store.get("rev-2001").version == 0
    assert store.update("rev-2001", pages=2).version == 1
