"""Fixtures of the review tests: the shipped lens, its guidance, extracted design documents,
reviews run once per session, and fresh stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenses.catalog import GuidanceNote, Lens, load_guidance, load_lens
from reviews.assessors.heuristic import HeuristicAssessor
from reviews.extract import PdfPlumberExtractor
from reviews.models import Assessment, DocumentText, PageText, ReviewRecord
from reviews.retrieve import LocalRetriever
from reviews.runner import ReviewRunner
from reviews.store import SqliteReviewStore
from tests.conftest import shared

DR = "aws-disaster-recovery-web-application-detailed-design"
IDP = "aws-intelligent-document-processing-detailed-design"
DOCS = (DR, IDP)

_docs: dict[str, DocumentText] = {}
_reviews: dict[tuple[str, str], Assessment] = {}


@pytest.fixture(scope="session")
def lens() -> Lens:
    return load_lens("wellarchitected")


@pytest.fixture(scope="session")
def notes(lens: Lens) -> list[GuidanceNote]:
    return load_guidance(lens)


@pytest.fixture(scope="session")
def retriever(notes: list[GuidanceNote]) -> LocalRetriever:
    return LocalRetriever(notes)


def design_page(text: str) -> DocumentText:
    """A two-page extracted document: a title page, then ``text`` on page 2."""
    return DocumentText(
        source="d.pdf",
        sha256="c" * 64,
        extractor="pdfplumber",
        pages=[PageText(number=1, text="Design"), PageText(number=2, text=text)],
    )


def design_pdf(name: str) -> Path:
    """Path of a shared design document PDF (skips the test when the data is absent)."""
    return shared("design-docs", f"{name}.pdf")


def extracted(name: str) -> DocumentText:
    """The extracted text of a shared design document (extracted once per session)."""
    if name not in _docs:
        _docs[name] = PdfPlumberExtractor().extract(design_pdf(name))
    return _docs[name]


def reviewed(
    name: str,
    mode: str,
    lens: Lens,
    notes: list[GuidanceNote],
    retriever: LocalRetriever,
    tmp: Path,
) -> Assessment:
    """A full-framework heuristic review of a shared document (run once per session)."""
    key = (name, mode)
    if key not in _reviews:
        doc = extracted(name)
        store = SqliteReviewStore(tmp / f"{name}-{mode}.db")
        store.create(
            ReviewRecord(
                id=f"t-{mode}", document=doc.source, document_name=f"{name}.pdf", mode=mode
            )  # type: ignore[arg-type]
        )
        runner = ReviewRunner(HeuristicAssessor(), lens, retriever, notes, store, max_workers=4)
        _reviews[key] = runner.run(f"t-{mode}", doc, mode)  # type: ignore[arg-type]
    return _reviews[key]


@pytest.fixture(scope="session")
def review_of(
    lens: Lens,
    notes: list[GuidanceNote],
    retriever: LocalRetriever,
    tmp_path_factory: pytest.TempPathFactory,
):  # type: ignore[no-untyped-def]
    """``review_of(name, mode)`` -> the session's assessment of that document in that mode."""
    tmp = tmp_path_factory.mktemp("reviews")

    def get(name: str, mode: str) -> Assessment:
        return reviewed(name, mode, lens, notes, retriever, tmp)

    return get


@pytest.fixture
def store(tmp_path: Path) -> SqliteReviewStore:
    return SqliteReviewStore(tmp_path / "reviews.db")
