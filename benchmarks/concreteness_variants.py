"""Statement concreteness, distinguishing words, designability: measured against false positives.

Usage::

    .venv/bin/python benchmarks/concreteness_variants.py              # both modes
    .venv/bin/python benchmarks/concreteness_variants.py --mode quick

The reviewer's rule (truth README): a practice is addressed only when the document states a
concrete decision, control, process or artifact that satisfies it. Many false positives of the
offline decision rest on lines that are not such a statement for the practice: lead-ins ("The
following service level targets define..."), statements of purpose, risk-register rows, lines
whose matched words are the generic half of the practice. This script measures, leave-one-
document-out (LODO: the logistic decision of :mod:`reviews.assessors.calibration` fitted on the
other labelled document, scored on this one), variants of the evidence that read that rule:

- **concreteness of a line** (:func:`concreteness`, from the line alone): +1 for a named
  component or a value (:func:`reviews.document.concrete`), +1 for a number with a unit, -1 for
  purpose or overview wording (:data:`PURPOSE`), -1 for a lead-in, -1 for a line that only names
  a concept (:attr:`reviews.document.Statement.naming`); as a feature read on the best ranked
  line (``top line``) or on the best line matching a signal or implementation phrase (``matched
  line``);
- **evidence from decision lines only** (present, showing, concrete, no purpose wording), every
  feature recomputed on them, added beside the shipped features or replacing them;
- **evidence without lead-ins**, and without lead-ins, risk and summary lines (every feature
  recomputed without those lines);
- **distinguishing words**: the best matched line's share of the practice title's words weighted
  by their idf over the guidance notes times their idf among the notes of the practice's own
  question (the part of the practice its question mates do not share);
- **designability**: a guidance-only prior, the share of the note's implementation phrases and
  signals that name an AWS service (``AWS``/``Amazon`` or a name the notes write after them) or
  carry a number; no label is read.

Printed per variant and mode: per document the LODO F1 of "addressed" at the feature level (which
equals the review's), the AUC of P(addressed), false positives and negatives, and the 90% paired
bootstrap interval of the F1 change against the shipped features (1,000 resamples of the
document's practices, seed 0). The figures and the verdict are in the docstring of
:mod:`reviews.assessors.lexical`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.decision_variants import f1_of as f1  # noqa: E402
from benchmarks.review_accuracy import DATA, TRUTH, auc, documents  # noqa: E402

#: purpose, overview and lead-in wording: the line says why or what follows, not what is built
PURPOSE = re.compile(
    r"\b(?:objectives?|goals?|purpose|aims?|this section|the following|establish(?:es)?|"
    r"outlines?|describes?|covers?|define[sd]? the|overview|principles?|ensure[sd]?|enables?|"
    r"provides?)\b",
    re.I,
)
#: a number with a unit (``15 minutes``, ``99.9%``, ``$170``, ``16 GB``)
UNIT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|ms\b|s\b|sec|seconds?|min|minutes?|h\b|hours?|days?|weeks?|months?|"
    r"years?|[GMTK]B\b|x\b)|\$\s*\d",
    re.I,
)
_PRODUCT = re.compile(r"\b(?:AWS|Amazon)\s+([A-Z][\w-]*)")


def concreteness(stmt: Any) -> float:
    """The concreteness of one statement (a :class:`reviews.document.Statement`), from -3 to 2:
    +1 when it names a component or carries a value (:func:`reviews.document.concrete`), +1 for a
    number with a unit (:data:`UNIT`), -1 for purpose or overview wording (:data:`PURPOSE`), -1
    for a lead-in (:attr:`Statement.lead_in`), -1 when it only names a concept
    (:attr:`Statement.naming`)."""
    from reviews.document import concrete

    text = stmt.display
    return (
        float(concrete(text))
        + float(bool(UNIT.search(text)))
        - float(bool(PURPOSE.search(text)))
        - float(stmt.lead_in)
        - float(bool(stmt.naming))
    )


def decision_line(stmt: Any) -> bool:
    """A line that states a decision: it shows the practice in place (:attr:`Statement.shows`),
    is concrete (:func:`reviews.document.concrete`) and has no purpose wording."""
    from reviews.document import concrete

    return bool(stmt.shows and concrete(stmt.display) and not PURPOSE.search(stmt.display))


def product_names(notes: list[Any]) -> frozenset[str]:
    """The first word the guidance notes write after ``AWS``/``Amazon`` (``Backup``, ``Macie``)."""
    names = set()
    for note in notes:
        for text in (note.good, *note.signals, *note.implementations, *note.gaps):
            names.update(m.group(1) for m in _PRODUCT.finditer(text))
    return frozenset(names)


def designability(note: Any, names: frozenset[str]) -> float:
    """Share (0-1) of a note's implementation phrases and signals naming an AWS service
    (``AWS``, ``Amazon`` or one of ``names``) or carrying a digit; guidance text only."""
    items = [*note.implementations, *note.signals]
    if not items:
        return 0.0
    pattern = re.compile(
        r"\b(?:AWS|Amazon|" + "|".join(re.escape(n) for n in sorted(names)) + r")\b|\d"
    )
    return sum(bool(pattern.search(i)) for i in items) / len(items)


def distinguishing_weights(note: Any, notes: list[Any], corpus: Any) -> dict[str, float]:
    """The practice title's content words, each weighted by its idf over the guidance notes times
    its BM25 idf among the notes of the practice's own question (title and good sentence)."""
    from reviews.assessors.lexical import content_of

    mates = [n for n in notes if n.question_id == note.question_id]
    df: Counter[str] = Counter()
    for mate in mates:
        df.update(set(content_of(mate.title + " " + mate.good)))
    return {
        w: corpus.idf(w) * math.log((len(mates) - df[w] + 0.5) / (df[w] + 0.5) + 1.0)
        for w in content_of(note.title)
    }


def collect(stem: str, mode: str) -> dict[str, list[list[float]] | list[bool]]:
    """Per labelled practice of one document: the label and every variant's feature vector
    (``base``: the shipped features; others: see the module docstring)."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.lexical import (
        DocumentViews,
        build_corpus,
        document_views,
        practice_evidence,
    )
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    names = product_names(notes)
    views = document_views(
        understand(PdfPlumberExtractor().extract(DATA / f"{stem}.pdf")), mode == "deep"
    )

    def only(keep: Callable[[Any], bool]) -> DocumentViews:
        return DocumentViews([v for v in views.views if keep(v.stmt)], views.share, views.deep)

    decision = only(decision_line)
    no_lead = only(lambda s: not s.lead_in)
    no_naming = only(lambda s: not s.lead_in and s.naming not in ("risk", "summary"))
    tokens = {v.stmt.index: set(v.tokens) for v in views.views}
    out: dict[str, Any] = defaultdict(list)
    for note in notes:
        if note.choice_id not in truth:
            continue
        ev = practice_evidence(note, views, corpus)
        x = ev.vector()
        matched = [s for s, _, hits in ev.ranked if hits]
        dist = distinguishing_weights(note, notes, corpus)
        total = sum(dist.values()) or 1.0
        out["y"].append(bool(truth[note.choice_id]["addressed"]))
        out["base"].append(x)
        out["top line concreteness"].append(
            [*x, concreteness(ev.ranked[0][0]) if ev.ranked else 0.0]
        )
        out["matched line concreteness"].append(
            [*x, max((concreteness(s) for s in matched), default=0.0)]
        )
        dec = practice_evidence(note, decision, corpus).vector()
        out["+ decision-line similarity"].append([*x, dec[2]])
        out["decision lines only"].append(dec)
        out["without lead-ins"].append(practice_evidence(note, no_lead, corpus).vector())
        out["without lead-in/risk/summary"].append(
            practice_evidence(note, no_naming, corpus).vector()
        )
        out["+ distinguishing words"].append(
            [
                *x,
                max(
                    (
                        sum(v for w, v in dist.items() if w in tokens[s.index]) / total
                        for s in matched
                    ),
                    default=0.0,
                ),
            ]
        )
        out["+ designability"].append([*x, designability(note, names)])
    return out


def lodo(
    xs: dict[str, list[list[float]]], ys: dict[str, list[bool]]
) -> dict[str, tuple[list[float], float]]:
    """Per document, P(addressed) of its practices and the threshold, fitted on the other."""
    from reviews.assessors.calibration import fit

    out = {}
    for stem in xs:
        others = [o for o in xs if o != stem]
        cal = fit([x for o in others for x in xs[o]], [y for o in others for y in ys[o]])
        out[stem] = ([cal.probability(x) for x in xs[stem]], cal.threshold)
    return out


def bootstrap_delta(
    base: np.ndarray, other: np.ndarray, y: np.ndarray, rounds: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """The 5th and 95th percentiles of ``F1(other) - F1(base)`` over paired resamples of the
    practices (with replacement, ``rounds`` times, numpy ``default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(rounds):
        i = rng.integers(0, len(y), len(y))
        deltas.append(f1(other[i], y[i]) - f1(base[i], y[i]))
    lo, hi = np.percentile(deltas, [5, 95])
    return float(lo), float(hi)


def report(mode: str) -> list[str]:
    """One line per variant: per document F1, AUC, FP, FN and the bootstrap interval."""
    stems = documents()
    data = {stem: collect(stem, mode) for stem in stems}
    ys = {stem: list(data[stem]["y"]) for stem in stems}
    variants = [k for k in data[stems[0]] if k != "y"]
    results = {v: lodo({s: data[s][v] for s in stems}, ys) for v in variants}  # type: ignore[misc]
    lines = [f"{mode} mode, LODO, per document ({', '.join(s.split('-')[1] for s in stems)})"]
    for variant in variants:
        cells = []
        for stem in stems:
            y = np.asarray(ys[stem])
            probs, threshold = results[variant][stem]
            pred = np.asarray(probs) >= threshold
            base_probs, base_t = results["base"][stem]
            lo, hi = bootstrap_delta(np.asarray(base_probs) >= base_t, pred, y)
            cells.append(
                f"F1 {f1(pred, y):.3f} AUC {auc(probs, ys[stem]):.3f} "
                f"FP {int((pred & ~y).sum()):2d} FN {int((~pred & y).sum()):2d} "
                f"d[{lo:+.3f},{hi:+.3f}]"
            )
        lines.append(f"  {variant:30s} " + "   ".join(cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "deep"))
    args = parser.parse_args(argv)
    if not TRUTH.is_dir():
        print(f"error: no truth files at {TRUTH}; the shared data set is missing", file=sys.stderr)
        return 2
    for mode in [args.mode] if args.mode else ["quick", "deep"]:
        print("\n".join(report(mode)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
