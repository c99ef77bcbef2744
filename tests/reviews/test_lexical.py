"""The offline matcher's words and quote choice: Snowball stems, thread safety, title cover,
and the guidance notes' implementation phrases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lenses.catalog import GuidanceNote
from reviews.assessors.calibration import SHIPPED
from reviews.assessors.heuristic import _best
from reviews.assessors.lexical import (
    FEATURES,
    IMPL_NOTES,
    IMPL_SHARE,
    build_corpus,
    content,
    content_of,
    document_views,
    name_words,
    practice_evidence,
)
from reviews.document import understand
from reviews.models import DocumentText, PageText
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


def _note(
    title: str,
    good: str,
    signals: list[str],
    choice: str = "c1",
    implementations: list[str] | None = None,
) -> GuidanceNote:
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
        implementations=implementations or [],
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


def _notes_with(impls: list[str], others: int = 0, shared: str = "") -> list[GuidanceNote]:
    """Note c1 lists ``impls``; ``others`` more notes each list ``shared`` (and filler)."""
    notes = [
        _note(
            "Notify on availability events",
            "Operators hear of outages.",
            ["outage alert"],
            implementations=impls,
        )
    ]
    for i in range(others):
        notes.append(
            _note(
                f"Practice {i}",
                f"Thing {i} is done.",
                [f"signal {i}"],
                f"o{i}",
                implementations=[shared, f"filler phrase {i}"],
            )
        )
    for i in range(30):  # a corpus large enough for idf to mean something
        notes.append(_note(f"Other {i}", f"Other {i} good.", [f"other {i}"], f"x{i}"))
    return notes


def _evidence(note: GuidanceNote, notes: list[GuidanceNote], text: str, deep: bool = False):
    views = document_views(understand(design_page(text)), deep=deep)
    return practice_evidence(note, views, build_corpus(notes))


_LINES = "".join(f"• Component {i} stores orders in table {i}\n" for i in range(20))


def test_a_contiguous_implementation_phrase_matches_a_split_one_does_not() -> None:
    """Stemmed and stopword-free, the phrase's words must be contiguous in one statement."""
    notes = _notes_with(["PagerDuty escalation policy"])
    page = "Operations\n" + _LINES
    hit = _evidence(
        notes[0], notes, page + "• Outages page the on-call via PagerDuty escalation policies\n"
    )
    assert hit.implemented == ["PagerDuty escalation policy"] and hit.impl_weight > 0
    assert hit.ranked[0][0].text.endswith("PagerDuty escalation policies")
    assert "PagerDuty escalation policy" in hit.ranked[0][2]
    split = _evidence(
        notes[0], notes, page + "• PagerDuty pages the team; its escalation policy is manual\n"
    )
    assert split.implemented == [] and split.impl_weight == 0.0


def test_deep_mode_reads_a_phrase_in_another_order_in_one_statement_not_across_two() -> None:
    """Deep mode: the phrase's words in any order in one statement match; spread over two lines
    of one section they do not."""
    notes = _notes_with(["PagerDuty escalation policy"])
    page = "Operations\n" + _LINES
    reordered = page + "• PagerDuty pages the team; its escalation policy is manual\n"
    assert _evidence(notes[0], notes, reordered, deep=True).implemented == [
        "PagerDuty escalation policy"
    ]
    two_lines = page + "• PagerDuty pages the team\n• The escalation policy is manual\n"
    assert _evidence(notes[0], notes, two_lines, deep=True).implemented == []


def test_a_phrase_listed_by_many_notes_is_weak() -> None:
    """A phrase more than IMPL_NOTES notes list (alone or inside a longer phrase) shows none."""
    page = "Operations\n" + _LINES + "• Status page updated by the SNS topic subscription\n"
    few = _notes_with(["SNS topic subscription"], others=IMPL_NOTES - 1, shared="SNS topic")
    many = _notes_with(
        ["SNS topic subscription"], others=IMPL_NOTES, shared="SNS topic subscription"
    )
    assert _evidence(few[0], few, page).implemented == ["SNS topic subscription"]
    assert _evidence(many[0], many, page).implemented == []
    # ... and one listed by fewer notes weighs more (BM25 idf over the notes that list it)
    assert build_corpus(few).phrase_idf(("sns", "topic", "subscript")) > build_corpus(
        many
    ).phrase_idf(("sns", "topic", "subscript"))


def test_a_generic_phrase_does_not_address_a_practice_alone() -> None:
    """A phrase the document uses everywhere, or a single word many notes use, is not evidence
    of one practice: it matches nothing, and the shipped decision does not select on it."""
    lines = "".join(f"• Amazon S3 bucket {i} holds the order exports\n" for i in range(8))
    page = "Storage\n" + _LINES + lines
    notes = _notes_with(["Amazon S3", "notification"])
    notes += [_note(f"N{i}", "Notification sent.", [f"n {i}"], f"n{i}") for i in range(16)]
    ev = _evidence(notes[0], notes, page + "• A notification goes to the team\n")
    assert IMPL_SHARE < 8 / 29 and ev.implemented == []
    for mode, cal in SHIPPED.items():
        assert cal.probability(ev.vector()) < cal.threshold, mode


def test_deep_mode_reads_an_implementation_phrase_across_the_section_heading() -> None:
    """Deep mode: a phrase split between a statement and its own heading still matches."""
    notes = _notes_with(["Route 53 health check"])
    page = "Route 53 Configuration\n" + "• Health checks probe the primary every 10 seconds\n"
    page += "Compute\n" + _LINES
    assert _evidence(notes[0], notes, page, deep=False).implemented == []
    deep = _evidence(notes[0], notes, page, deep=True)
    assert deep.implemented == ["Route 53 health check"]
    assert deep.ranked[0][0].text.startswith("• Health checks probe")
    assert all(stmt.kind != "heading" for stmt, _, _ in deep.ranked)


def test_a_heading_alone_matches_nothing() -> None:
    """The split needs a word of the phrase in the statement itself: a heading that holds the
    whole phrase lends it to no line under it."""
    notes = _notes_with(["Route 53 health check"])
    page = "Route 53 Health Check Design\n• The primary serves traffic every day\n"
    page += "Compute\n" + _LINES
    for deep in (False, True):
        assert _evidence(notes[0], notes, page, deep=deep).implemented == [], deep


def _table_doc(text: str, table: list[list[str]]) -> DocumentText:
    return DocumentText(
        source="d.pdf",
        sha256="e" * 64,
        extractor="pdfplumber",
        pages=[PageText(number=1, text="Design"), PageText(number=2, text=text, tables=[table])],
    )


def test_deep_mode_reads_a_table_row_with_its_section_heading() -> None:
    """A table row under its section heading: a signal split across the two (the row holds
    "tags", the heading "cost allocation") matches in deep mode, and the row is quoted."""
    notes = [
        _note("Attribute costs", "Costs are attributed.", ["cost allocation tags"]),
        *[_note(f"Other {i}", f"Other {i} good.", [f"other {i}"], f"x{i}") for i in range(30)],
    ]
    text = "Cost Allocation\nTag Required Example\nCostCenter tags Yes CC-001\nCompute\n" + _LINES
    doc = _table_doc(text, [["Tag", "Required", "Example"], ["CostCenter tags", "Yes", "CC-001"]])
    corpus = build_corpus(notes)
    quick = practice_evidence(notes[0], document_views(understand(doc), deep=False), corpus)
    assert quick.matched == []
    deep = practice_evidence(notes[0], document_views(understand(doc), deep=True), corpus)
    assert deep.matched == ["cost allocation tags"] and deep.phrases == 1.0
    assert deep.ranked[0][0].kind == "row" and deep.ranked[0][0].quote.startswith("CostCenter")


def test_deep_mode_reads_a_row_phrase_in_one_cell_not_across_cells() -> None:
    """In a table row a phrase's words in any order must share one cell ("column: value"):
    words of two cells are two facts and do not make the phrase."""
    notes = _notes_with(["Compute Optimizer"])
    text = "Technology Stack\nLayer Technology Rationale\n"
    text += "Compute EC2 Auto Scaling Cost optimization with pilot light\n"
    text += "Tooling Optimizer for compute EC2 Right-sizing reports\nOperations\n" + _LINES
    table = [
        ["Layer", "Technology", "Rationale"],
        ["Compute", "EC2 Auto Scaling", "Cost optimization with pilot light"],
        ["Tooling", "Optimizer for compute EC2", "Right-sizing reports"],
    ]
    views = document_views(understand(_table_doc(text, table)), deep=True)
    ev = practice_evidence(notes[0], views, build_corpus(notes))
    hits = [stmt.text for stmt, _, names in ev.ranked if "Compute Optimizer" in names]
    assert hits == [
        "Layer: Tooling; Technology: Optimizer for compute EC2; Rationale: Right-sizing reports"
    ]


def test_implementation_words_give_a_similarity_of_their_own() -> None:
    """impl_similarity: the best statement's share of the implementation words' idf weight."""
    notes = _notes_with(["Statuspage incident banner", "stakeholder email"])
    page = "Operations\n" + _LINES
    with_words = _evidence(notes[0], notes, page + "• The incident banner is posted for users\n")
    without = _evidence(notes[0], notes, page)
    assert 0.0 < with_words.impl_similarity < 1.0 and without.impl_similarity == 0.0
    assert len(with_words.vector()) == len(FEATURES)


def test_a_line_with_an_implementation_phrase_is_quoted_before_guidance_words() -> None:
    """The line stating how the practice is in place is quoted, not the one that only shares
    words with the guidance."""
    notes = _notes_with(["Statuspage incident banner"])
    page = (
        "Operations\n"
        + _LINES
        + "• Operators hear of outages and availability events from the dashboard\n"
        + "• A Statuspage incident banner is posted within 5 minutes\n"
    )
    ev = _evidence(notes[0], notes, page)
    assert _best(ev, 1)[0].text.startswith("• A Statuspage incident banner")
    without = _notes_with([])
    assert _best(_evidence(without[0], without, page), 1)[0].text.startswith("• Operators hear")


def test_a_product_name_matches_its_written_words_not_their_stems() -> None:
    """``State Manager`` (an implementation phrase) is not "state management", ``Detective`` (a
    signal) is not "PII detection": a name's words must be written, a plural and a hyphen aside;
    an acronym form of a name still matches."""
    notes = _notes_with(["State Manager", "Logs Insights"])
    notes[0] = notes[0].model_copy(update={"signals": ["Detective", "outage alert"]})
    page = "Operations\n" + _LINES
    stems_only = _evidence(
        notes[0],
        notes,
        page + "• DynamoDB holds metadata and state management\n• PII detection via Comprehend\n",
    )
    assert stems_only.implemented == [] and stems_only.matched == []
    written = _evidence(
        notes[0],
        notes,
        page
        + "• Patch baselines applied by SSM State Manager associations\n"
        + "• Log Insights queries for troubleshooting\n"
        + "• GuardDuty findings investigated in Amazon Detective\n",
    )
    assert written.implemented == ["Logs Insights", "State Manager"]
    assert written.matched == ["Detective"]
    assert name_words("Logs Insights") == ("log", "insight")
    assert name_words("rate limiting") == () and name_words("DLQ") == ()


def test_an_acronym_form_of_a_name_is_not_held_to_its_words() -> None:
    notes = _notes_with([])
    notes[0] = notes[0].model_copy(
        update={
            "signals": ["Application Load Balancer", "outage alert"],
            "good": "Traffic goes through an Application Load Balancer (ALB).",
        }
    )
    page = "Operations\n" + _LINES + "• The ALB spreads requests over two zones\n"
    assert _evidence(notes[0], notes, page).matched == ["Application Load Balancer"]
