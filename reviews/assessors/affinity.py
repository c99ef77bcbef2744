"""Topical affinity: does a statement speak about a practice's subject?

A concept of a practice matched in a line about something else is no evidence of it ("IAM roles"
in a security line is not the Cost practice "Implement groups and roles"; "snapshot" in a
database synchronisation line is not "Prepare forensic capabilities"). The affinity of a
statement to a practice is computed from the lens guidance alone (no labels, so it carries to
documents nobody labelled):

- a **multinomial naive Bayes** topic model (McCallum & Nigam, "A comparison of event models for
  naive Bayes text classification", AAAI-98 workshop) with one class per lens question, trained on
  the text of the question's guidance notes (title, question title, "what good looks like",
  signals, gaps, implementations) as content stems (:func:`reviews.assessors.lexical.content_of`),
  Laplace-smoothed (:data:`ALPHA`), uniform class prior;
- a statement's posterior over questions uses only its words the guidance knows (a word no note
  uses says nothing about the topic), tempered (:data:`TEMPERATURE`: the log-likelihood is divided
  by the square root of the number of known words, since the words of one sentence are far from
  independent and the raw posterior is nearly always 0 or 1);
- the **pillar affinity** of a statement to a practice is the posterior mass of the practice's
  pillar (the sum over its questions); a statement with no known word has affinity ``None``
  (unknown, not low).

:class:`TopicModel` caches posteriors per token tuple (up to :data:`CACHE_SIZE`), so the
per-practice cost is a dictionary lookup per matched statement.

**Use in the decision** (:func:`reviews.assessors.lexical.practice_evidence`): the ``affinity``
feature is the highest pillar affinity among the statements matching one of the practice's
concepts or implementation phrases, each read with its own section heading; 0 when none matches.
Leave-one-document-out strict F1 (``benchmarks/review_accuracy.py --ablate``, feature level,
DR / IDP; all-addressed baselines 0.587 / 0.609):

===============================================  ===============  ===============
variant                                          quick            deep
===============================================  ===============  ===============
no affinity                                      0.755 / 0.791    0.737 / 0.796
pillar affinity, statement alone (first kept)    0.766 / 0.793    0.755 / 0.816
**pillar affinity, statement + heading (kept)**  0.766 / 0.801    0.762 / 0.816
plus the whole section path                      0.766 / 0.799    0.765 / 0.819
heading alone                                    0.763 / 0.787    0.741 / 0.795
question affinity instead of pillar              0.766 / 0.787    0.746 / 0.799
pillar and question affinity (two features)      0.761 / 0.801    0.756 / 0.816
affinity / best pillar's (relative)              0.764 / 0.794    0.755 / 0.800
affinity of the top-ranked line (not max)        0.764 / 0.793    0.763 / 0.822
mean over the top 3 matched lines                0.764 / 0.793    0.761 / 0.794
concepts counted only in lines of affinity >=.5  0.770 / 0.790    0.755 / 0.804
tf-idf pillar centroid cosine (relative)         0.767 / 0.796    0.746 / 0.781
similarity x affinity as a tenth feature         0.759 / 0.770    0.763 / 0.810
EM over the document's statements (Nigam 2000)   0.766 / 0.799    0.765 / 0.814
===============================================  ===============  ===============

(rows after the kept one are it with that one change, except the question and relative rows,
measured with the statement alone; the pillar and question row with the heading).

Adding the statement's affinity to its rank among the practice's evidence (so quotes come from
on-topic lines) was measured and dropped: the first quote was the reviewer's line for 41 / 45
true positives (quick) without it and 39 / 47 with it, 36 / 48 at double weight. A label-free
check supports :data:`ALPHA` and :data:`TEMPERATURE` (0.1 / 0.5, tried first; LODO figures of
four pairs were also seen, all within about 0.02): leaving each of 80 guidance notes out, its
own lines (signals, implementations, gaps, good) are classed into its pillar with log-loss 1.50
(accuracy 0.44, 6 pillars) at 0.1 / 0.5, 1.78 untempered, 1.48 at the best pair tried (0.5 /
0.25, whose LODO figures are within 0.01 of these). The form (pillar, max over matched lines,
heading) was chosen looking at both documents' LODO figures, so they are somewhat optimistic.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from lenses.catalog import GuidanceNote

#: Laplace (add-alpha) smoothing of the word probabilities of each question
ALPHA = 0.1
#: the log-likelihood of a statement is divided by ``len(known words) ** TEMPERATURE``
TEMPERATURE = 0.5
#: posteriors kept per model (a long-running service reviews many documents); past it the cache
#: starts afresh
CACHE_SIZE = 50_000


def topic_text(note: GuidanceNote) -> str:
    """The text of a note the topic model learns from: title, question title, good, signals,
    gaps and implementations."""
    return " ".join(
        [
            note.title,
            note.question_title,
            note.good,
            *note.signals,
            *note.gaps,
            *note.implementations,
        ]
    )


class TopicModel:
    """Multinomial naive Bayes over the lens questions (see the module docstring).

    ``classes``: question ids in a fixed order; ``pillar_of``: question id -> pillar id. Built by
    :func:`build_topics`; thread-safe.
    """

    def __init__(
        self,
        classes: list[str],
        pillar_of: dict[str, str],
        vocabulary: dict[str, int],
        log_prob: np.ndarray,
    ) -> None:
        self.classes = classes
        self.pillar_of = pillar_of
        self.vocabulary = vocabulary
        self.log_prob = log_prob  # shape (len(classes), len(vocabulary))
        self._index = {c: i for i, c in enumerate(classes)}
        pillars = sorted(set(pillar_of.values()))
        self._pillar_rows = {
            p: np.array([i for i, c in enumerate(classes) if pillar_of[c] == p]) for p in pillars
        }
        self._cache: dict[tuple[str, ...], np.ndarray | None] = {}
        self._lock = threading.Lock()

    @property
    def pillars(self) -> list[str]:
        """The pillar ids the model knows, sorted."""
        return sorted(self._pillar_rows)

    def posterior(self, tokens: Iterable[str]) -> np.ndarray | None:
        """P(question | statement) over :attr:`classes` (sums to 1), or ``None`` when no token
        is in the guidance vocabulary. ``tokens`` are content stems."""
        key = tuple(tokens)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        cols = [self.vocabulary[t] for t in key if t in self.vocabulary]
        post: np.ndarray | None = None
        if cols:
            loglik = self.log_prob[:, cols].sum(axis=1) / (len(cols) ** TEMPERATURE)
            z = np.exp(loglik - loglik.max())
            post = z / z.sum()
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = post
        return post

    def question_affinity(self, tokens: Iterable[str], question_id: str) -> float | None:
        """P(question_id | statement), or ``None`` (no known word)."""
        post = self.posterior(tokens)
        if post is None or question_id not in self._index:
            return None
        return float(post[self._index[question_id]])

    def pillar_affinity(self, tokens: Iterable[str], pillar_id: str) -> float | None:
        """P(pillar_id | statement): the posterior mass of the pillar's questions, or ``None``
        (no known word, or a pillar the model does not know)."""
        post = self.posterior(tokens)
        rows = self._pillar_rows.get(pillar_id)
        if post is None or rows is None:
            return None
        return float(post[rows].sum())


def build_topics(
    notes: list[GuidanceNote], tokenize: Callable[[str], tuple[str, ...]] | None = None
) -> TopicModel:
    """Train the topic model on the guidance notes (``tokenize``: text -> content stems,
    default :func:`reviews.assessors.lexical.content_of`).

    Raises:
        ValueError: no notes.
    """
    if not notes:
        raise ValueError("build_topics needs guidance notes")
    if tokenize is None:
        from reviews.assessors.lexical import content_of

        tokenize = content_of
    counts: dict[str, Counter[str]] = {}
    pillar_of: dict[str, str] = {}
    for note in notes:
        counts.setdefault(note.question_id, Counter()).update(tokenize(topic_text(note)))
        pillar_of[note.question_id] = note.pillar_id
    classes = sorted(counts)
    vocabulary = {w: i for i, w in enumerate(sorted({w for c in counts.values() for w in c}))}
    matrix = np.full((len(classes), len(vocabulary)), ALPHA)
    for i, c in enumerate(classes):
        for w, n in counts[c].items():
            matrix[i, vocabulary[w]] += n
    log_prob = np.log(matrix) - np.log(matrix.sum(axis=1, keepdims=True))
    return TopicModel(classes, pillar_of, vocabulary, log_prob)


def best_affinity(
    topics: TopicModel, statements: Iterable[tuple[str, ...]], pillar_id: str
) -> float:
    """The highest pillar affinity among ``statements`` (content-stem tuples); statements with
    no known word are skipped, and with none left the affinity is the pillar's prior share
    (``1 / number of pillars``: no evidence either way)."""
    best = -1.0
    for tokens in statements:
        a = topics.pillar_affinity(tokens, pillar_id)
        if a is not None and a > best:
            best = a
    if best < 0:
        return 1.0 / max(1, len(topics.pillars))
    return best
