"""Spans from AWS for one account and Region: X-Ray traces, or CloudWatch Transaction Search.

The one entry point (:func:`read_spans`) of ``rca capture`` (written to ``spans.csv``) and the
``traces`` tool in the AWS world (read live through
:meth:`tools.telemetry.aws.AwsBackend.span_reads`). The readers and converters live in
:mod:`tools.aws.xray` and :mod:`tools.aws.transaction_search`; the shapes they share
(:class:`~tools.aws.span_rows.SpanLimits`, :class:`~tools.aws.span_rows.SpanRead`, the row
columns) in :mod:`tools.aws.span_rows`.

**Which source** (:func:`choose_source`): with Transaction Search enabled, X-Ray stores spans in
the ``aws/spans`` log group and "You cannot find traces through [BatchGetTraces] if Transaction
Search is enabled since trace is not indexed in X-Ray" (BatchGetTraces API reference); only a
share of spans (1% by default) is indexed as trace summaries (Enable Transaction Search, CloudWatch
user guide). So ``auto`` uses Transaction Search when ``aws/spans`` exists (DescribeLogGroups),
else X-Ray. ``RCA_SPAN_SOURCE`` (``auto`` | ``xray`` | ``transaction-search`` | ``none``) or
:attr:`~tools.aws.span_rows.SpanLimits.source` overrides it.

A failing source (access denied, throttled, a failed query) is not raised: the read returns what
it has and one gap line per failure, so the ``traces`` tool can say what it could not check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tools.aws.errors import AwsError
from tools.aws.logs_insights import LogsInsights
from tools.aws.session import Location
from tools.aws.span_rows import SpanLimits, SpanRead
from tools.aws.transaction_search import SPAN_LOG_GROUP, transaction_search_spans
from tools.aws.xray import xray_spans
from tools.models import TimeWindow

log = logging.getLogger(__name__)


def choose_source(limits: SpanLimits, insights: LogsInsights | None, group: str) -> str:
    """The span source to read: the configured one, or for ``auto`` Transaction Search when
    ``group`` (``aws/spans``) exists, else X-Ray. An error while looking (access denied to
    DescribeLogGroups) falls back to X-Ray."""
    if limits.source != "auto":
        return limits.source
    if insights is None:
        return "xray"
    try:
        return "transaction-search" if group in insights.existing_groups([group]) else "xray"
    except AwsError as exc:
        log.info("cannot tell whether %s exists (%s); reading X-Ray", group, exc)
        return "xray"


def read_spans(
    window: TimeWindow,
    limits: SpanLimits,
    *,
    xray_client: Callable[[], Any],
    insights: Callable[[], LogsInsights],
    location: Location | None = None,
    group: str = SPAN_LOG_GROUP,
) -> SpanRead:
    """Spans of ``window`` in one account and Region from the source :func:`choose_source`
    picks (clients are built lazily, only for the source used)."""
    if limits.source == "none":
        return SpanRead(source="none", gaps=["span reading is turned off (RCA_SPAN_SOURCE=none)"])
    logs = insights() if limits.source in ("auto", "transaction-search") else None
    source = choose_source(limits, logs, group)
    if source == "transaction-search" and logs is not None:
        return transaction_search_spans(logs, window, limits, group=group)
    return xray_spans(xray_client(), window, limits, location=location)
