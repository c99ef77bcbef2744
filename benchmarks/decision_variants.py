"""Decision variants: how scores of different practices and documents could relate, measured.

Usage::

    .venv/bin/python benchmarks/decision_variants.py            # every variant, both modes
    .venv/bin/python benchmarks/decision_variants.py --union    # the longer-document check

The shipped decision (:mod:`reviews.assessors.calibration`) scores each best practice on its own
features. This script measures, leave-one-document-out (LODO: fitted on the other labelled
document, scored on this one), decisions that let practices or documents inform each other:

- **competition** (exclusivity): the practice's share of its best statement's rank score among
  all practices (``competition share``), its rank among practices of other pillars on that
  statement, or whether that statement is the best statement of a practice with a higher
  first-stage P(addressed) (``explained away``, two-stage: the first stage is the shipped
  logistic decision fitted on the training document);
- **question mates**: the mean first-stage P(addressed) of the other practices of the question;
- **document-relative features**: the similarity features as z-scores within the document's
  practices, or every feature as its percentile within the document;
- **model class**: every pairwise product of the features; gradient-boosted depth-2 trees
  (Friedman, "Greedy function approximation: a gradient boosting machine", 2001; second-order
  leaf values as in Chen & Guestrin, "XGBoost", 2016; numpy, 60 rounds, rate 0.1, at least 15
  practices a leaf) averaged with the logistic decision; in deep mode, the average of the quick-
  and deep-mode probabilities;
- **threshold transfer**: selecting the top k that maximise the expected F1 under the
  probabilities themselves (plug-in, Jansche 2007; Lipton, Elkan & Naryanaswamy, "Thresholding
  classifiers to maximize F1 score", 2014) instead of the threshold fitted on the other document.

Printed per variant, mode and document: LODO F1 of "addressed" at the feature level (which equals
the review's), the AUC of P(addressed), the F1 a threshold chosen on the scored document itself
would reach (an upper bound, not a result), and a 90% paired bootstrap interval of the F1 change
against the shipped decision (1,000 resamples of the document's practices, seed 0). ``--union``
reviews the two documents concatenated (about twice the statements of either) with the shipped
weights and counts the selections against the union of the two truths (a practice addressed in
either document), a label-free check that the decision does not drift with document length.
The figures and what was kept are in :mod:`reviews.assessors.calibration`'s docstring.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.review_accuracy import DATA, TRUTH, auc, documents  # noqa: E402

#: feature indexes (see :data:`reviews.assessors.lexical.FEATURES`) of the similarity features
SIMILARITIES = (2, 3, 7)
#: a variant maps (training rows, scored rows) to the scored rows' P(addressed) and the threshold
Variant = Callable[[list[dict[str, Any]], list[dict[str, Any]]], tuple[np.ndarray, float]]


def collect(stem: str, mode: str) -> list[dict[str, Any]]:
    """Every best practice of the lens on one document: ``id``, ``pillar``, ``question``,
    ``x`` (the feature vector), ``y`` (the truth label, None when unlabelled) and ``top`` (the
    indexes and rank scores of its three best statements)."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.lexical import build_corpus, document_views, practice_evidence
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    model = understand(PdfPlumberExtractor().extract(DATA / f"{stem}.pdf"))
    views = document_views(model, mode == "deep")
    rows = []
    for note in notes:
        ev = practice_evidence(note, views, corpus)
        label = truth.get(note.choice_id)
        rows.append(
            {
                "id": note.choice_id,
                "pillar": note.pillar_id,
                "question": note.question_id,
                "x": ev.vector(),
                "y": None if label is None else bool(label["addressed"]),
                "top": [(s.index, score) for s, score, _ in ev.ranked[:3]],
            }
        )
    return rows


def labelled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with a truth label."""
    return [r for r in rows if r["y"] is not None]


def f1_of(selected: np.ndarray, truth: np.ndarray) -> float:
    """F1 of a boolean selection against boolean truth (0 when both are empty)."""
    denominator = int(selected.sum() + truth.sum())
    return 2 * float((selected & truth).sum()) / denominator if denominator else 0.0


def with_features(extra: Callable[[list[dict[str, Any]], Any], list[list[float]]]) -> Variant:
    """A variant that appends features (computed per document from its rows and the first-stage
    calibration fitted on the training rows) and refits the logistic decision."""
    from reviews.assessors.calibration import fit

    def run(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
        first = fit([r["x"] for r in labelled(train)], [r["y"] for r in labelled(train)])
        xa = [r["x"] + e for r, e in zip(train, extra(train, first), strict=True)]
        xb = [r["x"] + e for r, e in zip(test, extra(test, first), strict=True)]
        keep_a = [i for i, r in enumerate(train) if r["y"] is not None]
        keep_b = [i for i, r in enumerate(test) if r["y"] is not None]
        cal = fit([xa[i] for i in keep_a], [train[i]["y"] for i in keep_a])
        return np.array([cal.probability(xb[i]) for i in keep_b]), cal.threshold

    return run


def transformed(transform: Callable[[np.ndarray], np.ndarray]) -> Variant:
    """A variant that replaces each document's feature matrix by ``transform`` of it (computed
    within the document, over all its practices, without labels) and refits."""
    from reviews.assessors.calibration import fit

    def run(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
        xa = transform(np.array([r["x"] for r in train], dtype=float))
        xb = transform(np.array([r["x"] for r in test], dtype=float))
        ka = [i for i, r in enumerate(train) if r["y"] is not None]
        kb = [i for i, r in enumerate(test) if r["y"] is not None]
        cal = fit([xa[i].tolist() for i in ka], [train[i]["y"] for i in ka])
        return np.array([cal.probability(xb[i].tolist()) for i in kb]), cal.threshold

    return run


def shipped(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
    """The shipped decision: logistic regression on the features, F1-maximising threshold."""
    return transformed(lambda x: x)(train, test)


def competition_share(rows: list[dict[str, Any]], _: Any) -> list[list[float]]:
    """The practice's share of its best statement's rank score summed over all practices."""
    column: dict[int, float] = defaultdict(float)
    for r in rows:
        for index, score in r["top"]:
            column[index] += score
    return [[r["top"][0][1] / column[r["top"][0][0]] if r["top"] else 0.0] for r in rows]


def other_pillar_rank(rows: list[dict[str, Any]], _: Any) -> list[list[float]]:
    """1 / (1 + how many practices of other pillars score the practice's best statement higher)."""
    column: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for r in rows:
        for index, score in r["top"]:
            column[index].append((r["pillar"], score))
    out = []
    for r in rows:
        if not r["top"]:
            out.append([0.0])
            continue
        index, score = r["top"][0]
        above = sum(p != r["pillar"] and s > score for p, s in column[index])
        out.append([1.0 / (1 + above)])
    return out


def explained_away(rows: list[dict[str, Any]], first: Any) -> list[list[float]]:
    """1 when the practice's best statement is the best statement of a practice with a higher
    first-stage P(addressed), else 0."""
    p = [first.probability(r["x"]) for r in rows]
    best: dict[int, float] = defaultdict(float)
    for r, pr in zip(rows, p, strict=True):
        if r["top"]:
            best[r["top"][0][0]] = max(best[r["top"][0][0]], pr)
    return [
        [float(bool(r["top"]) and best[r["top"][0][0]] > pr)] for r, pr in zip(rows, p, strict=True)
    ]


def question_mates(rows: list[dict[str, Any]], first: Any) -> list[list[float]]:
    """The mean first-stage P(addressed) of the other practices of the practice's question."""
    p = [first.probability(r["x"]) for r in rows]
    by_question: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_question[r["question"]].append(i)
    out = []
    for i, r in enumerate(rows):
        mates = [p[j] for j in by_question[r["question"]] if j != i]
        out.append([sum(mates) / len(mates) if mates else 0.0])
    return out


def zscore_similarities(x: np.ndarray) -> np.ndarray:
    """The similarity features as z-scores over the document's practices."""
    out = x.copy()
    for j in SIMILARITIES:
        out[:, j] = (x[:, j] - x[:, j].mean()) / (x[:, j].std() + 1e-9)
    return out


def percentiles(x: np.ndarray) -> np.ndarray:
    """Every feature as its percentile among the document's practices (ties share the top)."""
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        out[:, j] = np.searchsorted(np.sort(x[:, j]), x[:, j], side="right") / len(x)
    return out


def pairwise(x: np.ndarray) -> np.ndarray:
    """The features and every pairwise product of them."""
    n = x.shape[1]
    prods = [x[:, a] * x[:, b] for a in range(n) for b in range(a + 1, n)]
    return np.column_stack([x, *prods])


@dataclasses.dataclass
class Boosted:
    """Gradient-boosted regression trees on the logistic loss (see the module docstring).

    ``fit`` takes an (n, d) matrix and n booleans; ``probability`` an (m, d) matrix.
    """

    rounds: int = 60
    rate: float = 0.1
    depth: int = 2
    min_leaf: int = 15
    ridge: float = 1.0
    trees: list[Any] = dataclasses.field(default_factory=list)
    prior: float = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> Boosted:
        """Fit ``rounds`` trees, each on the gradient and hessian of the current fit."""
        mean = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        self.prior = math.log(mean / (1 - mean))
        f = np.full(len(y), self.prior)
        self.trees = []
        for _ in range(self.rounds):
            p = 1.0 / (1.0 + np.exp(-f))
            tree = self._grow(x, p - y, p * (1 - p), np.arange(len(y)), self.depth)
            self.trees.append(tree)
            f += self.rate * np.array([_leaf(tree, row) for row in x])
        return self

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(positive) of each row."""
        f = np.full(len(x), self.prior)
        for tree in self.trees:
            f += self.rate * np.array([_leaf(tree, row) for row in x])
        return 1.0 / (1.0 + np.exp(-f))

    def _grow(
        self, x: np.ndarray, g: np.ndarray, h: np.ndarray, idx: np.ndarray, depth: int
    ) -> Any:
        total_g, total_h = g[idx].sum(), h[idx].sum()
        value = float(-total_g / (total_h + self.ridge))
        if depth == 0 or len(idx) < 2 * self.min_leaf:
            return value
        base = total_g * total_g / (total_h + self.ridge)
        best: tuple[float, int, float] | None = None
        for j in range(x.shape[1]):
            order = idx[np.argsort(x[idx, j], kind="stable")]
            xs, gs, hs = x[order, j], np.cumsum(g[order]), np.cumsum(h[order])
            for k in range(self.min_leaf - 1, len(order) - self.min_leaf):
                if xs[k] == xs[k + 1]:
                    continue
                gl, hl = gs[k], hs[k]
                gain = (
                    gl * gl / (hl + self.ridge)
                    + (total_g - gl) ** 2 / (total_h - hl + self.ridge)
                    - base
                )
                if best is None or gain > best[0]:
                    best = (float(gain), j, float((xs[k] + xs[k + 1]) / 2))
        if best is None or best[0] <= 1e-9:
            return value
        _, j, cut = best
        left, right = idx[x[idx, j] <= cut], idx[x[idx, j] > cut]
        return (j, cut, self._grow(x, g, h, left, depth - 1), self._grow(x, g, h, right, depth - 1))


def _leaf(tree: Any, row: np.ndarray) -> float:
    while isinstance(tree, tuple):
        j, cut, left, right = tree
        tree = left if row[j] <= cut else right
    return float(tree)


def best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The F1-maximising threshold on a 0.01 grid from 0.1 to 0.9 (as :func:`calibration.fit`)."""
    grid = np.linspace(0.1, 0.9, 81)
    return float(max(grid, key=lambda t: f1_of(p >= t, y)))


def boosted_with_logistic(
    train: list[dict[str, Any]], test: list[dict[str, Any]]
) -> tuple[np.ndarray, float]:
    """The mean of the boosted trees' and the logistic decision's probabilities."""
    from reviews.assessors.calibration import fit

    a, b = labelled(train), labelled(test)
    xa, ya = np.array([r["x"] for r in a]), np.array([r["y"] for r in a])
    xb = np.array([r["x"] for r in b])
    trees = Boosted().fit(xa, ya.astype(float))
    cal = fit(xa.tolist(), ya.tolist())

    def prob(x: np.ndarray) -> np.ndarray:
        return 0.5 * trees.probability(x) + 0.5 * np.array([cal.probability(list(v)) for v in x])

    return prob(xb), best_threshold(prob(xa), ya)


def expected_f1_selection(p: np.ndarray) -> np.ndarray:
    """The top k practices by P that maximise the plug-in expected F1, 2 sum_top-k p / (k + sum p)
    (the probabilities taken as calibrated; no threshold)."""
    order = np.argsort(-p)
    k = np.arange(1, len(p) + 1)
    best = int(np.argmax(2 * np.cumsum(p[order]) / (k + p.sum()))) + 1
    chosen = np.zeros(len(p), dtype=bool)
    chosen[order[:best]] = True
    return chosen


VARIANTS: dict[str, Variant] = {
    "shipped (logistic, 9 features)": shipped,
    "+ competition share": with_features(competition_share),
    "+ rank among other pillars": with_features(other_pillar_rank),
    "+ explained away (two-stage)": with_features(explained_away),
    "+ question mates (two-stage)": with_features(question_mates),
    "similarities as document z-scores": transformed(zscore_similarities),
    "features as document percentiles": transformed(percentiles),
    "+ every pairwise product": transformed(pairwise),
    "boosted depth-2 trees + logistic": boosted_with_logistic,
}


def measure(data: dict[tuple[str, str], list[dict[str, Any]]], stems: list[str]) -> list[str]:
    """Every variant, LODO, per mode and document (see the module docstring)."""
    rng = np.random.default_rng(0)
    lines = [
        "variant | mode | document | F1 LODO | AUC | F1 at own best threshold | dF1 90% interval"
    ]
    for mode in ("quick", "deep"):
        for stem in stems:
            other = next(s for s in stems if s != stem)
            y = np.array([r["y"] for r in labelled(data[(stem, mode)])])
            samples = rng.integers(0, len(y), size=(1000, len(y)))
            base_sel: np.ndarray | None = None
            variants = dict(VARIANTS)
            variants["expected-F1 selection"] = shipped
            if mode == "deep":
                variants["mean of quick and deep P"] = _quick_and_deep(data, stem, other)
            for name, variant in variants.items():
                p, threshold = variant(data[(other, mode)], data[(stem, mode)])
                chosen = (
                    expected_f1_selection(p) if name == "expected-F1 selection" else p >= threshold
                )
                if base_sel is None:
                    base_sel = chosen
                deltas = [f1_of(chosen[s], y[s]) - f1_of(base_sel[s], y[s]) for s in samples]
                lo, hi = np.quantile(deltas, [0.05, 0.95])
                own = max(f1_of(p >= t, y) for t in np.unique(p))
                lines.append(
                    f"{name} | {mode} | {_short(stem)} | {f1_of(chosen, y):.3f} | {auc(p, y):.3f} "
                    f"| {own:.3f} | {lo:+.3f} .. {hi:+.3f}"
                )
    return lines


def _quick_and_deep(
    data: dict[tuple[str, str], list[dict[str, Any]]], stem: str, other: str
) -> Variant:
    def run(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
        from reviews.assessors.calibration import fit

        parts_a, parts_b = [], []
        for mode in ("quick", "deep"):
            a, b = labelled(data[(other, mode)]), labelled(data[(stem, mode)])
            cal = fit([r["x"] for r in a], [r["y"] for r in a])
            parts_a.append(np.array([cal.probability(r["x"]) for r in a]))
            parts_b.append(np.array([cal.probability(r["x"]) for r in b]))
        ya = np.array([r["y"] for r in labelled(data[(other, "deep")])])
        return (parts_b[0] + parts_b[1]) / 2, best_threshold((parts_a[0] + parts_a[1]) / 2, ya)

    return run


def union(stems: list[str], mode: str = "quick") -> dict[str, tuple[int, int, float]]:
    """Per document and for the documents concatenated: (selected, truly addressed, F1) with the
    shipped weights; the concatenation's truth is a practice addressed in either document."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.calibration import SHIPPED
    from reviews.assessors.lexical import (
        DocumentViews,
        StatementView,
        build_corpus,
        document_views,
        practice_evidence,
    )
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    truths = [json.loads((TRUTH / f"{s}.json").read_text(encoding="utf-8")) for s in stems]
    models = [understand(PdfPlumberExtractor().extract(DATA / f"{s}.pdf")) for s in stems]
    views = [document_views(m, mode == "deep") for m in models]
    merged: list[StatementView] = []
    counts = [len(m.evidence()) for m in models]
    for offset, v in enumerate(views):
        shift = offset * 1_000_000  # statement indexes of the second document stay distinct
        merged += [
            StatementView(
                dataclasses.replace(s.stmt, index=s.stmt.index + shift), s.tokens, s.context
            )
            for s in v.views
        ]
    words = set().union(*(v.share for v in views))
    share = {
        w: sum(v.share.get(w, 0.0) * n for v, n in zip(views, counts, strict=True)) / sum(counts)
        for w in words
    }
    together = DocumentViews(views=merged, share=share, deep=mode == "deep")
    either = {
        cid: {"addressed": any(t.get(cid, {}).get("addressed", False) for t in truths)}
        for cid in set().union(*truths)
    }
    cal = SHIPPED[mode]
    out = {}
    for name, v, truth in [
        *((_short(s), v, t) for s, v, t in zip(stems, views, truths, strict=True)),
        ("concatenated", together, either),
    ]:
        chosen, actual = [], []
        for note in notes:
            if note.choice_id in truth:
                ev = practice_evidence(note, v, corpus)
                chosen.append(cal.probability(ev.vector()) >= cal.threshold)
                actual.append(bool(truth[note.choice_id]["addressed"]))
        sel, act = np.array(chosen), np.array(actual)
        out[name] = (int(sel.sum()), int(act.sum()), f1_of(sel, act))
    return out


def _short(stem: str) -> str:
    return {"disaster": "DR", "intelligent": "IDP"}.get(stem.split("-")[1], stem)


def main(argv: list[str] | None = None) -> int:
    """Print the variants' table (or the ``--union`` check); exit 2 when the truth is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--union", action="store_true", help="the concatenated-document check")
    args = parser.parse_args(argv)
    stems = documents()
    if len(stems) < 2:
        print(f"need two labelled documents in {TRUTH}", file=sys.stderr)
        return 2
    if args.union:
        for mode in ("quick", "deep"):
            for name, (sel, act, f1) in union(stems, mode).items():
                print(
                    f"{mode} {name}: selected {sel}, addressed {act}, F1 {f1:.3f} (shipped weights)"
                )
        return 0
    data = {(s, m): collect(s, m) for s in stems for m in ("quick", "deep")}
    print("\n".join(measure(data, stems)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
