"""Domain models shared by the RCA tools: time windows, components and evidence.

All times are timezone-aware UTC ``datetime`` values; durations are seconds unless a field name
says otherwise (``*_ms``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.redact import redact


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


MIN_YEAR, MAX_YEAR = 1000, 2200
"""Times outside these years are refused as input (telemetry cannot be from then, and window
arithmetic near ``datetime.min``/``max`` would overflow)."""
EPOCH_MS_MIN = 100_000_000_000
"""Smallest accepted epoch number: numbers are epoch *milliseconds* (CloudWatch's unit), and a
value below 1e11 (1973-03-03 in milliseconds) is almost surely epoch *seconds*; it is refused
with advice rather than read as a date in January 1970."""
EPOCH_MS_MAX = 7_258_118_400_000  # 2200-01-01 in milliseconds; above: micro- or nanoseconds


def parse_time(value: Any) -> datetime:
    """Parse an ISO 8601 string, epoch milliseconds (int/float) or datetime into aware UTC.

    Epoch numbers are milliseconds, decided explicitly: a number that is plausible only as
    seconds (below :data:`EPOCH_MS_MIN`) or as micro/nanoseconds (above :data:`EPOCH_MS_MAX`)
    is an error that says so, never a silently wrong date.

    Raises:
        ValueError: when the value cannot be read as a time, or (a number or a string read
            from input) lies outside the years :data:`MIN_YEAR` to :data:`MAX_YEAR`.
    """
    if isinstance(value, datetime):
        return to_utc(value)  # built by code (importers, generators), not read from input
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"not a time: {value!r}")
        if abs(number) < EPOCH_MS_MIN:
            raise ValueError(
                f"epoch number {value!r} looks like seconds, but epoch times here are "
                "milliseconds: multiply by 1000, or write ISO 8601 (2026-03-02T10:00:00Z)"
            )
        if number > EPOCH_MS_MAX:
            raise ValueError(
                f"epoch number {value!r} is after {MAX_YEAR} as milliseconds (micro- or "
                "nanoseconds?); epoch times here are milliseconds"
            )
        when = datetime.fromtimestamp(number / 1000.0, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            when = to_utc(datetime.fromisoformat(text))
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    else:
        raise ValueError(f"not a time: {value!r}")
    if not MIN_YEAR <= when.year < MAX_YEAR:
        raise ValueError(f"time {value!s} is outside {MIN_YEAR}-{MAX_YEAR}")
    return when


def iso(value: datetime) -> str:
    """Format a datetime as ISO 8601 UTC with a ``Z`` suffix, second precision."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class Model(BaseModel):
    """Base for boundary models: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TimeWindow(Model):
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> datetime:
        return parse_time(value)

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError(f"window end {iso(self.end)} is not after its start {iso(self.start)}")
        return self

    @property
    def seconds(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()

    def previous(self) -> TimeWindow:
        """The window of equal length that ends where this one starts (the default baseline)."""
        return TimeWindow(start=self.start - (self.end - self.start), end=self.start)

    def extend(self, before_s: float = 0.0, after_s: float = 0.0) -> TimeWindow:
        """A copy widened by ``before_s`` seconds at the start and ``after_s`` at the end."""
        return TimeWindow(
            start=self.start - timedelta(seconds=before_s),
            end=self.end + timedelta(seconds=after_s),
        )

    def contains(self, when: datetime) -> bool:
        """True when ``when`` lies in ``[start, end)``."""
        return self.start <= when < self.end

    def label(self) -> str:
        """Short human label, e.g. ``2026-05-04T10:00:00Z..2026-05-04T11:00:00Z``."""
        return f"{iso(self.start)}..{iso(self.end)}"


ToolName = Literal["architecture", "logs", "metrics", "changes", "traces"]


class Evidence(Model):
    """One fact a tool observed, with a stable id that hypotheses cite.

    ``id`` is ``E1``, ``E2``, ... in the order the investigation produced them. ``searched`` says
    what was looked at (log groups, metric names, event sources, query text) so that an empty
    result is honest about its scope. ``figures`` carries the numbers (counts, ratios, z-scores,
    seconds relative to onset) in SI units named in the key (``*_s`` seconds, ``*_pct`` percent).
    """

    id: str = Field(pattern=r"^E[1-9][0-9]*$")
    tool: ToolName
    kind: str = Field(
        description="e.g. log_pattern, metric_anomaly, alarm, change, topology, no_data"
    )
    component: str | None = Field(default=None, description="component id the evidence is about")
    edge: tuple[str, str] | None = Field(
        default=None, description="(source, destination) component ids when about a relationship"
    )
    summary: str
    searched: str
    window: TimeWindow | None = None
    time: datetime | None = Field(
        default=None, description="when the observed thing happened (UTC)"
    )
    figures: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(
        default_factory=dict, description="categorical facts: metric role, direction, event name"
    )
    samples: list[str] = Field(default_factory=list, description="redacted raw examples")
    partial: bool = Field(default=False, description="true when the source returned partial data")

    @field_validator("summary", "searched")
    @classmethod
    def _redact_text(cls, value: str) -> str:
        # The evidence boundary: whatever a tool quotes (log templates, CloudTrail actors and
        # parameters, alarm reasons, descriptions) is redacted before any model, store or report.
        return redact(value)

    @field_validator("samples")
    @classmethod
    def _redact_samples(cls, value: list[str]) -> list[str]:
        return [redact(v) for v in value]

    @field_validator("labels")
    @classmethod
    def _redact_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: redact(v) for k, v in value.items()}
