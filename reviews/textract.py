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
from reviews.extract import Extractor, inspect_pdf, require_text
from reviews.models import DocumentText, ExtractorName, PageText
from tools.aws.errors import ThrottledError, raise_if_throttled, translate

TEXTRACT_MAX_BYTES = 500 * 1000 * 1000
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


def blocks_to_pages(blocks: list[dict[str, Any]], page_count: int | None = None) -> list[PageText]:
    """Turn Textract blocks into pages: LINE text in reading order, TABLE grids.

    Pages without any block still appear (empty) when ``page_count`` is given.
    """
    by_id = {b["Id"]: b for b in blocks if "Id" in b}
    numbers = sorted({int(b.get("Page", 1)) for b in blocks if b.get("BlockType") == "PAGE"})
    if page_count:
        numbers = sorted(set(numbers) | set(range(1, page_count + 1)))
    lines: dict[int, list[str]] = {n: [] for n in numbers}
    layout_order: dict[int, list[str]] = {n: [] for n in numbers}
    tables: dict[int, list[list[list[str]]]] = {n: [] for n in numbers}
    for block in blocks:
        page = int(block.get("Page", 1))
        kind = block.get("BlockType")
        if kind == "LINE":
            lines.setdefault(page, []).append(block["Id"])
        elif isinstance(kind, str) and kind.startswith("LAYOUT_"):
            layout_order.setdefault(page, []).extend(
                c for c in _children(block) if by_id.get(c, {}).get("BlockType") == "LINE"
            )
        elif kind == "TABLE":
            grid = table_grid(block, by_id)
            if grid:
                tables.setdefault(page, []).append(grid)
    pages = []
    for number in sorted(set(lines) | set(layout_order) | set(tables)):
        ordered: list[str] = []
        seen: set[str] = set()
        for line_id in layout_order.get(number, []) + lines.get(number, []):
            if line_id not in seen:
                seen.add(line_id)
                ordered.append(line_id)
        text = "\n".join(by_id[i].get("Text", "") for i in ordered)
        pages.append(PageText(number=number, text=text, tables=tables.get(number, [])))
    return pages


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
