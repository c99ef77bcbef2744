"""The evidence scorer on hand-made evidence: which component's symptoms its dependencies
explain."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from agent.scoring import score
from tests.builders import ONSET, WINDOW, chain_workspace
from tools.c4 import ArchitectureModel
from tools.models import Evidence

_ids = iter(range(1, 10_000))


def _evidence(component: str, kind: str, value: float, **labels: str) -> Evidence:
    return Evidence(
        id=f"E{next(_ids)}",
        tool="logs" if kind == "log_pattern" else "metrics",
        kind=kind,
        component=component,
        summary=f"{component} {kind} {labels}",
        searched="test",
        window=WINDOW,
        time=ONSET + timedelta(minutes=1),
        figures={"evidence": value},
        labels=labels,
    )


def _arch(tmp_path: Path) -> ArchitectureModel:
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(chain_workspace()), encoding="utf-8")
    return ArchitectureModel.load(path)


def _scores(arch: ArchitectureModel, evidence: list[Evidence]) -> dict[str, float]:
    ranked = score(arch, evidence, sorted({e.component for e in evidence if e.component}))
    return {arch.elements[c.component].name: c.score for c in ranked}


def test_a_callee_whose_traffic_fell_explains_its_callers_errors(tmp_path: Path) -> None:
    arch = _arch(tmp_path)
    web, api = arch.get("Web App").id, arch.get("Orders API").id
    errors = _evidence(web, "log_pattern", 60.0, status="new", scope="symptom")
    fell = _evidence(api, "metric_anomaly", 20.0, role="load", direction="down", harmful="true")
    got = _scores(arch, [errors, fell])
    # the web app's calls stopped arriving at the API: a third of its symptom is explained
    assert got["Web App"] == round(60.0 * (1 - 20.0 / 60.0), 3)
    # when the caller's own traffic fell as well, the callee's fall is the caller's doing
    own_fall = _evidence(web, "metric_anomaly", 10.0, role="load", direction="down", harmful="true")
    got = _scores(arch, [errors, fell, own_fall])
    assert got["Web App"] == 60.0
    # a traffic rise at the callee explains nothing
    rose = _evidence(api, "metric_anomaly", 20.0, role="load", direction="up", harmful="true")
    assert _scores(arch, [errors, rose])["Web App"] == 60.0


def test_a_person_closes_no_dependency_cycle(tmp_path: Path) -> None:
    # Orders DB "notifies" the shopper who "buys with" the web app: through the person the web
    # app would depend on itself, and its own symptom would be explained by itself
    ws = chain_workspace()
    db = ws["model"]["softwareSystems"][0]["containers"][2]
    db["relationships"] = [
        {"id": "r41", "sourceId": "4", "destinationId": "1", "description": "Notifies"}
    ]
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(ws), encoding="utf-8")
    arch = ArchitectureModel.load(path)
    assert arch.graph.has_edge(arch.get("Orders DB").id, arch.get("Shopper").id)
    web, api = arch.get("Web App").id, arch.get("Orders API").id
    errors = _evidence(web, "metric_anomaly", 14.0, role="errors", harmful="true")
    steady = _evidence(api, "metric_steady", 0.0)
    got = _scores(arch, [errors, steady])
    assert got["Web App"] == 14.0
