"""Untrusted text made inert for each output format: one helper per target.

Log lines, CloudTrail fields, workspace names and document quotes may carry terminal escape
sequences, Rich markup, HTML, Markdown links and headings, or Slack mentions. Every renderer
passes such text through the helper for its format, and links only to URLs the tool builds
(:func:`markdown_link` refuses anything but ``https``).

- :func:`terminal`: control characters (C0 except newline and tab, DEL, C1) and ANSI escape
  sequences (CSI, OSC, single-character escapes; ECMA-48) removed, Rich markup escaped.
- :func:`markdown_inline`: HTML and every CommonMark punctuation that opens markup escaped with
  a backslash (CommonMark 0.31 "backslash escapes"), newlines folded, table pipes escaped.
- :func:`html`: HTML escaped, quotes included.
- :func:`mrkdwn`: Slack's three control characters ``&``, ``<``, ``>`` escaped (Slack's
  "Formatting text for app surfaces": escaping makes ``<!channel>``, ``<@U..>`` and links inert),
  formatting characters neutralised; :func:`mrkdwn_code` shows text in a code span.
- :func:`plain`: one line of plain text (WA Tool notes, names): controls and invisible
  characters removed, whitespace folded.
- :func:`csv_cell`: a spreadsheet cell that cannot start a formula (OWASP "CSV injection": a
  leading ``= + - @``, tab or carriage return gets a ``'`` prefix).
- :func:`safe_name`: a component or event name validated as a name (no URL, no markup).
"""

from __future__ import annotations

import html as _html
import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other 2-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated or not
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # Fe escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Invisible and bidi-control characters that can hide text (Unicode TR36, "ASCII smuggling").
INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~>])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")  # list items, setext underlines
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*:|www\.)//?\S")
_NAME_FORBIDDEN = re.compile(r"[<>`*_\[\]{}|\\\n\r\t]|\]\(|javascript:", re.I)


def strip_controls(text: str) -> str:
    """Remove ANSI escape sequences, C0/C1 control characters (newline and tab kept) and
    invisible formatting characters (zero-width, bidi overrides, Unicode tags)."""
    text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text)
    return INVISIBLE.sub("", text)


def terminal(text: str) -> str:
    """Text safe to print through Rich: controls stripped and ``[...]`` markup escaped."""
    from rich.markup import escape  # on first use: Lambdas render no terminal output

    return escape(strip_controls(text))


def markdown_inline(text: str, limit: int | None = None) -> str:
    """One line of Markdown that renders as the literal text: HTML entities escaped, Markdown
    punctuation backslash-escaped (so no link, image, heading, emphasis or table column can
    start), newlines folded to spaces. ``limit`` cuts the raw text first (characters)."""
    text = strip_controls(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = " ".join(text.split())
    text = _MD_SPECIAL.sub(r"\\\1", _html.escape(text, quote=False))
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_link(label: str, url: str) -> str:
    """A Markdown link to a URL the tool built itself; only ``https://`` URLs without spaces or
    parentheses are linked, anything else is shown as escaped text.

    Raises nothing: an unusable URL degrades to plain text."""
    if re.fullmatch(r"https://[A-Za-z0-9.-]+(?:/[A-Za-z0-9._~%/?#&=+:-]*)?", url):
        return f"[{markdown_inline(label)}]({url})"
    return markdown_inline(f"{label} ({url})")


def html(text: str) -> str:
    """HTML-escaped text (``& < > " '``), controls stripped."""
    return _html.escape(strip_controls(text), quote=True)


def mrkdwn(text: str) -> str:
    """Slack mrkdwn that shows the literal text: ``&``, ``<``, ``>`` escaped (no mention, channel
    broadcast or link can form) and the formatting characters ``* _ ~ `` ` `` made inert with a
    look-alike substitute where they could open or close formatting.

    Slack's "Formatting text for app surfaces" documents escaping for ``&``, ``<`` and ``>``
    only; the formatting characters have no escape. ``_italic_`` forms only at word boundaries,
    so an underscore between two letters or digits (``network_config``, ``DB_HOST``) is shown
    as is; every other ``_`` and every ``*``, ``~`` and backtick become ``＿ ∗ ∼ ˋ``."""
    text = strip_controls(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MRKDWN_OPENER.sub(lambda m: _MRKDWN_FORMAT[m.group()], text)


_MRKDWN_FORMAT = {"*": "∗", "_": "＿", "~": "∼", "`": "ˋ"}
# every formatting character except an underscore with a letter or digit on both sides
_MRKDWN_OPENER = re.compile(r"[*~`]|_(?![^\W_])|(?<![^\W_])_")


def mrkdwn_code(text: str) -> str:
    """Text shown in a Slack inline code span: escaped like :func:`mrkdwn` (but formatting
    characters other than the backtick kept, since code spans do not format)."""
    text = strip_controls(" ".join(text.split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`" + text.replace("`", "ˋ") + "`"


def plain(text: str) -> str:
    """One line of plain text: controls and invisible characters stripped, whitespace folded
    (for sinks that show text as is, such as WA Tool notes)."""
    return " ".join(strip_controls(text).split())


def csv_cell(text: str) -> str:
    """A CSV cell value that a spreadsheet shows as text: controls stripped and a leading
    ``=``, ``+``, ``-``, ``@``, tab or carriage return prefixed with ``'`` (OWASP CSV injection)."""
    text = strip_controls(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def safe_name(text: str, limit: int = 120) -> str | None:
    """``text`` if it is usable as a component or event name in a statement, else ``None``.

    A name has no URL, no markup characters, no control or invisible characters, and at most
    ``limit`` characters."""
    if not text or len(text) > limit or strip_controls(text) != text:
        return None
    if _URL.search(text) or _NAME_FORBIDDEN.search(text):
        return None
    return text
