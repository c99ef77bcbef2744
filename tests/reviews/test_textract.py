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


def _sized(block_id: str, text: str, page: int, height: float) -> dict[str, Any]:
    """A LINE with a bounding-box height (fraction of the page)."""
    line = _line(block_id, text, page)
    line["Geometry"] = {"BoundingBox": {"Height": height, "Width": 0.5, "Left": 0.1, "Top": 0.1}}
    return line


def _layout(kind: str, block_id: str, page: int, children: list[str]) -> dict[str, Any]:
    return {
        "BlockType": f"LAYOUT_{kind}",
        "Id": block_id,
        "Page": page,
        "Relationships": [{"Type": "CHILD", "Ids": children}],
    }


BODY = 11 / 792  # an 11 pt line on a Letter page
SECTIONED = [
    _sized("t", "Payments platform design", 1, 24 / 792),
    _layout("TITLE", "lt", 1, ["t"]),
    _sized("h1", "1 Architecture", 1, 18 / 792),
    _layout("SECTION_HEADER", "s1", 1, ["h1"]),
    _sized("h2", "1.1 Data tier", 1, 14 / 792),
    _layout("SECTION_HEADER", "s2", 1, ["h2"]),
    _sized("b1", "Aurora runs in three Availability Zones with automated backups.", 1, BODY),
    _sized("f1", "FIGURE LABEL", 1, 30 / 792),  # large text in a figure, not a header
    _layout("TEXT", "x1", 1, ["b1", "f1"]),
    _sized("h3", "2 Operations", 2, 18 / 792),
    _layout("SECTION_HEADER", "s3", 2, ["h3"]),
    _sized("h4", "2.1 Monitoring", 2, 14 / 792),
    _layout("SECTION_HEADER", "s4", 2, ["h4"]),
    _sized("h5", "Alarm routing", 2, BODY),  # a section header printed at body size
    _layout("SECTION_HEADER", "s5", 2, ["h5"]),
    _sized("b2", "CloudWatch alarms page the on-call engineer through SNS.", 2, BODY),
    _layout("TEXT", "x2", 2, ["b2"]),
    _sized("h6", "3 Cost", 3, 18 / 792),
    _layout("SECTION_HEADER", "s6", 3, ["h6"]),
    _sized("h7", "3.1 Tags", 3, 14 / 792),
    _layout("SECTION_HEADER", "s7", 3, ["h7"]),
    _sized("h8", "Tag policy", 3, BODY),
    _layout("SECTION_HEADER", "s8", 3, ["h8"]),
    _sized("b3", "Every resource carries a CostCenter tag.", 3, BODY),
    _layout("TEXT", "x3", 3, ["b3"]),
]


def test_section_headers_become_headings_levelled_by_height() -> None:
    pages = blocks_to_pages(SECTIONED)
    levels = [[(h.text, h.level) for h in p.headings] for p in pages]
    assert levels == [
        [("1 Architecture", 1), ("1.1 Data tier", 2)],
        [("2 Operations", 1), ("2.1 Monitoring", 2), ("Alarm routing", 3)],
        [("3 Cost", 1), ("3.1 Tags", 2), ("Tag policy", 3)],
    ]
    # the title and a large figure label are not sections; the page text keeps every line
    assert "Payments platform design" in pages[0].text and "FIGURE LABEL" in pages[0].text


def test_layout_headings_give_statements_their_section_path() -> None:
    from reviews.document import understand
    from reviews.models import DocumentText

    doc = DocumentText(
        source="design.pdf", sha256="0" * 64, extractor="textract", pages=blocks_to_pages(SECTIONED)
    )
    paths = {s.text: s.section for s in understand(doc).statements if s.evidence}
    assert paths["CloudWatch alarms page the on-call engineer through SNS."] == (
        "2 Operations",
        "2.1 Monitoring",
        "Alarm routing",
    )
    aurora = "Aurora runs in three Availability Zones with automated backups."
    assert paths[aurora] == ("1 Architecture", "1.1 Data tier")


def test_without_section_headers_or_geometry_there_are_no_layout_headings() -> None:
    assert all(not p.headings for p in blocks_to_pages(PAGE_1 + PAGE_2))
    no_geometry = [dict(b) for b in SECTIONED]
    for block in no_geometry:
        block.pop("Geometry", None)
    pages = blocks_to_pages(no_geometry)
    # headers without heights are still headers, all at one level
    assert [h.level for p in pages for h in p.headings] == [1] * 8
