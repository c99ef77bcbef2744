"""Reviews in Slack: a PDF shared in a DM is checked, downloaded with the bot token, reviewed
through ReviewService, summarised in the thread with the HTML report uploaded; thread replies
are review chat."""

from __future__ import annotations

import json
from pathlib import Path

from agent.sessions import SqliteSessionStore
from reviews.service import ReviewOptions, ReviewService
from reviews.store import SqliteReviewStore
from slackbot.reviews import ReviewHandlers
from tests.reviews import pdfs
from tests.slackbot.conftest import chain_config, event, make_app
from tests.slackbot.fake_slack import FakeSlack

PAGES = pdfs.DESIGN_PAGES


def _app(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path, limit: int = 5_000_000
):  # type: ignore[no-untyped-def]
    service = ReviewService(SqliteReviewStore(tmp_path / "reviews.db"))
    handlers = ReviewHandlers(
        service,
        max_pdf_bytes=limit,
        options=ReviewOptions(mode="quick", pillars=["reliability"]),
        file_hosts=frozenset({"127.0.0.1"}),
    )
    return make_app(fake, store, chain_config(chain), tmp_path, reviews=handlers), service


def _share(
    fake: FakeSlack, data: bytes, *, filetype: str = "pdf", size: int | None = None
) -> dict[str, str]:
    fake.files["/files/F1/design.pdf"] = data
    fake.file_info["F1"] = {
        "id": "F1",
        "name": "order-service.pdf",
        "filetype": filetype,
        "mimetype": "application/pdf" if filetype == "pdf" else "text/plain",
        "size": len(data) if size is None else size,
        "url_private": fake.url("/files/F1/design.pdf"),
    }
    return {
        "type": "file_shared",
        "file_id": "F1",
        "user_id": "U1",
        "channel_id": "D1",
        "event_ts": "1700000900.000001",
    }


def test_pdf_shared_in_a_dm_is_reviewed_with_the_report_uploaded(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app, service = _app(fake, store, chain, tmp_path)
    assert app.dispatch(event(_share(fake, pdfs.text_pdf(PAGES)), "Ev-file-1")).status == 200
    fake.wait_for(lambda: fake.of("files.completeUploadExternal"), timeout=120)
    downloads = fake.of("download")
    assert len(downloads) == 1  # fetched once, with the bot token (the fake refuses otherwise)
    root = fake.of("chat.postMessage")[0]
    assert root["channel"] == "D1" and "order-service.pdf" in root["text"]
    summary = next(
        p
        for p in fake.of("chat.postMessage")
        if p.get("blocks") and p["blocks"][0].get("type") == "header"
    )
    text = json.dumps(summary["blocks"])
    assert "Risk per pillar" in text and "Reliability" in text and "Top improvements" in text
    upload = fake.of("files.completeUploadExternal")[0]
    assert upload["channel_id"] == "D1" and upload["thread_ts"] == summary["thread_ts"]
    assert fake.uploads[0].lstrip().lower().startswith(b"<!doctype html")
    record = service.find(f"T1/D1/{summary['thread_ts']}")
    assert record is not None and record.state == "completed"
    # a reply in the thread is review chat
    reply = {
        "type": "message",
        "channel": "D1",
        "channel_type": "im",
        "user": "U1",
        "text": "How is the database backed up?",
        "ts": "1700000950.000001",
        "thread_ts": summary["thread_ts"],
    }
    app.dispatch(event(reply, "Ev-chat-1"))
    fake.wait_for(lambda: any("Sources" in str(p.get("text")) for p in fake.of("chat.postMessage")))
    assert [t.role for t in service.history(record.id)] == ["user", "assistant"]


def test_shared_file_type_and_size_are_checked_before_download(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app, _ = _app(fake, store, chain, tmp_path, limit=10_000)
    app.dispatch(event(_share(fake, b"just text", filetype="text"), "Ev-file-txt"))
    fake.wait_for(
        lambda: any("not a PDF" in str(p.get("text")) for p in fake.of("chat.postMessage"))
    )
    app.dispatch(event(_share(fake, pdfs.text_pdf(PAGES), size=50_000_000), "Ev-file-big"))
    fake.wait_for(
        lambda: any(
            "the limit is 10000 bytes" in str(p.get("text")) for p in fake.of("chat.postMessage")
        )
    )
    assert fake.of("download") == []  # nothing was fetched


def test_wafr_with_an_s3_document_reviews_it_in_a_thread(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    import boto3
    from moto import mock_aws

    from tests.slackbot.conftest import command

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(
            Bucket="designs", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        s3.put_object(Bucket="designs", Key="order-service.pdf", Body=pdfs.text_pdf(PAGES))
        service = ReviewService(SqliteReviewStore(tmp_path / "reviews.db"), s3=s3)
        handlers = ReviewHandlers(
            service, max_pdf_bytes=5_000_000, options=ReviewOptions(pillars=["reliability"])
        )
        app = make_app(fake, store, chain_config(chain), tmp_path, reviews=handlers)
        usage = app.dispatch(command("", name="/wafr"))
        assert "direct message" in usage.body
        ack = app.dispatch(command("s3://designs/order-service.pdf", name="/wafr"))
        assert "Starting a Well-Architected review" in ack.body
        fake.wait_for(lambda: fake.of("files.completeUploadExternal"), timeout=120)
    root = fake.of("chat.postMessage")[0]
    assert root["channel"] == "C1" and "s3://designs/order-service.pdf" in root["text"]
    record = service.find(f"T1/C1/{fake.of('files.completeUploadExternal')[0]['thread_ts']}")
    assert record is not None and record.state == "completed"
