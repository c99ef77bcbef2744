"""How often the first quote of a selected practice is the reviewer's own line (a proxy).

Usage::

    .venv/bin/python benchmarks/quote_match.py [--mode quick|deep|both] [--list]

For each labelled document, the review is run with the decision fitted on the *other* document
(leave-one-document-out, as ``quote_sample.py --heldout`` selects). For every practice that is
both ``SELECTED`` and addressed in the truth file (which carries the reviewer's verbatim quote),
the first quote is classed:

- ``reviewer's line``: it holds at least :data:`OVERLAP` of the reviewer's quote's content
  words (the rule of ``review_accuracy._fn_cause``);
- ``same block``: the reviewer's line is another statement of the same table or list (same
  section path and kind) that was among the practice's matched statements;
- ``elsewhere``: the reviewer's line was among the matched statements, in another block;
- ``not matched``: the reviewer's line is a statement the practice's match never reached (or
  not usable evidence): the quote choice cannot pick it;
- ``no line``: no statement holds :data:`OVERLAP` of the reviewer's words (a heading, a line
  split across pages...).

The rate is ``reviewer's line`` over all such practices (and over those whose line was
reachable: the first three classes). It is a proxy: another line can support the practice too,
so read the mismatches (``--list``) before trusting a change of the rate.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.quote_sample import lodo_calibration  # noqa: E402
from benchmarks.review_accuracy import DATA, TRUTH, documents, run_review  # noqa: E402

#: share of the reviewer's content words a line must hold to be the reviewer's line
OVERLAP = 0.6
CLASSES = ("reviewer's line", "same block", "elsewhere", "not matched", "no line")


def overlap(reference: set[str], text: str, content_of: Any) -> float:
    """Share of ``reference`` content words found in ``text`` (0-1; 0 for an empty reference)."""
    if not reference:
        return 0.0
    return len(reference & set(content_of(text))) / len(reference)


def classify(
    reviewer: str, ours: Any, statements: list[Any], matched: set[int], content_of: Any
) -> str:
    """The class of one first quote (one of :data:`CLASSES`, see the module docstring).
    ``reviewer``: the truth file's quote; ``ours``: our quoted statement; ``statements``: the
    document's; ``matched``: indexes of the practice's ranked statements."""
    words = set(content_of(reviewer.replace("|", " ")))
    if overlap(words, ours.text + " " + ours.quote, content_of) >= OVERLAP:
        return CLASSES[0]
    best = max(statements, key=lambda s: overlap(words, s.text + " " + s.quote, content_of))
    if overlap(words, best.text + " " + best.quote, content_of) < OVERLAP:
        return CLASSES[4]
    if best.index not in matched or not best.present:
        return CLASSES[3]
    if best.section == ours.section and best.kind == ours.kind:
        return CLASSES[1]
    return CLASSES[2]


def measure(stem: str, mode: str, stems: list[str]) -> tuple[Counter[str], list[str]]:
    """Class counts of one document and mode, and one line per mismatch."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors.lexical import (
        build_corpus,
        content_of,
        document_views,
        practice_evidence,
    )
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    assessment = run_review(stem, mode, lodo_calibration(stem, stems, mode))
    notes = {n.choice_id: n for n in load_guidance(load_lens("wellarchitected"))}
    corpus = build_corpus(list(notes.values()))
    model = understand(PdfPlumberExtractor().extract(DATA / f"{stem}.pdf"))
    views = document_views(model, mode == "deep")
    counts: Counter[str] = Counter()
    listing: list[str] = []
    for q in assessment["questions"]:
        for bp in q["best_practices"]:
            label = truth.get(bp["choice_id"])
            if bp["status"] != "SELECTED" or not bp["evidence"] or not label:
                continue
            if not label["addressed"]:
                continue
            first = bp["evidence"][0]
            text = " ".join(first["text"].split())
            ours = next(
                (
                    s
                    for s in model.statements
                    if s.page == first["page"] and " ".join(s.quote[:1200].split()) == text
                ),
                None,
            )
            if ours is None:  # the quote was redacted or cut: compare words on its page
                ours = max(
                    (s for s in model.statements if s.page == first["page"]),
                    key=lambda s: overlap(set(content_of(text)), s.quote, content_of),
                )
            ev = practice_evidence(notes[bp["choice_id"]], views, corpus)
            matched = {s.index for s, _, _ in ev.ranked}
            cls = classify(label["quote"], ours, model.statements, matched, content_of)
            counts[cls] += 1
            if cls != CLASSES[0]:
                listing.append(
                    f"  [{cls}] {q['number']} {bp['title'][:70]}\n"
                    f"      ours:     p.{ours.page} {ours.display[:160]}\n"
                    f"      reviewer: {' '.join(label['quote'].split())[:160]}"
                )
    return counts, listing


def main(argv: list[str] | None = None) -> int:
    """Print the rate per document and mode; exit 2 when the truth data is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="both", choices=["quick", "deep", "both"])
    parser.add_argument("--list", action="store_true", help="print every mismatch")
    args = parser.parse_args(argv)
    stems = documents()
    if not stems:
        print(f"no truth files in {TRUTH}", file=sys.stderr)
        return 2
    modes = ("quick", "deep") if args.mode == "both" else (args.mode,)
    for mode in modes:
        for stem in stems:
            counts, listing = measure(stem, mode, stems)
            total = sum(counts.values())
            reach = sum(counts[c] for c in CLASSES[:3])
            hit = counts[CLASSES[0]]
            print(
                f"{stem} ({mode}, LODO selection): first quote is the reviewer's line "
                f"{hit}/{total} ({hit / max(total, 1):.2f}); of reachable {hit}/{reach} "
                f"({hit / max(reach, 1):.2f}); "
                + ", ".join(f"{c} {counts[c]}" for c in CLASSES[1:])
            )
            if args.list:
                print("\n".join(listing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
