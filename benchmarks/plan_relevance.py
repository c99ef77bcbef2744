"""The improvement plan's "has / lacks" sentences, for a reviewer to judge.

Usage::

    .venv/bin/python benchmarks/plan_relevance.py [--mode quick] [--top 10] [--n 10] [--seed 7]
    .venv/bin/python benchmarks/plan_relevance.py --out benchmarks/plan_relevance.md

For each development design document (``../shared/data/design-docs/*.pdf``) runs the offline
review and prints the plan's first ``--top`` items and ``--n`` others drawn with
``random.Random(seed)`` from the rest of the plan: priority, question, best practice, verdict and
the item's sentence (:func:`reviews.plan.gap_sentence`). A reviewer judges each sentence: is
what it says the document has relevant to this practice (or its question's subject), and is it
true to the document? The plan's order does not depend on the sentences, so the same items are
drawn before and after a change of the sentence, and the two outputs can be compared line by
line. With ``--out`` the items are also written as a Markdown table with an empty judgement
column.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.review_accuracy import DATA, run_review  # noqa: E402

SEED = 7


def items(assessment: dict[str, Any], top: int, n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``top`` plan items, then ``n`` drawn at random from the others (plan order)."""
    plan = assessment["recommendations"]
    rest = plan[top:]
    drawn = random.Random(seed).sample(range(len(rest)), min(n, len(rest)))
    return plan[:top] + [rest[i] for i in sorted(drawn)]


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the sample of each development document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick", choices=("quick", "deep"))
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to write.")
    args = parser.parse_args(argv)
    pdfs = sorted(DATA.glob("*.pdf"))
    if not pdfs:
        print(f"no design documents in {DATA}", file=sys.stderr)
        return 1
    lines: list[str] = []
    for pdf in pdfs:
        assessment = run_review(pdf.stem, args.mode)
        sample = items(assessment, args.top, args.n, args.seed)
        print(f"\n## {pdf.stem} ({args.mode}; {len(assessment['recommendations'])} plan items)")
        lines += [
            f"\n## {pdf.stem}\n",
            "| # | question | practice | verdict | sentence | relevant and true? |",
            "|---|---|---|---|---|---|",
        ]
        for rec in sample:
            where = f"{rec['number']} {rec['bp_id'] or rec['choice_id']}"
            print(f"{rec['priority']:>3}. {where} {rec['title']} [{rec['verdict']}]")
            print(f"     {rec['text']}")
            text = rec["text"].replace("|", "\\|")
            lines.append(
                f"| {rec['priority']} | {rec['number']} | {rec['title']} | {rec['verdict']} | "
                f"{text} |  |"
            )
    if args.out:
        args.out.write_text("\n".join(lines).lstrip() + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
