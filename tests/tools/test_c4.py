"""The architecture model on the four real Structurizr workspaces and on edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared
from tools.c4 import ArchitectureModel
from tools.errors import UnknownComponentError, WorkspaceError


def load(name: str) -> ArchitectureModel:
    return ArchitectureModel.load(shared("structurizr", f"{name}.json"))


@pytest.mark.parametrize(
    ("name", "elements", "relationships"),
    [
        ("big-bank-plc", 18, 31),
        ("amazon-web-services", 5, 3),
        ("financial-risk-system", 9, 9),
        ("getting-started", 2, 1),
    ],
)
def test_loads_real_workspaces(name: str, elements: int, relationships: int) -> None:
    arch = load(name)
    assert len(arch.elements) == elements
    assert len(arch.relationships) == relationships


def test_big_bank_downstream_and_upstream() -> None:
    arch = load("big-bank-plc")
    down = {d.element.name: d for d in arch.downstream("Mobile App")}
    assert down["API Application"].distance == 1
    assert down["Database"].distance == 2
    assert down["Database"].path[-1].description == "Reads from and writes to"
    assert down["Database"].path[-1].technology == "JDBC"
    up = {d.element.name for d in arch.upstream("Database", depth=2)}
    assert {"API Application", "Security Component", "Mobile App"} <= up
    assert "Database" not in up


def test_big_bank_resolves_symptom_to_mobile_app() -> None:
    arch = load("big-bank-plc")
    matches = arch.resolve("Customers cannot see their balances in the mobile app")
    assert matches[0].element.name == "Mobile App"


def test_aws_deployment_relationships_fold_onto_containers() -> None:
    arch = load("amazon-web-services")
    chain = [(d.element.name, d.distance) for d in arch.downstream("Route 53")]
    assert chain == [("Elastic Load Balancer", 1), ("Web Application", 2), ("Database", 3)]
    assert [d.element.name for d in arch.upstream("Database")][:1] == ["Web Application"]


def test_financial_risk_system_dependencies() -> None:
    arch = load("financial-risk-system")
    down = {d.element.name for d in arch.downstream("Financial Risk System", depth=1)}
    assert "Trade Data System" in down
    assert "Reference Data System" in down


def test_getting_started_user_uses_system() -> None:
    arch = load("getting-started")
    assert [d.element.name for d in arch.downstream("User")] == ["Software System"]
    assert [d.element.name for d in arch.upstream("Software System")] == ["User"]


def test_unknown_component_suggests_close_names() -> None:
    arch = load("big-bank-plc")
    with pytest.raises(UnknownComponentError, match="did you mean 'Mobile App'"):
        arch.get("mobile application server")
    with pytest.raises(UnknownComponentError, match="unknown component 'zzz'"):
        arch.get("zzz")


def test_malformed_workspaces(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WorkspaceError, match="not valid JSON"):
        ArchitectureModel.load(bad)
    with pytest.raises(WorkspaceError, match="not found"):
        ArchitectureModel.load(tmp_path / "missing.json")
    nomodel = tmp_path / "nomodel.json"
    nomodel.write_text(json.dumps({"name": "x", "model": {"people": [{"name": "no id"}]}}))
    with pytest.raises(WorkspaceError):
        ArchitectureModel.load(nomodel)


def test_bad_metric_property(tmp_path: Path) -> None:
    from tests.builders import chain_workspace

    ws = chain_workspace()
    ws["model"]["softwareSystems"][0]["containers"][0]["properties"]["rca.metrics"] = "[{oops"
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(ws))
    arch = ArchitectureModel.load(path)
    with pytest.raises(WorkspaceError, match=r"rca\.metrics must be a JSON list"):
        arch.telemetry("Web App")
