"""Span self-time (exclusive time): where a request's latency is spent in a service's own code.

When a component's own code gets slower (a deployment that adds 35 ms to a Lambda, a CPU-starved
task, a memory leak's garbage collection), every ancestor's span duration rises with it, so
durations do not say where the time went; the call edges' network time (client minus server
span, :func:`tools.trace_analysis._edges`) does not move at all. The *self-time* does: the time a
span spends in its own service, outside the calls it makes.

**Self-time of a service in one request** (:func:`self_times`). An *entry span* of service ``A``
is a span whose parent belongs to another service (or a root span), that is not itself a call
(``kind`` ``client`` or ``producer``, or a ``peer_service``: a client's span is its call). The
spans of ``A`` below it through spans of ``A`` are ``A``'s internal spans. Its *calls* are the
internal spans that are calls (``kind`` ``client`` or ``producer``, a ``peer_service``, or a
span with a child in another service) and the children in another service of the entry span or
of an internal span (a caller that writes no client spans). The self-time is the entry span's
duration minus the length of the union of its calls' intervals, each clipped to the entry span:
overlapping (asynchronous, parallel) calls are counted once, and time a call runs past its
parent's end is not the parent's.
With no internal spans this is a span's duration minus the union of its children's intervals;
with internal spans it is the sum of their self-times (the same wall-clock time counted once).
The network time of a call stays out of the caller's self-time (it is inside the client span), so
a delayed callee or network never raises it; a callee that answers slower raises the caller's
duration and not its self-time.

**The test** (:func:`self_time_credits`), per unit ``(service, operation of the entry span)``,
with the 10 s block (:data:`tools.trace_analysis.BLOCK_NS`) as the trial: a block is *slow* when
the median self-time of the unit's spans in it exceeds ``max(q99, median + 1 ms)`` of the
unit's reference self-times (the typical request of the block took longer in the service's own
code than 99% of the reference requests: a shift of the whole distribution past its reference
tail, in milliseconds). ``k`` slow of the ``n`` window blocks with spans; null model
Binomial(n, p0) with ``p0`` the reference blocks' slow rate (add-one smoothed, at least 1%);
Bonferroni over the units tested. Blocks, not spans, are the trials because the self-times of
one block share their cause (a burst of traffic, a garbage-collection pause, another window's
traffic mix): on fault-free Nezha windows a per-span exceedance test on effective counts (Kish
design effect of spans in blocks and traces) flagged a day's load difference in 9 of 27
windows (``benchmarks/traces_fault_free.py``), a shift of the block medians past the reference
q99 does not. One-sided: a span that got faster (an early error return) is no latency evidence,
and neither is a unit whose median span duration did not rise (a self-time rise inside an
unchanged duration is time moved from calls it skipped into its own code, not a slowdown).

**Attribution.** Credited to the service (``scope`` own, ``role`` latency): its callers'
duration rise is explained by it (their self-times do not move, and the scorer counts the
callers' latency symptoms by the share of their dependencies without evidence of their own).
One exception, as for span behaviour (:class:`tools.trace_analysis._FailedCalls`): when most of
the slow entry spans made a failed call to ``X`` (retried after a back-off, not served,
failing, or followed by a statement naming ``X``), the extra time is the caller's waiting and
retrying around ``X``'s failure (a throttled callee's back-off is the caller's self-time) and
the credit is filed under ``X``.

**Onset** (:func:`onset`): the maximum-likelihood change point of the unit's window sequence of
slow blocks with the known reference rate ``p0`` (the CUSUM estimate: Page, E. S. (1954),
"Continuous inspection schemes", Biometrika 41(1/2):100-115; Hinkley, D. V. and Hinkley, E. A.
(1970), "Inference about the change-point in a sequence of binomial variables", Biometrika
57(3):477-488): the window block from which on the slow blocks' log-likelihood ratio against
``p0`` is largest. It is an observed onset only when at least :data:`MIN_BEFORE` window blocks
over at least :data:`MIN_BEFORE_S` seconds lie before it; otherwise the shift began at or
before the window start and the evidence carries no onset.

**Only a change inside the window is credited.** A self-time level that differs over the whole
window may be the window's own regime (a time of day, another day's traffic mix, a node shared
with a noisy neighbour) that reference windows of other days never saw: on the fault-free
windows of ``benchmarks/traces_fault_free.py`` two such window-wide shifts (a service's own
time 2.7 and 33 times its references' in the minute before a neighbouring injection) were the
detector's only findings. A change point inside the window, with the blocks before it like the
references, is the evidence of a change; so a unit is credited only with an observed onset.
Windows that start at the fault (Nezha's, which start at the injection) therefore get no
self-time evidence: the detector is for windows that hold the lead-up to an alert, as the
generated incidents' and ``rca ask``'s default windows do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tools import significance
from tools.trace_analysis import (
    FLOOR_NS,
    MIN_EXCEED_RATE,
    MIN_REFERENCE_CALLS,
    MIN_WINDOW_SPANS,
    Credit,
    _window_counts,
    binomial_many,
)

if TYPE_CHECKING:
    from tools.trace_analysis import _FailedCalls

DETECTOR = "self_time"
MIN_BEFORE = 5
"""Fewest window blocks of a unit before an onset for it to be observed (not the window
start)."""
MIN_BEFORE_S = 60.0
"""Shortest stretch of window before an onset for it to be observed: the resolution of onsets
elsewhere (metrics per minute, :func:`tools.significance.change_timing`)."""
MAX_DEPTH = 64
SAMPLES = 3


def _keys(trace: pd.Series, span: pd.Series) -> pd.Series:
    return trace.astype(str) + "\x00" + span.fillna("").astype(str)


def self_times(joined: pd.DataFrame) -> pd.DataFrame:
    """The entry spans of ``joined`` (:func:`tools.trace_analysis._joined`: spans with
    ``period``, ``block`` and their parent's ``p_service``) with ``self_ns``, their service's
    self-time in nanoseconds (see the module docstring). Columns: ``trace_id``, ``span_id``,
    ``service``, ``operation``, ``start_ns``, ``duration_ns``, ``self_ns``, ``period``,
    ``block``; empty when there are none."""
    columns = ["trace_id", "span_id", "service", "operation", "start_ns", "duration_ns"]
    columns += ["self_ns", "period", "block"]
    if joined.empty:
        return pd.DataFrame(columns=columns)
    spans = joined.reset_index(drop=True)
    key = _keys(spans["trace_id"], spans["span_id"])
    parent_key = _keys(spans["trace_id"], spans["parent_id"])
    service = spans["service"].astype(str)
    cross = spans["p_service"].notna() & (spans["p_service"].astype(str) != service)
    internal = spans["p_service"].notna() & ~cross
    kind = spans["kind"] if "kind" in spans.columns else pd.Series("", index=spans.index)
    calling = kind.fillna("").astype(str).str.strip().str.lower().isin(["client", "producer"])
    calling |= spans["peer_service"] != ""
    has_cross_child = key.isin(set(parent_key[cross]))
    entry = ~internal & ~calling
    # each span of a service below an entry span through spans of that service: its entry
    owner = pd.Series(np.where(entry, key, None), index=spans.index, dtype=object)
    for _ in range(MAX_DEPTH):
        todo = internal & owner.isna()
        if not todo.any():
            break
        by_key = pd.Series(owner.to_numpy(), index=key.to_numpy())
        by_key = by_key[~by_key.index.duplicated()].dropna()
        found = parent_key[todo].map(by_key)
        if found.notna().sum() == 0:
            break
        owner[todo] = found
    parent_owner = parent_key.map(
        pd.Series(owner.to_numpy(), index=key.to_numpy())[~key.duplicated().to_numpy()]
    )
    start = spans["start_ns"].astype("int64")
    end = start + spans["duration_ns"].astype("int64")
    calls = pd.concat(
        [
            pd.DataFrame({"entry": owner, "s": start, "e": end})[
                internal & owner.notna() & (calling | has_cross_child)
            ],
            pd.DataFrame({"entry": parent_owner, "s": start, "e": end})[
                cross & parent_owner.notna()
            ],
        ],
        ignore_index=True,
    )
    entries = spans[entry].assign(entry=key[entry], s0=start[entry], e0=end[entry])
    covered = _covered(calls, entries[["entry", "s0", "e0"]].drop_duplicates("entry"))
    entries = entries.assign(
        self_ns=(
            entries["duration_ns"].astype("int64")
            - entries["entry"].map(covered).fillna(0).astype("int64")
        ).clip(lower=0)
    )
    return entries[columns].reset_index(drop=True)


def _covered(calls: pd.DataFrame, entries: pd.DataFrame) -> pd.Series:
    """Per entry: nanoseconds of the union of its calls' intervals clipped to the entry span."""
    if calls.empty:
        return pd.Series(dtype="int64")
    c = calls.merge(entries, on="entry")
    c = c.assign(s=c["s"].clip(lower=c["s0"], upper=c["e0"]), e=c["e"].clip(lower=c["s0"]))
    c["e"] = c["e"].clip(upper=c["e0"])
    c = c[c["e"] > c["s"]].sort_values(["entry", "s"], kind="stable")
    if c.empty:
        return pd.Series(dtype="int64")
    reach = c.groupby("entry", sort=False)["e"].cummax()
    previous = reach.shift(1).where(c["entry"].eq(c["entry"].shift(1)))
    # each interval adds what lies beyond the furthest end reached before it (sorted by start)
    # in int64 nanoseconds: epoch times as floats would lose a few hundred nanoseconds
    floor = np.iinfo(np.int64).min
    before = previous.fillna(floor).to_numpy(dtype="int64")
    start = np.maximum(c["s"].to_numpy(dtype="int64"), before)
    added = np.clip(c["e"].to_numpy(dtype="int64") - start, 0, None)
    return pd.Series(added, index=c.index).groupby(c["entry"]).sum().astype("int64")


def onset(slow: np.ndarray, starts: np.ndarray, p0: float) -> tuple[int, bool]:
    """The change point of a window's exceedance sequence (see the module docstring).

    ``slow``: booleans of the window blocks (or spans) in start order; ``starts``: their start
    times (ns); ``p0``: the reference rate. Returns (index of the first one after the change,
    True when the onset is observed: at least :data:`MIN_BEFORE` of them over
    :data:`MIN_BEFORE_S` seconds before it).
    """
    n = len(slow)
    x = np.asarray(slow, dtype=float)
    k = np.cumsum(x[::-1])[::-1]  # exceedances from i on
    m = np.arange(n, 0, -1, dtype=float)
    q = np.clip(k / m, 1e-12, 1 - 1e-12)
    p = min(max(p0, 1e-12), 1 - 1e-12)
    llr = m * (q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p)))
    llr = np.where(q > p, llr, 0.0)
    best = int(np.argmax(llr))
    observed = best >= MIN_BEFORE and (starts[best] - starts[0]) / 1e9 >= MIN_BEFORE_S
    return best, bool(observed)


def self_time_credits(
    joined: pd.DataFrame, failed: Callable[[], _FailedCalls] | None = None
) -> tuple[list[Credit], pd.DataFrame]:
    """Per service, the strongest significant self-time shift of its entry spans (see the
    module docstring), as :class:`tools.trace_analysis.Credit` with ``onset_ns`` (an
    observed onset, else None), ``figures`` (``baseline_ms`` and ``window_ms``: median
    self-time of the reference spans and of the window spans from the onset on, ``shift_ms``
    their difference, ``threshold_ms``, ``k``/``n`` slow of all window blocks, ``k_ref``/
    ``n_ref`` in the references, ``spans``: window spans of the unit) and ``samples`` (the
    slowest window spans: trace and span ids with their self-time). ``failed``: builds the
    failed calls of the spans (:class:`tools.trace_analysis._FailedCalls`; called only when a
    unit is significant), to file the credit of a caller waiting on a failing callee under
    that callee. Also returns the table of units tested (``service``, ``operation``, ``k``,
    ``n`` in blocks, ``evidence``; strongest first).
    """
    rows = self_times(joined)
    if rows.empty:
        return [], pd.DataFrame()
    keys = ["service", "operation"]
    ref = rows[rows["period"] == "reference"].groupby(keys)["self_ns"]
    durations = rows.groupby([*keys, "period"])["duration_ns"].median().unstack("period")
    table = pd.DataFrame(
        {"n_ref": ref.size(), "q99": ref.quantile(0.99), "median": ref.median()}
    ).reset_index()
    table = table[table["n_ref"] >= MIN_REFERENCE_CALLS]
    table["threshold"] = np.maximum(table["q99"], table["median"] + FLOOR_NS)
    merged = rows.merge(table, on=keys)
    if merged.empty:
        return [], pd.DataFrame()
    merged["slow"] = merged["self_ns"] > merged["threshold"]
    blocks = merged.groupby([*keys, "period", "block"], sort=False).agg(
        typical=("self_ns", "median"), threshold=("threshold", "first"), at=("start_ns", "min")
    )
    blocks = blocks.assign(slow=blocks["typical"] > blocks["threshold"]).reset_index()
    units = _window_counts(blocks, keys, "slow")
    if units is None:
        return [], pd.DataFrame()
    units = units.reset_index()
    units = units[units["n"] > 0]
    units["p0"] = np.maximum((units["k_ref"] + 1) / (units["n_ref"] + 2), MIN_EXCEED_RATE)
    units["raw"] = binomial_many(units["k"], units["n"], units["p0"])
    units["evidence"] = np.round(np.maximum(0.0, units["raw"] - math.log10(max(1, len(units)))), 3)
    units = units.merge(table[[*keys, "median", "threshold"]], on=keys, how="left")
    units = units.sort_values("evidence", ascending=False).reset_index(drop=True)
    # latency evidence only where the spans got longer: a self-time rise inside an unchanged
    # duration is time moved from skipped calls into the span's own code, not a slowdown
    longer = durations.get("window") > durations.get("reference")
    units["longer"] = longer.reindex(pd.MultiIndex.from_frame(units[keys])).to_numpy()
    strong = units[
        (units["evidence"] >= significance.SIGNIFICANT)
        & (units["k"] >= MIN_WINDOW_SPANS)
        & units["longer"].fillna(False).astype(bool)
    ]
    window = merged[merged["period"] == "window"].sort_values("start_ns", kind="stable")
    win_blocks = blocks[blocks["period"] == "window"].sort_values("at", kind="stable")
    best: dict[str, Credit] = {}
    calls = failed() if failed is not None and not strong.empty else None
    for row in strong.itertuples(index=False):
        svc = str(row.service)
        if svc in best:
            continue  # the strongest unit of the service (units are sorted)
        spans = window[(window["service"] == row.service) & (window["operation"] == row.operation)]
        unit_blocks = win_blocks[
            (win_blocks["service"] == row.service) & (win_blocks["operation"] == row.operation)
        ]
        credit = _credit(row, spans, unit_blocks)
        if credit.onset_ns is None:
            continue  # a window-wide difference: no change seen (see the module docstring)
        if calls is not None:
            credit = _to_failed_callee(credit, spans[spans["slow"]], calls)
        if credit.component not in best or best[credit.component].evidence < credit.evidence:
            best[credit.component] = credit
    return list(best.values()), units[[*keys, "k", "n", "evidence"]]


def _credit(row: object, spans: pd.DataFrame, blocks: pd.DataFrame) -> Credit:
    """The credit of one significant unit ``row`` over its window ``spans`` and ``blocks``
    (both in start order)."""
    svc, op = str(row.service), str(row.operation)  # type: ignore[attr-defined]
    slow = blocks["slow"].to_numpy(dtype=bool)
    starts = blocks["at"].to_numpy(dtype="int64")
    at, observed = onset(slow, starts, float(row.p0))  # type: ignore[attr-defined]
    after = spans[spans["start_ns"] >= starts[at]] if observed else spans
    base_ms = float(row.median) / 1e6  # type: ignore[attr-defined]
    win_ms = float(after["self_ns"].median()) / 1e6
    k, n = int(row.k), int(row.n)  # type: ignore[attr-defined]
    k_ref, n_ref = int(row.k_ref), int(row.n_ref)  # type: ignore[attr-defined]
    threshold_ms = float(row.threshold) / 1e6  # type: ignore[attr-defined]
    slowest = spans.nlargest(SAMPLES, "self_ns")
    samples = [
        f"trace {t} span {s}: self-time {v / 1e6:.1f} ms of {d / 1e6:.1f} ms"
        for t, s, v, d in zip(
            slowest["trace_id"],
            slowest["span_id"],
            slowest["self_ns"],
            slowest["duration_ns"],
            strict=True,
        )
    ]
    since = " from the onset on" if observed else ""
    text = (
        f"{svc}: self-time (time in its own code, outside its calls) of spans {op!r}: median "
        f"over {threshold_ms:.1f} ms (the reference q99) in {k} of {n} 10 s blocks of the "
        f"window (reference: {k_ref} of {n_ref}); median {win_ms:.1f} ms{since} vs "
        f"{base_ms:.1f} ms in the references ({win_ms - base_ms:+.1f} ms, {len(spans)} window "
        "spans)"
    )
    return Credit(
        component=svc,
        detector=DETECTOR,
        evidence=float(row.evidence),  # type: ignore[attr-defined]
        raw=float(row.raw),  # type: ignore[attr-defined]
        share=round(k / n, 3),
        text=text,
        test="binomial: 10 s blocks whose median span self-time (duration minus the union of "
        "its calls) exceeds the reference q99, vs the reference blocks' rate",
        attribution="own: time spent in its own code rose (its callers' durations follow)",
        onset_ns=int(starts[at]) if observed else None,
        figures={
            "baseline_ms": round(base_ms, 3),
            "window_ms": round(win_ms, 3),
            "shift_ms": round(win_ms - base_ms, 3),
            "threshold_ms": round(threshold_ms, 3),
            "k": float(k),
            "n": float(n),
            "k_ref": float(k_ref),
            "n_ref": float(n_ref),
            "spans": float(len(spans)),
        },
        samples=samples,
        role="latency",
    )


def _to_failed_callee(credit: Credit, slow: pd.DataFrame, failed: _FailedCalls) -> Credit:
    """The credit moved to ``X`` when most ``slow`` entry spans made a failed call to ``X``
    (:meth:`tools.trace_analysis._FailedCalls.target`); else unchanged."""
    found = failed.target(slow[["trace_id", "span_id"]], credit.component)
    if found is None:
        return credit
    callee, k, n = found
    return replace(
        credit,
        component=callee,
        text=credit.text + f"; {k} of these {n} slow spans made a failed call to {callee} "
        "(retried, named by the statement after it, not served, or failing): the time went "
        "to waiting on it",
        edge=(credit.component, callee),
        attribution=f"callee: the caller's extra self-time is spent around failed calls to "
        f"{callee}",
    )
