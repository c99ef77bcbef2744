"""The quote-match proxy (``benchmarks/quote_match.py``): is our first quote the reviewer's line,
another line of the same table or list, a line elsewhere, or one the match never reached?"""

from __future__ import annotations

from reviews.assessors.lexical import content_of
from reviews.document import Statement
from tests.conftest import load_benchmark


def _stmt(index: int, text: str, section: str, kind: str = "row", **kw) -> Statement:  # type: ignore[no-untyped-def]
    return Statement(index, 3, 0, len(text), text, text, kind, (section,), **kw)


STATEMENTS = [
    _stmt(0, "Owner Yes infrastructure-team", "Tagging Standards"),
    _stmt(1, "Environment Yes production", "Tagging Standards"),
    _stmt(2, "Resource tagging enables cost allocation.", "Operations", "paragraph"),
    _stmt(3, "Backups run nightly to S3 Glacier", "Backup", "item", evidence=False),
]


def test_each_class_of_the_first_quote() -> None:
    bench = load_benchmark("quote_match")
    reviewer = "Owner | Yes | infrastructure-team"
    matched = {0, 1, 2}

    def cls(ours: int, quote: str = reviewer, reached: set[int] = matched) -> str:
        return bench.classify(quote, STATEMENTS[ours], STATEMENTS, reached, content_of)

    assert cls(0) == "reviewer's line"
    assert cls(1) == "same block"  # another row of the tag table
    assert cls(2) == "elsewhere"
    assert cls(2, reached={1, 2}) == "not matched"  # the match never reached the owner row
    assert cls(2, "Backups run nightly to S3 Glacier", {0, 1, 2, 3}) == "not matched"  # no evidence
    assert cls(2, "Quarterly game days rehearse failover") == "no line"
