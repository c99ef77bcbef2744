"""CloudWatch Logs Insights: run bounded aggregate queries to completion.

API facts this wrapper relies on (AWS API reference, mirrored in botocore's service model):

- StartQuery ``startTime`` / ``endTime`` are epoch **seconds**, both inclusive; so the half-open
  window ``[start, end)`` is sent as ``startTime=floor(start)``, ``endTime=ceil(end) - 1``.
  ``logGroupNames`` takes at most **50** log groups: larger sets are split and merged.
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html
- GetQueryResults ``status`` is one of Scheduled, Running, Complete, Failed, Cancelled, Timeout,
  Unknown; while Running it returns the partial results so far; ``statistics`` carries
  ``recordsMatched``, ``recordsScanned``, ``bytesScanned``; pages of up to 10,000 rows follow
  ``nextToken``. StopQuery ends a running query.
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html
- Concurrency: "You are limited to 100 concurrent CloudWatch Logs Insights QL [queries] per
  account, including queries added to dashboards" (user guide, Analyzing log data with CloudWatch
  Logs Insights, https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AnalyzingLogData.html;
  older API reference pages still say 30). The quota is shared with people and dashboards, so a
  process holds at most :data:`DEFAULT_MAX_CONCURRENT` queries per account and Region (a
  semaphore); StartQuery's ``LimitExceededException`` is retried by botocore's retry mode.
- ``queryString`` is at most **10,000** characters (botocore model ``QueryString`` max 10000):
  every query passes :func:`check_query`; pattern literals are cut to
  :data:`MAX_LITERAL_CHARS` (a cut literal is still a substring for ``strcontains``) and a set
  of literals whose query would be longer is split over several queries.
- Log groups of a linked source account (CloudWatch cross-account observability, queried from
  the monitoring account) are named by ARN in ``logGroupIdentifiers`` ("If a log group that
  you're querying is in a source account and you're using a monitoring account, you must
  specify the ARN of the log group here"; the ARN "can't end with an asterisk").
- StopQuery is sent on every abnormal exit of the wait (interrupt, timeout, a failing
  GetQueryResults call), so no query keeps running and holding the account's concurrency.
- Queries time out server-side after 60 minutes; this wrapper stops a query after
  ``timeout_s`` (StopQuery) and returns what it has, marked ``partial``.

Query commands:

- ``pattern @message`` clusters events into patterns; output fields ``@pattern`` (dynamic tokens
  shown as ``<*>`` or ``<Name-n>``), ``@ratio``, ``@sampleCount`` (events matching the pattern),
  ``@severityLabel``. https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Pattern.html
  and https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData_Patterns.html
- ``pattern @message | diff`` compares the patterns of the queried range with the immediately
  preceding range of equal length ("Queries using comparisons incur charges similar to running a
  single CloudWatch Logs Insights query over the combined time range").
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Diff.html and
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData_Compare.html
  The documentation does not list diff's output field names; :func:`parse_patterns` reads the
  current count from ``@currentCount`` or ``@sampleCount`` and the previous one from
  ``@previousCount`` or ``@previousSampleCount``, and reports when no previous count was found so
  the caller can fall back to a second ``pattern`` query over the baseline.
- ``pattern`` and ``diff`` are not available for log groups in the Infrequent Access class
  (CWL_QuerySyntax): such a query fails with :class:`~tools.aws.errors.QueryError`.
- Per-pattern counts per time bin: ``strcontains(str, searchValue)`` (1 or 0), arithmetic in
  ``fields``, and ``stats count(*), min(@timestamp), earliest(@message) by ..., bin(60s)``
  (CWL_QuerySyntax-operations-functions, CWL_QuerySyntax-Stats).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from tools.aws.errors import QueryError
from tools.aws.session import LocatedWrapper, Location
from tools.models import Model

log = logging.getLogger(__name__)

SERVICE = "CloudWatch Logs"
MAX_LOG_GROUPS_PER_QUERY = 50
DEFAULT_MAX_CONCURRENT = 10
DEFAULT_TIMEOUT_S = 120.0
MAX_ROWS_PER_PAGE = 10_000
TERMINAL = frozenset(["Complete", "Failed", "Cancelled", "Timeout", "Unknown"])
PATTERN_QUERY = "pattern @message"
DIFF_QUERY = "pattern @message | diff"
MAX_BINNED_PATTERNS = 8
MIN_LITERAL = 4
MAX_QUERY_CHARS = 10_000
MAX_LITERAL_CHARS = 1500

CURRENT_FIELDS = ("@currentCount", "@currentSampleCount", "@sampleCount")
PREVIOUS_FIELDS = ("@previousCount", "@previousSampleCount", "@baselineCount")
# a dynamic token of a `pattern` template: `<*>`, or an inferred `<Name-n>` (n: its rank)
DYNAMIC_TOKEN = re.compile(r"<\*>|<[A-Za-z][A-Za-z0-9_]*-\d+>")

_SLOTS: dict[tuple[str | None, str | None], threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def query_slots(location: Location, size: int = DEFAULT_MAX_CONCURRENT) -> threading.Semaphore:
    """The process-wide semaphore bounding concurrent queries in one account and Region."""
    with _SLOTS_LOCK:
        key = (location.account, location.region)
        if key not in _SLOTS:
            _SLOTS[key] = threading.BoundedSemaphore(size)
        return _SLOTS[key]


def epoch_seconds(start: datetime, end: datetime) -> tuple[int, int]:
    """``(startTime, endTime)`` in epoch seconds for the half-open window ``[start, end)``."""
    first = math.floor(start.timestamp())
    last = math.ceil(end.timestamp()) - 1
    return first, max(first, last)


def parse_insights_time(value: str) -> datetime:
    """Parse a Logs Insights timestamp (``2026-03-17 16:22:30.123``, UTC), an ISO 8601 string or
    epoch milliseconds (digits only) into an aware UTC datetime.

    Raises:
        ValueError: none of these forms.
    """
    text = value.strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    raise ValueError(f"not a Logs Insights timestamp: {value!r}")


class QueryStatistics(Model):
    """``statistics`` of GetQueryResults: counts of log events and bytes (scanned = billed)."""

    records_matched: float = 0.0
    records_scanned: float = 0.0
    bytes_scanned: float = 0.0

    def __add__(self, other: QueryStatistics) -> QueryStatistics:
        return QueryStatistics(
            records_matched=self.records_matched + other.records_matched,
            records_scanned=self.records_scanned + other.records_scanned,
            bytes_scanned=self.bytes_scanned + other.bytes_scanned,
        )


class QueryResult(Model):
    """One finished (or stopped) query: rows as ``{field: value}`` dicts without ``@ptr``.

    ``partial`` is true unless the status is Complete: a client-side timeout (stopped, status
    ``Timeout``), a server timeout, a cancellation, or Unknown; rows are then what was returned.
    """

    query_id: str
    query: str
    log_groups: list[str]
    start: datetime
    end: datetime
    status: str
    rows: list[dict[str, str]] = Field(default_factory=list)
    statistics: QueryStatistics = Field(default_factory=QueryStatistics)
    partial: bool = False
    polls: int = 0


class InsightsPattern(Model):
    """One ``pattern`` row: template, count in the queried range, previous count (``diff``)."""

    pattern: str
    count: int
    previous_count: int | None = None
    ratio: float | None = None
    severity: str | None = None


class PatternBins(Model):
    """Counts of one pattern per bin start (UTC), its first occurrence and a few raw samples."""

    counts: dict[datetime, int] = Field(default_factory=dict)
    first_seen: datetime | None = None
    samples: list[str] = Field(default_factory=list)


def _number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_patterns(rows: Sequence[dict[str, str]]) -> tuple[list[InsightsPattern], bool]:
    """Rows of a ``pattern`` or ``pattern | diff`` query -> patterns, and whether any row had a
    previous-period count (only ``diff`` rows do)."""
    patterns: list[InsightsPattern] = []
    saw_previous = False
    for row in rows:
        text = row.get("@pattern")
        if text is None:
            continue
        current = next((_number(row.get(f)) for f in CURRENT_FIELDS if f in row), None)
        previous = next((_number(row.get(f)) for f in PREVIOUS_FIELDS if f in row), None)
        saw_previous = saw_previous or previous is not None
        patterns.append(
            InsightsPattern(
                pattern=text,
                count=int(current or 0),
                previous_count=None if previous is None else int(previous),
                ratio=_number(row.get("@ratio")),
                severity=row.get("@severityLabel") or None,
            )
        )
    return patterns, saw_previous


def check_query(query: str) -> str:
    """``query`` when it fits the 10,000-character limit of StartQuery's ``queryString``.

    Raises:
        QueryError: the query is longer (the caller splits or shortens it).
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"Logs Insights query of {len(query)} characters exceeds the {MAX_QUERY_CHARS}-"
            "character limit",
            service=SERVICE,
            operation="StartQuery",
            code="QueryTooLong",
        )
    return query


def log_group_arn(name: str, account: str, region: str, partition: str = "aws") -> str:
    """The ARN of a log group, without the trailing ``:*`` StartQuery refuses."""
    return f"arn:{partition}:logs:{region}:{account}:log-group:{name}"


def bin_expr(bin_s: int) -> str:
    """``bin()`` argument for a width in seconds: minutes (or hours) when whole, as Logs
    Insights writes them (``bin(5m)``); seconds otherwise."""
    if bin_s % 3600 == 0:
        return f"{bin_s // 3600}h"
    if bin_s % 60 == 0:
        return f"{bin_s // 60}m"
    return f"{bin_s}s"


def literal_of(template: str) -> str | None:
    """The longest fixed text of a pattern (between dynamic tokens), usable in ``strcontains``.

    Quotes, backslashes and line breaks are cut out (no escaping needed); None when nothing of
    at least :data:`MIN_LITERAL` characters remains.
    """
    parts = [p for seg in DYNAMIC_TOKEN.split(template) for p in re.split(r"[\"\\\r\n\t]", seg)]
    best = max((p.strip() for p in parts), key=len, default="")[:MAX_LITERAL_CHARS].strip()
    return best if len(best) >= MIN_LITERAL else None


def bins_query(literals: Sequence[str], bin_s: int) -> str:
    """A query counting, per bin of ``bin_s`` seconds, the events containing each literal.

    Pattern ``i`` gets id ``2**i``; an event containing several literals gets a sum that is no
    power of two and is left out (rare with the longest literal of each pattern).
    """
    flags = ", ".join(
        f'strcontains(@message, "{lit}") as rca_p{i}' for i, lit in enumerate(literals)
    )
    pid = " + ".join(f"rca_p{i} * {2**i}" for i in range(len(literals)))
    return (
        f"fields {flags}\n"
        f"| fields {pid} as rca_pid\n"
        "| filter rca_pid > 0\n"
        "| stats count(*) as rca_n, min(@timestamp) as rca_first, earliest(@message) as "
        f"rca_sample by rca_pid, bin({bin_expr(bin_s)})"
    )


def literal_batches(literals: Sequence[str], bin_s: int) -> list[list[str]]:
    """``literals`` split into consecutive batches whose :func:`bins_query` fits the limit."""
    batches: list[list[str]] = []
    for literal in literals:
        if batches and len(bins_query([*batches[-1], literal], bin_s)) <= MAX_QUERY_CHARS:
            batches[-1].append(literal)
        else:
            batches.append([literal])
    return batches


class LogsInsights(LocatedWrapper):
    """CloudWatch Logs Insights for one account and Region.

    ``client`` is a boto3 ``logs`` client (or a stand-in); ``sleep`` and ``clock`` (seconds,
    monotonic) are injectable for tests. ``timeout_s`` bounds one query's wall time.

    Raises (from every method):
        QueryError: the query was malformed, unsupported (Infrequent Access) or failed.
        NotFoundError: a log group does not exist.
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service = SERVICE

    def __init__(
        self,
        client: Any,
        *,
        location: Location | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        poll_s: float = 0.5,
        max_poll_s: float = 4.0,
        slots: threading.Semaphore | None = None,
    ) -> None:
        super().__init__(client, location=location)
        self.sleep = sleep
        self.clock = clock
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.max_poll_s = max_poll_s
        self.slots = slots or query_slots(self.location)

    # ------------------------------------------------------------------ core
    def run(
        self,
        query: str,
        log_groups: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        limit: int | None = None,
    ) -> QueryResult:
        """Run ``query`` over ``[start, end)`` on 1-50 log groups and wait for it to finish.

        ``log_groups`` are names, or ARNs (linked source accounts; sent as
        ``logGroupIdentifiers``). Holds one slot of the account's query semaphore while the
        query runs; any abnormal exit while waiting (``KeyboardInterrupt``, an error) stops the
        query (StopQuery) and propagates.

        Raises:
            QueryError: also when ``query`` exceeds :data:`MAX_QUERY_CHARS` (nothing is sent).
        """
        groups = list(log_groups)
        if not 1 <= len(groups) <= MAX_LOG_GROUPS_PER_QUERY:
            raise ValueError(
                f"a query takes 1-{MAX_LOG_GROUPS_PER_QUERY} log groups, not {len(groups)}"
            )
        first, last = epoch_seconds(start, end)
        by_arn = any(g.startswith("arn:") for g in groups)
        request: dict[str, Any] = {
            "logGroupIdentifiers" if by_arn else "logGroupNames": groups,
            "startTime": first,
            "endTime": last,
            "queryString": check_query(query),
        }
        if limit is not None:
            request["limit"] = limit
        with self.slots:
            query_id = self._call("StartQuery", self.client.start_query, **request)["queryId"]
            try:
                return self._wait(query_id, query, groups, start, end)
            except BaseException as exc:  # interrupt, a failing poll: never leave it running
                if not (isinstance(exc, QueryError) and exc.code == "Failed"):  # already ended
                    self.stop(query_id)
                raise

    def stop(self, query_id: str) -> None:
        """StopQuery; a query that already ended is not an error."""
        try:
            self.client.stop_query(queryId=query_id)
        except (ClientError, BotoCoreError) as exc:
            log.info("StopQuery %s: %s", query_id, exc)

    def _wait(
        self, query_id: str, query: str, groups: list[str], start: datetime, end: datetime
    ) -> QueryResult:
        deadline = self.clock() + self.timeout_s
        delay = self.poll_s
        polls = 0
        while True:
            self.sleep(delay)
            delay = min(self.max_poll_s, delay * 1.5)
            response = self._call(
                "GetQueryResults", self.client.get_query_results, queryId=query_id
            )
            polls += 1
            status = str(response.get("status", "Unknown"))
            if status in TERMINAL:
                break
            if self.clock() >= deadline:
                self.stop(query_id)
                log.warning(
                    "Logs Insights query %s stopped after %.0f s (%s); using partial results",
                    query_id,
                    self.timeout_s,
                    status,
                )
                return self._result(query_id, query, groups, start, end, response, "Timeout", polls)
        if status == "Failed":
            raise QueryError(
                f"Logs Insights query failed in {self.location.label()} on "
                f"{', '.join(groups)}: {query!r}; if a log group is in the Infrequent Access "
                "class, pattern and diff are not supported there",
                service=SERVICE,
                operation="GetQueryResults",
                code="Failed",
                account=self.location.account,
                region=self.location.region,
            )
        rows = list(response.get("results") or [])
        token = response.get("nextToken")
        while status == "Complete" and token:
            page = self._call(
                "GetQueryResults",
                self.client.get_query_results,
                queryId=query_id,
                nextToken=token,
            )
            polls += 1
            rows += page.get("results") or []
            token = page.get("nextToken")
        response = {**response, "results": rows}
        return self._result(query_id, query, groups, start, end, response, status, polls)

    @staticmethod
    def _result(
        query_id: str,
        query: str,
        groups: list[str],
        start: datetime,
        end: datetime,
        response: dict[str, Any],
        status: str,
        polls: int,
    ) -> QueryResult:
        stats = response.get("statistics") or {}
        rows = [
            {str(f["field"]): str(f.get("value", "")) for f in row if f.get("field") != "@ptr"}
            for row in response.get("results") or []
        ]
        return QueryResult(
            query_id=query_id,
            query=query,
            log_groups=groups,
            start=start,
            end=end,
            status=status,
            rows=rows,
            statistics=QueryStatistics(
                records_matched=float(stats.get("recordsMatched", 0.0)),
                records_scanned=float(stats.get("recordsScanned", 0.0)),
                bytes_scanned=float(stats.get("bytesScanned", 0.0)),
            ),
            partial=status != "Complete",
            polls=polls,
        )

    # ------------------------------------------------------------ patterns
    def patterns(
        self, log_groups: Sequence[str], start: datetime, end: datetime, *, diff: bool
    ) -> tuple[list[InsightsPattern], bool, QueryResult]:
        """``pattern @message`` (or ``... | diff`` against the previous equal period) over
        ``[start, end)``; returns the patterns, whether previous counts were present, and the
        query result (statistics, partial flag)."""
        result = self.run(DIFF_QUERY if diff else PATTERN_QUERY, log_groups, start, end)
        patterns, saw_previous = parse_patterns(result.rows)
        return patterns, saw_previous, result

    def pattern_bins(
        self,
        log_groups: Sequence[str],
        start: datetime,
        end: datetime,
        templates: Sequence[str],
        bin_s: int = 60,
    ) -> tuple[dict[str, PatternBins], QueryResult | None]:
        """Per-bin counts, first occurrence and samples of up to :data:`MAX_BINNED_PATTERNS`
        templates, in one query. Templates without a usable literal are left out."""
        literals: dict[str, str] = {}
        for template in templates:
            lit = literal_of(template)
            if lit and lit not in literals.values():
                literals[template] = lit
            if len(literals) == MAX_BINNED_PATTERNS:
                break
        if not literals:
            return {}, None
        order = list(literals)
        out: dict[str, PatternBins] = {t: PatternBins() for t in order}
        bin_field = f"bin({bin_expr(bin_s)})"
        total: QueryResult | None = None
        done = 0
        for batch in literal_batches([literals[t] for t in order], bin_s):
            templates_of_batch = order[done : done + len(batch)]
            done += len(batch)
            result = self.run(
                bins_query(batch, bin_s), log_groups, start, end, limit=MAX_ROWS_PER_PAGE
            )
            _collect(result, templates_of_batch, out, bin_field)
            total = result if total is None else _combine(total, result)
        return out, total

    def existing_groups(self, log_groups: Sequence[str]) -> set[str]:
        """Which of ``log_groups`` exist: names by DescribeLogGroups ``logGroupNamePrefix`` (one
        call each); ARNs of linked source accounts by ``logGroupIdentifiers`` (50 per call),
        matched on ``logGroupArn`` without its ``:*`` suffix."""
        found: set[str] = set()
        arns = [g for g in log_groups if g.startswith("arn:")]
        for group in (g for g in log_groups if not g.startswith("arn:")):
            response = self._call(
                "DescribeLogGroups",
                self.client.describe_log_groups,
                logGroupNamePrefix=group,
                limit=1,
            )
            if any(g.get("logGroupName") == group for g in response.get("logGroups", [])):
                found.add(group)
        for start in range(0, len(arns), MAX_LOG_GROUPS_PER_QUERY):
            batch = arns[start : start + MAX_LOG_GROUPS_PER_QUERY]
            response = self._call(
                "DescribeLogGroups",
                self.client.describe_log_groups,
                logGroupIdentifiers=batch,
            )
            listed = {
                str(g.get("logGroupArn", "")).removesuffix(":*")
                for g in response.get("logGroups", [])
            }
            found |= {arn for arn in batch if arn in listed}
        return found


def _collect(
    result: QueryResult, order: list[str], out: dict[str, PatternBins], bin_field: str
) -> None:
    """Add the rows of one bins query (pattern ids relative to ``order``) to ``out``."""
    for row in sorted(result.rows, key=lambda r: r.get(bin_field, "")):
        pid = int(_number(row.get("rca_pid")) or 0)
        if pid <= 0 or pid & (pid - 1):
            continue
        index = pid.bit_length() - 1
        if index >= len(order):
            continue
        bins = out[order[index]]
        try:
            when = parse_insights_time(row[bin_field])
        except (KeyError, ValueError):
            continue
        bins.counts[when] = bins.counts.get(when, 0) + int(_number(row.get("rca_n")) or 0)
        first = row.get("rca_first")
        if first:
            seen = parse_insights_time(first)
            if bins.first_seen is None or seen < bins.first_seen:
                bins.first_seen = seen
        sample = row.get("rca_sample")
        if sample and len(bins.samples) < 3 and sample not in bins.samples:
            bins.samples.append(sample)


def _combine(left: QueryResult, right: QueryResult) -> QueryResult:
    """One result standing for two queries: statistics summed, partial if either was."""
    return left.model_copy(
        update={
            "query_id": f"{left.query_id},{right.query_id}",
            "statistics": left.statistics + right.statistics,
            "partial": left.partial or right.partial,
            "polls": left.polls + right.polls,
        }
    )


def bin_index(when: datetime, start: datetime, bin_s: int, n_bins: int) -> int:
    """Index of the bin of width ``bin_s`` seconds (from ``start``) that holds ``when``."""
    offset = (when - start) / timedelta(seconds=1)
    return min(max(int(offset // bin_s), 0), n_bins - 1)
