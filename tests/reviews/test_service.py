"""ReviewService: submit (local path and s3:// URI), run, the unit steps, status, chat, reports,
summary, plan and apply, over the embedded world (SQLite, pdfplumber, BM25, heuristic)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from reviews.errors import DocumentTooLargeError, NotAPdfError, ReviewError
from reviews.extract import PdfPlumberExtractor
from reviews.service import (
    ConfirmationRequired,
    ReviewEvent,
    ReviewOptions,
    ReviewService,
    ReviewSettings,
)
from reviews.store import SqliteReviewStore
from tests.reviews import pdfs

REGION = "eu-central-1"
PAGES = pdfs.DESIGN_PAGES
RELIABILITY = ReviewOptions(mode="quick", pillars=["reliability"])


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "order-service.pdf"
    path.write_bytes(pdfs.text_pdf(PAGES))
    return path


@pytest.fixture
def service(tmp_path: Path) -> ReviewService:
    return ReviewService(SqliteReviewStore(tmp_path / "reviews.db"))


def test_submit_run_status_reports_summary_and_chat(service: ReviewService, pdf: Path) -> None:
    events: list[ReviewEvent] = []
    record = service.submit(pdf, options=RELIABILITY, listener=events.append)
    assert record.state == "submitted" and record.document == str(pdf.resolve())
    assert record.questions_total == 13 and record.pillars == ["reliability"]
    done = service.run(record.id, listener=events.append)
    assert done.state == "completed" and done.questions_done == 13
    assert service.status(record.id) == done
    kinds = [e.kind for e in events]
    assert kinds[0] == "submitted" and "extracted" in kinds
    states = [e.state for e in events if e.kind == "state_changed"]
    assert states == ["extracting", "assessing", "completed"]
    assessed = [e for e in events if e.kind == "question_assessed"]
    assert len(assessed) == 13 and assessed[-1].done == 13 and assessed[-1].total == 13

    reports = service.reports(record.id)
    assert set(reports) == {"md", "html", "json", "csv"}
    assert "REL 9" in reports["md"] and reports["html"].lstrip().lower().startswith("<!doctype")
    summary = service.summary(record.id)
    assert summary.questions == 13 and sum(summary.risk_counts.values()) == 13
    assert [p.pillar_id for p in summary.pillars] == ["reliability"]
    assert 0 < len(summary.improvements) <= 5
    assert [i.priority for i in summary.improvements] == sorted(
        i.priority for i in summary.improvements
    )

    answer = service.chat(record.id, "How is the database backed up?")
    assert answer.answered and answer.turn == 1
    assert any(c.kind == "page" for c in answer.citations)
    second = service.chat(record.id, "What is the capital of France?")
    assert not second.answered and second.turn == 3
    turns = service.history(record.id)
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0].text == "How is the database backed up?" and turns[1].text == answer.text


def test_run_resumes_from_checkpoints_and_leaves_a_completed_review(
    service: ReviewService, pdf: Path
) -> None:
    record = service.submit(pdf, options=RELIABILITY)
    service.extract(record.id)
    for qid in service.questions(record.id)[:5]:
        service.assess_question(record.id, qid)
    events: list[ReviewEvent] = []
    first = service.run(record.id, listener=events.append)
    started = next(e for e in events if e.kind == "assessment_started")
    assert started.done == 5 and started.total == 13
    assert len([e for e in events if e.kind == "question_assessed"]) == 8
    assert first.state == "completed" and first.questions_done == 13
    events.clear()
    assert service.run(record.id, listener=events.append) == first  # unchanged, no events
    assert events == []


def test_unit_steps_give_the_same_assessment_as_run(tmp_path: Path, pdf: Path) -> None:
    whole = ReviewService(SqliteReviewStore(tmp_path / "a.db"))
    steps = ReviewService(SqliteReviewStore(tmp_path / "b.db"))
    for mode in ("quick", "deep"):
        options = ReviewOptions(mode=mode, pillars=["reliability", "security"])  # type: ignore[arg-type]
        a = whole.submit(pdf, options=options)
        whole.run(a.id)
        b = steps.submit(pdf, options=options)
        assert steps.extract(b.id).state == "assessing"
        assert steps.extract(b.id).text_ref  # idempotent
        ids = steps.questions(b.id)
        assert ids == whole.questions(a.id) and len(ids) == 13 + 11
        for qid in reversed(ids):  # any order
            steps.assess_question(b.id, qid)
        with pytest.raises(ReviewError):
            steps.assess_question(b.id, "not-a-question")
        again = steps.assess_question(b.id, ids[0])  # idempotent: the stored result
        assert again == steps.assessment(b.id).question(ids[0])
        assert steps.finalize(b.id).state == "completed"
        left = whole.assessment(a.id).model_dump(exclude={"review_id", "created_at"})
        right = steps.assessment(b.id).model_dump(exclude={"review_id", "created_at"})
        assert left == right
        assert steps.status(b.id).questions_done == len(ids)


def test_finalize_refuses_missing_questions(service: ReviewService, pdf: Path) -> None:
    record = service.submit(pdf, options=RELIABILITY)
    service.extract(record.id)
    first, *rest = service.questions(record.id)
    service.assess_question(record.id, first)
    assert service.questions(record.id, pending_only=True) == rest
    with pytest.raises(ReviewError, match="12 unassessed"):
        service.finalize(record.id)
    assert service.status(record.id).state == "assessing"


def test_assess_before_extract_is_refused(service: ReviewService, pdf: Path) -> None:
    record = service.submit(pdf, options=RELIABILITY)
    with pytest.raises(ReviewError, match="extract it first"):
        service.assess_question(record.id, service.questions(record.id)[0])


def test_submit_checks_type_and_size_before_reading(tmp_path: Path, pdf: Path) -> None:
    service = ReviewService(
        SqliteReviewStore(tmp_path / "r.db"), extractor=PdfPlumberExtractor(max_bytes=4096)
    )
    fake = tmp_path / "notes.pdf"
    fake.write_text("just some notes, not a PDF")
    with pytest.raises(NotAPdfError, match="not a PDF"):
        service.submit(fake)
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * 5000)
    with pytest.raises(DocumentTooLargeError, match="limit of the pdfplumber extractor"):
        service.submit(big)
    with pytest.raises(NotAPdfError, match="no such file"):
        service.submit(tmp_path / "missing.pdf")
    assert service.recent() == []  # nothing was recorded
    assert service.submit(pdf).state == "submitted"


def test_a_key_maps_to_one_review(service: ReviewService, pdf: Path) -> None:
    assert service.find("T1/C1/1712.5") is None
    first = service.submit(pdf, options=RELIABILITY, key="T1/C1/1712.5")
    again = service.submit(pdf, options=RELIABILITY, key="T1/C1/1712.5")  # a retried event
    assert again.id == first.id and len(service.recent()) == 1
    found = service.find("T1/C1/1712.5")
    assert found is not None and found.id == first.id
    other = service.submit(pdf, options=RELIABILITY, key="T1/C1/1800.1")
    assert other.id != first.id


def test_plan_and_apply_refused_without_confirmation(service: ReviewService, pdf: Path) -> None:
    record = service.submit(pdf, options=RELIABILITY)
    service.run(record.id)
    plan = service.plan(record.id, workload_name="order service")
    assert plan.workload_name == "order service"
    assert sum(c.operation == "UpdateAnswer" for c in plan.calls) == 13
    default = service.plan(record.id)
    assert default.workload_name == "order-service"  # the file name (the PDF has no title)

    class Refuse:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the WA Tool was called ({name}) without confirmation")

    guarded = ReviewService(service.store, wa=Refuse())
    for confirm in (False, None, "yes"):
        with pytest.raises(ConfirmationRequired, match="explicit confirmation"):
            guarded.apply(record.id, confirm=confirm)  # type: ignore[arg-type]
    assert guarded.status(record.id).state == "completed"


@mock_aws
def test_s3_document_is_checked_downloaded_and_reviewed(tmp_path: Path, pdf: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="designs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="designs", Key="team/order-service.pdf", Body=pdf.read_bytes())
    s3.put_object(Bucket="designs", Key="team/notes.pdf", Body=b"plain text, no header")
    service = ReviewService(
        SqliteReviewStore(tmp_path / "r.db"),
        settings=ReviewSettings(region=REGION, reports_uri="s3://designs/reports/"),
        s3=s3,
    )
    uri = "s3://designs/team/order-service.pdf"
    record = service.submit(uri, options=RELIABILITY, key="slack/T1/C1/99.1")
    assert record.document == uri and record.document_name == "order-service.pdf"
    events: list[ReviewEvent] = []
    done = service.run(record.id, listener=events.append)
    assert done.state == "completed" and done.sha256 and done.pages == 2
    written = [e.text for e in events if e.kind == "report_written"]
    assert sorted(written) == [
        f"s3://designs/reports/review-{record.id}.{fmt}" for fmt in ("csv", "html", "json", "md")
    ]
    body = s3.get_object(Bucket="designs", Key=f"reports/review-{record.id}.md")["Body"].read()
    assert body.decode() == service.reports(record.id, ["md"])["md"]
    with pytest.raises(NotAPdfError, match="not a PDF"):
        service.submit("s3://designs/team/notes.pdf")
    with pytest.raises(NotAPdfError, match="no such S3 object"):
        service.submit("s3://designs/team/missing.pdf")
    with pytest.raises(ReviewError, match="s3://bucket/key"):
        service.submit("s3://designs")


@mock_aws
def test_the_aws_world_dynamodb_store_and_s3_document(pdf: Path) -> None:
    from reviews.store import DynamoReviewStore

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    DynamoReviewStore.create_table(dynamodb, "reviews")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="designs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="designs", Key="order-service.pdf", Body=pdf.read_bytes())
    store = DynamoReviewStore("reviews", dynamodb, s3=s3, bucket="designs")
    service = ReviewService(store, s3=s3)
    key = "T0001/C0002/1733450000.000100"
    record = service.submit("s3://designs/order-service.pdf", options=RELIABILITY, key=key)
    service.extract(record.id)
    for qid in service.questions(record.id):
        service.assess_question(record.id, qid)
    assert service.finalize(record.id).state == "completed"
    found = service.find(key)
    assert found is not None and found.id == record.id and found.questions_done == 13
    first = service.chat(record.id, "How is the database backed up?")
    second = service.chat(record.id, "And the restores?")
    assert (first.turn, second.turn) == (1, 3) and first.answered
    assert [t.role for t in service.history(record.id)] == ["user", "assistant"] * 2
    assert service.recent()[0].id == record.id  # key items are not reviews


def test_aws_settings_build_the_aws_parts_through_make_client(tmp_path: Path) -> None:
    from reviews.assessors.bedrock import BedrockAssessor
    from reviews.retrieve import BedrockKbRetriever
    from reviews.textract import TextractExtractor
    from tools.aws.session import USER_AGENT

    settings = ReviewSettings.from_env(
        {
            "RCA_REVIEW_ASSESSOR": "bedrock",
            "RCA_REVIEW_EXTRACTOR": "textract",
            "RCA_REVIEW_BUCKET": "review-docs",
            "RCA_REVIEW_KB_ID": "KB12345678",
            "RCA_MODEL_ID": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "AWS_REGION": REGION,
        },
        max_workers=2,
    )
    assert settings.assessor == "bedrock" and settings.max_workers == 2
    service = ReviewService(SqliteReviewStore(tmp_path / "r.db"), settings=settings)
    assert isinstance(service.extractor, TextractExtractor)
    assert isinstance(service.assessor, BedrockAssessor)
    assert isinstance(service.retriever, BedrockKbRetriever)
    assert service.bedrock_model() == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    for name in ("textract", "s3", "bedrock-runtime", "bedrock-agent-runtime"):
        client = service.client(name)
        config = client.meta.config
        assert client.meta.region_name == REGION
        assert config.retries["mode"] == "adaptive" and USER_AGENT in config.user_agent_extra
    with pytest.raises(ReviewError, match="needs --bucket"):
        ReviewService(
            SqliteReviewStore(tmp_path / "r.db"), settings=ReviewSettings(extractor="textract")
        )


def test_a_failing_listener_never_fails_the_review(service: ReviewService, pdf: Path) -> None:
    seen: list[str] = []

    def flaky(event: ReviewEvent) -> None:
        seen.append(event.kind)
        raise RuntimeError("slack is down")

    record = service.submit(pdf, options=RELIABILITY, listener=flaky)
    assert service.run(record.id, listener=flaky).state == "completed"
    assert seen.count("question_assessed") == 13


@pytest.mark.parametrize("step", ["load_document", "finalize"])
def test_a_signal_between_the_steps_of_run_leaves_no_stale_state(
    service: ReviewService, pdf: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """A Ctrl-C after extraction stored ``assessing`` (while the document loads) or while the
    review is finalized marks the review ``failed`` / ``interrupted``, never a stale
    ``assessing``; the resume then completes it. (Found by the 50 interrupted reviews test.)"""
    record = service.submit(pdf, options=RELIABILITY)
    target = service.store if step == "load_document" else service
    real = getattr(target, step)
    calls = {"n": 0}

    def interrupted_once(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(target, step, interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        service.run(record.id)
    stopped = service.status(record.id)
    assert stopped.state == "failed" and stopped.error_kind == "interrupted"
    assert "--resume" in (stopped.error or "")
    assert service.run(record.id).state == "completed"
