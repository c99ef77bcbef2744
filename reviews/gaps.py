"""What this document has on a best practice it does not address: a relevant statement, or the
plain fact that it does not mention the subject.

The improvement plan says, per practice not addressed, what the document has and what it lacks
(:func:`reviews.plan.gap_sentence`). What it "has" must be about *this* practice, so it is
chosen from the practice's own lexical evidence
(:func:`reviews.assessors.lexical.practice_evidence`: the document's present statements ranked
against the practice's guidance note) and kept only when it is **relevant**:

- a line that matches a **multi-word concept** of the practice (a signal or implementation
  phrase such as ``"Route 53 health checks"``, stemmed, contiguous) is relevant when, read with
  its own section heading, it speaks about the practice's subject in the guidance's topic model
  (:mod:`reviews.assessors.affinity`): pillar affinity at least :data:`MIN_PILLAR_AFFINITY` or
  question affinity at least :data:`MIN_QUESTION_AFFINITY`;
- a line that shares only **one word** with the practice (a single-word concept such as
  ``"Lambda"`` or ``"Detective"``, or words of the title carrying at least
  :data:`MIN_TITLE_COVER` of its idf weight, one of them specific: ``"backups"`` for "Secure and
  encrypt backups") is relevant only when its topic is the practice's **question** (question
  affinity at least :data:`MIN_QUESTION_AFFINITY`). Title words are read in the verbatim line (a
  table row's cells, not its column names).

A line that shares a word with the guidance but is about something else ("SOC 2 RTO/RPO
defined" for access requirements, "Service Accounts: IAM roles" for "Separate workloads using
accounts", "Amazon Comprehend ... detects PII" for the Detective implementation of "Correlate
and enrich security events") is refused.

Statements that only announce a list or speak about the document itself
(:attr:`reviews.document.Statement.lead_in`) are never chosen. Among the relevant ones, a line
that matches a multi-word concept comes first, then the line most about the practice's question
(question affinity, to one decimal), then one that names a component or a value
(:func:`reviews.document.concrete`), then the lexical rank. When none is relevant,
:meth:`DocumentGaps.absent_signals` lists the practice's signals the document does not mention
anywhere (headings and qualified lines included), so the plan can say so plainly.

The cut-offs were set by reading the development documents' plan items
(``benchmarks/plan_relevance.py``), not fitted on labels; they decide only which line a
sentence quotes, never a verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lenses.catalog import GuidanceNote
from reviews.assessors.lexical import (
    SPECIFIC_SHARE,
    Corpus,
    DocumentViews,
    concepts,
    content_of,
    corpus_for,
    document_views,
    practice_evidence,
)
from reviews.document import DocumentModel, Statement, concrete, understand
from reviews.models import DocumentText

#: share of the practice title's idf weight a line's own words must carry (without a concept)
MIN_TITLE_COVER = 0.3
#: the topic model's pillar affinity of a relevant line (statement + its heading), or ...
MIN_PILLAR_AFFINITY = 0.5
#: ... its question affinity
MIN_QUESTION_AFFINITY = 0.3
#: a title word is specific with at least this idf over the guidance notes (BM25 idf 2.5 is a
#: word in about 25 of 308 notes: "implement", "secure", "manage", "deploy" are below it)
TITLE_WORD_IDF = 2.5
#: a word common in the document (see :meth:`DocumentGaps._common`) is in at least this many
#: statements (the offline assessor's rule for quotes, ``heuristic.COMMON_STATEMENTS``)
COMMON_STATEMENTS = 5
#: how many of the practice's ranked statements are looked at
CANDIDATES = 12


@dataclass(frozen=True)
class Found:
    """A relevant statement for a practice: the statement and the practice's concepts it
    matches (guidance phrases, empty when it was relevant by its title words)."""

    statement: Statement
    names: tuple[str, ...] = ()


class DocumentGaps:
    """One document read for the plan's sentences (statements, token views, the guidance corpus).

    ``notes`` are the lens's whole guidance (idf statistics, acronyms and the topic model come
    from them). Thread-safe; build it once per document.
    """

    def __init__(self, doc: DocumentText, notes: list[GuidanceNote]) -> None:
        self.model: DocumentModel = understand(doc)
        self.views: DocumentViews = document_views(self.model, deep=False)
        self.corpus: Corpus = corpus_for(notes)
        self._evidence = len(self.model.evidence())
        self._all = [frozenset(content_of(s.text)) for s in self.model.statements]
        self._lock = threading.Lock()

    def relevant(self, note: GuidanceNote) -> Found | None:
        """The statement this document has on ``note``'s practice (see the module docstring),
        or ``None`` when no present statement is relevant."""
        with self._lock:
            ev = practice_evidence(note, self.views, self.corpus)
        best: tuple[tuple[bool, float, bool, float], Found] | None = None
        for rank, (stmt, _score, names) in enumerate(ev.ranked[:CANDIDATES]):
            if stmt.lead_in or not stmt.present:
                continue
            pillar, question = self._affinity(stmt, note)
            phrase = any(len(content_of(n)) > 1 for n in names)
            if phrase:  # a multi-word concept of the practice, on the practice's topic
                ok = pillar >= MIN_PILLAR_AFFINITY or question >= MIN_QUESTION_AFFINITY
            else:  # one word of the practice: only in a line about its question
                ok = question >= MIN_QUESTION_AFFINITY and (
                    bool(names) or self._about_title(stmt, note)
                )
            if not ok:
                continue
            key = (phrase, round(question, 1), concrete(stmt.display), -float(rank))
            if best is None or key > best[0]:
                best = (key, Found(stmt, tuple(names)))
        return best[1] if best else None

    def _affinity(self, stmt: Statement, note: GuidanceNote) -> tuple[float, float]:
        """(pillar, question) affinity of ``stmt`` read with its own section heading; 0 when
        the topic is unknown."""
        topics = self.corpus.topics
        if topics is None:
            return 0.0, 0.0
        tokens = content_of(stmt.text) + content_of(" ".join(stmt.section[-1:]))
        pillar = topics.pillar_affinity(tokens, note.pillar_id)
        question = topics.question_affinity(tokens, note.question_id)
        return pillar or 0.0, question or 0.0

    def on_topic(self, stmt: Statement, note: GuidanceNote) -> bool:
        """Whether ``stmt``, read with its own section heading, speaks about ``note``'s pillar
        or question in the guidance topic model (an unknown topic is not on topic)."""
        pillar, question = self._affinity(stmt, note)
        return pillar >= MIN_PILLAR_AFFINITY or question >= MIN_QUESTION_AFFINITY

    def _about_title(self, stmt: Statement, note: GuidanceNote) -> bool:
        """Whether a line's own words (the verbatim line: a table row's cells, not its column
        names) carry :data:`MIN_TITLE_COVER` of the practice title's idf weight, with at least
        one specific title word (idf at least :data:`TITLE_WORD_IDF`, not common in this
        document)."""
        own = set(content_of(stmt.display))
        title = set(content_of(note.title))
        total = sum(self.corpus.idf(w) for w in title) or 1.0
        if sum(self.corpus.idf(w) for w in title & own) / total < MIN_TITLE_COVER:
            return False
        return any(
            not self._common(w) and self.corpus.idf(w) >= TITLE_WORD_IDF for w in title & own
        )

    def _common(self, word: str) -> bool:
        """A word in more than :data:`SPECIFIC_SHARE` of the document's statements, and in at
        least :data:`COMMON_STATEMENTS` of them (a short document has no common words)."""
        share = self.views.share.get(word, 0.0)
        return share > SPECIFIC_SHARE and share * self._evidence >= COMMON_STATEMENTS

    def statement_of(self, page: int, text: str) -> Statement | None:
        """The present statement quoted as ``text`` on ``page`` (whitespace-insensitive)."""
        want = " ".join(text.split())
        return next(
            (
                s
                for s in self.model.statements
                if s.page == page and s.present and (s.display == want or want in s.display)
            ),
            None,
        )

    def absent_signals(self, note: GuidanceNote, limit: int = 3) -> list[str]:
        """Up to ``limit`` of the practice's signals that no statement of the document mentions,
        in note order. A signal is mentioned when one statement (headings and qualified lines
        included) holds all its content words in any order, in any of its forms (stemmed,
        acronym), so "backup retention" counts as mentioned by "backups with 7-day retention"."""
        out = []
        for concept in concepts(note, self.corpus):
            if not any(set(f) <= t for f in concept.forms if f for t in self._all):
                out.append(concept.signal)
            if len(out) >= limit:
                break
        return out


_CACHE: dict[tuple[str, int], DocumentGaps] = {}
_CACHE_LOCK = threading.Lock()


def gaps_for(doc: DocumentText, notes: list[GuidanceNote]) -> DocumentGaps:
    """The :class:`DocumentGaps` of ``doc`` (one per extracted text and guidance, last few
    kept: the question tasks of one review share it). The key is the whole extraction, not the
    file's digest: one file read by two extractors (or re-extracted) gives other statements."""
    key = (doc.fingerprint(), hash(tuple(n.model_dump_json() for n in notes)))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is not None:
        return found
    made = DocumentGaps(doc, notes)
    with _CACHE_LOCK:
        if len(_CACHE) >= 4:
            _CACHE.clear()
        _CACHE[key] = made
    return made
