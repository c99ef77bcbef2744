"""Textract extraction with botocore Stubber: exact requests, polling, pagination, blocks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from reviews.errors import EncryptedPdfError, ExtractionError
from reviews.textract import TextractExtractor, blocks_to_pages
from tests.reviews import pdfs

BUCKET = "rca-review-docs"


def _line(block_id: str, text: str, page: int) -> dict[str, Any]:
    return {"BlockType": "LINE", "Id": block_id, "Text": text, "Page": page}


def _word(block_id: str, text: str, page: int) -> dict[str, Any]:
    return {"BlockType": "WORD", "Id": block_id, "Text": text, "Page": page}


def _cell(
    block_id: str, row: int, col: int, words: list[str], page: int, **span: int
) -> dict[str, Any]:
    return {
        "BlockType": "CELL",
        "Id": block_id,
        "RowIndex": row,
        "ColumnIndex": col,
        "RowSpan": span.get("rows", 1),
        "ColumnSpan": span.get("cols", 1),
        "Page": page,
        "Relationships": [{"Type": "CHILD", "Ids": words}],
    }


PAGE_1 = [
    {
        "BlockType": "PAGE",
        "Id": "p1",
        "Page": 1,
        "Relationships": [{"Type": "CHILD", "Ids": ["l2", "l1"]}],
    },
    _line("l1", "Disaster recovery design", 1),
    _line("l2", "Route 53 health checks fail over to us-west-2", 1),
    # layout says the title comes first, whatever the block order
    {
        "BlockType": "LAYOUT_TITLE",
        "Id": "lt",
        "Page": 1,
        "Relationships": [{"Type": "CHILD", "Ids": ["l1"]}],
    },
    {
        "BlockType": "LAYOUT_TEXT",
        "Id": "lx",
        "Page": 1,
        "Relationships": [{"Type": "CHILD", "Ids": ["l2"]}],
    },
]
PAGE_2 = [
    {"BlockType": "PAGE", "Id": "p2", "Page": 2},
    _line("l3", "Metric Target", 2),
    _line("l4", "RTO 15 minutes", 2),
    _word("w1", "Metric", 2),
    _word("w2", "Target", 2),
    _word("w3", "RTO", 2),
    _word("w4", "15", 2),
    _word("w5", "minutes", 2),
    {
        "BlockType": "TABLE",
        "Id": "t1",
        "Page": 2,
        "Relationships": [{"Type": "CHILD", "Ids": ["c11", "c12", "c21", "c22"]}],
    },
    _cell("c11", 1, 1, ["w1"], 2),
    _cell("c12", 1, 2, ["w2"], 2),
    _cell("c21", 2, 1, ["w3"], 2),
    _cell("c22", 2, 2, ["w4", "w5"], 2),
]


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "design.pdf"
    path.write_bytes(pdfs.text_pdf([["Disaster recovery design"], ["Metric Target"]]))
    return path


def _clients() -> tuple[Any, Any]:
    return (
        boto3.client("textract", region_name="eu-central-1"),
        boto3.client("s3", region_name="eu-central-1"),
    )


def _start(textract: Stubber, s3: Stubber, sha: str) -> None:
    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": BUCKET,
            "Key": f"reviews/documents/{sha}.pdf",
            "Body": ANY,
            "ContentType": "application/pdf",
            "ServerSideEncryption": "AES256",
        },
    )
    textract.add_response(
        "start_document_analysis",
        {"JobId": "job-1"},
        {
            "DocumentLocation": {
                "S3Object": {"Bucket": BUCKET, "Name": f"reviews/documents/{sha}.pdf"}
            },
            "FeatureTypes": ["TABLES", "LAYOUT"],
            "ClientRequestToken": sha,
            "JobTag": "rca-review",
        },
    )


def test_textract_polls_pages_through_results_and_rebuilds_text_and_tables(pdf: Path) -> None:
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    textract, s3 = _clients()
    sleeps: list[float] = []
    with Stubber(textract) as ts, Stubber(s3) as ss:
        _start(ts, ss, sha)
        ts.add_response(
            "get_document_analysis",
            {"JobStatus": "IN_PROGRESS"},
            {"JobId": "job-1", "MaxResults": 1000},
        )
        ts.add_response(
            "get_document_analysis",
            {
                "JobStatus": "SUCCEEDED",
                "DocumentMetadata": {"Pages": 2},
                "Blocks": PAGE_1,
                "NextToken": "page-2",
            },
            {"JobId": "job-1", "MaxResults": 1000},
        )
        ts.add_response(
            "get_document_analysis",
            {"JobStatus": "SUCCEEDED", "Blocks": PAGE_2},
            {"JobId": "job-1", "MaxResults": 1000, "NextToken": "page-2"},
        )
        doc = TextractExtractor(
            BUCKET, textract=textract, s3=s3, poll_interval_s=5, sleep=sleeps.append
        ).extract(pdf)
        ts.assert_no_pending_responses()
        ss.assert_no_pending_responses()
    assert sleeps == [5]
    assert (
        doc.extractor == "textract" and doc.source == f"s3://{BUCKET}/reviews/documents/{sha}.pdf"
    )
    assert [p.number for p in doc.pages] == [1, 2]
    assert (
        doc.pages[0].text
        == "Disaster recovery design\nRoute 53 health checks fail over to us-west-2"
    )
    assert doc.pages[1].tables == [[["Metric", "Target"], ["RTO", "15 minutes"]]]
    assert doc.warnings == []


def test_partial_success_keeps_pages_and_records_warnings(pdf: Path) -> None:
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    textract, s3 = _clients()
    with Stubber(textract) as ts, Stubber(s3) as ss:
        _start(ts, ss, sha)
        ts.add_response(
            "get_document_analysis",
            {
                "JobStatus": "PARTIAL_SUCCESS",
                "DocumentMetadata": {"Pages": 2},
                "Blocks": PAGE_1,
                "Warnings": [{"ErrorCode": "UNSUPPORTED_CONTENT", "Pages": [2]}],
            },
            {"JobId": "job-1", "MaxResults": 1000},
        )
        doc = TextractExtractor(BUCKET, textract=textract, s3=s3, sleep=lambda s: None).extract(pdf)
    assert doc.warnings == ["Textract PARTIAL_SUCCESS: UNSUPPORTED_CONTENT on pages 2"]
    assert [p.number for p in doc.pages] == [1, 2] and doc.pages[1].text == ""


def test_failed_job_raises_with_the_status_message(pdf: Path) -> None:
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    textract, s3 = _clients()
    with Stubber(textract) as ts, Stubber(s3) as ss:
        _start(ts, ss, sha)
        ts.add_response(
            "get_document_analysis",
            {"JobStatus": "FAILED", "StatusMessage": "Unable to get object metadata from S3"},
            {"JobId": "job-1", "MaxResults": 1000},
        )
        with pytest.raises(ExtractionError, match="job-1 failed: Unable to get object metadata"):
            TextractExtractor(BUCKET, textract=textract, s3=s3, sleep=lambda s: None).extract(pdf)


def test_polling_gives_up_after_max_wait(pdf: Path) -> None:
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    textract, s3 = _clients()
    with Stubber(textract) as ts, Stubber(s3) as ss:
        _start(ts, ss, sha)
        for _ in range(3):
            ts.add_response(
                "get_document_analysis",
                {"JobStatus": "IN_PROGRESS"},
                {"JobId": "job-1", "MaxResults": 1000},
            )
        extractor = TextractExtractor(
            BUCKET,
            textract=textract,
            s3=s3,
            poll_interval_s=10,
            max_wait_s=20,
            sleep=lambda s: None,
        )
        with pytest.raises(ExtractionError, match="still IN_PROGRESS after 20 s"):
            extractor.extract(pdf)


def test_access_denied_on_start_says_which_permission(pdf: Path) -> None:
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    textract, s3 = _clients()
    with Stubber(textract) as ts, Stubber(s3) as ss:
        ss.add_response("put_object", {}, None)
        ts.add_client_error("start_document_analysis", "AccessDeniedException", "not authorized")
        with pytest.raises(ExtractionError, match="textract:StartDocumentAnalysis"):
            TextractExtractor(BUCKET, textract=textract, s3=s3).extract(pdf)
    assert len(sha) == 64


def test_encrypted_pdf_is_refused_before_any_call(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(pdfs.encrypted_pdf(["secret"]))
    textract, s3 = _clients()
    # no responses queued: any call would fail the test
    with Stubber(textract), Stubber(s3), pytest.raises(EncryptedPdfError):
        TextractExtractor(BUCKET, textract=textract, s3=s3).extract(path)


def test_blocks_with_spanned_cells() -> None:
    blocks = [
        {"BlockType": "PAGE", "Id": "p", "Page": 1},
        _word("a", "Both", 1),
        _word("b", "x", 1),
        _word("c", "y", 1),
        {
            "BlockType": "TABLE",
            "Id": "t",
            "Page": 1,
            "Relationships": [{"Type": "CHILD", "Ids": ["c1", "c2", "c3"]}],
        },
        _cell("c1", 1, 1, ["a"], 1, cols=2),
        _cell("c2", 2, 1, ["b"], 1),
        _cell("c3", 2, 2, ["c"], 1),
    ]
    (page,) = blocks_to_pages(blocks)
    assert page.tables == [[["Both", "Both"], ["x", "y"]]]
