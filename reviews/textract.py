"""Amazon Textract extraction (the AWS world): S3 upload, async analysis, blocks -> pages.

Flow: :func:`~reviews.extract.inspect_pdf` checks the file against Textract's limits; the PDF is
uploaded to ``s3://{bucket}/{prefix}{sha256}.pdf``; ``StartDocumentAnalysis`` runs with
``FeatureTypes=["TABLES", "LAYOUT"]`` (``ClientRequestToken`` = the file's SHA-256, so a retried
start returns the same job); ``GetDocumentAnalysis`` is polled every ``poll_interval_s`` seconds
(injectable ``sleep``) until the job leaves ``IN_PROGRESS`` or ``max_wait_s`` passes; the result
is read page by page with ``NextToken`` (``MaxResults`` 1000 blocks per call).

Blocks become pages: ``LINE`` blocks give the text of their ``Page`` in reading order (the order
of the ``LAYOUT_*`` blocks when present, else the order Textract returns), ``TABLE`` -> ``CELL``
(``RowIndex``/``ColumnIndex``, 1-based, with spans) -> ``WORD`` children give the table grids.
``FAILED`` raises :class:`~reviews.errors.ExtractionError` with Textract's ``StatusMessage``;
Headings: the lines of ``LAYOUT_SECTION_HEADER`` blocks are the page's headings
(:attr:`~reviews.models.PageText.headings`); Textract gives no heading level, so levels come from
the lines' heights (``Geometry.BoundingBox.Height``, a fraction of the page, read as points of a
nominal :data:`NOMINAL_PAGE_HEIGHT_PT` page) ranked by the same rule as a local PDF's font sizes
(:func:`reviews.extract.typographic_headings`); a section header printed at body size is the
innermost level. ``LAYOUT_TITLE`` (the document's title) is not a section.
``PARTIAL_SUCCESS`` keeps what was extracted and records Textract's ``Warnings`` (error code and
pages) in ``DocumentText.warnings``.

Limits (Amazon Textract Developer Guide, "Set Quotas in Amazon Textract",
https://docs.aws.amazon.com/textract/latest/dg/limits-document.html): asynchronous operations
accept PDFs up to 500 MB and 3,000 pages; "PDFs cannot be password protected".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from reviews.errors import (
    CorruptPdfError,
    DocumentTooLargeError,
    ExtractionError,
)
from reviews.extract import (
    HEADING_SIZE_MARGIN,
    Extractor,
    inspect_pdf,
    require_text,
    typographic_headings,
)
from reviews.models import DocumentText, ExtractorName, Heading, PageText
from tools.aws.errors import ThrottledError, raise_if_throttled, translate

TEXTRACT_MAX_BYTES = 500 * 1000 * 1000
#: Textract geometry is a fraction of the page: heights are read as points of a US Letter page
NOMINAL_PAGE_HEIGHT_PT = 792.0
TEXTRACT_MAX_PAGES = 3_000
FEATURE_TYPES = ["TABLES", "LAYOUT"]
MAX_RESULTS = 1000


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _translate(exc: ClientError, what: str, name: str) -> Exception:
    """Document problems Textract reports become document errors; everything else goes
    through the one AWS error table (:func:`tools.aws.errors.translate`)."""
    code = _error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    if code == "DocumentTooLargeException":
        return DocumentTooLargeError(f"{name}: Textract says the document is too large ({message})")
    if code in ("UnsupportedDocumentException", "BadDocumentException"):
        return CorruptPdfError(
            f"{name}: Textract cannot read the document ({code}: {message}); re-export the PDF"
        )
    error = translate(exc, service="Textract", operation=what.split()[-1])
    if isinstance(error, ThrottledError):  # the one throttling error, never wrapped
        return error
    return ExtractionError(str(error))


def _children(block: dict[str, Any], kind: str = "CHILD") -> list[str]:
    ids: list[str] = []
    for rel in block.get("Relationships") or []:
        if rel.get("Type") == kind:
            ids.extend(rel.get("Ids") or [])
    return ids


def _cell_text(cell: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str:
    words = []
    for child_id in _children(cell):
        child = by_id.get(child_id)
        if child is None:
            continue
        if child.get("BlockType") == "WORD":
            words.append(child.get("Text", ""))
        elif child.get("BlockType") == "SELECTION_ELEMENT":
            words.append("[x]" if child.get("SelectionStatus") == "SELECTED" else "[ ]")
    return " ".join(w for w in words if w)


def table_grid(table: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rebuild a TABLE block as rows of cell strings (spanned cells repeat their text)."""
    cells = [by_id[c] for c in _children(table) if by_id.get(c, {}).get("BlockType") == "CELL"]
    if not cells:
        return []
    rows = max(int(c.get("RowIndex", 1)) + int(c.get("RowSpan", 1) or 1) - 1 for c in cells)
    cols = max(int(c.get("ColumnIndex", 1)) + int(c.get("ColumnSpan", 1) or 1) - 1 for c in cells)
    grid = [["" for _ in range(cols)] for _ in range(rows)]
    for cell in cells:
        text = _cell_text(cell, by_id)
        row0, col0 = int(cell.get("RowIndex", 1)) - 1, int(cell.get("ColumnIndex", 1)) - 1
        for r in range(row0, row0 + int(cell.get("RowSpan", 1) or 1)):
            for c in range(col0, col0 + int(cell.get("ColumnSpan", 1) or 1)):
                if not grid[r][c]:
                    grid[r][c] = text
    return grid


def _height_pt(block: dict[str, Any]) -> float:
    """A LINE's height in nominal points (0.0 when Textract gave no geometry), rounded to 0.5."""
    box = (block.get("Geometry") or {}).get("BoundingBox") or {}
    try:
        height = float(box.get("Height", 0.0) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return round(height * NOMINAL_PAGE_HEIGHT_PT * 2) / 2


def layout_headings(
    ordered: dict[int, list[str]], header_ids: set[str], by_id: dict[str, dict[str, Any]]
) -> dict[int, list[Heading]]:
    """Headings per page from ``LAYOUT_SECTION_HEADER`` lines, levelled by line height.

    ``ordered`` maps a page number to its LINE ids in reading order; ``header_ids`` are the LINE
    ids under section-header layout blocks. Body lines are read at the body height (the height
    that prints the most characters outside headers) and header lines at least
    :data:`~reviews.extract.HEADING_SIZE_MARGIN` above it, so only section headers can be
    headings and :func:`~reviews.extract.typographic_headings` ranks their heights into levels.
    Returns page number -> headings in reading order (pages without headings omitted).
    """
    chars: dict[float, int] = {}
    for ids in ordered.values():
        for line_id in ids:
            if line_id not in header_ids:
                size = _height_pt(by_id[line_id])
                chars[size] = chars.get(size, 0) + len(by_id[line_id].get("Text", ""))
    body = max(chars, key=lambda size: chars[size]) if chars else 0.0
    lines: dict[int, list[tuple[str, float]]] = {}
    for number, ids in ordered.items():
        lines[number] = [
            (
                by_id[i].get("Text", ""),
                max(_height_pt(by_id[i]), body + HEADING_SIZE_MARGIN) if i in header_ids else body,
            )
            for i in ids
        ]
    return typographic_headings(lines) if header_ids else {}


def blocks_to_pages(blocks: list[dict[str, Any]], page_count: int | None = None) -> list[PageText]:
    """Turn Textract blocks into pages: LINE text in reading order, TABLE grids, and the
    headings of ``LAYOUT_SECTION_HEADER`` blocks (:func:`layout_headings`).

    Pages without any block still appear (empty) when ``page_count`` is given.
    """
    by_id = {b["Id"]: b for b in blocks if "Id" in b}
    numbers = sorted({int(b.get("Page", 1)) for b in blocks if b.get("BlockType") == "PAGE"})
    if page_count:
        numbers = sorted(set(numbers) | set(range(1, page_count + 1)))
    lines: dict[int, list[str]] = {n: [] for n in numbers}
    layout_order: dict[int, list[str]] = {n: [] for n in numbers}
    tables: dict[int, list[list[list[str]]]] = {n: [] for n in numbers}
    header_ids: set[str] = set()
    for block in blocks:
        page = int(block.get("Page", 1))
        kind = block.get("BlockType")
        if kind == "LINE":
            lines.setdefault(page, []).append(block["Id"])
        elif isinstance(kind, str) and kind.startswith("LAYOUT_"):
            children = [c for c in _children(block) if by_id.get(c, {}).get("BlockType") == "LINE"]
            layout_order.setdefault(page, []).extend(children)
            if kind == "LAYOUT_SECTION_HEADER":
                header_ids.update(children)
        elif kind == "TABLE":
            grid = table_grid(block, by_id)
            if grid:
                tables.setdefault(page, []).append(grid)
    ordered: dict[int, list[str]] = {}
    for number in sorted(set(lines) | set(layout_order) | set(tables)):
        ordered[number] = list(dict.fromkeys(layout_order.get(number, []) + lines.get(number, [])))
    headings = layout_headings(ordered, header_ids, by_id)
    return [
        PageText(
            number=number,
            text="\n".join(by_id[i].get("Text", "") for i in ids),
            tables=tables.get(number, []),
            headings=headings.get(number, []),
        )
        for number, ids in ordered.items()
    ]


class TextractExtractor(Extractor):
    """Extract with Amazon Textract's asynchronous document analysis.

    ``textract`` and ``s3`` are boto3 clients (injected; built from the default session when
    omitted); ``bucket`` is where documents go (``prefix`` + SHA-256 + ``.pdf``); ``sleep`` is
    injectable for tests. ``max_wait_s`` bounds the polling (seconds).
    """

    name: ExtractorName = "textract"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "reviews/documents/",
        textract: Any = None,
        s3: Any = None,
        region: str | None = None,
        poll_interval_s: float = 5.0,
        max_wait_s: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if textract is None or s3 is None:
            from tools.aws.session import make_client

            textract = textract or make_client("textract", region=region)
            s3 = s3 or make_client("s3", region=region)
        self.textract = textract
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.poll_interval_s = poll_interval_s
        self.max_wait_s = max_wait_s
        self.sleep = sleep

    def upload(self, path: Path, sha256: str) -> str:
        """Put the PDF in S3 (server-side encrypted) and return its key.

        Raises:
            ExtractionError: the upload failed (message names bucket and key).
        """
        key = f"{self.prefix}{sha256}.pdf"
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=path.read_bytes(),
                ContentType="application/pdf",
                ServerSideEncryption="AES256",
            )
        except ClientError as exc:
            raise_if_throttled(exc, service="S3", operation="PutObject")
            raise ExtractionError(
                f"upload of {path.name} to s3://{self.bucket}/{key} failed: "
                f"{_error_code(exc)}; check the bucket name and s3:PutObject permission"
            ) from exc
        return key

    def start(self, key: str, sha256: str, name: str) -> str:
        """Start the analysis job of the uploaded ``key`` (``sha256`` is the idempotency
        ``ClientRequestToken``); return its JobId.

        Raises:
            DocumentTooLargeError, CorruptPdfError: Textract refused the document.
            ThrottledError, AwsError: other failures (:func:`tools.aws.errors.translate`).
        """
        try:
            response = self.textract.start_document_analysis(
                DocumentLocation={"S3Object": {"Bucket": self.bucket, "Name": key}},
                FeatureTypes=list(FEATURE_TYPES),
                ClientRequestToken=sha256,
                JobTag="rca-review",
            )
        except ClientError as exc:
            raise _translate(exc, "Textract StartDocumentAnalysis", name) from exc
        return str(response["JobId"])

    def wait(self, job_id: str, name: str) -> dict[str, Any]:
        """Poll until the job is no longer IN_PROGRESS; return the first result page.

        Raises:
            ExtractionError: FAILED (with Textract's StatusMessage), or still running after
                ``max_wait_s`` seconds.
        """
        waited = 0.0
        while True:
            try:
                response: dict[str, Any] = self.textract.get_document_analysis(
                    JobId=job_id, MaxResults=MAX_RESULTS
                )
            except ClientError as exc:
                raise _translate(exc, "Textract GetDocumentAnalysis", name) from exc
            status = response.get("JobStatus")
            if status == "FAILED":
                raise ExtractionError(
                    f"{name}: Textract job {job_id} failed: "
                    f"{response.get('StatusMessage') or 'no status message'}"
                )
            if status in ("SUCCEEDED", "PARTIAL_SUCCESS"):
                return response
            if waited >= self.max_wait_s:
                raise ExtractionError(
                    f"{name}: Textract job {job_id} still {status} after {waited:.0f} s; "
                    "try again later (the job keeps running) or raise --textract-timeout"
                )
            self.sleep(self.poll_interval_s)
            waited += self.poll_interval_s

    def results(self, job_id: str, first: dict[str, Any], name: str) -> list[dict[str, Any]]:
        """Every result page's blocks (``first`` is the finished job's first page), following
        NextToken.

        Raises:
            ThrottledError, AwsError: a GetDocumentAnalysis call failed.
        """
        blocks = list(first.get("Blocks") or [])
        token = first.get("NextToken")
        while token:
            try:
                page = self.textract.get_document_analysis(
                    JobId=job_id, MaxResults=MAX_RESULTS, NextToken=token
                )
            except ClientError as exc:
                raise _translate(exc, "Textract GetDocumentAnalysis", name) from exc
            blocks.extend(page.get("Blocks") or [])
            token = page.get("NextToken")
        return blocks

    def extract(self, path: Path) -> DocumentText:
        info = inspect_pdf(
            path,
            max_bytes=TEXTRACT_MAX_BYTES,
            max_pages=TEXTRACT_MAX_PAGES,
            allow_encrypted=False,
        )
        try:
            key = self.upload(path, info.sha256)
            job_id = self.start(key, info.sha256, path.name)
            first = self.wait(job_id, path.name)
            blocks = self.results(job_id, first, path.name)
        except BotoCoreError as exc:
            raise ExtractionError(f"{path.name}: Textract call failed: {exc}") from exc
        warnings = []
        if first.get("JobStatus") == "PARTIAL_SUCCESS":
            for warning in first.get("Warnings") or []:
                warnings.append(
                    f"Textract PARTIAL_SUCCESS: {warning.get('ErrorCode', 'unknown error')} on "
                    f"pages {', '.join(str(p) for p in warning.get('Pages') or []) or '?'}"
                )
            if not warnings:
                warnings.append("Textract PARTIAL_SUCCESS: some pages were not analysed")
        page_count = (first.get("DocumentMetadata") or {}).get("Pages") or info.pages
        doc = DocumentText(
            source=f"s3://{self.bucket}/{key}",
            sha256=info.sha256,
            extractor="textract",
            pages=blocks_to_pages(blocks, int(page_count)),
            title=info.title,
            warnings=warnings,
        )
        return require_text(doc)
