"""The random incident generator: a workspace, an overlay and a seed -> an incident bundle (v2).

Where :mod:`scenarios.generator` replays nine hand-written scenarios (a regression test of the
change path), this generator draws incidents to *measure* an investigator: from the seed alone
(:func:`plan_incident`) it draws the fault kind (uniform over
:data:`scenarios.propagation.FAULT_KINDS`), its place (uniform over the components whose runtime
admits that kind), its severity and timing; everything observable then follows from the call
graph (:mod:`scenarios.propagation`): latency adds along call paths, errors propagate upward with
a per-edge probability, CPU and memory saturation stay on the faulty component.

Only ``deployment`` faults have a causal CloudTrail change (about one incident in seven); most
incidents have routine deployments of *other* components in the six-hour lookback, sometimes
minutes before the onset. Real-data artefacts: ``SuccessRate`` series that are identically 0 on
one or two services (flagged in ``broken_series``, as an importer flags known-broken series),
a low-traffic task on some ECS services whose per-instance p99 is noisy and spikes to tens of
seconds before and during the incident, a neighbouring incident on another component one to
five hours before the alert (half of the incidents), spans without status codes in half of the
incidents (as in Nezha), chronic WARN and ERROR log statements, a daily traffic shape with
AR(1) noise.

The bundle holds (times UTC): metrics per minute from 6 h before the window; logs and spans for
the default baseline (one window length before the window), the window, and one historical
reference window; CloudTrail from 6.5 h before the window. ``incident.yaml`` gives the alert time
(first two-minute breach of an endpoint alarm on the noise-free model: error share up 2 points
or mean latency up 50%, plus one to three minutes of evaluation delay; a customer ticket 8-20 min
after the onset when no alarm breaches), a window 20-35 min before to 10-20 min after the alert, an
``adjacent`` reference window ending a 10-minute guard before the alert and a ``historical`` one
in the lookback that avoids the neighbouring incident, the ground truth (component, fault kind),
and in ``source`` the seed, onset and sampling rate. Nothing about the truth is written where
the tools read (``source`` is provenance; the tools never read it).

Spans are sampled per trace (rate in ``source.spans_sampling_rate``, at most about 20k spans per
bundle); every request's log lines carry its trace and span ids, sampled or not, and a stable
``logger#line`` event key.

Run ``rca bundle generate-random --workspace W --overlay O --seed-start S --count N --out DIR``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.overlay import Overlay, OverlayError, apply_overlay, load_overlay
from scenarios.propagation import (
    FAULT_KINDS,
    KINDS_BY_RUNTIME,
    RETRY_BACKOFF_MS,
    Effect,
    Fault,
    LogLine,
    RequestSimulator,
    SpanRow,
    Topology,
    effects_at,
    expected_call_error,
    expected_call_latency,
    expected_entry_error,
    expected_error,
    expected_latency,
    function_error,
    pick_weighted,
    stable_line,
)
from scenarios.rand import HEX, chars, rng_for, uuid4
from scenarios.spec import (
    METRICS_LEAD_MIN,
    TRAIL_LEAD_MIN,
    Actor,
    BackgroundSpec,
    ChangeSpec,
    FaultSpec,
    ScenarioSpec,
)
from scenarios.trail import TrailBuilder
from tools.bundle import (
    SPAN_COLUMNS,
    BundleWriter,
    GroundTruth,
    IncidentSpec,
    LogRecord,
    MetricPoint,
    ReferenceWindow,
    iso_ms,
)
from tools.c4 import ArchitectureModel
from tools.errors import RcaError, WorkspaceError
from tools.models import TimeWindow, iso

GENERATOR = "scenarios.randomgen/1"
GUARD_MIN = 10
REFERENCE_MIN = 30
MAX_SPANS = 20_000
_JAVA_ERRORS = (
    'java.lang.NullPointerException: Cannot invoke "String.length()" because "value" is null',
    "java.lang.IllegalStateException: unexpected state CLOSED",
    "java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3",
    "java.lang.ClassCastException: class java.lang.Long cannot be cast to class java.lang.Integer",
    'java.lang.NumberFormatException: For input string: ""',
)
_PY_ERRORS = (
    "KeyError: 'currency'",
    "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'",
    "ValueError: invalid literal for int() with base 10: ''",
    "AttributeError: 'NoneType' object has no attribute 'get'",
)


class RandomGenError(RcaError):
    """The workspace, overlay or output directory cannot be used (the message says why)."""


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """Everything drawn from the seed for one incident (UTC times)."""

    seed: int
    fault: Fault
    neighbour: Fault | None
    alert: datetime
    window: TimeWindow
    adjacent: TimeWindow
    historical: TimeWindow
    symptom: str
    causal_change: ChangeSpec | None
    routine_changes: list[ChangeSpec]
    broken: list[str]
    low_traffic: dict[str, bool]
    base_cpu: dict[str, float]
    base_mem: dict[str, float]
    status_codes: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def faults(self) -> list[Fault]:
        return [f for f in (self.fault, self.neighbour) if f is not None]

    @property
    def metrics_start(self) -> datetime:
        return self.window.start - timedelta(minutes=METRICS_LEAD_MIN)

    @property
    def window_min(self) -> int:
        return int(self.window.seconds // 60)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _params(kind: str, runtime: str, rng: np.random.Generator, base_mem: float) -> dict[str, Any]:
    errors = _PY_ERRORS if runtime == "lambda" else _JAVA_ERRORS
    if kind == "cpu_contention":
        return {
            "factor": _log_uniform(rng, 2.5, 8.0),
            "cpu_points": _uniform(rng, 45, 80),
            "ramp_min": _uniform(rng, 0, 2),
        }
    if kind == "memory_leak":
        return {
            "ramp_min": _uniform(rng, 6, 15),
            "rate": _uniform(rng, 0.1, 0.35),
            "memory_base": base_mem,
        }
    if kind == "network_delay":
        return {"delay_ms": _log_uniform(rng, 60, 800)}
    if kind in ("exception", "error_return", "throttling"):
        out: dict[str, Any] = {"rate": _uniform(rng, 0.15, 0.75), "ramp_min": _uniform(rng, 0, 2)}
        if kind == "exception":
            out["error_class"] = errors[int(rng.integers(len(errors)))]
        return out
    if kind == "deployment":
        if rng.random() < 0.5:
            return {
                "mode": "exception",
                "rate": _uniform(rng, 0.2, 0.8),
                "error_class": errors[int(rng.integers(len(errors)))],
                "ramp_min": _uniform(rng, 0, 3),
            }
        return {
            "mode": "latency",
            "factor": _log_uniform(rng, 2.5, 6.0),
            "ramp_min": _uniform(rng, 0, 3),
        }
    raise ValueError(f"unknown fault kind {kind!r}")


def _endpoint_view(
    topo: Topology, effects: dict[str, Effect]
) -> dict[tuple[str, str], tuple[float, float]]:
    """(error share, mean latency ms) per endpoint an alarm watches: each first hop of a client
    that sends every request to one callee (an API route), else the entry as a whole; keyed by
    (entry, endpoint)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for entry in topo.entries:
        if entry.fanout == "one":
            for edge in topo.calls(entry.name):
                err = expected_call_error(topo, effects, edge)
                out[(entry.name, edge.callee)] = (err, expected_call_latency(topo, effects, edge))
        else:
            throttle = effects.get(entry.name, Effect()).throttle_rate
            lat = expected_latency(topo, effects, entry.name)
            out[(entry.name, entry.name)] = (
                expected_entry_error(topo, effects, entry.name),
                lat + throttle * (RETRY_BACKOFF_MS + lat),
            )
    return out


def _alert_after(
    topo: Topology, faults: list[Fault], onset: datetime, rng: np.random.Generator
) -> tuple[datetime | None, str, str]:
    """First minute after ``onset`` when an endpoint alarm breaches for two minutes (noise-free
    model): error share up by >= 2 points, or mean latency up by >= 50%; returns (minute, entry,
    ``errors`` or ``slow``). Without a breach in an hour: (None, entry, the larger change).
    Endpoints breaching in the same minute are taken in an order drawn from ``rng``."""
    nominal = _endpoint_view(topo, {})
    keys = list(nominal)
    keys = [keys[int(i)] for i in rng.permutation(len(keys))]
    streak: dict[tuple[str, str, str], int] = {}
    biggest: tuple[float, str, str] = (-1.0, topo.entries[0].name, "errors")
    for minute in range(0, 60):
        when = onset + timedelta(minutes=minute, seconds=30)
        view = _endpoint_view(topo, effects_at(faults, when))
        for entry, endpoint in keys:
            (err, lat), (err0, lat0) = view[(entry, endpoint)], nominal[(entry, endpoint)]
            for how, change, limit in (("errors", err - err0, 0.02), ("slow", lat / lat0 - 1, 0.5)):
                key = (entry, endpoint, how)
                streak[key] = streak.get(key, 0) + 1 if change >= limit else 0
                if streak[key] >= 2:
                    return onset + timedelta(minutes=minute), entry, how
                if change / limit > biggest[0]:
                    biggest = (change / limit, entry, how)
    return None, biggest[1], biggest[2]


def _deploy_change(
    topo: Topology, overlay: Overlay, name: str, at_min: float, rng: np.random.Generator
) -> ChangeSpec:
    node = topo.nodes[name]
    actor = Actor(
        role="cicd-deployer",
        session=f"deploy-{node.slug}-{int(rng.integers(1000, 9999))}",
        via="sdk",
    )
    if node.runtime == "lambda":
        return ChangeSpec(
            event="UpdateFunctionCode20150331v2",
            at_min=at_min,
            account="app",
            actor=actor,
            params={"function": node.slug},
        )
    return ChangeSpec(
        event="UpdateService",
        at_min=at_min,
        account="app",
        actor=actor,
        params={
            "cluster": overlay.cluster,
            "service": node.slug,
            "task_definition": f"{node.slug}:{int(rng.integers(20, 400))}",
        },
    )


def _symptom(topo: Topology, entry: str, how: str, alert: datetime) -> str:
    node = topo.nodes[entry]
    at = f"{alert:%H:%M} UTC"
    if node.runtime == "client":
        if how == "errors":
            return f"Customers using the {entry} get errors since about {at}"
        return f"The {entry} is very slow for customers since about {at}"
    if how == "errors":
        return f"{entry} jobs are failing since about {at}"
    return f"{entry} jobs are slow and backing up since about {at}"


def plan_incident(topo: Topology, overlay: Overlay, seed: int) -> Plan:
    """Draw one incident from ``seed`` (pure: the same seed gives the same plan).

    Raises:
        RandomGenError: the topology has no component a fault can be placed on.
    """
    rng = rng_for(seed, "plan", overlay.system)
    candidates = topo.candidates()
    kinds = sorted({k for c in candidates for k in KINDS_BY_RUNTIME[topo.nodes[c].runtime]})
    if not kinds:
        raise RandomGenError(f"overlay {overlay.system!r}: no component admits any fault kind")
    kind = kinds[int(rng.integers(len(kinds)))]
    places = [c for c in candidates if kind in KINDS_BY_RUNTIME[topo.nodes[c].runtime]]
    root = places[int(rng.integers(len(places)))]
    names = sorted(topo.nodes)
    base_cpu = {n: _uniform(rng, 8, 35) for n in names}
    base_mem = {n: _uniform(rng, 35, 60) for n in names}
    day = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 320)))
    onset = day + timedelta(
        minutes=int(rng.integers(7 * 60, 23 * 60)), seconds=int(rng.integers(0, 60))
    )
    fault = Fault(
        kind, root, onset, None, _params(kind, topo.nodes[root].runtime, rng, base_mem[root])
    )
    alert_min, entry, how = _alert_after(topo, [fault], onset, rng)
    if alert_min is None:  # no alarm breaches: a customer ticket some minutes later
        alert = onset + timedelta(minutes=_uniform(rng, 8, 20))
    else:
        alert = alert_min + timedelta(minutes=_uniform(rng, 1, 3))
    alert = alert.replace(second=0, microsecond=0)
    pre, post = int(rng.integers(20, 36)), int(rng.integers(10, 21))
    window = TimeWindow(start=alert - timedelta(minutes=pre), end=alert + timedelta(minutes=post))
    adjacent_end = alert - timedelta(minutes=GUARD_MIN)
    adjacent = TimeWindow(start=adjacent_end - timedelta(minutes=REFERENCE_MIN), end=adjacent_end)

    neighbour = None
    others = [c for c in candidates if c != root]
    if others and rng.random() < 0.5:
        place = others[int(rng.integers(len(others)))]
        options = [
            k
            for k in KINDS_BY_RUNTIME[topo.nodes[place].runtime]
            if k not in ("deployment", "memory_leak")
        ]
        if options:
            nkind = options[int(rng.integers(len(options)))]
            start = alert - timedelta(minutes=_uniform(rng, 60, 300))
            neighbour = Fault(
                nkind,
                place,
                start,
                start + timedelta(minutes=_uniform(rng, 4, 15)),
                _params(nkind, topo.nodes[place].runtime, rng, base_mem[place]),
            )
    metrics_start = window.start - timedelta(minutes=METRICS_LEAD_MIN)
    hist_start = metrics_start + timedelta(minutes=10)
    if neighbour is not None:
        while hist_start < neighbour.end + timedelta(minutes=15) and (  # type: ignore[operator]
            hist_start + timedelta(minutes=REFERENCE_MIN) > neighbour.start - timedelta(minutes=15)
        ):
            hist_start += timedelta(minutes=10)
    historical = TimeWindow(start=hist_start, end=hist_start + timedelta(minutes=REFERENCE_MIN))

    onset_from_window = (onset - window.start).total_seconds() / 60
    first = -(onset_from_window + TRAIL_LEAD_MIN) + 1
    last = window.seconds / 60 - onset_from_window - 1
    deployable = [n for n in names if topo.nodes[n].runtime in ("ecs", "lambda")]
    causal = None
    if kind == "deployment":
        causal = _deploy_change(topo, overlay, root, -_uniform(rng, 0.5, 8), rng)
    routine: list[ChangeSpec] = []
    pool = [n for n in deployable if n != root]
    for i in range(int(rng.poisson(1.2)) if pool else 0):
        near = i == 0 and rng.random() < 0.35
        at = _uniform(rng, -20, 5) if near else _uniform(rng, first, last)
        routine.append(_deploy_change(topo, overlay, pool[int(rng.integers(len(pool)))], at, rng))

    instrumented = [n for n in names if topo.nodes[n].runtime in ("ecs", "lambda")]
    n_broken = int(rng.integers(0, 3))
    picks: list[int] = (
        rng.permutation(len(instrumented))[:n_broken].tolist() if instrumented else []
    )
    broken = [
        f"{overlay.namespace}/SuccessRate[Service={topo.nodes[instrumented[int(i)]].slug}]"
        for i in picks
    ]
    low_traffic = {n: topo.nodes[n].runtime == "ecs" and rng.random() < 0.6 for n in names}
    detail = f"{FAULT_KINDS[kind]} on {root}"
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fault.params.items()}
    return Plan(
        seed=seed,
        fault=fault,
        neighbour=neighbour,
        alert=alert,
        window=window,
        adjacent=adjacent,
        historical=historical,
        symptom=_symptom(topo, entry, how, alert),
        causal_change=causal,
        routine_changes=routine,
        broken=sorted(broken),
        low_traffic=low_traffic,
        base_cpu=base_cpu,
        base_mem=base_mem,
        status_codes=bool(rng.random() < 0.5),
        detail=f"{detail} ({', '.join(f'{k}={v}' for k, v in sorted(shown.items()))})",
    )


# --------------------------------------------------------------------------- telemetry


class _Instances:
    """Instances (tasks, execution environments) of each node and how traffic splits over them."""

    def __init__(self, topo: Topology, plan: Plan) -> None:
        rng = rng_for(plan.seed, "instances")
        self.ids: dict[str, list[str]] = {}
        self.share: dict[str, np.ndarray] = {}
        for name, node in sorted(topo.nodes.items()):
            if node.runtime == "ecs":
                ids = [f"{node.slug}-{chars(rng, HEX, 10)}" for _ in range(node.instances)]
            elif node.runtime == "lambda":
                ids = [f"{node.slug}:{chars(rng, HEX, 8)}" for _ in range(node.instances)]
            else:
                ids = [node.slug]
            weights = np.ones(len(ids))
            if plan.low_traffic.get(name):
                ids.append(f"{node.slug}-{chars(rng, HEX, 10)}")
                weights = np.append(weights * (0.97 / weights.sum()), 0.03)
            self.ids[name] = ids
            self.share[name] = weights / weights.sum()

    def pick(self, name: str, rng: np.random.Generator) -> str:
        ids = self.ids[name]
        if len(ids) == 1:
            return ids[0]
        return ids[pick_weighted(self.share[name].tolist(), rng.random())]


def _traffic(topo: Topology, plan: Plan, times: list[datetime]) -> dict[str, np.ndarray]:
    """Requests per minute originated by each entry: daily cosine shape with AR(1) noise."""
    out = {}
    for entry in topo.entries:
        rng = rng_for(plan.seed, "traffic", entry.name)
        hours = np.array([t.hour + t.minute / 60 for t in times])
        shape = 1 + 0.3 * np.cos(2 * np.pi * (hours - 17) / 24)
        noise = np.zeros(len(times))
        for i in range(1, len(times)):
            noise[i] = 0.6 * noise[i - 1] + rng.normal(0, 0.04)
        out[entry.name] = float(entry.rpm or 0) * shape * np.clip(1 + noise, 0.2, None)
    return out


def _point(
    t: datetime, ns: str, metric: str, dims: dict[str, str], value: float, unit: str
) -> MetricPoint:
    return MetricPoint.model_construct(
        timestamp=t,
        namespace=ns,
        metric=metric,
        dimensions=dims,
        value=round(float(value), 4),
        unit=unit,
    )


def _metrics(topo: Topology, overlay: Overlay, plan: Plan, inst: _Instances) -> list[MetricPoint]:
    """Every series of every component, one datapoint per minute (noise on the model's values)."""
    start = plan.metrics_start
    times = [start + timedelta(minutes=i) for i in range(METRICS_LEAD_MIN + plan.window_min)]
    entry_rpm = _traffic(topo, plan, times)
    nominal_rates = topo.rates()
    rng = rng_for(plan.seed, "metrics")
    ns = overlay.namespace
    points: list[MetricPoint] = []

    def jitter(sigma: float) -> float:
        return math.exp(rng.normal(0, sigma))

    for i, t in enumerate(times):
        effects = effects_at(plan.faults, t + timedelta(seconds=30))
        rates = topo.rates({k: v[i] for k, v in entry_rpm.items()})

        def add(space: str, metric: str, dims: dict[str, str], value: float, unit: str) -> None:
            points.append(_point(t, space, metric, dims, value, unit))  # noqa: B023 - used now

        for name in sorted(topo.nodes):
            node, eff = topo.nodes[name], effects.get(name, Effect())
            slug, rpm = node.slug, rates[name]
            load = rpm / (nominal_rates[name] or 1.0)
            lat = expected_latency(topo, effects, name)
            err = min(1.0, expected_error(topo, effects, name))
            own_ms = node.self_ms * eff.self_factor
            # requests the component served: a throttled Lambda invocation never ran (the
            # caller retries once, so rpm * (1 - t^2) of the requests run)
            served = 1 - eff.throttle_rate**2 if node.runtime == "lambda" else 1.0
            reqs = int(rng.poisson(rpm * served))
            errs = int(rng.binomial(reqs, err)) if reqs else 0
            if node.instrumented:
                dims = {"Service": slug}
                add(ns, "Requests", dims, reqs, "Count")
                add(ns, "Errors", dims, errs, "Count")
                add(ns, "LatencyP50", dims, lat * 0.85 * jitter(0.05), "Milliseconds")
                add(ns, "LatencyP99", dims, lat * 2.4 * jitter(0.12), "Milliseconds")
                broken = f"{ns}/SuccessRate[Service={slug}]" in plan.broken
                rate = 0.0 if broken else (100.0 * (1 - errs / reqs) if reqs else 100.0)
                add(ns, "SuccessRate", dims, rate, "Percent")
            if node.runtime == "ecs":
                for iid, share in zip(inst.ids[name], inst.share[name], strict=True):
                    k = int(rng.poisson(rpm * share))
                    if k == 0:
                        continue  # no requests on this task this minute: no datapoint
                    p99 = lat * 2.4 * jitter(0.12 if share > 0.1 else 0.9) * (1 + 2 / math.sqrt(k))
                    if share < 0.1 and rng.random() < 0.04:
                        p99 *= _log_uniform(rng, 30, 300)  # percentile artefact of a near-idle task
                    add(ns, "Requests", {"Service": slug, "Instance": iid}, k, "Count")
                    add(ns, "LatencyP99", {"Service": slug, "Instance": iid}, p99, "Milliseconds")
                dims = {"ClusterName": overlay.cluster, "ServiceName": slug}
                cpu = plan.base_cpu[name] * (0.7 + 0.3 * load) + rng.normal(0, 1.5) + eff.cpu_points
                mem = plan.base_mem[name] + rng.normal(0, 0.8) + eff.memory_points
                add("AWS/ECS", "CPUUtilization", dims, float(np.clip(cpu, 0, 100)), "Percent")
                add("AWS/ECS", "MemoryUtilization", dims, float(np.clip(mem, 0, 100)), "Percent")
            elif node.runtime == "lambda":
                dims = {"FunctionName": slug}
                conc = rpm / 60 * lat / 1000 * jitter(0.1)
                # a throttled invocation is no invocation (AWS/Lambda metrics reference)
                add("AWS/Lambda", "Invocations", dims, reqs, "Count")
                fn_err = min(1.0, function_error(topo, effects, name))
                fn_errs = int(rng.binomial(reqs, fn_err)) if reqs else 0
                add("AWS/Lambda", "Errors", dims, fn_errs, "Count")
                add("AWS/Lambda", "Duration", dims, lat * jitter(0.06), "Milliseconds")
                # every attempt counts, the retry of a throttled one too
                throttle = eff.throttle_rate
                throttles = int(rng.poisson(rpm * throttle * (1 + throttle)))
                add("AWS/Lambda", "Throttles", dims, throttles, "Count")
                add("AWS/Lambda", "ConcurrentExecutions", dims, round(conc, 2), "Count")
            elif node.runtime == "rds":
                dims = {"DBInstanceIdentifier": slug}
                cpu = plan.base_cpu[name] * (0.6 + 0.4 * load) + rng.normal(0, 1.5) + eff.cpu_points
                free = (100 - plan.base_mem[name]) * 1.6e8 * jitter(0.01)
                add("AWS/RDS", "CPUUtilization", dims, float(np.clip(cpu, 0, 100)), "Percent")
                add("AWS/RDS", "ReadLatency", dims, own_ms / 1000 * jitter(0.1), "Seconds")
                add("AWS/RDS", "DatabaseConnections", dims, round(24 + rng.normal(0, 1.5)), "Count")
                add("AWS/RDS", "FreeableMemory", dims, free, "Bytes")
            elif node.runtime == "dynamodb":
                dims = {"TableName": slug}
                throttled = int(rng.poisson(rpm * eff.throttle_rate))
                add(
                    "AWS/DynamoDB",
                    "SuccessfulRequestLatency",
                    dims,
                    own_ms * jitter(0.08),
                    "Milliseconds",
                )
                add("AWS/DynamoDB", "ThrottledRequests", dims, throttled, "Count")
                add(
                    "AWS/DynamoDB",
                    "ConsumedReadCapacityUnits",
                    dims,
                    int(rng.poisson(rpm * 2)),
                    "Count",
                )
            elif node.runtime == "queue":
                dims = {"QueueName": slug}
                add("AWS/SQS", "NumberOfMessagesSent", dims, reqs, "Count")
                add(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    dims,
                    abs(rng.normal(4, 1.5)),
                    "Seconds",
                )
            elif node.runtime == "external":
                dims = {"CanaryName": slug}
                # a canary makes one attempt per run: a throttled call fails it
                fail = rng.random() < 1 - (1 - eff.error_rate) * (1 - eff.throttle_rate)
                took = (own_ms + eff.inbound_delay_ms + 30) * jitter(0.1)
                add(
                    "CloudWatchSynthetics",
                    "SuccessPercent",
                    dims,
                    0.0 if fail else 100.0,
                    "Percent",
                )
                add("CloudWatchSynthetics", "Duration", dims, took, "Milliseconds")
    return points


def _request_ranges(plan: Plan) -> list[TimeWindow]:
    logs_from = plan.window.start - timedelta(seconds=plan.window.seconds)
    ranges = [TimeWindow(start=logs_from, end=plan.window.end)]
    if plan.historical.end <= logs_from:
        ranges.insert(0, plan.historical)
    return ranges


def _simulate_requests(
    topo: Topology, plan: Plan, inst: _Instances
) -> tuple[list[SpanRow], list[LogLine], float]:
    """Spans of sampled traces and the log lines of every request; returns the sampling rate."""
    ranges = _request_ranges(plan)
    rng = rng_for(plan.seed, "requests")
    minutes = sum(int(r.seconds // 60) for r in ranges)
    spans_per_request = max(
        1.0, sum(len(topo.calls(n)) * 2 + 1 for n in topo.nodes) / max(1, len(topo.entries))
    )
    total_rpm = sum(float(e.rpm or 0) for e in topo.entries)
    sampling = min(1.0, MAX_SPANS / max(1.0, minutes * total_rpm * spans_per_request))
    sim = RequestSimulator(topo, rng, inst.pick)
    spans: list[SpanRow] = []
    logs: list[LogLine] = []
    for window in ranges:
        times = [window.start + timedelta(minutes=i) for i in range(int(window.seconds // 60))]
        traffic = _traffic(topo, plan, times)
        for i, minute in enumerate(times):
            effects = effects_at(plan.faults, minute + timedelta(seconds=30))
            base_ms = minute.timestamp() * 1000
            for entry in topo.entries:
                count = int(rng.poisson(traffic[entry.name][i]))
                for offset in np.sort(rng.uniform(0, 60_000, count)):
                    req_spans, req_logs, _ok = sim.request(
                        entry.name, base_ms + float(offset), effects
                    )
                    if rng.random() < sampling:
                        spans += req_spans
                    logs += req_logs
    return spans, logs, sampling


def _span_frame(spans: list[SpanRow], status_codes: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "trace_id": [s.trace_id for s in spans],
            "span_id": [s.span_id for s in spans],
            "parent_id": [s.parent_id for s in spans],
            "service": [s.service for s in spans],
            "instance": [s.instance for s in spans],
            "operation": [s.operation for s in spans],
            "kind": [s.kind for s in spans],
            "start_ns": [round(s.start_ms * 1e6) for s in spans],
            "duration_ns": [round(s.duration_ms * 1e6) for s in spans],
            "status_code": [str(s.status_code) if status_codes else "" for s in spans],
            "peer_service": [s.peer_service for s in spans],
        },
        columns=[*SPAN_COLUMNS, "peer_service"],
    )
    return frame


def _format(node_runtime: str, logger: str, level: str, when: datetime, text: str, rid: str) -> str:
    if node_runtime == "lambda":
        lvl = {"WARN": "WARNING"}.get(level, level)
        return f"[{lvl}]\t{iso_ms(when)}\t{rid}\t{text}"
    short = ".".join(p[0] for p in logger.split(".")[:-1]) + "." + logger.split(".")[-1]
    thread = f"nio-8080-exec-{int(rid[:2], 16) % 200 + 1}"
    return f"{iso_ms(when)} {level:>5} 1 --- [{thread}] {short:<40} : {text}"


def _log_records(
    topo: Topology, plan: Plan, lines: list[LogLine], inst: _Instances
) -> dict[str, list[LogRecord]]:
    out: dict[str, list[LogRecord]] = {}

    def group_of(name: str) -> str:
        node = topo.nodes[name]
        return f"/ecs/{node.slug}" if node.runtime == "ecs" else f"/aws/lambda/{node.slug}"

    def stream_of(name: str, instance: str) -> str:
        node = topo.nodes[name]
        suffix = instance.replace(":", "-").split("-")[-1]
        if node.runtime == "ecs":
            return f"ecs/{node.slug}/{suffix}"
        return f"{plan.window.start:%Y/%m/%d}/[$LATEST]{suffix}"

    for line in lines:
        node = topo.nodes[line.component]
        when = datetime.fromtimestamp(line.at_ms / 1000, tz=UTC)
        out.setdefault(group_of(line.component), []).append(
            LogRecord.model_construct(
                timestamp=when,
                message=_format(
                    node.runtime, node.logger, line.level, when, line.text, line.span_id
                ),
                stream=stream_of(line.component, line.instance),
                trace_id=line.trace_id,
                span_id=line.span_id,
                event_key=f"{node.logger}#{stable_line(node.slug, line.statement)}",
            )
        )
    # chronic statements of background threads (no span), in every range with logs
    for name in sorted(topo.nodes):
        node = topo.nodes[name]
        if node.runtime not in ("ecs", "lambda"):
            continue
        rng = rng_for(plan.seed, "chronic", name)
        chronic = [
            (
                "WARN",
                "pool-stats",
                "HikariPool-1 - Thread starvation or clock leap detected",
                _uniform(rng, 0.05, 1.0),
            )
        ]
        if rng.random() < 0.4:
            chronic.append(
                (
                    "ERROR",
                    "flags",
                    "Failed to refresh feature flags: Read timed out",
                    _uniform(rng, 0.05, 0.4),
                )
            )
        for window in _request_ranges(plan):
            minutes = window.seconds / 60
            for level, statement, text, per_min in chronic:
                count = int(rng.poisson(per_min * minutes))
                for offset in np.sort(rng.uniform(0, window.seconds, count)):
                    when = window.start + timedelta(seconds=float(offset))
                    rid = chars(rng, HEX, 16)
                    ids = inst.ids[name]
                    instance = ids[int(rng.integers(len(ids)))]
                    out.setdefault(group_of(name), []).append(
                        LogRecord.model_construct(
                            timestamp=when,
                            message=_format(node.runtime, node.logger, level, when, text, rid),
                            stream=stream_of(name, instance),
                            event_key=f"{node.logger}#{stable_line(node.slug, statement)}",
                        )
                    )
    return out


def _trail(topo: Topology, overlay: Overlay, plan: Plan) -> tuple[list[dict[str, Any]], str | None]:
    names = sorted(topo.nodes)
    groups = [f"/ecs/{topo.nodes[n].slug}" for n in names if topo.nodes[n].runtime == "ecs"]
    groups += [
        f"/aws/lambda/{topo.nodes[n].slug}" for n in names if topo.nodes[n].runtime == "lambda"
    ]
    roles = [f"{topo.nodes[n].slug}-task-role" for n in names if topo.nodes[n].runtime == "ecs"]
    roles += [
        f"{topo.nodes[n].slug}-execution-role" for n in names if topo.nodes[n].runtime == "lambda"
    ]
    acct, region = overlay.account, overlay.region
    background = BackgroundSpec(
        reads_per_hour=30,
        writes_per_hour=6,
        account="app",
        log_groups=groups,
        functions=[f"{overlay.system}-ops-{x}" for x in ("log-shipper", "cost-report", "tag-sync")],
        instances=[f"i-0{chars(rng_for(plan.seed, 'ec2', str(i)), HEX, 16)}" for i in range(3)],
        roles=roles or ["ops-automation-role"],
        secrets=[
            f"arn:aws:secretsmanager:{region}:{acct}:secret:{overlay.system}/app-config-AbCdEf"
        ],
        kms_keys=[f"arn:aws:kms:{region}:{acct}:key/{uuid4(rng_for(plan.seed, 'kms'))}"],
        operators=["alice.meyer", "bo.chen", "carla.santos"],
    )
    spec = ScenarioSpec.model_construct(
        seed=plan.seed,
        region=region,
        accounts={"app": acct},
        background=background,
        window_start=plan.window.start,
        window_min=plan.window_min,
        fault=FaultSpec.model_construct(
            onset_min=(plan.fault.start - plan.window.start).total_seconds() / 60
        ),
    )
    trail = TrailBuilder(spec)
    records = []
    causal_id = None
    if plan.causal_change is not None:
        record = trail.change(plan.causal_change)
        causal_id = str(record["eventID"])
        records.append(record)
    records += [trail.change(c) for c in plan.routine_changes]
    records += trail.background()
    return records, causal_id


# --------------------------------------------------------------------------- bundles


def load_inputs(
    workspace: Path | str, overlay_path: Path | str
) -> tuple[dict[str, Any], Overlay, ArchitectureModel, Topology]:
    """The overlaid workspace JSON, the overlay, its architecture model and call topology.

    Raises:
        RandomGenError: the workspace or overlay is missing or invalid, or they do not fit.
    """
    path = Path(workspace)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RandomGenError(f"{path}: cannot read the workspace JSON ({exc})") from exc
    try:
        overlay = load_overlay(overlay_path)
        overlaid = apply_overlay(raw, overlay)
        with tempfile.TemporaryDirectory() as tmp:
            ws_path = Path(tmp) / "workspace.json"
            ws_path.write_text(json.dumps(overlaid), encoding="utf-8")
            arch = ArchitectureModel.load(ws_path)
        topo = Topology.from_overlay(overlay, arch)
    except (OverlayError, WorkspaceError) as exc:
        raise RandomGenError(str(exc)) from exc
    if not topo.entries:
        raise RandomGenError(f"overlay {overlay.system!r}: no entry point (a component with rpm)")
    return overlaid, overlay, arch, topo


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "incident.yaml").is_file()):
            raise RandomGenError(
                f"{out}: exists and is not an incident bundle; refusing to replace it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def generate_random(
    workspace: Path | str, overlay_path: Path | str, seed: int, out_dir: Path | str
) -> Path:
    """Write the bundle of the incident drawn from ``seed`` to ``out_dir`` (replacing a bundle
    already there); returns ``out_dir``. Byte-identical for the same inputs.

    Raises:
        RandomGenError: bad workspace/overlay, or ``out_dir`` holds something else.
    """
    overlaid, overlay, arch, topo = load_inputs(workspace, overlay_path)
    names = (Path(workspace).name, Path(overlay_path).name)
    return _generate(overlaid, overlay, arch, topo, seed, Path(out_dir), names)


def _generate(
    overlaid: dict[str, Any],
    overlay: Overlay,
    arch: ArchitectureModel,
    topo: Topology,
    seed: int,
    out: Path,
    names: tuple[str, str],
) -> Path:
    overlay_name = names[1]
    plan = plan_incident(topo, overlay, seed)
    inst = _Instances(topo, plan)
    _prepare(out)
    writer = BundleWriter(out, gzip_files=True)
    writer.add_metrics(_metrics(topo, overlay, plan, inst))
    spans, lines, sampling = _simulate_requests(topo, plan, inst)
    writer.add_spans(_span_frame(spans, plan.status_codes))
    for group, log_records in sorted(_log_records(topo, plan, lines, inst).items()):
        writer.add_logs(group, log_records)
    trail, causal_id = _trail(topo, overlay, plan)
    for record in trail:
        writer.add_cloudtrail(record)
    source: dict[str, Any] = {
        "generator": GENERATOR,
        "seed": seed,
        "system": overlay.system,
        "workspace": names[0],
        "overlay": overlay_name,
        "fault_onset": iso(plan.fault.start),
        "spans_sampling_rate": round(sampling, 4),
        "span_status_codes": plan.status_codes,
        "routine_changes": len(plan.routine_changes),
    }
    if causal_id:
        source["causal_event_id"] = causal_id
    if plan.neighbour is not None:
        source["neighbour"] = {
            "component": plan.neighbour.component,
            "kind": plan.neighbour.kind,
            "start": iso(plan.neighbour.start),
        }
    incident = IncidentSpec(
        bundle_version=2,
        id=f"{overlay.system}-{seed}",
        title=f"Generated incident {seed} on {overlay.system}",
        description=plan.symptom,
        window=plan.window,
        alert_time=plan.alert,
        reference_windows=[
            ReferenceWindow(
                start=plan.adjacent.start,
                end=plan.adjacent.end,
                provenance="adjacent",
                note=f"{REFERENCE_MIN} min ending a {GUARD_MIN}-minute guard before the alert",
            ),
            ReferenceWindow(
                start=plan.historical.start,
                end=plan.historical.end,
                provenance="historical",
                note="a lookback period without alarms",
            ),
        ],
        broken_series=plan.broken,
        ground_truth=GroundTruth(
            component=plan.fault.component, fault_kind=plan.fault.kind, detail=plan.detail
        ),
        source=source,
    )
    arch.get(plan.fault.component)  # the truth is an element of the workspace
    return writer.write(incident, overlaid)


def generate_set(
    workspace: Path | str,
    overlay_path: Path | str,
    seed_start: int,
    count: int,
    out_root: Path | str,
) -> list[Path]:
    """Generate ``count`` incidents from seeds ``seed_start .. seed_start + count - 1`` into
    ``out_root/<system>-<seed>``.

    Raises:
        RandomGenError: see :func:`generate_random`; ``count`` < 1 or a negative seed.
    """
    if count < 1 or seed_start < 0:
        raise RandomGenError("--count must be >= 1 and --seed-start >= 0")
    overlaid, overlay, arch, topo = load_inputs(workspace, overlay_path)
    root = Path(out_root)
    return [
        _generate(
            overlaid,
            overlay,
            arch,
            topo,
            seed,
            root / f"{overlay.system}-{seed}",
            (Path(workspace).name, Path(overlay_path).name),
        )
        for seed in range(seed_start, seed_start + count)
    ]


def constant_ranking(topo: Topology) -> list[str]:
    """The constant baseline: candidate components by degree in the call graph (most central
    first; ties by name). It ignores the incident entirely."""
    cands = topo.candidates()
    return sorted(cands, key=lambda n: (-topo.graph.degree(n), n))


def seed_range(label: str, width: int = 10**6) -> int:
    """A seed start derived from a label (e.g. a date) by CRC32, for seed ranges chosen before
    looking at any result."""
    import zlib

    return zlib.crc32(label.encode()) % (2**31 - width)


__all__: Sequence[str] = (
    "Plan",
    "RandomGenError",
    "constant_ranking",
    "generate_random",
    "generate_set",
    "load_inputs",
    "plan_incident",
    "seed_range",
)
