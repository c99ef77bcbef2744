"""CloudTrail LookupEvents: control-plane write events of one account and Region.

API facts (AWS API reference, mirrored in botocore's service model):

- "The rate of lookup requests is limited to **two per second, per account, per Region**. If
  this limit is exceeded, a throttling error occurs." A process-wide :class:`RateLimiter` per
  account and Region keeps this wrapper under it; botocore's retry mode handles the rest.
- ``LookupAttributes`` holds **one** attribute (the API rejects more); ``ReadOnly=false``
  selects write (mutating) management events. ``MaxResults`` is 1-50 (default 50); pages follow
  ``NextToken``; events are returned newest first; lookups reach back 90 days.
- StartTime/EndTime are datetimes; each event's ``CloudTrailEvent`` is the full record as a JSON
  string (the shape a trail delivers), parsed here into :class:`~tools.bundle.CloudTrailRecord`.
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tools.aws.session import LocatedWrapper, Location
from tools.bundle import CloudTrailRecord
from tools.models import to_utc

log = logging.getLogger(__name__)

SERVICE = "CloudTrail"
LOOKUP_RATE_PER_S = 2.0
MAX_RESULTS = 50
DEFAULT_MAX_PAGES = 40  # 2,000 events, 20 s at 2 requests/s


class RateLimiter:
    """At most ``rate`` acquisitions per second (evenly spaced); thread-safe.

    ``clock`` (seconds, monotonic) and ``sleep`` are injectable so tests run instantly.
    """

    def __init__(
        self,
        rate: float = LOOKUP_RATE_PER_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for the next slot; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            wait = max(0.0, self._next - now)
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self.sleep(wait)
        return wait


_LIMITERS: dict[tuple[str | None, str | None], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def lookup_limiter(location: Location) -> RateLimiter:
    """The process-wide LookupEvents limiter of one account and Region."""
    with _LIMITERS_LOCK:
        key = (location.account, location.region)
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter()
        return _LIMITERS[key]


class CloudTrailLookup(LocatedWrapper):
    """LookupEvents in one account and Region.

    ``truncated`` tells whether the last lookup stopped at ``max_pages`` before the end.

    Raises (from every method):
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service = SERVICE

    def __init__(
        self,
        client: Any,
        *,
        location: Location | None = None,
        limiter: RateLimiter | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(client, location=location)
        self.limiter = limiter or lookup_limiter(self.location)
        self.max_pages = max_pages
        self.truncated = False
        self.calls = 0

    def lookup(
        self, attribute_key: str, attribute_value: str, start: datetime, end: datetime
    ) -> list[CloudTrailRecord]:
        """Events with one lookup attribute (``ReadOnly``, ``ResourceName``, ``EventSource``...)
        in ``[start, end)``, ascending time. Events whose record cannot be parsed are skipped."""
        request: dict[str, Any] = {
            "LookupAttributes": [
                {"AttributeKey": attribute_key, "AttributeValue": attribute_value}
            ],
            "StartTime": to_utc(start),
            "EndTime": to_utc(end),
            "MaxResults": MAX_RESULTS,
        }
        records: dict[str, CloudTrailRecord] = {}
        token: str | None = None
        self.truncated = False
        for page_no in range(self.max_pages):
            self.limiter.acquire()
            self.calls += 1
            page = self._call(
                "LookupEvents",
                self.client.lookup_events,
                **request,
                **({"NextToken": token} if token else {}),
            )
            for event in page.get("Events", []):
                record = _record(event)
                if record is not None and to_utc(start) <= record.eventTime < to_utc(end):
                    records[record.eventID] = record
            token = page.get("NextToken")
            if not token:
                break
            if page_no == self.max_pages - 1:
                self.truncated = True
                log.warning(
                    "CloudTrail lookup in %s stopped after %d pages (%d events); narrow the window",
                    self.location.label(),
                    self.max_pages,
                    len(records),
                )
        return sorted(records.values(), key=lambda r: (r.eventTime, r.eventID))

    def write_events(self, start: datetime, end: datetime) -> list[CloudTrailRecord]:
        """Management write events (``ReadOnly=false``) in ``[start, end)``, ascending time."""
        return [r for r in self.lookup("ReadOnly", "false", start, end) if r.is_write]


def _record(event: dict[str, Any]) -> CloudTrailRecord | None:
    raw = event.get("CloudTrailEvent")
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
        if not isinstance(data, dict):
            data = {
                "eventID": event["EventId"],
                "eventTime": event["EventTime"],
                "eventSource": event["EventSource"],
                "eventName": event["EventName"],
                "readOnly": str(event.get("ReadOnly", "")).lower() == "true",
            }
        return CloudTrailRecord.from_raw(data)
    except (json.JSONDecodeError, KeyError, ValidationError):
        log.info("skipping an unparseable CloudTrail event %s", event.get("EventId"))
        return None
