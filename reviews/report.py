"""Reports of an assessment: Markdown, a self-contained HTML page, JSON and CSV.

- Markdown (``report.md.j2``) and HTML (``report.html.j2``): contents (links), an executive
  summary (the workload in the document's words, key design facts with pages, the five most
  important risks), risk by pillar, the improvement plan (top 10, the rest folded), then every
  question with its verdicts, quotes (page numbers) and guidance (what good looks like, not ids).
  The HTML page has inline CSS and an inline SVG bar chart (:func:`risk_chart_svg`) and loads
  nothing from elsewhere; all document text in it is HTML-escaped. In the Markdown report every
  value a template prints passes :func:`tools.markup.markdown_inline` (the environment's
  ``finalize``), except identifiers made of letters, digits and ``_ . : -`` (ids in code spans),
  so document quotes, file names, lens text and summaries cannot open HTML, links, images,
  headings or table columns.
- JSON: the :class:`~reviews.models.Assessment` model as is.
- CSV: one row per best practice (:data:`CSV_COLUMNS`), quotes joined as ``p. N: "..."``;
  every cell passes :func:`tools.markup.csv_cell` (no cell can start a spreadsheet formula).
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from lenses.catalog import LensError, load_guidance, load_lens
from reviews.models import RISKS, Assessment
from reviews.render import TEMPLATES, environment
from tools.markup import csv_cell, markdown_inline, strip_controls
from tools.markup import html as html_text

FORMATS = ("md", "html", "json", "csv")
PLAN_SIZE = 10
TOP_RISKS = 5
#: distinguishable for red-green colour blindness and in greyscale (dark red, light amber, blue,
#: mid grey, light grey: five different lightnesses; ColorBrewer RdYlBu/Greys)
RISK_COLOURS = {
    "HIGH": "#b2182b",
    "MEDIUM": "#fdb863",
    "NONE": "#2166ac",
    "NOT_APPLICABLE": "#737373",
    "UNANSWERED": "#e0e0e0",
}
_DARK_TEXT = {"MEDIUM", "UNANSWERED"}
CSV_COLUMNS = [
    "review_id",
    "pillar_id",
    "question_id",
    "question_number",
    "question_title",
    "question_risk",
    "choice_id",
    "bp_id",
    "best_practice",
    "bp_risk",
    "verdict",
    "status",
    "not_applicable_reason",
    "evidence",
    "guidance",
    "rationale",
]


def _squash(text: str) -> str:
    return " ".join(str(text).split())


class _Escaped(str):
    """Markdown a filter already escaped (the Markdown ``finalize`` passes it through)."""


_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:-]*")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, Markdown and HTML inert, pipes escaped
    (:func:`tools.markup.markdown_inline`)."""
    return _Escaped(markdown_inline(str(text)))


def _md_finalize(value: object) -> object:
    """Every ``{{ value }}`` of the Markdown report: escaped text, unless a filter escaped it
    already, it is not a string (numbers, dates), or it is a plain identifier."""
    if isinstance(value, _Escaped) or not isinstance(value, str):
        return value
    if _IDENTIFIER.fullmatch(value):
        return value
    return markdown_inline(value)


def risk_chart_svg(assessment: Assessment, width: int = 720) -> str:
    """An inline SVG: one horizontal stacked bar per pillar, questions per risk value."""
    label_w, bar_w, row_h = 190, width - 190 - 40, 28
    rows = assessment.pillars
    height = row_h * len(rows) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Risk by pillar">'
    ]
    most = max((p.questions for p in rows), default=1) or 1
    for i, pillar in enumerate(rows):
        y = 8 + i * row_h
        parts.append(f'<text x="0" y="{y + 16}">{html_text(pillar.name)}</text>')
        x = float(label_w)
        for risk in RISKS:
            count = pillar.risk_counts.get(risk, 0)
            if not count:
                continue
            w = bar_w * count / most
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" '
                f'fill="{RISK_COLOURS[risk]}">'
                f"<title>{html_text(pillar.name)}: {count} {risk}</title></rect>"
            )
            if w >= 16:
                colour = "#16191f" if risk in _DARK_TEXT else "#ffffff"
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 15}" text-anchor="middle" '
                    f'fill="{colour}">{count}</text>'
                )
            x += w
    legend_y = 8 + len(rows) * row_h + 12
    x = float(label_w)
    for risk in RISKS:
        parts.append(
            f'<rect x="{x:.0f}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{RISK_COLOURS[risk]}"/>'
        )
        parts.append(
            f'<text x="{x + 16:.0f}" y="{legend_y}">{risk.replace("_", " ").lower()}</text>'
        )
        x += 100
    parts.append("</svg>")
    return "".join(parts)


def _guidance(assessment: Assessment) -> dict[str, str]:
    """Choice id -> what good looks like (the lens's guidance notes; empty if unavailable)."""
    try:
        return {n.choice_id: n.good for n in load_guidance(load_lens(assessment.lens_alias))}
    except (LensError, OSError):
        return {}


def _fact_key(value: str) -> str:
    """A fact value's identity: case, plural "s", spaces and hyphens ignored ("Backup" and
    "backups", "Multi-AZ" and "multi AZ" are one value)."""
    words = re.findall(r"[a-z0-9.]+", value.lower())
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


def _facts(assessment: Assessment) -> list[dict[str, object]]:
    """Key facts grouped by label: distinct values (the first 4, see :func:`_fact_key`) and
    every page that states one of them, in order."""
    grouped: dict[str, dict[str, object]] = {}
    keys: dict[str, set[str]] = {}
    for f in assessment.facts:
        row = grouped.setdefault(f.label, {"label": f.label, "values": [], "pages": []})
        values, pages = row["values"], row["pages"]
        assert isinstance(values, list) and isinstance(pages, list)
        seen = keys.setdefault(f.label, set())
        key = _fact_key(f.value)
        if key not in seen:
            if len(values) >= 4:
                continue
            seen.add(key)
            values.append(f.value)
        if f.page not in pages:
            pages.append(f.page)
    return list(grouped.values())


def executive_summary(assessment: Assessment) -> dict[str, Any]:
    """The executive summary's content, for the reports and the chat: ``workload`` (the
    document's own sentence), ``facts`` (key design facts grouped by label: ``label``,
    ``values``, ``pages``), ``totals`` (questions per risk) and ``top_risks`` (the first
    :data:`TOP_RISKS` plan items)."""
    return {
        "workload": assessment.workload,
        "facts": _facts(assessment),
        "totals": assessment.risk_counts(),
        "top_risks": assessment.recommendations[:TOP_RISKS],
    }


def _context(assessment: Assessment) -> dict[str, object]:
    by_pillar: dict[str, list[object]] = {}
    for qa in assessment.questions:
        by_pillar.setdefault(qa.pillar_id, []).append(qa)
    summary = executive_summary(assessment)
    return {
        "a": assessment,
        "totals": summary["totals"],
        "plan": assessment.recommendations[:PLAN_SIZE],
        "rest": assessment.recommendations[PLAN_SIZE:],
        "top_risks": summary["top_risks"],
        "facts": summary["facts"],
        "guidance": _guidance(assessment),
        "numbers": {qa.question_id: qa.number for qa in assessment.questions},
        "by_pillar": by_pillar,
    }


def _env() -> Environment:
    env = environment()
    env.filters.setdefault("basename", lambda p: Path(str(p)).name)
    env.filters.setdefault("cell", _cell)
    env.filters.setdefault("squash", _squash)
    env.filters.setdefault("verdict", lambda v: str(v).replace("_", " "))
    return env


@lru_cache(maxsize=2)
def _report_env(fmt: str) -> Environment:
    """The report environment of ``fmt`` (``md`` or ``html``): every printed value passes the
    format's finalize (:func:`_md_finalize`, :func:`_html_finalize`); HTML is autoescaped."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=_md_finalize if fmt == "md" else _html_finalize,
    )
    env.filters.update(_env().filters)
    if fmt == "md":
        env.filters["squash"] = lambda t: _Escaped(markdown_inline(str(t)))
    return env


def render_markdown(assessment: Assessment) -> str:
    """The Markdown report (every untrusted value escaped, see the module docstring)."""
    return str(_report_env("md").get_template("report.md.j2").render(**_context(assessment)))


def _html_finalize(value: object) -> object:
    """Every ``{{ value }}`` of the HTML report loses control and invisible characters before
    autoescaping (:func:`tools.markup.strip_controls`); built markup passes as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return strip_controls(value)
    return value


def render_html(assessment: Assessment) -> str:
    """The self-contained HTML report (inline CSS and SVG, no external asset)."""
    context = _context(assessment)
    context["chart"] = Markup(risk_chart_svg(assessment))  # built from escaped parts
    return str(_report_env("html").get_template("report.html.j2").render(**context))


def render_csv(assessment: Assessment) -> str:
    """One CSV row per best practice (columns: :data:`CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for qa in assessment.questions:
        for bp in qa.best_practices:
            row = {
                "review_id": assessment.review_id,
                "pillar_id": qa.pillar_id,
                "question_id": qa.question_id,
                "question_number": qa.number,
                "question_title": qa.title,
                "question_risk": qa.risk,
                "choice_id": bp.choice_id,
                "bp_id": bp.bp_id or "",
                "best_practice": bp.title,
                "bp_risk": bp.bp_risk or "",
                "verdict": bp.verdict,
                "status": bp.status,
                "not_applicable_reason": bp.reason or "",
                "evidence": " | ".join(f'p. {e.page}: "{_squash(e.text)}"' for e in bp.evidence),
                "guidance": " ".join(bp.guidance),
                "rationale": bp.rationale,
            }
            writer.writerow({k: csv_cell(str(v)) for k, v in row.items()})
    return buffer.getvalue()


def render(assessment: Assessment, fmt: str) -> str:
    """The report in one of :data:`FORMATS`.

    Raises:
        ValueError: unknown format.
    """
    if fmt == "md":
        return render_markdown(assessment)
    if fmt == "html":
        return render_html(assessment)
    if fmt == "json":
        return assessment.model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return render_csv(assessment)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_reports(assessment: Assessment, out_dir: Path, formats: list[str]) -> dict[str, Path]:
    """Write ``review-<id>.<fmt>`` for each format into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = out_dir / f"review-{assessment.review_id}.{fmt}"
        path.write_text(render(assessment, fmt), encoding="utf-8")
        paths[fmt] = path
    return paths
