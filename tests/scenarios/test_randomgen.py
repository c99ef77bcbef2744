"""The random incident generator: reproducible from a seed, faults propagate along the call graph
as documented, spans and logs are linked, most incidents have no causal change."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from scenarios.overlay import OverlayError, apply_overlay, load_overlay
from scenarios.propagation import (
    Edge,
    Effect,
    Fault,
    Node,
    RequestSimulator,
    Topology,
    effects_at,
    expected_error,
    expected_latency,
    function_error,
)
from scenarios.randomgen import (
    GUARD_MIN,
    RandomGenError,
    _Instances,
    _metrics,
    generate_random,
    load_inputs,
    plan_incident,
)
from tests.conftest import REPO, load_benchmark, shared
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel

CHECKOUT = REPO / "scenarios" / "workspaces" / "checkout.json"
CHECKOUT_OVERLAY = REPO / "scenarios" / "overlays" / "checkout.yaml"
BIG_BANK_OVERLAY = REPO / "scenarios" / "overlays" / "big-bank-plc.yaml"
SEED = 7  # a development seed


def chain() -> Topology:
    """client -> api -> svc -> db, and api -> mailer -> smtp (optional, weakly propagating)."""
    nodes = [
        Node("client", "client", "client", 1.0, rpm=60, fanout="one"),
        Node("api", "ecs", "api", 10.0),
        Node("svc", "ecs", "svc", 8.0),
        Node("db", "rds", "db", 3.0),
        Node("mailer", "ecs", "mailer", 5.0),
        Node("smtp", "external", "smtp", 40.0),
    ]
    edges = [
        Edge("client", "api", propagate=1.0, net_ms=25.0),
        Edge("api", "svc", propagate=0.8),
        Edge("svc", "db", propagate=0.9),
        Edge("api", "mailer", probability=0.5, propagate=0.2),
        Edge("mailer", "smtp", propagate=1.0, net_ms=18.0),
    ]
    return Topology(nodes, edges)


def test_latency_adds_along_call_paths() -> None:
    topo = chain()
    base = {n: expected_latency(topo, {}, n) for n in topo.nodes}
    delayed = {
        n: expected_latency(topo, {"db": Effect(inbound_delay_ms=300)}, n) for n in topo.nodes
    }
    assert delayed["svc"] - base["svc"] == pytest.approx(300)
    assert delayed["api"] - base["api"] == pytest.approx(300)
    assert delayed["client"] - base["client"] == pytest.approx(300)
    assert delayed["mailer"] == base["mailer"]  # a sibling path does not slow down
    assert delayed["db"] == base["db"]  # network delay: the server time of the callee is unchanged
    # a delay on an optional call counts by how often the path is taken
    on_smtp = {
        n: expected_latency(topo, {"smtp": Effect(inbound_delay_ms=200)}, n) for n in topo.nodes
    }
    assert on_smtp["mailer"] - base["mailer"] == pytest.approx(200)
    assert on_smtp["api"] - base["api"] == pytest.approx(100)
    # two slow components on one path add up
    both = expected_latency(
        topo, {"db": Effect(inbound_delay_ms=300), "svc": Effect(self_factor=3)}, "api"
    )
    assert both - base["api"] == pytest.approx(300 + 2 * 8.0)


def test_errors_propagate_upward_with_probability() -> None:
    topo = chain()
    effects = {"smtp": Effect(error_rate=0.5, error_logged=False)}
    err = {n: expected_error(topo, effects, n) for n in topo.nodes}
    assert err["mailer"] == pytest.approx(0.5)
    assert err["api"] == pytest.approx(0.5 * 0.5 * 0.2)  # half the requests, 20% propagate
    assert err["client"] == pytest.approx(err["api"])
    assert err["svc"] == 0 and err["db"] == 0  # never downward or sideways
    # an error response returned without a log statement is no function error of its own
    # component (Lambda counts unhandled errors only), but its callers' failures are
    silent = {"mailer": Effect(error_rate=0.4, error_logged=False)}
    assert function_error(topo, silent, "mailer") == pytest.approx(0)
    assert expected_error(topo, silent, "mailer") == pytest.approx(0.4)
    assert function_error(topo, silent, "api") == pytest.approx(0.5 * 0.4 * 0.2)
    # the simulation draws the same shares
    rng = np.random.default_rng(1)
    sim = RequestSimulator(topo, rng, lambda name, r: name)
    outcomes = [sim.request("client", i * 10.0, effects)[2] for i in range(6000)]
    assert 1 - np.mean(outcomes) == pytest.approx(err["client"], abs=0.015)


def test_throttling_is_retried_once() -> None:
    topo = chain()
    err = expected_error(topo, {"db": Effect(throttle_rate=0.5)}, "svc")
    assert err == pytest.approx(0.25 * 0.9)  # fails only when the retry is throttled too
    slow = expected_latency(topo, {"db": Effect(throttle_rate=0.5)}, "svc")
    assert slow > expected_latency(topo, {}, "svc")


def _metrics_of_first(kind: str, runtime: str) -> tuple[Topology, Any, Any, list]:
    """(topology, overlay, plan, metric points) of the first development seed of the checkout
    workspace whose fault is ``kind`` on a component of ``runtime`` (no neighbouring
    incident)."""
    _ws, overlay, _arch, topo = load_inputs(CHECKOUT, CHECKOUT_OVERLAY)
    plan = next(
        p
        for p in (plan_incident(topo, overlay, s) for s in range(300))
        if p.fault.kind == kind and topo.nodes[p.fault.component].runtime == runtime
    )
    plan.neighbour = None
    return topo, overlay, plan, _metrics(topo, overlay, plan, _Instances(topo, plan))


def test_saturation_stays_local() -> None:
    topo, _overlay, plan, points = _metrics_of_first("cpu_contention", "ecs")
    onset = plan.fault.start + timedelta(minutes=3)
    cpu: dict[str, tuple[list[float], list[float]]] = {}
    for p in points:
        if p.metric == "CPUUtilization" and p.namespace == "AWS/ECS":
            before, after = cpu.setdefault(p.dimensions["ServiceName"], ([], []))
            (after if p.timestamp >= onset else before).append(p.value)
    root = topo.nodes[plan.fault.component].slug
    for slug, (before, after) in cpu.items():
        shift = float(np.median(after) - np.median(before))
        if slug == root:
            assert shift > 30
        else:
            assert abs(shift) < 4, slug
    # callers of the root get slower though (latency propagates, saturation does not)
    callers = [e.caller for e in topo.callers(plan.fault.component)]
    effects = effects_at(plan.faults, onset)
    assert all(expected_latency(topo, effects, c) > expected_latency(topo, {}, c) for c in callers)


def test_plan_is_reproducible_and_varies_with_the_seed() -> None:
    _ws, overlay, _arch, topo = load_inputs(CHECKOUT, CHECKOUT_OVERLAY)
    assert plan_incident(topo, overlay, SEED) == plan_incident(topo, overlay, SEED)
    plans = [plan_incident(topo, overlay, s) for s in range(60)]
    kinds = Counter(p.fault.kind for p in plans)
    places = Counter(p.fault.component for p in plans)
    assert len(kinds) >= 6 and len(places) >= 6
    onsets = {p.fault.start.hour for p in plans}
    assert len(onsets) >= 8
    for p in plans:
        assert p.window.start < p.alert < p.window.end
        assert p.fault.start <= p.alert
        assert p.adjacent.end == p.alert - timedelta(minutes=GUARD_MIN)
        if p.neighbour is not None:
            assert p.neighbour.component != p.fault.component
            assert p.neighbour.end is not None and p.neighbour.end < p.alert
            assert p.historical.end <= p.neighbour.start or p.historical.start >= p.neighbour.end


def test_most_incidents_have_no_causal_change() -> None:
    _ws, overlay, _arch, topo = load_inputs(CHECKOUT, CHECKOUT_OVERLAY)
    plans = [plan_incident(topo, overlay, s) for s in range(80)]
    causal = [p for p in plans if p.causal_change is not None]
    assert len(causal) / len(plans) < 0.3
    for p in causal:
        assert p.fault.kind == "deployment" and p.causal_change.at_min < 0
        assert topo.nodes[p.fault.component].slug in json.dumps(p.causal_change.params)
    # innocent deployments happen too, some of them close to the onset
    routine = [c for p in plans for c in p.routine_changes]
    assert len(routine) > 40
    assert any(-20 <= c.at_min <= 5 for c in routine)
    for p in plans:
        for c in p.routine_changes:
            assert topo.nodes[p.fault.component].slug not in json.dumps(c.params)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_random(CHECKOUT, CHECKOUT_OVERLAY, SEED, tmp_path_factory.mktemp("gen") / "b")


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            out[str(path.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def test_generation_is_byte_identical(bundle_dir: Path, tmp_path: Path) -> None:
    again = generate_random(CHECKOUT, CHECKOUT_OVERLAY, SEED, tmp_path / "again")
    assert _digest(bundle_dir) == _digest(again)
    other = generate_random(CHECKOUT, CHECKOUT_OVERLAY, SEED + 1, tmp_path / "other")
    assert _digest(other)["incident.yaml"] != _digest(bundle_dir)["incident.yaml"]


def test_bundle_v2_fields_and_ground_truth(bundle_dir: Path) -> None:
    bundle = Bundle(bundle_dir)
    bundle.validate()
    inc = bundle.incident
    assert inc.bundle_version == 2 and inc.ground_truth is not None and inc.alert_time
    assert inc.window.contains(inc.alert_time)
    assert {r.provenance for r in inc.reference_windows} == {"adjacent", "historical"}
    arch = ArchitectureModel.load(bundle.workspace_path)
    truth = arch.get(inc.ground_truth.component)
    assert not arch.telemetry(truth.id).empty
    assert arch.resolve(inc.description)  # the symptom names an element
    # flagged broken series are identically 0; unflagged SuccessRate series are not
    rates: dict[str, list[float]] = {}
    for p in bundle.metric_points:
        if p.metric == "SuccessRate":
            rates.setdefault(
                f"{p.namespace}/SuccessRate[Service={p.dimensions['Service']}]", []
            ).append(p.value)
    for label, values in rates.items():
        assert (max(values) == 0) == (label in inc.broken_series), label


def test_spans_and_logs_are_linked(bundle_dir: Path) -> None:
    bundle = Bundle(bundle_dir)
    spans = bundle.spans
    assert len(spans) > 1000
    by_id = spans.set_index("span_id")
    assert by_id.index.is_unique
    # every parent of a sampled span is in the table (whole traces are sampled)
    parents = spans.loc[spans["parent_id"] != "", "parent_id"]
    assert parents.isin(by_id.index).all()
    arch = ArchitectureModel.load(bundle.workspace_path)
    linked = checked = 0
    sampled = set(spans["trace_id"])
    for group in bundle.log_files:
        owner = next(
            e.name for e in arch.elements.values() if group in arch.telemetry(e.id).log_groups
        )
        for record in bundle.log_records(group):
            assert record.event_key and "#" in record.event_key
            if record.span_id is None:
                continue
            linked += 1
            if record.trace_id in sampled:
                row = by_id.loc[record.span_id]
                assert row["service"] == owner and row["trace_id"] == record.trace_id
                checked += 1
    assert linked > 500 and checked > 100
    # the same statement keeps its event key across incidents (stable source locations)
    keys = {r.event_key for g in bundle.log_files for r in bundle.log_records(g)}
    assert all(k.rsplit("#", 1)[1].isdigit() for k in keys)


def test_network_delay_shows_on_edges_into_the_root_only() -> None:
    topo = chain()
    rng = np.random.default_rng(3)
    sim = RequestSimulator(topo, rng, lambda name, r: name)
    gap: dict[tuple[str, str], list[float]] = {}
    for i in range(400):
        spans, _logs, _ok = sim.request("client", i * 100.0, {"svc": Effect(inbound_delay_ms=250)})
        by_id = {s.span_id: s for s in spans}
        for s in spans:
            parent = by_id.get(s.parent_id)
            if s.kind == "server" and parent is not None and parent.kind == "client":
                gap.setdefault((parent.service, s.service), []).append(
                    parent.duration_ms - s.duration_ms
                )
    assert np.median(gap[("api", "svc")]) > 200
    assert np.median(gap[("api", "mailer")]) < 20


def _spans_of(topo: Topology, effects: dict[str, Effect], n: int = 600) -> list:
    sim = RequestSimulator(topo, np.random.default_rng(5), lambda name, r: name)
    out = []
    for i in range(n):
        spans, logs, _ok = sim.request("client", i * 100.0, effects)
        out.append((spans, logs))
    return out


def test_an_error_return_shows_error_statuses_on_the_callee_and_no_log() -> None:
    topo = chain()
    requests = _spans_of(topo, {"svc": Effect(error_rate=0.5, error_logged=False)})
    svc = [s for spans, _ in requests for s in spans if s.service == "svc" and s.kind == "server"]
    failed = [s for s in svc if s.status_code >= 500]
    assert 0.4 < len(failed) / len(svc) < 0.6
    svc_logs = [line for _, logs in requests for line in logs if line.component == "svc"]
    assert not [line for line in svc_logs if line.level == "ERROR"]
    # the caller names the failed call in its own log and fails too (propagate 0.8)
    api_errors = [line for _, logs in requests for line in logs if line.level == "ERROR"]
    assert api_errors and all(line.component == "api" for line in api_errors)
    assert all("Call to svc failed with status 500" in line.text for line in api_errors)


def test_throttling_shows_rejections_at_the_throttled_component() -> None:
    nodes = [
        Node("client", "client", "client", 1.0, rpm=60, fanout="one"),
        Node("api", "ecs", "api", 10.0),
        Node("fn", "lambda", "fn", 8.0),
        Node("table", "dynamodb", "table", 3.0),
    ]
    edges = [
        Edge("client", "api", propagate=1.0, net_ms=25.0),
        Edge("api", "fn"),
        Edge("api", "table"),
    ]
    topo = Topology(nodes, edges)
    for name, status, error in (
        ("fn", 429, "TooManyRequestsException"),
        ("table", 400, "ProvisionedThroughputExceededException"),
    ):
        requests = _spans_of(topo, {name: Effect(throttle_rate=0.4)})
        calls = [
            s
            for spans, _ in requests
            for s in spans
            if s.kind == "client" and s.peer_service == name
        ]
        rejected = [s for s in calls if s.status_code == status]
        assert 0.25 < len(rejected) / len(calls) < 0.45  # retried calls are calls too
        # a rejected call never reached the component: no span of it below the client span
        served = {s.parent_id for spans, _ in requests for s in spans if s.service == name}
        assert not served & {s.span_id for s in rejected}
        warnings = [line.text for _, logs in requests for line in logs if line.level == "WARN"]
        assert any(error in text and "retrying" in text for text in warnings)


def test_a_throttled_third_party_fails_its_canary_runs() -> None:
    topo, _overlay, plan, points = _metrics_of_first("throttling", "external")
    onset = plan.fault.start + timedelta(minutes=3)
    slug = topo.nodes[plan.fault.component].slug
    success = [
        (p.timestamp >= onset, p.value)
        for p in points
        if p.metric == "SuccessPercent" and p.dimensions.get("CanaryName") == slug
    ]
    before = [v for after, v in success if not after]
    after = [v for after, v in success if after]
    assert np.mean(before) > 99 and np.mean(after) < 100 - 50 * plan.fault.params["rate"]


def test_overlay_gives_a_real_workspace_rca_properties() -> None:
    path = shared("structurizr", "big-bank-plc.json")
    before = path.read_bytes()
    overlay = load_overlay(BIG_BANK_OVERLAY)
    overlaid = apply_overlay(json.loads(before), overlay)
    assert path.read_bytes() == before  # applied in memory only
    _ws, _ov, arch, topo = load_inputs(path, BIG_BANK_OVERLAY)
    for comp in overlay.components:
        element = arch.get(comp.element)
        assert element.properties["rca.aliases"].startswith(comp.slug)
        assert not arch.telemetry(element.id).empty
    assert "rca.metrics" in json.dumps(overlaid)
    assert len(topo.candidates()) >= 8 and {e.name for e in topo.entries} == {
        "Single-Page Application",
        "Mobile App",
    }
    assert topo.ancestors("Database") >= {"Security Component", "Sign In Controller"}


def test_overlay_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CHECKOUT_OVERLAY.read_text().replace("element: Orders Database", "element: Data Lake")
    )
    with pytest.raises(RandomGenError, match="'Data Lake' is not an element"):
        load_inputs(CHECKOUT, bad)
    with pytest.raises(OverlayError, match="overlay file not found"):
        load_overlay(tmp_path / "missing.yaml")


def test_cli_generate_random(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "bundle",
            "generate-random",
            "--workspace",
            str(CHECKOUT),
            "--seed-start",
            "3",
            "--count",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "checkout-3" / "incident.yaml").is_file()
    missing = runner.invoke(
        app, ["bundle", "generate-random", "--workspace", str(tmp_path / "nope.json")]
    )
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert missing.stderr.strip().splitlines()[-1].startswith("error:")


def test_fault_effect_ramps_and_ends() -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    fault = Fault("network_delay", "svc", start, start + timedelta(minutes=10), {"delay_ms": 100})
    assert effects_at([fault], start - timedelta(seconds=1)) == {}
    assert effects_at([fault], start + timedelta(minutes=5))["svc"].inbound_delay_ms == 100
    assert effects_at([fault], start + timedelta(minutes=10)) == {}
    leak = Fault(
        "memory_leak", "svc", start, None, {"ramp_min": 10, "rate": 0.2, "memory_base": 50}
    )
    early, late = (leak.effect(start + timedelta(minutes=m)) for m in (2, 12))
    assert 0 < early.memory_points < late.memory_points and early.error_rate == 0
    assert late.error_rate == 0.2 and late.restarting


@pytest.mark.slow
def test_generated_set_end_to_end(tmp_path: Path) -> None:
    bench = load_benchmark("generated_eval")
    every = bench.run(count=3, seed_start=500, out=tmp_path, shared=REPO.parent / "shared" / "data")
    assert "checkout" in every
    for results in every.values():
        assert len(results) == 3
        assert all(r.error is None for r in results), [r.error for r in results]
        assert all(r.truth != "?" for r in results)


def test_a_throttled_entry_function_never_runs_its_throttled_invocations() -> None:
    """An entry function its event source invokes: a throttled invocation writes no span and
    no log; the source retries once, so about t^2 of the jobs are lost; the client's span
    names the API it calls."""
    nodes = [
        Node("client", "client", "client", 1.0, rpm=60, fanout="one"),
        Node("worker", "lambda", "worker", 8.0, rpm=60),
        Node("api", "ecs", "api", 10.0),
    ]
    topo = Topology(nodes, [Edge("client", "api"), Edge("worker", "api")])
    sim = RequestSimulator(topo, np.random.default_rng(3), lambda name, r: name)
    ran = sum(
        bool(sim.request("worker", i * 100.0, {"worker": Effect(throttle_rate=0.5)})[0])
        for i in range(800)
    )
    assert 0.7 < ran / 800 < 0.8  # 1 - 0.5^2
    spans, _logs, _ok = sim.request("client", 0.0, {})
    assert [s.peer_service for s in spans if s.service == "client"] == ["api"]


def test_throttled_lambda_invocations_are_not_invocations() -> None:
    topo, _overlay, plan, points = _metrics_of_first("throttling", "lambda")
    onset = plan.fault.start + timedelta(minutes=3)
    slug = topo.nodes[plan.fault.component].slug

    def mean(metric: str, after: bool) -> float:
        return float(
            np.mean(
                [
                    p.value
                    for p in points
                    if p.metric == metric
                    and p.dimensions.get("FunctionName") == slug
                    and (p.timestamp >= onset if after else p.timestamp < plan.fault.start)
                ]
            )
        )

    rate = plan.fault.params["rate"]
    assert mean("Throttles", False) == 0 and mean("Throttles", True) > 0
    # invocations fall by about t^2 (the retried share of the throttled ones runs)
    assert mean("Invocations", True) < mean("Invocations", False) * (1 - rate**2 / 3)
