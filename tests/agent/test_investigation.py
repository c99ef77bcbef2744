"""The heuristic investigator and the loop, end to end on a hand-built bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.factory import open_bundle
from agent.loop import InvestigationLoop
from agent.models import ToolCall
from agent.providers.base import SUBMIT_TOOL, LoopState, Turn
from agent.providers.heuristic import HeuristicProvider
from agent.providers.scripted import ScriptedProvider
from tests.builders import investigate, write_chain_bundle


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "chain")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "healthy", fault=False)


def test_deployment_fault_ranked_first_with_cited_evidence(chain: Path) -> None:
    inv = investigate(chain)
    assert inv.answer is not None and not inv.answer.partial
    top = inv.answer.hypotheses[0]
    evidence = {e.id: e for e in inv.evidence}
    assert evidence and top.component == "3"  # Orders API
    assert top.fault_category == "deployment"
    kinds = {evidence[i].kind for i in top.supporting_evidence}
    assert {"change", "metric_anomaly", "log_pattern"} <= kinds
    cited_change = next(
        evidence[i] for i in top.supporting_evidence if evidence[i].kind == "change"
    )
    assert cited_change.labels["event_name"].startswith("UpdateFunctionCode")
    # the decoy DB change is not cited in support of anything
    decoy = [e for e in inv.evidence if e.labels.get("event_name") == "ModifyDBInstance"]
    assert decoy and all(decoy[0].id not in h.supporting_evidence for h in inv.answer.hypotheses)
    # Web App is a victim: ranked below, with its dependency's evidence as contradiction
    web = next(h for h in inv.answer.hypotheses if h.component == "2")
    assert web.rank > 1 and web.contradicting_evidence
    assert top.propagation_path == ["Orders API", "Web App"]
    # secrets never reach the answer
    assert "hunter2" not in inv.model_dump_json()


def test_healthy_bundle_gives_low_confidence(healthy: Path) -> None:
    inv = investigate(healthy)
    assert inv.answer is not None
    assert inv.answer.hypotheses[0].confidence <= 0.5
    assert all(e.kind != "metric_anomaly" for e in inv.evidence)


def _submit(state: LoopState, ids: list[str]) -> Turn:
    return Turn(
        tool_calls=[
            ToolCall(
                id="s",
                name=SUBMIT_TOOL,
                input={
                    "hypotheses": [
                        {
                            "rank": 1,
                            "statement": "Orders API broke",
                            "component": "Orders API",
                            "confidence": 0.8,
                            "supporting_evidence": ids,
                        }
                    ]
                },
            )
        ]
    )


def test_invented_evidence_rejected_once_then_fixed(chain: Path) -> None:
    session = open_bundle(chain)
    provider = ScriptedProvider(
        [
            Turn(
                tool_calls=[
                    ToolCall(id="a", name="metrics", input={"components": ["Orders API"]}),
                    ToolCall(id="b", name="logs", input={"components": ["Orders API"]}),
                ]
            ),
            lambda s: _submit(s, ["E1", "E99"]),
            lambda s: _submit(s, ["E1"]),
        ]
    )
    inv = InvestigationLoop(session.context, provider).run("orders fail")
    assert inv.answer is not None and inv.answer.hypotheses[0].supporting_evidence == ["E1"]
    assert any("E99" in n for n in inv.notes)
    assert "E99" in provider.seen[-1].feedback[0]
    assert inv.answer.hypotheses[0].component == "3"  # names become ids
    assert inv.answer.hypotheses[0].scorer_confidence is not None
    assert len(inv.steps[0].executions) == 2  # parallel calls of one turn


def test_tool_error_comes_back_as_result(chain: Path) -> None:
    session = open_bundle(chain)
    provider = ScriptedProvider(
        [
            Turn(
                tool_calls=[
                    ToolCall(id="a", name="metrics", input={"components": ["Payments"]}),
                    ToolCall(id="b", name="delete_everything", input={}),
                    ToolCall(id="c", name="logs", input={"components": []}),
                ]
            ),
            lambda s: (
                _submit(s, ["E1"])
                if False
                else Turn(
                    tool_calls=[
                        ToolCall(id="d", name="metrics", input={"components": ["Orders API"]})
                    ]
                )
            ),
            lambda s: _submit(s, ["E1"]),
        ]
    )
    inv = InvestigationLoop(session.context, provider).run("orders fail")
    errors = [ex.result.error for ex in inv.steps[0].executions]
    assert "unknown component 'Payments'" in errors[0]
    assert "unknown tool 'delete_everything'" in errors[1]
    assert "invalid arguments" in errors[2]
    assert inv.answer is not None and inv.answer.hypotheses[0].component == "3"


def test_repeated_call_blocked_and_budget_gives_partial(chain: Path) -> None:
    session = open_bundle(chain)
    call = ToolCall(id="a", name="metrics", input={"components": ["Orders API"]})
    provider = ScriptedProvider([Turn(tool_calls=[call]), Turn(tool_calls=[call])])
    inv = InvestigationLoop(session.context, provider, max_steps=2).run("orders fail")
    assert "identical call" in (inv.steps[1].executions[0].result.error or "")
    assert inv.answer is not None and inv.answer.partial
    assert inv.answer.hypotheses[0].component == "3"
    assert any("budget" in n for n in inv.notes)


def test_focus_component_must_exist(chain: Path) -> None:
    from tools.errors import UnknownComponentError

    session = open_bundle(chain)
    with pytest.raises(UnknownComponentError):
        HeuristicProvider(session.architecture, ["Nope"])
