"""The review store: review records, per-question checkpoints, extracted text and chat turns.

One interface, two backends:

- :class:`SqliteReviewStore` (embedded default): one SQLite file, by default
  ``$RCA_HOME/reviews.db`` or ``~/.local/share/rca/reviews.db``; extracted text larger than
  ``inline_limit`` bytes (JSON) goes to a gzip file next to the database
  (``<db dir>/review-documents/<review id>.json.gz``).
- :class:`DynamoReviewStore` (AWS): one DynamoDB table, key ``pk`` (S) + ``sk`` (S):
  ``pk = REVIEW#<id>`` with ``sk = META`` (the record), ``Q#<question id>`` (one checkpoint per
  assessed question), ``DOC`` (small extracted text, gzip in a Binary attribute), ``CHAT#<n>``
  (chat turns). Larger extracted text goes to S3 (``s3://<bucket>/<prefix><id>.json.gz``);
  DynamoDB items are limited to 400 KB, 1 KB = 1024 bytes (Amazon DynamoDB Developer Guide,
  "Constraints in Amazon DynamoDB", section Items), so ``inline_limit`` defaults to 256 KiB of
  compressed bytes, leaving room for keys and attribute names.

Writes are safe from several threads (the parallel runner checkpoints concurrently).
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from reviews.errors import ReviewNotFoundError, StoreError
from reviews.models import (
    TRANSITIONS,
    ChatTurn,
    DocumentText,
    QuestionAssessment,
    ReviewRecord,
    ReviewState,
    utcnow,
)
from tools.interrupts import shield

SQLITE_INLINE_LIMIT = 256 * 1024
DYNAMO_INLINE_LIMIT = 256 * 1024


def default_db_path() -> Path:
    """``$RCA_HOME/reviews.db`` when RCA_HOME is set, else ``~/.local/share/rca/reviews.db``."""
    home = os.environ.get("RCA_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "rca"
    return base / "reviews.db"


def _pack(doc: DocumentText) -> bytes:
    return gzip.compress(doc.model_dump_json().encode("utf-8"), mtime=0)


def _unpack(data: bytes) -> DocumentText:
    return DocumentText.model_validate_json(gzip.decompress(data))


class ReviewStore(ABC):
    """Persistence of reviews. Every method raises :class:`StoreError` on backend failure."""

    @abstractmethod
    def create(self, record: ReviewRecord) -> ReviewRecord:
        """Insert a new record.

        Raises:
            StoreError: a review with that id exists.
        """

    @abstractmethod
    def get(self, review_id: str) -> ReviewRecord:
        """The record of a review.

        Raises:
            ReviewNotFoundError: no such review.
        """

    @abstractmethod
    def _put(self, record: ReviewRecord) -> None:
        """Overwrite a record (backend primitive)."""

    @abstractmethod
    def list_reviews(self, limit: int = 50) -> list[ReviewRecord]:
        """The most recent reviews first."""

    @abstractmethod
    def save_question(self, review_id: str, qa: QuestionAssessment) -> None:
        """Checkpoint one assessed question (overwrites an earlier one)."""

    @abstractmethod
    def questions(self, review_id: str) -> list[QuestionAssessment]:
        """Every checkpointed question of a review (any order)."""

    @abstractmethod
    def clear_questions(self, review_id: str) -> None:
        """Drop every checkpoint of a review (a fresh re-assessment)."""

    @abstractmethod
    def save_document(self, review_id: str, doc: DocumentText) -> str:
        """Store the extracted text; return its reference (``inline``, a path or an S3 URI)."""

    @abstractmethod
    def load_document(self, review_id: str) -> DocumentText:
        """The extracted text of a review.

        Raises:
            StoreError: it was never stored or its file/object is gone.
        """

    @abstractmethod
    def append_chat(self, review_id: str, turn: ChatTurn) -> None:
        """Append a chat turn."""

    @abstractmethod
    def chat(self, review_id: str) -> list[ChatTurn]:
        """The chat turns of a review, oldest first."""

    # shared logic -------------------------------------------------------------------------

    def update(self, review_id: str, **changes: Any) -> ReviewRecord:
        """Change fields of a record (validated), bump ``updated_at``, return the new record."""
        record = self.get(review_id)
        data = record.model_dump()
        data.update(changes)
        data["updated_at"] = utcnow()
        new = ReviewRecord.model_validate(data)
        self._put(new)
        return new

    def set_state(
        self,
        review_id: str,
        state: ReviewState,
        *,
        error: str | None = None,
        error_kind: str | None = None,
        **changes: Any,
    ) -> ReviewRecord:
        """Move a review to ``state`` (checked against :data:`~reviews.models.TRANSITIONS`).

        Raises:
            StoreError: the transition is not allowed (e.g. ``submitted`` -> ``completed``).
        """
        record = self.get(review_id)
        if state != record.state and state not in TRANSITIONS[record.state]:
            raise StoreError(f"review {review_id}: cannot go from {record.state} to {state}")
        if state != "failed":
            error, error_kind = None, None
        return self.update(review_id, state=state, error=error, error_kind=error_kind, **changes)


class SqliteReviewStore(ReviewStore):
    """Reviews in one SQLite file (see the module docstring); ``path=None`` = default path."""

    def __init__(
        self, path: Path | None = None, *, inline_limit: int = SQLITE_INLINE_LIMIT
    ) -> None:
        self.path = Path(path) if path else default_db_path()
        self.inline_limit = inline_limit
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._conn() as db:
                db.executescript(
                    """
                    CREATE TABLE IF NOT EXISTS reviews (
                        id TEXT PRIMARY KEY, created_at TEXT NOT NULL, record TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS review_questions (
                        review_id TEXT NOT NULL, question_id TEXT NOT NULL, data TEXT NOT NULL,
                        PRIMARY KEY (review_id, question_id));
                    CREATE TABLE IF NOT EXISTS review_documents (
                        review_id TEXT PRIMARY KEY, data BLOB, ref TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS review_chat (
                        review_id TEXT NOT NULL, n INTEGER NOT NULL, data TEXT NOT NULL,
                        PRIMARY KEY (review_id, n));
                    """
                )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the review store {self.path}: {exc}; set RCA_HOME to a writable "
                "directory"
            ) from exc

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """The store's connection inside one transaction (one writer at a time, thread-safe).

        Shielded (:class:`tools.interrupts.shield`): Ctrl-C or SIGTERM waits until the lock is
        released and the transaction ended, so no abandoned generator can keep the lock."""
        with shield(), self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                # WAL + NORMAL: a commit survives a crash of this process (not of the OS)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._db:
                    yield self._db
            except sqlite3.Error as exc:
                raise StoreError(f"review store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the database connection (reopened on the next call)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def documents_dir(self) -> Path:
        """Where large extracted texts go (next to the database)."""
        return self.path.parent / "review-documents"

    def create(self, record: ReviewRecord) -> ReviewRecord:
        with self._conn() as db:
            if db.execute("SELECT 1 FROM reviews WHERE id=?", (record.id,)).fetchone():
                raise StoreError(f"review {record.id} already exists")
            db.execute(
                "INSERT INTO reviews (id, created_at, record) VALUES (?, ?, ?)",
                (record.id, record.created_at.isoformat(), record.model_dump_json()),
            )
        return record

    def get(self, review_id: str) -> ReviewRecord:
        with self._conn() as db:
            row = db.execute("SELECT record FROM reviews WHERE id=?", (review_id,)).fetchone()
        if row is None:
            raise ReviewNotFoundError(
                f"no review {review_id!r} in {self.path}; `rca review-list` shows the reviews"
            )
        return ReviewRecord.model_validate_json(row[0])

    def _put(self, record: ReviewRecord) -> None:
        with self._conn() as db:
            db.execute(
                "UPDATE reviews SET record=? WHERE id=?", (record.model_dump_json(), record.id)
            )

    def list_reviews(self, limit: int = 50) -> list[ReviewRecord]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT record FROM reviews ORDER BY created_at DESC, id LIMIT ?", (limit,)
            ).fetchall()
        return [ReviewRecord.model_validate_json(r[0]) for r in rows]

    def save_question(self, review_id: str, qa: QuestionAssessment) -> None:
        with self._conn() as db:
            db.execute(
                "INSERT OR REPLACE INTO review_questions (review_id, question_id, data) "
                "VALUES (?, ?, ?)",
                (review_id, qa.question_id, qa.model_dump_json()),
            )

    def questions(self, review_id: str) -> list[QuestionAssessment]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT data FROM review_questions WHERE review_id=?", (review_id,)
            ).fetchall()
        return [QuestionAssessment.model_validate_json(r[0]) for r in rows]

    def clear_questions(self, review_id: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM review_questions WHERE review_id=?", (review_id,))

    def save_document(self, review_id: str, doc: DocumentText) -> str:
        data = _pack(doc)
        ref = "inline"
        blob: bytes | None = data
        if len(data) > self.inline_limit:
            path = self.documents_dir / f"{review_id}.json.gz"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except OSError as exc:
                raise StoreError(f"cannot write the extracted text to {path}: {exc}") from exc
            ref, blob = str(path), None
        with self._conn() as db:
            db.execute(
                "INSERT OR REPLACE INTO review_documents (review_id, data, ref) VALUES (?, ?, ?)",
                (review_id, blob, ref),
            )
        return ref

    def load_document(self, review_id: str) -> DocumentText:
        with self._conn() as db:
            row = db.execute(
                "SELECT data, ref FROM review_documents WHERE review_id=?", (review_id,)
            ).fetchone()
        if row is None:
            raise StoreError(
                f"review {review_id} has no extracted text; run the review again with "
                f"`rca review --resume {review_id}`"
            )
        data, ref = row
        if data is None:
            try:
                data = Path(ref).read_bytes()
            except OSError as exc:
                raise StoreError(
                    f"the extracted text of review {review_id} is gone ({ref}): {exc}"
                ) from exc
        return _unpack(data)

    def append_chat(self, review_id: str, turn: ChatTurn) -> None:
        with self._conn() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM review_chat WHERE review_id=?", (review_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO review_chat (review_id, n, data) VALUES (?, ?, ?)",
                (review_id, count + 1, turn.model_dump_json()),
            )

    def chat(self, review_id: str) -> list[ChatTurn]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT data FROM review_chat WHERE review_id=? ORDER BY n", (review_id,)
            ).fetchall()
        return [ChatTurn.model_validate_json(r[0]) for r in rows]


class DynamoReviewStore(ReviewStore):
    """Reviews in one DynamoDB table (see the module docstring).

    ``client`` is a boto3 DynamoDB client (low level); ``s3`` and ``bucket`` are needed only for
    extracted texts over ``inline_limit`` compressed bytes.
    """

    def __init__(
        self,
        table: str,
        client: Any = None,
        *,
        s3: Any = None,
        bucket: str | None = None,
        prefix: str = "reviews/text/",
        inline_limit: int = DYNAMO_INLINE_LIMIT,
        region: str | None = None,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb", region_name=region)
        self.table = table
        self.client = client
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.inline_limit = inline_limit

    @staticmethod
    def create_table(client: Any, table: str) -> None:
        """Create the table (on-demand capacity) and wait until it exists (tests, bootstrap)."""
        client.create_table(
            TableName=table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=table)

    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, op)(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            if code == "ResourceNotFoundException":
                raise StoreError(
                    f"DynamoDB table {self.table} not found; deploy the stack or set "
                    "RCA_REVIEW_TABLE to the right table"
                ) from exc
            raise StoreError(f"DynamoDB {op} on {self.table} failed: {code}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB {op} on {self.table} failed: {exc}") from exc

    def _query(self, review_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"REVIEW#{review_id}"},
                ":sk": {"S": prefix},
            },
        }
        while True:
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _meta_item(self, record: ReviewRecord) -> dict[str, Any]:
        return {
            "pk": {"S": f"REVIEW#{record.id}"},
            "sk": {"S": "META"},
            "kind": {"S": "review"},
            "state": {"S": record.state},
            "created_at": {"S": record.created_at.isoformat()},
            "record": {"S": record.model_dump_json()},
        }

    def create(self, record: ReviewRecord) -> ReviewRecord:
        try:
            self._call(
                "put_item",
                Item=self._meta_item(record),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            raise StoreError(f"review {record.id} already exists") from exc
        return record

    def get(self, review_id: str) -> ReviewRecord:
        item = self._call(
            "get_item",
            Key={"pk": {"S": f"REVIEW#{review_id}"}, "sk": {"S": "META"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise ReviewNotFoundError(f"no review {review_id!r} in table {self.table}")
        return ReviewRecord.model_validate_json(item["record"]["S"])

    def _put(self, record: ReviewRecord) -> None:
        self._call("put_item", Item=self._meta_item(record))

    def list_reviews(self, limit: int = 50) -> list[ReviewRecord]:
        records: list[ReviewRecord] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "sk = :meta",
            "ExpressionAttributeValues": {":meta": {"S": "META"}},
        }
        while True:
            page = self._call("scan", **kwargs)
            records.extend(
                ReviewRecord.model_validate_json(i["record"]["S"]) for i in page["Items"]
            )
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return records[:limit]

    def save_question(self, review_id: str, qa: QuestionAssessment) -> None:
        self._call(
            "put_item",
            Item={
                "pk": {"S": f"REVIEW#{review_id}"},
                "sk": {"S": f"Q#{qa.question_id}"},
                "data": {"S": qa.model_dump_json()},
            },
        )

    def questions(self, review_id: str) -> list[QuestionAssessment]:
        return [
            QuestionAssessment.model_validate_json(i["data"]["S"])
            for i in self._query(review_id, "Q#")
        ]

    def clear_questions(self, review_id: str) -> None:
        for item in self._query(review_id, "Q#"):
            self._call("delete_item", Key={"pk": item["pk"], "sk": item["sk"]})

    def save_document(self, review_id: str, doc: DocumentText) -> str:
        data = _pack(doc)
        item: dict[str, Any] = {"pk": {"S": f"REVIEW#{review_id}"}, "sk": {"S": "DOC"}}
        if len(data) <= self.inline_limit:
            ref = "inline"
            item["data"] = {"B": data}
        else:
            if self.s3 is None or not self.bucket:
                raise StoreError(
                    f"the extracted text of review {review_id} is {len(data)} compressed bytes, "
                    f"over the {self.inline_limit}-byte inline limit of a DynamoDB item; "
                    "configure an S3 bucket for review documents (RCA_REVIEW_BUCKET)"
                )
            key = f"{self.prefix}{review_id}.json.gz"
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType="application/gzip"
                )
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc
            ref = f"s3://{self.bucket}/{key}"
        item["ref"] = {"S": ref}
        self._call("put_item", Item=item)
        return ref

    def load_document(self, review_id: str) -> DocumentText:
        item = self._call(
            "get_item", Key={"pk": {"S": f"REVIEW#{review_id}"}, "sk": {"S": "DOC"}}
        ).get("Item")
        if not item:
            raise StoreError(f"review {review_id} has no extracted text")
        if "data" in item:
            return _unpack(item["data"]["B"])
        ref = item["ref"]["S"]
        bucket, _, key = ref.removeprefix("s3://").partition("/")
        if self.s3 is None:
            raise StoreError(f"the extracted text is in {ref}; configure S3 access to read it")
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot read {ref}: {exc}") from exc
        return _unpack(body)

    def append_chat(self, review_id: str, turn: ChatTurn) -> None:
        count = len(self._query(review_id, "CHAT#"))
        self._call(
            "put_item",
            Item={
                "pk": {"S": f"REVIEW#{review_id}"},
                "sk": {"S": f"CHAT#{count + 1:06d}"},
                "data": {"S": turn.model_dump_json()},
            },
        )

    def chat(self, review_id: str) -> list[ChatTurn]:
        items = sorted(self._query(review_id, "CHAT#"), key=lambda i: i["sk"]["S"])
        return [ChatTurn.model_validate_json(i["data"]["S"]) for i in items]


def open_store(
    *,
    path: Path | None = None,
    table: str | None = None,
    bucket: str | None = None,
    region: str | None = None,
    session: Any = None,
) -> ReviewStore:
    """The store to use: explicit ``table`` > ``RCA_REVIEW_TABLE`` (DynamoDB, with
    ``RCA_REVIEW_BUCKET`` for large texts) > SQLite at ``path`` or the default path."""
    table = table or os.environ.get("RCA_REVIEW_TABLE")
    if table:
        import boto3

        session = session or boto3.Session(region_name=region)
        bucket = bucket or os.environ.get("RCA_REVIEW_BUCKET")
        return DynamoReviewStore(
            table,
            session.client("dynamodb"),
            s3=session.client("s3") if bucket else None,
            bucket=bucket,
        )
    return SqliteReviewStore(path)
