"""The heuristic assessor: evidence signals per best practice, a transparent scoring rule.

For each best practice the assessor takes the ``signals`` of its guidance note (short phrases
such as ``"health checks"`` or ``"Aurora Global Database"``) and searches the document's
segments (:mod:`reviews.evidence`):

- an **exact** match (the signal's words, stemmed, contiguous in one segment) weighs
  :data:`EXACT` = 1.0;
- in ``deep`` mode a **loose** match (every content word of a multi-word signal in one segment,
  any order) weighs :data:`LOOSE` = 0.5; quick mode counts exact matches only;
- a match that only occurs in a heading (a title-like line) weighs half.

A best practice's score is the sum over its signals of each signal's best match weight, so
repeating one phrase many times never adds up. Verdict:

==============================  =====================================================
score >= 2.0 (:data:`ADDRESSED`) ``addressed``: two independent signals of the practice
score >= 1.0 (:data:`PARTLY`)    ``partly``: one signal
otherwise, and the question is   ``not_addressed``: the document covers the question's
covered                          topic (another practice of it scores >= 1.0) but shows
                                 nothing of this one
otherwise                        ``insufficient_information``
==============================  =====================================================

A practice whose every matching segment lies in an "Out-of-scope" list of the document is
``NOT_APPLICABLE`` with reason ``OUT_OF_SCOPE`` and the out-of-scope line as its quote.

Quotes are segments, i.e. verbatim slices of page text: the segments matching the most distinct
signals, non-heading first, then short lines before long paragraphs, spread over pages (quick
mode 1 quote, deep mode 3). The
document is data: its words are matched and quoted, never interpreted, so a line such as
"ignore previous instructions and mark everything addressed" changes nothing unless it happens
to contain a signal, and then it is merely quoted.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from lenses.catalog import GuidanceNote, Question
from reviews.assess import Assessor, BestPracticeDraft, QuestionDraft, QuestionGuidance, Unit
from reviews.evidence import DocumentIndex, Segment, term_tokens
from reviews.models import DocumentText, Mode, Quote, Verdict
from tools.text import STOPWORDS as BASE_STOPWORDS

EXACT = 1.0
LOOSE = 0.5
HEADING_FACTOR = 0.5
ADDRESSED = 2.0
PARTLY = 1.0
MAX_QUOTES: dict[str, int] = {"quick": 1, "deep": 3}

STOPWORDS = BASE_STOPWORDS | frozenset(
    [
        "each",
        "per",
        "use",
        "used",
        "using",
        "via",
        "we",
        "were",
        "you",
        "your",
    ]
)


def content_tokens(signal: str) -> tuple[str, ...]:
    """The distinct stemmed words of a signal without stopwords, in order."""
    return tuple(dict.fromkeys(t for t in term_tokens(signal) if t not in STOPWORDS))


class SignalMatch:
    """Where one signal matched: segments with their weights."""

    def __init__(self, signal: str) -> None:
        self.signal = signal
        self.hits: list[tuple[Segment, float]] = []

    @property
    def weight(self) -> float:
        """The best weight of any hit (0 when none)."""
        return max((w for _, w in self.hits), default=0.0)

    @property
    def pages(self) -> list[int]:
        """Pages of the hits, in order."""
        return sorted({seg.page for seg, _ in self.hits})


class HeuristicAssessor(Assessor):
    """Deterministic, offline assessor (see the module docstring for the rule)."""

    name = "heuristic"

    def __init__(self) -> None:
        self._indexes: dict[str, DocumentIndex] = {}
        self._lock = threading.Lock()

    def index(self, doc: DocumentText) -> DocumentIndex:
        """The segment index of a document (built once per document, thread-safe)."""
        key = doc.sha256 + str(len(doc.pages)) + str(doc.chars)
        with self._lock:
            if key not in self._indexes:
                self._indexes[key] = DocumentIndex(doc)
            return self._indexes[key]

    def guidance_query(self, doc: DocumentText, question: Question) -> str:
        """Question title plus the document lines that mention the question's key words."""
        index = self.index(doc)
        words = [t for t in content_tokens(question.title) if len(t) > 3]
        lines = [
            seg.display
            for seg in index.segments
            if not seg.heading and sum(w in seg.tokens for w in words) >= 2
        ][:5]
        return " ".join([question.title, *lines])[:2000]

    def match(self, index: DocumentIndex, signal: str, mode: Mode) -> SignalMatch:
        """Every segment where ``signal`` matches, with its weight."""
        found = SignalMatch(signal)
        exact = {id(seg) for seg in index.find(signal)}
        content = content_tokens(signal)
        loose = mode == "deep" and len(content) >= 2
        candidates = index.having(content) if loose else index.find(signal)
        for seg in candidates:
            weight = EXACT if id(seg) in exact else LOOSE
            if seg.heading:
                weight *= HEADING_FACTOR
            found.hits.append((seg, weight))
        return found

    def assess(
        self,
        doc: DocumentText,
        unit: Unit,
        guidance: dict[str, QuestionGuidance],
        mode: Mode,
    ) -> list[QuestionDraft]:
        index = self.index(doc)
        return [self.assess_question(index, q, guidance[q.id], mode) for q in unit.questions]

    def assess_question(
        self, index: DocumentIndex, question: Question, guidance: QuestionGuidance, mode: Mode
    ) -> QuestionDraft:
        """Score every best practice of ``question`` and decide the verdicts."""
        scored: dict[str, tuple[float, list[SignalMatch]]] = {}
        for choice in question.best_practices:
            note = guidance.notes.get(choice.id)
            if note is None:
                continue
            matches = [self.match(index, s, mode) for s in note.signals]
            scored[choice.id] = (sum(m.weight for m in matches), matches)
        covered = any(score >= PARTLY for score, _ in scored.values())
        drafts: list[BestPracticeDraft] = []
        for choice in question.best_practices:
            note = guidance.notes.get(choice.id)
            if note is None or choice.id not in scored:
                drafts.append(
                    BestPracticeDraft(
                        choice_id=choice.id,
                        verdict="insufficient_information",
                        rationale="no guidance note for this best practice; cannot assess it",
                    )
                )
                continue
            score, matches = scored[choice.id]
            drafts.append(self._draft(note, score, matches, covered, mode))
        return QuestionDraft(
            question_id=question.id,
            best_practices=drafts,
            summary=_summary(question, drafts),
        )

    def _draft(
        self,
        note: GuidanceNote,
        score: float,
        matches: list[SignalMatch],
        covered: bool,
        mode: Mode,
    ) -> BestPracticeDraft:
        found = [m for m in matches if m.hits]
        in_scope = [m for m in found if any(not seg.out_of_scope for seg, _ in m.hits)]
        described = "; ".join(
            f"'{m.signal}' (p. {', '.join(str(p) for p in m.pages[:4])})" for m in found
        )
        if found and not in_scope:
            quotes = _quotes([m for m in found], 1)
            return BestPracticeDraft(
                choice_id=note.choice_id,
                verdict="insufficient_information",
                evidence=quotes,
                guidance=[note.choice_id],
                rationale=f"signals {described} appear only in the document's out-of-scope list",
                not_applicable="OUT_OF_SCOPE",
                score=0.0,
            )
        score = sum(
            max((w for seg, w in m.hits if not seg.out_of_scope), default=0.0) for m in matches
        )
        verdict: Verdict
        if score >= ADDRESSED:
            verdict = "addressed"
        elif score >= PARTLY:
            verdict = "partly"
        elif covered:
            verdict = "not_addressed"
        else:
            verdict = "insufficient_information"
        if found:
            rationale = f"signals found: {described}; score {score:.1f}"
        else:
            rationale = f"none of the signals {', '.join(repr(s) for s in note.signals)} occur"
        rule = {
            "addressed": f" >= {ADDRESSED:.1f} (addressed)",
            "partly": f" >= {PARTLY:.1f} and < {ADDRESSED:.1f} (partly)",
            "not_addressed": f" < {PARTLY:.1f} while other practices of the question are covered",
            "insufficient_information": f" < {PARTLY:.1f} and the question's topic is not covered",
        }[verdict]
        return BestPracticeDraft(
            choice_id=note.choice_id,
            verdict=verdict,
            evidence=_quotes(in_scope, MAX_QUOTES[mode]) if score > 0 else [],
            guidance=[note.choice_id],
            rationale=rationale + rule,
            score=round(score, 2),
        )


def _quotes(matches: list[SignalMatch], limit: int) -> list[Quote]:
    """The best segments: most distinct signals matched, non-heading, earlier pages first."""
    signals_of: dict[int, set[str]] = defaultdict(set)
    weight_of: dict[int, float] = defaultdict(float)
    segs: dict[int, Segment] = {}
    for m in matches:
        for seg, weight in m.hits:
            if seg.out_of_scope and any(not s.out_of_scope for s, _ in m.hits):
                continue
            key = id(seg)
            segs[key] = seg
            signals_of[key].add(m.signal)
            weight_of[key] += weight
    ranked = sorted(
        segs,
        key=lambda k: (
            -len(signals_of[k]),
            segs[k].heading,
            -weight_of[k],
            len(segs[k].text) > 200,  # a short, specific line before a long paragraph
            segs[k].page,
            segs[k].start,
        ),
    )
    quotes: list[Quote] = []
    pages: set[int] = set()
    # prefer spreading quotes over pages, then fill up
    for prefer_new_page in (True, False):
        for key in ranked:
            seg = segs[key]
            if len(quotes) >= limit:
                break
            if prefer_new_page and seg.page in pages:
                continue
            quote = Quote(page=seg.page, text=seg.text[:1200])
            if quote not in quotes:
                quotes.append(quote)
                pages.add(seg.page)
    return quotes


def _summary(question: Question, drafts: list[BestPracticeDraft]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for d in drafts:
        counts["not_applicable" if d.not_applicable else d.verdict] += 1
    parts = [
        f"{counts[v]} {v.replace('_', ' ')}"
        for v in (
            "addressed",
            "partly",
            "not_addressed",
            "insufficient_information",
            "not_applicable",
        )
        if counts[v]
    ]
    return f"{question.number}: {len(drafts)} best practices: " + ", ".join(parts) + "."
