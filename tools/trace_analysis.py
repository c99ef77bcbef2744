"""The ``traces`` tool: spans of the incident window against fault-free reference windows.

Detectors (vectorised with pandas; every figure is ``-log10 p`` under the named null model, see
:mod:`tools.significance`; the strongest of ``m`` tests is Bonferroni-corrected):

1. **Call edge network time.** For a span whose parent belongs to another service, the parent is
   the caller's client span and ``parent duration - span duration`` the time spent between the
   two services (network, queues, the caller's own scheduling). Per edge ``caller -> callee``:
   ``k`` of the ``n`` window calls exceed the threshold ``max(q99, median + 1 ms)`` of the
   reference calls; null model Binomial(n, p0) with ``p0`` the reference exceedance rate
   (add-one smoothed, at least 1%). A second, magnitude test per edge (:func:`_tail_scan`)
   scans thresholds beyond the edge's own q99 with an empirical-Bayes tail rate (the edge's own
   reference rate shrunk toward the pooled rate of all edges by its reference count,
   :func:`tail_rate_eb`), so that a few calls delayed far beyond anything in the references
   are significant on an edge seen only a dozen times; the stronger of the two
   tests counts (Bonferroni over both). A client span that names the service it calls
   (``peer_service``) and has no server span below it (a managed service or third party that
   writes no spans, or a call it rejected before serving) is an edge ``caller -> peer`` whose
   time is the whole round trip. Attribution is direction-aware: a slow edge credits the
   callee by the share of its inbound edges that are slow and the caller by the share of all its
   edges (in and out) that are slow (edges with too few window calls to ever reach significance
   are left out of the shares) (a delayed pod delays everything in and out of it; a
   CPU-starved caller slows everything it calls; only the delayed end has every edge slow).
2. **Span behaviour.** Per span kind ``(service, operation, parent operation)`` the signature of a
   span is the set of its child calls (``call <service> <operation>``) and log statements written
   in it (``log <event key>``, from span-linked log records). A statement or call that the
   reference spans of the kind nearly always contain and the window spans lack: ``k`` of ``n``
   window spans lack it, Binomial(n, p0) with ``p0`` the reference's own irregularity rate
   (add-one smoothed). A new ERROR/WARN statement: ``k`` of ``n`` window spans contain it,
   ``p0`` its smoothed reference rate. Credited to the span's own service, except when the
   spans that changed stop right after a call to another service ``S`` (their last child call
   goes to ``S``): then ``S`` is credited when two or more different caller services stop after
   calling ``S``, or ``S`` has evidence of its own; otherwise the exception happened in the
   span's own service.
   **Companions** (:func:`_companions`): per span kind and pair of items ``(A, B)``, the
   window spans holding ``A`` without ``B`` at least as often, vs the reference irregularity
   rate of the pair: finds a fault between two statements when one operation serves several
   routes or loops over items (the presence test then still sees ``B`` from other requests or
   iterations). Child calls are named by the service they reach, so client spans named only
   ``HTTP GET`` stay apart. A span whose last item is a log statement stopped in its own code.
3. **Error origin** (only when the source has status codes: HTTP >= 500 or ``ERROR``, and on
   client spans any HTTP >= 400, as OpenTelemetry's HTTP conventions set a client span's status:
   a throttled call's 429 or DynamoDB's 400 ``ProvisionedThroughputExceededException``): the
   deepest failing spans, whose children all succeeded; per service, ``k`` origins of ``n``
   window spans vs the reference origin rate (binomial). Credited to the origin's service; a
   failing client span without a span below it that names its ``peer_service`` is an origin in
   the peer (the callee failed or refused the call and wrote no span of its own), counted
   against the calls into that peer.
   **Unserved calls** (:func:`_unserved`): a client span naming a ``peer_service`` that
   writes spans, with no span of it below (the call was rejected before the callee ran: a
   throttled Lambda invocation), ``k`` of ``n`` window calls vs the reference rate (binomial);
   credited to the peer. Needs no status codes.
   **Failed calls** (:class:`_FailedCalls`): a span-behaviour change (a new WARN/ERROR
   statement, a missing statement or call, a lost companion) whose changed spans mostly made a
   failed call to another service ``X`` (the call was retried, the statement right after it
   names ``X``, it was not served, its span fails, or it was slow and the caller's only slow
   callee) is the caller's reaction to ``X`` failing and is credited to ``X``; a caller that
   throws after a call returned normally keeps its own change. :func:`reaction_targets` gives
   the logs tool the same judgement per statement.
4. **Fan-out and call counts.** Per span kind and child call, more calls per span than the
   reference rate (Poisson); reported as context (retries and fan-out changes are consequences
   as often as causes), not credited.
5. **Self-time** (:mod:`tools.trace_selftime`): per entry span kind (service, operation), the
   time the service spends in its own code (the span's duration minus the union of its calls'
   intervals), ``k`` of ``n`` window 10 s blocks whose median self-time exceeds the
   reference's ``max(q99, median + 1 ms)`` (binomial against the reference blocks' rate,
   Bonferroni over the units); credited only with an onset inside the window (the change
   point of the slow blocks), to the service, or to ``X`` when the slow spans mostly made a
   failed call to ``X`` (:class:`_FailedCalls`). A slower leaf raises its callers'
   durations, not their self-times.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tools import significance
from tools.context import ToolContext, ToolResult
from tools.models import Evidence, TimeWindow
from tools.traces import TracesInput

MIN_REFERENCE_CALLS = 5
MIN_WINDOW_SPANS = 3
FLOOR_NS = 1_000_000  # 1 ms: the natural-unit floor of a network-time excess
# the unit of the edge magnitude test: calls in one second share one stall (a GC pause, a
# CFS throttling period of 100 ms), so a second, not a call, is an independent trial; set
# a priori (not fitted), after a fault-free check showed bursts of stalled calls
TIME_UNIT_NS = 1_000_000_000
# the cluster of the binomial tests (spans, calls, error origins): spans of one trace, of one
# burst of requests or of one day's traffic mix share their cause, so the trials of a 10 s
# block are correlated; the correlation is estimated per test from the reference windows'
# between-block variation (:func:`tools.significance.block_correlation`). Set a priori (not
# fitted): longer than a trace, short enough that a one-minute reference window holds six
BLOCK_NS = 10_000_000_000
# the clusters a binomial test's trials are grouped by: the time block and the trace (a loop
# in one request writes many spans of a kind that share the request's data); a block of
# exchangeable trials understates the effect of a few large clusters inside it, so each
# grouping gives a design effect and the larger one counts (both are lower bounds of the
# design effect of the nested clusters)
CLUSTERS = ("block", "trace_id")
MIN_EXCEED_RATE = 0.01
ERROR_LEVELS = ("ERROR", "FATAL", "WARN", "WARNING", "SEVERE")
MAX_ITEMS = 8


@dataclass
class Credit:
    """Evidence credited to one component by one detector."""

    component: str
    detector: str
    evidence: float
    raw: float
    share: float
    text: str
    test: str
    edge: tuple[str, str] | None = None
    attribution: str = ""
    onset_ns: int | None = None
    """An observed onset (epoch ns UTC), for detectors that locate one; None: the finding
    covers the whole window."""
    figures: dict[str, float] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    role: str = ""


@dataclass
class TraceFindings:
    """What the detectors found: per-component credits and the tables behind them."""

    credits: list[Credit] = field(default_factory=list)
    edges: pd.DataFrame = field(default_factory=pd.DataFrame)
    behaviour: pd.DataFrame = field(default_factory=pd.DataFrame)
    companions: pd.DataFrame = field(default_factory=pd.DataFrame)
    fanout: pd.DataFrame = field(default_factory=pd.DataFrame)
    self_time: pd.DataFrame = field(default_factory=pd.DataFrame)
    window_spans: int = 0
    reference_spans: int = 0
    families: int = 0
    has_status: bool = False
    has_logs: bool = False


def binomial_many(
    k: np.ndarray, n: np.ndarray, p0: np.ndarray, deff: np.ndarray | None = None
) -> np.ndarray:
    """Vectorised :func:`tools.significance.binomial` (-log10 P(X >= k), 0 without excess);
    ``deff`` (per row, >= 1): the design effect of clustered trials, the test then runs on
    ``k / deff`` of ``n / deff`` effective trials (Rao & Scott 1992)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    p0 = np.clip(np.asarray(p0, dtype=float), 1e-12, 1 - 1e-12)
    out = np.zeros(len(k))
    mask = (k > 0) & (n > 0) & (k > n * p0)
    if deff is not None:
        d = np.maximum(1.0, np.nan_to_num(np.asarray(deff, dtype=float), nan=1.0))
        k, n = k / d, n / d
    if mask.any():
        log_p = stats.beta.logcdf(p0[mask], k[mask], n[mask] - k[mask] + 1)
        q = np.clip(k[mask] / n[mask], 1e-12, 1 - 1e-12)
        kl = q * np.log(q / p0[mask]) + (1 - q) * np.log((1 - q) / (1 - p0[mask]))
        log_p = np.where(np.isfinite(log_p), log_p, -n[mask] * kl)
        out[mask] = np.maximum(0.0, -log_p / math.log(10))
    return np.round(out, 3)


def _period(starts: pd.Series, window: TimeWindow, references: list[TimeWindow]) -> pd.Series:
    ns = starts.astype("int64")
    label = pd.Series("", index=starts.index, dtype=object)
    for ref in references:
        lo, hi = int(ref.start.timestamp() * 1e9), int(ref.end.timestamp() * 1e9)
        label[(ns >= lo) & (ns < hi)] = "reference"
    lo, hi = int(window.start.timestamp() * 1e9), int(window.end.timestamp() * 1e9)
    label[(ns >= lo) & (ns < hi)] = "window"
    return label


def _is_error(codes: pd.Series, kinds: pd.Series | None = None) -> pd.Series:
    """True for a failing span: status ``ERROR``/``FAULT`` or HTTP >= 500; on a client span
    (``kinds`` == ``client``) any HTTP >= 400 (OpenTelemetry HTTP semantic conventions: 4xx
    leaves a server span's status unset and sets a client span's to Error)."""
    text = codes.astype(str).str.strip().str.upper()
    numeric = pd.to_numeric(text, errors="coerce")
    failing = text.isin(["ERROR", "FAULT"]) | (numeric >= 500)
    if kinds is not None:
        client = kinds.astype(str).str.strip().str.lower() == "client"
        failing |= client & (numeric >= 400)
    return failing


def _served(joined: pd.DataFrame) -> pd.Series:
    """True for a span with at least one child span (the call reached a service that wrote
    one)."""
    ids = joined[["trace_id", "parent_id", "span_id"]].astype(str)
    if ids.isna().any().any():  # missing ids: as the MultiIndex matches them
        parents = pd.MultiIndex.from_frame(ids[["trace_id", "parent_id"]])
        keys = pd.MultiIndex.from_frame(ids[["trace_id", "span_id"]])
        return pd.Series(keys.isin(parents), index=joined.index)
    # the same membership test on a set of (trace, parent) pairs: several times faster
    trace = ids["trace_id"].tolist()
    parents_set = set(zip(trace, ids["parent_id"].tolist(), strict=True))
    flags = [key in parents_set for key in zip(trace, ids["span_id"].tolist(), strict=True)]
    return pd.Series(flags, index=joined.index, dtype=bool)


def _joined(
    spans: pd.DataFrame, window: TimeWindow, references: list[TimeWindow]
) -> pd.DataFrame | None:
    """The spans of ``window`` and ``references`` (column ``period``), each with its parent's
    service, operation and duration (``p_service``, ``p_operation``, ``p_duration``); None
    without spans."""
    if spans.empty:
        return None
    spans = spans.copy()
    spans["start_ns"] = pd.to_numeric(spans["start_ns"], errors="coerce")
    spans["duration_ns"] = pd.to_numeric(spans["duration_ns"], errors="coerce")
    spans = spans.dropna(subset=["start_ns", "duration_ns"])
    if "peer_service" not in spans.columns:
        spans["peer_service"] = ""
    spans["peer_service"] = spans["peer_service"].fillna("").astype(str).str.strip()
    spans["period"] = _period(spans["start_ns"], window, references)
    spans["block"] = spans["start_ns"].astype("int64") // BLOCK_NS
    spans = spans[spans["period"] != ""]
    parents = spans[["trace_id", "span_id", "service", "operation", "duration_ns"]].rename(
        columns={
            "span_id": "parent_id",
            "service": "p_service",
            "operation": "p_operation",
            "duration_ns": "p_duration",
        }
    )
    joined = spans.merge(parents, on=["trace_id", "parent_id"], how="left")
    joined["p_operation"] = joined["p_operation"].fillna("")
    return joined


def analyse(
    spans: pd.DataFrame,
    logs: pd.DataFrame,
    window: TimeWindow,
    references: list[TimeWindow],
) -> TraceFindings:
    """Run every detector over ``spans`` (:data:`tools.bundle.SPAN_COLUMNS`) and span-linked
    ``logs`` (columns ``trace_id``, ``span_id``, ``event_key``, ``level``; may be empty).

    Spans starting in ``window`` are the window; spans starting in any of ``references`` (and
    not in the window) the reference. Returns the findings; never raises on empty input.
    """
    found = TraceFindings()
    joined = _joined(spans, window, references)
    if joined is None:
        return found
    found.window_spans = int((joined["period"] == "window").sum())
    found.reference_spans = int((joined["period"] == "reference").sum())
    if not found.window_spans or not found.reference_spans:
        return found
    found.has_status = bool((joined["status_code"].astype(str).str.strip() != "").any())
    found.has_logs = not logs.empty
    edge_credits = _edges(joined, found)
    # one table of span items and one failed-call reading for span behaviour and self-time
    items = functools.cache(lambda: _items(joined, logs))
    failed = functools.cache(lambda: _FailedCalls(items(), joined, logs))
    own, stops = _behaviour(joined, found, items, failed)
    origin = _origins(joined, found) if found.has_status else []
    from tools.trace_selftime import self_time_credits  # imports this module

    slow_own, found.self_time = self_time_credits(joined, failed)
    found.credits = edge_credits + own + origin + _unserved(joined, found) + slow_own
    # test families corrected separately: edges, span presence, companions, unserved calls,
    # self-time, origins
    found.families = 5 + int(found.has_status)
    found.credits += _attribute_stops(stops, {c.component for c in found.credits})
    _fanout(joined, found)
    return found


def _window_counts(frame: pd.DataFrame, keys: list[str], flag: str) -> pd.DataFrame | None:
    """Per ``keys``: ``k``/``n`` flagged rows of all rows in the window, ``k_ref``/``n_ref``
    in the references; None when nothing lies in the window."""
    by = frame.groupby([*keys, "period"])[flag].agg(["sum", "size"]).unstack("period", fill_value=0)
    if ("size", "window") not in by.columns:
        return None
    return pd.DataFrame(
        {
            "k": by[("sum", "window")],
            "n": by[("size", "window")],
            "k_ref": by.get(("sum", "reference"), 0),
            "n_ref": by.get(("size", "reference"), 0),
        }
    )


def _design(frame: pd.DataFrame, keys: list[str], flag: str) -> pd.DataFrame:
    """Per test unit (``keys``) of a binary outcome ``flag`` over rows with ``period`` and
    ``block``: ``rho``, the unit's own intra-block correlation in the references, else the
    detector's pooled one (:func:`tools.significance.block_correlation`), and
    ``deff``, the design effect of the unit's window rows over their blocks
    (:func:`tools.significance.design_effect`). Units without window rows are absent."""
    ref = frame[frame["period"] == "reference"]
    out = None
    for cluster in [c for c in CLUSTERS if c in frame.columns]:
        blocks = ref.groupby([*keys, cluster])[flag].agg(k="sum", n="size").reset_index()
        rho, pooled = significance.block_correlation(blocks, keys)
        win = frame[frame["period"] == "window"].groupby(keys)[cluster].agg(["size", "nunique"])
        out = _larger(out, _deff_table(win["size"], win["nunique"], rho, pooled))
    return out


def _larger(a: pd.DataFrame | None, b: pd.DataFrame) -> pd.DataFrame:
    """Per unit, the row (``rho``, ``deff``) of ``a`` or ``b`` with the larger ``deff``."""
    if a is None:
        return b
    other = b.reindex(a.index)
    take = a["deff"].to_numpy() >= other["deff"].fillna(1.0).to_numpy()
    return pd.DataFrame(
        {col: np.where(take, a[col].to_numpy(), other[col].to_numpy()) for col in a.columns},
        index=a.index,
    )


def _deff_table(n: pd.Series, blocks: pd.Series, rho: pd.Series, pooled: float) -> pd.DataFrame:
    """``rho`` (the unit's own, else ``pooled``) and ``deff`` per unit of ``n`` window trials in
    ``blocks`` blocks (all three indexed alike)."""
    r = rho.reindex(n.index).fillna(pooled) if len(rho) else 0.0 * n + pooled
    m = n.astype(float) / blocks.clip(lower=1).astype(float)
    return pd.DataFrame({"rho": r, "deff": np.maximum(1.0, 1.0 + (m - 1.0) * r)})


# ----------------------------------------------------------------------------- 1. edges
def _edges(joined: pd.DataFrame, found: TraceFindings) -> list[Credit]:
    cross = joined[joined["p_service"].notna() & (joined["p_service"] != joined["service"])]
    cross = cross.assign(net=(cross["p_duration"] - cross["duration_ns"]).astype(float))
    # calls into a peer that wrote no span: the client span's whole round trip
    leaf = joined[(joined["peer_service"] != "") & (joined["peer_service"] != joined["service"])]
    leaf = leaf[~_served(joined).loc[leaf.index]]
    # an unserved call into a service that writes spans was rejected before it ran: its round
    # trip is no network time (see _unserved)
    leaf = leaf[~leaf["peer_service"].isin(set(joined["service"]))]
    if not leaf.empty:
        cross = pd.concat(
            [
                cross,
                leaf.assign(
                    p_service=leaf["service"],
                    service=leaf["peer_service"],
                    net=leaf["duration_ns"].astype(float),
                ),
            ],
            ignore_index=True,
        )
    if cross.empty:
        return []
    ref = cross[cross["period"] == "reference"].groupby(["p_service", "service"])["net"]
    table = pd.DataFrame(
        {"n_ref": ref.size(), "q99": ref.quantile(0.99), "median": ref.median()}
    ).reset_index()
    table = table[table["n_ref"] >= MIN_REFERENCE_CALLS]
    table["threshold"] = np.maximum(table["q99"], table["median"] + FLOOR_NS)
    merged = cross.merge(table, on=["p_service", "service"])
    merged["slow"] = merged["net"] > merged["threshold"]
    edges = _window_counts(merged, ["p_service", "service"], "slow")
    if edges is None:
        return []
    edges = edges.reset_index()
    edges = edges[edges["n"] > 0]
    edges["p0"] = np.maximum((edges["k_ref"] + 1) / (edges["n_ref"] + 2), MIN_EXCEED_RATE)
    edges = edges.merge(
        _design(merged, ["p_service", "service"], "slow").reset_index(),
        on=["p_service", "service"],
        how="left",
    )
    edges["raw"] = binomial_many(edges["k"], edges["n"], edges["p0"], edges["deff"])
    edges = edges.merge(_tail_scan(merged), on=["p_service", "service"], how="left")
    tail_columns = ["tail_raw", "tail_k", "tail_units", "tail_ms", "tail_p0"]
    edges[tail_columns] = edges[tail_columns].fillna(0.0)
    edges["test"] = np.where(edges["tail_raw"] > edges["raw"], "tail", "q99")
    # the stronger of the two tests per edge, corrected for having looked at both
    edges["raw"] = np.round(
        np.maximum(0.0, np.maximum(edges["raw"], edges["tail_raw"]) - math.log10(2)), 3
    )
    medians = merged[merged["period"] == "window"].groupby(["p_service", "service"])["net"]
    edges = edges.merge(medians.median().rename("win_median").reset_index(), how="left")
    edges = edges.merge(table[["p_service", "service", "median"]], how="left")
    edges["evidence"] = [significance.bonferroni(e, len(edges)) for e in edges["raw"]]
    edges["slow_edge"] = edges["evidence"] >= significance.SIGNIFICANT
    # an edge with too few window calls to ever reach significance tells nothing either way:
    # it is left out of the shares (all n calls slow would give n * -log10 p0)
    reachable = np.maximum(
        edges["n"] / edges["deff"].fillna(1.0) * -np.log10(edges["p0"]),
        edges["tail_units"]
        / edges["tail_deff"].fillna(1.0)
        * -np.log10(edges["floor_p0"].fillna(1.0)),
    ) - math.log10(max(1, len(edges)))
    edges["testable"] = reachable >= significance.SIGNIFICANT
    found.edges = edges.sort_values("evidence", ascending=False).reset_index(drop=True)
    credits: list[Credit] = []
    slow = edges[edges["slow_edge"]]
    if slow.empty:
        return credits
    edges = edges[edges["testable"]]
    services = set(edges["p_service"]) | set(edges["service"])
    for svc in sorted(services):
        inbound = edges[edges["service"] == svc]
        outbound = edges[edges["p_service"] == svc]
        slow_in = inbound[inbound["slow_edge"]]
        slow_out = outbound[outbound["slow_edge"]]
        if len(slow_in):
            share = len(slow_in) / len(inbound)
            best = slow_in.loc[slow_in["evidence"].idxmax()]
            credits.append(
                _edge_credit(svc, best, share, "callee", len(slow_in), len(inbound), "inbound")
            )
        if len(slow_out):
            total = len(inbound) + len(outbound)
            share = (len(slow_in) + len(slow_out)) / total
            best = slow_out.loc[slow_out["evidence"].idxmax()]
            credits.append(
                _edge_credit(
                    svc, best, share, "caller", len(slow_in) + len(slow_out), total, "(all)"
                )
            )
    return credits


def _edge_counts(x: np.ndarray, own: dict[tuple[str, str], np.ndarray]) -> np.ndarray:
    """(edges, thresholds): reference calls of each edge at least ``x`` ns over its median."""
    return np.stack([len(v) - np.searchsorted(v, x, side="left") for v in own.values()]).astype(
        float
    )


def tail_correlation(own: dict[tuple[str, str], np.ndarray]) -> float:
    """The between-edge correlation ``rho`` of the reference tail, one per case, no labels.

    ``own``: per edge, its sorted reference excesses over its median (ns). Thresholds: every
    distinct reference excess at or beyond the pooled q99 of all edges; at each, the edges'
    counts of calls reaching it give the Williams (1982) moment statistic (as in
    :func:`tools.significance.block_correlation`, edges as the clusters: ``X2 - (J - 1)`` over
    ``N - sum n_j^2 / N - J + 1``); numerators and denominators are summed over the
    thresholds (a threshold no reference call reaches tells nothing about ``rho``, so the
    tail's correlation is estimated where the tail was observed and carried beyond it).
    Clipped to [0, 1]; 0 with fewer than two edges.
    """
    sizes = np.array([len(v) for v in own.values()], dtype=float)
    if len(sizes) < 2:
        return 0.0
    pooled = np.sort(np.concatenate(list(own.values())))
    x = np.unique(pooled[pooled >= np.quantile(pooled, 0.99)])
    counts = _edge_counts(x, own)
    total = float(sizes.sum())
    p_hat = counts.sum(axis=0) / total
    keep = (p_hat > 0) & (p_hat < 1)
    if not keep.any():
        return 0.0
    counts, p_hat = counts[:, keep], p_hat[keep]
    x2 = ((counts - sizes[:, None] * p_hat) ** 2 / (sizes[:, None] * p_hat * (1 - p_hat))).sum(0)
    den = total - float((sizes**2).sum()) / total - len(sizes) + 1
    if den <= 0:
        return 0.0
    return float(np.clip((x2 - (len(sizes) - 1)).sum() / (den * len(x2)), 0.0, 1.0))


def tail_rate_eb(
    x: np.ndarray, own: dict[tuple[str, str], np.ndarray], key: tuple[str, str], rho: float
) -> np.ndarray:
    """Empirical-Bayes reference rate per call of the excesses ``>= x`` on edge ``key``.

    ``x``: thresholds (ns over each edge's reference median), shape ``(m,)``; ``own``: per
    edge, the sorted reference excesses (ns) of every edge with enough reference calls
    (``key`` among them); ``rho``: the between-edge correlation (:func:`tail_correlation`).
    At each threshold the edges' rates are modelled as draws from one beta distribution (the
    beta-binomial model of parametric empirical Bayes: Efron, B. & Morris, C. (1975), "Data
    analysis using Stein's estimator and its generalizations", JASA 70:311-319; Casella, G.
    (1985), "An introduction to empirical Bayes data analysis", The American Statistician
    39(2):83-87), fitted by the method of moments on the case's own reference calls, no
    labels: prior mean ``mu`` the pooled rate over all edges, add-one smoothed
    ``(1 + K) / (N + 1)``, and ``a + b = (1 - rho) / rho``. The edge's posterior rate weighs
    its own estimate by ``Z = n rho / (n rho + 1 - rho)`` (``n`` its reference calls; the
    credibility weight of the beta-binomial posterior mean) and ``mu`` by ``1 - Z``: a thin
    edge (a dozen calls) is shrunk toward the pooled rate, a well-observed edge keeps its own.
    The own estimate is the add-one (Laplace) rate ``(c + 1) / (n + 2)``, as everywhere in
    this module: 0 of 1,438 calls is not a rate of 0 (with the raw ``c / n`` a busy edge
    whose 1,438 reference calls never reached ``x`` would get the pooled floor, and its own
    occasional stall in the window would look significant).

    Returns the rate per call, shape ``(m,)``, in (0, 1].
    """
    counts = _edge_counts(np.asarray(x, dtype=float), own)
    total = float(sum(len(v) for v in own.values()))
    mu = (1.0 + counts.sum(axis=0)) / (total + 1.0)
    mine = own[key]
    c = len(mine) - np.searchsorted(mine, x, side="left")
    weight = len(mine) * rho / (len(mine) * rho + 1.0 - rho) if rho < 1 else 1.0
    rate = weight * (c + 1.0) / (len(mine) + 2.0) + (1.0 - weight) * mu
    return np.clip(rate, 1.0 / (total + 1.0), 1.0)


def _tail_scan(merged: pd.DataFrame) -> pd.DataFrame:
    """The magnitude test of a call edge, exact for few calls: every window call's excess over
    its edge's reference median beyond the edge's own reference q99 (and at least 1 ms) is a
    candidate threshold ``t``; ``k`` of the ``n`` seconds (:data:`TIME_UNIT_NS`) in which
    the edge was called hold a call reaching ``t``; null model Binomial(n, p0(t)) with
    ``p0(t) = 1 - (1 - q(t)) ** (calls per second)`` and ``q(t)`` the edge's empirical-Bayes
    reference rate of excesses ``>= t`` (:func:`tail_rate_eb`: its own rate shrunk toward the
    pooled rate of every edge by its reference count). Seconds, not calls, are the trials:
    one stall delays every call in flight together; and seconds of one 10 s block
    (:data:`BLOCK_NS`) are correlated in turn (a stall or a burst outlasts a second), with a
    design effect from the intra-block correlation of the reference seconds holding a call
    over the edge's q99 (own and pooled over edges, :func:`_design`). The shrinkage lets the
    pooled rate stand in for the tail of an edge with too few reference calls to estimate it
    (nine calls delayed by two seconds on an edge seen 17 times), while a well-observed edge
    with a heavy tail of its own keeps it and does not look slow. Bonferroni over the ``n``
    thresholds scanned.

    Returns per edge (p_service, service): ``tail_raw`` (-log10 p), ``tail_k`` (seconds),
    ``tail_units`` (seconds with calls), ``tail_ms``
    (the threshold, ms over the median), ``tail_p0`` and ``floor_p0`` (the smallest p0 any
    threshold could have: the pooled floor ``1 / (N + 1)``).
    """
    merged = merged.assign(excess=merged["net"] - merged["median"])
    ref = merged[merged["period"] == "reference"]
    pooled = np.sort(ref["excess"].to_numpy(dtype=float))
    total = len(pooled)
    rows = []
    if not total:
        return pd.DataFrame(
            columns=[
                "p_service",
                "service",
                "tail_raw",
                "tail_k",
                "tail_units",
                "tail_ms",
                "tail_p0",
                "floor_p0",
                "tail_deff",
            ]
        )
    own = {
        key: np.sort(g.to_numpy(dtype=float))
        for key, g in ref.groupby(["p_service", "service"])["excess"]
    }
    rho = tail_correlation(own)
    window = merged[merged["period"] == "window"]
    group_q99 = (
        (merged["q99"] - merged["median"]).groupby([merged["p_service"], merged["service"]]).first()
    )
    per_second = merged.assign(second=merged["start_ns"].astype("int64") // TIME_UNIT_NS)
    per_second = per_second.groupby(["p_service", "service", "period", "second"], sort=False)
    per_second = per_second.agg(slow=("slow", "any"), block=("block", "first")).reset_index()
    design = _design(per_second, ["p_service", "service"], "slow")
    for key, group in window.groupby(["p_service", "service"]):
        order = np.argsort(-group["excess"].to_numpy(dtype=float), kind="stable")
        x = group["excess"].to_numpy(dtype=float)[order]
        seconds = (group["start_ns"].to_numpy(dtype="int64") // TIME_UNIT_NS)[order]
        n = len(x)
        # the unit is a second of wall-clock time with calls, not a call: one stall delays
        # every call in flight together, so k = seconds holding a call >= t, of n_units
        k = np.cumsum(~pd.Series(seconds).duplicated().to_numpy())
        n_units = int(k[-1])
        floor = max(FLOOR_NS, float(group_q99[key]))
        # only thresholds beyond the edge's own q99 are scanned
        p_call = np.ones(n)
        p_call[x >= floor] = tail_rate_eb(x[x >= floor], own, key, rho)
        p0 = 1.0 - (1.0 - p_call) ** (n / n_units)  # a second with n / n_units calls
        deff = design["deff"].get(key, 1.0)
        ev = binomial_many(k, np.full(n, n_units), p0, np.full(n, deff))
        ev = np.where(x >= floor, ev, 0.0)
        best = int(np.argmax(ev))
        rows.append(
            {
                "p_service": key[0],
                "service": key[1],
                "tail_raw": round(max(0.0, float(ev[best]) - math.log10(n)), 3),
                "tail_k": int(k[best]),
                "tail_units": n_units,
                "tail_ms": round(float(x[best]) / 1e6, 3),
                "tail_p0": float(p0[best]),
                "floor_p0": 1.0 / (total + 1),
                "tail_deff": deff,
            }
        )
    return pd.DataFrame(rows)


def _edge_credit(
    svc: str, row: pd.Series, share: float, role: str, n_slow: int, n_all: int, which: str
) -> Credit:
    win_ms = float(row["win_median"]) / 1e6
    ref_ms = float(row["median"]) / 1e6
    if row.get("test") == "tail":
        over = (
            f"in {int(row['tail_k'])} of the {int(row['tail_units'])} seconds with calls (of "
            f"{int(row['n'])} calls) a call at least {row['tail_ms']:.1f} ms over the edge's "
            f"reference median (expected rate per second {row['tail_p0']:.2g}, from the edge's "
            "own reference rate per call shrunk toward all edges' rate by its reference count)"
        )
    else:
        over = (
            f"{int(row['k'])} of {int(row['n'])} calls over the reference q99 (expected rate "
            f"{row['p0']:.3f})"
        )
    text = (
        f"{svc}: {n_slow} of {n_all} {which} call edges slow; strongest "
        f"{row['p_service']} -> {row['service']}: {over}, network time median "
        f"{win_ms:.1f} ms vs {ref_ms:.1f} ms in the references"
    )
    return Credit(
        component=svc,
        detector="trace_edge",
        evidence=round(float(row["evidence"]) * share, 3),
        raw=float(row["evidence"]),
        share=round(share, 3),
        text=text,
        test=(
            "binomial exceedance of the reference q99 of client-minus-server span time, or of "
            "a scanned excess over the median (empirical-Bayes reference rate)"
        ),
        edge=(str(row["p_service"]), str(row["service"])),
        attribution=f"{role}: share {share:.2f} of {which} edges slow",
    )


# ------------------------------------------------------------------------- 2. behaviour
def _items(joined: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
    """(trace_id, span_id, item, t_ns, callee) rows: the child calls and log statements of a
    span (``callee`` is the child's service for calls, empty for logs)."""
    children = joined[joined["parent_id"].astype(str) != ""]
    # the service a child call reaches: its own service, or for a client span (same service as
    # its parent) the service of its cross-service child
    cross = children[children["p_service"] != children["service"]]
    remote = cross.groupby(["trace_id", "parent_id"])["service"].first()
    reached = remote.reindex(
        pd.MultiIndex.from_frame(
            children[["trace_id", "span_id"]].set_axis(["trace_id", "parent_id"], axis=1)
        )
    ).to_numpy()
    callee = np.where(pd.isna(reached), children["service"].to_numpy(), reached)
    calls = pd.DataFrame(
        {
            "trace_id": children["trace_id"],
            "span_id": children["parent_id"].astype(str),
            "item": "call " + callee + " " + children["operation"],
            "t_ns": children["start_ns"],
            "callee": callee,
            "child": children["span_id"].astype(str),
            "level": "",
        }
    )
    if logs.empty:
        return calls
    linked = logs[logs["span_id"].astype(str) != ""]
    lines = pd.DataFrame(
        {
            "trace_id": linked["trace_id"].astype(str),
            "span_id": linked["span_id"].astype(str),
            "item": "log " + linked["event_key"].astype(str),
            "t_ns": linked["t_ns"],
            "callee": "",
            "child": "",
            "level": linked["level"].astype(str),
        }
    )
    return pd.concat([calls, lines], ignore_index=True)


def _behaviour(
    joined: pd.DataFrame,
    found: TraceFindings,
    items_of: Callable[[], pd.DataFrame],
    failed_calls: Callable[[], _FailedCalls],
) -> tuple[list[Credit], list[dict[str, Any]]]:
    kinds = joined[
        ["trace_id", "span_id", "service", "operation", "p_operation", "period", "block"]
    ]
    kinds = kinds.assign(
        kind=kinds["service"] + " | " + kinds["operation"] + " | " + kinds["p_operation"]
    )
    counts = kinds.groupby(["kind", "period"]).size().unstack("period", fill_value=0)
    if "window" not in counts or "reference" not in counts:
        return [], []
    counts = counts.rename(columns={"window": "n", "reference": "n_ref"})
    counts = counts[(counts["n"] >= MIN_WINDOW_SPANS) & (counts["n_ref"] >= MIN_WINDOW_SPANS)]
    items = items_of()
    present = items.drop_duplicates(["trace_id", "span_id", "item"]).merge(
        kinds[["trace_id", "span_id", "kind", "period", "service", "block"]],
        on=["trace_id", "span_id"],
    )
    present = present[present["kind"].isin(counts.index)]
    if present.empty:
        return [], []
    c = present.groupby(["kind", "item", "period"]).size().unstack("period", fill_value=0)
    c = c.rename(columns={"window": "c", "reference": "c_ref"})
    for col in ("c", "c_ref"):
        if col not in c:
            c[col] = 0
    table = c.reset_index().merge(counts[["n", "n_ref"]].reset_index(), on="kind")
    levels = present.groupby("item")["level"].first()
    table["level"] = table["item"].map(levels).fillna("")
    table = table.merge(_presence_design(kinds, present, table), on=["kind", "item"], how="left")
    # a statement or call that stopped: window spans lacking it vs the reference irregularity
    absent, absent_ref = table["n"] - table["c"], table["n_ref"] - table["c_ref"]
    table["p_missing"] = (absent_ref + 1) / (table["n_ref"] + 2)
    missing = binomial_many(absent, table["n"], table["p_missing"], table["deff"])
    # a new error statement: window spans containing it vs its reference rate
    table["p_new"] = (table["c_ref"] + 1) / (table["n_ref"] + 2)
    new = binomial_many(table["c"], table["n"], table["p_new"], table["deff"])
    is_error = table["level"].str.upper().isin(ERROR_LEVELS)
    table["change"] = np.where(missing >= new, "missing", "new")
    table["raw"] = np.where(missing >= new, missing, np.where(is_error, new, 0.0))
    m = max(1, len(table))
    table["evidence"] = np.round(np.maximum(0.0, table["raw"] - math.log10(m)), 3)
    table["service"] = table["kind"].str.split(" | ", regex=False).str[0]
    table = table.sort_values("evidence", ascending=False).reset_index(drop=True)
    found.behaviour = table
    strong = table[table["evidence"] >= significance.SIGNIFICANT]
    last_call = _LastCalls(items)
    failed = failed_calls()
    pair_credits, pair_stops = _companions(items, kinds, counts, found, last_call, failed)
    if strong.empty:
        return pair_credits, pair_stops
    stops: list[dict[str, Any]] = []
    best_own: dict[str, Credit] = {}
    wanted = set(strong["kind"])
    win_kinds = kinds[(kinds["period"] == "window") & kinds["kind"].isin(wanted)]
    win_present = present[(present["period"] == "window") & present["kind"].isin(wanted)]
    for row in strong.itertuples(index=False):
        svc = str(row.service)
        stop = (
            _stopped_after(row, win_kinds, win_present, last_call)
            if row.change == "missing"
            else None
        )
        share = (row.n - row.c) / row.n if row.change == "missing" else row.c / row.n
        text = f"{svc}: spans {row.kind.split(' | ', 1)[1]!r} " + (
            f"lack {row.item!r} in {row.n - row.c} of {row.n} (reference: "
            f"{row.n_ref - row.c_ref} of {row.n_ref})"
            if row.change == "missing"
            else f"write new {row.item!r} in {row.c} of {row.n} (reference: "
            f"{row.c_ref} of {row.n_ref})"
        )
        test = "binomial vs the reference irregularity rate of the span kind"
        credit = _span_credit(svc, row, share, text, test)
        changed = (
            _holding_spans(row, win_present)
            if row.change == "new"
            else _lacking_spans(row, win_kinds, win_present)
        )
        if _to_failed_callee(credit, changed, failed, best_own):
            continue
        _file(credit, stop, stops, best_own)
    for credit in pair_credits:
        svc = credit.component
        if svc not in best_own or best_own[svc].evidence < credit.evidence:
            best_own[svc] = credit
    return list(best_own.values()), stops + pair_stops


def _presence_design(
    kinds: pd.DataFrame, present: pd.DataFrame, table: pd.DataFrame
) -> pd.DataFrame:
    """``rho`` and ``deff`` (:func:`_deff_table`) per unit (kind, item) of ``table``: the
    outcome is "the span holds the item", its trials the spans of the kind, per block."""
    units = table[["kind", "item"]]
    index = pd.MultiIndex.from_frame(units)
    n = pd.Series(table["n"].to_numpy(), index=index)
    out = None
    for cluster in CLUSTERS:
        n_blk = kinds.groupby(["kind", "period", cluster]).size().rename("n").reset_index()
        c_blk = present.groupby(["kind", "item", "period", cluster]).size().rename("k")
        c_blk = c_blk.reset_index()
        ref_n = n_blk[n_blk["period"] == "reference"].drop(columns="period")
        blocks = units.merge(ref_n, on="kind").merge(
            c_blk[c_blk["period"] == "reference"].drop(columns="period"),
            on=["kind", "item", cluster],
            how="left",
        )
        blocks["k"] = blocks["k"].fillna(0)
        rho, pooled = significance.block_correlation(blocks, ["kind", "item"])
        win = n_blk[n_blk["period"] == "window"].groupby("kind")[cluster].nunique()
        nb = pd.Series(win.reindex(units["kind"]).fillna(1).to_numpy(), index=index)
        out = _larger(out, _deff_table(n, nb, rho, pooled))
    return out.rename_axis(["kind", "item"]).reset_index()


def _lacking_spans(row: Any, kinds: pd.DataFrame, present: pd.DataFrame) -> pd.DataFrame:
    """Window spans of ``row``'s kind lacking ``row.item`` (trace_id, span_id)."""
    win = kinds[(kinds["kind"] == row.kind) & (kinds["period"] == "window")]
    having = present[(present["kind"] == row.kind) & (present["item"] == row.item)]
    having = having[having["period"] == "window"][["trace_id", "span_id"]]
    lacking = win.merge(having, on=["trace_id", "span_id"], how="left", indicator=True)
    return lacking[lacking["_merge"] == "left_only"][["trace_id", "span_id"]]


def _holding_spans(row: Any, present: pd.DataFrame) -> pd.DataFrame:
    """Window spans of ``row``'s kind holding ``row.item`` (trace_id, span_id)."""
    having = present[(present["kind"] == row.kind) & (present["item"] == row.item)]
    return having[having["period"] == "window"][["trace_id", "span_id"]].drop_duplicates()


# ------------------------------------------------------------------- 2a. failed calls
def _slow_calls(
    joined: pd.DataFrame,
    index: pd.MultiIndex,
    child_idx: pd.MultiIndex,
    own: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """Per call (child span ``child_idx`` of a span of service ``own`` reaching ``target``):
    True when the call took longer than ``max(q99, median + 1 ms)`` of the reference calls
    from ``own`` to ``target`` (at least :data:`MIN_REFERENCE_CALLS` of them)."""
    duration = pd.Series(joined["duration_ns"].to_numpy(dtype=float), index=index)
    period = pd.Series(joined["period"].astype(str).to_numpy(), index=index)
    duration = duration[~duration.index.duplicated()]
    period = period[~period.index.duplicated()]
    calls = pd.DataFrame(
        {
            "own": own,
            "target": target,
            "dur": duration.reindex(child_idx).to_numpy(),
            "period": period.reindex(child_idx).fillna("").to_numpy(),
        }
    )
    ref = calls[(calls["period"] == "reference") & (calls["target"] != "")]
    grouped = ref.groupby(["own", "target"])["dur"]
    table = pd.DataFrame(
        {"n": grouped.size(), "q99": grouped.quantile(0.99), "median": grouped.median()}
    )
    table = table[table["n"] >= MIN_REFERENCE_CALLS]
    limit = np.maximum(table["q99"], table["median"] + FLOOR_NS).rename("limit").reset_index()
    merged = calls.merge(limit, on=["own", "target"], how="left")
    return (merged["dur"] > merged["limit"]).fillna(False).to_numpy(dtype=bool)


class _FailedCalls:
    """Per span (trace_id, span_id): the services it made a *failed call* to, read from the
    span's own structure, without status codes: a child call to ``X`` (the service the call
    reaches, or for a client span without a server span below it the ``peer_service`` it names)
    that is followed, next in the span, by a WARN/ERROR statement of the caller (its reaction
    to the call's outcome) which

    - is followed by another call to ``X`` (the call was retried), or
    - names ``X`` (the log record's text mentions the called service as a whole word), or
    - follows a *slow* call to ``X`` (longer than ``max(q99, median + 1 ms)`` of the
      reference calls from the caller to ``X``: a timeout, a slow-request warning) in a span
      whose slow calls all go to ``X`` (a CPU-starved caller is slow in every call);

    a child call left unserved by ``X``, a service that writes spans (no span of ``X`` below
    the client span: rejected before it ran); a child call whose own span fails (when the
    source has status codes). A span that is itself an unserved call to ``X`` (a client's one
    call per span) failed to ``X`` too. A caller that throws
    after a call returned normally writes a statement that neither names the callee nor is
    followed by a retry: its spans hold no failed call (the exception is the caller's).

    Built on first use (only attribution of a significant change needs it).
    """

    def __init__(self, items: pd.DataFrame, joined: pd.DataFrame, logs: pd.DataFrame) -> None:
        self._args: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = (items, joined, logs)
        self._failed: dict[tuple[str, str], set[str]] = {}

    def _build(self) -> None:
        assert self._args is not None
        items, joined, logs = self._args
        self._args = None
        span_keys = joined[["trace_id", "span_id"]].astype(str)
        index = pd.MultiIndex.from_frame(span_keys)
        owner = pd.Series(joined["service"].astype(str).to_numpy(), index=index)
        peer = pd.Series(joined["peer_service"].astype(str).to_numpy(), index=index)
        owner = owner[~owner.index.duplicated()]
        peer = peer[~peer.index.duplicated()]
        calls = items[items["child"].astype(str) != ""]
        if calls.empty:
            return
        parent_idx = pd.MultiIndex.from_frame(calls[["trace_id", "span_id"]].astype(str))
        child_idx = pd.MultiIndex.from_arrays(
            [calls["trace_id"].astype(str), calls["child"].astype(str)]
        )
        own = owner.reindex(parent_idx).fillna("").to_numpy()
        callee = calls["callee"].astype(str).to_numpy()
        child_peer = peer.reindex(child_idx).fillna("").to_numpy()
        target = np.where(callee != own, callee, np.where(child_peer != own, child_peer, ""))
        seq = pd.DataFrame(
            {
                "trace_id": calls["trace_id"].astype(str).to_numpy(),
                "span_id": calls["span_id"].astype(str).to_numpy(),
                "t_ns": calls["t_ns"].to_numpy(),
                "target": target,
                "level": "",
                "message": "",
                "failing": False,
                "slow": _slow_calls(joined, index, child_idx, own, target),
            }
        )
        # a call left unserved by a service that writes spans (no span of it below the client
        # span: rejected before it ran) failed, and so did a failing client span
        writers = set(joined["service"].astype(str))
        unserved = (
            joined["peer_service"].isin(writers)
            & (joined["peer_service"] != joined["service"])
            & ~_served(joined)
        )
        if "status_code" in joined.columns:
            kinds = joined["kind"] if "kind" in joined.columns else None
            unserved |= _is_error(joined["status_code"], kinds)
        error = pd.Series(unserved.to_numpy(), index=index)
        error = error[~error.index.duplicated()]
        seq["failing"] = error.reindex(child_idx).fillna(False).to_numpy(dtype=bool)
        # a span that is itself such a call (a client's one call per span) failed to its peer
        for trace, span, x in zip(
            joined.loc[unserved, "trace_id"].astype(str),
            joined.loc[unserved, "span_id"].astype(str),
            joined.loc[unserved, "peer_service"].astype(str),
            strict=True,
        ):
            if x:
                self._failed.setdefault((trace, span), set()).add(x)
        if not logs.empty:
            linked = logs[logs["span_id"].astype(str) != ""]
            lines = pd.DataFrame(
                {
                    "trace_id": linked["trace_id"].astype(str).to_numpy(),
                    "span_id": linked["span_id"].astype(str).to_numpy(),
                    "t_ns": linked["t_ns"].to_numpy(),
                    "target": "",
                    "level": linked["level"].astype(str).str.upper().to_numpy(),
                    "message": (
                        linked["message"].astype(str).to_numpy()
                        if "message" in linked.columns
                        else ""
                    ),
                    "failing": False,
                    "slow": False,
                }
            )
            seq = pd.concat([seq, lines], ignore_index=True)
        seq = seq.sort_values(["trace_id", "span_id", "t_ns"], kind="stable").reset_index(drop=True)
        same_prev = (seq["trace_id"] == seq["trace_id"].shift(1)) & (
            seq["span_id"] == seq["span_id"].shift(1)
        )
        same_next = (seq["trace_id"] == seq["trace_id"].shift(-1)) & (
            seq["span_id"] == seq["span_id"].shift(-1)
        )
        prev_target = seq["target"].shift(1).where(same_prev, "").fillna("")
        next_target = seq["target"].shift(-1).where(same_next, "").fillna("")
        reaction = seq["level"].isin(ERROR_LEVELS) & (prev_target != "")
        retried = reaction & (next_target == prev_target)
        candidates = seq[reaction & ~retried]
        named = pd.Series(False, index=seq.index)
        for name, group in candidates.groupby(prev_target[candidates.index]):
            pattern = re.compile(rf"(?<![\w-]){re.escape(str(name))}(?![\w-])", re.I)
            named[group.index] = [bool(pattern.search(m)) for m in group["message"]]
        # a slow call implicates its callee only in a span whose slow calls all go to one
        # service (a CPU-starved caller is slow in every call it makes)
        slow_calls = seq[seq["slow"]]
        spread = slow_calls.groupby(["trace_id", "span_id"])["target"].nunique()
        one_target = pd.MultiIndex.from_frame(seq[["trace_id", "span_id"]]).isin(
            spread[spread == 1].index
        )
        prev_slow = seq["slow"].shift(1).where(same_prev, False).fillna(False).astype(bool)
        prev_slow &= one_target
        failed_after = seq[retried | named | (reaction & prev_slow)]
        for trace, span, x in zip(
            failed_after["trace_id"],
            failed_after["span_id"],
            prev_target[failed_after.index],
            strict=True,
        ):
            self._failed.setdefault((trace, span), set()).add(str(x))
        failing = seq[seq["failing"] & (seq["target"] != "")]
        for trace, span, x in zip(
            failing["trace_id"], failing["span_id"], failing["target"], strict=True
        ):
            self._failed.setdefault((trace, span), set()).add(str(x))

    def target(self, spans: pd.DataFrame, own: str) -> tuple[str, int, int] | None:
        """The service ``X`` (not ``own``) that most of ``spans`` (trace_id, span_id) made a
        failed call to, with how many did and of how many: when more than half did and at
        least :data:`MIN_WINDOW_SPANS`; else None."""
        if self._args is not None:
            self._build()
        n = len(spans)
        if not n or not self._failed:
            return None
        counts: dict[str, int] = {}
        for key in zip(spans["trace_id"].astype(str), spans["span_id"].astype(str), strict=True):
            for x in self._failed.get(key, ()):
                if x != own:
                    counts[x] = counts.get(x, 0) + 1
        if not counts:
            return None
        best = max(sorted(counts), key=counts.__getitem__)
        k = counts[best]
        return (best, k, n) if k > 0.5 * n and k >= MIN_WINDOW_SPANS else None


def reaction_targets(
    spans: pd.DataFrame, logs: pd.DataFrame, window: TimeWindow, references: list[TimeWindow]
) -> dict[tuple[str, str], str]:
    """``(service, event key) -> X`` for the WARN/ERROR statements of the window whose spans
    mostly made a failed call to ``X`` (:class:`_FailedCalls`: retried, named right after the
    call, not served, failing, or slow): the caller's reaction to ``X``, which the logs tool
    counts against ``X``. ``spans`` and ``logs`` as for :func:`analyse` (``logs`` with
    ``message`` when the source has it); empty when either is empty."""
    joined = _joined(spans, window, references)
    if joined is None or logs.empty:
        return {}
    linked = logs[logs["level"].astype(str).str.upper().isin(ERROR_LEVELS)]
    if linked.empty:
        return {}
    failed = _FailedCalls(_items(joined, logs), joined, logs)
    win = joined[joined["period"] == "window"][["trace_id", "span_id", "service"]].astype(str)
    records = (
        linked[["trace_id", "span_id", "event_key"]]
        .astype(str)
        .merge(win, on=["trace_id", "span_id"])
    )
    out: dict[tuple[str, str], str] = {}
    for (service, key), group in records.groupby(["service", "event_key"]):
        found = failed.target(group[["trace_id", "span_id"]].drop_duplicates(), str(service))
        if found is not None:
            out[(str(service), str(key))] = found[0]
    return out


def _to_failed_callee(
    credit: Credit, changed: pd.DataFrame, failed: _FailedCalls, best_own: dict[str, Credit]
) -> bool:
    """When most of the ``changed`` spans of the credit's service made a failed call to ``X``
    (:class:`_FailedCalls`), the change is the caller's reaction to ``X`` failing: file the
    credit under ``X`` (strongest kept) and return True; else False (nothing filed)."""
    found = failed.target(changed, credit.component)
    if found is None:
        return False
    callee, k, n = found
    moved = Credit(
        component=callee,
        detector=credit.detector,
        evidence=credit.evidence,
        raw=credit.raw,
        share=credit.share,
        text=credit.text
        + f"; {k} of these {n} spans made a failed call to {callee} (retried, named by the "
        "statement after it, not served, or failing)",
        test=credit.test,
        edge=(credit.component, callee),
        attribution=f"callee: the caller's spans changed around failed calls to {callee}",
    )
    if callee not in best_own or best_own[callee].evidence < moved.evidence:
        best_own[callee] = moved
    return True


# ------------------------------------------------------------------------ 2b. companions
def _companions(
    items: pd.DataFrame,
    kinds: pd.DataFrame,
    counts: pd.DataFrame,
    found: TraceFindings,
    last_call: _LastCalls,
    failed: _FailedCalls | None = None,
) -> tuple[list[Credit], list[dict[str, Any]]]:
    """Statements that lose their companion: per span kind and pair of items ``(A, B)`` (child
    calls or log statements), a reference span holding ``A`` is *regular* when it holds ``B``
    at least as often as ``A`` (``B`` accompanies every ``A``: the closing statement of an
    opening one, the call that follows another). ``k`` of the ``n`` window spans holding ``A``
    are irregular; null model Binomial(n, p0) with ``p0`` the reference irregularity rate of
    the pair (add-one smoothed); Bonferroni over the pairs tested.

    This finds a fault between two statements of one span when the span kind mixes requests
    that do and do not reach them (one operation serving many routes, a loop over items): the
    per-kind presence test sees the companion still written by the other requests or loop
    iterations, the pair test does not. Attribution as for the behaviour rule (a span that
    stops right after a call to another service credits it only when callers agree).
    """
    per_span = items.groupby(["trace_id", "span_id", "item"]).size().rename("cnt").reset_index()
    per_span = per_span.merge(
        kinds[["trace_id", "span_id", "kind", "period", "block"]], on=["trace_id", "span_id"]
    )
    per_span = per_span[per_span["kind"].isin(counts.index)]
    if per_span.empty:
        return [], []
    # integer codes: the pair self-joins below are the detector's cost
    sid = pd.factorize(pd.MultiIndex.from_frame(per_span[["trace_id", "span_id"]]))[0]
    kid, kind_names = pd.factorize(per_span["kind"])
    iid, item_names = pd.factorize(per_span["item"])
    coded = pd.DataFrame(
        {
            "sid": sid,
            "kid": kid,
            "iid": iid,
            "cnt": per_span["cnt"].to_numpy(),
            "win": (per_span["period"] == "window").to_numpy(),
            "block": per_span["block"].to_numpy(),
            "trace_id": pd.factorize(per_span["trace_id"])[0],
        }
    )

    def regular_pairs(rows: pd.DataFrame, name: str, by: tuple[str, ...] = ()) -> pd.DataFrame:
        pairs = rows.merge(rows, on=["sid", "kid", *by], suffixes=("_a", "_b"))
        pairs = pairs[(pairs["iid_a"] != pairs["iid_b"]) & (pairs["cnt_b"] >= pairs["cnt_a"])]
        return pairs.groupby(["kid", "iid_a", "iid_b", *by]).size().rename(name).reset_index()

    ref, win_coded = coded[~coded["win"]], coded[coded["win"]]
    n_ref = ref.groupby(["kid", "iid"]).size().rename("n_ref").rename_axis(["kid", "iid_a"])
    regular_blocks = regular_pairs(ref, "r_ref", CLUSTERS)
    regular = regular_blocks.groupby(["kid", "iid_a", "iid_b"])["r_ref"].sum().reset_index()
    regular = regular.merge(n_ref.reset_index(), on=["kid", "iid_a"])
    regular = regular[regular["n_ref"] >= MIN_WINDOW_SPANS]
    regular["p0"] = (regular["n_ref"] - regular["r_ref"] + 1) / (regular["n_ref"] + 2)
    n_win = win_coded.groupby(["kid", "iid"]).size().rename("n").rename_axis(["kid", "iid_a"])
    table = regular.merge(n_win.reset_index(), on=["kid", "iid_a"])
    # only pairs whose window could reach significance are tests (judged without the window's
    # outcomes: n and p0 alone), so the correction counts what could have been found
    table = table.merge(
        _pair_design(ref, win_coded, regular_blocks, table), on=["kid", "iid_a", "iid_b"]
    )
    table = table[table["n"] / table["deff"] * -np.log10(table["p0"]) >= significance.SIGNIFICANT]
    if table.empty:
        return [], []
    table = table.merge(regular_pairs(win_coded, "r"), on=["kid", "iid_a", "iid_b"], how="left")
    table["r"] = table["r"].fillna(0).astype(int)
    table["k"] = table["n"] - table["r"]
    table["raw"] = binomial_many(table["k"], table["n"], table["p0"], table["deff"])
    m = max(1, len(table))
    table["evidence"] = np.round(np.maximum(0.0, table["raw"] - math.log10(m)), 3)
    table["kind"] = np.asarray(kind_names)[table["kid"].to_numpy()]
    table["item_a"] = np.asarray(item_names)[table["iid_a"].to_numpy()]
    table["item_b"] = np.asarray(item_names)[table["iid_b"].to_numpy()]
    win = per_span[per_span["period"] == "window"]
    table["service"] = table["kind"].str.split(" | ", regex=False).str[0]
    table = table.sort_values("evidence", ascending=False).reset_index(drop=True)
    found.companions = table
    strong = table[table["evidence"] >= significance.SIGNIFICANT]
    if strong.empty:
        return [], []
    best_own: dict[str, Credit] = {}
    stops: list[dict[str, Any]] = []
    strong = strong.head(MAX_ITEMS * 4)
    keyed = win[win["kind"].isin(set(strong["kind"]))]
    keyed = keyed[keyed["item"].isin(set(strong["item_a"]) | set(strong["item_b"]))]
    groups = {key: group for key, group in keyed.groupby(["kind", "item"])}
    empty = win.iloc[:0]
    for row in strong.itertuples(index=False):
        svc = str(row.service)
        having_a = groups.get((row.kind, row.item_a), empty)
        holding_b = groups.get((row.kind, row.item_b), empty)
        cnt = having_a[["trace_id", "span_id", "cnt"]].merge(
            holding_b[["trace_id", "span_id", "cnt"]],
            on=["trace_id", "span_id"],
            how="left",
            suffixes=("_a", "_b"),
        )
        irregular = cnt[cnt["cnt_b"].fillna(0) < cnt["cnt_a"]][["trace_id", "span_id"]]
        stop = _stop_target(irregular, svc, last_call)
        text = (
            f"{svc}: spans {row.kind.split(' | ', 1)[1]!r} holding {row.item_a!r} lack its "
            f"companion {row.item_b!r} in {int(row.k)} of {int(row.n)} (reference: "
            f"{int(row.n_ref - row.r_ref)} of {int(row.n_ref)})"
        )
        test = "binomial vs the reference irregularity rate of the statement pair"
        credit = _span_credit(svc, row, row.k / row.n, text, test)
        if failed is not None and _to_failed_callee(credit, irregular, failed, best_own):
            continue
        _file(credit, stop, stops, best_own)
    return list(best_own.values()), stops


def _pair_design(
    ref: pd.DataFrame, win: pd.DataFrame, regular_blocks: pd.DataFrame, table: pd.DataFrame
) -> pd.DataFrame:
    """``rho`` and ``deff`` (:func:`_deff_table`) per pair (kid, iid_a, iid_b) of ``table``:
    the outcome is "the span holding A also holds B at least as often" (regular), its trials
    the spans holding ``A``, per block (``ref``/``win``: coded rows sid, kid, iid, block)."""
    keys = ["kid", "iid_a", "iid_b"]
    units = table[keys].drop_duplicates()
    out = None
    for cluster in CLUSTERS:
        n_blk = ref.groupby(["kid", "iid", cluster]).size().rename("n").reset_index()
        blocks = units.merge(n_blk.rename(columns={"iid": "iid_a"}), on=["kid", "iid_a"])
        r_blk = regular_blocks.groupby([*keys, cluster])["r_ref"].sum().reset_index()
        blocks = blocks.merge(r_blk, on=[*keys, cluster], how="left")
        blocks["k"] = blocks["r_ref"].fillna(0)
        rho, pooled = significance.block_correlation(blocks, keys)
        w = win.groupby(["kid", "iid"])[cluster].agg(["size", "nunique"])
        w = units.merge(w.rename_axis(["kid", "iid_a"]).reset_index(), on=["kid", "iid_a"])
        index = pd.MultiIndex.from_frame(w[keys])
        sized = _deff_table(
            pd.Series(w["size"].to_numpy(), index=index),
            pd.Series(w["nunique"].to_numpy(), index=index),
            rho,
            pooled,
        )
        out = _larger(out, sized)
    return out.reset_index()


def _span_credit(svc: str, row: Any, share: float, text: str, test: str) -> Credit:
    return Credit(
        component=svc,
        detector="span_behaviour",
        evidence=float(row.evidence),
        raw=float(row.raw),
        share=round(float(share), 3),
        text=text,
        test=test,
        attribution="own span",
    )


def _file(
    credit: Credit, stop: str | None, stops: list[dict[str, Any]], best_own: dict[str, Credit]
) -> None:
    """A span change that stopped right after a call to another service waits for
    :func:`_attribute_stops`; otherwise it is the span's own service's (strongest kept)."""
    svc = credit.component
    if stop is not None and stop != svc:
        stops.append({"caller": svc, "callee": stop, "credit": credit})
    elif svc not in best_own or best_own[svc].evidence < credit.evidence:
        best_own[svc] = credit


class _LastCalls:
    """Per span (trace_id, span_id): the service its last item reached and that child's span
    id (both empty when the last item is a log statement: the span did not stop after a
    call). Built on first use (only attribution of a significant change needs it)."""

    def __init__(self, items: pd.DataFrame) -> None:
        self._items: pd.DataFrame | None = items
        self._last: dict[tuple[str, str], tuple[str, str]] = {}

    def get(self, key: tuple[str, str]) -> tuple[str, str] | None:
        if self._items is not None:
            ordered = self._items.sort_values("t_ns", kind="stable")
            last = ordered.groupby(["trace_id", "span_id"])[["callee", "child"]].last()
            self._last = dict(
                zip(last.index, zip(last["callee"], last["child"], strict=True), strict=True)
            )
            self._items = None
        return self._last.get(key)


def _stopped_after(
    row: Any,
    kinds: pd.DataFrame,
    present: pd.DataFrame,
    last_call: _LastCalls,
) -> str | None:
    """The service the changed spans of ``row``'s kind last called (following internal spans
    of the same service down to a remote call), when most of the changed spans that made a call
    did so (they stopped right after that call); else None."""
    return _stop_target(_lacking_spans(row, kinds, present), str(row.service), last_call)


def _stop_target(lacking: pd.DataFrame, own: str, last_call: _LastCalls) -> str | None:
    """The service most of the ``lacking`` spans (trace_id, span_id) of service ``own`` last
    called, following internal spans of ``own`` down to a remote call; None when fewer than
    :data:`MIN_WINDOW_SPANS` made a call or no service reached a majority."""
    if lacking.empty:
        return None
    reached: list[str] = []
    for trace, span in zip(lacking["trace_id"], lacking["span_id"], strict=True):
        key, callee = (trace, span), None
        for _ in range(16):  # follow internal spans of the same service down to a remote call
            found = last_call.get(key)
            if found is None:
                break
            callee, child = found
            if callee != own:
                break
            key = (trace, child)
        if callee is not None:
            reached.append(str(callee) or own)  # a log statement last: stopped in its own code
    if len(reached) < MIN_WINDOW_SPANS:
        return None
    top = pd.Series(reached).value_counts()
    return str(top.index[0]) if top.iloc[0] > 0.5 * len(reached) else None


def _attribute_stops(stops: list[dict[str, Any]], with_own: set[str]) -> list[Credit]:
    """Spans that stopped right after a call to ``S``: credit ``S`` when two or more caller
    services agree or ``S`` has evidence of its own; otherwise the caller's own service."""
    callers: dict[str, set[str]] = {}
    for stop in stops:
        callers.setdefault(stop["callee"], set()).add(stop["caller"])
    best: dict[tuple[str, str], Credit] = {}
    for stop in stops:
        callee, credit = stop["callee"], stop["credit"]
        agree = len(callers[callee])
        target = callee if agree >= 2 or callee in with_own else credit.component
        moved = Credit(
            component=target,
            detector="span_behaviour",
            evidence=credit.evidence,
            raw=credit.raw,
            share=credit.share,
            text=credit.text + f"; the spans stop right after calling {callee}",
            test=credit.test,
            edge=(credit.component, callee),
            attribution=(
                f"callee: {agree} caller service(s) stop right after calling it"
                + (" and it has evidence of its own" if callee in with_own else "")
                if target == callee
                else "own span: only one caller stops after the call and the callee shows "
                "nothing of its own"
            ),
        )
        key = (target, moved.detector)
        if key not in best or best[key].evidence < moved.evidence:
            best[key] = moved
    return list(best.values())


# --------------------------------------------------------------------------- 3. origins
def _origins(joined: pd.DataFrame, found: TraceFindings) -> list[Credit]:
    kinds = joined["kind"] if "kind" in joined.columns else None
    joined = joined.assign(error=_is_error(joined["status_code"], kinds))
    keys = pd.MultiIndex.from_frame(joined[["trace_id", "span_id"]].astype(str))
    parent_keys = pd.MultiIndex.from_frame(joined[["trace_id", "parent_id"]].astype(str))
    # failing below: a failing span anywhere under it (client spans without a status between)
    below = pd.Series(False, index=joined.index)
    for _ in range(64):
        marks = joined["error"] | below
        flagged = parent_keys[marks.to_numpy()]
        updated = pd.Series(keys.isin(flagged), index=joined.index)
        if updated.equals(below):
            break
        below = updated
    # a failing call the peer answered without a span of its own originates in the peer; the
    # calls into the peer are its spans for the origin rate
    unserved = (joined["peer_service"] != "") & ~_served(joined)
    joined = joined.assign(
        origin=joined["error"] & ~below,
        service=joined["service"].where(~unserved, joined["peer_service"]),
    )
    return [
        Credit(
            component=svc,
            detector="error_origin",
            evidence=evidence,
            raw=float(row["raw"]),
            share=1.0,
            text=(
                f"{svc}: {int(row['k'])} of {int(row['n'])} spans are the deepest failing "
                f"span of their trace (children all succeeded); reference "
                f"{int(row['k_ref'])} of {int(row['n_ref'])}"
            ),
            test="binomial vs the reference error-origin rate",
            attribution="own: the deepest failing span",
        )
        for svc, row, evidence in _rate_test(joined, "service", "origin")
    ]


def _rate_test(
    frame: pd.DataFrame, key: str, flag: str, *, window_units_only: bool = False
) -> list[tuple[str, pd.Series, float]]:
    """Per value of ``key``: ``k`` of ``n`` window rows with ``flag`` vs the reference rate
    (add-one smoothed), binomial on effective counts (the design effect of :func:`_design`),
    Bonferroni over the units (``window_units_only``: those with window rows; else every unit
    seen). Returns the significant ones as (unit, counts row, evidence), evidence in -log10 p."""
    table = _window_counts(frame, [key], flag)
    if table is None:
        return []
    if window_units_only:
        table = table[table["n"] > 0]
    table["p0"] = (table["k_ref"] + 1) / (table["n_ref"] + 2)
    table = table.join(_design(frame, [key], flag))
    table["raw"] = binomial_many(table["k"], table["n"], table["p0"], table["deff"])
    found = []
    for unit, row in table.iterrows():
        evidence = significance.bonferroni(float(row["raw"]), len(table))
        if evidence >= significance.SIGNIFICANT:
            found.append((str(unit), row, evidence))
    return found


# ------------------------------------------------------------------- 3b. unserved calls
def _unserved(joined: pd.DataFrame, found: TraceFindings) -> list[Credit]:
    """Calls into a service that writes spans, left unserved: a client span naming its
    ``peer_service`` ``X`` (a service with spans of its own) with no span below it. The call
    was rejected before ``X`` ran: a throttled Lambda invocation (429
    ``TooManyRequestsException``), a refused connection, a full queue in front of ``X``; X-Ray
    shows such a call as a client segment without the function's segment. Needs no status
    codes. Per ``X``: ``k`` unserved of ``n`` window calls vs the reference's unserved rate
    (add-one smoothed; traces are sampled whole, so a served call's span is kept with it),
    binomial on effective counts (the design effect of :func:`_design`), Bonferroni over the
    peers tested; credited to ``X`` (the caller's spans only show that the call came back
    without being served)."""
    writers = set(joined["service"].astype(str))
    calls = joined[
        (joined["peer_service"] != "")
        & (joined["peer_service"] != joined["service"])
        & joined["peer_service"].isin(writers)
    ]
    if calls.empty:
        return []
    calls = calls.assign(unserved=~_served(joined).loc[calls.index])
    return [
        Credit(
            component=peer,
            detector="unserved_calls",
            evidence=evidence,
            raw=float(row["raw"]),
            share=round(float(row["k"] / row["n"]), 3),
            text=(
                f"{peer}: {int(row['k'])} of {int(row['n'])} calls into it were not served "
                f"(a client span naming it with no span of {peer} below); reference "
                f"{int(row['k_ref'])} of {int(row['n_ref'])}"
            ),
            test="binomial vs the reference rate of unserved calls",
            attribution="callee: calls were rejected before it ran (throttled, refused)",
        )
        for peer, row, evidence in _rate_test(
            calls, "peer_service", "unserved", window_units_only=True
        )
    ]


# ---------------------------------------------------------------------------- 4. fan-out
def _fanout(joined: pd.DataFrame, found: TraceFindings) -> None:
    children = joined[joined["p_service"].notna()]
    if children.empty:
        return
    kinds = joined.assign(kind=joined["service"] + " | " + joined["operation"])
    n = kinds.groupby(["kind", "period"]).size().unstack("period", fill_value=0)
    calls = children.assign(
        kind=children["p_service"] + " | " + children["p_operation"],
        call=children["service"] + " " + children["operation"],
    )
    c = calls.groupby(["kind", "call", "period"]).size().unstack("period", fill_value=0)
    if "window" not in c or "reference" not in c or "window" not in n or "reference" not in n:
        return
    table = c.reset_index().merge(
        n.rename(columns={"window": "n", "reference": "n_ref"})[["n", "n_ref"]].reset_index(),
        on="kind",
    )
    table = table[(table["n"] > 0) & (table["n_ref"] > 0)]
    table["expected"] = table["n"] * (table["reference"] + 1) / (table["n_ref"] + 1)
    table["evidence"] = [
        significance.bonferroni(significance.poisson(int(k), float(lam)), len(table))
        for k, lam in zip(table["window"], table["expected"], strict=True)
    ]
    found.fanout = table.sort_values("evidence", ascending=False).reset_index(drop=True)


# ------------------------------------------------------------------------------- the tool
def traces(ctx: ToolContext, args: TracesInput) -> ToolResult:
    """Run the detectors over the spans of the window and the reference windows.

    ``data``: ``edges`` (the strongest call edges: caller, callee, k, n, evidence),
    ``behaviour`` (the strongest span-kind changes), ``self_time`` (the strongest self-time
    units: service, operation, k, n, evidence), ``credits`` (component -> evidence),
    ``references`` (the windows used) and ``gaps`` (what could not be checked).

    Raises:
        UnknownComponentError: a component does not resolve.
    """
    window = args.window or ctx.window
    arch = ctx.architecture
    wanted = {arch.get(ref).id for ref in args.components}
    references = ctx.reference_windows()
    spans = ctx.backend.spans(
        TimeWindow(
            start=min(r.start for r in [window, *references]),
            end=max(r.end for r in [window, *references]),
        )
    )
    searched = f"spans of {window.label()} vs reference windows " + ", ".join(
        r.label() for r in references
    )
    gaps: list[str] = []
    if spans is None:
        return ToolResult(
            tool="traces",
            status="no_data",
            params=args.model_dump(mode="json", exclude_none=True),
            summary=f"No span source for this telemetry ({ctx.backend.name}); traces not checked.",
            data={"gaps": [f"no spans: the {ctx.backend.name} backend has no span source"]},
        )
    gaps += [str(g) for g in spans.attrs.get("gaps", [])]  # a live source's failures (AWS)
    if spans.attrs.get("sources"):
        searched += "; spans from " + "; ".join(str(s) for s in spans.attrs["sources"])
    logs = ctx.backend.span_logs(window, references)
    found = analyse(spans, logs, window, references)
    if not found.window_spans:
        gaps.append(f"no spans in the window {window.label()}")
    if not found.reference_spans:
        gaps.append("no spans in any reference window: nothing to compare against")
    if found.window_spans and not found.has_logs:
        gaps.append("no span-linked log statements: span behaviour checked on child calls only")
    if found.window_spans and not found.has_status:
        gaps.append("spans carry no status codes: error origin inferred from where spans stop")
    by_name = {e.name: e.id for e in arch.elements.values()}
    evidence: list[Evidence] = []
    lines: list[str] = []
    credits = sorted(found.credits, key=lambda c: -c.evidence)
    unmapped: set[str] = set()
    for credit in credits:
        cid = by_name.get(credit.component)
        if cid is None:
            unmapped.add(credit.component)
            continue
        if wanted and cid not in wanted:
            continue
        edge = None
        if credit.edge and credit.edge[0] in by_name and credit.edge[1] in by_name:
            edge = (by_name[credit.edge[0]], by_name[credit.edge[1]])
        lines.append(credit.text + f" [-log10 p {credit.evidence:.1f}; {credit.attribution}]")
        evidence.append(
            ctx.ledger.add(
                tool="traces",
                kind=credit.detector,
                component=cid,
                edge=edge,
                summary=credit.text,
                searched=searched,
                window=window,
                time=_onset_time(credit, window),
                figures={
                    "evidence": credit.evidence,
                    "raw_evidence": credit.raw,
                    "share": credit.share,
                    **credit.figures,
                },
                labels={
                    "test": credit.test,
                    "attribution": credit.attribution,
                    "scope": "own",
                    "onset": "observed" if credit.onset_ns is not None else "window",
                    **({"role": credit.role} if credit.role else {}),
                },
                samples=credit.samples,
            )
        )
    if unmapped:
        gaps.append("span services not in the workspace: " + ", ".join(sorted(unmapped)[:10]))
    if not evidence:
        lines.append(
            f"No significant span evidence (p < 0.001) in {found.window_spans} window spans vs "
            f"{found.reference_spans} reference spans."
        )
    data = {
        "window": window.label(),
        "references": [r.label() for r in references],
        "window_spans": found.window_spans,
        "reference_spans": found.reference_spans,
        "families": found.families,
        "edges": _records(found.edges, ["p_service", "service", "k", "n", "evidence"]),
        "behaviour": _records(found.behaviour, ["kind", "item", "change", "c", "n", "evidence"]),
        "fanout": _records(found.fanout, ["kind", "call", "window", "expected", "evidence"]),
        "self_time": _records(found.self_time, ["service", "operation", "k", "n", "evidence"]),
        "gaps": gaps,
    }
    return ToolResult(
        tool="traces",
        status="ok" if evidence else "no_data",
        params=args.model_dump(mode="json", exclude_none=True),
        summary="\n".join(lines + [f"Not checked: {g}" for g in gaps]),
        evidence=evidence,
        data=data,
    )


def _onset_time(credit: Credit, window: TimeWindow) -> datetime:
    """The evidence time: the credit's observed onset (label ``onset`` ``observed``, which
    the scorer takes as an onset), else the window start (label ``onset`` ``window``: the
    comparison covers the whole window and observed no onset)."""
    if credit.onset_ns is None:
        return window.start
    return datetime.fromtimestamp(credit.onset_ns / 1e9, tz=UTC)


def _records(table: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    if table.empty:
        return []
    rows = table[[c for c in columns if c in table.columns]].head(MAX_ITEMS)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in rows.to_dict(orient="records")
    ]
