"""The incident bundle: a directory holding everything one investigation needs (format version 2;
version 1 bundles still load).

Layout::

    incident.yaml              IncidentSpec (below)
    workspace.json             Structurizr workspace JSON (C4); element properties map to telemetry
    logs/<quoted group>.jsonl  LogRecord per line; file name: urllib.parse.quote(group, safe="")
                               (``.jsonl.gz`` accepted), e.g. ``%2Faws%2Flambda%2Fbff.jsonl``
    metrics.csv                timestamp,namespace,metric,dimensions,value,unit (``.gz`` accepted)
                               timestamp ISO 8601 UTC; dimensions a JSON object of strings
    cloudtrail.jsonl           one CloudTrail record per line: the JSON LookupEvents returns
                               in ``CloudTrailEvent`` (eventTime, eventSource, eventName, ...)
    alarms.jsonl               optional AlarmStateChange per line
    spans.csv                  v2, optional: one span per row (:data:`SPAN_COLUMNS`)

Version 2 also adds optional LogRecord fields (``trace_id``, ``span_id``, ``event_key``) and
IncidentSpec fields (``alert_time``, ``reference_windows``, ``broken_series``).

Loading validates every file with pydantic and raises :class:`BundleError` naming the file, the
line and the field. Nothing is read lazily except log files, which are parsed per log group on
first use, once per bundle, into a :class:`LogTable` (columns; a record that is plainly valid is
checked without building the pydantic model, any other is validated by it, so errors are the
same).

Reading is bounded, whatever the input (a hostile or damaged bundle gets one clear error):

- only regular files are read: a FIFO, device, socket or directory where a file is expected is
  an error, and a symlink is followed only when its target stays inside the bundle;
- :data:`MAX_FILE_BYTES` per data file (after decompression; ``.gz`` files are counted as they
  are inflated, so a gzip bomb stops at the limit), :data:`MAX_BUNDLE_BYTES` for all files of
  one bundle together, :data:`MAX_LINE_BYTES` per line, :data:`MAX_SPEC_BYTES` for
  ``incident.yaml`` and :data:`MAX_WORKSPACE_BYTES` for ``workspace.json``;
- truncated or fake gzip, JSON nested too deep, CSV fields over :data:`MAX_LINE_BYTES`, YAML
  aliases (the "billion laughs" expansion) and timestamps outside the years 1000-2200 are errors;
- non-finite metric values (NaN, inf) are not used, and are reported in :attr:`Bundle.warnings`.

With these limits an ``rca`` process stays under the memory ceiling stated and measured in
``benchmarks/robustness.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import stat
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote

import yaml
from pydantic import Field, ValidationError, field_validator

from tools.errors import BundleError
from tools.models import Model, TimeWindow, iso, parse_time

BUNDLE_VERSION = 2
READABLE_VERSIONS = (1, 2)
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_id",
    "service",
    "instance",
    "operation",
    "kind",
    "start_ns",
    "duration_ns",
    "status_code",
)
"""Columns of ``spans.csv`` (v2): ids as strings, ``parent_id`` empty for a root span,
``start_ns`` epoch nanoseconds UTC, ``duration_ns`` nanoseconds, ``kind`` and ``status_code``
empty when the source lacks them."""
SPAN_OPTIONAL_COLUMNS = ("status", "peer_service")
"""Optional columns of ``spans.csv`` (empty when absent): ``status`` is the source's own outcome
word (X-Ray ``ok`` / ``error`` / ``throttle`` / ``fault``; OpenTelemetry ``unset`` / ``ok`` /
``error``) and ``peer_service`` the service a client span calls (OpenTelemetry ``peer.service``;
the name of an X-Ray subsegment of namespace ``aws`` or ``remote``), the only record of a call
into a component that writes no spans of its own (a managed service, a third party).
``status_code`` holds the HTTP status when the source records one, else ``FAULT`` / ``ERROR``
for a failing span."""
T = TypeVar("T")
MAX_LOG_LINE_BYTES = 256 * 1024  # CloudWatch Logs caps an event at 256 KiB
MAX_LINE_BYTES = 1024 * 1024
"""Longest line of a JSONL or CSV file (a log event's 256 KiB plus its JSON envelope)."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest data file (decompressed) of a bundle; ``rca capture`` samples logs to stay below."""
MAX_BUNDLE_BYTES = 192 * 1024 * 1024
"""All data files of one bundle together (decompressed)."""
MAX_SPEC_BYTES = 1024 * 1024
MAX_WORKSPACE_BYTES = 32 * 1024 * 1024


class GroundTruth(Model):
    """The known root cause of a replayed incident (for evaluation)."""

    component: str = Field(description="element id or name of the root-cause component")
    fault_kind: str = Field(description="e.g. network_config, deployment, cpu_contention")
    detail: str | None = None


class ReferenceWindow(Model):
    """A fault-free period the tools compare the incident window against (bundle v2).

    ``provenance``: ``adjacent`` is fault-free data next to the incident that ends a guard
    interval before the alert; ``historical`` is a fault-free period of another time (a
    baseline day). ``note`` says where it came from. Times are UTC, ``[start, end)``.
    """

    start: datetime
    end: datetime
    provenance: Literal["adjacent", "historical"]
    note: str = ""

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)

    @property
    def window(self) -> TimeWindow:
        """The period as a :class:`TimeWindow` (raises ValueError when empty)."""
        return TimeWindow(start=self.start, end=self.end)


class IncidentSpec(Model):
    """``incident.yaml``: what happened and when.

    ``window`` is the incident window (UTC). ``baseline`` is the healthy reference period the
    tools compare against; when omitted it is the period of equal length before ``window``.
    Bundle v2 adds ``alert_time`` (when the incident was noticed; UTC), ``reference_windows``
    (fault-free periods with provenance, see :class:`ReferenceWindow`) and ``broken_series``
    (metric series labels, ``Namespace/Metric[Dim=value,...]``, known to be broken at the
    source: the metrics tool skips them and lists them as not checked).
    """

    bundle_version: Literal[1, 2] = 1
    id: str = Field(min_length=1, max_length=200)
    title: str | None = None
    description: str = Field(min_length=1, description="the symptom as an on-call engineer says it")
    window: TimeWindow
    baseline: TimeWindow | None = None
    ground_truth: GroundTruth | None = None
    source: dict[str, Any] = Field(default_factory=dict, description="provenance (generator, seed)")
    alert_time: datetime | None = None
    reference_windows: list[ReferenceWindow] = Field(default_factory=list)
    broken_series: list[str] = Field(default_factory=list)

    @field_validator("alert_time", mode="before")
    @classmethod
    def _alert(cls, value: Any) -> datetime | None:
        return None if value is None else parse_time(value)

    @property
    def baseline_window(self) -> TimeWindow:
        """The explicit baseline, or the previous period of equal length."""
        return self.baseline or self.window.previous()


class LogRecord(Model):
    """One log event: ``timestamp`` (UTC; ISO 8601 or epoch ms on disk), ``message``, ``stream``.

    Bundle v2 optional fields: ``trace_id`` / ``span_id`` link the line to the span it was
    written in (rows of ``spans.csv``); ``event_key`` is the stable source location of the
    statement (e.g. ``logger#line``), never masked by template mining.
    """

    timestamp: datetime
    message: str = Field(max_length=MAX_LOG_LINE_BYTES)
    stream: str = ""
    trace_id: str | None = None
    span_id: str | None = None
    event_key: str | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)


_LOG_FIELDS = frozenset(LogRecord.model_fields)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class LogTable:
    """The records of one log group as columns, sorted by time (stable; the order of
    :meth:`Bundle.log_records`). Row ``i`` of every column is one record.

    Attributes:
        times: each record's ``timestamp`` (aware UTC datetime).
        micros: the same times as epoch microseconds (numpy int64 array), for window masks.
        messages, streams: ``message`` and ``stream`` texts.
        trace_ids, span_ids, event_keys: the optional bundle v2 fields (None when absent).
    """

    times: list[datetime]
    micros: Any
    messages: list[str]
    streams: list[str]
    trace_ids: list[str | None]
    span_ids: list[str | None]
    event_keys: list[str | None]

    def __len__(self) -> int:
        return len(self.times)

    def between(self, window: TimeWindow) -> Any:
        """Boolean numpy mask of the records in ``[window.start, window.end)``."""
        lo, hi = epoch_micros(window.start), epoch_micros(window.end)
        return (self.micros >= lo) & (self.micros < hi)

    def record(self, index: int) -> LogRecord:
        """Row ``index`` as a :class:`LogRecord` (built without a second validation)."""
        return LogRecord.model_construct(
            timestamp=self.times[index],
            message=self.messages[index],
            stream=self.streams[index],
            trace_id=self.trace_ids[index],
            span_id=self.span_ids[index],
            event_key=self.event_keys[index],
        )


def epoch_micros(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime (exact, an int)."""
    return (value - _EPOCH) // _MICROSECOND


def _plain_record(value: dict[str, Any]) -> tuple[Any, ...] | None:
    """The fields of a log record that certainly validates as it is (keys known, texts as
    strings, message within its limit, a readable time): ``(timestamp, message, stream,
    trace_id, span_id, event_key)``; None for anything else, which :class:`LogRecord`
    validation then accepts or rejects with its exact error."""
    if not _LOG_FIELDS.issuperset(value):
        return None
    message, stream = value.get("message"), value.get("stream", "")
    if type(message) is not str or type(stream) is not str:
        return None
    if len(message) > MAX_LOG_LINE_BYTES:
        return None
    ids = (value.get("trace_id"), value.get("span_id"), value.get("event_key"))
    if any(v is not None and type(v) is not str for v in ids):
        return None
    stamp = value.get("timestamp")
    if type(stamp) is not str:
        return None
    try:
        when = parse_time(stamp)
    except ValueError:
        return None
    return (when, message, stream, *ids)


class MetricPoint(Model):
    """One metric datapoint (a row of ``metrics.csv``)."""

    timestamp: datetime
    namespace: str
    metric: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    value: float
    unit: str = "None"

    @field_validator("timestamp", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)


class AlarmStateChange(Model):
    """One alarm state transition (the fields DescribeAlarmHistory ``StateUpdate`` items carry)."""

    alarm_name: str
    timestamp: datetime
    old_state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    new_state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    namespace: str | None = None
    metric: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)


class CloudTrailRecord(Model):
    """The CloudTrail record fields the changes tool relies on; other fields are kept in ``raw``."""

    model_config = Model.model_config | {"extra": "ignore"}

    eventID: str
    eventTime: datetime
    eventSource: str
    eventName: str
    readOnly: bool | None = None
    awsRegion: str | None = None
    recipientAccountId: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @field_validator("eventTime", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)

    @property
    def actor(self) -> str:
        """Who made the call: the ARN or user name from ``userIdentity``, else ``unknown``."""
        ident = self.raw.get("userIdentity") or {}
        return str(ident.get("arn") or ident.get("userName") or ident.get("type") or "unknown")

    @property
    def is_write(self) -> bool:
        """True for control-plane writes (``readOnly`` false or, when absent, not a read verb)."""
        if self.readOnly is not None:
            return not self.readOnly
        return not self.eventName.startswith(("Get", "List", "Describe", "Lookup", "Head"))

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> CloudTrailRecord:
        """Validate a raw CloudTrail record dict, keeping it whole in ``raw``."""
        record = cls.model_validate(raw)
        record.raw = raw
        return record


def log_file_name(group: str) -> str:
    """File name of a log group inside ``logs/`` (reversible with :func:`log_group_of`)."""
    return quote(group, safe="") + ".jsonl"


def log_group_of(path: Path) -> str:
    """Log group name of a file in ``logs/`` (``.jsonl`` or ``.jsonl.gz``).

    Raises:
        BundleError: the file has neither ending.
    """
    name = path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return unquote(name[: -len(suffix)])
    raise BundleError(f"{path}: log files must end in .jsonl or .jsonl.gz")


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file(root: Path, path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """Check that ``path`` is a regular file inside bundle ``root`` (a symlink may point only
    inside the bundle) of at most ``limit`` bytes; return its size in bytes.

    Raises:
        BundleError: missing, not a regular file, a symlink leaving the bundle, or too large.
    """
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            target = path.resolve(strict=True)
            if not target.is_relative_to(root.resolve()):
                raise BundleError(
                    f"{path}: a symlink to {target}, outside the bundle; copy the file into the "
                    "bundle instead"
                )
            info = target.stat()
    except (OSError, RuntimeError) as exc:  # missing, dangling or looping symlink
        raise BundleError(f"{path}: cannot be read ({exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{path}: is {_kind_of(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise BundleError(
            f"{path}: {info.st_size} bytes is over the {limit}-byte limit for a bundle file; "
            "capture a shorter window or sample the logs"
        )
    return info.st_size


class _Budget:
    """Bytes a bundle may still read (decompressed), shared by all its files."""

    def __init__(self, total: int = MAX_BUNDLE_BYTES) -> None:
        self.left = total

    def take(self, path: Path, n: int) -> None:
        """Count ``n`` more (decompressed) bytes read from ``path``.

        Raises:
            BundleError: the bundle's total is over :data:`MAX_BUNDLE_BYTES`.
        """
        self.left -= n
        if self.left < 0:
            raise BundleError(
                f"{path}: the bundle's data is over {MAX_BUNDLE_BYTES} bytes (decompressed) in "
                "total; capture a shorter window or sample the logs"
            )


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


_BLOCK = 1024 * 1024


def _lines(path: Path, budget: _Budget | None = None) -> Iterator[tuple[int, str]]:
    """``(line number, text with its newline)`` of the non-blank lines of a text file or its
    ``.gz``, read in 1 MiB blocks: at most :data:`MAX_LINE_BYTES` per line and
    :data:`MAX_FILE_BYTES` in all (decompressed), so neither a line without end nor a gzip bomb
    (even one of empty lines) costs more than those bounds in memory or time.

    Raises:
        BundleError: a line or the file is too long, or the gzip data is fake or truncated.
    """
    total = 0
    lineno = 0
    rest = b""
    try:
        with _open_binary(path) as handle:
            while True:
                block = handle.read(_BLOCK)
                total += len(block)
                if total > MAX_FILE_BYTES:
                    raise BundleError(
                        f"{path}: over {MAX_FILE_BYTES} bytes decompressed; capture a shorter "
                        "window or sample the logs"
                    )
                if budget is not None:
                    budget.take(path, len(block))
                if not block:
                    if rest.strip():
                        yield lineno + 1, rest.decode("utf-8", errors="replace")
                    return
                parts = (rest + block).split(b"\n")
                rest = parts.pop()
                if len(rest) > MAX_LINE_BYTES:
                    raise BundleError(
                        f"{path}: line {lineno + len(parts) + 1} is longer than "
                        f"{MAX_LINE_BYTES} bytes; is this a text file of one record per line?"
                    )
                for part in parts:
                    lineno += 1
                    if not part or part.isspace():
                        continue
                    if len(part) > MAX_LINE_BYTES:
                        raise BundleError(
                            f"{path}: line {lineno} is longer than {MAX_LINE_BYTES} bytes; is "
                            "this a text file of one record per line?"
                        )
                    yield lineno, part.decode("utf-8", errors="replace") + "\n"
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise BundleError(
            f"{path}: not a complete gzip file ({exc or type(exc).__name__}); re-export it, or "
            "drop the .gz suffix if it is plain text"
        ) from exc
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _first_existing(root: Path, *names: str) -> Path | None:
    """The first of ``names`` present under ``root`` (checked as a regular file), else None."""
    for name in names:
        path = root / name
        if os.path.lexists(path):
            regular_file(root, path)
            return path
    return None


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    return f"{where}: {first.get('msg', 'invalid')}"


def _read_jsonl(path: Path, budget: _Budget | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _lines(path, budget):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BundleError(
                f"{path}: line {lineno} is not JSON ({exc.msg}); each line must be one JSON object"
            ) from exc
        except RecursionError as exc:
            raise BundleError(f"{path}: line {lineno} is JSON nested too deeply") from exc
        if not isinstance(value, dict):
            raise BundleError(f"{path}: line {lineno} is not a JSON object")
        yield lineno, value


def _load_jsonl(
    root: Path, name: str, parse: Callable[[dict[str, Any]], T], budget: _Budget | None = None
) -> list[T]:
    """Parse every line of ``name`` (or ``name.gz``) under ``root``; ``[]`` when absent."""
    path = _first_existing(root, name, name + ".gz")
    if path is None:
        return []
    items = []
    for lineno, value in _read_jsonl(path, budget):
        try:
            items.append(parse(value))
        except ValidationError as exc:
            raise BundleError(f"{path}: line {lineno}: {_validation_message(exc)}") from exc
        except RecursionError as exc:
            raise BundleError(f"{path}: line {lineno} is JSON nested too deeply") from exc
    return items


class Bundle:
    """A loaded, validated incident bundle.

    Raises:
        BundleError: from the constructor when the directory, ``incident.yaml`` or
            ``workspace.json`` is missing or invalid; from the accessors when a data file is.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise BundleError(f"{self.root}: not a directory; pass an incident bundle directory")
        spec_path = self.root / "incident.yaml"
        if not os.path.lexists(spec_path):
            raise BundleError(f"{self.root}: no incident.yaml; is this an incident bundle?")
        regular_file(self.root, spec_path, MAX_SPEC_BYTES)
        raw = _load_yaml(spec_path)
        if not isinstance(raw, dict):
            raise BundleError(f"{spec_path}: expected a mapping at the top level")
        version = raw.get("bundle_version", BUNDLE_VERSION)
        if version not in READABLE_VERSIONS:
            raise BundleError(
                f"{spec_path}: bundle_version {version!r} is not supported "
                f"(this version reads {', '.join(map(str, READABLE_VERSIONS))})"
            )
        try:
            self.incident = IncidentSpec.model_validate(raw)
        except ValidationError as exc:
            raise BundleError(f"{spec_path}: {_validation_message(exc)}") from exc
        self.workspace_path = self.root / "workspace.json"
        if not os.path.lexists(self.workspace_path):
            raise BundleError(f"{self.root}: no workspace.json (the Structurizr workspace)")
        regular_file(self.root, self.workspace_path, MAX_WORKSPACE_BYTES)
        self._log_tables: dict[str, LogTable] = {}
        self._log_cache: dict[str, list[LogRecord]] = {}
        self._log_lock = threading.Lock()  # tools run in threads: each group is parsed once
        self._budget = _Budget()
        self.warnings: list[str] = []
        """Problems that do not stop an investigation (non-finite metric values), one line each."""

    # ----------------------------------------------------------------- logs
    @cached_property
    def log_files(self) -> dict[str, Path]:
        """Log group name -> file (each checked to be a regular file inside the bundle).

        Raises:
            BundleError: ``logs/`` is not a directory, a symlink out of the bundle, or holds a
                file that is not a regular file inside it.
        """
        folder = self.root / "logs"
        if not os.path.lexists(folder):
            return {}
        if folder.is_symlink() and not folder.resolve().is_relative_to(self.root.resolve()):
            raise BundleError(f"{folder}: a symlink outside the bundle; copy the logs in instead")
        if not folder.is_dir():
            raise BundleError(f"{folder}: not a directory; logs/ holds one file per log group")
        files = sorted(folder.glob("*.jsonl")) + sorted(folder.glob("*.jsonl.gz"))
        for path in files:
            regular_file(self.root, path)
        return {log_group_of(p): p for p in files}

    def log_table(self, group: str) -> LogTable:
        """All records of one log group as columns (:class:`LogTable`), sorted by time; empty
        when the group has no file. Parsed once per bundle (thread-safe) through the bounded
        reader; a record that is not plainly valid is validated as a :class:`LogRecord`, so a
        bad line gets the same one-line error as before.

        Raises:
            BundleError: a line is not a JSON object or not a valid log record (file, line and
                field named), or the file breaks a size limit.
        """
        with self._log_lock:
            table = self._log_tables.get(group)
            if table is None:
                table = self._read_log_table(group)
                self._log_tables[group] = table
            return table

    def _read_log_table(self, group: str) -> LogTable:
        import numpy as np

        path = self.log_files.get(group)
        rows: list[tuple[Any, ...]] = []
        if path is not None:
            for lineno, value in _read_jsonl(path, self._budget):
                row = _plain_record(value)
                if row is None:
                    try:
                        record = LogRecord.model_validate(value)
                    except ValidationError as exc:
                        raise BundleError(
                            f"{path}: line {lineno}: {_validation_message(exc)}"
                        ) from exc
                    row = (
                        record.timestamp,
                        record.message,
                        record.stream,
                        record.trace_id,
                        record.span_id,
                        record.event_key,
                    )
                rows.append(row)
        micros = np.fromiter((epoch_micros(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        order = np.argsort(micros, kind="stable")
        rows = [rows[i] for i in order]
        columns = list(zip(*rows, strict=True)) if rows else [()] * 6
        return LogTable(
            times=list(columns[0]),
            micros=micros[order],
            messages=list(columns[1]),
            streams=list(columns[2]),
            trace_ids=list(columns[3]),
            span_ids=list(columns[4]),
            event_keys=list(columns[5]),
        )

    def log_records(self, group: str) -> list[LogRecord]:
        """All records of one log group, sorted by time; ``[]`` when the group has no file
        (built from :meth:`log_table`, which raises :class:`BundleError` for a bad file)."""
        table = self.log_table(group)
        with self._log_lock:
            if group not in self._log_cache:
                self._log_cache[group] = [table.record(i) for i in range(len(table))]
            return self._log_cache[group]

    # -------------------------------------------------------------- metrics
    @cached_property
    def metric_frame(self) -> Any:
        """``metrics.csv`` as a pandas DataFrame (see :func:`_metric_frame`); None when the
        bundle has none.

        Raises:
            BundleError: a row is invalid (named by line and field).
        """
        path = _first_existing(self.root, "metrics.csv", "metrics.csv.gz")
        if path is None:
            return None
        # None: the row-by-row path (metric_points) reads it, naming any bad line and field
        return _metric_frame(path, self._budget)

    @cached_property
    def metric_points(self) -> list[MetricPoint]:
        """Every finite datapoint of ``metrics.csv``; ``[]`` when the bundle has none.

        Non-finite values (``nan``, ``inf``) are left out and counted in :attr:`warnings`
        (with their first line numbers), never dropped silently.

        Raises:
            BundleError: a row is invalid (named by line and field).
        """
        path = _first_existing(self.root, "metrics.csv", "metrics.csv.gz")
        if path is None:
            return []
        frame = self.metric_frame
        if frame is not None and len(frame):
            return [
                MetricPoint.model_construct(
                    timestamp=t, namespace=ns, metric=m, dimensions=d, value=v, unit=u
                )
                for t, ns, m, d, v, u in zip(
                    frame["timestamp"].dt.to_pydatetime(),
                    frame["namespace"],
                    frame["metric"],
                    frame["dims"],
                    frame["value"],
                    frame["unit"],
                    strict=True,
                )
            ]
        points: list[MetricPoint] = []
        nonfinite: list[int] = []
        reader = csv.reader(line for _n, line in _lines(path, self._budget))
        try:
            header = next(reader, [])
            required = {"timestamp", "namespace", "metric", "dimensions", "value"}
            missing = required - set(header)
            if missing:
                raise BundleError(f"{path}: missing columns {sorted(missing)}")
            for cells in reader:
                lineno = reader.line_num
                if not cells:
                    continue
                row = dict(zip(header, cells, strict=False))
                try:
                    value = float(row.get("value") or "")
                    if not math.isfinite(value):
                        nonfinite.append(lineno)
                        continue
                    dims = json.loads(row.get("dimensions") or "{}")
                    points.append(
                        MetricPoint.model_validate(
                            {
                                "timestamp": row.get("timestamp"),
                                "namespace": row.get("namespace"),
                                "metric": row.get("metric"),
                                "dimensions": dims,
                                "value": value,
                                "unit": row.get("unit") or "None",
                            }
                        )
                    )
                except (ValueError, TypeError, RecursionError) as exc:
                    msg = _validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
                    raise BundleError(f"{path}: line {lineno}: {msg[:300]}") from exc
        except csv.Error as exc:
            raise BundleError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from exc
        if nonfinite:
            shown = ", ".join(map(str, nonfinite[:5])) + (" ..." if len(nonfinite) > 5 else "")
            self.warnings.append(
                f"{path.name}: {len(nonfinite)} non-finite metric value(s) (NaN or infinite) "
                f"not used, lines {shown}"
            )
        return points

    # ------------------------------------------------- cloudtrail and alarms
    @cached_property
    def cloudtrail_records(self) -> list[CloudTrailRecord]:
        """Every CloudTrail record, sorted by ``eventTime``."""
        records = _load_jsonl(
            self.root, "cloudtrail.jsonl", CloudTrailRecord.from_raw, self._budget
        )
        return sorted(records, key=lambda r: r.eventTime)

    @cached_property
    def alarm_changes(self) -> list[AlarmStateChange]:
        """Every alarm state change, sorted by time."""
        changes = _load_jsonl(
            self.root, "alarms.jsonl", AlarmStateChange.model_validate, self._budget
        )
        return sorted(changes, key=lambda c: c.timestamp)

    @cached_property
    def spans(self) -> Any:
        """The ``spans.csv`` table (v2) as a pandas DataFrame with :data:`SPAN_COLUMNS` and
        :data:`SPAN_OPTIONAL_COLUMNS`; an empty frame when the bundle has no spans (every v1
        bundle).

        Raises:
            BundleError: the file lacks a required column, or is not valid CSV.
        """
        import pandas as pd

        path = _first_existing(self.root, "spans.csv", "spans.csv.gz")
        if path is None:
            return pd.DataFrame(columns=list(SPAN_COLUMNS + SPAN_OPTIONAL_COLUMNS))
        text = "".join(line for _n, line in _lines(path, self._budget))  # bounded read
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (ValueError, csv.Error) as exc:  # pandas ParserError and EmptyDataError
            raise BundleError(f"{path}: not valid CSV ({str(exc)[:200]})") from exc
        missing = [c for c in SPAN_COLUMNS if c not in frame.columns]
        if missing:
            raise BundleError(f"{path}: missing column(s) {', '.join(missing)}")
        for column in SPAN_OPTIONAL_COLUMNS:
            if column not in frame.columns:
                frame[column] = ""
        for column in ("start_ns", "duration_ns"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        return frame

    def validate(self) -> None:
        """Read every file once so that any error surfaces now (raises :class:`BundleError`)."""
        for group in self.log_files:
            self.log_table(group)
        if self.metric_frame is None:  # the row reader names a bad line, counts NaN values
            _ = self.metric_points
        _ = self.cloudtrail_records, self.alarm_changes, self.spans


def _metric_frame(path: Path, budget: _Budget) -> Any:
    """Vectorised reading of ``metrics.csv`` (pandas): columns ``timestamp`` (UTC),
    ``namespace``, ``metric``, ``dimensions`` (JSON text), ``dims`` (dict), ``value``, ``unit``;
    None when any row fails a check or a value is not finite, so the row-by-row path can name
    the line and the field (and count non-finite values as warnings). The file is read through
    the bundle's bounded reader (:func:`_lines`).

    Raises:
        BundleError: the file breaks a size or line-length limit.
    """
    import numpy as np
    import pandas as pd

    text = "".join(line for _n, line in _lines(path, budget))
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError):
        return None
    required = {"timestamp", "namespace", "metric", "dimensions", "value"}
    if required - set(frame.columns):
        return None
    times = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True, errors="coerce")
    values = pd.to_numeric(frame["value"], errors="coerce")
    if times.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
        return None
    dims: dict[str, dict[str, str]] = {}
    for text in frame["dimensions"].unique():
        try:
            parsed = json.loads(text or "{}")
        except (ValueError, RecursionError):  # the row-by-row path names the line
            return None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
        ):
            return None
        dims[text] = parsed
    units = frame["unit"] if "unit" in frame.columns else pd.Series("", index=frame.index)
    return pd.DataFrame(
        {
            "timestamp": times,
            "namespace": frame["namespace"],
            "metric": frame["metric"],
            "dimensions": frame["dimensions"],
            "dims": frame["dimensions"].map(dims),
            "value": values.astype(float),
            "unit": units.replace("", "None"),
        }
    )


def _load_yaml(path: Path) -> Any:
    """``incident.yaml`` parsed safely: no aliases (no "billion laughs" expansion), no deep
    nesting, one clear error for anything else."""
    text = path.read_text(encoding="utf-8", errors="replace")
    depth = deepest = 0
    for char in text:  # flow nesting ([ {) a YAML parser would recurse into
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    if deepest > 64 or any(len(ln) - len(ln.lstrip()) > 256 for ln in text.splitlines()):
        raise BundleError(f"{path}: YAML nested too deeply for an incident spec")
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AliasToken):
                raise BundleError(f"{path}: YAML aliases (*name) are not allowed in incident.yaml")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: not valid YAML ({str(exc)[:300]})") from exc
    except RecursionError as exc:
        raise BundleError(f"{path}: YAML nested too deeply") from exc


class BundleWriter:
    """Writes a bundle directory (used by the scenario generator, importers and ``rca capture``).

    Log records are appended per group and written sorted by time; ``gzip=True`` writes
    ``.jsonl.gz`` / ``.csv.gz`` files, with a fixed mtime so output is byte-reproducible
    (``compresslevel`` 1-9, default 9: zlib's, a lower one is faster and a little larger).

    Importers with many records can queue them as columns (:meth:`add_log_frame`,
    :meth:`add_metric_frame`): the files are the same as for the same records given one by one,
    written without a pydantic model per record.
    """

    def __init__(
        self, root: Path | str, *, gzip_files: bool = False, compresslevel: int = 9
    ) -> None:
        self.root = Path(root)
        self.gzip_files = gzip_files
        self.compresslevel = compresslevel
        self._logs: dict[str, list[LogRecord]] = {}
        self._log_frames: list[Any] = []
        self._metrics: list[MetricPoint] = []
        self._metric_frames: list[Any] = []
        self._trail: list[dict[str, Any]] = []
        self._alarms: list[AlarmStateChange] = []
        self._spans: list[Any] = []

    def add_log(self, group: str, record: LogRecord) -> None:
        """Queue one record of log group ``group`` (written to ``logs/`` under
        :func:`log_file_name`, sorted by ``timestamp``, UTC)."""
        self._logs.setdefault(group, []).append(record)

    def add_logs(self, group: str, records: Iterable[LogRecord]) -> None:
        """Queue records of log group ``group`` (see :meth:`add_log`)."""
        self._logs.setdefault(group, []).extend(records)

    def add_metric(self, point: MetricPoint) -> None:
        """Queue one datapoint for ``metrics.csv``."""
        self._metrics.append(point)

    def add_metrics(self, points: Iterable[MetricPoint]) -> None:
        """Queue datapoints for ``metrics.csv``."""
        self._metrics.extend(points)

    def add_log_frame(self, frame: Any) -> None:
        """Queue log records given as a pandas DataFrame with columns ``group``, ``timestamp``
        (datetime64, UTC; used to the microsecond, as a :class:`LogRecord` holds it),
        ``message``, ``stream`` and any of ``trace_id``, ``span_id``, ``event_key`` (None or NaN
        where a record has none). Written exactly as the same records given to :meth:`add_log`
        in the same order; records of :meth:`add_log` come first among records of equal time.

        Raises:
            BundleError: a required column is missing, or a message is longer than
                :data:`MAX_LOG_LINE_BYTES` characters (the :class:`LogRecord` limit).
        """
        missing = [c for c in ("group", "timestamp", "message", "stream") if c not in frame]
        if missing:
            raise BundleError(f"logs: missing column(s) {', '.join(missing)}")
        too_long = frame["message"].str.len() > MAX_LOG_LINE_BYTES
        if too_long.any():
            raise BundleError(
                f"logs: a message of {frame['message'][too_long].iloc[0][:60]!r}... is longer "
                f"than {MAX_LOG_LINE_BYTES} characters"
            )
        self._log_frames.append(frame)

    def add_metric_frame(self, frame: Any) -> None:
        """Queue datapoints given as a pandas DataFrame with columns ``timestamp`` (datetime64,
        UTC), ``namespace``, ``metric``, ``dimensions`` (a dict of strings per row; the rows of
        one series may share one dict), ``value`` (float) and ``unit``. Written exactly as the
        same :class:`MetricPoint` values given to :meth:`add_metrics` in the same order; points
        of :meth:`add_metrics` come first among points of equal sort key.

        Raises:
            BundleError: a column is missing.
        """
        columns = ("timestamp", "namespace", "metric", "dimensions", "value", "unit")
        missing = [c for c in columns if c not in frame]
        if missing:
            raise BundleError(f"metrics: missing column(s) {', '.join(missing)}")
        self._metric_frames.append(frame[list(columns)])

    def add_cloudtrail(self, record: dict[str, Any]) -> None:
        """Queue one raw CloudTrail record (the JSON object of LookupEvents'
        ``CloudTrailEvent``) for ``cloudtrail.jsonl``, kept whole.

        Raises:
            pydantic.ValidationError: the record lacks the fields :class:`CloudTrailRecord`
                requires (checked here, not at :meth:`write`).
        """
        CloudTrailRecord.from_raw(record)  # validate early
        self._trail.append(record)

    def add_spans(self, frame: Any) -> None:
        """Queue spans (a DataFrame with :data:`SPAN_COLUMNS` and any of
        :data:`SPAN_OPTIONAL_COLUMNS`) for ``spans.csv``.

        Raises:
            BundleError: a required column is missing.
        """
        missing = [c for c in SPAN_COLUMNS if c not in frame.columns]
        if missing:
            raise BundleError(f"spans: missing column(s) {', '.join(missing)}")
        optional = [c for c in SPAN_OPTIONAL_COLUMNS if c in frame.columns]
        self._spans.append(frame[[*SPAN_COLUMNS, *optional]])

    def add_alarm(self, change: AlarmStateChange) -> None:
        """Queue one alarm state change for ``alarms.jsonl``."""
        self._alarms.append(change)

    def _write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.gzip_files:
            with (
                open(str(path) + ".gz", "wb") as raw,
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=self.compresslevel
                ) as handle,
            ):
                handle.write(text.encode("utf-8"))
        else:
            path.write_text(text, encoding="utf-8")

    def write(self, incident: IncidentSpec, workspace: dict[str, Any]) -> Path:
        """Write every file and return the bundle directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        spec = incident.model_dump(mode="json", exclude_none=True)
        for key in ("reference_windows", "broken_series"):  # v2 lists: absent when empty
            if not spec.get(key):
                spec.pop(key, None)
        (self.root / "incident.yaml").write_text(
            yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        (self.root / "workspace.json").write_text(
            json.dumps(workspace, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        framed = _log_frame_lines(self._log_frames, self._logs)
        for group in sorted(set(self._logs) | set(framed)):
            if group in framed:
                lines = framed[group]
            else:
                records = sorted(self._logs[group], key=lambda r: r.timestamp)
                lines = [json.dumps(_log_row(r), ensure_ascii=False) for r in records]
            self._write("logs/" + log_file_name(group), "\n".join(lines) + "\n")
        if self._metric_frames:
            self._write("metrics.csv", _metric_frame_csv(self._metric_frames, self._metrics))
        elif self._metrics:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["timestamp", "namespace", "metric", "dimensions", "value", "unit"])
            for p in sorted(
                self._metrics, key=lambda p: (p.timestamp, p.namespace, p.metric, str(p.dimensions))
            ):
                writer.writerow(
                    [
                        iso(p.timestamp),
                        p.namespace,
                        p.metric,
                        json.dumps(p.dimensions, sort_keys=True),
                        repr(round(p.value, 6)),
                        p.unit,
                    ]
                )
            self._write("metrics.csv", out.getvalue())
        if self._trail:
            trail = sorted(self._trail, key=lambda r: str(r["eventTime"]))
            self._write(
                "cloudtrail.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in trail)
            )
        if self._spans:
            import pandas as pd

            table = pd.concat(self._spans, ignore_index=True).sort_values(["start_ns", "span_id"])
            for column in SPAN_OPTIONAL_COLUMNS:
                if column in table.columns:
                    table[column] = table[column].fillna("")
            self._write("spans.csv", table.to_csv(index=False))
        if self._alarms:
            alarms = sorted(self._alarms, key=lambda a: a.timestamp)
            self._write(
                "alarms.jsonl",
                "".join(a.model_dump_json(exclude_none=True) + "\n" for a in alarms),
            )
        return self.root


_LOG_OPTIONAL = ("trace_id", "span_id", "event_key")


def _log_frame_lines(frames: list[Any], logs: dict[str, list[LogRecord]]) -> dict[str, list[str]]:
    """The JSONL lines of every group that has records in ``frames`` (with that group's records
    of ``logs`` first), sorted by time (stable), each exactly ``json.dumps(_log_row(record),
    ensure_ascii=False)`` of the equivalent :class:`LogRecord`."""
    import numpy as np
    import pandas as pd

    if not frames:
        return {}
    frame = pd.concat(frames, ignore_index=True)
    encode = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
    micros = pd.DatetimeIndex(frame["timestamp"]).floor("us").as_unit("us").asi8
    optional = {
        key: (
            frame[key].astype(object).where(frame[key].notna(), None).tolist()
            if key in frame
            else [None] * len(frame)
        )
        for key in _LOG_OPTIONAL
    }
    lines: dict[str, list[str]] = {}
    for group, index in frame.groupby("group", sort=False).indices.items():
        records = logs.get(group, [])
        stamps = np.concatenate(
            [np.array([epoch_micros(r.timestamp) for r in records], dtype=np.int64), micros[index]]
        )
        messages = [r.message for r in records] + frame["message"].to_numpy()[index].tolist()
        streams = [r.stream for r in records] + frame["stream"].to_numpy()[index].tolist()
        extra = {
            key: [getattr(r, key) for r in records] + [optional[key][i] for i in index]
            for key in _LOG_OPTIONAL
        }
        order = np.argsort(stamps, kind="stable")
        texts = np.datetime_as_string((stamps[order] // 1000).astype("datetime64[ms]"), unit="ms")
        out = []
        for text, i in zip(texts.tolist(), order.tolist(), strict=True):
            line = (
                f'{{"timestamp": "{text}Z", "message": {encode(messages[i])}, '
                f'"stream": {encode(streams[i])}'
            )
            for key in _LOG_OPTIONAL:
                value = extra[key][i]
                if value is not None:
                    line += f', "{key}": {encode(value)}'
            out.append(line + "}")
        lines[str(group)] = out
    return lines


def metric_points_frame(points: list[MetricPoint]) -> Any:
    """Datapoints as the columns :meth:`BundleWriter.add_metric_frame` takes (a pandas
    DataFrame: ``timestamp`` UTC, ``namespace``, ``metric``, ``dimensions`` dicts, ``value``,
    ``unit``), in the same order."""
    import pandas as pd

    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime([p.timestamp for p in points], utc=True),
            "namespace": [p.namespace for p in points],
            "metric": [p.metric for p in points],
            "dimensions": [p.dimensions for p in points],
            "value": [p.value for p in points],
            "unit": [p.unit for p in points],
        }
    )


def _metric_frame_csv(frames: list[Any], points: list[MetricPoint]) -> str:
    """``metrics.csv`` of ``points`` followed by the rows of ``frames``, exactly as the
    row-by-row writer formats and orders the same points: sorted (stable) by time, namespace,
    metric and ``str(dimensions)``."""
    import numpy as np
    import pandas as pd

    if points:
        frames = [metric_points_frame(points), *frames]
    frame = pd.concat(frames, ignore_index=True)
    dims = frame["dimensions"].tolist()
    texts: dict[int, tuple[str, str]] = {}
    for d in dims:
        if id(d) not in texts:
            texts[id(d)] = (json.dumps(d, sort_keys=True), str(d))
    stamps = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8

    def codes(values: list[str]) -> Any:
        return pd.factorize(np.array(values, dtype=object), sort=True)[0]

    namespaces, metrics = frame["namespace"].tolist(), frame["metric"].tolist()
    order = np.lexsort(
        (codes([texts[id(d)][1] for d in dims]), codes(metrics), codes(namespaces), stamps)
    ).tolist()
    when, first = pd.factorize(stamps)
    iso_of = [iso(_EPOCH + timedelta(microseconds=int(ns) // 1000)) for ns in first]
    values, units = frame["value"].tolist(), frame["unit"].tolist()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "namespace", "metric", "dimensions", "value", "unit"])
    writer.writerows(
        (
            iso_of[when[i]],
            namespaces[i],
            metrics[i],
            texts[id(dims[i])][0],
            repr(round(values[i], 6)),
            units[i],
        )
        for i in order
    )
    return out.getvalue()


def _log_row(record: LogRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "timestamp": iso_ms(record.timestamp),
        "message": record.message,
        "stream": record.stream,
    }
    for key in ("trace_id", "span_id", "event_key"):
        value = getattr(record, key)
        if value is not None:
            row[key] = value
    return row


def iso_ms(value: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and ``Z`` (the log record timestamp format)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
