"""Untrusted text stays data: sanitising, capping and nonce-delimited wrapping of tool output.

Log lines, CloudTrail fields and workspace descriptions can carry prompt injections. Before any
of it reaches a model it is (1) redacted (:mod:`tools.redact`), (2) stripped of invisible and
bidirectional-control Unicode that can hide instructions (Unicode tag characters U+E0000..E007F,
zero-width and bidi override characters; see Unicode TR36 and the "ASCII smuggling" technique),
(3) capped in size, and (4) wrapped in tags carrying a per-investigation random nonce, so text
inside cannot close the block: ``<untrusted-data-3f9a...> ... </untrusted-data-3f9a...>``. The
system prompt tells the model that such blocks are data to analyse, never instructions.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from tools.markup import INVISIBLE
from tools.redact import redact

MAX_TOOL_TEXT = 12_000  # characters of one tool result shown to a model

_TAG_LIKE = re.compile(r"</?\s*untrusted-data[^>]*>", re.I)


def new_nonce() -> str:
    """A fresh 16-hex-digit nonce (64 bits from :mod:`secrets`)."""
    return secrets.token_hex(8)


def sanitize(text: str) -> str:
    """Redact secrets, drop hidden Unicode and defuse anything that looks like our data tags.

    Text is NFKC-normalised first, so fullwidth or compatibility variants of the tag characters
    (``＜untrusted-data＞``) cannot pass as a tag to a model that reads them as ``<``/``>``."""
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    text = _TAG_LIKE.sub("[tag removed]", text)
    return redact(text)


def cap(text: str, limit: int = MAX_TOOL_TEXT) -> str:
    """Cut ``text`` to ``limit`` characters and say how to narrow the request when cut."""
    if len(text) <= limit:
        return text
    return (
        text[:limit]
        + f"\n[output truncated at {limit} characters: narrow the request - fewer components, "
        "a log pattern filter, or a shorter window]"
    )


def wrap(text: str, nonce: str) -> str:
    """Sanitise, cap and wrap ``text`` as an untrusted data block."""
    return f"<untrusted-data-{nonce}>\n{cap(sanitize(text))}\n</untrusted-data-{nonce}>"


def outside_data(text: str, nonce: str) -> str:
    """The parts of ``text`` that are not inside this nonce's data blocks (for checks)."""
    return re.sub(rf"<untrusted-data-{nonce}>.*?</untrusted-data-{nonce}>", "", text, flags=re.S)
