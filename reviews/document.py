"""Document understanding over extracted pages: statements with their section, qualifiers, facts.

:func:`understand` turns a :class:`~reviews.models.DocumentText` into a :class:`DocumentModel`:

- **statements**: every segment of :mod:`reviews.evidence` (a bullet item, a table row, a
  sentence) with its **section path** (the headings above it, outermost first) and a verbatim
  ``quote`` (a substring of its page's text). A table row is read as ``"column: value; ..."``
  statements from the table's header row (``text``), while its quote stays the row's own line.
- **never evidence** (``evidence = False``): headings, table header rows, glossary and
  table-of-contents lines, reference lists, the title page's metadata lines. Lead-in sentences
  that announce a list ("... the following components") or speak about the document itself
  are matched but quoted only when nothing better is (:attr:`Statement.lead_in`).
- **qualifiers** (:data:`QUALIFIERS`): ``future`` ("(future)", "planned", "phase 2", "roadmap"),
  ``optional``, ``conditional`` ("if required", "as needed"), ``out_of_scope`` (items under an
  out-of-scope label, or lines that hand the topic to another document), ``negated`` ("not
  implemented", "no ... planned"), ``current_state`` (under a current-state / existing-environment
  heading, until a target/solution heading). A statement with any qualifier is not *present*: it
  does not count as the design's decision.
- **shows vs names** (:data:`NAMING_ROLES`, :attr:`Statement.naming`): a present statement
  either *shows* a practice in place (a concrete statement of what the design does) or only
  *names* its concept: a line of a requirements, assumptions or risks list (known from the
  section heading or from the lead-in that announces the list, "the following ... requirements"),
  a requirement's modality ("must", "shall", "mandatory"), a question, a definition, a reference
  to another document, a section's opening summary sentence above its list or table, or a
  heading-like fragment. Quotes prefer statements that show; the calibrated decision reads how
  well the practice matches statements that show (:mod:`reviews.assessors.lexical`).
- **facts** (:func:`extract_facts`): RTO, RPO, Regions, Availability Zones, encryption, identity,
  backups, monitoring and the DR pattern, each with the page it was read on, extracted once per
  document for the report's summary and the chat.

The qualifier and section vocabularies are general English for design documents (the words
reviewers use for roadmap, optional and conditional scope), not phrases of any one document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from reviews.evidence import Segment, looks_heading, row_key, segments, term_tokens
from reviews.models import DesignFact, DocumentText

QUALIFIERS = ("future", "optional", "conditional", "out_of_scope", "negated", "current_state")

_FUTURE = re.compile(
    r"\([^)]*\b(?:future|planned|roadmap|phase\s*[2-9]|tbd|later)\b[^)]*\)|"
    r"\bfuture (?:phase|release|enhancement|state|work|consideration)s?\b|"
    r"\b(?:is|are) planned\b|\bplanned for\b|"
    r"\bto be (?:determined|defined|decided|evaluated|considered)\b|\bTBD\b|\broadmap\b|"
    r"\bnot yet\b|\bwill be (?:evaluated|considered|explored|assessed)\b|\bin (?:a )?later phase\b",
    re.I,
)
_OPTIONAL = re.compile(r"\(optional\)|\boptional(?:ly)?\b|\bnice[- ]to[- ]have\b", re.I)
_CONDITIONAL = re.compile(
    r"\bif (?:required|needed|necessary|applicable|requested|desired)\b|\bas needed\b|"
    r"\bwhere (?:required|applicable|needed|necessary)\b|\bwhen (?:required|needed)\b|"
    r"\bon request\b|\bcan be (?:added|enabled|configured)\b|\bmay be (?:added|enabled|used)\b",
    re.I,
)
_NEGATED = re.compile(
    r"\bnot (?:implemented|included|configured|enabled|planned|supported|covered|used|"
    r"in scope|part of|provided|available|required)\b|\bno \w+(?: \w+)? (?:is|are) "
    r"(?:planned|configured|implemented|used|provided|in place)\b|^\W*(?:none|n/a)\W*$",
    re.I,
)
_ELSEWHERE = re.compile(
    r"\((?:covered|handled|addressed|managed) (?:in|by) [^)]*\)|\bout[- ]of[- ]scope\b|"
    r"\bnot in scope\b|\bexcluded\b",
    re.I,
)
_CURRENT_HEADING = re.compile(
    r"\b(?:current[- ]state|as[- ]is|existing (?:environment|state|system|infrastructure)|"
    r"current (?:environment|architecture|landscape))\b",
    re.I,
)
_TARGET_HEADING = re.compile(
    r"\b(?:solution|target|proposed|to[- ]be|architecture|design|implementation)\b",
    re.I,
)
_FUTURE_HEADING = re.compile(r"\b(?:future|roadmap|next steps|phase\s*[2-9]|optional)\b", re.I)
_NOT_EVIDENCE_HEADING = re.compile(
    r"^\W*(?:glossary|definitions?|acronyms|abbreviations|terminology|terms and definitions|"
    r"table of contents|contents|references|bibliography|related documents|document control|"
    r"revision history|version history|approvals?|sign[- ]?off)\b",
    re.I,
)
_TOC_LINE = re.compile(r"(?:\.{3,}|…+)\s*\d+\s*$|^\s*\d+(?:\.\d+)*\s+\S.*\s\d+\s*$")
_LEAD_IN = re.compile(
    r"\bthe following\b|\bas follows\b|\bbelow:\s*$|^\W*(?:this|the) (?:document|section)\b",
    re.I,
)
#: sections that describe the document rather than the design (its purpose, scope, audience)
_ABOUT_DOCUMENT_HEADING = re.compile(
    r"^\W*(?:document\s+)?(?:purpose|scope|audience|intended audience|about this document|"
    r"document (?:overview|conventions))\W*$",
    re.I,
)
#: why a present statement only names a concept (:attr:`Statement.naming`); "" = it shows one
NAMING_ROLES = (
    "requirement",
    "risk",
    "modality",
    "question",
    "definition",
    "reference",
    "summary",
    "fragment",
    "convention",
)
_ROLE_NOUNS = {
    "requirement": r"requirements?|constraints?|criteria|objectives?|drivers?|goals?|targets?|"
    r"expectations?|needs",
    "risk": r"assumptions?|risks?|issues?|open (?:questions?|items?|points?)|concerns?|"
    r"questions?",
}


def _role_patterns(before: str) -> dict[str, re.Pattern[str]]:
    """Per list role, ``before`` followed by one of the role's nouns (case-insensitive)."""
    return {
        role: re.compile(rf"{before}(?:{nouns})\b", re.I) for role, nouns in _ROLE_NOUNS.items()
    }


#: a section heading that names a list's role ("Success Criteria", "Risk Register")
_ROLE_HEADING = _role_patterns(r"\b")
#: a lead-in that announces a list's role ("... the following regulatory requirements")
_ROLE_LEAD_IN = _role_patterns(
    r"\bthe following\s+(?!(?:table|list|diagram|matrix)\b)(?:[\w/&-]+\s+){0,4}?"
)
#: a naming-convention section or table: its lines name resources, they decide nothing
_CONVENTION_HEADING = re.compile(r"\bnaming (?:conventions?|standards?|patterns?|scheme)\b", re.I)
_MODALITY = re.compile(
    r"\b(?:must|shall|should|mandatory|mandated?|needs? to|has to|have to)\b", re.I
)
_REFERENCE = re.compile(
    r"\b(?:see|refer to|described in|documented in|covered in|detailed in|"
    r"in conjunction with)\s+(?:the\s+)?[A-Z\d]",
)
_DEFINITION = re.compile(
    r"\b(?:means|refers to|is defined as|stands for)\b|"
    r"^\W*[\w /&-]{2,40}\s+(?:is|are) (?:a|an) (?:\w+ )?(?:process|practice|method|technique|"
    r"approach|way|concept|term)\b",
    re.I,
)
_MITIGATION = re.compile(r"\b(?:mitigations?|responses?|controls?|actions?|treatments?)\b", re.I)
_LABEL_VALUE = re.compile(r"^\W*[A-Z][\w/&() -]{0,40}:\s+\S")
_GLOSSARY_HEADER = {
    ("term", "definition"),
    ("acronym", "definition"),
    ("term", "meaning"),
    ("abbreviation", "meaning"),
    ("acronym", "meaning"),
}


@dataclass
class Statement:
    """One statement of the document.

    ``quote`` is verbatim page text (``doc.page(page).text[start:end]``); ``text`` is what is
    matched (a table row as ``"column: value; ..."``); ``section`` the heading path;
    ``qualifiers`` a subset of :data:`QUALIFIERS`; ``evidence`` False for headings, header rows,
    glossary, TOC and reference lines. ``index`` is the statement's position in the document.
    ``naming`` says why a statement only names a concept (one of :data:`NAMING_ROLES`), or is
    "" when it may show the practice in place (:attr:`shows`).
    """

    index: int
    page: int
    start: int
    end: int
    quote: str
    text: str
    kind: str
    section: tuple[str, ...] = ()
    qualifiers: frozenset[str] = frozenset()
    evidence: bool = True
    tokens: tuple[str, ...] = field(default=(), repr=False)
    naming: str = ""

    @property
    def lead_in(self) -> bool:
        """A sentence that announces a list ("... the following components") or speaks about
        the document itself (also every line of its purpose, scope or audience section):
        matched like any statement, quoted only when nothing better is."""
        if self.section and _ABOUT_DOCUMENT_HEADING.match(self.section[-1]):
            return True
        return self.kind != "row" and bool(_LEAD_IN.search(self.display))

    @property
    def present(self) -> bool:
        """Usable as evidence of what the design does: evidence and unqualified."""
        return self.evidence and not self.qualifiers

    @property
    def shows(self) -> bool:
        """Present, and a concrete statement of what the design does: not a lead-in and not a
        line that only names a concept (:attr:`naming`, one of :data:`NAMING_ROLES`, or "")."""
        return self.present and not self.naming and not self.lead_in

    @property
    def display(self) -> str:
        """The quote with runs of whitespace collapsed."""
        return " ".join(self.quote.split())


@dataclass
class Fact:
    """A key design fact: ``name`` (``rto``, ``regions``, ...), its ``value``, page and quote."""

    name: str
    value: str
    page: int
    quote: str


@dataclass
class DocumentModel:
    """Statements, headings and facts of one document (see the module docstring)."""

    doc: DocumentText
    statements: list[Statement]
    facts: list[Fact]
    title: str = ""

    def evidence(self) -> list[Statement]:
        """Statements that are not headings, header rows, glossary, TOC or references."""
        return [s for s in self.statements if s.evidence]

    def fact(self, name: str) -> list[Fact]:
        """Facts with this name, in document order."""
        return [f for f in self.facts if f.name == name]


def _row_lookup(
    doc: DocumentText,
) -> dict[tuple[int, tuple[str, ...]], tuple[list[str], list[str], bool]]:
    """(page, :func:`~reviews.evidence.row_key` of the row) -> (header cells, row cells,
    is_header_row); the key matches a ``row`` segment however its cells were printed."""
    out: dict[tuple[int, tuple[str, ...]], tuple[list[str], list[str], bool]] = {}
    headers: set[tuple[str, ...]] = set()
    for page in doc.pages:
        for table in page.tables:
            if table and any(table[0]):
                headers.add(row_key(_joined(table[0])))
    for page in doc.pages:
        for table in page.tables:
            if not table:
                continue
            header = [c or "" for c in table[0]]
            for n, row in enumerate(table):
                cells = [c or "" for c in row]
                key = row_key(_joined(cells))
                out.setdefault((page.number, key), (header, cells, n == 0 or key in headers))
    return out


def _joined(cells: list[str]) -> str:
    return " ".join(" ".join(c or "" for c in cells).split())


def _row_text(header: list[str], cells: list[str]) -> str:
    if len(header) != len(cells) or not any(h.strip() for h in header):
        return " ".join(c for c in cells if c)
    parts = [
        f"{' '.join(h.split())}: {' '.join(c.split())}"
        for h, c in zip(header, cells, strict=True)
        if c
    ]
    return "; ".join(parts)


def qualifiers_of(text: str) -> set[str]:
    """The qualifiers a statement's own words carry (see :data:`QUALIFIERS`)."""
    found: set[str] = set()
    if _FUTURE.search(text):
        found.add("future")
    if _OPTIONAL.search(text):
        found.add("optional")
    if _CONDITIONAL.search(text):
        found.add("conditional")
    if _NEGATED.search(text):
        found.add("negated")
    if _ELSEWHERE.search(text):
        found.add("out_of_scope")
    return found


def understand(doc: DocumentText) -> DocumentModel:
    """Read a document into statements with sections, qualifiers and facts (module docstring)."""
    rows = _row_lookup(doc)
    title_lines = {
        line.strip() for line in (doc.pages[0].text.split("\n") if doc.pages else []) if line
    }
    #: per page, the headings not yet met, in order (a caption repeating a heading's words
    #: later on the page is not the heading again)
    pending = {
        p.number: [(" ".join(h.text.split()), h.level) for h in p.headings] for p in doc.pages
    }
    levels = any(pending.values())
    statements: list[Statement] = []
    section: list[str] = []
    open_levels: list[int] = []  # the level of each entry of ``section`` (typographic headings)
    current_state = False
    section_future = False
    not_evidence_section = False
    glossary_table = False
    section_role = ""
    for seg in segments(doc):
        display = " ".join(seg.text.split())
        row = rows.get((seg.page, row_key(display))) if seg.kind == "row" else None
        if levels:  # the extractor read the heading structure: it alone says what a heading is
            level = _next_heading(pending.get(seg.page, []), display, seg.kind)
            heading = level is not None
        else:
            level, heading = None, seg.kind != "row" and _is_heading(seg)
        if heading:
            if level is not None:
                while open_levels and open_levels[-1] >= level:
                    open_levels.pop()
                    section.pop()
                open_levels.append(level)
                section = [*section, display]
            else:
                parent = section[-1:] if section and _looks_parent(statements) else []
                section = [*parent, display]
            if _CURRENT_HEADING.search(display):
                current_state = True
            elif current_state and _TARGET_HEADING.search(display):
                current_state = False
            section_future = bool(_FUTURE_HEADING.search(display))
            not_evidence_section = bool(_NOT_EVIDENCE_HEADING.match(display))
            glossary_table = False
            section_role = _role_of(display, _ROLE_HEADING) or (
                "convention" if _CONVENTION_HEADING.search(display) else ""
            )
            statements.append(
                _statement(len(statements), seg, display, tuple(section), False, heading=True)
            )
            continue
        text = display
        evidence = not not_evidence_section
        quals = qualifiers_of(display)
        if row is not None:
            header, cells, is_header = row
            if is_header:
                glossary_table = tuple(c.strip().lower() for c in header[:2]) in _GLOSSARY_HEADER
                evidence = False
            text = _row_text(header, cells)
            if glossary_table:
                evidence = False
        if seg.page == 1 and display in title_lines and _metadata_line(display):
            evidence = False  # the title page: document metadata, not design
        if _TOC_LINE.search(display) and seg.kind != "row":
            evidence = False
        if seg.out_of_scope:
            quals.add("out_of_scope")
        if current_state:
            quals.add("current_state")
        if section_future:
            quals.add("future")
        stmt = _statement(
            len(statements), seg, text, tuple(section), evidence, heading=False if levels else None
        )
        stmt.qualifiers = frozenset(quals)
        if row is None and _LEAD_IN.search(display):
            section_role = _role_of(display, _ROLE_LEAD_IN) or section_role
        role = section_role
        if row is not None and row[0]:
            role = role or _role_of(row[0][0], _ROLE_HEADING)
            if role == "risk" and any(_MITIGATION.search(h) for h in row[0]):
                role = ""  # a risk register row with its mitigation: the mitigation is design
        stmt.naming = _naming(display, seg.kind, role)
        statements.append(stmt)
    _mark_summaries(statements)
    model = DocumentModel(doc=doc, statements=statements, facts=[], title=doc.title or "")
    model.facts = extract_facts(model)
    return model


#: a practice title that asks for the list itself: a verb of setting or knowing it, then within
#: three words the list's noun ("Evaluate compliance requirements", "meet availability targets";
#: not "Test functional requirements")
_ROLE_TITLE = _role_patterns(
    r"\b(?:evaluate|define|identify|establish|understand|determine|set|meet|align|agree|"
    r"implement|validate|document|review)\b(?:\W+\w+){0,3}?\W+"
)


def roles_named(title: str) -> frozenset[str]:
    """The list roles a best practice's own title asks for ("Evaluate compliance requirements"
    -> ``requirement``): for such a practice a line of that list shows it, not only names it."""
    return frozenset(role for role, pattern in _ROLE_TITLE.items() if pattern.search(title))


def shows_for(stmt: Statement, roles: frozenset[str]) -> bool:
    """:attr:`Statement.shows`, counting lines of the lists ``roles`` (see :func:`roles_named`)."""
    return stmt.shows or (stmt.present and not stmt.lead_in and stmt.naming in roles)


def _role_of(text: str, patterns: dict[str, re.Pattern[str]]) -> str:
    """The list role ("risk" before "requirement") a heading or lead-in names, or ""."""
    for role in ("risk", "requirement"):
        if patterns[role].search(text):
            return role
    return ""


def _naming(display: str, kind: str, section_role: str) -> str:
    """Why a statement only names a concept (see :data:`NAMING_ROLES`), or "" (it may show)."""
    if display.rstrip().endswith("?"):
        return "question"
    if _REFERENCE.search(display):
        return "reference"
    if _DEFINITION.search(display):
        return "definition"
    if section_role:
        return section_role
    if _MODALITY.search(display):
        return "modality"
    words = display.lstrip("•▪◦-*– ").split()
    if (
        kind in ("item", "paragraph")
        and len(words) <= 4
        and not any(ch.isdigit() for ch in display)
        and not _LABEL_VALUE.match(display.lstrip("•▪◦-*– "))
    ):
        return "fragment"
    return ""


_NAME = re.compile(r"^[A-Z][a-z]+[A-Z]?\w*$|^[A-Z][\w.-]*\d[\w.-]*$")


def concrete(text: str) -> bool:
    """A statement with a concrete value or a named component: a digit, or a capitalised name
    (``Secrets Manager``, ``S3``) after its first word."""
    if any(ch.isdigit() for ch in text):
        return True
    words = re.findall(r"[A-Za-z][\w.-]*", text)
    return any(_NAME.match(w) and len(w) >= 4 for w in words[1:])


def _mark_summaries(statements: list[Statement]) -> None:
    """A section's opening sentence above its list or table, with no concrete value or named
    component (:func:`concrete`), summarises the topic the list then shows: mark it ``summary``
    (it names the concept; its items show it)."""
    for prev, stmt, nxt in zip(statements, statements[1:], statements[2:], strict=False):
        if (
            prev.kind == "heading"
            and stmt.kind in ("paragraph", "sentence")
            and nxt.kind in ("item", "row")
            and nxt.section == stmt.section
            and not stmt.naming
            and not concrete(stmt.display)
        ):
            stmt.naming = "summary"


def _next_heading(pending: list[tuple[str, int]], display: str, kind: str) -> int | None:
    """The level of ``display`` when it is one of the page's ``pending`` headings (which then
    drops it and those before it), else None."""
    if kind != "paragraph":
        return None
    for n, (text, level) in enumerate(pending):
        if text == display:
            del pending[: n + 1]
            return level
    return None


def _statement(
    index: int,
    seg: Segment,
    text: str,
    section: tuple[str, ...],
    evidence: bool,
    *,
    heading: bool | None = None,
) -> Statement:
    """A statement of ``seg``; its kind is "heading" when ``heading`` says so (None: when it is
    not evidence and looks like a heading)."""
    if heading is None:
        heading = not evidence and seg.heading
    return Statement(
        index=index,
        page=seg.page,
        start=seg.start,
        end=seg.end,
        quote=seg.text,
        text=text,
        kind="heading" if heading else seg.kind,
        section=section,
        evidence=evidence,
        tokens=term_tokens(text),
    )


def _metadata_line(line: str) -> bool:
    """A short title-page line (title, version, author, date), not a sentence."""
    return len(line.split()) <= 8 and not line.rstrip().endswith(".")


def _is_heading(seg: Segment) -> bool:
    text = " ".join(seg.text.split())
    return seg.kind == "paragraph" and "\n" not in seg.text.strip() and looks_heading(text)


def _looks_parent(statements: list[Statement]) -> bool:
    """The previous heading is a parent when at most one intro sentence follows it."""
    tail = statements[-2:]
    return any(s.kind == "heading" for s in tail) and not any(
        s.kind in ("item", "row") for s in tail
    )


# -- facts -------------------------------------------------------------------------------------

_DURATION = (
    r"(?:<\s*)?\d+(?:\.\d+)?[- ]?(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|s|m|h)\b"
)
#: metrics whose value is a duration; several can share one sentence ("15-minute RTO and
#: 60-minute RPO"), so their durations are bound by :func:`bind_durations`, not by a window
_METRICS: dict[str, re.Pattern[str]] = {
    "rto": re.compile(r"\bRTOs?\b|\brecovery time objectives?\b", re.I),
    "rpo": re.compile(r"\bRPOs?\b|\brecovery point objectives?\b", re.I),
}
_DURATION_RE = re.compile(_DURATION, re.I)
#: what may join the members of a list of metrics or of durations ("RTO/RPO", "4h and 1h")
_LIST_JOIN = re.compile(r"\s*(?:/|,|&|\band\b|\bor\b)?\s*", re.I)
#: what may stand between a duration and the metric it qualifies ("15-minute RTO")
_ADJECTIVE_GAP = re.compile(r"[\s\-\u2013]*(?:target\s+)?", re.I)
#: what may stand between a metric and its duration written right after it ("RTO: 15 minutes")
_AFTER_GAP = re.compile(r"\s*(?:[:=]|\bis\b|\bof\b|\bat\b|\btarget(?: of)?\b)?\s*", re.I)
_MAX_AFTER = 40  # characters from a metric to its duration ("RTO target for the tier is 4 hours")
_CLAUSE = re.compile(r"[;\n]|\.(?!\d)")
_ROW_CLAUSE = re.compile(r"\n|\.(?!\d)")
_FACT_PATTERNS: dict[str, re.Pattern[str]] = {
    "regions": re.compile(r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)-(?:[a-z]+-){1,2}\d)\b"),
    "availability_zones": re.compile(
        r"\b(multi[- ]AZ|(?:two|three|2|3|multiple) (?:Availability Zones|AZs))\b", re.I
    ),
    "encryption": re.compile(
        r"\b(KMS|TLS ?1\.[23]\+?|encrypt(?:ed|ion) (?:at rest|in transit)|SSE-\w+)\b", re.I
    ),
    "identity": re.compile(
        r"\b(IAM Identity Center|AWS SSO|SAML|OIDC|Cognito|MFA|IAM roles?|least[- ]privilege)\b",
        re.I,
    ),
    "backups": re.compile(
        r"\b(AWS Backup|backups?|snapshots?|point-in-time recovery|PITR|versioning)\b", re.I
    ),
    "monitoring": re.compile(
        r"\b(CloudWatch|X-Ray|CloudTrail|Datadog|Prometheus|Grafana|dashboards?|alarms?)\b"
    ),
    "dr_pattern": re.compile(
        r"\b(pilot light|warm standby|multi[- ]site active[/-]active|active[/-]active|"
        r"active[/-]passive|backup (?:and|&) restore)\b",
        re.I,
    ),
}


@dataclass
class _Tok:
    start: int
    end: int
    metric: str  # "" for a duration
    value: str = ""
    group: int = 0  # tokens of one list ("RTO/RPO", "15 minutes and 1 hour") share a group


def _tokens(clause: str) -> list[_Tok]:
    toks = [
        _Tok(m.start(), m.end(), name)
        for name, pattern in _METRICS.items()
        for m in pattern.finditer(clause)
    ]
    toks += [
        _Tok(m.start(), m.end(), "", duration_value(m.group(0)))
        for m in _DURATION_RE.finditer(clause)
    ]
    toks.sort(key=lambda t: t.start)
    for i, tok in enumerate(toks):
        prev = toks[i - 1] if i else None
        joined = (
            prev is not None
            and bool(prev.metric) == bool(tok.metric)
            and _LIST_JOIN.fullmatch(clause[prev.end : tok.start]) is not None
        )
        tok.group = prev.group if joined and prev is not None else i
    return toks


_UNITS = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour", "hr": "hour"}
_DURATION_PARTS = re.compile(r"(<\s*)?(\d+(?:\.\d+)?)[- ]?([a-z]+)", re.I)


def duration_value(text: str) -> str:
    """A duration in one spelling: ``"15-minute"``, ``"15 min"`` -> ``"15 minutes"``;
    ``"1 hr"`` -> ``"1 hour"``; ``"<1 s"`` -> ``"<1 second"``."""
    m = _DURATION_PARTS.fullmatch(" ".join(text.split()))
    if m is None:
        return text
    unit = m.group(3).lower()
    unit = _UNITS.get(unit) or _UNITS.get(unit.removesuffix("s")) or unit.removesuffix("s")
    number = m.group(2)
    return f"{'<' if m.group(1) else ''}{number} {unit}{'' if number == '1' else 's'}"


def bind_durations(text: str, *, row: bool = False) -> list[tuple[str, str]]:
    """``(metric, duration)`` pairs a statement states, each duration bound to its own metric.

    Metrics are :data:`_METRICS` (RTO, RPO); durations are numbers with a unit. Within a clause
    (split at ``;`` and sentence ends; a table row, read as ``column: value; ...``, is one
    clause), in this order:

    1. **lists, respectively**: a list of k metrics next to a list of k durations ("RTO/RPO of
       15 minutes/1 hour", "15 min / 60 min RTO/RPO");
    2. **adjective**: a duration right before a metric ("15-minute RTO and 60-minute RPO");
       one standing right between two metrics ("RTO 15 minutes RPO 60 minutes") binds forward
       only when the clause opens with a duration ("15 minutes RTO 60 minutes RPO");
    3. **after**: the nearest metric before the duration, within :data:`_MAX_AFTER` characters
       of it or of that metric's previous duration ("RTO: 15 minutes, RPO: 60 minutes",
       "RPO: 60 minutes (target: 45 minutes)"); a metric of an unpaired list ("RTO/RPO targets:
       15 minutes") is ambiguous and binds nothing.

    Durations bound by none of these are dropped (never guessed); values are spelled one way
    (:func:`duration_value`), so "15-minute" and "15 minutes" are one fact.
    """
    out: list[tuple[str, str]] = []
    for clause in (_ROW_CLAUSE if row else _CLAUSE).split(text):
        toks = _tokens(clause)
        if not any(t.metric for t in toks) or all(t.metric for t in toks):
            continue
        groups: dict[int, list[_Tok]] = {}
        for t in toks:
            groups.setdefault(t.group, []).append(t)
        ordered = list(groups.values())
        bound: dict[int, str] = {}  # id(duration) -> metric
        paired: set[int] = set()  # groups paired as lists
        for a, b in pairwise(ordered):
            if len(a) < 2 or len(a) != len(b) or bool(a[0].metric) == bool(b[0].metric):
                continue
            if len(clause[a[-1].end : b[0].start]) > 12:
                continue
            metrics, durations = (a, b) if a[0].metric else (b, a)
            for m, d in zip(metrics, durations, strict=True):
                bound[id(d)] = m.metric
            paired |= {a[0].group, b[0].group}
        # adjective: a duration just before a metric; between two metrics ("RTO 15 minutes
        # RPO 60 minutes") the clause's layout decides: it binds forward only when the clause
        # opens with a duration
        opens_with_duration = not toks[0].metric
        for i, d in enumerate(toks):
            if d.metric or id(d) in bound or i + 1 >= len(toks):
                continue
            m = toks[i + 1]
            if not m.metric or m.group in paired:
                continue
            if _ADJECTIVE_GAP.fullmatch(clause[d.end : m.start]) is None:
                continue
            prev = toks[i - 1] if i else None
            between = (
                prev is not None
                and bool(prev.metric)
                and _AFTER_GAP.fullmatch(clause[prev.end : d.start]) is not None
            )
            if not between or opens_with_duration:
                bound[id(d)] = m.metric
        last_end: dict[int, int] = {}
        current: _Tok | None = None
        for t in toks:
            if t.metric:
                current = t
                continue
            if id(t) in bound:
                if current is not None and bound[id(t)] == current.metric:
                    last_end[id(current)] = t.end
                continue
            if current is None or current.group in paired or len(groups[current.group]) > 1:
                continue
            anchor = last_end.get(id(current), current.end)
            if t.start - anchor <= _MAX_AFTER:
                bound[id(t)] = current.metric
                last_end[id(current)] = t.end
        out += [(bound[id(t)], t.value) for t in toks if not t.metric and id(t) in bound]
    return out


def extract_facts(model: DocumentModel) -> list[Fact]:
    """Key facts, each value once (first present statement that states it; page and quote)."""
    facts: list[Fact] = []
    seen: set[tuple[str, str]] = set()

    def add(name: str, value: str, stmt: Statement) -> None:
        value = " ".join(value.split())
        if value and (name, value.lower()) not in seen:
            seen.add((name, value.lower()))
            facts.append(Fact(name=name, value=value, page=stmt.page, quote=stmt.display))

    for stmt in model.statements:
        if not stmt.present:
            continue
        for name, value in bind_durations(stmt.text, row=stmt.kind == "row"):
            add(name, value, stmt)
        for name, pattern in _FACT_PATTERNS.items():
            for match in pattern.finditer(stmt.text):
                add(name, next((g for g in match.groups() if g), match.group(0)) or "", stmt)
    return facts


def summary(model: DocumentModel) -> tuple[str, list[dict[str, object]]]:
    """The workload sentence (first present sentence of the document, title lines skipped) and
    the facts as dicts (``name``, ``label``, ``value``, ``page``, ``quote``) for
    :class:`reviews.models.DesignFact`."""
    first = next(
        (
            s.display
            for s in model.statements
            if s.present
            and s.kind in ("paragraph", "sentence")
            and not _metadata_line(s.display)  # a title line, not a sentence
        ),
        "",
    )
    facts = [
        {
            "name": f.name,
            "label": FACT_LABELS[f.name],
            "value": f.value,
            "page": f.page,
            "quote": f.quote[:400],
        }
        for f in model.facts
    ]
    return first[:400], facts


def with_summary(assessment: Any, doc: DocumentText) -> Any:
    """``assessment`` (an :class:`~reviews.models.Assessment`) with workload and facts filled."""
    workload, facts = summary(understand(doc))
    return assessment.model_copy(
        update={"workload": workload, "facts": [DesignFact(**f) for f in facts]}
    )


FACT_LABELS = {
    "rto": "RTO",
    "rpo": "RPO",
    "regions": "Regions",
    "availability_zones": "Availability Zones",
    "encryption": "Encryption",
    "identity": "Identity",
    "backups": "Backups",
    "monitoring": "Monitoring",
    "dr_pattern": "DR pattern",
}
