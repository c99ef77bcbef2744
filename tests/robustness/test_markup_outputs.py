"""Markup payloads stay inert in every output a review or an investigation writes.

The payloads (``tests/tools/test_markup.py::PAYLOADS``: terminal escapes, Rich markup, HTML,
Markdown links, images, headings, table pipes, Slack mentions and formatting, bidi and
zero-width characters) are planted in every untrusted field of an assessment (document name,
summaries, quotes, rationales, recommendation titles and texts) and rendered as the Markdown,
HTML and CSV reports and the WA Tool plan. Markdown is parsed with a CommonMark parser
(markdown-it-py), HTML with the standard library parser: each output must hold exactly the
structure its template makes, and nothing a payload tried to add.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from cli.main import app
from reviews.models import Assessment
from reviews.report import render_csv, render_html, render_markdown
from reviews.watool import build_plan
from tests.reviews import pdfs
from tests.tools.test_markup import PAYLOADS

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069]")


@pytest.fixture(scope="module")
def assessments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assessment, Assessment]:
    """(clean, hostile): one real heuristic review of a small PDF, and a copy with a payload in
    every untrusted field (payloads assigned round-robin)."""
    tmp = tmp_path_factory.mktemp("markup")
    pdf = tmp / "design.pdf"
    pdf.write_bytes(
        pdfs.text_pdf(
            [
                [
                    "The workload runs in two AWS Regions with Route 53 failover.",
                    "CloudWatch alarms page the on-call engineer; runbooks live in the wiki.",
                    "Data is encrypted at rest with AWS KMS and in transit with TLS.",
                ]
            ]
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("RCA_HOME", str(tmp / "home"))
    result = CliRunner().invoke(
        app, ["review", str(pdf), "--pillar", "rel", "--json", "--quiet", "--out", str(tmp)]
    )
    mp.undo()
    assert result.exit_code == 0, result.output
    import json

    clean = Assessment.model_validate(json.loads(result.stdout)["assessment"])
    n = iter(range(10_000))

    def p() -> str:
        return PAYLOADS[next(n) % len(PAYLOADS)]

    questions = []
    for qa in clean.questions:
        bps = [
            bp.model_copy(
                update={
                    "title": p(),
                    "rationale": p(),
                    "evidence": [e.model_copy(update={"text": p()}) for e in bp.evidence]
                    or bp.evidence,
                }
            )
            for bp in qa.best_practices
        ]
        questions.append(qa.model_copy(update={"summary": p(), "best_practices": bps}))
    recs = [r.model_copy(update={"title": p(), "text": p()}) for r in clean.recommendations]
    hostile = clean.model_copy(
        update={
            "document": "/tmp/" + PAYLOADS[7] + PAYLOADS[0] + ".pdf",
            "questions": questions,
            "recommendations": recs,
        }
    )
    return clean, hostile


def _md_structure(text: str) -> tuple[list[str], list[int]]:
    """(block token types that open structure, cells per table row) of a Markdown text."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    opened = [t.type for t in tokens if t.type.endswith("_open") or t.type == "html_block"]
    cells: list[int] = []
    count = 0
    for t in tokens:
        if t.type == "tr_open":
            count = 0
        elif t.type in ("td_open", "th_open"):
            count += 1
        elif t.type == "tr_close":
            cells.append(count)
    return opened, cells


def _md_inline_kinds(text: str) -> set[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return {c.type for t in tokens if t.children for c in t.children}


def test_markdown_report_keeps_its_structure(assessments) -> None:  # type: ignore[no-untyped-def]
    clean, hostile = assessments
    md = render_markdown(hostile)
    assert _md_structure(md) == _md_structure(render_markdown(clean))  # no heading, no column
    kinds = _md_inline_kinds(md)
    assert not kinds & {"link_open", "image", "html_inline"} - _md_inline_kinds(
        render_markdown(clean)
    )
    assert "](javascript" not in md and "](https://evil" not in md
    assert "<script" not in md and "<img" not in md and "<!channel>" not in md
    assert not CONTROL.search(md)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def _html_tags(text: str) -> tuple[list[str], set[str]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags, set(parser.attrs)


def _hrefs(text: str) -> list[str]:
    parser = _Tags()
    parser.feed(text)
    return parser.hrefs


def test_html_report_keeps_its_structure(assessments) -> None:  # type: ignore[no-untyped-def]
    clean, hostile = assessments
    html = render_html(hostile)
    tags, attrs = _html_tags(html)
    clean_tags, clean_attrs = _html_tags(render_html(clean))
    assert tags == clean_tags and attrs == clean_attrs  # no script, img, onerror
    assert "onerror" not in attrs and "script" not in tags
    # links only where the report builds them: its own anchors and the lens's AWS pages
    assert _hrefs(html) == _hrefs(render_html(clean))
    assert all(h.startswith(("#", "https://docs.aws.amazon.com/")) for h in _hrefs(html))
    assert not CONTROL.search(html)


def test_csv_cells_cannot_start_a_formula_or_a_row(assessments) -> None:  # type: ignore[no-untyped-def]
    clean, hostile = assessments
    rows = list(csv.reader(io.StringIO(render_csv(hostile))))
    assert len(rows) == len(list(csv.reader(io.StringIO(render_csv(clean)))))
    assert all(len(r) == len(rows[0]) for r in rows)
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), cell
            assert not CONTROL.search(cell)


def test_wa_tool_notes_are_plain_one_line_text(assessments) -> None:  # type: ignore[no-untyped-def]
    from lenses.catalog import load_lens

    _clean, hostile = assessments
    plan = build_plan(hostile, load_lens("wellarchitected"), workload_name="markup test")
    notes = [c.params["Notes"] for c in plan.calls if "Notes" in c.params]
    notes += [
        u["Notes"]
        for c in plan.calls
        for u in (c.params.get("ChoiceUpdates") or {}).values()
        if "Notes" in u
    ]
    assert notes
    for note in notes:
        assert not CONTROL.search(note) and "\n" not in note, repr(note)


def test_review_terminal_output_is_inert(tmp_path: Path) -> None:
    """A hostile file name reaches the summary table and the report paths on a real stdout."""
    import subprocess
    import sys

    name = tmp_path / "x\x1b[2J[bold red]evil.pdf"
    name.write_bytes(
        pdfs.text_pdf([["The workload runs in two AWS Regions with Route 53 failover."] * 3])
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "review",
            str(name),
            "-p",
            "rel",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "",
            "RCA_HOME": str(tmp_path / "home"),
            "COLUMNS": "300",
            "TERM": "xterm",
            "FORCE_COLOR": "1",
        },
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[2J" not in proc.stdout and "\x1b[2J" not in proc.stderr
    assert "[bold red]evil" in proc.stdout  # shown literally, not interpreted
