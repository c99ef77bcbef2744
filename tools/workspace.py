"""Where a Structurizr workspace comes from: a local path or an ``s3://bucket/key`` object.

:func:`load_workspace` is the one loader every surface uses (the AWS telemetry source of an
investigation, the Lambda tool handlers): a local file goes straight to
:meth:`tools.c4.ArchitectureModel.load`; an S3 object is fetched with one ``GetObject`` through
the project's client factory (:func:`tools.aws.session.make_client`), bounded by
:data:`MAX_WORKSPACE_BYTES`, written to a temporary directory removed afterwards, and loaded
from there. Errors name the URI and say what to do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws.errors import raise_if_throttled, translate
from tools.aws.session import make_client
from tools.c4 import ArchitectureModel
from tools.errors import WorkspaceError
from tools.s3uri import MISSING_CODES, error_code, split_s3_uri

# A project limit, not an AWS one: Structurizr workspaces of large systems are a few MB of JSON;
# anything far bigger is almost certainly the wrong object (a log export, an archive).
MAX_WORKSPACE_BYTES = 20 * 1024 * 1024


def fetch_s3_object(uri: str, s3: Any, *, max_bytes: int = MAX_WORKSPACE_BYTES) -> bytes:
    """The bytes of the S3 object ``uri`` (one GetObject), at most ``max_bytes``.

    Raises:
        WorkspaceError: malformed URI, no such bucket or key, access denied (names the IAM
        action ``s3:GetObject``), any other S3 failure, or an object over ``max_bytes``.
    """
    parts = split_s3_uri(uri)
    if parts is None:
        raise WorkspaceError(f"{uri}: give the workspace as s3://bucket/key/of/workspace.json")
    bucket, key = parts
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        size = int(response.get("ContentLength") or 0)
        if size > max_bytes:
            raise WorkspaceError(_too_large(uri, size, max_bytes))
        body = response["Body"].read(max_bytes + 1)
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc)
        raise_if_throttled(exc, service="S3", operation="GetObject")
        if code in MISSING_CODES:
            raise WorkspaceError(
                f"{uri}: no such S3 object (S3 GetObject {code}); check the bucket and key"
            ) from exc
        raise WorkspaceError(
            f"{uri}: {translate(exc, service='S3', operation='GetObject')}"
        ) from exc
    if len(body) > max_bytes:
        raise WorkspaceError(_too_large(uri, len(body), max_bytes))
    return bytes(body)


def _too_large(uri: str, size: int, limit: int) -> str:
    return (
        f"{uri}: {size:,} bytes is over the {limit:,}-byte workspace limit; "
        "point at the Structurizr workspace JSON, not another object"
    )


def load_workspace(
    location: str | Path,
    s3: Any = None,
    *,
    profile: str | None = None,
    region: str | None = None,
    max_bytes: int = MAX_WORKSPACE_BYTES,
) -> ArchitectureModel:
    """Load a workspace from ``s3://bucket/key`` or a local path.

    ``s3`` is the S3 client to use (tests, a caller's own); without one it is built with
    :func:`tools.aws.session.make_client` from ``profile`` / ``region`` (the AWS CLI's
    defaults when None). ``max_bytes`` bounds the S3 object.

    Raises:
        WorkspaceError: not found, access denied, over the size limit, not JSON, or not a
        Structurizr workspace (the message names the path or URI).
        CredentialsError: the profile does not exist.
    """
    text = str(location)
    if not text.startswith("s3://"):
        return ArchitectureModel.load(Path(text).expanduser())
    client = s3 or make_client("s3", profile=profile, region=region)
    body = fetch_s3_object(text, client, max_bytes=max_bytes)
    with tempfile.TemporaryDirectory(prefix="rca-workspace-") as tmp:
        path = Path(tmp) / "workspace.json"
        path.write_bytes(body)
        try:
            return ArchitectureModel.load(path)
        except WorkspaceError as exc:
            raise WorkspaceError(str(exc).replace(str(path), text)) from exc


__all__ = ["MAX_WORKSPACE_BYTES", "fetch_s3_object", "load_workspace"]
