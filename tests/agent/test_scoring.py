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
    # evidence about the person (e.g. a client-side error rate) is scored, depending on nothing
    client = _evidence(arch.get("Shopper").id, "metric_anomaly", 5.0, role="errors", harmful="true")
    assert _scores(arch, [errors, steady, client])["Shopper"] == 5.0


def _change(component: str, minutes_before_onset: float, examined: int = 1) -> Evidence:
    when = ONSET - timedelta(minutes=minutes_before_onset)
    return Evidence(
        id=f"E{next(_ids)}",
        tool="changes",
        kind="change",
        component=component,
        summary=f"UpdateFunctionCode on {component}",
        searched="test",
        time=when,
        figures={"lead_up_s": 6 * 3600.0, "changes_examined": float(examined), "evidence": 1.0},
        labels={"scope": "own", "components": component},
    )


def _spans(component: str, value: float) -> Evidence:
    # the traces tool compares the whole window: its items carry the window start
    ev = _evidence(component, "span_behaviour", value, scope="own")
    return ev.model_copy(update={"tool": "traces", "time": WINDOW.start})


def test_span_evidence_sets_no_onset_before_a_deployment(tmp_path: Path) -> None:
    arch = _arch(tmp_path)
    api = arch.get("Orders API").id
    errors = _evidence(api, "metric_anomaly", 10.0, role="errors", harmful="true")  # ONSET+1
    deploy = _change(api, 3)  # after the window start, 4 min before the errors
    alone = _scores(arch, [errors, _spans(api, 8.0)])["Orders API"]
    got = _scores(arch, [errors, _spans(api, 8.0), deploy])["Orders API"]
    assert alone == 10.0
    assert got > alone  # the deployment precedes the errors: Fisher-combined with them


def test_a_change_on_a_victim_borrows_nothing_from_its_callers(tmp_path: Path) -> None:
    arch = _arch(tmp_path)
    web, api, db = (arch.get(n).id for n in ("Web App", "Orders API", "Orders DB"))
    cause = _evidence(db, "metric_anomaly", 20.0, role="saturation", harmful="true", scope="own")
    victim = _evidence(api, "metric_anomaly", 30.0, role="errors", harmful="true")
    caller = _evidence(web, "metric_anomaly", 30.0, role="errors", harmful="true")
    caller = caller.model_copy(update={"time": ONSET + timedelta(minutes=3)})
    # a routine deployment of the API lands after the database went bad, before the web errors
    deploy = _change(api, -1.5)
    got = _scores(arch, [cause, victim, caller, deploy])
    # the API's symptom is two thirds explained by the database: the web app's errors reach
    # it through the API, so they count for the change by the same third at most
    assert got["Orders API"] < got["Orders DB"]
    assert got["Orders API"] < 30.0 / 3 + 3


def test_failures_that_originate_below_are_the_dependencys(tmp_path: Path) -> None:
    arch = _arch(tmp_path)
    api, db = arch.get("Orders API").id, arch.get("Orders DB").id
    # a sample of spans says the failures originate in the database (a weaker test than the
    # API's error count over every request)
    origin = _evidence(db, "error_origin", 7.0, scope="own").model_copy(update={"tool": "traces"})
    errors = _evidence(api, "metric_anomaly", 36.0, role="errors", harmful="true")
    slow = _evidence(api, "metric_anomaly", 5.0, role="latency", harmful="true")
    got = _scores(arch, [origin, errors, slow])
    assert got["Orders DB"] == 7.0
    assert got["Orders API"] == 0.0  # its latency (5) is explained by the database too (7)
    # failures that also originate in the API itself are its own: strengths compare as before
    own = _evidence(api, "error_origin", 4.0, scope="own").model_copy(update={"tool": "traces"})
    got = _scores(arch, [origin, errors, slow, own])
    assert got["Orders API"] == round(36.0 * (1 - 7.0 / 36.0), 3)


def _self_time(component: str, value: float, minutes_after_onset: float) -> Evidence:
    # a self-time shift whose change point lies inside the window: an observed onset
    ev = _evidence(component, "self_time", value, scope="own", role="latency", onset="observed")
    when = ONSET + timedelta(minutes=minutes_after_onset)
    return ev.model_copy(update={"tool": "traces", "time": when})


def test_an_observed_self_time_onset_gives_a_deployment_its_timing(tmp_path: Path) -> None:
    arch = _arch(tmp_path)
    web, api = arch.get("Web App").id, arch.get("Orders API").id
    # the API's own code got slower 2 min after its deployment; only the spans show it
    slower = _self_time(api, 12.0, 0.0)
    slow_web = _evidence(web, "metric_anomaly", 9.0, role="latency", harmful="true")
    deploy = _change(api, 2)
    # the deployment's timing is combined with the shift (no caller has an onset to lend)
    assert _scores(arch, [slower, deploy])["Orders API"] > 12.0
    got = _scores(arch, [slower, slow_web])
    assert got["Web App"] < 3.0  # the caller's latency is explained by the API's own time
    # without an observed onset (a window-wide comparison) the deployment gets no timing
    window_wide = slower.model_copy(
        update={"time": WINDOW.start, "labels": {**slower.labels, "onset": "window"}}
    )
    assert _scores(arch, [window_wide, deploy])["Orders API"] == 12.0
