"""The self-time detector on small span trees: a service whose own code got slower is credited,
not its callers, whose durations rise with it."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from agent.evaluation import evaluate_case
from agent.factory import open_bundle
from scenarios.randomgen import generate_random
from tests.conftest import REPO
from tests.tools.test_traces import Trees
from tools import significance
from tools.models import TimeWindow
from tools.trace_analysis import _joined, analyse, traces
from tools.trace_selftime import onset, self_times
from tools.traces import TracesInput

CHECKOUT = REPO / "scenarios" / "workspaces" / "checkout.json"
CHECKOUT_OVERLAY = REPO / "scenarios" / "overlays" / "checkout.yaml"

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REFERENCE = TimeWindow(start=T0, end=T0 + timedelta(minutes=5))
WINDOW = TimeWindow(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=15))
MS = 1_000_000
_ids = itertools.count(1)


class Chain(Trees):
    """Traces of ``gateway -> api -> worker`` (each call through a client span, 1 ms of network
    each way), with each service's own time in ms drawn around a median."""

    def __init__(self, seed: int = 7) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    def own(self, median_ms: float) -> int:
        return int(median_ms * MS * self.rng.lognormvariate(0.0, 0.2))

    def serve(self, trace, parent, chain, start) -> int:
        """Serve ``chain[0]`` (name, own ms) calling the rest; returns the end time (ns)."""
        (name, own_ms), rest = chain[0], chain[1:]
        sid = self.span(trace, parent, name, "handle", start, 0)
        own = self.own(own_ms)
        at = start + own // 2
        if rest:
            client = self.span(trace, sid, name, "call " + rest[0][0], at, 0, kind="client")
            end = self.serve(trace, client, rest, at + MS)
            self._set(client, at, end + MS)
            at = end + MS
        end = at + own - own // 2
        self._set(sid, start, end)
        return end

    def _set(self, sid: str, start: int, end: int) -> None:
        for row in self.spans:
            if row["span_id"] == sid:
                row["duration_ns"] = end - start
                return

    def traffic(
        self, window: TimeWindow, medians: dict[str, float], count: int = 120, since: float = 0.0
    ) -> None:
        """``count`` requests over ``window``, with ``medians`` from the share ``since`` of the
        window on (before it the normal ones)."""
        base = int(window.start.timestamp() * 1e9)
        step = int(window.seconds * 1e9 / count)
        for i in range(count):
            now = medians if i >= since * count else NORMAL
            chain = [(name, now[name]) for name in ("gateway", "api", "worker")]
            self.serve(f"t{next(_ids)}", "", chain, base + i * step)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.spans)


NORMAL = {"gateway": 5.0, "api": 20.0, "worker": 15.0}


def run(window_medians: dict[str, float], since: float = 0.4) -> dict[str, float]:
    """Self-time credits when the window's medians change ``since`` (share of the window)."""
    chain = Chain()
    chain.traffic(REFERENCE, NORMAL)
    chain.traffic(WINDOW, window_medians, since=since)
    found = analyse(chain.frame(), pd.DataFrame(), WINDOW, [REFERENCE])
    got = [c for c in found.credits if c.detector == "self_time"]
    for credit in got:  # the onset is the change, within a block or two
        change = WINDOW.start + timedelta(seconds=since * WINDOW.seconds)
        assert credit.onset_ns is not None
        assert abs(credit.onset_ns / 1e9 - change.timestamp()) <= 20
        assert credit.figures["shift_ms"] > 20
    return {c.component: c.evidence for c in got}


def test_a_slower_leaf_is_credited_not_its_callers() -> None:
    got = run({**NORMAL, "worker": 15.0 + 35.0})  # a deployment adds 35 ms to the worker
    assert got.get("worker", 0.0) >= significance.SIGNIFICANT
    assert "api" not in got and "gateway" not in got


def test_a_slower_caller_with_unchanged_callees_is_credited_itself() -> None:
    got = run({**NORMAL, "api": 20.0 + 35.0})
    assert got.get("api", 0.0) >= significance.SIGNIFICANT
    assert "worker" not in got and "gateway" not in got


def test_a_shift_over_the_whole_window_is_no_observed_change() -> None:
    # the window may be its own regime (another day, a noisy neighbour): no change point in it
    assert run({**NORMAL, "worker": 50.0}, since=0.0) == {}


def test_no_shift_gives_no_self_time_evidence() -> None:
    assert run(dict(NORMAL)) == {}


def test_a_service_that_got_faster_is_no_latency_evidence() -> None:
    assert run({**NORMAL, "api": 5.0}) == {}


def test_overlapping_calls_are_counted_once_and_clipped_to_the_span() -> None:
    chain = Chain()
    root = chain.span("t", "", "api", "handle", 0, 100 * MS)
    # two parallel calls [10, 50] and [30, 70] ms: 60 ms of calls, not 80
    for start, end in ((10, 50), (30, 70)):
        client = chain.span("t", root, "api", "call", start * MS, (end - start) * MS, kind="client")
        chain.span("t", client, "worker", "handle", (start + 1) * MS, (end - start - 2) * MS)
    # an asynchronous call that outlives the span: only [90, 100] ms is the span's
    client = chain.span("t", root, "api", "call", 90 * MS, 50 * MS, kind="client")
    chain.span("t", client, "worker", "handle", 91 * MS, 48 * MS)
    window = TimeWindow(start=datetime.fromtimestamp(0, tz=UTC), end=T0)
    rows = self_times(_joined(chain.frame(), window, []))
    api = rows[rows["service"] == "api"].iloc[0]
    assert api["self_ns"] == (100 - 60 - 10) * MS


def test_internal_spans_are_the_service_own_time_and_direct_children_are_calls() -> None:
    chain = Chain()
    root = chain.span("t", "", "api", "handle", 0, 100 * MS)
    chain.span("t", root, "api", "Repository.find", 10 * MS, 40 * MS)  # its own code
    # a callee span right under the entry span (a caller that writes no client spans)
    chain.span("t", root, "worker", "handle", 60 * MS, 20 * MS)
    # an internal span with a child in another service is a call (a client span without kind)
    client = chain.span("t", root, "api", "HTTP POST", 85 * MS, 10 * MS)
    chain.span("t", client, "worker", "handle", 86 * MS, 8 * MS)
    window = TimeWindow(start=datetime.fromtimestamp(0, tz=UTC), end=T0)
    rows = self_times(_joined(chain.frame(), window, []))
    assert rows.set_index("service").loc["api", "self_ns"] == 70 * MS
    assert sorted(rows[rows["service"] == "worker"]["self_ns"]) == [8 * MS, 20 * MS]


def test_the_onset_is_the_change_point_of_the_exceedances() -> None:
    slow = [False] * 40 + [True] * 30
    starts = [i * 5_000_000_000 for i in range(70)]  # one span every 5 s
    at, observed = onset(slow, starts, 0.01)
    assert at == 40 and observed
    at, observed = onset([True] * 70, starts, 0.01)
    assert at == 0 and not observed


def test_a_throttled_callee_s_retry_back_off_is_filed_under_the_callee() -> None:
    rng = random.Random(3)
    trees = Trees()
    span = trees.span
    logs: list[dict] = []
    for period, throttled in ((REFERENCE, False), (WINDOW, True)):
        base = int(period.start.timestamp() * 1e9)
        for i in range(100):
            trace, t = f"t{next(_ids)}", base + i * 3_000_000_000
            own = int(10 * MS * rng.lognormvariate(0, 0.2))
            calls = 2 if throttled and i >= 40 and i % 2 == 0 else 1
            length = own + calls * 6 * MS + (150 * MS if calls == 2 else 0)
            root = span(trace, "", "api", "handle", t, length)
            at = t + own // 2
            for attempt in range(calls):
                last = attempt == calls - 1
                client = span(trace, root, "api", "invoke", at, 6 * MS, kind="client", peer="fn")
                if last:  # the retry is served; the throttled first try has no span below
                    span(trace, client, "fn", "handle", at + MS, 4 * MS)
                else:
                    logs.append(
                        {"trace_id": trace, "span_id": root, "event_key": "api#9",
                         "level": "WARN", "t_ns": at + 6 * MS, "message": "fn throttled"}
                    )  # fmt: skip
                    at += 150 * MS
                at += 6 * MS
    found = analyse(pd.DataFrame(trees.spans), pd.DataFrame(logs), WINDOW, [REFERENCE])
    got = [c for c in found.credits if c.detector == "self_time"]
    assert got and {c.component for c in got} == {"fn"}
    assert got[0].edge == ("api", "fn")


@pytest.mark.slow
def test_a_lambda_deployment_adding_35_ms_is_found_from_its_self_time(tmp_path: Path) -> None:
    """Development seed 224 of the checkout workspace: a deployment adds ~35 ms to the Checkout
    API Lambda (+17% Duration, below the metrics detector's floor). The traces tool credits the
    Lambda's self-time with an onset after the deployment, and the investigator ranks it first
    (it ranked the Storefront first before the detector)."""
    bundle = generate_random(CHECKOUT, CHECKOUT_OVERLAY, 224, tmp_path / "checkout-224")
    session = open_bundle(bundle)
    ctx = session.context
    result = traces(ctx, TracesInput())
    found = [e for e in result.evidence if e.kind == "self_time"]
    api = session.architecture.get("Checkout API").id
    assert [e.component for e in found] == [api]
    item = found[0]
    assert item.labels["onset"] == "observed" and item.labels["role"] == "latency"
    assert 20.0 < item.figures["shift_ms"] < 60.0 and item.samples
    changes = [
        rec.eventTime
        for rec in session.require_bundle().cloudtrail_records
        if rec.eventName.startswith("UpdateFunctionCode") and "shop-checkout" in json.dumps(rec.raw)
    ]
    assert changes
    deployed = changes[0]
    assert item.time is not None and timedelta(0) <= item.time - deployed < timedelta(minutes=10)
    case = evaluate_case(bundle)
    assert case.rank == 1, case.ranking
