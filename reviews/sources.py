"""Where a review's document comes from: a local path or an ``s3://bucket/key`` object.

:func:`check_document` checks the type (``%PDF-`` in the first :data:`HEADER_WINDOW` bytes,
the window PDF readers accept) and the size (the extractor's limit, in bytes) before anything
is read: for S3 with HeadObject (``ContentLength``) and a ranged GetObject of the first bytes.
:func:`local_copy` gives the extractor a local file: the path itself, or the S3 object
streamed (1 MiB chunks, stopped past the limit) into a temporary directory removed afterwards.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from reviews.errors import DocumentError, DocumentTooLargeError, NotAPdfError
from reviews.extract import HEADER_WINDOW
from reviews.extract import _human as human_size
from tools.s3uri import MISSING_CODES, error_code, split_s3_uri

CHUNK_BYTES = 1 << 20

S3Factory = Callable[[], Any]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``.

    Raises:
        DocumentError: no bucket or no key.
    """
    parts = split_s3_uri(uri)
    if parts is None:
        raise DocumentError(f"{uri}: give an S3 object as s3://bucket/key/of/document.pdf")
    return parts


def _s3_call(s3: Any, operation: str, uri: str, **params: Any) -> Any:
    method = s3.head_object if operation == "HeadObject" else s3.get_object
    try:
        return method(**params)
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) in MISSING_CODES:
            raise NotAPdfError(f"{uri}: no such S3 object; check the bucket and key") from exc
        from tools.aws.errors import translate

        raise translate(exc, service="S3", operation=operation) from exc


def check_document(
    document: str | Path, *, limit: int, extractor: str, s3: S3Factory
) -> tuple[str, str]:
    """Check type and size before reading; return ``(s3 URI or absolute path, file name)``.

    ``limit`` is the extractor's size limit in bytes, ``extractor`` its name (for messages),
    ``s3`` returns the S3 client (called only for ``s3://`` documents).

    Raises:
        NotAPdfError: missing, empty, or no ``%PDF-`` header in the first 1024 bytes.
        DocumentTooLargeError: over the size limit.
        DocumentError / AwsError: the S3 object cannot be read (the message says why).
    """
    text = str(document)
    body = b""
    if text.startswith("s3://"):
        bucket, key = parse_s3_uri(text)
        name, where = key.rsplit("/", 1)[-1], text
        client = s3()
        size = int(
            _s3_call(client, "HeadObject", text, Bucket=bucket, Key=key).get("ContentLength", 0)
        )
        if 0 < size <= limit:
            window = f"bytes=0-{HEADER_WINDOW - 1}"
            response = _s3_call(client, "GetObject", text, Bucket=bucket, Key=key, Range=window)
            body = response["Body"].read(HEADER_WINDOW)
    else:
        path = Path(document).expanduser()
        name, where = path.name, str(path.resolve())
        if not path.is_file():
            raise NotAPdfError(f"{path}: no such file; give the path of a PDF design document")
        size = path.stat().st_size
        if 0 < size <= limit:
            with path.open("rb") as handle:
                body = handle.read(HEADER_WINDOW)
    if size == 0:
        raise NotAPdfError(f"{name}: the file is empty (0 bytes); export the document as PDF")
    if size > limit:
        raise DocumentTooLargeError(
            f"{name}: {human_size(size)} is over the {human_size(limit)} limit of the "
            f"{extractor} extractor; split the document or compress its images"
        )
    if b"%PDF-" not in body:
        raise NotAPdfError(
            f"{name}: not a PDF (no %PDF- header); export the design document as PDF first"
        )
    return where, name


@contextlib.contextmanager
def local_copy(document: str, *, limit: int, extractor: str, s3: S3Factory) -> Iterator[Path]:
    """The document as a local file: itself, or the S3 object downloaded (bounded by
    ``limit`` bytes) into a temporary directory that is removed afterwards.

    Raises:
        DocumentTooLargeError: the object grew past the limit; NotAPdfError: it is gone.
    """
    if not document.startswith("s3://"):
        yield Path(document)
        return
    bucket, key = parse_s3_uri(document)
    with tempfile.TemporaryDirectory(prefix="rca-review-") as tmp:
        path = Path(tmp) / (key.rsplit("/", 1)[-1] or "document.pdf")
        body = _s3_call(s3(), "GetObject", document, Bucket=bucket, Key=key)["Body"]
        written = 0
        with path.open("wb") as handle:
            for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
                written += len(chunk)
                if written > limit:
                    raise DocumentTooLargeError(
                        f"{document}: over the {human_size(limit)} limit of the {extractor} "
                        "extractor"
                    )
                handle.write(chunk)
        yield path
