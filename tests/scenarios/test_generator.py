"""The scenario generator and the shipped scenarios: every spec validates and fits its workspace,
regenerating a bundle reproduces the shipped one, every bundle loads, its ground truth exists and
shows its own signal, the causal change precedes the onset, and bad specs fail clearly."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from scenarios.generator import check_against_workspace, generate, main
from scenarios.spec import (
    BUNDLES_DIR,
    FAULT_KINDS,
    WORKSPACES_DIR,
    ScenarioSpec,
    ScenarioSpecError,
    fault_kinds,
    load_spec,
    shipped_specs,
)
from tools.bundle import Bundle, CloudTrailRecord
from tools.c4 import ArchitectureModel
from tools.changes import map_change
from tools.metrics import detect_anomaly
from tools.models import parse_time
from tools.redact import redact
from tools.telemetry.base import MetricSeries

SPECS = shipped_specs()
IDS = [p.stem for p in SPECS]
MAX_BUNDLE_BYTES = 1_500_000


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every shipped scenario regenerated from its spec into a temporary directory."""
    root = tmp_path_factory.mktemp("regenerated")
    return {p.stem: generate(p, root / p.stem) for p in SPECS}


def _files(root: Path) -> dict[str, bytes]:
    """Relative path -> content, gzip files decompressed (their bytes depend on the zlib build)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            out[str(path.relative_to(root))] = (
                gzip.decompress(data) if path.suffix == ".gz" else data
            )
    return out


def test_shipped_scenarios_cover_both_systems_and_many_fault_kinds() -> None:
    specs = [load_spec(p) for p in SPECS]
    assert len(specs) >= 9
    kinds = [s.fault.kind for s in specs]
    assert len(set(kinds)) >= 8, kinds
    workspaces = [s.workspace for s in specs]
    assert {w for w in workspaces if workspaces.count(w) >= 2} >= {
        "connected_vehicle.json",
        "checkout.json",
    }
    assert "connected-vehicle-sg" in IDS
    assert set(FAULT_KINDS) == set(fault_kinds())


@pytest.mark.parametrize("path", SPECS, ids=IDS)
def test_spec_validates_and_fits_its_workspace(path: Path) -> None:
    spec = load_spec(path)
    assert spec.id == path.stem and spec.decoys
    arch = ArchitectureModel.load(WORKSPACES_DIR / spec.workspace)
    check_against_workspace(spec, arch)
    assert spec.ground_truth.component not in spec.symptom  # the symptom does not name the cause


@pytest.mark.parametrize("scenario", IDS)
def test_regenerating_reproduces_the_shipped_bundle(
    scenario: str, regenerated: dict[str, Path]
) -> None:
    shipped = BUNDLES_DIR / scenario
    assert shipped.is_dir(), f"{shipped} missing: run python -m scenarios.generator"
    fresh, old = _files(regenerated[scenario]), _files(shipped)
    assert sorted(fresh) == sorted(old)
    drifted = [name for name in fresh if fresh[name] != old[name]]
    assert not drifted, (
        f"{scenario}: {drifted} differ from the spec; regenerate with python -m scenarios.generator"
    )


def test_generation_is_byte_identical(tmp_path: Path, regenerated: dict[str, Path]) -> None:
    again = generate(SPECS[0], tmp_path / "again")
    first = regenerated[SPECS[0].stem]
    for path in sorted(first.rglob("*")):
        if path.is_file():
            assert (again / path.relative_to(first)).read_bytes() == path.read_bytes(), path.name


def _series(bundle: Bundle, arch: ArchitectureModel, component: str) -> list[MetricSeries]:
    selectors = arch.telemetry(component).metrics
    grouped: dict[tuple[str, str, str], MetricSeries] = {}
    for p in bundle.metric_points:
        if any(s.matches(p.namespace, p.metric, p.dimensions) for s in selectors):
            key = (p.namespace, p.metric, json.dumps(p.dimensions, sort_keys=True))
            series = grouped.setdefault(
                key, MetricSeries(namespace=p.namespace, metric=p.metric, dimensions=p.dimensions)
            )
            series.timestamps.append(p.timestamp)
            series.values.append(p.value)
    return list(grouped.values())


@pytest.mark.parametrize("scenario", IDS)
def test_shipped_bundle_loads_and_truth_shows_its_own_signal(scenario: str) -> None:
    path = BUNDLES_DIR / scenario
    spec: ScenarioSpec = load_spec(SPECS[IDS.index(scenario)])
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    assert size < MAX_BUNDLE_BYTES, f"{scenario} is {size} bytes"

    bundle = Bundle(path)
    bundle.validate()
    incident = bundle.incident
    assert incident.window == spec.window and incident.description == spec.symptom
    truth = incident.ground_truth
    assert truth is not None and truth.fault_kind in FAULT_KINDS
    arch = ArchitectureModel.load(bundle.workspace_path)
    assert arch.resolve(incident.description), "the symptom resolves to no element"
    element = arch.get(truth.component)
    assert element.name == truth.component
    tele = arch.telemetry(element.id)
    assert not tele.empty
    assert tele.log_groups or tele.metrics

    # the root cause has an anomaly of its own in the window
    series = _series(bundle, arch, element.id)
    assert series, f"no datapoints for {truth.component}"
    lookback = max(1800.0, 3 * incident.window.seconds)
    anomalies = [a for s in series if (a := detect_anomaly(s, incident.window, lookback))]
    assert anomalies, f"{truth.component} shows no metric anomaly"
    assert all(bundle.log_records(g) for g in tele.log_groups)

    # the causal change (when any) precedes the onset and maps to the truth or an edge into it
    onset = parse_time(incident.source["fault_onset"])
    assert incident.window.contains(onset)
    causal_id = incident.source.get("causal_event_id")
    assert (causal_id is None) == (spec.fault.change is None)
    if causal_id is not None:
        record = next(r for r in bundle.cloudtrail_records if r.eventID == causal_id)
        assert record.is_write and record.eventTime < onset
        to_component = {
            r: e.id for e in arch.elements.values() for r in arch.telemetry(e.id).resources
        }
        to_edge = {
            r.strip(): (rel.source, rel.destination)
            for rel in arch.relationships
            for r in rel.properties.get("rca.resources", "").split(",")
            if r.strip()
        }
        change = map_change(record, to_component, to_edge, onset)
        assert element.id in change.components or any(b == element.id for _, b in change.edges)


def test_cloudtrail_has_background_reads_and_benign_writes() -> None:
    bundle = Bundle(BUNDLES_DIR / "connected-vehicle-sg")
    records: list[CloudTrailRecord] = bundle.cloudtrail_records
    reads = [r for r in records if not r.is_write]
    writes = [r for r in records if r.is_write]
    assert len(reads) > 100 and len(writes) > 20
    assert {"AssumeRole", "CreateLogStream", "UpdateInstanceInformation"} <= {
        r.eventName for r in records
    }
    revoke = next(r for r in records if r.eventName == "RevokeSecurityGroupIngress")
    assert revoke.recipientAccountId == "739102846375"
    assert revoke.raw["userIdentity"]["type"] == "AssumedRole"
    perm = revoke.raw["requestParameters"]["ipPermissions"]["items"][0]
    assert perm["fromPort"] == 443 and perm["groups"]["items"][0]["groupId"].startswith("sg-")
    assert len({r.eventID for r in records}) == len(records)


def test_shipped_logs_exercise_redaction() -> None:
    leaked = []
    for scenario in IDS:
        bundle = Bundle(BUNDLES_DIR / scenario)
        for group in bundle.log_files:
            leaked += [
                r.message
                for r in bundle.log_records(group)
                if "AKIA" in r.message or "postgresql://subscription_app:" in r.message
            ]
    assert leaked
    assert all(redact(line) != line for line in leaked)
    assert not any("AKIA5Q2RXN7TLW3BYP4M" in redact(line) for line in leaked)


def test_main_regenerates_selected_scenarios(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--only", "cv-db-password-rotation"]) == 0
    assert (tmp_path / "cv-db-password-rotation" / "incident.yaml").is_file()
    assert main(["--out", str(tmp_path), "--only", "no-such-scenario"]) == 1


# ---------------------------------------------------------------- bad specs

BASE = """
id: {id}
title: A broken scenario
profile: connected_vehicle
symptom: Users of the iOS app cannot unlock car doors remotely
seed: 1
window_start: "2026-03-17T16:00:00Z"
window_min: 60
fault:
  component: Remote Vehicle Management API
  kind: network_config
  onset_min: 22
  description: a rule was removed somewhere
  metrics:
    - {{component: Remote Vehicle Management API, op: scale, value: 0.05}}
decoys:
  - kind: chronic_noise
    description: the broker is always noisy
    components: [MQTT Broker]
ground_truth:
  component: Remote Vehicle Management API
  fault_kind: network_config
  detail: a rule protecting the API was removed
"""


def _write(tmp_path: Path, text: str, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_spec_is_valid(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, BASE.format(id="broken")))
    assert spec.onset == parse_time("2026-03-17T16:22:00Z")
    out = generate(spec, tmp_path / "bundle")
    Bundle(out).validate()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("seed: 1", "seed: 1\ncolour: blue"), r"broken\.yaml: colour: Extra inputs"),
        (("kind: network_config\n  onset", "kind: cosmic_rays\n  onset"), r"fault\.kind"),
        (("onset_min: 22", "onset_min: 75"), r"not inside the 60-minute window"),
        (
            ("component: Remote Vehicle Management API, op", "component: Billing, op"),
            r"no component 'Billing'",
        ),
        (
            ("fault_kind: network_config", "fault_kind: dns_routing"),
            r"differs from fault\.kind",
        ),
        (
            (
                "  metrics:\n",
                "  change: {event: RevokeSecurityGroupIngress, at_min: 2, account: network,"
                " actor: {role: r, session: s}, params: {group_id: sg-1, port: 443}}\n  metrics:\n",
            ),
            r"must precede the onset",
        ),
        (
            (
                "  metrics:\n",
                "  change: {event: DeleteEverything, at_min: -2, account: network,"
                " actor: {role: r, session: s}}\n  metrics:\n",
            ),
            r"unsupported event 'DeleteEverything'",
        ),
        (
            (
                "  metrics:\n",
                "  logs:\n    - {component: Backend-for-Frontend, per_min: 1,"
                " text: 'boom ${nonsense}'}\n  metrics:\n",
            ),
            r"unknown placeholder \$\{nonsense\}",
        ),
        (("2026-03-17T16:00:00Z", "2025-03-17T16:00:00Z"), r"fixed dates in 2026"),
    ],
)
def test_malformed_spec_gives_a_clear_error(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    text = BASE.format(id="broken")
    assert old in text
    with pytest.raises(ScenarioSpecError, match=expected) as info:
        load_spec(_write(tmp_path, text.replace(old, new, 1)))
    assert "broken.yaml" in str(info.value)


def test_not_yaml_and_wrong_file_name(tmp_path: Path) -> None:
    with pytest.raises(ScenarioSpecError, match="not valid YAML"):
        load_spec(_write(tmp_path, "id: [unclosed"))
    with pytest.raises(ScenarioSpecError, match="differs from the file name"):
        load_spec(_write(tmp_path, BASE.format(id="other-name")))
    with pytest.raises(ScenarioSpecError, match="file not found"):
        load_spec(tmp_path / "missing.yaml")


def test_spec_that_does_not_fit_the_workspace(tmp_path: Path) -> None:
    text = BASE.format(id="broken").replace("profile: connected_vehicle", "profile: checkout")
    text = text.replace("Users of the iOS app cannot unlock car doors remotely", "Checkout fails")
    spec_path = _write(tmp_path, text)
    with pytest.raises(ScenarioSpecError, match="no component 'Remote Vehicle Management API'"):
        load_spec(spec_path)
    spec = load_spec(SPECS[IDS.index("connected-vehicle-sg")])
    bad = spec.model_copy(update={"workspace": "checkout.json"})
    with pytest.raises(ScenarioSpecError, match="is no element of the workspace"):
        generate(bad, tmp_path / "out")


def test_generate_refuses_to_replace_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ScenarioSpecError, match="refusing to replace"):
        generate(SPECS[0], target)
    assert (target / "notes.txt").read_text() == "keep me"


def test_effects_shape_the_series(tmp_path: Path) -> None:
    """A traffic scale of 0.05 from the onset collapses the API's request count, not before."""
    spec = load_spec(_write(tmp_path, BASE.format(id="broken")))
    bundle = Bundle(generate(spec, tmp_path / "b"))
    points = [
        p
        for p in bundle.metric_points
        if p.metric == "RequestCount" and "cv-rvm-internal" in p.dimensions["LoadBalancer"]
    ]
    before = np.median([p.value for p in points if p.timestamp < spec.onset])
    after = np.median([p.value for p in points if p.timestamp >= spec.onset])
    assert after < 0.1 * before
