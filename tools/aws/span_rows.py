"""Span rows from AWS: the shared shapes of one span read, and what every source's rows share.

:mod:`tools.aws.xray` (X-Ray trace segments) and :mod:`tools.aws.transaction_search`
(CloudWatch Transaction Search, ``aws/spans``) convert their source's spans into rows with the
columns :data:`tools.bundle.SPAN_COLUMNS` plus :data:`tools.bundle.SPAN_OPTIONAL_COLUMNS`
(``trace_id``, ``span_id``, ``parent_id``, ``service``, ``instance``, ``operation``, ``kind``,
``start_ns`` and ``duration_ns`` as integer nanoseconds since the Unix epoch (UTC),
``status_code``, ``status``, ``peer_service``); :func:`tools.aws.spans.read_spans` picks the
source. The same rows feed ``rca capture`` (``spans.csv``) and the live ``traces`` tool.

Span text (service, operation, instance names) is untrusted: every string is redacted with
:func:`tools.redact.redact` and cut to :data:`MAX_TEXT_CHARS` (:func:`span_text`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import Field

from tools.aws.errors import AwsError
from tools.aws.logs_insights import MAX_ROWS_PER_PAGE
from tools.models import Model
from tools.redact import redact

MAX_TEXT_CHARS = 200
SpanSourceName = Literal["auto", "xray", "transaction-search", "none"]
SOURCES: tuple[str, ...] = ("auto", "xray", "transaction-search", "none")


class SpanLimits(Model):
    """Bounds of one span read (per call of :func:`tools.aws.spans.read_spans`)."""

    source: SpanSourceName = Field(
        default="auto", description="auto: Transaction Search when aws/spans exists, else X-Ray"
    )
    max_traces: int = Field(default=200, ge=1, le=5000, description="X-Ray traces read")
    max_summary_pages: int = Field(default=20, ge=1, le=400, description="GetTraceSummaries")
    max_spans: int = Field(default=MAX_ROWS_PER_PAGE, ge=1, le=MAX_ROWS_PER_PAGE)
    filter_expression: str | None = Field(
        default=None, max_length=2000, description="X-Ray filter expression (optional)"
    )

    @classmethod
    def from_env(cls) -> SpanLimits:
        """Defaults, with ``RCA_SPAN_SOURCE`` when set.

        Raises:
            ValueError: ``RCA_SPAN_SOURCE`` is not one of :data:`SOURCES`.
        """
        value = os.environ.get("RCA_SPAN_SOURCE", "").strip().lower()
        if not value:
            return cls()
        if value not in SOURCES:
            raise ValueError(f"RCA_SPAN_SOURCE={value!r}: use one of {', '.join(SOURCES)}")
        return cls(source=value)  # type: ignore[arg-type]


class SpanRead(Model):
    """What one span read produced: rows (dicts of span columns) and its provenance.

    ``sampling``: ``rate`` is the share of the source's traces (X-Ray: of the trace summaries
    found; Transaction Search: of the spans) that was kept, ``recording_rate`` is always None
    (unknown, see the notes). ``gaps``: what could not be read, one line each; ``failed``: an
    AWS call failed (access denied, throttled, a failed query), so a later read may do better.
    """

    source: str
    location: str = ""
    rows: list[dict[str, Any]] = Field(default_factory=list)
    traces: int = 0
    calls: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    gaps: list[str] = Field(default_factory=list)
    failed: bool = False


def span_text(value: Any) -> str:
    """Untrusted span text: redacted, one line, at most :data:`MAX_TEXT_CHARS`; ``""`` for None."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return redact(text)[:MAX_TEXT_CHARS]


def gap_line(source: str, exc: AwsError) -> str:
    """The gap line of a span source whose read failed (``source`` names it, e.g. ``X-Ray``)."""
    return f"{source} spans not read: {exc}"


def name_services(
    rows: Sequence[dict[str, Any]], resolve: Callable[[str], str | None]
) -> dict[str, str]:
    """Rename ``service`` / ``peer_service`` of ``rows`` in place to workspace element names
    where ``resolve`` (name or alias -> element name, None when unknown) knows them; returns the
    renames made ``{source name: element name}``."""
    renamed: dict[str, str] = {}
    cache: dict[str, str | None] = {}
    for row in rows:
        for key in ("service", "peer_service"):
            name = row.get(key) or ""
            if not name:
                continue
            if name not in cache:
                cache[name] = resolve(name)
            target = cache[name]
            if target and target != name:
                row[key] = target
                renamed[name] = target
    return renamed


def to_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame with the bundle's span columns (required and optional)."""
    import pandas as pd

    from tools.bundle import SPAN_COLUMNS, SPAN_OPTIONAL_COLUMNS

    columns = [*SPAN_COLUMNS, *SPAN_OPTIONAL_COLUMNS]
    frame = pd.DataFrame(list(rows), columns=columns)
    for column in columns:
        if column not in ("start_ns", "duration_ns"):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "").astype(str)
    for column in ("start_ns", "duration_ns"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def read_window_label(read: SpanRead) -> str:
    """One line saying where spans came from (source, location, traces, spans, share kept)."""
    rate = read.sampling.get("rate")
    share = f", {rate:.1%} of the source's traces" if isinstance(rate, float) and rate < 1 else ""
    name = {"xray": "AWS X-Ray", "transaction-search": "CloudWatch Transaction Search"}.get(
        read.source, read.source
    )
    return f"{name} in {read.location}: {read.traces} traces, {len(read.rows)} spans{share}"
