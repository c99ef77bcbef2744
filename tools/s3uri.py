"""``s3://bucket/key`` URIs and S3 read errors, shared by every place that reads an S3 object
(the workspace loader, review documents)."""

from __future__ import annotations

from botocore.exceptions import ClientError

# Error codes S3 returns for an absent object or bucket (HeadObject answers a bare "404").
MISSING_CODES = frozenset(["404", "NoSuchKey", "NotFound", "NoSuchBucket"])


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/key`` -> ``(bucket, key)``; None when the bucket or the key is missing or
    the key names a folder (ends with ``/``)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        return None
    return bucket, key


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for any other exception)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
