"""Page-aware search of a document: segments, term matching and verbatim quotes.

A document's pages are cut into **segments**: a bullet item, a table row, a paragraph or a
sentence of one, each a verbatim slice ``page.text[start:end]`` (line breaks included), so any
quote taken from a segment is a substring of its page's text by construction. Running headers
and footers (a line repeated on most pages, ``Page n of m``) are not segments.

Terms (guidance signals such as ``"multi-region"`` or ``"Route 53 health checks"``) are matched
as token sequences: lower-cased, split on anything that is not a letter or digit, with a light
suffix stemmer (``replicas`` = ``replica``, ``tested`` = ``test``), so hyphens, line breaks and
plurals do not hide a match. :func:`locate_quote` finds a model's quote on its page even when
the model changed whitespace, and returns the page's own verbatim span.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from reviews.models import DocumentText

_WORD = re.compile(r"[A-Za-z0-9]+")
_BULLET = re.compile(r"^\s*(?:[•▪◦\u2022\-*–]|\d{1,2}[.)])\s+")
_PAGE_FOOTER = re.compile(r"^\s*(?:page\s+)?\d+\s*(?:of|/)\s*\d+\s*$", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
MAX_SEGMENT = 400  # characters; longer paragraphs are cut at sentence ends


def stem(word: str) -> str:
    """A light English suffix stemmer for matching (not for display)."""
    w = word.lower()
    if len(w) <= 3 or w.isdigit():
        return w
    for suffix, repl, min_len in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ing", "", 6),
        ("ed", "", 5),
        ("es", "e", 5),
        ("s", "", 4),
    ):
        if w.endswith(suffix) and len(w) >= min_len and not w.endswith("ss"):
            return w[: len(w) - len(suffix)] + repl
    return w


@lru_cache(maxsize=8192)
def term_tokens(term: str) -> tuple[str, ...]:
    """The stemmed token sequence of a term or phrase."""
    return tuple(stem(w) for w in _WORD.findall(term))


@dataclass
class Segment:
    """A verbatim slice of one page: ``text == doc.page(page).text[start:end]``."""

    page: int
    start: int
    end: int
    text: str
    kind: str  # "item", "row", "paragraph", "sentence"
    tokens: tuple[str, ...] = field(default=(), repr=False)
    out_of_scope: bool = False

    @property
    def heading(self) -> bool:
        """True for a title-like segment (weak evidence: it names a topic, says nothing of it)."""
        return self.kind == "paragraph" and "\n" not in self.text and looks_heading(self.text)

    @property
    def display(self) -> str:
        """The text with runs of whitespace collapsed (for reports)."""
        return " ".join(self.text.split())


def contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """True when ``phrase`` occurs as a contiguous token run in ``tokens``."""
    n = len(phrase)
    if n == 0 or n > len(tokens):
        return False
    first = phrase[0]
    for i, tok in enumerate(tokens[: len(tokens) - n + 1]):
        if tok == first and tokens[i : i + n] == phrase:
            return True
    return False


def _lines(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def boilerplate_lines(doc: DocumentText) -> set[str]:
    """Lines repeated on at least half of the pages (3 pages or more) and page-number lines."""
    counts: Counter[str] = Counter()
    for page in doc.pages:
        counts.update({line.strip() for line in page.text.split("\n") if line.strip()})
    threshold = max(3, (len(doc.pages) + 1) // 2)
    repeated = {line for line, n in counts.items() if n >= threshold and len(doc.pages) >= 3}
    footers = {line for line in counts if _PAGE_FOOTER.match(line)}
    return repeated | footers


_INLINE_ITEM = re.compile(r"\s-\s")
_LABEL = re.compile(r"(?:^|(?<=\s))[A-Z][\w/&-]*(?:[ -][\w/&-]+){0,3}:(?=\s+-\s)")
_OUT_OF_SCOPE = re.compile(
    r"^\W*(?:out[- ]of[- ]scope|not in scope|excluded|exclusions|non[- ]goals?)\b", re.I
)
_IN_SCOPE = re.compile(r"^\W*(?:in[- ]scope|scope|included)\b", re.I)
_SMALL_WORDS = {"and", "or", "of", "the", "for", "to", "in", "on", "a", "an", "with", "&", "by"}


def looks_heading(line: str) -> bool:
    """A short title-like line: 1-7 words, no final punctuation, mostly capitalised words."""
    words = line.split()
    if not 1 <= len(words) <= 7 or line.rstrip()[-1:] in ".:;,)" or not line.strip()[0].isupper():
        return False
    big = [w for w in words if w.lower() not in _SMALL_WORDS]
    return bool(big) and sum(w[0].isupper() or not w[0].isalpha() for w in big) >= 0.75 * len(big)


def _pieces(chunk: str) -> list[tuple[int, int]]:
    """Split a paragraph at inline list markers (`` - ``) and ``Label:`` starts, if any."""
    cuts = {m.start() for m in _LABEL.finditer(chunk)}
    markers = list(_INLINE_ITEM.finditer(chunk))
    if len(markers) < 2:
        return [(0, len(chunk))]
    bounds: list[tuple[int, int]] = []
    for m in markers:
        bounds.append((m.start(), m.end()))
    spans: list[tuple[int, int]] = []
    pos = 0
    for start, end in bounds:
        inner = [c for c in cuts if pos < c < start]
        for c in sorted(inner):
            spans.append((pos, c))
            pos = c
        spans.append((pos, start))
        pos = end
    spans.append((pos, len(chunk)))
    out = []
    for a, b in spans:
        while a < b and chunk[a].isspace():
            a += 1
        while b > a and chunk[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def _split_long(page: int, text: str, start: int, end: int, kind: str) -> list[Segment]:
    chunk = text[start:end]
    pieces = _pieces(chunk)
    if len(pieces) > 1:
        return [Segment(page, start + a, start + b, chunk[a:b], "item") for a, b in pieces]
    if len(chunk) <= MAX_SEGMENT:
        return [Segment(page, start, end, chunk, kind)]
    out: list[Segment] = []
    pos = 0
    for match in _SENTENCE_END.finditer(chunk):
        if match.start() - pos >= 40:
            out.append(
                Segment(
                    page, start + pos, start + match.start(), chunk[pos : match.start()], "sentence"
                )
            )
            pos = match.end()
    out.append(Segment(page, start + pos, end, chunk[pos:], "sentence"))
    return out


def row_key(text: str) -> tuple[str, ...]:
    """A table row's identity in page text: its whitespace-separated words, sorted.

    The words of a row are the same whether its cells sit on one line, wrap over several lines
    (pdfplumber prints the first line of every cell, then the rest) or come one cell per line
    (Textract's ``LINE`` blocks), so ``row_key(" ".join(cells))`` equals the key of the lines
    that print the row."""
    return tuple(sorted(text.split()))


MAX_ROW_LINES = 12  # a table row printed over more lines than this is not looked for


def _table_lines(
    text: str, spans: list[tuple[int, int]], tables: list[list[list[str]]]
) -> tuple[dict[int, int], set[int]]:
    """Which lines of a page print its table rows.

    Returns ``runs`` (index of a run's first line in ``spans`` -> index of its last line): the
    shortest runs of consecutive lines whose words are exactly a row's words (:func:`row_key`),
    and ``inside``: the other lines between two runs of the same table whose words all occur in
    that table (a cell fragment the row matching could not place). Neither is ever a heading.
    """
    keys: dict[tuple[str, ...], int] = {}
    vocab: list[set[str]] = []
    for n, table in enumerate(tables):
        vocab.append({w for row in table for cell in row for w in (cell or "").split()})
        for row in table:
            if any(row):
                keys.setdefault(row_key(" ".join(c or "" for c in row)), n)
    most = max((len(k) for k in keys), default=0)
    runs: dict[int, int] = {}
    table_of: dict[int, int] = {}
    i = 0
    while i < len(spans) and keys:
        words: list[str] = []
        for j in range(i, min(len(spans), i + MAX_ROW_LINES)):
            words += text[spans[j][0] : spans[j][1]].split()
            if len(words) > most:
                break
            key = tuple(sorted(words))
            if key in keys:
                runs[i], table_of[i] = j, keys[key]
                break
        i = runs[i] + 1 if i in runs else i + 1
    inside: set[int] = set()
    starts = sorted(runs)
    for before, after in pairwise(starts):
        table = table_of[before]
        if table_of[after] != table:
            continue
        for k in range(runs[before] + 1, after):
            if set(text[spans[k][0] : spans[k][1]].split()) <= vocab[table]:
                inside.add(k)
    return runs, inside


def segments(doc: DocumentText) -> list[Segment]:
    """Cut every page into verbatim segments (see the module docstring).

    A table row is one ``row`` segment spanning the lines that print it (:func:`row_key`); a
    line inside a table that no row accounts for is a ``row`` segment of its own, never a
    paragraph (so never a heading). Segments listed under an "Out-of-scope" label or heading
    get ``out_of_scope = True``.
    """
    skip = boilerplate_lines(doc)
    out: list[Segment] = []
    for page in doc.pages:
        text = page.text
        spans = [
            (s, e) for s, e in _lines(text) if text[s:e].strip() and text[s:e].strip() not in skip
        ]
        widths = sorted(e - s for s, e in spans)
        wide = widths[int(len(widths) * 0.8)] if widths else 0
        runs, inside = _table_lines(text, spans, page.tables)
        group: list[tuple[int, int]] = []
        kind = "paragraph"
        skip_to = 0

        for n, (s, e) in enumerate(spans):
            if n < skip_to:
                continue
            if n in runs or n in inside:
                if group:
                    out.extend(_split_long(page.number, text, group[0][0], group[-1][1], kind))
                    group = []
                last = runs.get(n, n)
                end = spans[last][1]
                out.append(Segment(page.number, s, end, text[s:end], "row"))
                skip_to = last + 1
                continue
            line = text[s:e]
            is_bullet = bool(_BULLET.match(line))
            if group:
                last_line = text[group[-1][0] : group[-1][1]]
                prev_wide = (group[-1][1] - group[-1][0]) >= 0.85 * wide
                prev_open = last_line.rstrip()[-1:] not in (".", ":")
                continues = (
                    not is_bullet
                    and prev_wide
                    and prev_open
                    and not (looks_heading(line) and len(line) < 0.6 * wide)
                )
                if continues:
                    group.append((s, e))
                    continue
            if group:
                out.extend(_split_long(page.number, text, group[0][0], group[-1][1], kind))
            group = [(s, e)]
            kind = "item" if is_bullet else "paragraph"
        if group:
            out.extend(_split_long(page.number, text, group[0][0], group[-1][1], kind))
    _mark_scope(out)
    for seg in out:
        seg.tokens = term_tokens(seg.text)
    return out


def _mark_scope(segs: list[Segment]) -> None:
    """Flag the items that follow an out-of-scope label or heading, up to the next label."""
    out_of_scope = False
    page = 0
    for seg in segs:
        head = seg.text.lstrip("•▪◦-* ")
        if seg.page != page:
            page, out_of_scope = seg.page, False
        if _OUT_OF_SCOPE.match(head):
            out_of_scope = True
            seg.out_of_scope = True
            continue
        if _IN_SCOPE.match(head) or (seg.kind not in ("item",) and out_of_scope):
            out_of_scope = False
        seg.out_of_scope = out_of_scope


class DocumentIndex:
    """Segments of one document with phrase lookup: which segments contain a term."""

    def __init__(self, doc: DocumentText) -> None:
        self.doc = doc
        self.segments = segments(doc)
        self._postings: dict[str, set[int]] = {}
        for i, seg in enumerate(self.segments):
            for token in seg.tokens:
                self._postings.setdefault(token, set()).add(i)

    def having(self, tokens: tuple[str, ...]) -> list[Segment]:
        """Segments containing every one of ``tokens`` (any order), in document order."""
        if not tokens:
            return []
        sets = [self._postings.get(t) for t in tokens]
        if any(s is None for s in sets):
            return []
        common = set.intersection(*[s for s in sets if s is not None])
        return [self.segments[i] for i in sorted(common)]

    def find(self, term: str) -> list[Segment]:
        """Segments containing the term (token sequence), in document order."""
        phrase = term_tokens(term)
        return [seg for seg in self.having(phrase) if contains(seg.tokens, phrase)]


def locate_quote(page_text: str, quote: str) -> str | None:
    """The verbatim span of ``page_text`` that equals ``quote`` up to whitespace, or ``None``.

    Exact substrings are returned as they are; otherwise runs of whitespace in the quote match
    any run of whitespace (including line breaks) on the page. Surrounding quote marks and an
    ellipsis at either end are ignored.
    """
    q = quote.strip().strip("\"'“”‘’").strip()
    q = q.removeprefix("...").removesuffix("...").removeprefix("…").removesuffix("…").strip()
    if not q:
        return None
    if q in page_text:
        return q
    words = q.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(pattern, page_text)
    if match:
        return match.group(0)
    # pdf text often breaks hyphenated words at line ends ("multi-\nregion")
    pattern = r"\s*".join(re.escape(w) for w in words)
    match = re.search(pattern, page_text)
    return match.group(0) if match else None
