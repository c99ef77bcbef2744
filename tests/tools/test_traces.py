"""The traces detectors on small span trees: each fault shape credits the right service."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pandas as pd

from tools import significance
from tools.models import TimeWindow
from tools.trace_analysis import analyse

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REFERENCE = TimeWindow(start=T0, end=T0 + timedelta(minutes=1))
WINDOW = TimeWindow(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=3))
MS = 1_000_000
_ids = itertools.count(1)


class Trees:
    """Builds span trees: a call is (caller service, callee service, network ms, callee ms)."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.logs: list[dict] = []

    def span(
        self,
        trace: str,
        parent: str,
        service: str,
        operation: str,
        start: int,
        duration: int,
        status: str = "",
        *,
        kind: str = "",
        peer: str = "",
    ) -> str:
        sid = f"s{next(_ids)}"
        self.spans.append(
            {
                "trace_id": trace,
                "span_id": sid,
                "parent_id": parent,
                "service": service,
                "instance": service + "-0",
                "operation": operation,
                "kind": kind,
                "start_ns": start,
                "duration_ns": duration,
                "status_code": status,
                "peer_service": peer,
            }
        )
        return sid

    def log(self, trace: str, span: str, key: str, level: str, at: int) -> None:
        self.logs.append(
            {"trace_id": trace, "span_id": span, "event_key": key, "level": level, "t_ns": at}
        )

    def request(
        self,
        start: int,
        entry: str,
        calls: list[tuple[str, float, float]],
        *,
        logs: list[tuple[str, str]] = (),
        callee_logs: dict[str, list[tuple[str, str]]] | None = None,
        status: dict[str, str] | None = None,
    ) -> None:
        """One trace: ``entry`` handles a request and calls each (callee, network ms, callee
        ms) in turn through a client span; ``logs`` are (key, level) written by the entry
        span after its calls; ``callee_logs`` per callee; ``status`` per service."""
        trace = f"t{next(_ids)}"
        status = status or {}
        root = self.span(trace, "", entry, "handle", start, 10 * MS, status.get(entry, ""))
        at = start + MS
        for callee, net_ms, server_ms in calls:
            client_ns = int((net_ms + server_ms) * MS)
            client = self.span(trace, root, entry, "HTTP GET", at, client_ns)
            server = self.span(
                trace,
                client,
                callee,
                "serve",
                at + int(net_ms * MS / 2),
                int(server_ms * MS),
                status.get(callee, ""),
            )
            for key, level in (callee_logs or {}).get(callee, []):
                self.log(trace, server, key, level, at + MS)
            at += client_ns + MS
        for key, level in logs:
            self.log(trace, root, key, level, at)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        logs = pd.DataFrame(
            self.logs, columns=["trace_id", "span_id", "event_key", "level", "t_ns"]
        )
        return pd.DataFrame(self.spans), logs


def ns(window: TimeWindow, i: int) -> int:
    return int(window.start.timestamp() * 1e9) + i * 200 * MS


def credits(trees: Trees) -> dict[str, float]:
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    best: dict[str, float] = {}
    for c in found.credits:
        best[c.component] = max(best.get(c.component, 0.0), c.evidence)
    return best


def test_a_delayed_callee_is_credited_over_its_callers() -> None:
    trees = Trees()
    for period, delay in ((REFERENCE, 0.0), (WINDOW, 50.0)):
        for i in range(40):
            trees.request(ns(period, i), "gateway", [("a", 1.0, 2.0), ("d", 1.0, 2.0)])
            trees.request(ns(period, i) + 1, "a", [("b", 1.0 + delay, 2.0), ("c", 1.0, 2.0)])
            trees.request(ns(period, i) + 2, "d", [("b", 1.0 + delay, 2.0)])
    got = credits(trees)
    assert got["b"] >= significance.SIGNIFICANT
    assert got["b"] > got.get("a", 0.0) and got["b"] > got.get("d", 0.0)
    assert "c" not in got


def test_a_cpu_starved_caller_is_credited_over_its_callees() -> None:
    trees = Trees()
    for period, slow in ((REFERENCE, 0.0), (WINDOW, 30.0)):
        for i in range(40):
            trees.request(ns(period, i), "gateway", [("a", 1.0, 40.0), ("d", 1.0, 5.0)])
            # a's client spans include its own scheduling delay: every edge out of a is slow
            trees.request(ns(period, i) + 1, "a", [("b", 1.0 + slow, 2.0), ("c", 1.0 + slow, 2.0)])
            trees.request(ns(period, i) + 2, "d", [("b", 1.0, 2.0), ("c", 1.0, 2.0)])
    got = credits(trees)
    assert got["a"] >= significance.SIGNIFICANT
    assert got["a"] > got.get("b", 0.0) and got["a"] > got.get("c", 0.0)


def test_an_exception_in_the_caller_is_credited_to_the_caller() -> None:
    trees = Trees()
    for i in range(40):
        trees.request(
            ns(REFERENCE, i), "a", [("b", 1.0, 2.0), ("c", 1.0, 2.0)], logs=[("A#20", "INFO")]
        )
        # after b returns normally, a throws: no call to c, its closing statement is gone and a
        # new ERROR statement appears
        trees.request(ns(WINDOW, i), "a", [("b", 1.0, 2.0)], logs=[("A#31", "ERROR")])
    got = credits(trees)
    assert got["a"] >= significance.SIGNIFICANT
    assert "b" not in got and "c" not in got


def test_a_silent_error_return_in_the_callee_is_credited_to_the_callee() -> None:
    trees = Trees()
    for period, broken in ((REFERENCE, False), (WINDOW, True)):
        for i in range(40):
            b_logs = {"b": [] if broken else [("B#12", "INFO")]}
            after = [] if broken else [("c", 1.0, 2.0)]
            for caller in ("a", "d"):  # both callers stop right after calling b
                trees.request(
                    ns(period, i) + (caller == "d"),
                    caller,
                    [("b", 1.0, 2.0), *after],
                    callee_logs=b_logs,
                )
    got = credits(trees)
    assert got["b"] >= significance.SIGNIFICANT
    # the callers' changed spans (no call to c any more) are credited to b, not to themselves
    assert "a" not in got and "d" not in got


def test_a_missing_log_statement_is_credited_to_its_service() -> None:
    trees = Trees()
    for period, keys in (
        (REFERENCE, [("A#7", "INFO"), ("A#9", "INFO")]),
        (WINDOW, [("A#9", "INFO")]),
    ):
        for i in range(40):
            trees.request(ns(period, i), "a", [("b", 1.0, 2.0)], logs=keys)
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    top = found.behaviour.iloc[0]
    assert top["item"] == "log A#7" and top["change"] == "missing"
    assert {c.component for c in found.credits} == {"a"}


def test_the_error_origin_is_the_deepest_failing_span() -> None:
    trees = Trees()
    for period, failing in ((REFERENCE, False), (WINDOW, True)):
        for i in range(30):
            code = "500" if failing else "200"
            trace, at = f"e{period.start.minute}-{i}", ns(period, i)
            a = trees.span(trace, "", "a", "handle", at, 20 * MS, code)
            a_client = trees.span(trace, a, "a", "HTTP GET", at + MS, 15 * MS)  # no status
            b = trees.span(trace, a_client, "b", "serve", at + 2 * MS, 12 * MS, code)
            b_client = trees.span(trace, b, "b", "HTTP GET", at + 3 * MS, 8 * MS, code)
            trees.span(trace, b_client, "c", "serve", at + 4 * MS, 5 * MS, code)
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    origins = {c.component for c in found.credits if c.detector == "error_origin"}
    assert found.has_status and origins == {"c"}


def test_steady_traffic_has_no_significant_evidence() -> None:
    trees = Trees()
    for period in (REFERENCE, WINDOW):
        for i in range(40):
            trees.request(ns(period, i), "a", [("b", 1.0, 2.0)], logs=[("A#1", "INFO")])
    assert credits(trees) == {}


def _peer_calls(trees: Trees, period: TimeWindow, i: int, db_ms: float, db_status: str) -> None:
    """``a`` serves a request: a call to ``b`` (which writes spans) and one to ``table`` (a
    managed service that writes none: only a's client span, naming it as the peer)."""
    trace, at = f"p{period.start.minute}-{i}", ns(period, i)
    root = trees.span(trace, "", "a", "handle", at, 30 * MS, "200", kind="server")
    client = trees.span(trace, root, "a", "call b", at + MS, 4 * MS, "200", kind="client", peer="b")
    trees.span(trace, client, "b", "serve", at + 2 * MS, 2 * MS, "200", kind="server")
    trees.span(
        trace,
        root,
        "a",
        "call table",
        at + 6 * MS,
        int(db_ms * MS),
        db_status,
        kind="client",
        peer="table",
    )


def test_a_throttling_peer_without_spans_is_the_error_origin() -> None:
    trees = Trees()
    for i in range(40):
        _peer_calls(trees, REFERENCE, i, 3.0, "200")
        # the table rejects 40% of the calls (DynamoDB answers 400 ThrottlingException); a
        # retries and still answers 200
        _peer_calls(trees, WINDOW, i, 2.0, "400" if i % 5 < 2 else "200")
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    origins = {c.component: c.evidence for c in found.credits if c.detector == "error_origin"}
    assert set(origins) == {"table"} and origins["table"] >= significance.SIGNIFICANT


def test_a_delayed_peer_without_spans_is_credited_over_its_caller() -> None:
    trees = Trees()
    for i in range(40):
        _peer_calls(trees, REFERENCE, i, 3.0, "200")
        _peer_calls(trees, WINDOW, i, 3.0 + 60.0, "200")
    got = credits(trees)
    assert got["table"] >= significance.SIGNIFICANT
    assert got["table"] > got.get("a", 0.0) and "b" not in got


def test_a_client_error_status_fails_client_spans_only() -> None:
    from tools.trace_analysis import _is_error

    codes = pd.Series(["404", "429", "500", "ERROR", "200", ""])
    kinds = pd.Series(["server", "client", "server", "", "client", "client"])
    assert _is_error(codes, kinds).tolist() == [False, True, True, True, False, False]
    assert _is_error(codes).tolist() == [False, False, True, True, False, False]


def test_an_exception_after_a_call_on_one_route_is_credited_to_the_caller() -> None:
    """One operation serves two routes (a front end): the checkout route throws right after
    its call to b returns, so it no longer calls c, while the browse route still calls c in
    every span: only the pair test (b's companion c) sees the change."""
    trees = Trees()
    for period, broken in ((REFERENCE, False), (WINDOW, True)):
        for i in range(40):
            trees.request(ns(period, i), "front", [("c", 1.0, 2.0), ("d", 1.0, 2.0)])
            if i % 4 == 0:
                after = [] if broken else [("c", 1.0, 2.0)]
                trees.request(ns(period, i) + 1, "front", [("b", 1.0, 2.0), *after])
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    got = {c.component: c for c in found.credits}
    assert set(got) == {"front"}
    assert got["front"].evidence >= significance.SIGNIFICANT
    assert "companion" in got["front"].text and "'call b HTTP GET'" in got["front"].text


def test_a_closing_statement_missing_inside_a_loop_is_found() -> None:
    """A loop writes an opening and a closing statement per item; the fault throws between
    them on a late item, so the span still holds the closing statement of earlier items."""
    trees = Trees()
    for period, broken in ((REFERENCE, False), (WINDOW, True)):
        for i in range(20):
            keys = [("T#451", "INFO"), ("T#457", "INFO")] * 3
            if broken:
                keys = keys[:-1]  # the third item's closing statement is never written
            trees.request(ns(period, i), "t", [("b", 1.0, 2.0)], logs=keys)
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    assert found.behaviour.empty or found.behaviour["evidence"].max() < significance.SIGNIFICANT
    top = found.companions.iloc[0]
    assert (top["item_a"], top["item_b"]) == ("log T#451", "log T#457")
    assert {c.component for c in found.credits} == {"t"}


def test_a_delayed_low_traffic_edge_is_significant_from_its_magnitude() -> None:
    """Nine calls delayed by two seconds on an edge seen 17 times: nine of nine calls (and
    seconds) beyond anything in the edge's reference, whose rate is at most 1/19 (add-one
    smoothed: seventeen calls cannot show a rate of zero)."""
    trees = Trees()
    for i in range(40):  # busy edges: the pooled reference
        for period in (REFERENCE, WINDOW):
            trees.request(ns(period, i), "gateway", [("a", 1.0 + (i % 7) * 0.3, 2.0)])
            trees.request(ns(period, i) + 1, "gateway", [("auth", 1.0 + (i % 3) * 0.2, 2.0)])
    for i in range(17):  # one call every 3 s / 6 s: each in its own second
        trees.request(ns(REFERENCE, 15 * i) + 3, "auth", [("code", 1.0 + (i % 5) * 0.5, 2.0)])
    for i in range(9):
        trees.request(ns(WINDOW, 30 * i) + 3, "auth", [("code", 2000.0, 2.0)])
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    got = {c.component: c for c in found.credits}
    edge = found.edges.iloc[0]
    assert (edge["p_service"], edge["service"]) == ("auth", "code")
    assert got["code"].evidence >= 10
    assert got["code"].evidence > got["auth"].evidence


def test_an_edge_with_a_heavy_tail_of_its_own_is_not_slow() -> None:
    """The pooled rate never lowers an edge's own reference rate: an edge that often takes
    a second in the reference is not slow when it does so in the window."""
    trees = Trees()
    for period in (REFERENCE, WINDOW):
        for i in range(40):
            trees.request(ns(period, i), "gateway", [("a", 1.0, 2.0)])
            trees.request(
                ns(period, i) + 1, "batch", [("slow", 1000.0 if i % 4 == 0 else 1.0, 2.0)]
            )
    assert credits(trees) == {}


def test_a_burst_of_stalled_calls_within_one_second_is_not_significant() -> None:
    """One stall (a pause in the callee's runtime) delays the calls in flight together: 20
    calls stalled within one second of a busy edge are one event for the magnitude test,
    not 20 independent ones."""
    rng = random.Random(7)
    trees = Trees()
    for period in (REFERENCE, WINDOW):
        for i in range(250):
            stalled = period is WINDOW and 100 <= i < 120
            at = ns(period, 0) + (20_000 * MS + i if stalled else i * 200 * MS)
            net = 500.0 if stalled else rng.uniform(0.5, 3.0)
            trees.request(at, "front", [("currency", net, 2.0)])
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    assert found.edges.iloc[0]["tail_raw"] < significance.SIGNIFICANT


def test_a_span_ending_in_its_own_statement_is_not_moved_to_its_last_callee() -> None:
    """The spans of a lose their closing statement after their last call to b returned and a
    statement of a's own was written: a stopped in its own code, even though b (with
    evidence of its own) was the last service it called."""
    trees = Trees()
    for period, broken in ((REFERENCE, False), (WINDOW, True)):
        for i in range(20):
            keys = [("A#451", "INFO"), ("A#457", "INFO")] * 3
            b_logs = [("B#9", "ERROR")] if broken else []
            trees.request(
                ns(period, i),
                "a",
                [("b", 1.0, 2.0)],
                logs=keys[:-1] if broken else keys,
                callee_logs={"b": b_logs},
            )
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    pair = [c for c in found.credits if "companion" in c.text]
    assert [c.component for c in pair] == ["a"]
    assert "b" in {c.component for c in found.credits}  # b's new ERROR statement, its own


def _thin_edge_trees(window_calls: list[tuple[int, float]]) -> Trees:
    """Six busy edges (60 reference calls each) and a thin edge ``auth -> code`` seen 15 times
    in the reference, all with the same network-time jitter (0.5-3 ms); ``window_calls``:
    (offset in 200 ms steps, network ms) of the thin edge's window calls."""
    rng = random.Random(11)
    trees = Trees()
    for i in range(60):
        for period in (REFERENCE, WINDOW):
            for j in range(6):
                trees.request(ns(period, 4 * i) + j, "gateway", [(f"s{j}", rng.uniform(0.5, 3), 2)])
    for i in range(15):  # one call every 4 s: each in its own second
        trees.request(ns(REFERENCE, 20 * i) + 9, "auth", [("code", rng.uniform(0.5, 3.0), 2.0)])
    for step, net_ms in window_calls:
        trees.request(ns(WINDOW, step) + 9, "auth", [("code", net_ms, 2.0)])
    return trees


def test_a_thin_edge_delayed_on_every_call_borrows_the_pooled_tail_rate() -> None:
    """Empirical Bayes: fifteen reference calls cannot estimate a tail rate, so the thin
    edge's rate is shrunk toward the pooled rate of all edges (nothing of 375 calls that far
    out; the edges' tails do not differ), far below its own add-one rate of 1/17; all eight
    delayed calls credit the callee."""
    trees = _thin_edge_trees([(30 * i, 1500.0) for i in range(8)])
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    edge = found.edges.iloc[0]
    assert (edge["p_service"], edge["service"], edge["test"]) == ("auth", "code", "tail")
    assert edge["tail_p0"] < 0.5 * (1 / 17)
    got = {c.component: c.evidence for c in found.credits}
    assert got["code"] >= 8 and got["code"] >= got.get("auth", 0.0)


def test_a_thin_edge_with_one_slow_call_in_a_burst_is_not_credited() -> None:
    """The same thin edge in a burst: twelve calls within two seconds, one of them 1.5 s
    slow. One second of the few with calls holds a slow call: no significant evidence."""
    burst = [(s, 1500.0 if s == 3 else 1.0 + (s % 4) * 0.3) for s in range(12)]  # 2.4 s
    trees = _thin_edge_trees([*burst, (150, 1.2), (250, 1.6)])
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    thin = found.edges[(found.edges["p_service"] == "auth") & (found.edges["service"] == "code")]
    assert len(thin) == 1
    assert thin.iloc[0]["evidence"] < significance.SIGNIFICANT
    assert not [c for c in found.credits if c.component in {"auth", "code"}]
