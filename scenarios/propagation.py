"""How a fault on one component shows up everywhere else: the call-graph model of the random
incident generator (:mod:`scenarios.randomgen`).

A :class:`Topology` is a DAG of :class:`Node` (a deployable, or a managed service or third party
that only its callers observe) and :class:`Edge` (``caller`` calls ``callee`` with probability
``probability`` per request of the caller; a callee error fails the caller with probability
``propagate``, otherwise the caller falls back). A fault (:class:`Fault`) puts an :class:`Effect`
on its own component only; everything else follows from the graph:

- **latency adds along paths**: a node's expected server time is its own time (x ``self_factor``)
  plus, per call, the network round trip, the callee's inbound delay and the callee's server time
  (:func:`expected_latency`), so a delay at a leaf reaches every ancestor, scaled by how often the
  path is taken, and never a sibling;
- **errors propagate up with some probability**: ``1 - (1 - own) * prod(1 - p_call * err_callee *
  propagate)`` (:func:`expected_error`); throttled calls are retried once (a throttle rate ``t``
  costs ``t`` x (backoff + call) of latency and fails with ``t**2``);
- **saturation stays local**: CPU and memory points (:attr:`Effect.cpu_points`,
  :attr:`Effect.memory_points`) exist only on the faulty node; callers wait (latency) but do not
  burn CPU.

:class:`RequestSimulator` draws individual requests from the same effects (span trees and the log
statements inside each span), so metrics, spans and logs agree. Times are in milliseconds.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import networkx as nx
import numpy as np

from scenarios.overlay import INSTRUMENTED, Overlay, OverlayError
from tools.c4 import ArchitectureModel

NET_MS = {"client": 25.0, "external": 18.0}
"""Network round trip (ms) of a call from a client (internet) and to a third party; 1.5 ms
inside the VPC otherwise."""
DEFAULT_PROPAGATE = 0.85
RETRY_BACKOFF_MS = 150.0

FAULT_KINDS: dict[str, str] = {
    "cpu_contention": "CPU starvation of the component (noisy neighbour, runaway thread)",
    "memory_leak": "memory grows until the tasks are OOM-killed and restart",
    "network_delay": "added network delay on every call into the component",
    "exception": "an unhandled exception on a share of the component's requests (logged)",
    "error_return": "the component returns error responses (status 500) without logging anything",
    "deployment": "a deployment of the component introduced a fault (exceptions or slowness)",
    "throttling": "the component (or its capacity limit) rejects a share of calls (429, "
    "ThrottlingException); callers retry once",
}
"""The generator's fault kinds (``ground_truth.fault_kind``); names follow Nezha where shared."""

KINDS_BY_RUNTIME: dict[str, tuple[str, ...]] = {
    "ecs": (
        "cpu_contention",
        "memory_leak",
        "network_delay",
        "exception",
        "error_return",
        "deployment",
    ),
    "lambda": ("exception", "error_return", "deployment", "throttling"),
    "rds": ("cpu_contention", "network_delay"),
    "dynamodb": ("network_delay", "throttling"),
    "external": ("network_delay", "error_return", "throttling"),
    "queue": (),
    "client": (),
}


@dataclass(frozen=True)
class Node:
    """A component of the simulation (see :class:`scenarios.overlay.OverlayComponent`)."""

    name: str
    runtime: str
    slug: str
    self_ms: float
    rpm: float | None = None
    fanout: str = "all"
    instances: int = 3
    logger: str = ""

    @property
    def instrumented(self) -> bool:
        """True when the node writes its own spans, logs and application metrics."""
        return self.runtime in INSTRUMENTED


@dataclass(frozen=True)
class Edge:
    """``caller`` calls ``callee``: per caller request with ``probability`` (``fanout: all``) or
    as the weight of the one callee chosen (``fanout: one``)."""

    caller: str
    callee: str
    probability: float = 1.0
    propagate: float = DEFAULT_PROPAGATE
    net_ms: float = 1.5


class Topology:
    """Nodes and call edges; must be acyclic.

    Raises:
        OverlayError: from the constructor when the edges form a cycle or name unknown nodes.
    """

    def __init__(self, nodes: list[Node], edges: list[Edge]) -> None:
        self.nodes: dict[str, Node] = {n.name: n for n in nodes}
        self.graph: nx.DiGraph = nx.DiGraph()
        self.graph.add_nodes_from(self.nodes)
        self._calls: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        self._callers: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        for edge in sorted(edges, key=lambda e: (e.caller, e.callee)):
            if edge.caller not in self.nodes or edge.callee not in self.nodes:
                raise OverlayError(f"edge {edge.caller} -> {edge.callee}: unknown node")
            self.graph.add_edge(edge.caller, edge.callee)
            self._calls[edge.caller].append(edge)
            self._callers[edge.callee].append(edge)
        if not nx.is_directed_acyclic_graph(self.graph):
            cycle = nx.find_cycle(self.graph)
            raise OverlayError(f"the call graph has a cycle: {cycle}; the simulation needs a DAG")
        self.order: list[str] = list(nx.topological_sort(self.graph))

    @classmethod
    def from_overlay(cls, overlay: Overlay, arch: ArchitectureModel) -> Topology:
        """Nodes from the overlay's components, edges from the workspace relationships between
        them (the overlay's ``edges`` override probability and propagation)."""
        names = {c.element for c in overlay.components}
        shared = {"runtime", "slug", "self_ms", "rpm", "fanout", "instances"}
        nodes = [
            Node(
                name=c.element,
                logger=c.logger or (c.slug.replace("-", "_") + ".handler"),
                **c.model_dump(include=shared),
            )
            for c in overlay.components
        ]
        runtime = {c.element: c.runtime for c in overlay.components}
        override = {(e.caller, e.callee): e for e in overlay.edges}
        edges = []
        for rel in arch.relationships:
            caller, callee = arch.elements[rel.source].name, arch.elements[rel.destination].name
            if caller not in names or callee not in names:
                continue
            net = NET_MS.get(runtime[caller], NET_MS.get(runtime[callee], 1.5))
            edge = Edge(caller, callee, net_ms=net)
            if runtime[caller] == "client":
                edge = replace(edge, propagate=1.0)
            if (caller, callee) in override:
                o = override[(caller, callee)]
                edge = replace(edge, probability=o.probability)
                if o.propagate is not None:
                    edge = replace(edge, propagate=o.propagate)
            edges.append(edge)
        return cls(nodes, edges)

    def calls(self, name: str) -> list[Edge]:
        """Outgoing call edges of ``name`` (sorted by callee)."""
        return self._calls[name]

    def callers(self, name: str) -> list[Edge]:
        """Incoming call edges of ``name`` (sorted by caller)."""
        return self._callers[name]

    @property
    def entries(self) -> list[Node]:
        """Nodes that originate requests (``rpm`` set), in name order."""
        return sorted((n for n in self.nodes.values() if n.rpm), key=lambda n: n.name)

    def call_weights(self, name: str) -> list[tuple[Edge, float]]:
        """Expected calls per request of ``name`` along each outgoing edge."""
        edges = self.calls(name)
        if self.nodes[name].fanout == "one":
            total = sum(e.probability for e in edges) or 1.0
            return [(e, e.probability / total) for e in edges]
        return [(e, e.probability) for e in edges]

    def rates(self, entry_rpm: Mapping[str, float] | None = None) -> dict[str, float]:
        """Requests per minute reaching each node, from the entries' rates (default: nominal)."""
        rpm = {n: 0.0 for n in self.nodes}
        for entry in self.entries:
            rpm[entry.name] += (entry_rpm or {}).get(entry.name, entry.rpm or 0.0)
        for name in self.order:
            for edge, weight in self.call_weights(name):
                rpm[edge.callee] += rpm[name] * weight
        return rpm

    def ancestors(self, name: str) -> set[str]:
        """Every node with a call path to ``name``."""
        return set(nx.ancestors(self.graph, name))

    def candidates(self) -> list[str]:
        """Nodes a fault can be placed on (runtimes with fault kinds), in name order."""
        return sorted(n for n, node in self.nodes.items() if KINDS_BY_RUNTIME[node.runtime])


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Effect:
    """What a fault does to its own component at one moment.

    ``self_factor`` multiplies own processing time; ``inbound_delay_ms`` is added to every call
    into the component (network); ``error_rate`` is the share of its executions that fail with
    status 500 (``error_logged`` False: the error is returned as a response without any log
    statement, so it is no function error for Lambda, but the span status and the service's own
    request metrics show it); ``throttle_rate`` the share of calls rejected with 429 before the
    component runs; ``cpu_points`` and ``memory_points`` add percentage points to its
    utilisation.
    """

    self_factor: float = 1.0
    inbound_delay_ms: float = 0.0
    error_rate: float = 0.0
    error_logged: bool = True
    error_class: str = ""
    throttle_rate: float = 0.0
    cpu_points: float = 0.0
    memory_points: float = 0.0
    restarting: bool = False

    def merge(self, other: Effect) -> Effect:
        """Two faults on one component at once (a neighbouring incident overlapping)."""
        return Effect(
            self_factor=self.self_factor * other.self_factor,
            inbound_delay_ms=self.inbound_delay_ms + other.inbound_delay_ms,
            error_rate=1 - (1 - self.error_rate) * (1 - other.error_rate),
            error_logged=self.error_logged and other.error_logged,
            error_class=self.error_class or other.error_class,
            throttle_rate=max(self.throttle_rate, other.throttle_rate),
            cpu_points=self.cpu_points + other.cpu_points,
            memory_points=self.memory_points + other.memory_points,
            restarting=self.restarting or other.restarting,
        )


NONE = Effect()


@dataclass(frozen=True)
class Fault:
    """A fault on ``component`` of ``kind`` from ``start`` (UTC) to ``end`` (None: open).

    ``params``: ``factor`` (self-time multiplier), ``delay_ms``, ``rate`` (error or throttle
    share), ``cpu_points``, ``ramp_min`` (minutes to full strength; for ``memory_leak`` the time
    until the first OOM kill), ``mode`` (``deployment``: ``exception`` or ``latency``),
    ``error_class`` (the logged exception), ``memory_base`` (percent).
    """

    kind: str
    component: str
    start: datetime
    end: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def progress(self, when: datetime) -> float:
        """0..1 strength at ``when`` (linear ramp over ``ramp_min``; 0 outside the fault)."""
        if when < self.start or (self.end is not None and when >= self.end):
            return 0.0
        ramp = float(self.params.get("ramp_min", 0.0))
        minutes = (when - self.start).total_seconds() / 60.0
        return 1.0 if ramp <= 0 else min(1.0, (minutes + 0.5) / (ramp + 0.5))

    def effect(self, when: datetime) -> Effect:
        """The effect on :attr:`component` at ``when`` (:data:`NONE` when inactive)."""
        p = self.progress(when)
        if p <= 0:
            return NONE
        k, prm = self.kind, self.params
        rate = float(prm.get("rate", 0.0))
        factor = float(prm.get("factor", 1.0))
        if k == "cpu_contention":
            return Effect(self_factor=1 + (factor - 1) * p, cpu_points=float(prm["cpu_points"]) * p)
        if k == "memory_leak":
            base = float(prm.get("memory_base", 50.0))
            if p < 1.0:
                return Effect(memory_points=(97.0 - base) * p, self_factor=1 + 0.4 * p)
            return Effect(
                memory_points=97.0 - base,
                self_factor=1.8,
                error_rate=rate,
                error_class="java.lang.OutOfMemoryError: Java heap space",
                restarting=True,
            )
        if k == "network_delay":
            return Effect(inbound_delay_ms=float(prm["delay_ms"]) * p)
        if k == "exception" or (k == "deployment" and prm.get("mode") == "exception"):
            return Effect(error_rate=rate * p, error_class=str(prm["error_class"]))
        if k == "deployment":
            return Effect(self_factor=1 + (factor - 1) * p, cpu_points=6.0 * p)
        if k == "error_return":
            return Effect(error_rate=rate * p, error_logged=False)
        if k == "throttling":
            return Effect(throttle_rate=rate * p)
        raise ValueError(f"unknown fault kind {k!r}; known: {', '.join(FAULT_KINDS)}")


def effects_at(faults: list[Fault], when: datetime) -> dict[str, Effect]:
    """Effect per component at ``when`` (components without an active fault are absent)."""
    out: dict[str, Effect] = {}
    for fault in faults:
        effect = fault.effect(when)
        if effect is NONE:
            continue
        current = out.get(fault.component)
        out[fault.component] = effect if current is None else current.merge(effect)
    return out


# ------------------------------------------------------------------- expected values


def _call_ms(
    topo: Topology, effects: Mapping[str, Effect], edge: Edge, memo: dict[str, float]
) -> float:
    callee = effects.get(edge.callee, NONE)
    once = edge.net_ms + callee.inbound_delay_ms + _latency(topo, effects, edge.callee, memo)
    return once + callee.throttle_rate * (RETRY_BACKOFF_MS + once)


def _latency(
    topo: Topology, effects: Mapping[str, Effect], name: str, memo: dict[str, float]
) -> float:
    if name not in memo:
        own = topo.nodes[name].self_ms * effects.get(name, NONE).self_factor
        memo[name] = own + sum(
            w * _call_ms(topo, effects, e, memo) for e, w in topo.call_weights(name)
        )
    return memo[name]


def expected_call_error(topo: Topology, effects: Mapping[str, Effect], edge: Edge) -> float:
    """Share (0..1) of calls along ``edge`` that fail as the caller sees them: the callee's
    errors, or a throttle on both attempts (the caller retries once)."""
    return _failed(topo, effects, edge, {})


def expected_entry_error(topo: Topology, effects: Mapping[str, Effect], name: str) -> float:
    """Share (0..1) of the jobs of an entry ``name`` (a function its event source invokes)
    that fail: its errors, or an invocation throttled twice (the source retries once)."""
    throttle = effects.get(name, NONE).throttle_rate
    return 1 - (1 - expected_error(topo, effects, name)) * (1 - throttle**2)


def expected_latency(topo: Topology, effects: Mapping[str, Effect], name: str) -> float:
    """Mean server-side duration (ms) of a request handled by ``name``, including its calls."""
    return _latency(topo, effects, name, {})


def expected_call_latency(topo: Topology, effects: Mapping[str, Effect], edge: Edge) -> float:
    """Mean duration (ms) of one call along ``edge`` as the caller sees it (client span)."""
    return _call_ms(topo, effects, edge, {})


def _failed(
    topo: Topology, effects: Mapping[str, Effect], edge: Edge, memo: dict[str, float]
) -> float:
    callee = effects.get(edge.callee, NONE)
    err = _error(topo, effects, edge.callee, memo)
    return 1 - (1 - err) * (1 - callee.throttle_rate**2)


def _error(
    topo: Topology, effects: Mapping[str, Effect], name: str, memo: dict[str, float]
) -> float:
    if name not in memo:
        own = effects.get(name, NONE).error_rate
        weights = topo.call_weights(name)
        if topo.nodes[name].fanout == "one":
            passed = 1 - sum(w * _failed(topo, effects, e, memo) * e.propagate for e, w in weights)
        else:
            passed = math.prod(
                1 - w * _failed(topo, effects, e, memo) * e.propagate for e, w in weights
            )
        memo[name] = 1 - (1 - own) * passed
    return memo[name]


def expected_error(topo: Topology, effects: Mapping[str, Effect], name: str) -> float:
    """Share (0..1) of requests handled by ``name`` that fail, its own errors and propagated
    ones (a silent wrong result counts: the caller fails on it)."""
    return _error(topo, effects, name, {})


def function_error(topo: Topology, effects: Mapping[str, Effect], name: str) -> float:
    """Share (0..1) of requests that end in an error the runtime counts as a function error
    (``AWS/Lambda`` ``Errors``: an unhandled exception or a failed call it raises):
    :func:`expected_error` without the component's own error responses returned without a log
    statement (a handler that returns ``{"statusCode": 500}`` has not failed for Lambda; its span
    status and the service's own request metrics still count it)."""
    total = _error(topo, effects, name, {})
    eff = effects.get(name, NONE)
    if eff.error_logged or eff.error_rate <= 0:
        return total
    return 1 - (1 - total) / max(1e-9, 1 - eff.error_rate)


# ------------------------------------------------------------------- request simulation


def stable_line(slug: str, statement: str) -> int:
    """A fixed source line number for one log statement of a component (event keys are
    ``logger#line`` and must not change between incidents of one workspace)."""
    return 20 + zlib.crc32(f"{slug}/{statement}".encode()) % 480


@dataclass
class SpanRow:
    """One span (a row of ``spans.csv``); times in ms from the epoch, float; ``peer_service``
    the component a client span calls (empty on server spans)."""

    trace_id: str
    span_id: str
    parent_id: str
    service: str
    instance: str
    operation: str
    kind: str
    start_ms: float
    duration_ms: float
    status_code: int
    peer_service: str = ""


@dataclass
class LogLine:
    """One log statement executed inside a span (``statement`` is its stable name)."""

    component: str
    instance: str
    at_ms: float
    level: str
    statement: str
    text: str
    trace_id: str
    span_id: str


Instances = Callable[[str, np.random.Generator], str]


@dataclass
class _Request:
    """One request in flight: its trace id, the effects in force, and what it has produced."""

    trace: str
    effects: Mapping[str, Effect]
    spans: list[SpanRow] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)


@dataclass(frozen=True)
class _Where:
    """The span a log statement runs in: component, instance and span id."""

    name: str
    instance: str
    span: str


class RequestSimulator:
    """Draws one request at a time through the topology under given effects.

    ``instance_of(node, rng)`` picks the instance (pod/task) that serves a span. Every span gets
    an 8-byte hex id; a trace a 16-byte hex id.
    """

    def __init__(self, topo: Topology, rng: np.random.Generator, instance_of: Instances) -> None:
        self.topo = topo
        self.rng = rng
        self.instance_of = instance_of
        self.nominal = {n: expected_latency(topo, {}, n) for n in topo.nodes}
        self._pool: list[int] = []

    def _id(self, n: int) -> str:
        """``n`` (8 or 16) random bytes as hex, drawn from ``rng`` in blocks (fast)."""
        if len(self._pool) < 2:
            self._pool = self.rng.integers(0, 2**63, size=4096, dtype=np.int64).tolist()[::-1]
        value = self._pool.pop()
        if n > 8:
            value = (value << 64) | self._pool.pop()
        return f"{value:0{2 * n}x}"

    def request(
        self, entry: str, start_ms: float, effects: Mapping[str, Effect]
    ) -> tuple[list[SpanRow], list[LogLine], bool]:
        """Spans and log lines of one request originated by ``entry``; True when it succeeded."""
        req = _Request(self._id(16), effects)
        throttle = effects.get(entry, NONE).throttle_rate
        if throttle and self.topo.nodes[entry].runtime != "client":
            # the invocation by the event source is throttled before the function runs (no
            # span, no log); the source retries once after a back-off, as a caller does
            for attempt in range(2):
                if self.rng.random() >= throttle:
                    break
                if attempt == 1:
                    return [], [], False
                start_ms += self._lognormal(RETRY_BACKOFF_MS, 0.2)
        ok, _end, _status = self._serve(req, entry, "", start_ms)
        return req.spans, req.logs, ok

    def _lognormal(self, median: float, sigma: float) -> float:
        return float(median * math.exp(sigma * self.rng.standard_normal()))

    def _serve(
        self, req: _Request, name: str, parent: str, start: float
    ) -> tuple[bool, float, int]:
        """Serve one request at ``name``; returns (succeeded as the caller sees it, end ms,
        status the server reports)."""
        node, eff, rng = self.topo.nodes[name], req.effects.get(name, NONE), self.rng
        own_ms = self._lognormal(node.self_ms * eff.self_factor, 0.3)
        if not node.instrumented:  # managed service / third party: only the caller's span
            if rng.random() < eff.throttle_rate:
                return False, start + min(own_ms, 5.0), 429
            if rng.random() < eff.error_rate:
                return False, start + own_ms, 500
            return True, start + own_ms, 200
        here = _Where(name, self.instance_of(name, rng), self._id(8))
        op = f"{'GET' if node.runtime == 'client' else 'POST'} /{node.slug}"
        cursor = start + own_ms / 2
        failing = rng.random() < eff.error_rate
        fail_after = int(rng.integers(0, len(self.topo.calls(name)) + 1)) if failing else -1
        status, ok = 200, True
        if node.runtime != "client" and rng.random() < 0.6:
            self._log(req, here, start + 0.2, "INFO", "received", f"Handling {op}")
        chosen = self._choose_calls(name)
        # a client's span is its one call (RUM records the request with the API it calls)
        peer = chosen[0].callee if node.runtime == "client" and len(chosen) == 1 else ""
        for i, edge in enumerate(chosen):
            if i == fail_after:
                break
            cursor, call_ok, call_status = self._call(req, edge, here, cursor)
            if call_ok:
                continue
            callee = self.topo.nodes[edge.callee]
            reason = f" ({throttle_error(callee.runtime)})" if 400 <= call_status < 500 else ""
            if rng.random() < edge.propagate:
                status, ok = 500, False
                text = f"Call to {callee.name} failed with status {call_status}{reason}"
                self._log(req, here, cursor, "ERROR", f"call-failed:{edge.callee}", text)
                break
            text = (
                f"{callee.name} unavailable (status {call_status}{reason}); "
                "continuing with cached data"
            )
            self._log(req, here, cursor, "WARN", f"fallback:{edge.callee}", text)
        if failing and ok:
            ok, status = False, 500
            if eff.error_logged:
                text = f"Unhandled exception in {op}: {eff.error_class}"
                self._log(req, here, cursor, "ERROR", "unhandled", text)
            # else an error response returned early without any log statement
        end = cursor + own_ms / 2
        if ok:
            took = end - start
            if took > 6 * self.nominal[name] + 200:
                self._log(req, here, end, "WARN", "slow", f"Slow request {op} took {took:.0f} ms")
            text = f"Completed {op} status={status} in {took:.0f} ms"
            self._log(req, here, end, "INFO", "completed", text)
        kind = "client" if node.runtime == "client" else "server"
        req.spans.append(
            SpanRow(
                req.trace,
                here.span,
                parent,
                name,
                here.instance,
                op,
                kind,
                start,
                end - start,
                status,
                peer,
            )
        )
        return ok, end, status

    def _choose_calls(self, name: str) -> list[Edge]:
        edges = self.topo.calls(name)
        if not edges:
            return []
        if self.topo.nodes[name].fanout == "one":
            return [edges[pick_weighted([e.probability for e in edges], self.rng.random())]]
        return [e for e in edges if self.rng.random() < e.probability]

    def _call(
        self, req: _Request, edge: Edge, caller: _Where, start: float
    ) -> tuple[float, bool, int]:
        """One call along ``edge`` from the span ``caller`` (a client span naming the callee in
        ``peer_service``, retried once when throttled); returns (end ms, ok, status: a throttled
        call's is :func:`throttle_status`). A client node's calls are its own root span."""
        from_client = self.topo.nodes[edge.caller].runtime == "client"
        callee = self.topo.nodes[edge.callee]
        callee_eff = req.effects.get(edge.callee, NONE)
        cursor = start
        for attempt in range(2):
            span_id = caller.span if from_client else self._id(8)
            one_way = self._lognormal(edge.net_ms / 2, 0.25) + callee_eff.inbound_delay_ms / 2
            if callee.instrumented and self.rng.random() < callee_eff.throttle_rate:
                ok, server_end, status = False, cursor + one_way + 2.0, 429
            else:
                ok, server_end, status = self._serve(req, edge.callee, span_id, cursor + one_way)
            end = server_end + one_way
            throttled = status == 429
            if throttled:
                status = throttle_status(callee.runtime)
            if not from_client:
                req.spans.append(
                    SpanRow(
                        req.trace,
                        span_id,
                        caller.span,
                        edge.caller,
                        caller.instance,
                        f"call {callee.slug}",
                        "client",
                        cursor,
                        end - cursor,
                        status,
                        callee.name,
                    )
                )
            cursor = end
            if not throttled or attempt == 1:
                break
            backoff = self._lognormal(RETRY_BACKOFF_MS, 0.2)
            text = (
                f"{callee.name} throttled the request ({throttle_error(callee.runtime)}); "
                f"retrying in {backoff:.0f} ms"
            )
            self._log(req, caller, cursor, "WARN", f"throttled:{edge.callee}", text)
            cursor += backoff
        return cursor, ok, status

    def _log(
        self, req: _Request, where: _Where, at: float, level: str, statement: str, text: str
    ) -> None:
        if self.topo.nodes[where.name].runtime in ("ecs", "lambda"):
            req.logs.append(
                LogLine(
                    where.name, where.instance, at, level, statement, text, req.trace, where.span
                )
            )


def throttle_status(runtime: str) -> int:
    """The HTTP status of a throttled call to a component of ``runtime``: 400 for DynamoDB
    (``ProvisionedThroughputExceededException``), 429 otherwise (Lambda
    ``TooManyRequestsException``, an HTTP API's Too Many Requests)."""
    return 400 if runtime == "dynamodb" else 429


def throttle_error(runtime: str) -> str:
    """The error a caller's SDK reports when a component of ``runtime`` throttles a call:
    Lambda ``Invoke`` answers 429 ``TooManyRequestsException``, DynamoDB 400
    ``ProvisionedThroughputExceededException``, a third-party HTTP API 429 Too Many Requests
    (AWS API references of ``Invoke`` and ``GetItem``/``PutItem``)."""
    if runtime == "lambda":
        return "TooManyRequestsException: Rate Exceeded."
    if runtime == "dynamodb":
        return (
            "ProvisionedThroughputExceededException: The level of configured provisioned "
            "throughput for the table was exceeded"
        )
    return "429 Too Many Requests"


def pick_weighted(weights: list[float], u: float) -> int:
    """Index drawn with probability proportional to ``weights``, given a uniform ``u`` in [0, 1)."""
    target, total = u * sum(weights), 0.0
    for i, w in enumerate(weights):
        total += w
        if target < total:
            return i
    return len(weights) - 1
