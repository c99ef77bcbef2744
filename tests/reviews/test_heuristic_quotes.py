"""Quotes that support their practice: shared concepts, the line's own words, its subject, and
the rationale when no line shows the practice (``reviews.assessors.heuristic``)."""

from __future__ import annotations

from dataclasses import replace

from lenses.catalog import GuidanceNote
from reviews.assessors.calibration import Calibration
from reviews.assessors.heuristic import (
    COLUMN_WEIGHT,
    SHARED_SIGNAL_NOTES,
    _best,
    _draft,
    quote_support,
    shared_signals,
)
from reviews.assessors.lexical import (
    FEATURES,
    build_corpus,
    content_of,
    document_views,
    practice_evidence,
)
from reviews.document import understand
from tests.reviews.conftest import design_page
from tests.reviews.test_lexical import _LINES, _notes_with
from tests.reviews.test_lexical import _evidence as _lexical_evidence
from tests.reviews.test_lexical import _note as lexical_note

ADDRESSED = Calibration(weights=(0.0,) * len(FEATURES), bias=10.0, threshold=0.5)


def _note(title: str, signals: list[str], choice: str) -> GuidanceNote:
    return lexical_note(title, f"{title} is in place.", signals, choice)


#: "infrastructure as code" is a signal of SHARED_SIGNAL_NOTES notes: shared by many practices
NOTES = [
    _note("Automate network protection", ["infrastructure as code", "firewall rules"], "c0"),
    *(
        _note(title, ["infrastructure as code", other], f"c{i}")
        for i, (title, other) in enumerate(
            [
                ("Use configuration management", "configuration drift"),
                ("Deploy changes with automation", "deployment pipeline"),
                ("Automate recovery", "recovery automation"),
            ],
            start=1,
        )
    ),
    _note("Have a process per alert", ["alert response", "on-call rota"], "c9"),
]


def _evidence(  # type: ignore[no-untyped-def]
    text: str,
    note: GuidanceNote,
    tables: list[list[list[str]]] | None = None,
    notes: list[GuidanceNote] = NOTES,
):
    doc = design_page(text)
    if tables:
        doc.pages[1].tables = tables
    views = document_views(understand(doc), deep=False)
    corpus = build_corpus(notes)
    ev = practice_evidence(note, views, corpus)
    return ev, quote_support(note, ev, corpus, shared_signals(notes), views)


def _support_of(ev, support, start: str):  # type: ignore[no-untyped-def]
    stmt = next(s for s, _, _ in ev.ranked if s.display.startswith(start))
    return stmt, support[stmt.index]


def test_a_signal_many_practices_share_does_not_carry_a_practice_alone() -> None:
    """The line naming "Infrastructure as Code" matches a concept of the practice, but one that
    four notes list; the line naming the title's own subject is quoted."""
    assert shared_signals(NOTES)[content_of("infrastructure as code")] == SHARED_SIGNAL_NOTES
    text = (
        "Delivery Design\n"
        "• Infrastructure as Code: Terraform modules for every stack\n"
        "• Network protection: Firewall policies pushed by the pipeline on every change\n"
    )
    ev, support = _evidence(text, NOTES[0])
    _, iac = _support_of(ev, support, "• Infrastructure as Code")
    assert iac.shared == ("infrastructure as code",) and iac.generic and not iac.shows
    _, own = _support_of(ev, support, "• Network protection")
    assert own.shows and not own.specific and own.title_words == 2
    assert _best(ev, 1, support=support)[0].text.startswith("• Network protection")
    assert _best(ev, 1)[0].text.startswith("• Infrastructure as Code")  # without the rule


def test_a_shared_concept_holding_a_word_of_the_title_is_the_practices_own() -> None:
    """ "Infrastructure as code" is shared, but for "Review infrastructure changes" it carries
    the title's own word: the line shows that practice (and still not "Automate network
    protection")."""
    review = _note("Review infrastructure changes", ["infrastructure as code"], "c8")
    text = "Delivery Design\n• Infrastructure as Code: Terraform modules for every stack\n"
    ev, support = _evidence(text, review, notes=[*NOTES, review])
    _, line = _support_of(ev, support, "• Infrastructure as Code")
    assert line.specific == ("infrastructure as code",) and line.shows and not line.generic
    ev, support = _evidence(text, NOTES[0], notes=[*NOTES, review])
    assert not _support_of(ev, support, "• Infrastructure as Code")[1].shows


def test_the_rationale_says_when_no_line_shows_the_practice() -> None:
    """Selected on a shared concept alone: the quote is kept, the rationale says what it lacks."""
    ev, support = _evidence(
        "Delivery Design\n• Infrastructure as Code: Terraform modules for every stack\n", NOTES[0]
    )
    draft = _draft(NOTES[0], ev, 0.99, ADDRESSED, True, "quick", support)
    assert draft.verdict == "addressed" and draft.evidence
    assert draft.rationale.startswith("Judged addressed from the document's wording (p. 2)")
    assert "No line shows this practice itself" in draft.rationale
    assert "\u201cinfrastructure as code\u201d" in draft.rationale
    ev, support = _evidence(
        "Delivery Design\n• Network protection must be automated for every VPC\n", NOTES[0]
    )
    draft = _draft(NOTES[0], ev, 0.99, ADDRESSED, True, "quick", support)
    assert "only names it (a requirement stated with \u201cmust\u201d" in draft.rationale
    ev, support = _evidence(
        "Delivery Design\n• Network protection: Firewall policies pushed by the pipeline\n",
        NOTES[0],
    )
    shown = _draft(NOTES[0], ev, 0.99, ADDRESSED, True, "quick", support).rationale
    assert shown.startswith("The document states this in its design") and "No line" not in shown


def test_title_words_the_document_uses_everywhere_mark_no_line() -> None:
    """A title word in most statements of the document ("network" in a network design) is left
    out of a line's cover; a rarer one counts."""
    lines = [f"• Network segment {i}: subnet 10.0.{i}.0/24 for tier {i}" for i in range(12)]
    text = "Network Design\n" + "\n".join(lines) + "\n• Protection: Shield Advanced on the ALB\n"
    ev, support = _evidence(text, NOTES[0])
    _, segment = _support_of(ev, support, "• Network segment 3")
    assert segment.cover == 0.0 and segment.title_words == 0
    _, protection = _support_of(ev, support, "• Protection: Shield")
    assert protection.cover > 0.0


def test_a_rows_column_names_count_at_part_weight_and_its_first_cell_is_its_subject() -> None:
    """In an alert table the column "Alert" says what every row is about: its title word counts
    at COLUMN_WEIGHT; a concept in the row's first cell (or a "Label: value" line's label) is
    the line's subject, one further along is a side mention."""
    text = (
        "Monitoring\nAlert Condition Response\n"
        "Queue depth > 500 for 15 min Page on-call engineer\n"
        "On-call rota Weekly Runbook per alert\n"
        "• On-call rota: PagerDuty for the platform team\n"
        "• Escalation goes to the on-call rota lead after 30 minutes\n"
    )
    tables = [
        [
            ["Alert", "Condition", "Response"],
            ["Queue depth", "> 500 for 15 min", "Page on-call engineer"],
            ["On-call rota", "Weekly", "Runbook per alert"],
        ]
    ]
    note = NOTES[-1]
    ev, support = _evidence(text, note, tables)
    _, queue = _support_of(ev, support, "Queue depth")
    _, rota = _support_of(ev, support, "On-call rota")
    corpus = build_corpus(NOTES)
    total = sum(corpus.idf(w) for w in content_of(note.title))
    assert queue.cover == COLUMN_WEIGHT * corpus.idf("alert") / total  # the column name only
    assert rota.cover == corpus.idf("alert") / total  # the row's own cell
    assert not queue.subject and rota.subject  # "on-call rota" is the first cell
    _, label = _support_of(ev, support, "• On-call rota: PagerDuty")
    _, side = _support_of(ev, support, "• Escalation goes")
    assert label.subject and not side.subject


def test_further_quotes_must_show_the_practice() -> None:
    """Deep mode quotes up to three lines: after the first, a line matched only through a shared
    concept or one guidance word is left out rather than quoted."""
    text = (
        "Delivery Design\n"
        "• Network protection: Firewall policies pushed by the pipeline on every change\n"
        "• Firewall rules: AWS Network Firewall stateful rule groups per VPC\n"
        "• Infrastructure as Code: Terraform modules for every stack\n"
        "• Protection of the build agents is reviewed yearly\n"
    )
    ev, support = _evidence(text, NOTES[0])
    quotes = [q.text.split(":")[0] for q in _best(ev, 3, support=support)]
    assert sorted(quotes) == ["• Firewall rules", "• Network protection"]
    assert len(_best(ev, 3)) == 3  # without the rule


NEVER = Calibration(weights=(0.0,) * len(FEATURES), bias=-10.0, threshold=0.5)


def test_an_implementation_phrase_below_the_threshold_makes_the_practice_partly() -> None:
    """No signal of the practice is named, but one of its implementation phrases is: below the
    threshold the verdict is ``partly`` (not ``insufficient_information``), the line is quoted
    and the rationale names the phrase; without the phrase it stays undecided."""
    notes = _notes_with(["PagerDuty escalation policy"])
    page = "Operations\n" + _LINES
    hit = _lexical_evidence(
        notes[0], notes, page + "• Outages page the on-call via PagerDuty escalation policies\n"
    )
    assert hit.concepts == 0 and hit.implemented == ["PagerDuty escalation policy"]
    draft = _draft(notes[0], hit, 0.01, NEVER, False, "quick")
    assert draft.verdict == "partly"
    assert [q.text for q in draft.evidence] == [
        "• Outages page the on-call via PagerDuty escalation policies"
    ]
    assert "\u201cPagerDuty escalation policy\u201d" in draft.rationale
    miss = _lexical_evidence(notes[0], notes, page + "• Outages page the on-call by phone\n")
    assert not miss.implemented and not miss.concepts
    assert _draft(notes[0], miss, 0.01, NEVER, False, "quick").verdict == (
        "insufficient_information"
    )
    assert _draft(notes[0], miss, 0.01, NEVER, True, "quick").verdict == "not_addressed"


def _alert_table(heading: str):  # type: ignore[no-untyped-def]
    text = (
        f"{heading}\n"
        "• CloudWatch alarms: alert on queue depth above thresholds\n"
        "Alert Condition Response\n"
        "Queue depth > 500 for 15 min Page on-call engineer\n"
    )
    tables = [
        [
            ["Alert", "Condition", "Response"],
            ["Queue depth", "> 500 for 15 min", "Page on-call engineer"],
        ]
    ]
    return _evidence(text, NOTES[-1], tables)


def test_a_row_of_a_table_of_what_the_title_names_is_quoted_first() -> None:
    """Each row of an "Alert" table is an alert with its response: for "Have a process per
    alert" the row shows the practice and is quoted before a line that only mentions alerts;
    without the rule the mention would be quoted."""
    ev, support = _alert_table("Monitoring")
    _, row = _support_of(ev, support, "Queue depth")
    _, mention = _support_of(ev, support, "• CloudWatch alarms")
    assert row.title_subject and row.shows and not mention.title_subject
    assert _best(ev, 1, support=support)[0].text.startswith("Queue depth")
    without = {i: replace(s, title_subject=False) for i, s in support.items()}
    assert _best(ev, 1, support=without)[0].text.startswith("• CloudWatch alarms")


def test_a_requirement_tables_rows_do_not_name_the_title() -> None:
    """Under "Success Criteria" the same rows are requirements: they name alerts, they are not
    the design's alerts, so the first column does not make them the practice's instances."""
    ev, support = _alert_table("Success Criteria")
    _, row = _support_of(ev, support, "Queue depth")
    assert not row.title_subject


def test_a_first_column_of_a_minor_title_word_does_not_name_the_title() -> None:
    """A column "Type" holds one word of "Select resource type, size, and number": too little
    of the title's weight (below OWN_COVER) for its rows to be what the title names."""
    note = _note("Select resource type, size, and number", ["right sizing"], "c7")
    text = "Compute\nType Size Count\nm5.large 8 GiB 4\n"
    tables = [[["Type", "Size", "Count"], ["m5.large", "8 GiB", "4"]]]
    ev, support = _evidence(text, note, tables, notes=[*NOTES, note])
    _, row = _support_of(ev, support, "m5.large")
    assert not row.title_subject
