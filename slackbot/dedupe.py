"""Claims on Slack event ids, so a retried event never starts a second investigation.

Slack retries an event delivery up to three times when the app does not answer with HTTP 200
within 3 seconds, sending the same ``event_id`` with an ``X-Slack-Retry-Num`` header (Events
API, "Retries"). The first delivery claims its ``event_id``; any later delivery of the same id
is acknowledged and dropped. Claims live in SQLite (the sessions database) locally and in a
DynamoDB table (conditional PutItem ``attribute_not_exists(id)``, with a ``ttl`` attribute)
in the cloud, so they hold across processes and Lambda invocations.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws.errors import raise_if_throttled

CLAIM_TTL_S = 3600  # Slack's retries end within minutes; an hour is ample


class EventClaims(ABC):
    """First-come claims on event ids."""

    @abstractmethod
    def claim(self, event_id: str) -> bool:
        """True when this caller is the first to claim ``event_id``."""


class SqliteEventClaims(EventClaims):
    """Claims in a SQLite table ``slack_events(event_id PRIMARY KEY, at)``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._lock, sqlite3.connect(self.path, timeout=10) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS slack_events (event_id TEXT PRIMARY KEY, at REAL)"
            )

    def claim(self, event_id: str) -> bool:
        with self._lock, sqlite3.connect(self.path, timeout=10) as db:
            db.execute("DELETE FROM slack_events WHERE at < ?", (time.time() - CLAIM_TTL_S,))
            cur = db.execute(
                "INSERT OR IGNORE INTO slack_events VALUES (?, ?)", (event_id, time.time())
            )
            return cur.rowcount == 1


class DynamoEventClaims(EventClaims):
    """Claims as items ``{id: "event#<id>", ttl}`` in a DynamoDB table keyed by ``id`` (S)."""

    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def claim(self, event_id: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": f"event#{event_id}"},
                    "ttl": {"N": str(int(time.time()) + CLAIM_TTL_S)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise_if_throttled(exc, service="DynamoDB", operation="PutItem")
            raise
        except BotoCoreError:
            raise
        return True


def open_claims() -> EventClaims:
    """DynamoDB claims in ``RCA_SESSION_TABLE`` when set (the cloud), else SQLite beside the
    local sessions database (``$RCA_HOME/rca.db``)."""
    import os

    from agent.sessions import default_home

    table = os.environ.get("RCA_SESSION_TABLE")
    if table:
        from tools.aws.session import make_client

        return DynamoEventClaims(table, make_client("dynamodb"))
    return SqliteEventClaims(default_home() / "rca.db")
