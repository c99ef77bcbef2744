"""CloudWatch Logs FilterLogEvents: raw log events of a log group (used by ``rca capture``).

FilterLogEvents takes ``startTime`` / ``endTime`` in epoch **milliseconds**, returns up to
``limit`` events (default and maximum 10,000) per page and a ``nextToken`` while more remain; a
page may hold fewer events than asked even when more exist.
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html

To bound volume without losing the shape over time, :meth:`LogEvents.sample` splits the span
into equal slices and keeps at most ``per_slice`` events of each (the first ones of the slice):
counts inside a truncated slice are lower than reality, and the capture notes which slices were
truncated in ``incident.yaml``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from tools.aws.session import LocatedWrapper
from tools.bundle import LogRecord, epoch_micros
from tools.models import Model, to_utc

SERVICE = "CloudWatch Logs"
MAX_LIMIT = 10_000


class SampledEvents(Model):
    """Events of one log group with what the sampling dropped."""

    log_group: str
    records: list[LogRecord] = Field(default_factory=list)
    slices: int = 0
    truncated_slices: int = 0
    calls: int = 0


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch (UTC; a naive ``value`` is read as UTC), floored, exact."""
    return epoch_micros(to_utc(value)) // 1000


class LogEvents(LocatedWrapper):
    """FilterLogEvents in one account and Region.

    Raises:
        NotFoundError: the log group does not exist.
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service = SERVICE

    def events(
        self, log_group: str, start: datetime, end: datetime, limit: int
    ) -> tuple[list[LogRecord], bool, int]:
        """Up to ``limit`` events of ``[start, end)`` in time order; returns ``(records,
        truncated, calls)`` where ``truncated`` means more events remained."""
        records: list[LogRecord] = []
        token: str | None = None
        calls = 0
        while len(records) < limit:
            page = self._call(
                "FilterLogEvents",
                self.client.filter_log_events,
                logGroupName=log_group,
                startTime=epoch_ms(start),
                endTime=epoch_ms(end) - 1,
                limit=min(MAX_LIMIT, limit - len(records)),
                **({"nextToken": token} if token else {}),
            )
            calls += 1
            for event in page.get("events", []):
                records.append(
                    LogRecord(
                        timestamp=datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC),
                        message=str(event.get("message", ""))[: 256 * 1024],
                        stream=str(event.get("logStreamName", "")),
                    )
                )
            token = page.get("nextToken")
            if not token:
                return records[:limit], False, calls
        return records[:limit], True, calls

    def sample(
        self, log_group: str, start: datetime, end: datetime, max_events: int, slices: int = 24
    ) -> SampledEvents:
        """At most ``max_events`` events of ``[start, end)``: the first ``max_events / slices``
        of each of ``slices`` equal time slices."""
        per_slice = max(1, max_events // slices)
        span = (end - start) / slices
        out = SampledEvents(log_group=log_group, slices=slices)
        for i in range(slices):
            lo, hi = start + span * i, (start + span * (i + 1) if i < slices - 1 else end)
            records, truncated, calls = self.events(log_group, lo, hi, per_slice)
            out.records += records
            out.truncated_slices += int(truncated)
            out.calls += calls
        return out
