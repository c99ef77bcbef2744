"""Lexical evidence for a best practice: concepts from its guidance note, matched on statements.

A best practice's **query** comes from its guidance note (:class:`lenses.catalog.GuidanceNote`):

- **concepts**: each signal (``"Route 53 health checks"``, ``"point-in-time recovery"``) as its
  content-word sequence (stemmed, stopwords dropped), plus the acronym forms the guidance notes
  define (``"Recovery Time Objective (RTO)"`` makes ``rto`` and ``recovery time objective`` the same
  concept). A multi-word concept matches when its words occur contiguously (stopwords ignored) in
  a statement. A **single-word** concept counts only when it is specific: rare across the guidance
  notes (in at most :data:`SPECIFIC_NOTES` of them) and rare in the document (in at most
  :data:`SPECIFIC_SHARE` of its statements), so a generic word (``groups``, ``pipeline``,
  ``Lambda`` in a serverless design) never addresses a practice on its own.
- **terms**: the content words of the note's title, its "what good looks like" sentence and its
  signals, weighted by their inverse document frequency over the whole guidance corpus (a word
  every note uses, such as ``workload``, weighs nothing). A statement's **similarity** is the share
  of the query's weight it contains: lexical retrieval over sentences with the guidance as query.

:func:`features` returns, per practice, the figures the calibrated decision
(:mod:`reviews.assessors.calibration`) reads, computed only over statements qualified as present
(:attr:`reviews.document.Statement.present`), and the ranked evidence statements. In ``deep``
mode a statement is read with its **context**: the words of its own section heading (the
innermost of its path) count towards similarity at half weight, and concept words split across a
statement and its section title still match. (The whole path, chapter titles included, was
measured once the extractor read the heading structure and dropped: leave-one-document-out F1
of deep mode on the IDP document 0.759 vs 0.793 with the innermost heading alone, DR 0.740 vs
0.739. Neighbouring rows and items as context were measured and dropped: with them the
leave-one-document-out F1 of deep mode fell below quick mode's on the IDP document, 0.753 vs
0.785, since a table's rows lend each other words; a row already carries its table's column
names.)
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

from lenses.catalog import GuidanceNote
from reviews.document import DocumentModel, Statement, roles_named, shows_for
from tools.text import STOPWORDS as BASE_STOPWORDS

SPECIFIC_NOTES = 15
SPECIFIC_SHARE = 0.08
CONTEXT_WEIGHT = 0.5
RELEVANT_STATEMENTS = 12  # statements a model assessor is shown per question
TITLE_WEIGHT = 3.0
STOPWORDS = BASE_STOPWORDS | frozenset(
    ["each", "per", "use", "used", "using", "via", "we", "were", "you", "your", "e", "g", "eg"]
)
_ACRONYM = re.compile(r"\b([A-Za-z][\w/-]*(?:\s+[\w/-]+){1,5})\s+\(([A-Z][A-Za-z0-9]{1,6})\)")
#: general spelling variants of design documents (joined / split compounds)
VARIANTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("fail", "over"): ("failover",),
    ("back", "up"): ("backup",),
    ("roll", "back"): ("rollback",),
    ("multi", "az"): ("multiaz",),
    ("multi", "region"): ("multiregion",),
    ("run", "book"): ("runbook",),
    ("play", "book"): ("playbook",),
}


_WORD = re.compile(r"[A-Za-z0-9]+")
_STEMMERS = threading.local()  # a Snowball stemmer keeps state while it stems: one per thread


def _stems(words: list[str]) -> list[str]:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return list(stemmer.stemWords(words))


#: the variants above as stems (``fail over`` and ``failover`` -> one token)
_STEMMED_VARIANTS: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(_stems(list(k))): tuple(_stems(list(v))) for k, v in VARIANTS.items()
}


def content(words: list[str]) -> tuple[str, ...]:
    """Stems of the content words (lower-cased words, stopwords dropped before stemming),
    compounds joined (``fail over`` -> ``failov``, as ``failover``).

    Stems are the Snowball English stemmer's (Porter, "Snowball: A language for stemming
    algorithms", 2001; the ``snowballstemmer`` package), so inflections of one word agree
    (``estimate``/``estimated``, ``trace``/``tracing``/``traces``).
    """
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1]
    stems = _stems(kept)
    out: list[str] = []
    i = 0
    while i < len(stems):
        pair = tuple(stems[i : i + 2])
        if pair in _STEMMED_VARIANTS:
            out.extend(_STEMMED_VARIANTS[pair])
            i += 2
            continue
        out.append(stems[i])
        i += 1
    return tuple(out)


@lru_cache(maxsize=65536)
def content_of(text: str) -> tuple[str, ...]:
    """The content stems of a text (cached)."""
    return content([w.lower() for w in _WORD.findall(text)])


@dataclass
class Corpus:
    """Word statistics of the guidance notes: note frequency, idf, acronym equivalences."""

    notes: int
    df: Counter[str]
    acronyms: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    def idf(self, word: str) -> float:
        """Smoothed inverse note frequency (BM25's, floored at 0)."""
        n = self.df.get(word, 0)
        return max(0.0, math.log((self.notes - n + 0.5) / (n + 0.5) + 1.0))


def note_text(note: GuidanceNote) -> str:
    """The text of a note that queries are built from: title, good, signals."""
    return " ".join([note.title, note.good, *note.signals])


def build_corpus(notes: list[GuidanceNote]) -> Corpus:
    """Note frequencies over the guidance corpus and the acronyms the notes define."""
    df: Counter[str] = Counter()
    acronyms: dict[tuple[str, ...], tuple[str, ...]] = {}
    for note in notes:
        df.update(set(content_of(note_text(note))))
        for text in (note.good, *note.signals, *note.gaps):
            for m in _ACRONYM.finditer(text):
                long, short = content_of(m.group(1)), content_of(m.group(2))
                words = long[-len(m.group(2)) :] if len(long) > len(m.group(2)) else long
                if short and words and "".join(w[0] for w in words) == short[0][: len(words)]:
                    acronyms[short] = words
    return Corpus(notes=len(notes), df=df, acronyms=acronyms)


@dataclass
class Concept:
    """One signal of a practice as content tokens; ``alternatives`` are equivalent spellings."""

    signal: str
    forms: list[tuple[str, ...]]

    @property
    def single(self) -> bool:
        """True when every form is one word."""
        return all(len(f) == 1 for f in self.forms)


def concepts(note: GuidanceNote, corpus: Corpus) -> list[Concept]:
    """The practice's concepts: its signals with acronym forms (see the module docstring)."""
    out: list[Concept] = []
    for signal in note.signals:
        form = content_of(signal)
        if not form:
            continue
        forms = [form]
        if form in corpus.acronyms:
            forms.append(corpus.acronyms[form])
        for short, long in corpus.acronyms.items():
            if form == long:
                forms.append(short)
        out.append(Concept(signal=signal, forms=list(dict.fromkeys(forms))))
    return out


def _contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if not n or n > len(tokens):
        return False
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


@dataclass
class StatementView:
    """A statement's content tokens, and (deep mode) its context tokens."""

    stmt: Statement
    tokens: tuple[str, ...]
    context: frozenset[str] = frozenset()


@dataclass
class DocumentViews:
    """Per-document token views of the present statements and word shares (built once)."""

    views: list[StatementView]
    share: dict[str, float]
    deep: bool


def document_views(model: DocumentModel, deep: bool) -> DocumentViews:
    """Content-token views of the present statements (with context in deep mode)."""
    evidence = model.evidence()
    toks = {s.index: content_of(s.text) for s in evidence}
    share_count: Counter[str] = Counter()
    for t in toks.values():
        share_count.update(set(t))
    n = max(1, len(toks))
    share = {w: c / n for w, c in share_count.items()}
    views = []
    for s in evidence:
        if not s.present:
            continue
        context: set[str] = set()
        if deep:
            for heading in s.section[-1:]:
                context.update(content_of(heading))
            context -= set(toks[s.index])
        views.append(StatementView(s, toks[s.index], frozenset(context)))
    return DocumentViews(views=views, share=share, deep=deep)


@dataclass
class PracticeEvidence:
    """Figures of one practice on one document, and its best statements (best first).

    ``phrases``: most distinct concepts matched in one present statement; ``concepts``: distinct
    concepts matched anywhere; ``similarity``: best statement similarity (0-1);
    ``similarity2``: second best; ``matched``: signals matched; ``title_cover``: statement
    index -> share of the practice title's idf weight found in the statement's *own* words
    (not its section or neighbours), the cross-check that a quote names what the practice is
    about rather than only generic words of its guidance; ``showing``: indexes of the ranked
    statements that show the practice in place rather than only name it
    (:func:`reviews.document.shows_for`, with the lists the practice's title names).
    """

    phrases: float
    concepts: int
    similarity: float
    similarity2: float
    ranked: list[tuple[Statement, float, list[str]]]
    matched: list[str]
    title_cover: dict[int, float] = field(default_factory=dict)
    showing: frozenset[int] = frozenset()

    def vector(self) -> list[float]:
        """The feature vector of the calibrated decision."""
        return [
            self.phrases,
            float(min(self.concepts, 4)),
            self.similarity,
            self.similarity2,
            self.phrases * self.similarity,
            self.names_only,
        ]

    @property
    def names_only(self) -> float:
        """1.0 when the practice's concepts are matched only in statements that name them
        without showing the practice in place (:attr:`showing`), else 0.0."""
        shown = any(hits and stmt.index in self.showing for stmt, _, hits in self.ranked)
        return float(self.phrases > 0 and not shown)


FEATURES = (
    "phrases",
    "concepts",
    "similarity",
    "similarity2",
    "phrases_x_similarity",
    "names_only",
)


def practice_evidence(note: GuidanceNote, views: DocumentViews, corpus: Corpus) -> PracticeEvidence:
    """Match a practice's concepts and guidance terms against the document's statements."""
    query: dict[str, float] = {}
    for word in content_of(note_text(note)):
        query[word] = corpus.idf(word)
    for word in content_of(note.title):
        query[word] = TITLE_WEIGHT * corpus.idf(word)
    total = sum(query.values()) or 1.0
    title = {word: corpus.idf(word) for word in content_of(note.title)}
    title_total = sum(title.values()) or 1.0
    cover: dict[int, float] = {}
    cons = concepts(note, corpus)
    ranked: list[tuple[Statement, float, list[str]]] = []
    matched_any: set[str] = set()
    best_phrases = 0.0
    sims: list[float] = []
    for view in views.views:
        words = set(view.tokens)
        hits: list[str] = []
        for concept in cons:
            if any(_matches(form, view, corpus, views) for form in concept.forms):
                hits.append(concept.signal)
        sim = sum(w for q, w in query.items() if q in words) / total
        if views.deep and view.context:
            sim += (
                CONTEXT_WEIGHT
                * sum(w for q, w in query.items() if q in view.context and q not in words)
                / total
            )
        sims.append(sim)
        if hits:
            matched_any.update(hits)
            best_phrases = max(best_phrases, float(len(hits)))
        if hits or sim > 0:
            ranked.append((view.stmt, len(hits) + sim, hits))
            cover[view.stmt.index] = sum(w for q, w in title.items() if q in words) / title_total
    roles = roles_named(note.title)
    showing = frozenset(s.index for s, _, _ in ranked if shows_for(s, roles))
    ranked.sort(key=lambda r: (-len(r[2]) > 0, -r[1], r[0].index))
    ranked.sort(key=lambda r: -r[1])
    sims.sort(reverse=True)
    return PracticeEvidence(
        phrases=best_phrases,
        concepts=len(matched_any),
        similarity=sims[0] if sims else 0.0,
        similarity2=sims[1] if len(sims) > 1 else 0.0,
        ranked=ranked,
        matched=sorted(matched_any),
        title_cover=cover,
        showing=showing,
    )


def _matches(
    form: tuple[str, ...], view: StatementView, corpus: Corpus, views: DocumentViews
) -> bool:
    if len(form) == 1:
        word = form[0]
        specific = (
            corpus.df.get(word, 0) <= SPECIFIC_NOTES
            and views.share.get(word, 0.0) <= SPECIFIC_SHARE
            and len(word) > 2
        )
        return specific and word in view.tokens
    if _contains(view.tokens, form):
        return True
    if views.deep and view.context:
        # a concept split between a statement and its section title or neighbour
        return all(w in view.tokens or w in view.context for w in form) and any(
            w in view.tokens for w in form
        )
    return False


def relevant_statements(
    model: DocumentModel, notes: list[GuidanceNote], corpus: Corpus, k: int = 12
) -> list[tuple[Statement, float]]:
    """The document's statements most relevant to a question's practices, best first.

    Every evidence statement (present or qualified: a model must see "(future)" lines to judge
    them) is scored by its best concept matches plus similarity over the practices' notes; the
    top ``k`` with a positive score are returned in document order with their score.
    """
    everyone = DocumentViews(
        views=[StatementView(s, content_of(s.text)) for s in model.evidence()],
        share=document_views(model, deep=False).share,
        deep=False,
    )
    best: dict[int, tuple[Statement, float]] = {}
    for note in notes:
        for stmt, score, _ in practice_evidence(note, everyone, corpus).ranked[:k]:
            if score > best.get(stmt.index, (stmt, 0.0))[1]:
                best[stmt.index] = (stmt, score)
    top = sorted(best.values(), key=lambda r: -r[1])[:k]
    return sorted(top, key=lambda r: r[0].index)
