"""End to end: spans served as X-Ray traces reach the traces detectors, live (`rca ask --aws`)
and through `rca capture`, by one converter; a failing span source is a gap line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from agent.factory import open_bundle
from tests.aws.conftest import client
from tests.builders import WINDOW, write_chain_bundle
from tools.aws.replay import ReplayClients
from tools.aws.session import Location
from tools.aws.span_rows import to_frame
from tools.bundle import Bundle
from tools.capture import capture_incident
from tools.telemetry.aws import open_aws_session
from tools.toolbox import run_tool

MS = 1_000_000
ALIASES = {"2": "web", "3": "orders", "4": "ordersdb"}  # X-Ray service names of the elements


def _span(rows: list[dict[str, Any]], trace: str, parent: str, service: str, start: int, ms: float,
          kind: str) -> str:  # fmt: skip
    sid = f"{len(rows) + 1:016x}"
    rows.append(
        {
            "trace_id": trace,
            "span_id": sid,
            "parent_id": parent,
            "service": service,
            "instance": f"{service}-1",
            "operation": "handle" if kind == "server" else f"call {service}",
            "kind": kind,
            "start_ns": start,
            "duration_ns": int(ms * MS),
            "status_code": "200",
        }
    )
    return sid


def _call(rows, trace, caller_span, caller, callee, at, net_ms, server_ms):
    client_span = _span(rows, trace, caller_span, caller, at, net_ms + server_ms, "client")
    return _span(rows, trace, client_span, callee, at + int(net_ms * MS / 2), server_ms, "server")


def delayed_orders_spans() -> list[dict[str, Any]]:
    """Traces web -> orders -> ordersdb and web -> ordersdb, every 40 s over the baseline and
    the window; in the window every call into and out of orders takes 50 ms more on the wire
    (a delayed callee)."""
    rows: list[dict[str, Any]] = []
    start_s = int(WINDOW.previous().start.timestamp())
    for i in range(90):
        at = (start_s + 40 * i) * 10**9
        delay = 50.0 if at >= int(WINDOW.start.timestamp()) * 10**9 else 0.0
        trace = f"1-{start_s + 40 * i:08x}-{i:024x}"
        root = _span(rows, trace, "", "web", at, 200.0, "server")
        orders = _call(rows, trace, root, "web", "orders", at + MS, 2.0 + delay, 20.0)
        _call(rows, trace, orders, "orders", "ordersdb", at + 3 * MS, 1.0 + delay, 5.0)
        _call(rows, trace, root, "web", "ordersdb", at + 80 * MS, 1.0, 5.0)
    return rows


@pytest.fixture(scope="module")
def traced_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_chain_bundle(tmp_path_factory.mktemp("traced") / "chain")
    workspace = json.loads((root / "workspace.json").read_text())
    for container in workspace["model"]["softwareSystems"][0]["containers"]:
        container["properties"]["rca.aliases"] = ALIASES[container["id"]]
    (root / "workspace.json").write_text(json.dumps(workspace))
    to_frame(delayed_orders_spans()).to_csv(root / "spans.csv", index=False)
    return root


def _credits(result: Any) -> dict[str, float]:
    best: dict[str, float] = {}
    for e in result.evidence:
        best[e.component] = max(best.get(e.component, 0.0), e.figures["evidence"])
    return best


def test_traces_tool_reads_x_ray_spans_live_and_finds_the_delayed_callee(traced_bundle: Path):
    source = Bundle(traced_bundle)
    clients = ReplayClients(source, summary_page_size=25)
    _arch, ctx = open_aws_session(
        source.workspace_path, WINDOW, None, profile=None, region=None, clients=clients
    )
    result = run_tool(ctx, "traces", {})
    assert result.status == "ok", result.summary
    found = _credits(result)
    assert max(found, key=found.get) == "3"  # Orders API, named by its X-Ray alias "orders"
    assert result.data["window_spans"] > 0 and result.data["reference_spans"] > 0
    assert not any("span source" in g for g in result.data["gaps"])
    assert "AWS X-Ray" in result.evidence[0].searched
    traces = source.spans["trace_id"].nunique()
    assert clients.log.count("xray", "BatchGetTraces") == math.ceil(traces / 5)
    assert clients.log.count("xray", "GetTraceSummaries") >= 4  # paged, per time slice
    run_tool(ctx, "traces", {})  # a second call is served from the per-window cache
    assert clients.log.count("xray", "BatchGetTraces") == math.ceil(traces / 5)


def test_captured_bundle_with_x_ray_spans_finds_the_delayed_callee(
    traced_bundle: Path, tmp_path: Path
):
    source = Bundle(traced_bundle)
    out = tmp_path / "captured"
    report = capture_incident(
        source.workspace_path,
        source.incident.window,
        out,
        clients=ReplayClients(source),
        now=lambda: source.incident.window.end,
    )
    captured = Bundle(out)
    captured.validate()
    assert report.spans == len(captured.spans) == len(source.spans)
    assert set(captured.spans["service"]) == {"Web App", "Orders API", "Orders DB"}
    clients_of_orders = captured.spans[captured.spans["kind"] == "client"]
    assert set(clients_of_orders["peer_service"]) == {"Orders API", "Orders DB"}
    (read,) = captured.incident.source["spans"]["reads"]
    assert read["source"] == "xray" and read["sampling"]["recording_rate"] is None
    assert captured.incident.bundle_version == 2
    session = open_bundle(out)
    result = run_tool(session.context, "traces", {})
    found = _credits(result)
    assert max(found, key=found.get) == "3"


def test_a_denied_span_source_is_a_gap_line_of_the_traces_tool(traced_bundle: Path):
    logs, xray = client("logs"), client("xray")
    logs_stub, xray_stub = Stubber(logs), Stubber(xray)
    logs_stub.add_response("describe_log_groups", {"logGroups": []}, ANY_GROUPS)
    xray_stub.add_client_error(
        "get_trace_summaries", service_error_code="AccessDeniedException", service_message="no"
    )

    def clients(service: str, location: Location) -> Any:
        return {"logs": logs, "xray": xray}[service]

    source = Bundle(traced_bundle)
    _arch, ctx = open_aws_session(
        source.workspace_path, WINDOW, None, profile=None, region=None, clients=clients
    )
    with logs_stub, xray_stub:
        result = run_tool(ctx, "traces", {})
    assert result.status == "no_data" and not result.evidence
    denied = [g for g in result.data["gaps"] if "xray:GetTraceSummaries" in g]
    assert len(denied) == 1 and "\n" not in denied[0]
    assert "Not checked: X-Ray spans not read" in result.summary


ANY_GROUPS = {"logGroupNamePrefix": "aws/spans", "limit": ANY}


def test_a_runtime_without_the_detectors_libraries_answers_with_a_gap(
    traced_bundle: Path, monkeypatch: pytest.MonkeyPatch
):
    import sys

    session = open_bundle(traced_bundle)
    monkeypatch.setitem(sys.modules, "tools.trace_analysis", None)  # import fails
    result = run_tool(session.context, "traces", {})
    assert result.status == "no_data" and result.data["gaps"] == [
        "traces not checked: this runtime lacks the span detectors' libraries "
        "(tools.trace_analysis)"
    ]
