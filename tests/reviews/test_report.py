"""Reports: Markdown, self-contained HTML with an SVG chart, JSON and CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from reviews.models import Assessment, Quote
from reviews.report import CSV_COLUMNS, render, risk_chart_svg, write_reports
from tests.reviews.conftest import DR


def test_markdown_report(review_of) -> None:  # type: ignore[no-untyped-def]
    a = review_of(DR, "quick")
    md = render(a, "md")
    assert md.startswith(
        "# Well-Architected review: aws-disaster-recovery-web-application-detailed-design.pdf"
    )
    assert "## Risk by pillar" in md and "## Improvement plan" in md
    for pillar in a.pillars:
        assert f"| {pillar.name} | {pillar.questions} | {pillar.risk_counts['HIGH']} |" in md
    assert "### REL 9 How do you back up data?" in md
    quote = a.question("backing-up-data").best_practices[0].evidence[0]
    assert f"p. {quote.page}: “{' '.join(quote.text.split())}”" in md
    assert "`rel_backing_up_data_identified_backups_data`" not in md  # guidance, not ids
    assert "All data that the business needs" in md or "back up" in md.lower()


def test_reports_open_with_an_executive_summary_and_fold_the_plan(review_of, notes) -> None:  # type: ignore[no-untyped-def]
    from reviews.document import with_summary
    from tests.reviews.conftest import extracted

    a = with_summary(review_of(DR, "quick"), extracted(DR))
    assert "60 minutes" in {f.value for f in a.facts if f.name == "rpo"}
    md = render(a, "md")
    summary = md[md.index("## Executive summary") : md.index("## Risk by pillar")]
    assert "| RPO |" in summary and "| RTO |" in summary and "us-east-1" in summary
    assert summary.count("\n1. ") + summary.count("\n5. ") == 2  # five risks, numbered
    assert "[Reliability](#reliability)" in md  # navigation
    plan = md[md.index("## Improvement plan") :]
    assert "<details><summary>The other" in plan
    assert "](https://docs.aws.amazon.com/wellarchitected/" in plan
    good = {n.choice_id: n.good for n in notes}
    assert good["rel_backing_up_data_identified_backups_data"][:40] in md
    html = render(a, "html")
    assert '<nav><a href="#summary">' in html and "<details>" in html
    assert "score" not in md.lower() and "score" not in html.lower()


def test_html_report_is_self_contained_and_escaped(review_of) -> None:  # type: ignore[no-untyped-def]
    a: Assessment = review_of(DR, "quick")
    qa = a.questions[0]
    bp = qa.best_practices[0]
    hostile = bp.model_copy(
        update={"evidence": [Quote(page=2, text="<script>alert('x')</script> & <img src=x>")]}
    )
    a = a.model_copy(
        update={
            "questions": [
                qa.model_copy(update={"best_practices": [hostile, *qa.best_practices[1:]]}),
                *a.questions[1:],
            ]
        }
    )
    html = render(a, "html")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert html.count("<svg") == 1 and "<rect" in html
    assert not re.search(r"<(script|link|img|iframe|object)\b", html)  # no element loads anything
    assert not re.search(r"\s(src|href)\s*=\s*[\"'](?!#)", html)  # only in-page anchors
    assert "@import" not in html and "url(" not in html
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;img src=x&gt;"
        in html.replace("&#34;", '"')
    )


def test_chart_has_one_bar_per_pillar(review_of) -> None:  # type: ignore[no-untyped-def]
    a = review_of(DR, "deep")
    svg = risk_chart_svg(a)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for pillar in a.pillars:
        assert f">{pillar.name}</text>" in svg
    bars = re.findall(
        r"<title>([^<]+): (\d+) (HIGH|MEDIUM|NONE|NOT_APPLICABLE|UNANSWERED)</title>", svg
    )
    assert sum(int(n) for _, n, _ in bars) == 57


def test_json_round_trips_and_csv_has_one_row_per_best_practice(review_of, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = review_of(DR, "deep")
    assert Assessment.model_validate_json(render(a, "json")) == a
    rows = list(csv.DictReader(io.StringIO(render(a, "csv"))))
    assert len(rows) == 308 and list(rows[0]) == CSV_COLUMNS
    backup = next(
        r for r in rows if r["choice_id"] == "rel_backing_up_data_identified_backups_data"
    )
    assert backup["question_number"] == "REL 9" and backup["verdict"] == "addressed"
    assert (
        backup["status"] == "SELECTED"
        and 'p. 10: "• Backup: Aurora automated backups' in backup["evidence"]
    )
    paths = write_reports(a, tmp_path / "out", ["md", "html", "json", "csv"])
    assert sorted(p.name for p in paths.values()) == sorted(
        f"review-{a.review_id}.{ext}" for ext in ("md", "html", "json", "csv")
    )


def test_summary_facts_merge_spellings_and_keep_every_page(review_of) -> None:  # type: ignore[no-untyped-def]
    from reviews.models import DesignFact
    from reviews.report import executive_summary

    base = review_of(DR, "quick")

    def fact(value: str, page: int) -> DesignFact:
        return DesignFact(name="backups", label="Backups", value=value, page=page, quote=value)

    a = base.model_copy(
        update={
            "facts": [
                fact("Backup", 5),
                fact("backups", 8),  # one value spelt twice: no second entry, its page kept
                fact("snapshot", 8),
                fact("Backup", 10),
            ]
        }
    )
    (row,) = executive_summary(a)["facts"]
    assert row["values"] == ["Backup", "snapshot"]
    assert row["pages"] == [5, 8, 10]
