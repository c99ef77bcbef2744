"""A caller's reaction to a failed call is evidence against the callee (spans without status
codes): :class:`tools.trace_analysis._FailedCalls` on small span trees."""

from __future__ import annotations

import pandas as pd

from tests.tools.test_traces import MS, REFERENCE, WINDOW, Trees, credits
from tools import significance
from tools.models import TimeWindow
from tools.trace_analysis import analyse, reaction_targets


class Spans(Trees):
    """:class:`tests.tools.test_traces.Trees` whose spans take durations in ms and whose log
    records carry their text (as the bundle backend gives them)."""

    def span(  # type: ignore[override]
        self,
        trace: str,
        parent: str,
        service: str,
        op: str,
        at: int,
        ms: float,
        *,
        kind: str = "server",
        peer: str = "",
    ) -> str:
        return super().span(trace, parent, service, op, at, int(ms * MS), kind=kind, peer=peer)

    def log(  # type: ignore[override]
        self, trace: str, span: str, key: str, level: str, at: int, text: str
    ) -> None:
        super().log(trace, span, key, level, at)
        self.logs[-1]["message"] = f"2026-01-01T12:00:00Z {level} 1 --- : {text}"

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.DataFrame(self.spans), pd.DataFrame(self.logs)


def start(window: TimeWindow, i: int) -> int:
    return int(window.start.timestamp() * 1e9) + i * 500 * MS


def _call_peer(
    trees: Spans, trace: str, root: str, caller: str, peer: str, at: int, throttled: bool
) -> int:
    """One call from ``caller`` into ``peer`` (a third party: no spans of its own); a throttled
    call is rejected fast, the caller logs a WARN and retries once. Returns the end time."""
    if throttled:
        trees.span(trace, root, caller, f"call {peer}", at, 3.0, kind="client", peer=peer)
        at += 3 * MS
        trees.log(
            trace, root, f"{caller}#40", "WARN", at, "upstream rejected the request; retrying"
        )
        at += 50 * MS
    trees.span(trace, root, caller, f"call {peer}", at, 60.0, kind="client", peer=peer)
    return at + 60 * MS


def test_a_third_party_that_throttles_without_status_codes_is_credited_over_its_callers() -> None:
    """Two callers of a third party that rejects a third of the calls in the window: each
    writes a retry WARN between the rejected call and its retry. No status codes, no spans from
    the third party, and the WARN does not name it: the retry alone implicates the callee."""
    trees = Spans()
    for period in (REFERENCE, WINDOW):
        for i in range(60):
            for caller in ("facade", "mailer"):
                trace, at = f"{caller}-{period.start.minute}-{i}", start(period, i)
                root = trees.span(trace, "", caller, "handle", at, 200.0)
                trees.log(trace, root, f"{caller}#10", "INFO", at + MS, "Handling request")
                end = _call_peer(
                    trees,
                    trace,
                    root,
                    caller,
                    "api",
                    at + 2 * MS,
                    throttled=period is WINDOW and i % 3 == 0,
                )
                trees.log(trace, root, f"{caller}#90", "INFO", end + MS, "Completed")
    got = credits(trees)
    assert got.get("api", 0.0) >= significance.SIGNIFICANT
    assert "facade" not in got and "mailer" not in got


def _orders_after_payments(key: str, text: str) -> dict[str, float]:
    """``orders`` calls ``payments`` (which writes spans; no status codes); in the window half
    of its spans write the ERROR ``text`` right after the call returns and stop there."""
    trees = Spans()
    for period in (REFERENCE, WINDOW):
        for i in range(60):
            trace, at = f"{key}-{period.start.minute}-{i}", start(period, i)
            root = trees.span(trace, "", "orders", "handle", at, 40.0)
            client = trees.span(trace, root, "orders", "call", at + MS, 10.0, kind="client")
            trees.span(trace, client, "payments", "charge", at + 2 * MS, 8.0)
            failing = period is WINDOW and i % 2 == 0
            trees.log(
                trace,
                root,
                key if failing else "orders#90",
                "ERROR" if failing else "INFO",
                at + 12 * MS,
                text if failing else "Completed",
            )
    return credits(trees)


def test_a_single_caller_naming_the_failed_callee_credits_the_callee() -> None:
    """One caller; the callee returns errors silently; the caller's ERROR names it."""
    got = _orders_after_payments("orders#55", "Call to payments failed: internal error")
    assert got.get("payments", 0.0) >= significance.SIGNIFICANT
    assert got.get("orders", 0.0) < got["payments"]


def test_a_caller_whose_own_bug_writes_the_error_is_credited_itself() -> None:
    """The caller throws right after its call returned normally: its ERROR (about its own
    code) follows the call but neither names the callee nor precedes a retry."""
    got = _orders_after_payments(
        "orders#31", "Unhandled exception in POST /orders: NullPointerException"
    )
    assert got.get("orders", 0.0) >= significance.SIGNIFICANT
    assert "payments" not in got


def test_a_throttled_lambda_entry_point_is_credited_from_its_unserved_calls() -> None:
    """A client (RUM) records one span per request naming the API it calls; the function
    writes a span when it runs. Throttled invocations never run: the client's span has no
    span of the function below it. No status codes."""
    trees = Spans()
    for period in (REFERENCE, WINDOW):
        for i in range(60):
            trace, at = f"u-{period.start.minute}-{i}", start(period, i)
            root = trees.span(trace, "", "web", "GET /", at, 30.0, kind="client", peer="checkout")
            if period is WINDOW and i % 4 == 0:
                continue  # throttled twice: no span of the function
            api = trees.span(trace, root, "checkout", "POST /checkout", at + MS, 25.0)
            trees.span(trace, api, "checkout", "call", at + 2 * MS, 5.0, kind="client", peer="db")
    got = credits(trees)
    assert got.get("checkout", 0.0) >= significance.SIGNIFICANT
    assert "web" not in got and "db" not in got


def _slow_then_warn_trees(callee_delay: dict[str, float]) -> Spans:
    """``front`` calls ``b`` then ``c`` (both write spans) and, when its request was slow,
    writes a WARN at its end; ``callee_delay`` adds ms to calls into b and/or c in the
    window."""
    trees = Spans()
    for period in (REFERENCE, WINDOW):
        for i in range(60):
            trace, at = f"w-{period.start.minute}-{i}", start(period, i)
            root = trees.span(trace, "", "front", "handle", at, 300.0)
            cursor = at + MS
            for callee in ("b", "c"):
                extra = callee_delay.get(callee, 0.0) if period is WINDOW else 0.0
                ms = 5.0 + (i % 5) * 0.2 + extra
                client = trees.span(trace, root, "front", "call", cursor, ms, kind="client")
                trees.span(trace, client, callee, "serve", cursor + MS // 2, 4.0)
                cursor += int(ms * MS) + MS
            if period is WINDOW:
                trees.log(trace, root, "front#61", "WARN", cursor, "Slow request took long")
    return trees


def _slow_then_warn(callee_delay: dict[str, float]) -> dict[str, str]:
    spans, logs = _slow_then_warn_trees(callee_delay).frames()
    found = analyse(spans, logs, WINDOW, [REFERENCE])
    # who the new WARN statement is credited to
    return {
        c.component: c.attribution
        for c in found.credits
        if c.detector == "span_behaviour" and c.evidence >= significance.SIGNIFICANT
    }


def test_a_slow_request_warning_after_a_slow_call_credits_the_callee() -> None:
    assert list(_slow_then_warn({"c": 200.0})) == ["c"]


def test_a_caller_slow_in_every_call_keeps_its_slow_request_warning() -> None:
    """Every call of the caller is slow (its own CPU starvation, as spans show it): the
    warning is not moved to the last service it called."""
    assert list(_slow_then_warn({"b": 200.0, "c": 200.0})) == ["front"]


def test_the_logs_tool_learns_which_statements_react_to_a_callee() -> None:
    """reaction_targets: (service, event key) -> the callee its records react to."""
    for delay, expected in (({"c": 200.0}, {("front", "front#61"): "c"}), ({}, {})):
        spans, logs = _slow_then_warn_trees(delay).frames()
        assert reaction_targets(spans, logs, WINDOW, [REFERENCE]) == expected
