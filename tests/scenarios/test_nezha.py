"""The Nezha importer: real cases of the shared data set become valid, leak-free bundles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from scenarios.nezha import extract_message, fault_window, import_all, import_case, service_of
from tests.conftest import shared
from tools.architecture import ArchitectureModel
from tools.bundle import Bundle

TT_CASE = "trainticket-2023-01-29-133154-cpu_contention"
OB_CASE = "onlineboutique-2022-08-23-144740-return"
OB_FRONT_CASE = "onlineboutique-2022-08-23-122723-exception"  # the root cause is the front end
OB_NO_TRACE_CASE = "onlineboutique-2022-08-22-053534-cpu_contention"


@pytest.fixture(scope="module")
def nezha() -> Path:
    return shared("nezha")


@pytest.fixture(scope="module")
def bundles(nezha: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    out = tmp_path_factory.mktemp("nezha")
    cases = (TT_CASE, OB_CASE, OB_FRONT_CASE, OB_NO_TRACE_CASE)
    return {case: Bundle(import_case(nezha / "cases" / case, out)) for case in cases}


def _case_json(nezha: Path, case: str) -> dict:
    return json.loads((nezha / "cases" / case / "case.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------- without data
def test_service_of_strips_replica_set_and_pod_hash() -> None:
    assert service_of("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"
    assert service_of("adservice-5f6585d649-fnmft") == "adservice"
    assert service_of("redis") == "redis"


def test_extract_message_train_ticket_line() -> None:
    raw = json.dumps(
        {
            "log": "16:42:22.382 ERROR t.s.TravelServiceImpl#532 TraceID: ffc8 SpanID: 439b "
            "[getRouteByRouteId][Get Route By Id]\n",
            "stream": "stdout",
            "time": "2023-01-29T08:42:22.383150913Z",
        }
    )
    assert extract_message(raw) == (
        "ERROR t.s.TravelServiceImpl#532 [getRouteByRouteId][Get Route By Id]",
        "ERROR",
    )


def test_extract_message_structured_and_plain_lines() -> None:
    inner = json.dumps({"message": "Charge successfully", "severity": "info"})
    assert extract_message(json.dumps({"log": inner + "\n"})) == (
        "INFO Charge successfully",
        "INFO",
    )
    assert extract_message("not json at all") == ("not json at all", None)


def test_fault_window_ends_at_the_collection_closing_the_third_minute() -> None:
    inject = datetime(2023, 1, 29, 8, 43, 4, tzinfo=UTC)
    front = pd.DataFrame(
        {"Time": [f"2023-01-29 08:4{m}:09.04 +0000 UTC m=+1.0" for m in range(1, 8)]}
    )
    window, _how = fault_window(inject, front, inject + timedelta(seconds=100))
    assert window.start == inject
    assert window.end == datetime(2023, 1, 29, 8, 45, 15, tzinfo=UTC)
    fallback, _ = fault_window(inject, None, None)
    assert fallback.seconds == 180


# ---------------------------------------------------------------------------- with data
@pytest.mark.parametrize("case", [TT_CASE, OB_CASE, OB_FRONT_CASE, OB_NO_TRACE_CASE])
def test_bundle_validates_and_maps_the_root_cause(
    bundles: dict[str, Bundle], nezha: Path, case: str
) -> None:
    bundle = bundles[case]
    bundle.validate()
    meta = _case_json(nezha, case)
    incident = bundle.incident
    assert incident.id == case
    assert incident.ground_truth is not None
    assert incident.ground_truth.component == meta["root_cause_service"]
    assert incident.ground_truth.fault_kind == meta["fault_type"]
    assert incident.source["license"] == "MIT (IntelligentDDS/Nezha)"
    arch = ArchitectureModel.load(bundle.workspace_path)
    root = arch.get(meta["root_cause_service"])
    assert root.kind == "container"
    assert not arch.telemetry(root.id).empty
    assert arch.get(meta["inject_pod"]).id == root.id  # the pod name is an alias
    # the description names a symptom only
    text = incident.description.lower()
    assert meta["root_cause_service"].lower() not in text
    assert meta["fault_type"].lower().replace("_", " ") not in text.replace("_", " ")
    assert meta["inject_pod"].lower() not in text


@pytest.mark.parametrize("case", [TT_CASE, OB_CASE, OB_NO_TRACE_CASE])
def test_call_graph_runs_from_the_user_through_the_front_end(
    bundles: dict[str, Bundle], case: str
) -> None:
    arch = ArchitectureModel.load(bundles[case].workspace_path)
    user = arch.get("User")
    (front,) = [d.element for d in arch.downstream(user.id, depth=1)]
    reached = {d.element.name for d in arch.downstream(front.id)}
    assert len(reached) >= 5
    assert all(r.description.startswith("Calls (") for r in arch.relationships if r.source != "1")
    # the symptom resolves to the front end
    assert arch.resolve(bundles[case].incident.description)[0].element.id == front.id
    expected = "ts-gateway-service" if case.startswith("trainticket") else "frontend"
    assert front.name == expected


def test_metric_points_lie_in_the_case_metric_window(
    bundles: dict[str, Bundle], nezha: Path
) -> None:
    for case in (TT_CASE, OB_CASE):
        meta = _case_json(nezha, case)
        lo, hi = meta["metric_window"]["from_epoch_s"], meta["metric_window"]["to_epoch_s"]
        bundle = bundles[case]
        points = bundle.metric_points
        namespaces = {p.namespace for p in points}
        assert {"Nezha/Pod", "Nezha/Frontend", "Nezha/Trace"} <= namespaces
        for p in points:
            if p.namespace != "Nezha/Trace":
                assert lo - 1 <= p.timestamp.timestamp() <= hi, p
        window = bundle.incident.window
        assert window.start.timestamp() == meta["inject_timestamp"]
        assert 60 <= window.seconds <= 240
        root = meta["root_cause_service"]
        in_window = [
            p
            for p in points
            if p.namespace == "Nezha/Pod"
            and p.dimensions["Service"] == root
            and window.contains(p.timestamp)
        ]
        before = [
            p
            for p in points
            if p.namespace == "Nezha/Pod"
            and p.dimensions["Service"] == root
            and p.timestamp < window.start
        ]
        assert in_window and len(before) > len(in_window)
        trace_in_window = [
            p for p in points if p.namespace == "Nezha/Trace" and window.contains(p.timestamp)
        ]
        assert trace_in_window


def test_train_ticket_has_logs_in_window_and_baseline(bundles: dict[str, Bundle]) -> None:
    bundle = bundles[TT_CASE]
    incident = bundle.incident
    assert incident.baseline is not None
    assert 40 <= incident.baseline.seconds <= 90
    arch = ArchitectureModel.load(bundle.workspace_path)
    groups = arch.telemetry("ts-contacts-service").log_groups
    assert groups == ["/nezha/trainticket/ts-contacts-service"]
    records = bundle.log_records(groups[0])
    assert any(incident.window.contains(r.timestamp) for r in records)
    assert any(incident.baseline.contains(r.timestamp) for r in records)
    assert all(r.message.split(" ", 1)[0] in {"INFO", "WARN", "ERROR"} for r in records)
    assert all("TraceID:" not in r.message for r in records)


def test_online_boutique_has_no_logs(bundles: dict[str, Bundle]) -> None:
    bundle = bundles[OB_CASE]
    assert bundle.log_files == {}
    baseline = bundle.incident.baseline  # the baseline trace minute, for the trace metrics
    assert baseline is not None and baseline.seconds <= 62
    assert not baseline.contains(bundle.incident.window.start)
    arch = ArchitectureModel.load(bundle.workspace_path)
    assert all(not arch.telemetry(e.id).log_groups for e in arch.elements.values())


def test_case_without_traces_uses_the_baseline_call_graph(bundles: dict[str, Bundle]) -> None:
    bundle = bundles[OB_NO_TRACE_CASE]
    assert bundle.incident.source["call_graph"].startswith("baseline traces")
    assert not [p for p in bundle.metric_points if p.namespace == "Nezha/Trace"]


def test_import_all_skips_missing_case_folders(nezha: Path, tmp_path: Path) -> None:
    root = tmp_path / "nezha"
    (root / "cases").mkdir(parents=True)
    index = json.loads((nezha / "index.json").read_text(encoding="utf-8"))
    index["cases"] = [c for c in index["cases"] if c["case_id"] == OB_CASE] + [
        {"case_id": "onlineboutique-2099-01-01-000000-return"}
    ]
    (root / "index.json").write_text(json.dumps(index), encoding="utf-8")
    (root / "cases" / OB_CASE).symlink_to(nezha / "cases" / OB_CASE)
    (root / "baseline").symlink_to(nezha / "baseline")
    paths = import_all(root, tmp_path / "out")
    assert [p.name for p in paths] == [OB_CASE]


def test_bundle_v2_spans_reference_windows_and_alert(bundles: dict[str, Bundle]) -> None:
    bundle = bundles[TT_CASE]
    incident = bundle.incident
    assert incident.bundle_version == 2 and incident.alert_time == incident.window.start
    spans = bundle.spans
    assert len(spans) > 1000 and set(spans["kind"]) == {""}  # the source has no span kinds
    assert incident.source["spans"]["sampling"]["rate"] == 1.0
    window_ns = int(incident.window.start.timestamp() * 1e9)
    assert (spans["start_ns"] >= window_ns).any() and (spans["start_ns"] < window_ns).any()
    provenance = [r.provenance for r in incident.reference_windows]
    assert provenance[0] == "adjacent" and provenance.count("historical") >= 2
    adjacent = incident.reference_windows[0]
    assert adjacent.end < incident.alert_time  # the guard interval
    assert (incident.alert_time - adjacent.start).total_seconds() <= 180
    for ref in incident.reference_windows:
        assert ref.end <= incident.window.start or ref.start >= incident.window.end


def test_log_records_keep_span_links_and_source_locations(bundles: dict[str, Bundle]) -> None:
    bundle = bundles[TT_CASE]
    records = bundle.log_records("/nezha/trainticket/ts-contacts-service")
    linked = [r for r in records if r.span_id]
    assert linked and all(r.trace_id for r in linked)
    keyed = [r for r in records if r.event_key]
    assert keyed and all("#" in r.event_key and r.event_key in r.message for r in keyed)
    span_ids = set(bundle.spans["span_id"])
    assert sum(r.span_id in span_ids for r in linked) >= 0.5 * len(linked)


def test_known_broken_success_rates_are_flagged(bundles: dict[str, Bundle]) -> None:
    broken = bundles[TT_CASE].incident.broken_series
    assert broken and all("SuccessRate" in label for label in broken)
    assert all(r.note for r in bundles[OB_NO_TRACE_CASE].incident.reference_windows)
