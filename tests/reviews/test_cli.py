"""``rca review`` and friends through typer's CliRunner (an app holding only these commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.review import EXIT_HIGH_RISK, register
from tests.reviews import pdfs
from tests.reviews.conftest import DR, design_pdf

app = typer.Typer(pretty_exceptions_enable=False)


@app.callback()
def _main() -> None:
    """Test app."""


register(app)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RCA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RCA_REVIEW_TABLE", raising=False)


def _json(result) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_review_writes_reports_and_prints_the_summary_and_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["review", str(design_pdf(DR)), "--out", str(out), "-f", "md,html"])
    assert result.exit_code == 0, result.output
    assert "Total" in result.stdout and "Reliability" in result.stdout
    assert "WA Tool dry run" in result.stdout and "pass --apply" in result.stdout
    names = sorted(p.suffix for p in out.iterdir())
    assert names == [".html", ".json", ".md"]  # reports, and the full plan as JSON
    listing = _json(runner.invoke(app, ["review-list", "--json"]))
    (record,) = listing["reviews"]
    assert record["state"] == "completed" and record["questions_done"] == 57


def test_json_output_is_one_document_and_resume_redoes_nothing(tmp_path: Path) -> None:
    doc = _json(
        runner.invoke(
            app,
            [
                "review",
                str(design_pdf(DR)),
                "--pillar",
                "rel",
                "--mode",
                "deep",
                "--json",
                "--out",
                str(tmp_path),
            ],
        )
    )
    assert set(doc) == {"review", "assessment", "reports", "wa_plan", "wa_tool"}
    assert doc["review"]["pillars"] == ["reliability"] and doc["assessment"]["mode"] == "deep"
    assert len(doc["assessment"]["questions"]) == 13 and doc["wa_tool"] is None
    plan = json.loads(Path(doc["wa_plan"]).read_text())
    assert sum(c["operation"] == "UpdateAnswer" for c in plan["calls"]) == 13
    review_id = doc["review"]["id"]
    again = _json(
        runner.invoke(app, ["review", "--resume", review_id, "--json", "--out", str(tmp_path)])
    )
    assert again["review"]["updated_at"] == doc["review"]["updated_at"]  # nothing re-assessed
    report = runner.invoke(
        app, ["review-report", review_id, "--out", str(tmp_path / "r"), "-f", "csv"]
    )
    assert report.exit_code == 0 and (tmp_path / "r" / f"review-{review_id}.csv").is_file()


def test_bad_pdf_fails_in_one_line_and_is_recorded(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(pdfs.encrypted_pdf(["secret"]))
    result = runner.invoke(app, ["review", str(locked), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: locked.pdf: the PDF is password protected")
    assert len(result.stderr.strip().splitlines()) == 1
    (record,) = _json(runner.invoke(app, ["review-list", "--json"]))["reviews"]
    assert record["state"] == "failed" and record["error_kind"] == "encrypted"
    text = runner.invoke(app, ["review-list"]).stdout
    assert "failed" in text and "password protected" in text


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["review"]).exit_code == 2
    assert runner.invoke(app, ["review", str(tmp_path / "missing.pdf")]).exit_code == 2
    assert runner.invoke(app, ["review", str(design_pdf(DR)), "-f", "docx"]).exit_code == 2
    assert runner.invoke(app, ["review", str(design_pdf(DR)), "--mode", "thorough"]).exit_code == 2
    applied = runner.invoke(app, ["review", str(design_pdf(DR)), "--apply", "--out", str(tmp_path)])
    assert applied.exit_code == 2 and "--yes" in applied.stderr


def test_fail_on_high_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "review",
            str(design_pdf(DR)),
            "-p",
            "sec",
            "--fail-on-high",
            "--quiet",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == EXIT_HIGH_RISK


def test_review_chat_answers_and_refuses(tmp_path: Path) -> None:
    doc = _json(
        runner.invoke(
            app, ["review", str(design_pdf(DR)), "-p", "rel", "--json", "--out", str(tmp_path)]
        )
    )
    review_id = doc["review"]["id"]
    answer = runner.invoke(app, ["review-chat", review_id, "How is the database backed up?"])
    assert (
        answer.exit_code == 0
        and "[p. " in answer.stdout
        and "[rel_backing_up_data" in answer.stdout
    )
    refused = runner.invoke(app, ["review-chat", review_id, "What is the capital of France?"])
    assert refused.exit_code == 0 and "I cannot answer that from this review" in refused.stdout
    turn = _json(runner.invoke(app, ["review-chat", review_id, "REL 9", "--json"]))
    assert turn["role"] == "assistant" and any(c["kind"] == "question" for c in turn["citations"])
    missing = runner.invoke(app, ["review-chat", "nope-1234", "hello"])
    assert missing.exit_code == 1 and "no review 'nope-1234'" in missing.stderr
    # questions piped on stdin (not a terminal): every one answered, no "you:" prompt printed
    piped = runner.invoke(app, ["review-chat", review_id], input="What is the RPO?\n\nREL 9\n")
    assert piped.exit_code == 0 and "you:" not in piped.stdout + piped.stderr
    assert "RPO" in piped.stdout and "REL 9" in piped.stdout


def test_review_of_an_s3_document_and_a_refused_upload(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    from tests.reviews.test_service import PAGES

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(
            Bucket="designs", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        s3.put_object(Bucket="designs", Key="a/order.pdf", Body=pdfs.text_pdf(PAGES))
        s3.put_object(Bucket="designs", Key="a/notes.pdf", Body=b"not a pdf at all")
        args = ["--region", "eu-central-1", "--out", str(tmp_path)]
        doc = _json(
            runner.invoke(app, ["review", "s3://designs/a/order.pdf", "-p", "rel", "--json", *args])
        )
        assert doc["review"]["document"] == "s3://designs/a/order.pdf"
        assert doc["review"]["state"] == "completed" and len(doc["assessment"]["questions"]) == 13
        bad = runner.invoke(app, ["review", "s3://designs/a/notes.pdf", *args])
    assert bad.exit_code == 1 and bad.stderr.strip() == (
        "error: notes.pdf: not a PDF (no %PDF- header); export the design document as PDF first"
    )
    (record,) = _json(runner.invoke(app, ["review-list", "--json"]))["reviews"]
    assert record["id"] == doc["review"]["id"]  # the refused upload left no record
