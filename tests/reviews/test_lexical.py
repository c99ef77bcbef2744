"""The offline matcher's words and quote choice: Snowball stems, thread safety, title cover."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lenses.catalog import GuidanceNote
from reviews.assessors.calibration import SHIPPED
from reviews.assessors.heuristic import _best
from reviews.assessors.lexical import (
    FEATURES,
    build_corpus,
    content,
    content_of,
    document_views,
    practice_evidence,
)
from reviews.document import understand
from tests.reviews.conftest import design_page


def test_inflections_of_one_word_share_a_stem() -> None:
    assert content_of("cost estimate") == content_of("costs estimated")
    assert content_of("trace") == content_of("tracing") == content_of("traces")
    assert content_of("fail over") == content_of("failover")
    assert content_of("the workloads are used by each team") == ("workload", "team")


def test_stemming_from_many_threads_agrees_with_one_thread() -> None:
    """A Snowball stemmer keeps state while it stems; each thread gets its own."""
    words = [f"replicated{i % 7} notifications tracing estimated" for i in range(400)]
    expected = [content(w.lower().split()) for w in words]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda w: content(w.lower().split()), words)) == expected


def _note(title: str, good: str, signals: list[str], choice: str = "c1") -> GuidanceNote:
    return GuidanceNote(
        lens="t",
        pillar_id="p",
        question_id="q",
        choice_id=choice,
        title=title,
        risk="HIGH",
        good=good,
        signals=signals,
        gaps=["none"],
    )


def test_quote_names_the_practice_not_only_its_guidance_words() -> None:
    """Of two lines sharing guidance words, the one naming the title's words is quoted."""
    notes = [
        _note(
            "Analyze workload traces",
            "Requests are followed between services.",
            ["distributed tracing", "service map"],
        ),
        _note("Back up data", "Data is backed up on a schedule.", ["AWS Backup"], "c2"),
    ]
    text = (
        "Operations Design\n"
        "• Dashboards show that requests are followed between services\n"
        "• X-Ray traces are kept for 30 days\n"
    )
    views = document_views(understand(design_page(text)), deep=False)
    ev = practice_evidence(notes[0], views, build_corpus(notes))
    ranked = sorted(ev.ranked, key=lambda r: -r[1])
    assert ranked[0][0].display.startswith("• Dashboards")  # more guidance words in common
    assert _best(ev, 1)[0].text.startswith("• X-Ray traces")  # but this one names the practice


def test_quote_shows_the_practice_rather_than_naming_it() -> None:
    """A requirement line and a design line name the same concept: the design line is quoted;
    a practice matched only in naming lines carries the ``names_only`` feature."""
    notes = [
        _note("Encrypt data at rest", "Stored data is encrypted.", ["encryption at rest", "KMS"]),
        _note("Use chaos engineering", "Faults are injected.", ["fault injection"], "c2"),
    ]
    text = (
        "Compliance Factors\n"
        "The solution must adhere to the following regulatory requirements.\n"
        "• Encryption at rest with KMS mandatory for all data stores\n"
        "• Fault injection experiments required before go-live\n"
        "Data Protection\n"
        "• Encryption at rest: KMS keys per Region for the Aurora cluster\n"
    )
    views = document_views(understand(design_page(text)), deep=False)
    corpus = build_corpus(notes)
    ev = practice_evidence(notes[0], views, corpus)
    assert _best(ev, 1)[0].text.startswith("• Encryption at rest: KMS keys")
    assert ev.names_only == 0.0
    chaos = practice_evidence(notes[1], views, corpus)
    assert chaos.phrases == 1 and chaos.names_only == 1.0
    assert len(chaos.vector()) == len(FEATURES)
    assert all(len(c.weights) == len(FEATURES) for c in SHIPPED.values())
