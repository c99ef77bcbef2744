"""A random sample of evidence quotes per labelled document, for a reviewer to judge.

Usage::

    .venv/bin/python benchmarks/quote_sample.py [--mode quick] [--n 30] [--seed 11] [--out DIR]

For each document with a truth file, runs the offline review (shipped weights), takes every
``SELECTED`` best practice's first quote, samples ``n`` of them with a fixed seed and writes
``quote_sample_<doc>.md`` (practice, guidance, page, quote, and an empty judgement column) to
``--out`` (default ``benchmarks/``). It also prints how many sampled practices the reviewer's truth
file marks addressed (a lower bound a human judgement can be compared with).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.review_accuracy import TRUTH, documents, run_review  # noqa: E402


def sample(assessment: dict, n: int, seed: int) -> list[dict]:
    """``n`` random (question, practice, quote) rows of selected practices with a quote."""
    rows = [
        {
            "question": q["number"],
            "choice_id": bp["choice_id"],
            "title": bp["title"],
            "page": bp["evidence"][0]["page"],
            "quote": " ".join(bp["evidence"][0]["text"].split()),
        }
        for q in assessment["questions"]
        for bp in q["best_practices"]
        if bp["status"] == "SELECTED" and bp["evidence"]
    ]
    return random.Random(seed).sample(rows, min(n, len(rows)))


def main(argv: list[str] | None = None) -> int:
    """Write the samples; exit 2 when the truth data is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick", choices=["quick", "deep"])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks")
    args = parser.parse_args(argv)
    stems = documents()
    if not stems:
        print(f"no truth files in {TRUTH}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
        rows = sample(run_review(stem, args.mode), args.n, args.seed)
        agree = sum(truth[r["choice_id"]]["addressed"] for r in rows)
        lines = [
            f"# Quote sample: {stem} ({args.mode} mode, seed {args.seed})",
            "",
            f"{len(rows)} random selected practices; the truth file marks {agree} of them "
            "addressed.",
            "",
            "| # | question | practice | p. | quote | supports? |",
            "|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(rows, start=1):
            quote = r["quote"].replace("|", "/")
            lines.append(f"| {i} | {r['question']} | {r['title']} | {r['page']} | {quote} | |")
        path = args.out / f"quote_sample_{stem}.md"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{stem}: {len(rows)} quotes, truth marks {agree} addressed -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
