"""X-Ray observed call edges merged into the declared C4 graph (``open_aws_session(xray=True)``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.builders import WINDOW, chain_workspace, write_chain_bundle
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.telemetry.aws import open_aws_session


def test_add_observed_adds_only_new_known_edges(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(chain_workspace()))
    arch = ArchitectureModel.load(path)
    added = arch.add_observed(
        [("Web App", "Orders DB"), ("Web App", "Orders API"), ("ghost", "Orders DB")], "X-Ray"
    )
    assert [(r.source, r.destination) for r in added] == [("2", "4")]
    assert added[0].properties == {"rca.observed": "true"}
    assert {d.element.name for d in arch.downstream("Web App", depth=1)} == {
        "Orders API",
        "Orders DB",
    }


class XRayWithEdges:
    """An xray client whose service graph shows Web App calling Orders DB directly."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def get_service_graph(self, **kw: Any) -> dict[str, Any]:
        self.requests.append(kw)
        return {
            "Services": [
                {"ReferenceId": 1, "Name": "Web App", "Edges": [{"ReferenceId": 2}]},
                {"ReferenceId": 2, "Name": "Orders DB", "Edges": []},
            ]
        }


def test_open_aws_session_merges_xray_edges(tmp_path: Path) -> None:
    bundle = Bundle(write_chain_bundle(tmp_path / "chain"))
    replay = ReplayClients(bundle)
    xray = XRayWithEdges()

    def clients(service: str, location: Any) -> Any:
        return xray if service == "xray" else replay(service, location)

    arch, _ = open_aws_session(
        bundle.workspace_path, WINDOW, None, profile=None, region=None, clients=clients, xray=True
    )
    assert arch.relationship("2", "4") is not None
    assert xray.requests and xray.requests[0]["StartTime"] <= WINDOW.start
    arch, _ = open_aws_session(
        bundle.workspace_path, WINDOW, None, profile=None, region=None, clients=clients
    )
    assert arch.relationship("2", "4") is None  # off by default
