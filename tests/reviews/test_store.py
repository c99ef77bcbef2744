"""The review store on SQLite and on DynamoDB (moto): one behaviour, two backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from reviews.errors import ReviewNotFoundError, StoreError
from reviews.models import (
    ChatTurn,
    Citation,
    DocumentText,
    PageText,
    QuestionAssessment,
    ReviewRecord,
)
from reviews.store import DynamoReviewStore, ReviewStore, SqliteReviewStore, default_db_path

REGION = "eu-central-1"


def _doc(chars: int = 200) -> DocumentText:
    text = ("Route 53 health checks fail over to the DR Region. " * (chars // 50 + 1))[:chars]
    return DocumentText(
        source="design.pdf",
        sha256="b" * 64,
        extractor="pdfplumber",
        pages=[
            PageText(number=1, text=text, tables=[[["Metric", "Target"], ["RTO", "15 minutes"]]])
        ],
    )


def _question(qid: str = "backing-up-data") -> QuestionAssessment:
    return QuestionAssessment.model_validate(
        {
            "question_id": qid,
            "number": "REL 9",
            "pillar_id": "reliability",
            "title": "How do you back up data?",
            "best_practices": [
                {
                    "choice_id": "rel_backing_up_data_identified_backups_data",
                    "title": "Identify and back up all data",
                    "verdict": "addressed",
                    "status": "SELECTED",
                    "evidence": [{"page": 10, "text": "Backup: Aurora automated backups"}],
                    "guidance": ["rel_backing_up_data_identified_backups_data"],
                }
            ],
            "risk": "NONE",
            "assessor": "heuristic",
        }
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewStore]:
    if request.param == "sqlite":
        yield SqliteReviewStore(tmp_path / "reviews.db", inline_limit=2_000)
        return
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="rca-texts", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        DynamoReviewStore.create_table(dynamodb, "rca-reviews")
        yield DynamoReviewStore(
            "rca-reviews", dynamodb, s3=s3, bucket="rca-texts", inline_limit=2_000
        )


def test_records_move_through_their_states(any_store: ReviewStore) -> None:
    record = any_store.create(
        ReviewRecord(id="rev-0001", document="/tmp/d.pdf", document_name="d.pdf")
    )
    assert any_store.get("rev-0001") == record
    assert any_store.set_state("rev-0001", "extracting").state == "extracting"
    any_store.set_state("rev-0001", "assessing")
    with pytest.raises(StoreError, match="cannot go from assessing to submitted"):
        any_store.set_state("rev-0001", "submitted")
    failed = any_store.set_state(
        "rev-0001", "failed", error="Bedrock throttled", error_kind="assessing"
    )
    assert (failed.state, failed.error, failed.error_kind) == (
        "failed",
        "Bedrock throttled",
        "assessing",
    )
    resumed = any_store.set_state("rev-0001", "assessing")
    assert resumed.error is None and resumed.error_kind is None  # a resumed review clears the error
    done = any_store.set_state("rev-0001", "completed", questions_done=57)
    assert done.questions_done == 57 and done.updated_at >= record.updated_at
    with pytest.raises(StoreError, match="already exists"):
        any_store.create(record)
    with pytest.raises(ReviewNotFoundError):
        any_store.get("rev-nope")


def test_question_checkpoints(any_store: ReviewStore) -> None:
    any_store.create(ReviewRecord(id="rev-0002", document="d.pdf", document_name="d.pdf"))
    any_store.save_question("rev-0002", _question())
    any_store.save_question("rev-0002", _question())  # idempotent overwrite
    any_store.save_question("rev-0002", _question("planning-for-recovery"))
    saved = sorted(any_store.questions("rev-0002"), key=lambda q: q.question_id)
    assert [q.question_id for q in saved] == ["backing-up-data", "planning-for-recovery"]
    assert saved[0] == _question()
    any_store.clear_questions("rev-0002")
    assert any_store.questions("rev-0002") == []


def test_small_text_inline_and_large_text_outside_the_record(any_store: ReviewStore) -> None:
    any_store.create(ReviewRecord(id="rev-0003", document="d.pdf", document_name="d.pdf"))
    assert any_store.save_document("rev-0003", _doc(200)) == "inline"
    assert any_store.load_document("rev-0003") == _doc(200)
    big = _doc(50_000)
    big.pages.append(
        PageText(number=2, text="".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(20_000)))
    )
    ref = any_store.save_document("rev-0003", big)
    assert ref != "inline"
    if isinstance(any_store, SqliteReviewStore):
        assert (
            Path(ref).is_file() and Path(ref).parent == any_store.path.parent / "review-documents"
        )
    else:
        assert ref == "s3://rca-texts/reviews/text/rev-0003.json.gz"
    assert any_store.load_document("rev-0003") == big


def test_chat_turns_and_listing(any_store: ReviewStore) -> None:
    for n in range(3):
        any_store.create(
            ReviewRecord(id=f"rev-100{n}", document="d.pdf", document_name=f"d{n}.pdf")
        )
    turns = [
        ChatTurn(role="user", text="Is the database backed up?"),
        ChatTurn(role="assistant", text="Yes [p. 10]", citations=[Citation(kind="page", ref="10")]),
    ]
    for turn in turns:
        any_store.append_chat("rev-1001", turn)
    assert any_store.chat("rev-1001") == turns
    assert any_store.chat("rev-1002") == []
    assert {r.id for r in any_store.list_reviews()} == {"rev-1000", "rev-1001", "rev-1002"}
    assert len(any_store.list_reviews(limit=2)) == 2


def test_dynamodb_without_bucket_refuses_large_text() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        DynamoReviewStore.create_table(dynamodb, "rca-reviews")
        store = DynamoReviewStore("rca-reviews", dynamodb, inline_limit=100)
        store.create(ReviewRecord(id="rev-0004", document="d.pdf", document_name="d.pdf"))
        with pytest.raises(StoreError, match="RCA_REVIEW_BUCKET"):
            store.save_document("rev-0004", _doc(5_000))
        missing = DynamoReviewStore("no-such-table", dynamodb)
        with pytest.raises(StoreError, match="not found"):
            missing.get("rev-0004")


def test_default_path_follows_rca_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RCA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "reviews.db"
    monkeypatch.delenv("RCA_HOME")
    assert default_db_path() == Path.home() / ".local" / "share" / "rca" / "reviews.db"
