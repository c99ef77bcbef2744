"""Investigation sessions: an investigation and its follow-ups, stored so they can continue.

A session record holds where the telemetry comes from (a bundle path, or an AWS workspace with
profile and Region), the window, and every turn (an :class:`~agent.models.Investigation`). The
evidence ledger continues across turns, so follow-ups cite and reuse earlier evidence instead of
re-querying it. Stores: SQLite locally (``$RCA_HOME/rca.db``, default ``~/.local/share/rca``)
and DynamoDB in the cloud, behind one interface.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from agent.models import Investigation, Step
from tools.aws.errors import raise_if_throttled
from tools.errors import RcaError
from tools.models import Model, TimeWindow
from tools.redact import redact

DYNAMODB_ITEM_LIMIT = 400 * 1024  # bytes; DynamoDB item size limit (Developer Guide, quotas)


class SessionError(RcaError):
    """A session cannot be found, stored or continued."""


class Feedback(Model):
    """A person's verdict on an answer: ``helpful`` or ``wrong``, with an optional statement of
    the real root cause (free text, untrusted: redacted before storing) and who gave it when."""

    verdict: Literal["helpful", "wrong"]
    turn: int = Field(ge=1, description="1-based turn the verdict is about")
    real_root_cause: str | None = Field(default=None, max_length=2000)
    user: str = Field(default="", description="who gave it, e.g. a Slack user id")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("real_root_cause")
    @classmethod
    def _redact(cls, value: str | None) -> str | None:
        return redact(value) if value else value


class SessionRecord(Model):
    """One stored investigation with its follow-ups (``turns``, oldest first)."""

    id: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: dict[str, Any] = Field(description='{"kind": "bundle", "path": ...} or AWS details')
    window: TimeWindow
    baseline: TimeWindow
    turns: list[Investigation] = Field(default_factory=list)
    version: int = Field(default=0, description="bumped on every versioned save")
    feedback: list[Feedback] = Field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        """Every step of every turn, in order."""
        return [step for turn in self.turns for step in turn.steps]

    def context(self, max_chars: int = 6000) -> str:
        """A summary of the earlier turns for the model: questions, answers, cited evidence."""
        lines: list[str] = []
        evidence = {e.id: e for e in (self.turns[-1].evidence if self.turns else [])}
        for n, turn in enumerate(self.turns, start=1):
            lines.append(f"Turn {n} question: {turn.question}")
            for h in (turn.answer.hypotheses if turn.answer else [])[:3]:
                lines.append(
                    f"  #{h.rank} {h.component} ({h.fault_category}, {h.confidence:.2f}): "
                    f"{h.statement[:300]}"
                )
                for eid in h.supporting_evidence[:4]:
                    if eid in evidence:
                        lines.append(f"    {eid}: {evidence[eid].summary[:200]}")
        lines.append(f"{len(evidence)} evidence items so far (E1..E{len(evidence)}).")
        text = "\n".join(lines)
        return text[-max_chars:]


def default_home() -> Path:
    """``$RCA_HOME`` or ``~/.local/share/rca``."""
    return Path(os.environ.get("RCA_HOME") or Path.home() / ".local" / "share" / "rca")


class VersionConflict(SessionError):
    """Another writer saved the record first (the stored version is not the expected one)."""


class SessionStore(ABC):
    """Saves and loads session records."""

    @abstractmethod
    def save_versioned(self, record: SessionRecord, expected: int) -> None:
        """Store ``record`` only if the stored version is ``expected`` (0: absent), then set
        ``record.version = expected + 1``. Raises VersionConflict when another writer won."""

    @abstractmethod
    def save(self, record: SessionRecord) -> None:
        """Insert or replace a record (raises SessionError)."""

    @abstractmethod
    def load(self, session_id: str) -> SessionRecord:
        """The record with this id (raises SessionError when absent)."""

    @abstractmethod
    def list(self) -> list[tuple[str, datetime, str]]:
        """``(id, created_at, first question)`` of every record, newest first."""


def _encode(record: SessionRecord) -> bytes:
    return gzip.compress(record.model_dump_json().encode("utf-8"), mtime=0)


def _decode(blob: bytes) -> SessionRecord:
    return SessionRecord.model_validate_json(gzip.decompress(blob))


class SqliteSessionStore(SessionStore):
    """Sessions in a SQLite file (gzip-compressed JSON per record)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_home() / "rca.db"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created_at TEXT, "
                    "question TEXT, body BLOB)"
                )
        except (OSError, sqlite3.Error) as exc:
            raise SessionError(
                f"cannot open the session store {self.path}: {exc}; set RCA_HOME to a writable "
                "directory (or move the damaged file away)"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    _UPSERT = "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)"

    @staticmethod
    def _row(record: SessionRecord) -> tuple[str, str, str, bytes]:
        question = record.turns[0].question if record.turns else ""
        return (record.id, record.created_at.isoformat(), question, _encode(record))

    def save(self, record: SessionRecord) -> None:
        with self._lock, self._connect() as db:
            db.execute(self._UPSERT, self._row(record))

    def save_versioned(self, record: SessionRecord, expected: int) -> None:
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")  # a write lock across processes
                row = db.execute("SELECT body FROM sessions WHERE id = ?", (record.id,)).fetchone()
                stored = _decode(row[0]).version if row else 0
                if stored != expected:
                    db.rollback()
                    raise VersionConflict(
                        f"session {record.id} is at version {stored}, expected {expected}"
                    )
                record.version = expected + 1
                db.execute(self._UPSERT, self._row(record))
                db.commit()
            finally:
                db.close()

    def load(self, session_id: str) -> SessionRecord:
        with self._connect() as db:
            row = db.execute("SELECT body FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionError(
                f"no session {session_id!r} in {self.path}; `rca sessions` lists the stored ones"
            )
        return _decode(row[0])

    def list(self) -> list[tuple[str, datetime, str]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, created_at, question FROM sessions ORDER BY created_at DESC"
            ).fetchall()
        return [(r[0], datetime.fromisoformat(r[1]), r[2]) for r in rows]


class DynamoSessionStore(SessionStore):
    """Sessions in a DynamoDB table with partition key ``id`` (S); the record is a gzip Binary.

    ``ttl_days``: items carry ``ttl`` (epoch seconds, ``ttl_days`` after the session's last
    write) for the table's DynamoDB TTL; None keeps sessions forever.

    Raises SessionError when a record exceeds the 400 KB item limit or a call fails.
    """

    def __init__(self, table: str, client: Any, *, ttl_days: float | None = None) -> None:
        self.table = table
        self.client = client
        self.ttl_days = ttl_days

    def _item(self, record: SessionRecord) -> dict[str, Any]:
        body = _encode(record)
        if len(body) > DYNAMODB_ITEM_LIMIT - 1024:
            raise SessionError(
                f"session {record.id} is {len(body)} bytes compressed, over the DynamoDB item "
                "limit of 400 KB; start a new session for further questions"
            )
        item = {
            "id": {"S": record.id},
            "created_at": {"S": record.created_at.isoformat()},
            "question": {"S": record.turns[0].question if record.turns else ""},
            "body": {"B": body},
            "version": {"N": str(record.version)},
        }
        if self.ttl_days:
            item["ttl"] = {"N": str(int(time.time() + self.ttl_days * 86400))}
        return item

    def save(self, record: SessionRecord) -> None:
        try:
            self.client.put_item(TableName=self.table, Item=self._item(record))
        except (ClientError, BotoCoreError) as exc:
            raise_if_throttled(exc, service="DynamoDB", operation="PutItem")
            raise SessionError(
                f"cannot store session in DynamoDB table {self.table}: {exc}"
            ) from exc

    def save_versioned(self, record: SessionRecord, expected: int) -> None:
        """PutItem with ``attribute_not_exists(id) OR version = :expected`` (DynamoDB
        condition expressions); ConditionalCheckFailedException becomes VersionConflict."""
        item = self._item(record.model_copy(update={"version": expected + 1}))
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(id) OR version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected)}},
            )
        except (ClientError, BotoCoreError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise VersionConflict(
                    f"session {record.id} changed since version {expected}"
                ) from exc
            raise_if_throttled(exc, service="DynamoDB", operation="PutItem")
            raise SessionError(
                f"cannot store session in DynamoDB table {self.table}: {exc}"
            ) from exc
        record.version = expected + 1

    def load(self, session_id: str) -> SessionRecord:
        try:
            reply = self.client.get_item(TableName=self.table, Key={"id": {"S": session_id}})
        except (ClientError, BotoCoreError) as exc:
            raise_if_throttled(exc, service="DynamoDB", operation="GetItem")
            raise SessionError(f"cannot read DynamoDB table {self.table}: {exc}") from exc
        if "Item" not in reply:
            raise SessionError(f"no session {session_id!r} in DynamoDB table {self.table}")
        return _decode(reply["Item"]["body"]["B"])

    def list(self) -> list[tuple[str, datetime, str]]:
        rows: list[tuple[str, datetime, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": "id, created_at, question",
        }
        while True:
            reply = self.client.scan(**kwargs)
            rows += [
                (i["id"]["S"], datetime.fromisoformat(i["created_at"]["S"]), i["question"]["S"])
                for i in reply.get("Items", [])
            ]
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return sorted(rows, key=lambda r: r[1], reverse=True)


def open_store() -> SessionStore:
    """DynamoDB when ``RCA_SESSION_TABLE`` is set (the cloud), else SQLite under ``RCA_HOME``."""
    table = os.environ.get("RCA_SESSION_TABLE")
    if table:
        from tools.aws.session import make_client

        ttl = os.environ.get("RCA_SESSION_TTL_DAYS")
        return DynamoSessionStore(
            table, make_client("dynamodb"), ttl_days=float(ttl) if ttl else None
        )
    home = os.environ.get("RCA_HOME")
    return SqliteSessionStore(Path(home) / "rca.db" if home else None)


def dump_json(record: SessionRecord) -> str:
    """The record as indented JSON (for ``--json``)."""
    return json.dumps(record.model_dump(mode="json"), indent=2)
