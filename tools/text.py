"""Word tokens and the shared English stopword list (from bm25s) for free-text matching.

``STOPWORDS`` is bm25s's English list without the negations ``no`` / ``not`` (they change the
meaning of a requirement or a question), plus a few function words every matcher here drops.
Modules extend it with their own domain words.

The list is read from bm25s's ``stopwords`` module (literal tuples only) without importing the
bm25s package, whose ``__init__`` loads numpy and scipy.sparse (~0.2 s of CPU that every
``rca`` command and Lambda cold start would pay; only the review retriever needs BM25 itself).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path


def _bm25s_stopwords_en() -> tuple[str, ...]:
    """``bm25s.stopwords.STOPWORDS_EN``, from the loaded module when bm25s is imported, else
    executed from its file without the package (not registered in ``sys.modules``)."""
    loaded = sys.modules.get("bm25s.stopwords")
    if loaded is not None:
        return tuple(loaded.STOPWORDS_EN)
    package = importlib.util.find_spec("bm25s")  # finds the package without importing it
    assert package is not None and package.submodule_search_locations, "bm25s is not installed"
    path = Path(next(iter(package.submodule_search_locations))) / "stopwords.py"
    spec = importlib.util.spec_from_file_location("bm25s.stopwords", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.STOPWORDS_EN)


WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = (frozenset(_bm25s_stopwords_en()) - {"no", "not"}) | frozenset(
    ["from", "has", "have", "our", "its", "all", "any"]
)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric word tokens of ``text``."""
    return WORD.findall(text.lower())
