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

Both keep a record as its JSON (:func:`record_json`), which, unlike every other dump of a
record, holds the review's secret ``nonce`` (:class:`~reviews.models.ReviewRecord`).

Concurrent writers (threads, processes, Lambda tasks) never lose each other's writes:

- a review record carries a ``version``; every change is a read-modify-write that succeeds only
  when the stored version is still the one read (SQLite ``UPDATE ... WHERE version = ?``,
  DynamoDB conditional ``PutItem``), else it re-reads and retries (:meth:`ReviewStore.mutate`,
  up to :data:`MAX_WRITE_ATTEMPTS` attempts with jittered backoff);
- chat turns are numbered; a turn is written only when its number is free (the SQLite primary
  key, a DynamoDB ``attribute_not_exists`` condition in one ``TransactWriteItems`` for a question
  and its answer), else the next free number is taken and the write retried;
- question checkpoints are one row or item per question, so parallel "assess one question"
  tasks write disjoint keys;
- a caller's key (e.g. a Slack thread) is bound to a review id once (insert-if-absent), so a
  retried submission finds the first review instead of starting a second one.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from reviews.errors import ReviewConflictError, ReviewNotFoundError, StoreError
from reviews.models import (
    TRANSITIONS,
    ChatTurn,
    DocumentText,
    QuestionAssessment,
    ReviewRecord,
    ReviewState,
    utcnow,
)
from tools.aws.errors import raise_if_throttled
from tools.interrupts import shield

SQLITE_INLINE_LIMIT = 256 * 1024
DYNAMO_INLINE_LIMIT = 256 * 1024
MAX_WRITE_ATTEMPTS = 12
MAX_KEY_CHARS = 512

Change = Callable[[ReviewRecord], dict[str, Any] | None]
T = TypeVar("T")


def _backoff(attempt: int) -> None:
    """Sleep a jittered 0..min(0.2, 0.005 * 2**attempt) seconds before retrying a lost race."""
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def check_key(key: str) -> str:
    """A caller's key: 1-512 characters, no control characters.

    Raises:
        StoreError: the key is empty, too long or has control characters.
    """
    if not key or len(key) > MAX_KEY_CHARS or any(ord(c) < 32 for c in key):
        raise StoreError(
            f"invalid review key {key[:40]!r}: use 1-{MAX_KEY_CHARS} printable characters"
        )
    return key


def default_db_path() -> Path:
    """``$RCA_HOME/reviews.db`` when RCA_HOME is set, else ``~/.local/share/rca/reviews.db``."""
    home = os.environ.get("RCA_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "rca"
    return base / "reviews.db"


def _pack(doc: DocumentText) -> bytes:
    return gzip.compress(doc.model_dump_json().encode("utf-8"), mtime=0)


def _unpack(data: bytes) -> DocumentText:
    return DocumentText.model_validate_json(gzip.decompress(data))


def stored_data(record: ReviewRecord, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
    """The fields a store keeps of a record: its dump (``mode`` as in ``model_dump``) plus the
    ``nonce``, which every other dump leaves out (:class:`~reviews.models.ReviewRecord`)."""
    data = record.model_dump(mode=mode)
    if record.nonce is not None:
        data["nonce"] = record.nonce
    return data


def record_json(record: ReviewRecord) -> str:
    """The stored JSON of a record (:func:`stored_data`); ``ReviewRecord.model_validate_json``
    reads it back, and a record stored without a nonce loads with ``nonce`` None."""
    return json.dumps(stored_data(record, "json"), ensure_ascii=False)


class ReviewStore(ABC):
    """Persistence of reviews. Every method raises :class:`StoreError` on backend failure.

    ``retries`` counts the writes this instance had to retry after losing a race (a figure for
    benchmarks; approximate when several threads share the instance).
    """

    retries: int = 0

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
    def _put(self, record: ReviewRecord, expected: int) -> None:
        """Overwrite a record if its stored version is still ``expected`` (backend primitive).

        Raises:
            ReviewConflictError: the stored version differs (another writer was first).
            ReviewNotFoundError: no such review.
        """

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
    def append_turns(self, review_id: str, turns: list[ChatTurn]) -> int:
        """Append chat turns as one block (a question and its answer stay adjacent) under the
        next free turn numbers; retried on a lost race. Returns the number of the first turn
        (1-based).

        Raises:
            ReviewConflictError: still losing after :data:`MAX_WRITE_ATTEMPTS` attempts.
        """

    @abstractmethod
    def bind_key(self, key: str, review_id: str) -> str:
        """Bind a caller's key to ``review_id`` unless it is bound already; return the review id
        the key is bound to (the first binding wins)."""

    @abstractmethod
    def find_key(self, key: str) -> str | None:
        """The review id bound to ``key``, or None."""

    def append_chat(self, review_id: str, turn: ChatTurn) -> None:
        """Append one chat turn (see :meth:`append_turns`)."""
        self.append_turns(review_id, [turn])

    @abstractmethod
    def chat(self, review_id: str) -> list[ChatTurn]:
        """The chat turns of a review, oldest first."""

    # shared logic -------------------------------------------------------------------------

    def mutate(self, review_id: str, change: Change) -> ReviewRecord:
        """Apply ``change(record) -> {field: value}`` (None = no change) with a version check.

        ``change`` is called again on the freshly read record after every lost race, so it must
        compute its changes from the record it is given (and may raise to refuse them). The
        written record has ``version`` + 1 and a new ``updated_at``.

        Raises:
            ReviewConflictError: still losing after :data:`MAX_WRITE_ATTEMPTS` attempts.
            ReviewNotFoundError: no such review.
        """

        def attempt() -> ReviewRecord:
            record = self.get(review_id)
            changes = change(record)
            if changes is None:
                return record
            data = stored_data(record)
            data.update(changes)
            data["updated_at"] = utcnow()
            data["version"] = record.version + 1
            new = ReviewRecord.model_validate(data)
            self._put(new, record.version)
            return new

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it does not raise :class:`ReviewConflictError` (at most
        :data:`MAX_WRITE_ATTEMPTS` times, jittered backoff between attempts)."""
        for n in range(1, MAX_WRITE_ATTEMPTS + 1):
            try:
                return attempt()
            except ReviewConflictError:
                if n == MAX_WRITE_ATTEMPTS:
                    raise
                self.retries += 1
                _backoff(n)
        raise AssertionError("unreachable")  # pragma: no cover

    def update(self, review_id: str, **changes: Any) -> ReviewRecord:
        """Change fields of a record (validated, version-checked), return the new record."""
        return self.mutate(review_id, lambda record: dict(changes))

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
        if state != "failed":
            error, error_kind = None, None

        def change(record: ReviewRecord) -> dict[str, Any]:
            if state != record.state and state not in TRANSITIONS[record.state]:
                raise StoreError(f"review {review_id}: cannot go from {record.state} to {state}")
            return {"state": state, "error": error, "error_kind": error_kind, **changes}

        return self.mutate(review_id, change)


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
                    CREATE TABLE IF NOT EXISTS review_keys (
                        key TEXT PRIMARY KEY, review_id TEXT NOT NULL);
                    """
                )
                columns = {row[1] for row in db.execute("PRAGMA table_info(reviews)")}
            if "version" not in columns:  # a database from before versioned records
                try:
                    with self._conn() as db:
                        db.execute(
                            "ALTER TABLE reviews ADD COLUMN version INTEGER NOT NULL DEFAULT 0"
                        )
                except StoreError as exc:
                    if "duplicate column" not in str(exc):  # another process was first
                        raise
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
                "INSERT INTO reviews (id, created_at, record, version) VALUES (?, ?, ?, ?)",
                (
                    record.id,
                    record.created_at.isoformat(),
                    record_json(record),
                    record.version,
                ),
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

    def _put(self, record: ReviewRecord, expected: int) -> None:
        with self._conn() as db:
            cursor = db.execute(
                "UPDATE reviews SET record=?, version=? WHERE id=? AND version=?",
                (record_json(record), record.version, record.id, expected),
            )
            if cursor.rowcount == 1:
                return
            exists = db.execute("SELECT 1 FROM reviews WHERE id=?", (record.id,)).fetchone()
        if not exists:
            raise ReviewNotFoundError(f"no review {record.id!r} in {self.path}")
        raise ReviewConflictError(f"review {record.id} changed since version {expected}")

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

    def append_turns(self, review_id: str, turns: list[ChatTurn]) -> int:
        def attempt() -> int:
            with self._conn() as db:
                (last,) = db.execute(
                    "SELECT COALESCE(MAX(n), 0) FROM review_chat WHERE review_id=?",
                    (review_id,),
                ).fetchone()
                try:  # the primary key (review_id, n) is the version check
                    db.executemany(
                        "INSERT INTO review_chat (review_id, n, data) VALUES (?, ?, ?)",
                        [
                            (review_id, last + i, t.model_dump_json())
                            for i, t in enumerate(turns, start=1)
                        ],
                    )
                except sqlite3.IntegrityError as exc:  # rolled back by the transaction
                    raise ReviewConflictError(
                        f"review {review_id}: chat turn {last + 1} was taken"
                    ) from exc
            return int(last) + 1

        return self._retrying(attempt)

    def bind_key(self, key: str, review_id: str) -> str:
        check_key(key)
        with self._conn() as db:
            db.execute(
                "INSERT OR IGNORE INTO review_keys (key, review_id) VALUES (?, ?)", (key, review_id)
            )
            (bound,) = db.execute(
                "SELECT review_id FROM review_keys WHERE key=?", (key,)
            ).fetchone()
        return str(bound)

    def find_key(self, key: str) -> str | None:
        with self._conn() as db:
            row = db.execute("SELECT review_id FROM review_keys WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

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
            from tools.aws.session import make_client

            client = make_client("dynamodb", region=region)
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
            raise_if_throttled(exc, service="DynamoDB", operation=op)
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
            # strongly consistent: a task must see the checkpoints other tasks just wrote
            "ConsistentRead": True,
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
            "record": {"S": record_json(record)},
            "version": {"N": str(record.version)},
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

    def _put(self, record: ReviewRecord, expected: int) -> None:
        # items written before versioning have no version attribute: they count as version 0
        condition = "attribute_exists(pk) AND #v = :v"
        if expected == 0:
            condition = "attribute_exists(pk) AND (attribute_not_exists(#v) OR #v = :v)"
        try:
            self._call(
                "put_item",
                Item=self._meta_item(record),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(expected)}},
            )
        except ClientError as exc:  # ConditionalCheckFailedException
            key = {"pk": {"S": f"REVIEW#{record.id}"}, "sk": {"S": "META"}}
            if not self._call("get_item", Key=key, ConsistentRead=True).get("Item"):
                raise ReviewNotFoundError(f"no review {record.id!r} in table {self.table}") from exc
            raise ReviewConflictError(
                f"review {record.id} changed since version {expected}"
            ) from exc

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
                raise_if_throttled(exc, service="S3", operation="PutObject")
                raise StoreError(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc
            ref = f"s3://{self.bucket}/{key}"
        item["ref"] = {"S": ref}
        self._call("put_item", Item=item)
        return ref

    def load_document(self, review_id: str) -> DocumentText:
        item = self._call(
            "get_item",
            Key={"pk": {"S": f"REVIEW#{review_id}"}, "sk": {"S": "DOC"}},
            ConsistentRead=True,
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
            raise_if_throttled(exc, service="S3", operation="GetObject")
            raise StoreError(f"cannot read {ref}: {exc}") from exc
        return _unpack(body)

    def _last_turn(self, review_id: str) -> int:
        page = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues={
                ":pk": {"S": f"REVIEW#{review_id}"},
                ":sk": {"S": "CHAT#"},
            },
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items") or []
        return int(items[0]["sk"]["S"].removeprefix("CHAT#")) if items else 0

    def append_turns(self, review_id: str, turns: list[ChatTurn]) -> int:
        def attempt() -> int:
            last = self._last_turn(review_id)
            puts = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": {"S": f"REVIEW#{review_id}"},
                            "sk": {"S": f"CHAT#{last + i:06d}"},
                            "data": {"S": turn.model_dump_json()},
                        },
                        # the turn number is the version check: never overwrite a turn
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                }
                for i, turn in enumerate(turns, start=1)
            ]
            try:
                self.client.transact_write_items(TransactItems=puts)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("TransactionCanceledException", "TransactionConflictException"):
                    raise ReviewConflictError(
                        f"review {review_id}: chat turn {last + 1} was taken"
                    ) from exc
                raise_if_throttled(exc, service="DynamoDB", operation="TransactWriteItems")
                raise StoreError(
                    f"DynamoDB TransactWriteItems on {self.table} failed: {code}"
                ) from exc
            except BotoCoreError as exc:
                raise StoreError(f"DynamoDB TransactWriteItems on {self.table}: {exc}") from exc
            return last + 1

        return self._retrying(attempt)

    def bind_key(self, key: str, review_id: str) -> str:
        check_key(key)
        try:
            self._call(
                "put_item",
                Item={
                    "pk": {"S": f"KEY#{key}"},
                    "sk": {"S": "KEY"},
                    "review_id": {"S": review_id},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return review_id
        except ClientError:  # ConditionalCheckFailedException: bound already
            bound = self.find_key(key)
            if bound is None:  # pragma: no cover - a key is never unbound
                raise StoreError(f"review key {key!r} could not be bound") from None
            return bound

    def find_key(self, key: str) -> str | None:
        item = self._call(
            "get_item", Key={"pk": {"S": f"KEY#{key}"}, "sk": {"S": "KEY"}}, ConsistentRead=True
        ).get("Item")
        return item["review_id"]["S"] if item else None

    def chat(self, review_id: str) -> list[ChatTurn]:
        items = sorted(self._query(review_id, "CHAT#"), key=lambda i: i["sk"]["S"])
        return [ChatTurn.model_validate_json(i["data"]["S"]) for i in items]


def open_store(
    *,
    path: Path | None = None,
    table: str | None = None,
    bucket: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    session: Any = None,
) -> ReviewStore:
    """The store to use: explicit ``table`` > ``RCA_REVIEW_TABLE`` (DynamoDB, with
    ``RCA_REVIEW_BUCKET`` for large texts) > SQLite at ``path`` or the default path.

    AWS clients come from :func:`tools.aws.session.make_client` (``session`` or ``profile`` /
    ``region``)."""
    table = table or os.environ.get("RCA_REVIEW_TABLE")
    if table:
        from tools.aws.session import make_client

        bucket = bucket or os.environ.get("RCA_REVIEW_BUCKET")
        return DynamoReviewStore(
            table,
            make_client("dynamodb", session=session, profile=profile, region=region),
            s3=make_client("s3", session=session, profile=profile, region=region)
            if bucket
            else None,
            bucket=bucket,
        )
    return SqliteReviewStore(path)
