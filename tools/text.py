"""Word tokens and the shared English stopword list (from bm25s) for free-text matching.

``STOPWORDS`` is bm25s's English list without the negations ``no`` / ``not`` (they change the
meaning of a requirement or a question), plus a few function words every matcher here drops.
Modules extend it with their own domain words.
"""

from __future__ import annotations

import re

from bm25s.stopwords import STOPWORDS_EN

WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = (frozenset(STOPWORDS_EN) - {"no", "not"}) | frozenset(
    ["from", "has", "have", "our", "its", "all", "any"]
)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric word tokens of ``text``."""
    return WORD.findall(text.lower())
