"""The plan's "has / lacks" sentence: a relevant line of this document, or a plain "does not
mention" (reviews.gaps, reviews.plan.gap_sentence)."""

from __future__ import annotations

import re

import pytest

from lenses.catalog import GuidanceNote
from reviews.gaps import DocumentGaps
from reviews.models import DocumentText
from reviews.plan import gap_sentence
from tests.reviews.conftest import DR, design_page, extracted

_QUOTE = re.compile(r"\u201c(.*?)\u201d")


def _note(notes: list[GuidanceNote], bp_id: str) -> GuidanceNote:
    return next(n for n in notes if n.bp_id == bp_id)


def _sentence(gaps: DocumentGaps, note: GuidanceNote) -> str:
    return gap_sentence(note.title, note, "not_addressed", None, gaps)


PAGE = (
    "Compliance\n"
    "SOC 2 RTO/RPO defined 15-minute RTO, 60-minute RPO.\n"
    "Rate Limiting: AWS API throttling limits apply.\n"
    "Data protection\n"
    "Backup: Aurora automated backups with 7-day retention.\n"
    "Break-glass access for administrators (future).\n"
)


def test_the_relevant_line_is_quoted(notes: list[GuidanceNote]) -> None:
    gaps = DocumentGaps(design_page(PAGE), notes)
    note = _note(notes, "REL09-BP02")  # Secure and encrypt backups
    found = gaps.relevant(note)
    assert found is not None and "Aurora automated backups" in found.statement.display
    text = _sentence(gaps, note)
    assert "Aurora automated backups with 7-day retention" in text
    assert "(p. 2)" in text and "RTO" not in text and "Rate Limiting" not in text
    assert text.endswith(f"does not show that {note.good[0].lower()}{note.good[1:]}")
    outside = re.sub(r"\(p\. \d+\)", "", _QUOTE.sub("", text))
    assert outside.count(".") == 1 and outside.endswith(".")  # one sentence


def test_a_line_of_another_subject_is_refused(notes: list[GuidanceNote]) -> None:
    """The reported case: access-lifecycle items quoted the RTO/RPO line of the question's
    other practices; graceful degradation quoted a rate-limiting line."""
    gaps = DocumentGaps(design_page(PAGE), notes)
    for bp_id in ("SEC03-BP06", "SEC03-BP02", "REL05-BP01", "REL02-BP02"):
        note = _note(notes, bp_id)
        assert gaps.relevant(note) is None, bp_id
        text = _sentence(gaps, note)
        assert "\u201c" not in text, text  # nothing quoted
        assert "RTO" not in text and "throttling" not in text


def test_nothing_relevant_says_what_the_document_does_not_mention(
    notes: list[GuidanceNote],
) -> None:
    gaps = DocumentGaps(design_page(PAGE), notes)
    note = _note(notes, "SEC03-BP03")  # Establish emergency access process
    text = _sentence(gaps, note)
    assert text.startswith("The document does not mention ")
    absent = gaps.absent_signals(note)
    assert absent and all(s in text for s in absent)
    # break-glass is in the document (as future work): never claimed absent, never quoted
    assert "break-glass" not in [s.lower() for s in absent]
    assert "\u201c" not in text
    # a practice whose every signal the document names is not said to be unmentioned
    assert "does not mention" not in gap_sentence(
        note.title, note, "not_addressed", None, _Mentions(gaps)
    )


class _Mentions(DocumentGaps):
    """The same document, as if it named every signal (no relevant line either)."""

    def __init__(self, base: DocumentGaps) -> None:
        self.__dict__.update(base.__dict__)

    def relevant(self, note: GuidanceNote) -> None:
        return None

    def absent_signals(self, note: GuidanceNote, limit: int = 3) -> list[str]:
        return []


def test_a_partial_quote_on_another_topic_is_not_used(notes: list[GuidanceNote]) -> None:
    gaps = DocumentGaps(design_page(PAGE), notes)
    note = _note(notes, "SEC03-BP06")
    rto = "SOC 2 RTO/RPO defined 15-minute RTO, 60-minute RPO."
    assert "RTO" not in gap_sentence(note.title, note, "partly", (2, rto), gaps)
    backup = "Backup: Aurora automated backups with 7-day retention."
    backups = _note(notes, "REL09-BP02")
    text = gap_sentence(backups.title, backups, "partly", (2, backup), gaps)
    assert text.startswith("The document shows \u201cBackup: Aurora")


@pytest.mark.slow
def test_plan_quotes_are_real_and_on_topic_on_the_dr_document(review_of, notes) -> None:  # type: ignore[no-untyped-def]
    a = review_of(DR, "quick")
    doc = extracted(DR)
    pages = {p.number: " ".join(p.text.split()) for p in doc.pages}
    gaps = DocumentGaps(doc, notes)
    by_id = {n.choice_id: n for n in notes}
    for rec in a.recommendations:
        for quote in _QUOTE.findall(rec.text):
            page = int(re.search(r"\(p\. (\d+)\)", rec.text).group(1))  # type: ignore[union-attr]
            assert quote.removesuffix("...") in pages[page], (rec.bp_id, quote)
            stmt = gaps.statement_of(page, quote.removesuffix("..."))
            assert stmt is not None and gaps.on_topic(stmt, by_id[rec.choice_id]), rec.text
    sec3 = [r for r in a.recommendations if r.number == "SEC 3"]
    assert sec3 and not any("RTO" in r.text for r in sec3)
    rel2 = next(r for r in a.recommendations if r.bp_id == "REL02-BP02")
    assert "Route 53" not in rel2.text


def _one_file_extracted_twice() -> tuple[DocumentText, DocumentText]:
    """Two extractions of one file: same digest, page count and length, other text."""
    first = design_page("Backup: Aurora automated backups with 7-day retention.\n")
    second = first.model_copy(
        update={
            "pages": [
                first.pages[0],
                first.pages[1].model_copy(
                    update={"text": "Backup: DynamoDB point-in-time recovery enabled daily.\n"}
                ),
            ]
        }
    )
    return first, second


def test_one_file_extracted_two_ways_gets_two_readings(notes: list[GuidanceNote]) -> None:
    """The cache is keyed by the extraction, not the file digest: a second extraction of the
    same file (same digest, page count and length) must not reuse the first one's statements."""
    from reviews.gaps import gaps_for

    first, second = _one_file_extracted_twice()
    assert (first.sha256, first.chars, len(first.pages)) == (
        second.sha256,
        second.chars,
        len(second.pages),
    )
    shown = [gaps_for(doc, notes).relevant(_note(notes, "REL09-BP02")) for doc in (first, second)]
    assert shown[0] is not None and "Aurora" in shown[0].statement.display
    assert shown[1] is not None and "DynamoDB" in shown[1].statement.display


def test_the_assessor_reads_each_extraction_of_one_file_anew() -> None:
    """The offline assessor's per-document cache has the same key (the extraction's
    fingerprint): a re-extraction of one file is not answered from the first reading."""
    from reviews.assessors.heuristic import HeuristicAssessor

    first, second = _one_file_extracted_twice()
    assessor = HeuristicAssessor()
    texts = [" ".join(s.display for s in assessor.model(doc).statements) for doc in (first, second)]
    assert "Aurora" in texts[0] and "DynamoDB" in texts[1]
