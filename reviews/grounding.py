"""Grounded answers for the review chat: facts, weakest pillar, risks, fixes, single points
of failure.

:func:`ground` recognises the ordinary questions an architect asks about a review and answers
them from the assessment and the document model (:mod:`reviews.document`), every line with its
citation:

- **a design fact** ("What is the RPO?", "Which Regions?"; questions asking how something is
  done go to retrieval): the facts extracted once per document, with their page and the
  sentence they were read in;
- **the weakest pillar and why**: pillars ranked by their share of HIGH-risk questions, then by the
  share of practices addressed; the answer names the pillar's HIGH-risk questions and its first
  plan items;
- **the top risks of a pillar** ("What are the top reliability risks?"): its HIGH-risk questions and
  plan items in plan order;
- **how to fix a question or practice** ("How do we fix SEC 3?", a BP id): the practices the
  document already shows, then per practice not selected, in plan order, the plan's sentence
  (what this document has or does not mention, and what good looks like) and the AWS page;
- **single points of failure**: statements that name one of something (a single instance, NAT
  gateway, Region, ``Count: 1`` rows) or a plain statement that none does, the redundancy the
  document does state (Multi-AZ, DR pattern) and, under their own heading, the verdicts of the
  fault-isolation questions.

It returns ``None`` for other questions (the chat then retrieves). The same
:class:`Grounding` is given to the Bedrock responder as context, so both worlds answer from the
same facts. When a recognised question has no answer in the review (no RPO stated), the grounding
says so instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lenses.catalog import GuidanceNote
from reviews.document import FACT_LABELS, DocumentModel, Statement
from reviews.evidence import stem
from reviews.models import Assessment, Citation, QuestionAssessment
from tools.text import STOPWORDS
from tools.text import words as word_tokens

PILLAR_WORDS: dict[str, tuple[str, ...]] = {
    "reliability": ("reliab", "resilien"),
    "security": ("secur",),
    "costOptimization": ("cost",),
    "performance": ("performance", "perf "),
    "operationalExcellence": ("operational", "operations", "ops "),
    "sustainability": ("sustainab",),
}
FACT_WORDS: dict[str, tuple[str, ...]] = {
    "rpo": ("rpo", "recovery point"),
    "rto": ("rto", "recovery time"),
    "dr_pattern": (
        "dr pattern",
        "dr strategy",
        "disaster recovery strategy",
        "pilot light",
        "disaster recovery pattern",
        "warm standby",
        "failover strategy",
    ),
    "regions": ("region",),
    "availability_zones": ("availability zone", " az", "multi-az"),
    "encryption": ("encrypt",),
    "identity": ("identity", "authenticat", "sso", "mfa", "sign-in", "login"),
    "backups": ("backup", "backed up", "back up", "snapshot"),
    "monitoring": ("monitor", "observab", "alarm", "dashboard"),
}
_CHAT_STOP = STOPWORDS | frozenset(
    [
        "about",
        "also",
        "aren't",
        "can",
        "could",
        "design",
        "did",
        "do",
        "doc",
        "document",
        "does",
        "doesn't",
        "explain",
        "give",
        "how",
        "i",
        "isn't",
        "it's",
        "just",
        "list",
        "many",
        "me",
        "more",
        "much",
        "my",
        "out",
        "please",
        "review",
        "should",
        "show",
        "so",
        "tell",
        "them",
        "there's",
        "up",
        "us",
        "we",
        "we're",
        "were",
        "what",
        "what's",
        "when",
        "where",
        "which",
        "who",
        "why",
        "workload",
        "would",
        "you",
        "your",
    ]
)
_SYNONYMS = {("back", "up"): "backup", ("fail", "over"): "failover"}


def terms(text: str) -> list[str]:
    """Stemmed content words of a chat question or an indexed item."""
    words = word_tokens(text)
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = (stem(words[i]), words[i + 1]) if i + 1 < len(words) else None
        if pair in _SYNONYMS:
            out.append(_SYNONYMS[pair])
            i += 2
            continue
        if words[i] not in _CHAT_STOP:
            out.append(stem(words[i]))
        i += 1
    return out


_VALUE = re.compile(r"^\s*(?:what|which|where)\b")
_FIX = re.compile(r"\b(?:fix|remediate|improve|address|close|resolve)\b", re.I)
_WEAK = re.compile(r"\b(?:weakest|worst|weakness|weakest pillar|lowest)\b", re.I)
_RISKS = re.compile(r"\b(?:risks?|gaps?|problems|issues)\b", re.I)
_SPOF = re.compile(r"single points? of failure|\bspofs?\b|\bsingle point\b", re.I)
_QNUM = re.compile(r"\b(OPS|SEC|REL|PERF|COST|SUS)\s*0?(\d{1,2})\b", re.I)
_BPID = re.compile(r"\b([A-Z]{2,4}\d{2}-BP\d{2})\b", re.I)
_ONE_OF = re.compile(
    r"\bsingle\b(?![- ]sign)|\bonly one\b|\bone (?:instance|node|server|nat|database|region|"
    r"availability zone|az|primary|writer)\b|\b(?:count|quantity|instances|nodes): 1\b|"
    r"\bsingle[- ]az\b|\bnot redundant\b|\bnon[- ]redundant\b",
    re.I,
)
_AVOIDS_SPOF = re.compile(
    r"\b(?:eliminat\w*|avoid\w*|remov\w*|prevent\w*|mitigat\w*|no|without|free of)\b"
    r"[^.;]{0,40}?\bsingle points? of failure",
    re.I,
)
"""A statement that the design avoids single points of failure (a claim of redundancy, not a
candidate single point of failure)."""
_REDUNDANCY_FACTS = ("availability_zones", "dr_pattern", "regions")
_FAULT_ISOLATION = ("fault-isolation", "withstand-component-failures")


@dataclass
class Grounding:
    """An answer's lines (each ends with its citation tags) and the citations behind them."""

    kind: str
    lines: list[str]
    citations: list[Citation] = field(default_factory=list)
    answered: bool = True

    @property
    def text(self) -> str:
        """The lines joined."""
        return "\n".join(self.lines)


def _q(qa: QuestionAssessment) -> Citation:
    return Citation(kind="question", ref=qa.question_id, label=qa.number)


def _page(page: int) -> Citation:
    return Citation(kind="page", ref=str(page), label=f"p. {page}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def pillar_of(question: str) -> str | None:
    """The pillar id a question names, if any."""
    low = f" {question.lower()} "
    for pillar, words in PILLAR_WORDS.items():
        if any(w in low for w in words):
            return pillar
    return None


def pillar_strength(a: Assessment) -> list[tuple[str, str, int, int, int, int]]:
    """Pillars weakest first: (id, name, HIGH questions, questions, addressed, practices)."""
    rows = []
    for p in a.pillars:
        qs = [qa for qa in a.questions if qa.pillar_id == p.pillar_id]
        bps = [bp for qa in qs for bp in qa.best_practices if bp.status != "NOT_APPLICABLE"]
        high = sum(qa.risk == "HIGH" for qa in qs)
        done = sum(bp.status == "SELECTED" for bp in bps)
        rows.append((p.pillar_id, p.name, high, len(qs), done, len(bps)))
    rows.sort(key=lambda r: (-r[2] / max(1, r[3]), r[4] / max(1, r[5])))
    return rows


def ground(
    question: str,
    a: Assessment,
    model: DocumentModel | None,
    notes: dict[str, GuidanceNote],
) -> Grounding | None:
    """A grounded answer for a recognised question, else ``None`` (see the module docstring)."""
    if _FIX.search(question) and (_QNUM.search(question) or _BPID.search(question)):
        return _fix(question, a, notes)
    if _SPOF.search(question):
        return _spof(a, model)
    if _WEAK.search(question):
        return _weakest(a)
    pillar = pillar_of(question)
    if pillar and _RISKS.search(question):
        return _pillar_risks(a, pillar)
    low = question.lower()
    if not _VALUE.match(low):
        return None  # "how is X done?" is answered from the assessment by retrieval
    for name, words in FACT_WORDS.items():
        if any(re.search(rf"\b{re.escape(w.strip())}", low) for w in words):
            return _fact(name, model)
    return None


def _fact(name: str, model: DocumentModel | None) -> Grounding:
    label = FACT_LABELS[name]
    facts = model.fact(name) if model else []
    if not facts:
        return Grounding(
            "fact",
            [f"The document does not state the {label}; I cannot answer that from this review."],
            answered=False,
        )
    lines = [f"{label} stated in the document:"]
    cites = []
    for f in facts[:6]:
        lines.append(f"- {f.value} [p. {f.page}]: \u201c{_short(f.quote)}\u201d")
        cites.append(_page(f.page))
    return Grounding("fact", lines, cites)


def _weakest(a: Assessment) -> Grounding:
    ranked = pillar_strength(a)
    if not ranked:
        return Grounding("weakest", ["The review assessed no pillar."], answered=False)
    pid, name, high, total, done, bps = ranked[0]
    lines = [
        f"{name} is the weakest pillar: {high} of {total} questions are HIGH risk and "
        f"{done} of {bps} best practices are addressed."
    ]
    cites: list[Citation] = []
    highs = [qa for qa in a.questions if qa.pillar_id == pid and qa.risk == "HIGH"]
    if highs:
        lines.append(
            "HIGH-risk questions: "
            + ", ".join(f"{qa.number} {qa.title} [{qa.number}]" for qa in highs[:6])
            + ("." if len(highs) <= 6 else ", ...")
        )
        cites += [_q(qa) for qa in highs[:6]]
    recs = [r for r in a.recommendations if r.pillar_id == pid][:3]
    if recs:
        lines.append("Its first gaps:")
        for r in recs:
            lines.append(f"- {r.title} ({r.bp_id or r.choice_id}): {r.text} [{r.choice_id}]")
            cites.append(Citation(kind="choice", ref=r.choice_id, label=r.bp_id or r.choice_id))
    others = ", ".join(f"{n} {h}/{t} HIGH, {d}/{b} addressed" for _, n, h, t, d, b in ranked[1:])
    if others:
        lines.append(f"Other pillars: {others}.")
    return Grounding("weakest", lines, cites)


def _pillar_risks(a: Assessment, pillar: str) -> Grounding:
    qs = [qa for qa in a.questions if qa.pillar_id == pillar]
    name = next((p.name for p in a.pillars if p.pillar_id == pillar), pillar)
    if not qs:
        return Grounding("risks", [f"The review did not assess the {name} pillar."], answered=False)
    highs = [qa for qa in qs if qa.risk == "HIGH"]
    lines = [
        f"{name}: {len(highs)} of {len(qs)} questions are HIGH risk. Top risks, in plan order:"
    ]
    cites: list[Citation] = []
    for r in [r for r in a.recommendations if r.pillar_id == pillar][:5]:
        lines.append(
            f"- {r.number}: {r.title} ({r.bp_risk} risk, {r.effort}): {r.text} "
            f"[{r.number}] [{r.choice_id}]"
        )
        qa = a.question(r.question_id)
        cites += [_q(qa), Citation(kind="choice", ref=r.choice_id, label=r.bp_id or r.choice_id)]
    return Grounding("risks", lines, cites)


def _fix(question: str, a: Assessment, notes: dict[str, GuidanceNote]) -> Grounding:
    numbers = {f"{m.group(1).upper()} {int(m.group(2))}" for m in _QNUM.finditer(question)}
    bp_ids = {m.group(1).upper() for m in _BPID.finditer(question)}
    targets = [
        (qa, bp)
        for qa in a.questions
        for bp in qa.best_practices
        if (qa.number.upper() in numbers or (bp.bp_id or "").upper() in bp_ids)
    ]
    if not targets:
        return Grounding(
            "fix",
            [f"The review has no question or practice named {', '.join(numbers | bp_ids)}."],
            answered=False,
        )
    lines: list[str] = []
    cites: list[Citation] = []
    for qa in {id(qa): qa for qa, _ in targets}.values():
        lines.append(f"{qa.number} {qa.title}: risk {qa.risk}. [{qa.number}]")
        cites.append(_q(qa))
    recs = {r.choice_id: r for r in a.recommendations}
    done = [(qa, bp) for qa, bp in targets if bp.status == "SELECTED"]
    if done:
        shown = []
        for _, bp in done[:6]:
            where = f" [p. {bp.evidence[0].page}]" if bp.evidence else ""
            shown.append(f"{bp.title} ({bp.bp_id or bp.choice_id}){where}")
            if bp.evidence:
                cites.append(_page(bp.evidence[0].page))
        lines.append("Already shown by the document: " + "; ".join(shown) + ".")
    todo = [(qa, bp) for qa, bp in targets if bp.status == "UNSELECTED"]
    if not todo:
        lines.append("Every best practice asked about is already addressed by the document.")
    else:
        lines.append("To do, in plan order (what good looks like, and what this document has):")
    todo.sort(key=lambda t: recs[t[1].choice_id].priority if t[1].choice_id in recs else 10_000)
    for _, bp in todo[:6]:
        note = notes.get(bp.choice_id)
        rec = recs.get(bp.choice_id)
        line = f"- {bp.title} ({bp.bp_id or bp.choice_id}, {bp.bp_risk} risk"
        line += f", {rec.effort})" if rec and rec.effort else ")"
        if rec:  # the plan's sentence: this document's gap, ending with what good looks like
            line += f": {rec.text}"
            if rec.url:
                line += f" See {rec.url}"
        elif note:
            line += f": {note.good}"
        line += f" [{bp.choice_id}] [guidance: {bp.choice_id}]"
        lines.append(line)
        cites += [
            Citation(kind="choice", ref=bp.choice_id, label=bp.bp_id or bp.choice_id),
            Citation(kind="guidance", ref=bp.choice_id, label=bp.bp_id or bp.choice_id),
        ]
    return Grounding("fix", lines, cites)


def _why_single(stmt: Statement) -> str:
    """For a table row, the ``column: value`` cell that names one of something, with a dash
    (``"Count: 1 (pilot) - "``); "" for other statements (the quote says it itself)."""
    if stmt.kind != "row":
        return ""
    cell = next((c for c in stmt.text.split("; ") if _ONE_OF.search(c)), "")
    return f"{_short(cell, 60)} \u2013 " if cell else ""


def _spof(a: Assessment, model: DocumentModel | None) -> Grounding:
    lines: list[str] = []
    cites: list[Citation] = []
    if model is not None:
        singles = [
            s
            for s in model.evidence()
            if s.present and _ONE_OF.search(s.text) and not _AVOIDS_SPOF.search(s.text)
        ][:6]
        if singles:
            lines.append(
                "Statements that name a single component (candidate single points of failure):"
            )
            for s in singles:
                lines.append(f"- {_why_single(s)}\u201c{_short(s.display)}\u201d [p. {s.page}]")
                cites.append(_page(s.page))
        else:
            lines.append(
                "No statement of the document names a single instance, node, NAT gateway, "
                "Availability Zone or Region (nor a count of 1)."
            )
        redundancy = [f for name in _REDUNDANCY_FACTS for f in model.fact(name)][:5]
        if redundancy:
            lines.append("Redundancy the document states:")
            for f in redundancy:
                lines.append(f"- {FACT_LABELS[f.name]}: {f.value} [p. {f.page}]")
                cites.append(_page(f.page))
    isolation = [qa for qa in a.questions if qa.question_id in _FAULT_ISOLATION]
    if isolation:
        lines.append("The review's fault-isolation questions:")
    for qa in isolation:
        missing = [bp for bp in qa.best_practices if bp.status == "UNSELECTED"]
        text = f"{qa.number} {qa.title}: risk {qa.risk}"
        if missing:
            text += "; not shown: " + "; ".join(bp.title for bp in missing[:3])
        lines.append(f"- {text} [{qa.number}]")
        cites.append(_q(qa))
    if not cites:
        return Grounding(
            "spof",
            [
                "The document names no single component and the review has no fault-isolation "
                "verdicts; I cannot say where a single point of failure is."
            ],
            answered=False,
        )
    return Grounding("spof", lines, cites)
