"""Errors of the Well-Architected review pipeline.

Every message says what failed, why, and what to try; the CLI prints it as one line and the
review record keeps it as the reason of a ``failed`` state.
"""

from __future__ import annotations

from tools.aws.errors import ThrottledError
from tools.errors import RcaError

__all__ = ["ThrottledError"]  # the one throttling error (tools.aws.errors), re-exported as is


class ReviewError(RcaError):
    """Base class of the review pipeline's errors."""


class DocumentError(ReviewError):
    """The input document cannot be reviewed (bad file); ``kind`` names the problem."""

    kind = "document"


class NotAPdfError(DocumentError):
    """The file does not start with a PDF header (``%PDF-``)."""

    kind = "not_pdf"


class EncryptedPdfError(DocumentError):
    """The PDF is password protected; neither pdfplumber nor Textract can read it."""

    kind = "encrypted"


class CorruptPdfError(DocumentError):
    """The PDF header is there but the file cannot be parsed (truncated, damaged)."""

    kind = "corrupt"


class EmptyPdfError(DocumentError):
    """The PDF has no pages."""

    kind = "empty"


class NoTextError(DocumentError):
    """The PDF has pages but no extractable text (scanned images): OCR is needed."""

    kind = "no_text"


class DocumentTooLargeError(DocumentError):
    """The file exceeds the size or page limit of the chosen extractor."""

    kind = "too_large"


class ExtractionError(ReviewError):
    """The extractor itself failed (Textract job failed, S3 upload denied, ...)."""


class AssessmentError(ReviewError):
    """An assessor could not produce a valid assessment (model output invalid, access denied)."""


class WaToolError(ReviewError):
    """A Well-Architected Tool call failed or a planned call is invalid."""


class InvalidChoiceError(WaToolError):
    """A choice id is not a choice of the question in the lens (never sent to the WA Tool)."""


class StoreError(ReviewError):
    """The review store failed (database unreadable, table missing, object too large)."""


class ReviewNotFoundError(StoreError):
    """No review with the given id exists in the store."""


class ReviewConflictError(StoreError):
    """A versioned write lost a race (another writer changed the record or took the chat turn
    number first); the store re-reads and retries, so callers see it only after every attempt
    failed."""
