"""Local extraction (pdfplumber) of real design documents, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviews.assessors.heuristic import HeuristicAssessor
from reviews.errors import (
    CorruptPdfError,
    DocumentTooLargeError,
    EmptyPdfError,
    EncryptedPdfError,
    NotAPdfError,
    NoTextError,
)
from reviews.evidence import DocumentIndex, locate_quote
from reviews.extract import PdfPlumberExtractor, inspect_pdf
from reviews.pipeline import Reviewer
from reviews.store import SqliteReviewStore
from tests.reviews import pdfs
from tests.reviews.conftest import DOCS, DR, IDP, design_pdf, extracted


@pytest.mark.parametrize("name", DOCS)
def test_real_documents_keep_pages_tables_and_text(name: str) -> None:
    doc = extracted(name)
    assert [p.number for p in doc.pages] == list(range(1, 15))  # 14 pages, 1-based
    assert sum(len(p.tables) for p in doc.pages) >= 19  # every table kept as a table
    assert doc.words > 3000
    assert doc.title and "Detailed Design Document" in doc.title
    # a table is rows of cells, with the header row first
    first = next(t for p in doc.pages for t in p.tables)
    assert first[0] == ["Metric", "Target", "Measurement", "Priority"]
    assert all(isinstance(cell, str) for row in first for cell in row)


def test_known_text_is_on_the_right_page() -> None:
    doc = extracted(DR)
    assert "Backup: Aurora automated backups with 7-day retention" in doc.page(10).text
    assert "Aurora automated backups" not in doc.page(9).text
    idp = extracted(IDP)
    assert "PII detection and redaction capabilities" in idp.page(3).text


def test_segments_are_verbatim_and_skip_running_headers() -> None:
    doc = extracted(DR)
    segments = DocumentIndex(doc).segments
    for seg in segments:
        assert doc.page(seg.page).text[seg.start : seg.end] == seg.text
    texts = [s.text for s in segments]
    assert "AWS Disaster Recovery for Web Applications" not in texts  # running header
    assert not any(t.startswith("Page ") and " of 14" in t for t in texts)  # footer
    out = [s.display for s in segments if s.out_of_scope]
    assert "End-user training (covered in Training Materials)" in out


def test_locate_quote_tolerates_whitespace_and_returns_the_page_span() -> None:
    page = "The solution eliminates single points\nof failure through multi-region redundancy."
    span = locate_quote(page, "single points of failure through")
    assert span == "single points\nof failure through" and span in page
    assert locate_quote(page, "“eliminates single points”") == "eliminates single points"
    assert locate_quote(page, "single point of failure") is None


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("builder", "error", "words"),
    [
        (pdfs.encrypted_pdf, EncryptedPdfError, "password protected"),
        (pdfs.corrupt_pdf, CorruptPdfError, "damaged"),
        (pdfs.zero_page_pdf, EmptyPdfError, "no pages"),
        (pdfs.image_only_pdf, NoTextError, "--extractor textract"),
    ],
    ids=["encrypted", "corrupt", "zero-pages", "scanned"],
)
def test_bad_pdfs_raise_clear_errors(tmp_path: Path, builder, error, words) -> None:  # type: ignore[no-untyped-def]
    data = builder(["Secret design"]) if builder is pdfs.encrypted_pdf else builder()
    path = _write(tmp_path, "bad.pdf", data)
    with pytest.raises(error) as caught:
        PdfPlumberExtractor().extract(path)
    assert words in str(caught.value)
    assert "bad.pdf" in str(caught.value)


def test_encrypted_fixture_is_a_real_encrypted_pdf(tmp_path: Path) -> None:
    import pdfplumber

    path = _write(tmp_path, "locked.pdf", pdfs.encrypted_pdf(["Secret design text"]))
    with pdfplumber.open(path, password="secret") as pdf:  # opens with the right password
        assert pdf.pages[0].extract_text() == "Secret design text"


def test_not_a_pdf_empty_file_and_missing_file(tmp_path: Path) -> None:
    docx = _write(tmp_path, "design.docx", b"PK\x03\x04 this is a zip, not a pdf" * 10)
    with pytest.raises(NotAPdfError, match="not a PDF"):
        PdfPlumberExtractor().extract(docx)
    empty = _write(tmp_path, "empty.pdf", b"")
    with pytest.raises(NotAPdfError, match="empty"):
        PdfPlumberExtractor().extract(empty)
    with pytest.raises(NotAPdfError, match="no such file"):
        PdfPlumberExtractor().extract(tmp_path / "missing.pdf")


def test_over_size_and_over_pages_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.pdf", pdfs.text_pdf([["page one text here"], ["page two text"]]))
    with pytest.raises(DocumentTooLargeError, match="limit"):
        PdfPlumberExtractor(max_bytes=100).extract(path)
    with pytest.raises(DocumentTooLargeError, match="2 pages is over the 1-page limit"):
        inspect_pdf(path, max_pages=1)


def test_small_text_pdf_extracts(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "ok.pdf", pdfs.text_pdf([["Route 53 health checks fail over"], ["Page two (p2)"]])
    )
    doc = PdfPlumberExtractor().extract(path)
    assert [p.text for p in doc.pages] == ["Route 53 health checks fail over", "Page two (p2)"]
    assert len(doc.sha256) == 64


@pytest.mark.parametrize(
    ("builder", "kind"),
    [
        (lambda: pdfs.encrypted_pdf(["x"]), "encrypted"),
        (pdfs.corrupt_pdf, "corrupt"),
        (pdfs.zero_page_pdf, "empty"),
        (pdfs.image_only_pdf, "no_text"),
        (lambda: b"<html>not a pdf</html>", "not_pdf"),
    ],
    ids=["encrypted", "corrupt", "zero-pages", "scanned", "not-pdf"],
)
def test_bad_input_marks_the_review_failed_with_the_reason(
    tmp_path: Path,
    builder,
    kind,
    lens,
    notes,
    retriever,  # type: ignore[no-untyped-def]
) -> None:
    store = SqliteReviewStore(tmp_path / "r.db")
    path = _write(tmp_path, "input.pdf", builder())
    reviewer = Reviewer(store, PdfPlumberExtractor(), HeuristicAssessor(), retriever, lens, notes)
    record = reviewer.submit(path)
    with pytest.raises(Exception) as caught:
        reviewer.run(record.id)
    failed = store.get(record.id)
    assert failed.state == "failed"
    assert failed.error_kind == kind
    assert failed.error == str(caught.value)
    assert store.questions(record.id) == []


def test_over_size_marks_the_review_failed(tmp_path: Path, lens, notes, retriever) -> None:  # type: ignore[no-untyped-def]
    store = SqliteReviewStore(tmp_path / "r.db")
    path = _write(tmp_path, "big.pdf", pdfs.text_pdf([["some design text here"]]))
    reviewer = Reviewer(
        store, PdfPlumberExtractor(max_bytes=64), HeuristicAssessor(), retriever, lens, notes
    )
    record = reviewer.submit(path)
    with pytest.raises(DocumentTooLargeError):
        reviewer.run(record.id)
    assert store.get(record.id).error_kind == "too_large"


def test_typographic_headings_rank_sizes_and_skip_the_title_page() -> None:
    """Sizes above the body give heading levels (largest first); a size used on one page only
    (the title page's) and a long line in a large font are not headings."""
    from reviews.extract import typographic_headings

    body = "The workload runs in two Regions with a pilot light copy of the database."
    lines = {
        1: [("Big Design Title", 24.0), ("Version 1.0", 8.5)],
        2: [("Overview", 16.0), (body, 9.5), ("Scope", 12.5), (body, 9.5), ("Col A Col B", 8.5)],
        3: [("Design", 16.0), ("Network", 12.5), ("Subnets", 11.0), (body, 9.5), (body, 9.5)],
        4: [("Operations", 16.0), (body, 9.5), ("Runbooks", 11.0), (" ".join([body] * 2), 16.0)],
    }
    found = typographic_headings(lines)
    assert 1 not in found
    assert [(h.text, h.level) for h in found[2]] == [("Overview", 1), ("Scope", 2)]
    assert [(h.text, h.level) for h in found[3]] == [("Design", 1), ("Network", 2), ("Subnets", 3)]
    assert [(h.text, h.level) for h in found[4]] == [("Operations", 1), ("Runbooks", 3)]
    assert typographic_headings({1: [(body, 9.5)], 2: [(body, 9.5)]}) == {}


def test_design_documents_heading_levels_follow_their_markdown() -> None:
    """The PDFs' heading levels are those of their Markdown sources (#, ##, ###)."""
    for name in (DR, IDP):
        doc = extracted(name)
        source = design_pdf(name).with_suffix(".md").read_text(encoding="utf-8")
        expected = [
            (len(line) - len(line.lstrip("#")), line.lstrip("#").strip())
            for line in source.splitlines()
            if line.startswith("#")
        ]
        got = [(h.level, h.text) for p in doc.pages for h in p.headings]
        assert got == expected, name
