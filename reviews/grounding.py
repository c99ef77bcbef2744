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

- **a summary** ("Summarize the review", "overview"): the report's executive summary
  (:func:`reviews.report.executive_summary`: workload, key facts with pages, risk counts, the
  five most important risks);
- **quick wins / major initiatives** of a pillar or of all: plan items of that effort class in
  plan order, with their sentence and AWS page;
- **why a question has its risk** ("Why is REL 9 HIGH?", "Is SEC 3 HIGH?"): the lens risk rules
  in order (WA custom-lens format: the first rule whose condition holds gives the risk), the
  practices each better rule needs that the document does not show, and the plan's sentence for
  those of the next level;
- **yes/no about the design** ("Is there a WAF?"): yes with the present statements that carry
  the question's concepts (:func:`concepts`), "not as a decision of this design" when only
  qualified ones do (optional, planned, current state), no when negated, otherwise "the
  document does not state it" with the closest statements; a yes/no naming a question goes to
  its risk or its verdicts instead.

It returns ``None`` for other questions (the chat then retrieves). The same
:class:`Grounding` is given to the Bedrock responder as context, so both worlds answer from the
same facts. When a recognised question has no answer in the review (no RPO stated), the grounding
says so instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lenses.catalog import GuidanceNote, LensError, Question, load_lens
from lenses.conditions import parse_condition, referenced_choices
from reviews.assess import satisfied_choices
from reviews.document import FACT_LABELS, DocumentModel, Statement
from reviews.evidence import stem
from reviews.models import Assessment, Citation, QuestionAssessment
from reviews.report import executive_summary
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
_WHY = re.compile(r"\bwhy\b|\bhow come\b|\bwhat makes\b|\breason\b", re.I)
_SUMMARY = re.compile(
    r"\bsummar(?:y|ise|ize|ised|ized)\b|\boverview\b|\btl;?dr\b|\bexecutive\b|"
    r"\bin (?:a )?nutshell\b|\bhigh[- ]level\b|\bthe big picture\b",
    re.I,
)
_QUICK = re.compile(r"\bquick[- ]?wins?\b|\blow[- ]hanging\b|\beasy wins?\b|\bquick fix", re.I)
_MAJOR = re.compile(
    r"\bmajor initiatives?\b|\bmajor (?:projects?|efforts?|work)\b|\blarge initiatives?\b|"
    r"\bbig(?:ger)? (?:projects?|initiatives?|items?)\b|\blong[- ]term\b",
    re.I,
)
_YES_NO = re.compile(
    r"^\s*(?:does|do|is|are|has|have|was|were|will|can|did)\b(?!\s+(?:it|this|that)\s+mean\b)"
)
_RISK_NAMES = {"HIGH_RISK": "HIGH", "MEDIUM_RISK": "MEDIUM", "NO_RISK": "no risk (NONE)"}
_RISK_ASKED = re.compile(r"\b(high|medium|low)\b|\b(no)[- ]risk\b|\brisk(y)?\b", re.I)
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
    if _WHY.search(question) and _QNUM.search(question):
        return _why_risk(question, a)
    if _SUMMARY.search(question) and not _QNUM.search(question):
        pillar = pillar_of(question)  # "an overview of reliability": that pillar's risks
        return _pillar_risks(a, pillar) if pillar else _summary(a)
    effort = _effort_asked(question)
    if effort:
        return _by_effort(a, effort, pillar_of(question))
    if _SPOF.search(question):
        return _spof(a, model)
    if _WEAK.search(question):
        return _weakest(a)
    pillar = pillar_of(question)
    if pillar and _RISKS.search(question):
        return _pillar_risks(a, pillar)
    low = question.lower()
    if _YES_NO.match(low) and (_QNUM.search(question) or _BPID.search(question)):
        # "Is REL 9 HIGH?" is about the review's risk; "Is SEC 3 addressed?" about its verdicts
        return _why_risk(question, a) if _RISK_ASKED.search(question) else None
    if _YES_NO.match(low) and model is not None:
        return _yes_no(question, a, model, notes)
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


def _summary(a: Assessment) -> Grounding:
    """The report's executive summary (:func:`reviews.report.executive_summary`), as chat lines."""
    s = executive_summary(a)
    lines: list[str] = []
    cites: list[Citation] = []
    document = a.document.rsplit("/", 1)[-1]
    if s["workload"]:
        lines.append(f"Workload ({document}): \u201c{_short(s['workload'], 300)}\u201d")
    else:
        lines.append(f"Review of {document}.")
    if s["facts"]:
        lines.append("Key design facts:")
        for f in s["facts"]:
            pages = list(f["pages"])
            lines.append(
                f"- {f['label']}: {', '.join(str(v) for v in f['values'])} "
                + " ".join(f"[p. {p}]" for p in pages)
            )
            cites += [_page(int(p)) for p in pages]
    t = s["totals"]
    lines.append(
        f"Risk: {t['HIGH']} of {len(a.questions)} questions HIGH, {t['MEDIUM']} MEDIUM, "
        f"{t['NONE']} without risk"
        + (f", {t['NOT_APPLICABLE']} not applicable" if t["NOT_APPLICABLE"] else "")
        + (f", {t['UNANSWERED']} unanswered" if t["UNANSWERED"] else "")
        + "."
    )
    if s["top_risks"]:
        lines.append("The five most important risks:")
        for n, r in enumerate(s["top_risks"], 1):
            qa = a.question(r.question_id)
            lines.append(
                f"{n}. {r.number or qa.number} {r.title} ({r.bp_risk or '-'} risk, "
                f"{r.effort or '-'}): {r.text} [{qa.number}] [{r.choice_id}]"
            )
            cites += [
                _q(qa),
                Citation(kind="choice", ref=r.choice_id, label=r.bp_id or r.choice_id),
            ]
    return Grounding("summary", lines, cites)


def _effort_asked(question: str) -> str:
    if _QUICK.search(question):
        return "quick win"
    if _MAJOR.search(question):
        return "major initiative"
    return ""


def _by_effort(a: Assessment, effort: str, pillar: str | None, limit: int = 10) -> Grounding:
    """Plan items of one effort class, of one pillar or all, in plan order."""
    name = next((p.name for p in a.pillars if p.pillar_id == pillar), pillar) if pillar else ""
    items = [
        r
        for r in a.recommendations
        if r.effort == effort and (pillar is None or r.pillar_id == pillar)
    ]
    scope = f"{name} " if name else ""
    kind = f"{effort}s"
    if not items:
        return Grounding(
            "effort",
            [
                f"The improvement plan has no {scope}{kind}"
                + (" (the review did not assess that pillar)." if pillar and not name else ".")
            ],
        )
    lines = [f"{len(items)} {scope}{kind} in the improvement plan, in plan order:"]
    cites: list[Citation] = []
    for r in items[:limit]:
        qa = a.question(r.question_id)
        line = (
            f"- {r.priority}. {r.number or qa.number} {r.title} ({r.bp_risk or '-'} risk): {r.text}"
        )
        if r.url:
            line += f" See {r.url}"
        lines.append(f"{line} [{qa.number}] [{r.choice_id}]")
        cites += [_q(qa), Citation(kind="choice", ref=r.choice_id, label=r.bp_id or r.choice_id)]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more (the full plan is in the report).")
    return Grounding("effort", lines, cites)


def _why_risk(question: str, a: Assessment) -> Grounding:
    """Why a question has its risk: the lens risk rules, in order, and the practices each
    better rule needs that the document does not show (AWS WA custom-lens format, "Risk
    rules": the first rule whose condition holds gives the risk)."""

    numbers = {f"{m.group(1).upper()} {int(m.group(2))}" for m in _QNUM.finditer(question)}
    qas = [qa for qa in a.questions if qa.number.upper() in numbers]
    if not qas:
        return Grounding(
            "why",
            [f"The review has no question named {', '.join(sorted(numbers))}."],
            answered=False,
        )
    try:
        lens = load_lens(a.lens_alias)
    except LensError:
        lens = None
    lines: list[str] = []
    cites: list[Citation] = []
    for qa in qas:
        cites.append(_q(qa))
        head = f"{qa.number} {qa.title}: risk {qa.risk}"
        asked = _RISK_ASKED.search(question.replace(qa.number, ""))
        level = asked and (asked.group(1) or asked.group(2))
        if level:
            said = {"no": "NONE", "low": "LOW"}.get(level.lower(), level.upper())
            if said != qa.risk:
                head += f" (not {said})"
        start = len(lines)
        lines.append(f"{head}. [{qa.number}]")
        if qa.risk in ("NOT_APPLICABLE", "UNANSWERED"):
            lines.append(
                "The document puts every practice of this question out of scope."
                if qa.risk == "NOT_APPLICABLE"
                else "The question was not assessed (no verdict): the lens rules were not applied."
            )
            continue
        question_def = None
        if lens is not None:
            try:
                question_def = lens.question(qa.question_id)
            except LensError:
                question_def = None
        bps = {bp.choice_id: bp for bp in qa.best_practices}
        shown = [bp for bp in qa.best_practices if bp.status == "SELECTED"]
        if shown:
            lines.append(
                "The document shows: "
                + "; ".join(
                    f"{bp.title} ({bp.bp_id or bp.choice_id})"
                    + (f" [p. {bp.evidence[0].page}]" if bp.evidence else "")
                    for bp in shown
                )
                + "."
            )
            cites += [_page(bp.evidence[0].page) for bp in shown if bp.evidence]
        else:
            lines.append(
                "The document shows none of its best practices (\u201cNone of these\u201d)."
            )
        if question_def is None:
            continue
        satisfied = satisfied_choices(question_def, qa.best_practices)
        recs = {r.choice_id: r for r in a.recommendations}
        lines.append("The lens risk rules, in order (the first that holds gives the risk):")
        for rule in question_def.risk_rules:
            risk = _RISK_NAMES.get(rule.risk, rule.risk)
            holds = rule.holds(satisfied)
            if rule.condition.strip() == "default":
                lines.append(f"- otherwise {risk}" + (" \u2190 applies" if holds else ""))
                break
            needed = [
                c
                for c in question_def.best_practices
                if c.id in referenced_choices(parse_condition(rule.condition))
            ]
            missing = [c for c in needed if c.id not in satisfied]
            if holds:
                lines.append(
                    f"- {risk} when these are shown: "
                    + "; ".join(f"{c.title} ({c.bp_id or c.id})" for c in needed)
                    + " \u2190 holds, so the risk is "
                    + risk
                )
                break
            lines.append(
                f"- {risk} needs {len(needed)} practice(s); not shown by the document: "
                + "; ".join(f"{c.title} ({c.bp_id or c.id}) [{c.id}]" for c in missing)
            )
            for c in missing:
                cites.append(Citation(kind="choice", ref=c.id, label=c.bp_id or c.id))
        missing_first = _first_missing(question_def, satisfied)
        if missing_first:
            better = _better_risk(question_def, satisfied)
            titles = "; ".join(
                f"{bps[c].title} ({bps[c].bp_id or c})" if c in bps else c for c in missing_first
            )
            lines.insert(
                start + 1,
                f"Why: the lens gives {better} only when the document also shows {titles}; "
                f"it does not, so the risk is {qa.risk}.",
            )
            held = next((r for r in question_def.risk_rules if r.holds(satisfied)), None)
            if held is not None and held.condition.strip() != "default":
                shown_ids = referenced_choices(parse_condition(held.condition))
                names = "; ".join(
                    f"{bps[c].title} ({bps[c].bp_id or c})" for c in sorted(shown_ids) if c in bps
                )
                lines.insert(
                    start + 2,
                    f"It is not worse: the lens's {_RISK_NAMES.get(held.risk, held.risk)} rule "
                    f"needs {names}, which the document shows.",
                )
            lines.append(f"To reach {better}, the document would need to show:")
            for cid in missing_first:
                r = recs.get(cid)
                bp = bps.get(cid)
                if r is not None:
                    lines.append(f"- {r.title}: {r.text} [{cid}]")
                elif bp is not None:
                    lines.append(
                        f"- {bp.title}: {bp.rationale or bp.verdict.replace('_', ' ')} [{cid}]"
                    )
    return Grounding("why", lines, dedupe(cites))


def _better_risk(question_def: Question, satisfied: set[str]) -> str:
    """The risk of the rule just above the one that holds."""
    rules = question_def.risk_rules
    idx = next((i for i, r in enumerate(rules) if r.holds(satisfied)), len(rules))
    return _RISK_NAMES.get(rules[idx - 1].risk, rules[idx - 1].risk) if idx else ""


def _first_missing(question_def: Question, satisfied: set[str]) -> list[str]:
    """The choice ids the nearest better rule still needs (the rule just above the one that
    holds)."""
    rules = question_def.risk_rules
    idx = next((i for i, r in enumerate(rules) if r.holds(satisfied)), len(rules))
    if idx == 0:
        return []
    better = rules[idx - 1]
    return [
        c
        for c in sorted(referenced_choices(parse_condition(better.condition)))
        if c not in satisfied
    ]


def dedupe(citations: list[Citation]) -> list[Citation]:
    """The citations without repeats (same kind and ref), first occurrence kept."""
    seen: set[tuple[str, str]] = set()
    return [c for c in citations if not ((c.kind, c.ref) in seen or seen.add((c.kind, c.ref)))]


#: phrases written several ways in design documents and questions, read as one concept
_CANON: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), r)
    for p, r in (
        (r"\bavailability[- ]zones?\b|\bazs?\b", " az "),
        (r"\bmulti(?:ple)?[- ]?", " multi "),
        (r"\b(?:two|three|four|2|3|4|several|both)\s+(?=az\b)", " multi "),
        (r"\bweb application firewall\b", " waf "),
        (r"\bencrypt\w*|\bsse-\w+|\bkms\b", " encrypt "),
        (r"\bmulti[- ]factor authentication\b", " mfa "),
        (r"\bsingle sign[- ]on\b", " sso "),
        (r"\bdisaster recovery\b", " dr "),
        (r"\bback(?:ed)?[- ]?ups?\b", " backup "),
        (r"\bfail[- ]?overs?\b", " failover "),
        (r"\bload[- ]balanc\w*|\b[an]lbs?\b", " loadbalancer "),
        (r"\bauto[- ]?scal\w*", " autoscal "),
        (r"\bregions?\b", " region "),
    )
)
#: words of a yes/no question that are not its subject
_YES_NO_STOP = frozenset(
    [
        "use",
        "uses",
        "using",
        "used",
        "there",
        "any",
        "have",
        "has",
        "support",
        "include",
        "data",
        "state",
        "stat",
        "mention",
        "say",
        "specify",
        "specifi",
        "describe",
        "describ",
        "defin",
        "define",
    ]
)


def concepts(text: str) -> set[str]:
    """The stemmed content words of ``text`` with :data:`_CANON` phrases read as one word."""
    low = text.lower()
    for pattern, repl in _CANON:
        low = pattern.sub(repl, low)
    out = {t for t in terms(low) if t not in _YES_NO_STOP}
    # the light stemmer leaves "replicate" and "replicat" (from "replicated") apart
    return {t[:-1] if len(t) > 4 and t.endswith("e") else t for t in out}


def _yes_no(
    question: str, a: Assessment, model: DocumentModel, notes: dict[str, GuidanceNote]
) -> Grounding | None:
    """Yes / no / not stated, from the document's statements: a present statement that carries
    every concept of the question (two of three when it has three or more) is a yes; one that
    carries them only with a qualifier (planned, optional, if required, out of scope, current
    state) is not a decision of this design, a negated one is a no; none: not stated."""
    wanted = concepts(question)
    if not wanted:
        return None
    need = len(wanted) if len(wanted) < 3 else len(wanted) - 1
    matches = []
    for s in model.evidence():
        got = len(wanted & concepts(s.text))
        if got >= need:
            matches.append((got, s))
    matches.sort(key=lambda m: (-m[0], m[1].lead_in, not m[1].shows, m[1].index))
    present = [s for _, s in matches if s.present]
    negated = [s for _, s in matches if "negated" in s.qualifiers]
    qualified = [s for _, s in matches if not s.present and "negated" not in s.qualifiers]
    subject = ", ".join(sorted(wanted))
    lines: list[str] = []
    cites: list[Citation] = []

    def quote(s: Statement, note: str = "") -> None:
        lines.append(f"- \u201c{_short(s.display, 200)}\u201d{note} [p. {s.page}]")
        cites.append(_page(s.page))

    if present:
        lines.append("Yes, the document states it:")
        for s in present[:4]:
            quote(s)
    elif negated:
        lines.append("No, the document says it does not:")
        for s in negated[:3]:
            quote(s)
    elif qualified:
        lines.append(
            "Not as a decision of this design: the document mentions it only with a qualifier:"
        )
        for s in qualified[:3]:
            quote(s, f" ({', '.join(sorted(q.replace('_', ' ') for q in s.qualifiers))})")
    else:
        lines.append(
            "The document does not state it: no statement of the document mentions "
            f"it (looked for: {subject}); I do not guess from outside the document."
        )
        partial = (
            []
            if len(wanted) < 2
            else sorted(
                (
                    (len(wanted & concepts(s.text)), s)
                    for s in model.evidence()
                    if s.present and len(wanted & concepts(s.text)) >= (len(wanted) + 1) // 2
                ),
                key=lambda m: (-m[0], m[1].lead_in, not m[1].shows, m[1].index),
            )
        )
        if partial:
            lines.append("Closest statements (they do not say it outright):")
            for _, s in partial[:3]:
                quote(s)
        return Grounding("yes_no", lines, dedupe(cites), answered=False)
    related = []
    for qa in a.questions:
        for bp in qa.best_practices:
            note = notes.get(bp.choice_id)
            about = concepts(f"{bp.title} {' '.join(note.signals) if note else ''}")
            got = len(wanted & about)
            if got >= need:
                related.append((got, -len(about), qa, bp))
    related.sort(key=lambda r: (-r[0], -r[1]))
    if related:
        lines.append("Related verdicts of the review:")
        for _, _, qa, bp in related[:3]:
            lines.append(
                f"- {bp.title} ({qa.number}): {bp.verdict.replace('_', ' ')} [{bp.choice_id}]"
            )
            cites.append(Citation(kind="choice", ref=bp.choice_id, label=bp.bp_id or bp.choice_id))
    return Grounding("yes_no", lines, dedupe(cites))
