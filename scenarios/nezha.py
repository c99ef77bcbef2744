"""Importer for the Nezha fault-injection dataset (FSE 2023, IntelligentDDS/Nezha).

Converts one case folder of ``shared/data/nezha`` (see its README.md) into an incident bundle:

- ``workspace.json``: one software system whose containers are the services (pod name without
  its last two ``-`` parts). Relationships ``caller -> callee`` come from the trace call graph (a
  span whose parent span belongs to another service) over the case's trace files and the
  fault-free baseline trace files of its day; when neither exists, over the baseline traces of
  every day of the same system. A person "User" uses the front-end service (the one receiving
  most root spans). Container properties map the telemetry below.
- ``logs/``: Train Ticket only (the Online Boutique development cases have none): one group
  ``/nezha/<system>/<service>`` per service, records of the case's minute files plus the
  baseline reference minute of the day. The message is the application line without its local
  clock and trace/span ids: ``LEVEL logger#line text``.
- ``metrics.csv``: every per-pod metric row (namespace ``Nezha/Pod``, ``Node*`` columns under
  ``Nezha/Node``; dimensions ``Service`` and ``Pod``), ``front_service.csv`` (``Nezha/Frontend``,
  dimension ``Service`` = the front-end service), and per-service span statistics of every trace
  minute file (``Nezha/Trace``: ``SpanCount``, ``DurationP50(ms)``, ``DurationP90(ms)``,
  ``InboundNetworkP90(ms)``), for the
  case and the baseline minute. Metric times come from the ``Time`` column (the ``TimeStamp``
  column is corrupt in one source file).
- ``incident.yaml``: window from the injection time to the end of the last per-minute file of
  the case (see :func:`fault_window`), the baseline reference minute as baseline when the day has
  baseline logs, and the ground truth (service, fault type, indicator).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tools.bundle import (
    SPAN_COLUMNS,
    BundleWriter,
    GroundTruth,
    IncidentSpec,
    ReferenceWindow,
)
from tools.models import TimeWindow

__all__ = [
    "extract_message",
    "fault_window",
    "import_all",
    "import_case",
    "list_cases",
    "service_of",
]

Progress = Callable[[str], None]

LICENSE = "MIT (IntelligentDDS/Nezha)"
SYSTEM_NAMES = {"trainticket": "Train Ticket", "onlineboutique": "Online Boutique"}
SYSTEM_TECH = {"trainticket": "HTTP/REST", "onlineboutique": "gRPC"}
DEFAULT_FRONT = {"trainticket": "ts-gateway-service", "onlineboutique": "frontend"}
FRONT_ALIAS = "web front end"

NS_POD = "Nezha/Pod"
NS_NODE = "Nezha/Node"
NS_FRONT = "Nezha/Frontend"
NS_TRACE = "Nezha/Trace"

# After the collection moment that closes the last minute file, the per-pod samples of the same
# round arrive within about 2 s; the window ends a little later so that they lie inside it.
WINDOW_END_SLACK_S = 5.0
FALLBACK_WINDOW_S = 180.0

_TIME_COLUMNS = {"Time", "TimeStamp", "PodName", "ServiceName"}
_TT_LINE = re.compile(
    r"^\s*\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\s+"  # application-local clock (UTC+8): dropped
    r"(?P<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+"
    r"(?P<logger>\S+)\s+"
    r"(?:TraceID:\s*\S*\s+SpanID:\s*\S*\s*)?"  # ids: unique per request, noise for templates
    r"(?P<text>.*)$",
    re.S,
)


# --------------------------------------------------------------------------- small helpers
def service_of(pod: str) -> str:
    """Service of a Kubernetes pod name: the name without its last two ``-`` parts."""
    parts = str(pod).rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[0] else str(pod)


def _unit(column: str) -> str:
    lowered = column.lower()
    if column.endswith("(%)"):
        return "Percent"
    if column.endswith("(s)"):
        return "Seconds"
    if column.endswith("(ms)"):
        return "Milliseconds"
    if column.endswith("(Mi)"):
        return "Megabytes"
    if column.endswith("(Ops)"):
        return "Count/Second"
    if lowered.endswith("bytes"):
        return "Bytes"
    if lowered.startswith("syscall"):
        return "Count"
    return "None"


def _read_csv(path: Path) -> pd.DataFrame:
    """A gzip CSV; a line with too many fields (a source line with a truncated fragment glued to
    it) keeps its leading fields instead of failing the whole file."""
    try:
        return pd.read_csv(path)
    except pd.errors.ParserError:
        width = len(pd.read_csv(path, nrows=0).columns)
        return pd.read_csv(path, engine="python", on_bad_lines=lambda bad: bad[:width])


def _parse_time_column(values: pd.Series) -> pd.Series:
    """``2023-01-29 08:41:09.858 +0000 UTC m=+0.93`` (sometimes with leading blanks) -> UTC."""
    text = values.astype(str).str.strip().str.split(" +", n=1, regex=False).str[0]
    return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").dt.floor("us")


def _to_datetime(ns: int | float) -> datetime:
    return datetime.fromtimestamp(int(ns) // 1000 / 1e6, tz=UTC)


def _floor_s(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _ceil_s(value: datetime) -> datetime:
    floored = value.replace(microsecond=0)
    return floored if floored == value else floored + timedelta(seconds=1)


def extract_message(raw: str) -> tuple[str, str | None]:
    """The human message of one ``Log`` cell and its level (None when the line has none).

    The cell is the container runtime's JSON line ``{"log": ..., "stream": ..., "time": ...}``.
    Train Ticket lines look like ``16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: <id>
    SpanID: <id> [getRouteByRouteId][...]``; the result is ``INFO t.s.TravelServiceImpl#532
    [getRouteByRouteId][...]`` (local clock and ids dropped, the ``logger#line`` marker kept: the
    Nezha root-cause indicators name these markers). A structured application line (JSON with
    ``message``/``msg`` and ``severity``/``level``, as Online Boutique writes) becomes
    ``LEVEL message``. Anything else is kept as it is, trailing newline removed.
    """
    text = raw
    try:
        outer = json.loads(raw)
    except (TypeError, ValueError):
        outer = None
    if isinstance(outer, dict):
        inner_log = outer.get("log", outer.get("message", outer.get("msg")))
        if isinstance(inner_log, str):
            text = inner_log
    text = text.rstrip("\r\n")
    level: str | None = None
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            app = json.loads(stripped)
        except ValueError:
            app = None
        if isinstance(app, dict):
            msg = app.get("message", app.get("msg"))
            lvl = app.get("severity", app.get("level"))
            if isinstance(msg, str):
                level = str(lvl).upper() if lvl else None
                return (f"{level} {msg}" if level else msg).rstrip(), level
    match = _TT_LINE.match(text)
    if match:
        level = match["level"]
        body = " ".join(part for part in (match["logger"], match["text"].strip()) if part)
        return f"{level} {body}", level
    return text, level


# ------------------------------------------------------------------------------- case data
@dataclass
class _Case:
    """The parsed ``case.json`` plus the resolved paths of its files."""

    root: Path
    meta: dict[str, Any]
    baseline_root: Path
    baseline_dir: Path | None
    baseline_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def case_id(self) -> str:
        return str(self.meta["case_id"])

    @property
    def system(self) -> str:
        return str(self.meta["system"])

    @property
    def inject(self) -> datetime:
        return datetime.fromtimestamp(int(self.meta["inject_timestamp"]), tz=UTC)

    def files(self, kind: str) -> list[Path]:
        listed = self.meta.get("files", {}).get(kind)
        if listed is None:
            paths = sorted((self.root / kind).glob("*.csv.gz"))
        else:
            paths = [self.root / rel for rel in listed]
        return [p for p in paths if p.is_file()]

    def baseline_files(self, kind: str) -> list[Path]:
        if self.baseline_dir is None:
            return []
        listed = self.baseline_meta.get("files", {}).get(kind)
        if listed is None:
            paths = sorted((self.baseline_dir / kind).glob("*.csv.gz"))
        else:
            paths = [self.baseline_dir / rel for rel in listed]
        return [p for p in paths if p.is_file()]


def _load_case(case_dir: Path, baseline_root: Path | None) -> _Case:
    meta = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    root = baseline_root if baseline_root is not None else case_dir.parent.parent / "baseline"
    day_dir = root / str(meta.get("day", ""))
    if not day_dir.is_dir():
        return _Case(case_dir, meta, root, None)
    baseline_meta: dict[str, Any] = {}
    if (day_dir / "baseline.json").is_file():
        baseline_meta = json.loads((day_dir / "baseline.json").read_text(encoding="utf-8"))
    return _Case(case_dir, meta, root, day_dir, baseline_meta)


# ---------------------------------------------------------------------------------- traces
_TRACE_COLUMNS = ["TraceID", "SpanID", "ParentID", "PodName", "OperationName"]


def _read_traces(paths: Iterable[Path]) -> pd.DataFrame:
    """Spans of several minute files, each span once (neighbouring files overlap slightly);
    column ``file`` is the index of the file the span was first seen in."""
    frames = []
    for index, path in enumerate(paths):
        df = _read_csv(path)
        if df.empty:
            continue
        df = df[[*_TRACE_COLUMNS, "StartTimeUnixNano", "Duration"]].copy()
        df["file"] = index
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*_TRACE_COLUMNS, "StartTimeUnixNano", "Duration", "file"])
    spans = pd.concat(frames, ignore_index=True)
    spans = spans.dropna(subset=["TraceID", "SpanID", "PodName"])
    spans = spans.drop_duplicates(["TraceID", "SpanID"], keep="first")
    spans["ParentID"] = spans["ParentID"].fillna("root").astype(str)
    spans["service"] = _services(spans["PodName"].astype(str))
    return spans.reset_index(drop=True)


def _services(pods: pd.Series) -> pd.Series:
    """:func:`service_of` of every pod name (computed once per distinct name)."""
    return pods.map({pod: service_of(pod) for pod in pods.unique()})


@dataclass
class _CallGraph:
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    example: dict[tuple[str, str], str] = field(default_factory=dict)
    roots: Counter[str] = field(default_factory=Counter)
    pods: dict[str, set[str]] = field(default_factory=dict)
    source: str = "none"

    @property
    def empty(self) -> bool:
        return not self.edges and not self.roots


def _call_graph(spans: pd.DataFrame, source: str) -> _CallGraph:
    graph = _CallGraph(source=source)
    if spans.empty:
        return graph
    pairs = pd.DataFrame({"pod": spans["PodName"].astype(str), "svc": spans["service"]})
    for pod, svc in pairs.drop_duplicates().itertuples(index=False):
        graph.pods.setdefault(svc, set()).add(pod)
    graph.roots = Counter(spans.loc[spans["ParentID"] == "root", "service"].tolist())
    parents = spans[["TraceID", "SpanID", "service"]].rename(
        columns={"SpanID": "ParentID", "service": "caller"}
    )
    joined = spans[spans["ParentID"] != "root"].merge(parents, on=["TraceID", "ParentID"])
    cross = joined[joined["caller"] != joined["service"]]
    if cross.empty:
        return graph
    counts = cross.groupby(["caller", "service", "OperationName"]).size().reset_index(name="n")
    totals = counts.groupby(["caller", "service"])["n"].sum()
    # per edge, its most frequent operation (ties: the first by name)
    top = counts.sort_values(
        ["caller", "service", "n", "OperationName"], ascending=[True, True, False, True]
    ).drop_duplicates(["caller", "service"])
    examples = dict(
        zip(zip(top["caller"], top["service"], strict=True), top["OperationName"], strict=True)
    )
    for (caller, callee), n in totals.items():
        key = (str(caller), str(callee))
        graph.edges[key] = int(n)
        graph.example[key] = str(examples[(caller, callee)])
    return graph


@lru_cache(maxsize=8)
def _union_baseline_graph(baseline_root: str, services: frozenset[str]) -> _CallGraph:
    """The call graph of every baseline day whose metric files share services with ``services``
    (i.e. every day of the same system)."""
    paths: list[Path] = []
    root = Path(baseline_root)
    for day in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        day_services = {
            service_of(p.name.removesuffix("_metric.csv.gz"))
            for p in (day / "metric").glob("*_metric.csv.gz")
        }
        if day_services & services:
            paths += sorted((day / "trace").glob("*.csv.gz"))
    return _call_graph(_read_traces(paths), "baseline traces of every day of the system")


_METRIC_COLUMNS = ["timestamp", "namespace", "metric", "dimensions", "value", "unit"]
"""Columns of the metric frames the importer builds (:meth:`BundleWriter.add_metric_frame`)."""


def _metric_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows ``(timestamp datetime, namespace, metric, dimensions dict, value, unit)`` as a metric
    frame (:data:`_METRIC_COLUMNS`)."""
    frame = pd.DataFrame(rows, columns=_METRIC_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["value"] = frame["value"].astype(float)
    return frame


def _trace_metrics(spans: pd.DataFrame) -> pd.DataFrame:
    """Per service and minute file: span count and duration percentiles (ms), as a metric
    frame (:data:`_METRIC_COLUMNS`)."""
    if spans.empty:
        return _metric_frame([])
    rows: list[tuple[Any, ...]] = []
    ends = spans.groupby("file")["StartTimeUnixNano"].quantile(0.99)
    duration_ms = spans["Duration"].astype(float) / 1000.0
    frame = spans[["file", "service"]].assign(ms=duration_ms)
    for (file_index, svc), group in frame.groupby(["file", "service"]):
        when = _floor_s(_to_datetime(ends.loc[file_index]))
        values = group["ms"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        dims = {"Service": str(svc)}
        rows.append((when, NS_TRACE, "SpanCount", dims, float(len(group)), "Count"))
        if len(values):
            for name, q in (("DurationP50(ms)", 50), ("DurationP90(ms)", 90)):
                value = float(np.percentile(values, q))
                rows.append((when, NS_TRACE, name, dims, value, "Milliseconds"))
    rows += _inbound_network_metrics(spans, ends)
    return _metric_frame(rows)


def _inbound_network_metrics(spans: pd.DataFrame, ends: pd.Series) -> list[tuple[Any, ...]]:
    """Per callee service and minute file: p90 of the network time of calls into it (ms).

    For a span whose parent span belongs to another service, the parent is the caller's client
    span; ``parent duration - child duration`` is the time spent outside the callee's handler
    (network and queueing). This is where a network delay injected into a pod shows, even when
    the pod's own span durations do not change (Nezha's ``NetworkP90`` indicator).
    """
    parents = spans[["TraceID", "SpanID", "service", "Duration"]].rename(
        columns={"SpanID": "ParentID", "service": "caller", "Duration": "parent_us"}
    )
    joined = spans[spans["ParentID"] != "root"].merge(parents, on=["TraceID", "ParentID"])
    cross = joined[joined["caller"] != joined["service"]]
    points: list[tuple[Any, ...]] = []
    if cross.empty:
        return points
    overhead = (cross["parent_us"].astype(float) - cross["Duration"].astype(float)) / 1000.0
    frame = cross[["file", "service"]].assign(ms=overhead.clip(lower=0.0))
    for (file_index, svc), group in frame.groupby(["file", "service"]):
        values = group["ms"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        points.append(
            (
                _floor_s(_to_datetime(ends.loc[file_index])),
                NS_TRACE,
                "InboundNetworkP90(ms)",
                {"Service": str(svc)},
                float(np.percentile(values, 90)),
                "Milliseconds",
            )
        )
    return points


MAX_SPANS = 300_000
"""Bound on ``spans.csv`` rows per bundle; above it whole traces are sampled (:func:`_bounded`)."""
ADJACENT_MAX_S = 180.0
"""The adjacent reference window starts at most this long before the injection (the first
per-minute file holds about the minute before it)."""
GUARD_S = 2.0
"""The adjacent reference window ends this many seconds before the alert time."""


def _span_rows(spans: pd.DataFrame) -> pd.DataFrame:
    """Raw Nezha spans as ``spans.csv`` rows (:data:`tools.bundle.SPAN_COLUMNS`). The source has
    neither span kinds nor status codes: those columns stay empty."""
    if spans.empty:
        return pd.DataFrame(columns=list(SPAN_COLUMNS))
    parent = spans["ParentID"].astype(str)
    return pd.DataFrame(
        {
            "trace_id": spans["TraceID"].astype(str),
            "span_id": spans["SpanID"].astype(str),
            "parent_id": parent.where(parent != "root", ""),
            "service": spans["service"].astype(str),
            "instance": spans["PodName"].astype(str),
            "operation": spans["OperationName"].astype(str),
            "kind": "",
            "start_ns": pd.to_numeric(spans["StartTimeUnixNano"], errors="coerce").astype("Int64"),
            "duration_ns": (pd.to_numeric(spans["Duration"], errors="coerce") * 1000).astype(
                "Int64"
            ),
            "status_code": "",
        }
    )


def _bounded(table: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """At most ``limit`` rows: when over, keep whole traces whose id hashes below the rate
    (deterministic), so every kept trace is complete. Returns the table and the sampling record
    (``rate`` 1.0 when nothing was dropped)."""
    if len(table) <= limit:
        return table, {"rate": 1.0, "method": "none (all spans kept)", "source_rows": len(table)}
    rate = limit / len(table)
    hashed = pd.util.hash_pandas_object(table["trace_id"], index=False).to_numpy()
    keep = (hashed % 10_000) < int(rate * 10_000)
    return table[keep].reset_index(drop=True), {
        "rate": round(rate, 4),
        "method": "whole traces by a hash of the trace id",
        "source_rows": len(table),
    }


def _broken_series(
    pod_frames: dict[str, pd.DataFrame], front_df: pd.DataFrame | None, front: str
) -> list[str]:
    """Series labels (``Namespace/Metric[Dim=value,...]``) that carry no information at the
    source: a success rate that is 0 % on every row of the case while the same file shows
    requests being served (``PodWorkload(Ops)`` > 0; for the front end, latencies > 0). Both
    Nezha systems have such ``PodSuccessRate(%)`` / ``SuccessRate(%)`` columns."""

    def dead(df: pd.DataFrame, column: str, traffic: list[str]) -> bool:
        values = pd.to_numeric(df[column], errors="coerce").dropna()
        served = any(
            (pd.to_numeric(df[c], errors="coerce") > 0).any() for c in traffic if c in df.columns
        )
        return bool(len(values)) and bool((values == 0).all()) and served

    broken = []
    for pod, df in sorted(pod_frames.items()):
        for column in df.columns:
            if "SuccessRate" in column and dead(df, column, ["PodWorkload(Ops)"]):
                namespace = NS_NODE if column.startswith("Node") else NS_POD
                broken.append(f"{namespace}/{column}[Pod={pod},Service={service_of(pod)}]")
    if front_df is not None:
        latency = [c for c in front_df.columns if c.startswith("Latency")]
        for column in front_df.columns:
            if "SuccessRate" in column and dead(front_df, column, latency):
                broken.append(f"{NS_FRONT}/{column}[Service={front}]")
    return broken


@dataclass
class _Day:
    """The fault-free reference minute of another day of the same system."""

    day: str
    spans: pd.DataFrame
    logs: pd.DataFrame
    window: TimeWindow | None


@lru_cache(maxsize=8)
def _day(day_dir: str) -> _Day:
    folder = Path(day_dir)
    spans = _read_traces(sorted((folder / "trace").glob("*.csv.gz")))
    logs = _read_logs(sorted((folder / "log").glob("*.csv.gz")))
    return _Day(folder.name, spans, logs, _baseline_window(logs, spans))


def _day_services(folder: Path) -> set[str]:
    return {
        service_of(p.name.removesuffix("_metric.csv.gz"))
        for p in (folder / "metric").glob("*_metric.csv.gz")
    }


def _other_days(case: _Case) -> list[_Day]:
    """The reference minutes of the other baseline days of the case's system (historical
    fault-free data: same services, other pods); empty without a baseline folder."""
    root = case.baseline_root
    if not root.is_dir():
        return []
    mine = _day_services(case.baseline_dir) if case.baseline_dir else set()
    if not mine:
        mine = {service_of(p) for f in case.files("metric") if (p := _pod_of_metric_file(f))}
    days = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if case.baseline_dir is not None and folder.resolve() == case.baseline_dir.resolve():
            continue
        if _day_services(folder) & mine:
            day = _day(str(folder))
            if day.window is not None:
                days.append(day)
    return days


def _reference_windows(
    case: _Case,
    case_logs: pd.DataFrame,
    case_spans: pd.DataFrame,
    baseline: TimeWindow | None,
    other_days: list[_Day],
) -> list[ReferenceWindow]:
    """Adjacent: the case's own records before the injection (the first per-minute file starts
    about a minute before it), ending :data:`GUARD_S` before the alert; historical: the day's
    fault-free reference minute and those of the system's other days."""
    refs: list[ReferenceWindow] = []
    end = case.inject - timedelta(seconds=GUARD_S)
    earliest = case.inject - timedelta(seconds=ADJACENT_MAX_S)
    # a few source records carry corrupt clocks (e.g. year 1754): only plausible times count
    micros = case_logs["micros"].to_numpy()
    plausible = micros[(micros >= _micros(earliest)) & (micros < _micros(end))]
    firsts = [_from_micros(plausible.min())] if len(plausible) else []
    if not case_spans.empty:
        starts = pd.to_numeric(case_spans["StartTimeUnixNano"], errors="coerce").dropna()
        lo, hi = earliest.timestamp() * 1e9, end.timestamp() * 1e9
        starts = starts[(starts >= lo) & (starts < hi)]
        if len(starts):
            firsts.append(_to_datetime(starts.min()))
    if firsts and min(firsts) < end:
        refs.append(
            ReferenceWindow(
                start=_floor_s(min(firsts)),
                end=end,
                provenance="adjacent",
                note="the case's own records before the injection (first per-minute file)",
            )
        )
    if baseline is not None:
        refs.append(
            ReferenceWindow(
                start=baseline.start,
                end=baseline.end,
                provenance="historical",
                note=f"fault-free reference minute of {case.meta.get('day', '')}",
            )
        )
    for day in other_days:
        assert day.window is not None
        refs.append(
            ReferenceWindow(
                start=day.window.start,
                end=day.window.end,
                provenance="historical",
                note=f"fault-free reference minute of {day.day} (same system)",
            )
        )
    return refs


# ------------------------------------------------------------------------------------ logs
_LOG_COLUMNS = ["service", "micros", "message", "stream", "trace_id", "span_id", "event_key"]
"""Columns of :func:`_read_logs`: ``micros`` is the record's time in epoch microseconds (UTC),
the other columns are the :class:`LogRecord` fields (None where a record has none)."""


def _read_logs(paths: Iterable[Path]) -> pd.DataFrame:
    """Every row of the log files with a readable time, in file and row order, as columns
    (:data:`_LOG_COLUMNS`)."""
    frames: list[pd.DataFrame] = []
    for path in paths:
        df = _read_csv(path)
        if df.empty:
            continue
        df = df.dropna(subset=["PodName", "Log"])
        if "TimeUnixNano" in df.columns:
            stamps = pd.to_datetime(
                pd.to_numeric(df["TimeUnixNano"], errors="coerce"), unit="ns", utc=True
            )
        else:
            stamps = pd.Series(pd.NaT, index=df.index)
        if "Timestamp" in df.columns:
            stamps = stamps.fillna(
                pd.to_datetime(df["Timestamp"], format="ISO8601", utc=True, errors="coerce")
            )
        stamps = stamps.dt.floor("us")
        keep = stamps.notna().to_numpy()
        pods = df["PodName"].astype(str)[keep]
        messages = [extract_message(raw)[0] for raw in df["Log"].astype(str)[keep].tolist()]
        frames.append(
            pd.DataFrame(
                {
                    "service": _services(pods).tolist(),
                    "micros": pd.DatetimeIndex(stamps[keep]).as_unit("us").asi8,
                    "message": messages,
                    "stream": pods.tolist(),
                    "trace_id": _kept(_id_column(df, "TraceID"), keep),
                    "span_id": _kept(_id_column(df, "SpanID"), keep),
                    "event_key": [event_key(m) for m in messages],
                },
                columns=_LOG_COLUMNS,
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in _LOG_COLUMNS}).astype(
            {"micros": "int64"}
        )
    return pd.concat(frames, ignore_index=True)


def _kept(values: list[str | None], keep: np.ndarray) -> list[str | None]:
    return [v for v, k in zip(values, keep.tolist(), strict=True) if k]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    """Epoch microseconds of an aware datetime (exact)."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def _from_micros(micros: int | np.integer) -> datetime:
    """The aware UTC datetime of epoch microseconds (exact)."""
    return _EPOCH + timedelta(microseconds=int(micros))


def _log_frame(group_prefix: str, logs: pd.DataFrame) -> pd.DataFrame:
    """Log rows as :meth:`BundleWriter.add_log_frame` takes them (group per service)."""
    return pd.DataFrame(
        {
            "group": group_prefix + logs["service"].astype(str),
            "timestamp": pd.to_datetime(
                logs["micros"].to_numpy(dtype="int64"), unit="us", utc=True
            ),
            "message": logs["message"].to_numpy(dtype=object),
            "stream": logs["stream"].to_numpy(dtype=object),
            "trace_id": logs["trace_id"].to_numpy(dtype=object),
            "span_id": logs["span_id"].to_numpy(dtype=object),
            "event_key": logs["event_key"].to_numpy(dtype=object),
        }
    )


def _id_column(df: pd.DataFrame, column: str) -> list[str | None]:
    """An id column as strings, None where the source has none (empty, NaN)."""
    if column not in df.columns:
        return [None] * len(df)
    values = df[column].astype(object).where(df[column].notna(), None)
    return [str(v).strip() or None if v is not None else None for v in values]


_EVENT_KEY = re.compile(r"^(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL) (\S+#\d+)(?:\s|$)")


def event_key(message: str) -> str | None:
    """The source location ``logger#line`` of an extracted Train Ticket message
    (``f.m.s.BasicServiceImpl#119``); None when the line carries none (Online Boutique's
    structured lines do not name their source location, and none is invented)."""
    match = _EVENT_KEY.match(message)
    return match[1] if match else None


def _baseline_window(logs: pd.DataFrame, spans: pd.DataFrame) -> TimeWindow | None:
    """The reference minute as a window: the 2nd..98th percentile of the baseline log record
    times, to the second, widened to the time the baseline trace metrics are stamped with (or,
    without logs, the minute before that time). The 2023-01-29 log file has 3 % stragglers up to a
    minute and a half away from its minute; the full span (170 s) would understate the baseline
    log rates by more than half."""
    stamps = np.sort(logs["micros"].to_numpy(dtype="int64"))
    bounds: list[datetime] = []
    if len(stamps):
        bounds += [
            _from_micros(stamps[int(0.02 * (len(stamps) - 1))]),
            _from_micros(stamps[math.ceil(0.98 * (len(stamps) - 1))]),
        ]
    if not spans.empty:  # the trace metrics of the minute are stamped at this time
        stamped = _to_datetime(spans["StartTimeUnixNano"].astype(float).quantile(0.99))
        bounds += [stamped] if bounds else [stamped - timedelta(seconds=60), stamped]
    if not bounds:
        return None
    return TimeWindow(start=_floor_s(min(bounds)), end=_ceil_s(max(bounds)) + timedelta(seconds=1))


# --------------------------------------------------------------------------------- metrics
def _pod_of_metric_file(path: Path) -> str | None:
    name = path.name
    for suffix in ("_metric.csv.gz", "_metric.csv"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _metric_points(
    df: pd.DataFrame,
    *,
    dims: dict[str, str],
    namespace_of: Callable[[str], str],
    lo: datetime | None,
    hi: datetime | None,
) -> pd.DataFrame:
    """The finite values of every metric column of a per-pod (or front-end) file whose ``Time``
    lies in ``[lo, hi]``, column by column and row by row, as a metric frame
    (:data:`_METRIC_COLUMNS`); times to the second."""
    if df.empty or "Time" not in df.columns:
        return _metric_frame([])
    times = _parse_time_column(df["Time"])
    keep = times.notna()
    if lo is not None:
        keep &= times >= pd.Timestamp(lo)
    if hi is not None:
        keep &= times <= pd.Timestamp(hi)
    df, times = df[keep], times[keep]
    seconds = pd.DatetimeIndex(times.dt.floor("s")).as_unit("ns").asi8
    columns = [c for c in df.columns if c not in _TIME_COLUMNS]
    if not columns:
        return _metric_frame([])
    # column by column, row by row (the order of the points), finite values only
    values = np.concatenate([_numbers(df[c]) for c in columns])
    finite = np.isfinite(values)
    which = np.repeat(np.arange(len(columns)), len(seconds))[finite]

    def per_column(texts: list[str]) -> np.ndarray:
        return np.array(texts, dtype=object)[which]

    frame = pd.DataFrame(
        {
            "timestamp": np.tile(seconds, len(columns))[finite],
            "namespace": per_column([namespace_of(c) for c in columns]),
            "metric": per_column(columns),
            "dimensions": [dims] * len(which),
            "value": values[finite],
            "unit": per_column([_unit(c) for c in columns]),
        }
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].to_numpy(), unit="ns", utc=True)
    return frame


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as floats, NaN where a cell is not a number."""
    if pd.api.types.is_numeric_dtype(column.dtype):  # already parsed as numbers by read_csv
        return column.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _first_sample_after(front: pd.DataFrame | None, when: datetime) -> datetime | None:
    if front is None or front.empty or "Time" not in front.columns:
        return None
    times = _parse_time_column(front["Time"]).dropna()
    later = times[times >= pd.Timestamp(when)]
    return later.min().to_pydatetime() if len(later) else None


def fault_window(
    inject: datetime,
    front: pd.DataFrame | None,
    last_record: datetime | None,
) -> tuple[TimeWindow, str]:
    """The incident window and how it was chosen.

    Nezha keeps three per-minute log/trace files per fault, named after the injection minute and
    the next two; the file ``HH_MM`` holds the minute that ends at the metric collection moment
    ``HH:MM:ss`` (ss about 09 on Train Ticket, 19-28 on Online Boutique). The window runs from
    the injection to the collection moment closing the third file: the first ``front_service``
    sample at or after the injection minute + 120 s, plus :data:`WINDOW_END_SLACK_S` so the
    per-pod samples of that round fall inside; it is never shorter than the last log/trace record
    of the case. That is about 85-130 s, and it is exactly the period the case's logs and traces
    cover (a longer window would dilute log rates against the baseline). Fallback without
    metric samples: the last record, else injection + 180 s.
    """
    minute = inject.replace(second=0, microsecond=0)
    closing = _first_sample_after(front, minute + timedelta(seconds=120))
    end: datetime | None = None
    how = ""
    if closing is not None and closing - minute <= timedelta(seconds=240):
        end = _ceil_s(closing) + timedelta(seconds=WINDOW_END_SLACK_S)
        how = "injection .. the metric collection closing the third per-minute file (+5 s)"
    if last_record is not None and (end is None or last_record >= end):
        end = _ceil_s(last_record) + timedelta(seconds=1)
        how = how or "injection .. the last log/trace record of the case"
    if end is None or end <= inject:
        end = inject + timedelta(seconds=FALLBACK_WINDOW_S)
        how = f"injection + {FALLBACK_WINDOW_S:.0f} s (no samples to place the window end)"
    return TimeWindow(start=inject, end=end), how


# ------------------------------------------------------------------------------- workspace
def _selectors(svc: str, front: str, with_trace: bool) -> list[dict[str, Any]]:
    selectors: list[dict[str, Any]] = [{"namespace": NS_POD, "dimensions": {"Service": svc}}]
    if with_trace:
        selectors.append({"namespace": NS_TRACE, "dimensions": {"Service": svc}})
    if svc == front:
        selectors.append({"namespace": NS_FRONT, "dimensions": {"Service": svc}})
    return selectors


def _workspace(
    system: str,
    services: list[str],
    pods: dict[str, set[str]],
    graph: _CallGraph,
    front: str,
    log_services: set[str],
    trace_services: set[str],
) -> dict[str, Any]:
    name = SYSTEM_NAMES.get(system, system)
    tech = SYSTEM_TECH.get(system, "")
    ids = {svc: str(10 + i) for i, svc in enumerate(services)}
    containers = []
    for svc in services:
        rels = []
        for (caller, callee), n in sorted(graph.edges.items()):
            if caller != svc or callee not in ids:
                continue
            rels.append(
                {
                    "id": f"r{ids[caller]}-{ids[callee]}",
                    "sourceId": ids[caller],
                    "destinationId": ids[callee],
                    "description": f"Calls ({n} spans), e.g. {graph.example[(caller, callee)]}",
                    "technology": tech,
                }
            )
        pod_names = sorted(pods.get(svc, set()))
        description = f"{svc} microservice of {name}"
        if pod_names:
            description += f" (Kubernetes pod{'s' if len(pod_names) > 1 else ''} "
            description += ", ".join(pod_names) + ")"
        aliases = list(pod_names)
        if svc == front:
            description = f"Front end of {name}: receives the users' requests. " + description
            aliases.append(FRONT_ALIAS)
        props = {
            "rca.metrics": json.dumps(_selectors(svc, front, svc in trace_services)),
        }
        if svc in log_services:
            props["rca.logGroups"] = f"/nezha/{system}/{svc}"
        if aliases:
            props["rca.aliases"] = ",".join(aliases)
        containers.append(
            {
                "id": ids[svc],
                "name": svc,
                "description": description,
                "technology": "Kubernetes Deployment",
                "tags": "Element,Container",
                "properties": props,
                "relationships": rels,
            }
        )
    user_rels = []
    if front in ids:
        roots = graph.roots.get(front, 0)
        user_rels.append(
            {
                "id": f"r1-{ids[front]}",
                "sourceId": "1",
                "destinationId": ids[front],
                "description": (
                    f"Sends requests to ({roots} traces)" if roots else "Sends requests to"
                ),
                "technology": "HTTP",
            }
        )
    return {
        "id": 1,
        "name": f"{name} (Nezha)",
        "description": (
            f"{name} microservice benchmark as observed in the Nezha dataset; relationships from "
            f"the trace call graph ({graph.source})"
        ),
        "model": {
            "people": [
                {
                    "id": "1",
                    "name": "User",
                    "description": f"A user of {name}",
                    "tags": "Element,Person",
                    "relationships": user_rels,
                }
            ],
            "softwareSystems": [
                {
                    "id": "2",
                    "name": name,
                    "description": f"The {name} microservice system",
                    "tags": "Element,Software System",
                    "containers": containers,
                }
            ],
        },
        "views": {},
    }


def _description(system: str, front: str, root_cause: str) -> str:
    name = SYSTEM_NAMES.get(system, system)
    if front and front != root_cause:
        return f"{name} users report failing or slow requests through {front}"
    # naming the front end would name the root cause: use its role (an alias of the element)
    return f"{name} users report failing or slow requests through the {FRONT_ALIAS}"


# ---------------------------------------------------------------------------------- import
def import_case(
    case_dir: Path,
    out_dir: Path,
    *,
    baseline_root: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Convert one Nezha case folder into the bundle ``out_dir / <case_id>``; returns its path.

    ``baseline_root`` is the folder holding ``<day>/`` baselines (default: ``baseline`` next to
    the ``cases`` folder). An existing bundle at the target is replaced.

    Raises:
        FileNotFoundError: ``case_dir`` has no ``case.json``.
    """
    case_dir = Path(case_dir)
    case = _load_case(case_dir, Path(baseline_root) if baseline_root is not None else None)
    system = case.system
    inject = case.inject
    metric_window = case.meta.get("metric_window") or {}
    lo = (
        datetime.fromtimestamp(int(metric_window["from_epoch_s"]), tz=UTC)
        if "from_epoch_s" in metric_window
        else inject - timedelta(seconds=1800)
    )
    hi = (
        datetime.fromtimestamp(int(metric_window["to_epoch_s"]), tz=UTC)
        if "to_epoch_s" in metric_window
        else inject + timedelta(seconds=600)
    )

    # traces: the case's minutes and the baseline minute of the day
    case_spans = _read_traces(case.files("trace"))
    base_spans = _read_traces(case.baseline_files("trace"))
    both = pd.concat([case_spans, base_spans], ignore_index=True)
    graph = _call_graph(both, "case and baseline traces of the day")
    if not graph.edges:
        services_hint = frozenset(
            service_of(p) for f in case.files("metric") if (p := _pod_of_metric_file(f))
        )
        graph = _union_baseline_graph(str(case.baseline_root), services_hint)

    # metric files
    pod_files: dict[str, Path] = {}
    front_df: pd.DataFrame | None = None
    for path in case.files("metric"):
        pod = _pod_of_metric_file(path)
        if pod is not None:
            pod_files[pod] = path
        elif path.name.startswith("front_service"):
            front_df = _read_csv(path)

    # logs
    case_logs = _read_logs(case.files("log"))
    base_logs = _read_logs(case.baseline_files("log"))

    # services and pods
    pods: dict[str, set[str]] = {}
    for pod in pod_files:
        pods.setdefault(service_of(pod), set()).add(pod)
    for frame in (case_spans, base_spans):
        for pod in frame["PodName"].astype(str).unique() if not frame.empty else []:
            pods.setdefault(service_of(pod), set()).add(pod)
    for logs in (case_logs, base_logs):
        for pod in logs["stream"].unique().tolist():
            pods.setdefault(service_of(pod), set()).add(pod)
    services_set = set(pods) | {s for edge in graph.edges for s in edge}
    root_cause = str(case.meta.get("root_cause_service") or "")
    if root_cause:
        services_set.add(root_cause)
    front = graph.roots.most_common(1)[0][0] if graph.roots else ""
    if not front:
        default = DEFAULT_FRONT.get(system, "")
        front = default if default in services_set else (sorted(services_set) or [""])[0]
    services_set.add(front)
    services = sorted(s for s in services_set if s)

    out_dir_case = Path(out_dir) / case.case_id
    # zlib level 6: about 1.4 times faster than 9 here, and 0.3 % larger
    writer = BundleWriter(out_dir_case, gzip_files=True, compresslevel=6)
    other_days = _other_days(case)
    all_logs = pd.concat(
        [case_logs, base_logs, *(day.logs for day in other_days)], ignore_index=True
    )
    log_services = set(all_logs["service"].unique().tolist())
    if len(all_logs):
        writer.add_log_frame(_log_frame(f"/nezha/{system}/", all_logs))

    pod_frames = {pod: _read_csv(path) for pod, path in sorted(pod_files.items())}
    for pod, df in pod_frames.items():
        writer.add_metric_frame(
            _metric_points(
                df,
                dims={"Service": service_of(pod), "Pod": pod},
                namespace_of=lambda c: NS_NODE if c.startswith("Node") else NS_POD,
                lo=lo,
                hi=hi,
            )
        )
    if front_df is not None:
        writer.add_metric_frame(
            _metric_points(
                front_df, dims={"Service": front}, namespace_of=lambda c: NS_FRONT, lo=lo, hi=hi
            )
        )
    trace_points = pd.concat(
        [_trace_metrics(case_spans), _trace_metrics(base_spans)], ignore_index=True
    )
    writer.add_metric_frame(trace_points)
    trace_services = {d["Service"] for d in trace_points["dimensions"].tolist()}

    # window and baseline
    last_record: datetime | None = None
    stamps = [_from_micros(case_logs["micros"].max())] if len(case_logs) else []
    if not case_spans.empty:
        stamps.append(_to_datetime(case_spans["StartTimeUnixNano"].max()))
    if stamps:
        last_record = max(stamps)
    window, window_rule = fault_window(inject, front_df, last_record)
    baseline = _baseline_window(base_logs, base_spans)
    references = _reference_windows(case, case_logs, case_spans, baseline, other_days)
    span_table = pd.concat(
        [_span_rows(case_spans), _span_rows(base_spans)]
        + [_span_rows(day.spans) for day in other_days],
        ignore_index=True,
    )
    span_table, sampling = _bounded(span_table, MAX_SPANS)
    if not span_table.empty:
        writer.add_spans(span_table)
    broken = _broken_series(pod_frames, front_df, front)

    workspace = _workspace(system, services, pods, graph, front, log_services, trace_services)
    spec = IncidentSpec(
        bundle_version=2,
        id=case.case_id,
        alert_time=inject,
        reference_windows=references,
        broken_series=broken,
        title=f"{SYSTEM_NAMES.get(system, system)} incident on {case.meta.get('day', '')}",
        description=_description(system, front, root_cause),
        window=window,
        baseline=baseline,
        ground_truth=GroundTruth(
            component=root_cause,
            fault_kind=str(case.meta.get("fault_type", "")),
            detail=case.meta.get("root_cause_indicator"),
        ),
        source={
            "dataset": "Nezha (FSE 2023)",
            "repo": (case.meta.get("source") or {}).get(
                "repo", "https://github.com/IntelligentDDS/Nezha"
            ),
            "commit": (case.meta.get("source") or {}).get("commit", ""),
            "case_id": case.case_id,
            "system": system,
            "day": case.meta.get("day"),
            "split": case.meta.get("split"),
            "license": LICENSE,
            "importer": "scenarios.nezha",
            "window_rule": window_rule,
            "baseline_rule": (
                "the day's fault-free reference minute: 2nd..98th percentile of its log times"
                if baseline
                else "none (no baseline logs): the period before the window"
            ),
            "call_graph": graph.source,
            "alert_rule": (
                "the injection time: the source records no alert, and the injection is the "
                "earliest moment the fault could be noticed"
            ),
            "spans": {
                "rows": len(span_table),
                "sampling": sampling,
                "kind": "absent in the source",
                "status_code": "absent in the source",
            },
            "missing_source_files": list(case.meta.get("missing_source_files") or []),
        },
    )
    if out_dir_case.is_dir() and (out_dir_case / "incident.yaml").is_file():
        shutil.rmtree(out_dir_case)
    writer.write(spec, workspace)
    if progress is not None:
        progress(
            f"{case.case_id}: {len(services)} services, {len(graph.edges)} edges, "
            f"{len(case_logs) + len(base_logs)} log records"
        )
    return out_dir_case


def list_cases(nezha_root: Path) -> list[Path]:
    """Case folders of ``index.json`` that exist, in index order."""
    nezha_root = Path(nezha_root)
    index = json.loads((nezha_root / "index.json").read_text(encoding="utf-8"))
    cases = index.get("cases", []) if isinstance(index, dict) else index
    folders = [nezha_root / "cases" / str(c["case_id"]) for c in cases]
    return [f for f in folders if (f / "case.json").is_file()]


def import_all(nezha_root: Path, out_root: Path, *, progress: Progress | None = None) -> list[Path]:
    """Import every case of ``index.json`` whose folder exists; returns the bundle paths."""
    nezha_root = Path(nezha_root)
    return [
        import_case(case, Path(out_root), baseline_root=nezha_root / "baseline", progress=progress)
        for case in list_cases(nezha_root)
    ]
