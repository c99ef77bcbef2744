"""Speed of the semantic space (:mod:`reviews.assessors.semantic`) on the design documents.

Usage::

    .venv/bin/python benchmarks/semantic_speed.py

Per document of ``../shared/data/design-docs`` (every PDF there), prints the matrix fitted
(contexts x terms: guidance notes plus present statements), and the wall-clock and CPU seconds
of one fit (median of 3, the cache cleared before each), then the seconds of all 308 practices'
evidence with the space already fitted. Exit 2 when the documents are absent.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "design-docs"


def main() -> int:
    """Print the figures; exit 0 (2 when no document is found)."""
    from lenses.catalog import load_guidance, load_lens
    from reviews.assessors import semantic
    from reviews.assessors.lexical import build_corpus, document_views, practice_evidence
    from reviews.document import understand
    from reviews.extract import PdfPlumberExtractor

    pdfs = sorted(DATA.glob("*.pdf"))
    if not pdfs:
        print(f"no design documents in {DATA}", file=sys.stderr)
        return 2
    notes = load_guidance(load_lens("wellarchitected"))
    corpus = build_corpus(notes)
    for pdf in pdfs:
        views = document_views(understand(PdfPlumberExtractor().extract(pdf)), deep=False)
        walls, cpus = [], []
        for _ in range(3):
            semantic._CACHE.clear()
            w, c = time.perf_counter(), time.process_time()
            space = semantic.space_for(views, corpus.guidance)
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        w = time.perf_counter()
        for note in notes:
            practice_evidence(note, views, corpus)
        rest = time.perf_counter() - w
        print(
            f"{pdf.stem}: {len(notes)} notes + {len(views.views)} statements, "
            f"{space.dimensions} dimensions; fit {statistics.median(walls):.2f} s wall, "
            f"{statistics.median(cpus):.2f} s CPU (median of 3); "
            f"{len(notes)} practices' evidence afterwards {rest:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
