"""The investigator on the shipped scenarios (all nine rank the truth first) and the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.evaluation import evaluate, find_bundles
from agent.factory import DEMO_BUNDLE
from tests.builders import investigate

BUNDLES = Path(__file__).resolve().parents[2] / "scenarios" / "bundles"


def test_scenarios_rank_the_root_cause_first() -> None:
    bundles = find_bundles([BUNDLES])
    assert len(bundles) >= 9
    results, scores = evaluate(bundles)
    overall = next(s for s in scores if s.group == "all")
    misses = [(r.case, r.truth, r.ranking[:3]) for r in results if not r.hit(1)]
    assert not misses, misses
    assert overall.ac3 == 1.0, misses
    kinds = {r.fault_kind for r in results}
    assert len(kinds) == len(results)  # every scenario is a different fault kind


def test_demo_answer_cites_change_timeouts_and_traffic_drop() -> None:
    inv = investigate(DEMO_BUNDLE, "Users of the iOS app cannot unlock car doors remotely")
    assert inv.answer is not None
    top = inv.answer.hypotheses[0]
    evidence = {e.id: e for e in inv.evidence}
    cited = [evidence[i] for i in top.supporting_evidence]
    assert top.fault_category == "network_config"
    assert evidence and top.component in {e.component for e in cited}
    change = [e for e in cited if e.kind == "change"]
    assert change and change[0].labels["event_name"] == "RevokeSecurityGroupIngress"
    assert change[0].edge is not None  # mapped to the edge BFF -> RVM API
    assert any(e.kind == "log_pattern" and "Timeout" in e.summary for e in cited)
    assert any(
        e.kind == "metric_anomaly"
        and e.labels["role"] == "load"
        and e.labels["direction"] == "down"
        for e in cited
    )
    assert "RevokeSecurityGroupIngress" in top.statement


@pytest.mark.parametrize("path", find_bundles([BUNDLES]), ids=lambda p: p.name)
def test_investigation_is_deterministic(path: Path) -> None:
    first = investigate(path)
    second = investigate(path)
    assert first.answer is not None and second.answer is not None
    assert first.answer.model_dump() == second.answer.model_dump()
