"""Document extraction: PDF -> :class:`~reviews.models.DocumentText` (text, tables, page numbers).

The embedded default reads the PDF locally with pdfplumber; the AWS world uses Amazon Textract
(:mod:`reviews.textract`). Both share :func:`inspect_pdf`, which turns every kind of bad input
into a one-line :class:`~reviews.errors.DocumentError` before any work starts:

===================  ====================================================================
input                error
===================  ====================================================================
not a PDF            :class:`NotAPdfError` (no ``%PDF-`` header in the first 1024 bytes)
over the size limit  :class:`DocumentTooLargeError` (bytes or pages over the extractor limit)
password protected   :class:`EncryptedPdfError`
damaged              :class:`CorruptPdfError`
no pages             :class:`EmptyPdfError`
no text (scanned)    :class:`NoTextError` (suggests ``--extractor textract`` or OCR)
===================  ====================================================================

Limits: the local extractor stops at :data:`LOCAL_MAX_BYTES` (100 MiB) and
:data:`LOCAL_MAX_PAGES` (1,000 pages), our own bounds on memory and time. Before pdfminer reads
anything, :func:`check_streams` inflates every Flate-compressed stream incrementally (never
holding more than one chunk) and refuses a file whose streams inflate to more than
:data:`MAX_STREAM_INFLATED` bytes each or :data:`MAX_INFLATED` in total: a "PDF bomb" (a few KB
that pdfminer would inflate to gigabytes) is a :class:`DocumentTooLargeError`, not an
exhausted machine. Any other failure inside pdfminer (deep nesting, broken object graphs) is a
:class:`CorruptPdfError`. Textract's asynchronous
limits (500 MB and 3,000 pages per PDF, no password protection) are in :mod:`reviews.textract`.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from reviews.errors import (
    CorruptPdfError,
    DocumentTooLargeError,
    EmptyPdfError,
    EncryptedPdfError,
    NotAPdfError,
    NoTextError,
)
from reviews.models import DocumentText, ExtractorName, Heading, PageText
from tools.models import Model
from tools.redact import redact

LOCAL_MAX_BYTES = 100 * 1024 * 1024
LOCAL_MAX_PAGES = 1_000
HEADER_WINDOW = 1024  # readers accept the %PDF- header anywhere in the first 1024 bytes

#: fewer non-space characters than this over the whole document counts as "no text"
MIN_TEXT_CHARS = 20


class PdfInfo(Model):
    """What :func:`inspect_pdf` learned: size in bytes, page count, encryption, SHA-256."""

    path: str
    size_bytes: int
    pages: int
    encrypted: bool
    sha256: str
    title: str | None = None


MAX_STREAM_INFLATED = 48 * 1024 * 1024
MAX_INFLATED = 256 * 1024 * 1024
_STREAM = re.compile(rb"stream\r?\n")
_CHUNK = 1 << 20


def _inflated_size(data: bytes, limit: int) -> int:
    """Bytes that ``data`` inflates to (Flate, applied again while the output is itself a
    zlib stream), counting at most ``limit + 1``; 0 when ``data`` is not a zlib stream."""
    if len(data) < 2 or data[0] & 0x0F != 8 or ((data[0] << 8) | data[1]) % 31:
        return 0
    inflater = zlib.decompressobj()
    inner: Any = None
    total = 0
    pending = data
    try:
        while pending and total <= limit:
            out = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            if (
                inner is None
                and total == 0
                and len(out) >= 2
                and out[0] & 0x0F == 8
                and ((out[0] << 8) | out[1]) % 31 == 0
            ):
                inner = zlib.decompressobj()  # a second FlateDecode over the first
            if inner is not None:
                tail = out
                while tail and total <= limit:
                    total += len(inner.decompress(tail, _CHUNK))
                    tail = inner.unconsumed_tail
            else:
                total += len(out)
            if not out and not pending:
                break
    except zlib.error:
        pass  # damaged or not Flate: pdfminer will say so, or skip it
    return total


def check_streams(path: Path, data: bytes | None = None) -> None:
    """Refuse a PDF whose compressed streams inflate beyond the limits (see module docstring).

    Raises:
        DocumentTooLargeError: a stream over :data:`MAX_STREAM_INFLATED` bytes inflated, or all
            streams together over :data:`MAX_INFLATED`.
    """
    data = path.read_bytes() if data is None else data
    total = 0
    for match in _STREAM.finditer(data):
        start = match.end()
        end = data.find(b"endstream", start)
        size = _inflated_size(data[start : end if end >= 0 else len(data)], MAX_STREAM_INFLATED)
        total += size
        if size > MAX_STREAM_INFLATED or total > MAX_INFLATED:
            what = (
                f"a compressed stream inflates to more than {_human(MAX_STREAM_INFLATED)}"
                if size > MAX_STREAM_INFLATED
                else f"its compressed streams inflate to more than {_human(MAX_INFLATED)}"
            )
            raise DocumentTooLargeError(
                f"{path.name}: {what} (a PDF bomb, or a document too heavy to read locally); "
                "re-export the document or use --extractor textract"
            )


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def inspect_pdf(
    path: Path,
    *,
    max_bytes: int = LOCAL_MAX_BYTES,
    max_pages: int = LOCAL_MAX_PAGES,
    password: str | None = None,
    allow_encrypted: bool = True,
) -> PdfInfo:
    """Check that ``path`` is a readable PDF within the limits; return its basic facts.

    ``allow_encrypted`` accepts PDFs that are encrypted with an empty user password (readable
    without a password, e.g. "no copy" permissions); Textract refuses every encrypted PDF.

    Raises:
        DocumentError: one subclass per problem (see the module table), message says what to do.
    """
    name = path.name
    if not path.is_file():
        raise NotAPdfError(f"{path}: no such file; give the path of a PDF design document")
    size = path.stat().st_size
    if size == 0:
        raise NotAPdfError(f"{name}: the file is empty (0 bytes); export the document as PDF")
    if size > max_bytes:
        raise DocumentTooLargeError(
            f"{name}: {_human(size)} is over the {_human(max_bytes)} limit of this extractor; "
            "split the document or compress its images"
        )
    with path.open("rb") as handle:
        head = handle.read(HEADER_WINDOW)
    if b"%PDF-" not in head:
        raise NotAPdfError(
            f"{name}: not a PDF (no %PDF- header); export the design document as PDF first"
        )
    check_streams(path)
    import pdfplumber  # pdfplumber and pdfminer on use (~0.1 s of CPU): `rca --help` skips them
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        with pdfplumber.open(path, password=password or "") as pdf:
            encrypted = getattr(pdf.doc, "encryption", None) is not None
            pages = len(pdf.pages)
            title = pdf.metadata.get("Title") if isinstance(pdf.metadata, dict) else None
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
            raise EncryptedPdfError(
                f"{name}: the PDF is password protected; save an unprotected copy "
                "(print to PDF without a password) and review that"
            ) from exc
        raise CorruptPdfError(
            f"{name}: the PDF is damaged and cannot be parsed ({type(cause).__name__}: "
            f"{str(cause)[:120] or 'no detail'}); re-export it from the source document"
        ) from exc
    except Exception as exc:  # pdfminer raises plain errors on some damage
        raise CorruptPdfError(
            f"{name}: the PDF is damaged and cannot be parsed ({type(exc).__name__}); "
            "re-export it from the source document"
        ) from exc
    if encrypted and not allow_encrypted:
        raise EncryptedPdfError(
            f"{name}: the PDF is encrypted and Amazon Textract does not accept encrypted PDFs; "
            "save an unencrypted copy"
        )
    if pages == 0:
        raise EmptyPdfError(f"{name}: the PDF has no pages; check the export")
    if pages > max_pages:
        raise DocumentTooLargeError(
            f"{name}: {pages} pages is over the {max_pages}-page limit of this extractor; "
            "review the relevant chapters as a separate PDF"
        )
    return PdfInfo(
        path=str(path),
        size_bytes=size,
        pages=pages,
        encrypted=encrypted,
        sha256=file_sha256(path),
        title=title if isinstance(title, str) else None,
    )


def require_text(doc: DocumentText) -> DocumentText:
    """The extraction boundary shared by every extractor: raise :class:`NoTextError` when a
    document has (almost) no extractable text, else return it with every page's text, table cell
    and title passed through the one redactor (:func:`tools.redact.redact`), so no quote,
    report, chat answer, store or WA Tool note can carry a secret the document held."""
    letters = sum(len("".join(p.text.split())) for p in doc.pages)
    if letters < MIN_TEXT_CHARS:
        raise NoTextError(
            f"{Path(doc.source).name}: no extractable text in {len(doc.pages)} page(s); it looks "
            "scanned. Use --extractor textract (OCR with Amazon Textract) or OCR it first"
        )
    pages = [
        page.model_copy(
            update={
                "text": redact(page.text),
                "tables": [[[redact(cell) for cell in row] for row in t] for t in page.tables],
                "headings": [h.model_copy(update={"text": redact(h.text)}) for h in page.headings],
            }
        )
        for page in doc.pages
    ]
    title = redact(doc.title) if doc.title else doc.title
    return doc.model_copy(update={"pages": pages, "title": title})


class Extractor(ABC):
    """Turns a document file into :class:`DocumentText`."""

    name: ExtractorName

    @abstractmethod
    def extract(self, path: Path) -> DocumentText:
        """Extract every page's text and tables.

        Raises:
            DocumentError: bad input (see :func:`inspect_pdf`), or no text at all.
            ExtractionError: the extraction service failed.
        """


def _clean_table(table: list[list[str | None]]) -> list[list[str]]:
    return [[(cell or "").strip() for cell in row] for row in table if any(c for c in row)]


#: a heading is printed at least this many points larger than the body text
HEADING_SIZE_MARGIN = 1.0
#: a line of more words than this is a paragraph in a large font, not a heading
HEADING_MAX_WORDS = 12


def typographic_headings(lines: dict[int, list[tuple[str, float]]]) -> dict[int, list[Heading]]:
    """The heading structure of a document from its font sizes.

    ``lines`` maps a page number to its text lines as ``(text, font size in points)``. The body
    size is the size that prints the most characters; a heading line is a line of at most
    :data:`HEADING_MAX_WORDS` words printed :data:`HEADING_SIZE_MARGIN` points or more above it,
    in a size that recurs on two pages or more when the document has three pages or more (a
    size used on one page only is the title page's, not a section level). Levels rank the
    heading sizes, largest first (1 = outermost). Returns page number -> headings in order
    (pages without headings omitted); empty when the document shows no such structure.
    """
    chars: dict[float, int] = {}
    pages_of: dict[float, set[int]] = {}
    for number, page_lines in lines.items():
        for text, size in page_lines:
            chars[size] = chars.get(size, 0) + len(text)
            pages_of.setdefault(size, set()).add(number)
    if not chars:
        return {}
    body = max(chars, key=lambda size: chars[size])
    sizes = sorted(
        (
            size
            for size in chars
            if size >= body + HEADING_SIZE_MARGIN and (len(lines) < 3 or len(pages_of[size]) >= 2)
        ),
        reverse=True,
    )
    level = {size: n for n, size in enumerate(sizes, start=1)}
    out: dict[int, list[Heading]] = {}
    for number, page_lines in lines.items():
        found = [
            Heading(text=" ".join(text.split()), level=level[size])
            for text, size in page_lines
            if size in level and 0 < len(text.split()) <= HEADING_MAX_WORDS
        ]
        if found:
            out[number] = found
    return out


def _line_sizes(page: Any) -> list[tuple[str, float]]:
    """A pdfplumber page's text lines with the median font size of their characters (points,
    rounded to 0.5)."""
    out = []
    for line in page.extract_text_lines():
        sizes = sorted(float(c.get("size", 0.0)) for c in line.get("chars", []))
        if sizes and line.get("text", "").strip():
            out.append((line["text"], round(sizes[len(sizes) // 2] * 2) / 2))
    return out


class PdfPlumberExtractor(Extractor):
    """Local extraction with pdfplumber: ``extract_text`` per page, ``extract_tables`` for tables.

    Page text keeps pdfplumber's line breaks; table cells are stripped and ``None`` cells become
    empty strings. Tables also appear as text lines in the page text (as in the PDF). Headings
    and their levels come from the font sizes of the lines (:func:`typographic_headings`).
    """

    name: ExtractorName = "pdfplumber"

    def __init__(
        self,
        *,
        max_bytes: int = LOCAL_MAX_BYTES,
        max_pages: int = LOCAL_MAX_PAGES,
        password: str | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_pages = max_pages
        self.password = password

    def extract(self, path: Path) -> DocumentText:
        info = inspect_pdf(
            path, max_bytes=self.max_bytes, max_pages=self.max_pages, password=self.password
        )
        pages: list[PageText] = []
        sizes: dict[int, list[tuple[str, float]]] = {}
        import pdfplumber
        from pdfplumber.utils.exceptions import PdfminerException

        try:
            with pdfplumber.open(path, password=self.password or "") as pdf:
                for page in pdf.pages:
                    text = page.extract_text() or ""
                    tables = [_clean_table(t) for t in page.extract_tables()]
                    sizes[page.page_number] = _line_sizes(page)
                    pages.append(
                        PageText(
                            number=page.page_number, text=text, tables=[t for t in tables if t]
                        )
                    )
                    page.close()
        except PdfminerException as exc:
            raise CorruptPdfError(
                f"{path.name}: a page cannot be read ({str(exc)[:120]}); re-export the document"
            ) from exc
        except Exception as exc:  # plain errors on some damage, RecursionError on deep nesting
            raise CorruptPdfError(
                f"{path.name}: a page cannot be read ({type(exc).__name__}); re-export the document"
            ) from exc
        headings = typographic_headings(sizes)
        pages = [p.model_copy(update={"headings": headings.get(p.number, [])}) for p in pages]
        warnings = ["the PDF is encrypted with an empty user password"] if info.encrypted else []
        doc = DocumentText(
            source=str(path),
            sha256=info.sha256,
            extractor="pdfplumber",
            pages=pages,
            title=info.title,
            warnings=warnings,
        )
        return require_text(doc)
