"""A random sample of evidence quotes per labelled document, for a reviewer to judge.

Usage::

    .venv/bin/python benchmarks/quote_sample.py [--mode quick] [--n 30] [--out DIR]
    .venv/bin/python benchmarks/quote_sample.py --heldout      # the held-out sample (see below)
    .venv/bin/python benchmarks/quote_sample.py --json review.json   # quotes of a saved review

For each document with a truth file, runs the offline review, takes every ``SELECTED`` best
practice's first quote, samples ``n`` of them and writes a Markdown table (practice, page, quote,
a "supports?" column for a human judgement) to ``--out`` (default ``benchmarks/``). It also prints
how many sampled practices the reviewer's truth file marks addressed.

Three samples, kept apart:

- **development** (default): ``random.Random(11)`` over the practices selected with the shipped
  weights (fitted on both documents: in-sample), written to ``quote_sample_<doc>.md``. These
  samples have been read while the quote choice was developed, so their figures are
  development figures.
- **held out** (``--heldout``): the seed is CRC32 of :data:`HELDOUT_LABEL` (fixed before the
  sample was first drawn, like ``benchmarks/generated_eval.py``), over the practices selected
  with weights fitted on the *other* document (leave-one-document-out), written to
  ``quote_sample_heldout_<doc>.md``. Judge it once; do not tune on it (pick a new label for a
  new sample).

- **a saved assessment** (``--json FILE``, repeatable): the quotes of a review saved with ``rca
  review DOC.pdf --json FILE`` (for example by the Bedrock assessor, ``--assessor bedrock``), for
  the labelled document it names; the seed is CRC32 of :data:`JSON_LABEL` (fixed before any such
  sample was drawn; nothing of a model assessor is fitted on these documents, so it is a held-out
  sample as long as its prompts are not tuned on it). Written to
  ``quote_sample_<assessor>_<mode>_<doc>.md``.

When a file exists, the judgement of each row whose practice and quote are unchanged is kept
(``--keep``, the default), so only new or changed rows need judging; the count of "yes" rows is
printed for files whose rows are all judged.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.review_accuracy import (  # noqa: E402
    TRUTH,
    SavedReviewError,
    documents,
    load_saved,
    run_review,
    training_data,
)
from scenarios.randomgen import seed_range  # noqa: E402

DEV_SEED = 11
#: the held-out sample's seed label (CRC32 -> seed); fixed before the sample was drawn
HELDOUT_LABEL = "stop 19 quote sample, held out, drawn after the merge"
#: the seed label of samples drawn from saved assessments (``--json``)
JSON_LABEL = "quote sample of a saved assessment, stop 20"
_ROW = re.compile(r"^\| (\d+) \| ([^|]*) \| ([^|]*) \| (\d+) \| (.*) \| ([^|]*) \|$")


def sample(assessment: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
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


def judgements(path: Path) -> dict[tuple[str, str], str]:
    """(practice title, quote cell) -> judgement cell of an existing sample file."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m and m.group(6).strip():
            out[(m.group(3).strip(), m.group(5).strip())] = m.group(6).strip()
    return out


def lodo_calibration(stem: str, stems: list[str], mode: str) -> Any:
    """The decision fitted on every labelled document except ``stem``."""
    from reviews.assessors.calibration import fit

    xs: list[list[float]] = []
    ys: list[bool] = []
    for other in stems:
        if other != stem:
            x, y = training_data(other, mode)
            xs.extend(x)
            ys.extend(y)
    return fit(xs, ys)


def render(stem: str, rows: list[dict[str, Any]], header: list[str], kept: dict) -> list[str]:
    """The Markdown lines of one sample, with kept judgements filled in."""
    lines = [*header, "", "| # | question | practice | p. | quote | supports? |"]
    lines.append("|---|---|---|---|---|---|")
    for i, r in enumerate(rows, start=1):
        quote = r["quote"].replace("|", "/")
        judged = kept.get((r["title"], quote), "")
        lines.append(f"| {i} | {r['question']} | {r['title']} | {r['page']} | {quote} | {judged} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Write the samples; exit 2 when the truth data is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick", choices=["quick", "deep"])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--heldout", action="store_true", help="the held-out sample (LODO)")
    parser.add_argument("--no-keep", dest="keep", action="store_false")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks")
    parser.add_argument(
        "--json", type=Path, action="append", default=[], help="a saved `rca review --json` file"
    )
    args = parser.parse_args(argv)
    stems = documents()
    if not stems:
        print(f"no truth files in {TRUTH}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.json:
        return _from_json(args.json, stems, args)
    seed = seed_range(HELDOUT_LABEL) if args.heldout else DEV_SEED
    for stem in stems:
        if args.heldout:
            assessment = run_review(stem, args.mode, lodo_calibration(stem, stems, args.mode))
            path = args.out / f"quote_sample_heldout_{stem}.md"
            how = (
                f"held-out sample: seed {seed} = CRC32 of {HELDOUT_LABEL!r}, fixed before it was "
                "drawn; selection by weights fitted on the other document (leave-one-document-out)"
            )
        else:
            assessment = run_review(stem, args.mode)
            path = args.out / f"quote_sample_{stem}.md"
            how = (
                f"development sample: seed {seed}, studied while the quote choice was developed; "
                "selection by the shipped weights (fitted on both documents: in-sample)"
            )
        write_sample(stem, assessment, seed, how, path, args)
    return 0


def _from_json(paths: list[Path], stems: list[str], args: argparse.Namespace) -> int:
    """Samples of saved assessments (``--json``); exit 2 (one line on stderr) for a file that
    is not a saved review of a labelled document."""
    seed = seed_range(JSON_LABEL)
    for path in paths:
        try:
            stem, assessment = load_saved(path, stems)
        except SavedReviewError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        how = (
            f"sample of a saved assessment ({path.name}, assessor {assessment['assessor']}): "
            f"seed {seed} = CRC32 of {JSON_LABEL!r}, fixed before any such sample was drawn"
        )
        out = args.out / f"quote_sample_{assessment['assessor']}_{assessment['mode']}_{stem}.md"
        write_sample(stem, assessment, seed, how, out, args, mode=assessment["mode"])
    return 0


def write_sample(
    stem: str,
    assessment: dict[str, Any],
    seed: int,
    how: str,
    path: Path,
    args: argparse.Namespace,
    mode: str | None = None,
) -> None:
    """Draw ``args.n`` quotes of ``assessment`` with ``seed``, write them to ``path`` (keeping
    earlier judgements of unchanged rows unless ``--no-keep``) and print a one-line status."""
    truth = json.loads((TRUTH / f"{stem}.json").read_text(encoding="utf-8"))
    rows = sample(assessment, args.n, seed)
    agree = sum(truth[r["choice_id"]]["addressed"] for r in rows)
    kept = judgements(path) if args.keep else {}
    header = [
        f"# Quote sample: {stem} ({mode or args.mode} mode)",
        "",
        f"{how}. {len(rows)} random selected practices; the truth file marks {agree} of "
        "them addressed.",
    ]
    lines = render(stem, rows, header, kept)
    judged = [line.rsplit("|", 2)[1].strip() for line in lines if _ROW.match(line)]
    if all(judged):
        yes = sum(j.startswith("yes") for j in judged)
        lines[3:3] = [
            "",
            f"Judged by hand (the last column): **{yes} of {len(judged)} quotes support "
            "their practice**.",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status = (
        f"{sum(j.startswith('yes') for j in judged)}/{len(judged)} support"
        if all(judged)
        else f"{sum(not j for j in judged)} rows to judge"
    )
    print(f"{stem}: {len(rows)} quotes, truth marks {agree} addressed, {status} -> {path}")


if __name__ == "__main__":
    raise SystemExit(main())
