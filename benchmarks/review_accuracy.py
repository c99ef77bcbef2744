"""Review accuracy: the assessment of each labelled design document against its truth files.

Usage::

    .venv/bin/python benchmarks/review_accuracy.py                  # run the heuristic review
    .venv/bin/python benchmarks/review_accuracy.py --mode deep
    .venv/bin/python benchmarks/review_accuracy.py --json out.json  # score `rca review --json`
    .venv/bin/python benchmarks/review_accuracy.py --lodo           # leave-one-document-out
    .venv/bin/python benchmarks/review_accuracy.py --fit            # weights on both documents
    .venv/bin/python benchmarks/review_accuracy.py --table          # both modes, LODO + in-sample
    .venv/bin/python benchmarks/review_accuracy.py --causes         # LODO errors by cause
    .venv/bin/python benchmarks/review_accuracy.py --ablate         # LODO without each feature
    .venv/bin/python benchmarks/review_accuracy.py --semantic       # with the semantic feature

Truth (``../shared/data/design-docs/truth/``, see its README): ``<doc>.json`` maps WA choice id ->
``{"addressed": bool, ...}``; ``<doc>.questions.json`` maps question number -> ``{"question_id",
"risk": HIGH_RISK | MEDIUM_RISK | NO_RISK}``.

Printed per document:

- precision / recall / F1 of "addressed", **strict**: a practice counts as predicted addressed
  only when its WA Tool choice status is ``SELECTED`` (``partly`` never counts);
- question-risk agreement (questions whose risk equals the reviewer's, of 57);
- baselines: every practice addressed (precision = base rate, recall 1) and every question HIGH.

The heuristic assessor's decision is fitted (:mod:`reviews.assessors.calibration`). ``--lodo``
reports each document reviewed with weights fitted only on the *other* document (the honest
figure); the default run uses the shipped weights, fitted on both documents (in-sample, an upper
bound). ``--fit`` prints the weights fitted on both documents for ``SHIPPED``. ``--table`` prints
both modes, LODO and in-sample, with the baselines, as the README's Markdown table; ``--causes``
classes the LODO errors (see :func:`causes`).

Chosen while looking at both documents (so LODO is somewhat optimistic; a held-out document
measures the method): the matcher's cut-offs and weights, the feature set, the stemmer, deep
mode's context, the semantic space's text and dimensions (:mod:`reviews.assessors.semantic`),
the rules that make an implementation phrase of a guidance note count (how many notes may list
it, its share of the document, its weights, see :mod:`reviews.assessors.lexical`) and the fit's
L2 penalty. Nothing in the matcher names a phrase of either document; the guidance notes'
implementation phrases were written without access to either document and were not edited after
measuring. ``--ablate`` prints, per mode and document, the LODO F1 and AUC of the decision at
the feature level with every feature, then with each feature left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "design-docs"
TRUTH = DATA / "truth"
_RISK = {"HIGH_RISK": "HIGH", "MEDIUM_RISK": "MEDIUM", "NO_RISK": "NONE"}


def documents() -> list[str]:
    """Stems of the labelled documents (those with a ``<stem>.questions.json`` truth file)."""
    return sorted(p.name.removesuffix(".questions.json") for p in TRUTH.glob("*.questions.json"))


class SavedReviewError(Exception):
    """A ``--json`` file that is not a saved review of a labelled document (one-line reason)."""


def load_saved(path: Path, stems: list[str]) -> tuple[str, dict[str, Any]]:
    """``(document stem, assessment)`` of a review saved with ``rca review DOC.pdf --json``
    (the whole output, or its ``assessment`` object).

    Raises:
        SavedReviewError: unreadable, not JSON, no assessment, or a document without a truth
            file in :data:`TRUTH`.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        assessment = data.get("assessment", data)
        stem = Path(assessment["document"]).name.removesuffix(".pdf")
    except (OSError, ValueError) as exc:
        raise SavedReviewError(f"{path}: cannot read a saved review ({exc})") from exc
    except (AttributeError, KeyError, TypeError) as exc:
        raise SavedReviewError(
            f"{path}: not a saved review (expected `rca review --json` output)"
        ) from exc
    if stem not in stems:
        raise SavedReviewError(f"{path}: {stem} has no truth file in {TRUTH}")
    return stem, assessment


def prf(predicted: set[str], actual: set[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of a predicted set against the true set (0 when undefined)."""
    tp = len(predicted & actual)
    p = tp / len(predicted) if predicted else 0.0
    r = tp / len(actual) if actual else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(assessment: dict[str, Any], stem: str) -> dict[str, Any]:
    """Scores of one assessment (``Assessment.model_dump(mode="json")``) against truth ``stem``."""
    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    qtruth = json.loads((TRUTH / f"{stem}.questions.json").read_text(encoding="utf-8"))
    actual = {cid for cid, v in truth.items() if v["addressed"]}
    selected = {
        bp["choice_id"]
        for q in assessment["questions"]
        for bp in q["best_practices"]
        if bp["status"] == "SELECTED"
    }
    p, r, f = prf(selected, actual)
    bp_, br, bf = prf(set(truth), actual)
    risk_of = {q["question_id"]: q["risk"] for q in assessment["questions"]}
    agree = sum(risk_of.get(v["question_id"]) == _RISK[v["risk"]] for v in qtruth.values())
    all_high = sum(_RISK[v["risk"]] == "HIGH" for v in qtruth.values())
    return {
        "document": stem,
        "practices": len(truth),
        "addressed_true": len(actual),
        "selected": len(selected),
        "precision": p,
        "recall": r,
        "f1": f,
        "baseline_all_addressed": {"precision": bp_, "recall": br, "f1": bf},
        "risk_agreement": agree,
        "questions": len(qtruth),
        "baseline_all_high": all_high,
    }


def auc(scores: Any, truth: Any) -> float:
    """Area under the ROC curve of scores against boolean truth (sequences or numpy arrays):
    the Mann-Whitney U over positive/negative pairs, ties counting half, / (n+ n-); NaN when a
    class is empty."""
    pos = [float(s) for s, t in zip(scores, truth, strict=True) if t]
    neg = [float(s) for s, t in zip(scores, truth, strict=True) if not t]
    if not pos or not neg:
        return float("nan")
    return sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))


def run_review(stem: str, mode: str, calibration: Any = None) -> dict[str, Any]:
    """Review ``<stem>.pdf`` with the offline pipeline; the assessment as JSON data.

    ``calibration`` (a :class:`~reviews.assessors.calibration.Calibration`) replaces the shipped
    weights of ``mode``.
    """
    from reviews.assessors.heuristic import HeuristicAssessor
    from reviews.pipeline import ReviewOptions, build_reviewer
    from reviews.store import SqliteReviewStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteReviewStore(Path(tmp) / "reviews.db")
        reviewer = build_reviewer(ReviewOptions(), store)
        if calibration is not None:
            reviewer.service.assessor = HeuristicAssessor(
                reviewer.service.notes, {mode: calibration}
            )
        assessment = reviewer.review(DATA / f"{stem}.pdf", mode=mode)  # type: ignore[arg-type]
        return assessment.model_dump(mode="json")


def compare_modes(quick: dict[str, Any], deep: dict[str, Any]) -> tuple[int, int]:
    """How many best practices get another verdict, and another WA Tool status, in deep mode."""

    def flat(a: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            bp["choice_id"]: (bp["verdict"], bp["status"])
            for q in a["questions"]
            for bp in q["best_practices"]
        }

    q, d = flat(quick), flat(deep)
    return sum(q[c][0] != d[c][0] for c in q), sum(q[c][1] != d[c][1] for c in q)


def training_data(
    stem: str, mode: str, semantic: bool = False
) -> tuple[list[list[float]], list[bool]]:
    """Feature vectors and truth labels of every labelled practice of one document
    (``semantic``: the semantic feature of :mod:`reviews.assessors.semantic` appended)."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.lexical import build_corpus, document_views, practice_evidence
    from reviews.assessors.semantic import guidance_tokens, semantic_feature, space_for
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    views = document_views(
        understand(PdfPlumberExtractor().extract(DATA / f"{stem}.pdf")), mode == "deep"
    )
    space = space_for(views, guidance_tokens(notes)) if semantic else None
    xs, ys = [], []
    for note in notes:
        if note.choice_id in truth:
            x = practice_evidence(note, views, corpus).vector()
            if space is not None:
                x.append(semantic_feature(space, note.choice_id, views))
            xs.append(x)
            ys.append(bool(truth[note.choice_id]["addressed"]))
    return xs, ys


def semantic_report(stems: list[str], mode: str) -> list[str]:
    """The semantic feature as a sixth feature of the decision, measured, not shipped.

    Per document: P / R / F1 of "addressed" leave-one-document-out with the lexical features
    alone and with the semantic feature (feature level, as the review decides it), and the two
    pillars with the highest share of practices selected by weights fitted on both documents
    (in-sample), against the reviewer's (the plan ranks pillars by that share).
    """
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.calibration import fit

    notes = load_guidance(load_lens("wellarchitected"))
    lines = []
    for semantic in (False, True):
        data = {stem: training_data(stem, mode, semantic) for stem in stems}
        both = fit([x for s in stems for x in data[s][0]], [y for s in stems for y in data[s][1]])
        for stem in stems:
            others = [s for s in stems if s != stem]
            cal = fit(
                [x for o in others for x in data[o][0]], [y for o in others for y in data[o][1]]
            )
            xs, ys = data[stem]
            pred = {i for i, x in enumerate(xs) if cal.probability(x) >= cal.threshold}
            p, r, f = prf(pred, {i for i, y in enumerate(ys) if y})
            truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
            labelled = [n for n in notes if n.choice_id in truth]
            chosen = [both.probability(x) >= both.threshold for x in xs]
            lines.append(
                f"{stem} ({mode}, {'lexical + semantic' if semantic else 'lexical'}): "
                f"LODO P {p:.3f} R {r:.3f} F1 {f:.3f}; top pillars in-sample "
                f"{_top_pillars(labelled, chosen)}, reviewer {_top_pillars(labelled, ys)}"
            )
    return lines


def _top_pillars(notes: list[Any], selected: list[bool]) -> str:
    share: dict[str, list[float]] = {}
    by_question: dict[tuple[str, str], list[bool]] = {}
    for note, chosen in zip(notes, selected, strict=True):
        by_question.setdefault((note.pillar_id, note.question_id), []).append(chosen)
    for (pillar, _), picks in by_question.items():
        share.setdefault(pillar, []).append(sum(picks) / len(picks))
    top = sorted(((sum(v) / len(v), k) for k, v in share.items()), reverse=True)[:2]
    return ", ".join(f"{k} {v:.2f}" for v, k in top)


def table(stems: list[str]) -> list[str]:
    """Markdown table: per document and mode, P / R / F1 leave-one-document-out and in-sample,
    risk agreement, and the all-addressed and all-HIGH baselines (every figure measured now)."""
    from reviews.assessors.calibration import fit

    lines = [
        "| document | mode | P / R (LODO) | F1 LODO | F1 in-sample | risk LODO | risk in-sample "
        "| all-addressed F1 | all-HIGH |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("quick", "deep"):
        data = {stem: training_data(stem, mode) for stem in stems}
        both = fit([x for s in stems for x in data[s][0]], [y for s in stems for y in data[s][1]])
        for stem in stems:
            others = [s for s in stems if s != stem]
            lodo = fit(
                [x for o in others for x in data[o][0]], [y for o in others for y in data[o][1]]
            )
            out = score(run_review(stem, mode, lodo), stem)
            ins = score(run_review(stem, mode, both), stem)
            lines.append(
                f"| {stem.split('-')[1] if stem.startswith('aws-') else stem} | {mode} "
                f"| {out['precision']:.3f} / {out['recall']:.3f} | {out['f1']:.3f} "
                f"| {ins['f1']:.3f} | {out['risk_agreement']}/{out['questions']} "
                f"| {ins['risk_agreement']}/{ins['questions']} "
                f"| {out['baseline_all_addressed']['f1']:.3f} "
                f"| {out['baseline_all_high']}/{out['questions']} |"
            )
    return lines


def ablate(stems: list[str], mode: str) -> list[str]:
    """LODO F1 of "addressed" and the AUC of P(addressed), at the feature level, with every
    feature of :data:`reviews.assessors.lexical.FEATURES` and with each one left out."""
    from reviews.assessors.calibration import fit
    from reviews.assessors.lexical import FEATURES

    data = {stem: training_data(stem, mode) for stem in stems}
    lines = [f"{mode} mode, LODO: F1 / AUC per document ({', '.join(stems)})"]
    for left_out in (None, *FEATURES):
        keep = [i for i, name in enumerate(FEATURES) if name != left_out]
        cells = []
        for stem in stems:
            others = [s for s in stems if s != stem]
            cal = fit(
                [[x[i] for i in keep] for o in others for x in data[o][0]],
                [y for o in others for y in data[o][1]],
            )
            xs, ys = data[stem]
            probs = [cal.probability([x[i] for i in keep]) for x in xs]
            pred = {i for i, p in enumerate(probs) if p >= cal.threshold}
            f1 = prf(pred, {i for i, y in enumerate(ys) if y})[2]
            cells.append(f"{f1:.3f} / {auc(probs, ys):.3f}")
        lines.append(
            f"  {'all features' if left_out is None else 'without ' + left_out:28s} "
            + "   ".join(cells)
        )
    return lines


def causes(stems: list[str], mode: str) -> list[str]:
    """Errors of the LODO decision by cause, per document.

    A false negative is classed by where the reviewer's quote stands: ``no line`` (the quote
    matches no statement), ``not evidence`` (a heading, header row, glossary line), ``qualified``
    (future, optional, current state, ...), or the rank of its statement among the practice's
    matched statements (``rank 0-2`` = found but scored too low; ``rank 3-9`` / ``rank 10+`` =
    the lexical match prefers other lines). A false positive is classed by what decided it:
    ``concept`` (a signal of the practice named in a statement) or ``similarity only``, and
    whether its best line speaks about the document (``lead-in``).
    """
    from collections import Counter

    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.calibration import fit
    from reviews.assessors.lexical import (
        build_corpus,
        content_of,
        document_views,
        practice_evidence,
    )
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    data = {stem: training_data(stem, mode) for stem in stems}
    lines = []
    for stem in stems:
        others = [s for s in stems if s != stem]
        cal = fit([x for o in others for x in data[o][0]], [y for o in others for y in data[o][1]])
        truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
        model = understand(PdfPlumberExtractor().extract(DATA / f"{stem}.pdf"))
        views = document_views(model, mode == "deep")
        fn: Counter[str] = Counter()
        fp: Counter[str] = Counter()
        for note in notes:
            label = truth.get(note.choice_id)
            if label is None:
                continue
            ev = practice_evidence(note, views, corpus)
            chosen = cal.probability(ev.vector()) >= cal.threshold
            if chosen and not label["addressed"]:
                top = ev.ranked[0][0] if ev.ranked else None
                kind = "concept" if ev.phrases else "similarity only"
                fp[kind + (", lead-in" if top is not None and top.lead_in else "")] += 1
            elif label["addressed"] and not chosen:
                fn[_fn_cause(label["quote"], model, ev, content_of)] += 1
        lines.append(f"{stem} ({mode}, LODO)")
        lines.append("  false negatives: " + ", ".join(f"{k} {v}" for k, v in fn.most_common()))
        lines.append("  false positives: " + ", ".join(f"{k} {v}" for k, v in fp.most_common()))
    return lines


def _fn_cause(quote: str, model: Any, ev: Any, content_of: Any) -> str:
    words = set(content_of(quote.replace("|", " ")))
    if not words:
        return "no line"

    def overlap(stmt: Any) -> float:
        return len(words & set(content_of(stmt.text + " " + stmt.quote))) / len(words)

    best = max(model.statements, key=overlap)
    if overlap(best) < 0.6:
        return "no line"
    if not best.evidence:
        return "not evidence"
    if best.qualifiers:
        return "qualified (" + ", ".join(sorted(best.qualifiers)) + ")"
    rank = next((i for i, r in enumerate(ev.ranked) if r[0].index == best.index), None)
    if rank is None:
        return "rank 10+"
    return "rank 0-2" if rank <= 2 else "rank 3-9" if rank < 10 else "rank 10+"


def main(argv: list[str] | None = None) -> int:
    """Print the accuracy table; exit 0 (2 when the truth data is absent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick", choices=["quick", "deep"])
    parser.add_argument(
        "--json", action="append", default=[], help="`rca review --json` output (repeatable)"
    )
    parser.add_argument("--lodo", action="store_true", help="fit on one document, score the other")
    parser.add_argument("--fit", action="store_true", help="print weights fitted on all documents")
    parser.add_argument(
        "--compare-modes", action="store_true", help="verdicts deep mode changes vs quick mode"
    )
    parser.add_argument(
        "--table", action="store_true", help="both modes, LODO and in-sample, as a Markdown table"
    )
    parser.add_argument("--causes", action="store_true", help="LODO errors by cause")
    parser.add_argument("--ablate", action="store_true", help="LODO without each feature")
    parser.add_argument(
        "--semantic", action="store_true", help="LODO with the semantic feature (not shipped)"
    )
    args = parser.parse_args(argv)
    stems = documents()
    if not stems:
        print(f"no truth files in {TRUTH}", file=sys.stderr)
        return 2
    if args.table:
        print("\n".join(table(stems)))
        return 0
    if args.causes:
        print("\n".join(causes(stems, args.mode)))
        return 0
    if args.ablate:
        print("\n".join(ablate(stems, args.mode)))
        return 0
    if args.semantic:
        print("\n".join(semantic_report(stems, args.mode)))
        return 0
    if args.compare_modes:
        for stem in stems:
            quick, deep = run_review(stem, "quick"), run_review(stem, "deep")
            changed, selected = compare_modes(quick, deep)
            f_quick, f_deep = score(quick, stem)["f1"], score(deep, stem)["f1"]
            print(
                f"{stem}: deep changes {changed} of 308 verdicts and {selected} WA Tool "
                f"selections; F1 quick {f_quick:.3f} deep {f_deep:.3f} (shipped weights)"
            )
        return 0
    rows = []
    header = f"heuristic, {args.mode} mode, shipped weights (fitted on both documents: in-sample)"
    if args.fit or args.lodo:
        from reviews.assessors.calibration import fit

        data = {stem: training_data(stem, args.mode) for stem in stems}
    if args.fit:
        xs = [x for stem in stems for x in data[stem][0]]
        ys = [y for stem in stems for y in data[stem][1]]
        print(f'"{args.mode}": {fit(xs, ys)!r},')
        return 0
    if args.lodo:
        header = (
            f"heuristic, {args.mode} mode, leave-one-document-out (fitted on the other document)"
        )
        for stem in stems:
            others = [s for s in stems if s != stem]
            xs = [x for o in others for x in data[o][0]]
            ys = [y for o in others for y in data[o][1]]
            rows.append(score(run_review(stem, args.mode, fit(xs, ys)), stem))
    elif args.json:
        for path in args.json:
            try:
                name, assessment = load_saved(path, stems)
            except SavedReviewError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            rows.append(score(assessment, name))
    else:
        rows = [score(run_review(stem, args.mode), stem) for stem in stems]
    print(f"review accuracy ({'--json input' if args.json else header})")
    for row in rows:
        b = row["baseline_all_addressed"]
        print(
            f"{row['document']}\n"
            f"  addressed (strict, SELECTED): P {row['precision']:.3f} R {row['recall']:.3f} "
            f"F1 {row['f1']:.3f}  selected {row['selected']} / true {row['addressed_true']} "
            f"of {row['practices']}\n"
            f"    baseline all-addressed:     P {b['precision']:.3f} R {b['recall']:.3f} "
            f"F1 {b['f1']:.3f}\n"
            f"  question risk agreement: {row['risk_agreement']}/{row['questions']}  "
            f"(baseline all-HIGH {row['baseline_all_high']}/{row['questions']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
