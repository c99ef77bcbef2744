"""Sessions: follow-ups reuse evidence, stores (SQLite, DynamoDB), reports, the managed runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from agent.factory import make_provider, open_bundle
from agent.managed import ManagedAgentRuntime
from agent.models import ToolCall
from agent.providers.base import SUBMIT_TOOL, LoopState, Turn
from agent.providers.scripted import ScriptedProvider
from agent.report import render_report
from agent.service import BundleSource, InvestigationService
from agent.sessions import DynamoSessionStore, SessionError, SqliteSessionStore
from cli.main import app
from tests.builders import write_chain_bundle
from tools.aws.errors import ThrottledError
from tools.errors import ModelError


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "chain")


def _service(tmp_path: Path) -> InvestigationService:
    return InvestigationService(SqliteSessionStore(tmp_path / "s.db"))


def test_heuristic_follow_up_examines_only_what_is_new(chain: Path, tmp_path: Path) -> None:
    service = _service(tmp_path)
    source = BundleSource(path=str(chain))
    record = service.start(None, "Shoppers get errors in the web app", source)
    first_ids = {e.id for e in record.turns[0].evidence}
    record = service.follow_up(record.id, "is the Orders DB involved?")
    second = record.turns[-1]
    assert second.answer is not None
    calls = [ex.call for s in second.steps for ex in s.executions]
    # the DB was already examined on the affected path: no re-query, just an answer
    assert calls == []  # nothing re-queried: the answer comes from the evidence at hand
    assert "Orders DB" in second.answer.summary
    assert {e.id for e in second.evidence} >= first_ids  # earlier evidence kept, same ids
    assert service.get(record.id).turns[-1].question == "is the Orders DB involved?"


def test_follow_up_requery_on_request(chain: Path, tmp_path: Path) -> None:
    service = _service(tmp_path)
    record = service.start(None, "checkout fails", BundleSource(path=str(chain)))
    n = len(record.turns[0].evidence)
    record = service.follow_up(record.id, "check the Orders API again")
    calls = [ex.call for s in record.turns[-1].steps for ex in s.executions]
    assert calls[0].name == "metrics" and "window" in calls[0].input
    new = [e.id for e in record.turns[-1].evidence][n:]
    assert new and new[0] == f"E{n + 1}"  # numbering continues


def test_scripted_follow_up_sees_context_and_can_cite_old_evidence(
    chain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(tmp_path)
    record = service.start(None, "checkout fails", BundleSource(path=str(chain)))
    seen: list[LoopState] = []

    def answer(state: LoopState) -> Turn:
        seen.append(state)
        return Turn(
            tool_calls=[
                ToolCall(
                    id="s",
                    name=SUBMIT_TOOL,
                    input={
                        "hypotheses": [
                            {
                                "rank": 1,
                                "statement": "still the deploy",
                                "component": "Orders API",
                                "confidence": 0.7,
                                "supporting_evidence": ["E1"],
                            }
                        ]
                    },
                )
            ]
        )

    # the follow-up's model is a script (the service builds providers with make_provider)
    monkeypatch.setattr("agent.service.make_provider", lambda *a, **k: ScriptedProvider([answer]))
    record = service.follow_up(record.id, "what changed?")
    assert "Turn 1 question: checkout fails" in seen[0].context
    assert seen[0].prior and record.turns[-1].answer is not None


def test_missing_session(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="no session 'nope'"):
        SqliteSessionStore(tmp_path / "s.db").load("nope")


def _sessions_table(name: str, region: str) -> Any:
    """A DynamoDB client (under moto) with a sessions table: partition key ``id`` (S)."""
    client = boto3.client("dynamodb", region_name=region)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@mock_aws
def test_dynamodb_store_round_trip(chain: Path) -> None:
    client = _sessions_table("rca-sessions", "eu-central-1")
    store = DynamoSessionStore("rca-sessions", client)
    record = InvestigationService(store).start(
        None, "checkout fails", BundleSource(path=str(chain))
    )
    loaded = store.load(record.id)
    assert loaded.turns[0].answer == record.turns[0].answer
    assert [r[0] for r in store.list()] == [record.id]
    with pytest.raises(SessionError):
        store.load("missing")


def test_report_has_all_sections(chain: Path, tmp_path: Path) -> None:
    service = _service(tmp_path)
    record = service.start(None, "checkout fails", BundleSource(path=str(chain)))
    report = render_report(record, open_bundle(chain).architecture)
    for heading in (
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Hypotheses",
        "## Evidence",
        "## Next steps",
    ):
        assert heading in report
    assert "UpdateFunctionCode" in report and "Orders API" in report
    assert "hunter2" not in report


def test_cli_ask_chat_report_sessions(chain: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["ask", "checkout fails", "--bundle", str(chain), "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    sid = json.loads(result.stdout)["id"]
    result = runner.invoke(app, ["chat", sid, "is the Orders DB involved?", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Orders DB" in result.stdout
    result = runner.invoke(app, ["report", sid])
    assert result.exit_code == 0 and "# Incident report" in result.stdout
    result = runner.invoke(app, ["sessions"])
    assert sid in result.stdout
    result = runner.invoke(app, ["report", "unknown-id"])
    assert result.exit_code == 1 and "no session 'unknown-id'" in result.stderr


class FakeAgentClient:
    """bedrock-agent-runtime InvokeAgent: replays a recorded event stream."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.requests: list[dict[str, Any]] = []

    def invoke_agent(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return {
            "completion": iter(self.events),
            "contentType": "application/json",
            "sessionId": kwargs["sessionId"],
        }


def _trace(orchestration: dict[str, Any]) -> dict[str, Any]:
    return {"trace": {"agentId": "A", "trace": {"orchestrationTrace": orchestration}}}


def test_managed_runtime_renders_trace_and_answer(chain: Path) -> None:
    session = open_bundle(chain)
    tool_output = {
        "tool": "metrics",
        "status": "ok",
        "evidence": [
            {
                "id": "E1",
                "tool": "metrics",
                "kind": "metric_anomaly",
                "component": "3",
                "summary": "Errors rose",
                "searched": "AWS/Lambda",
            }
        ],
    }
    answer = {
        "summary": "Orders API",
        "hypotheses": [
            {
                "rank": 1,
                "statement": "deploy broke it",
                "component": "3",
                "confidence": 0.8,
                "supporting_evidence": ["E1", "E7"],
            }
        ],
    }
    client = FakeAgentClient(
        [
            _trace({"rationale": {"text": "Check metrics of the Orders API"}}),
            _trace(
                {
                    "invocationInput": {
                        "actionGroupInvocationInput": {
                            "actionGroupName": "rca-tools",
                            "function": "metrics",
                            "parameters": [
                                {"name": "components", "type": "array", "value": '["3"]'}
                            ],
                        }
                    }
                }
            ),
            _trace(
                {
                    "observation": {
                        "type": "ACTION_GROUP",
                        "actionGroupInvocationOutput": {"text": json.dumps(tool_output)},
                    }
                }
            ),
            _trace(
                {
                    "modelInvocationOutput": {
                        "metadata": {"usage": {"inputTokens": 900, "outputTokens": 120}}
                    }
                }
            ),
            {"chunk": {"bytes": ("Here is my answer:\n" + json.dumps(answer)).encode()}},
        ]
    )
    events: list[str] = []
    runtime = ManagedAgentRuntime("A", "ALIAS", client=client)
    inv = runtime.run(
        "checkout fails",
        session.context.window,
        session.context.baseline,
        session_id="s-1",
        progress=lambda e, p: events.append(e),
    )
    assert client.requests[0]["sessionId"] == "s-1" and client.requests[0]["enableTrace"]
    attributes = client.requests[0]["sessionState"]["sessionAttributes"]
    assert set(attributes) == {
        "rcaWindowStart",
        "rcaWindowEnd",
        "rcaBaselineStart",
        "rcaBaselineEnd",
    }
    assert events[:3] == ["step", "tool_start", "tool_end"]
    assert inv.answer is not None and inv.answer.hypotheses[0].supporting_evidence == ["E1"]
    assert any("E7" in n for n in inv.notes)
    assert inv.usage.input_tokens == 900


def test_managed_runtime_rejects_a_non_json_answer(chain: Path) -> None:
    session = open_bundle(chain)
    client = FakeAgentClient([{"chunk": {"bytes": b"I think it is the database."}}])
    with pytest.raises(ModelError, match="did not answer with the hypotheses JSON"):
        ManagedAgentRuntime("A", "B", client=client).run(
            "x", session.context.window, session.context.baseline
        )
    client = FakeAgentClient([{"throttlingException": {"message": "slow down"}}])
    with pytest.raises(ThrottledError, match="throttlingException"):
        ManagedAgentRuntime("A", "B", client=client).run(
            "x", session.context.window, session.context.baseline
        )


def test_make_provider_rejects_unknown(chain: Path) -> None:
    from tools.errors import RcaError

    with pytest.raises(RcaError, match="unknown model provider"):
        make_provider("gpt", open_bundle(chain))


def _service_record(chain: Path, tmp_path: Path) -> tuple[Any, Any]:
    from agent.service import BundleSource, InvestigationService

    service = InvestigationService(SqliteSessionStore(tmp_path / "svc.db"))
    events: list[Any] = []
    record = service.start(
        "T1/C1/1700000000.0001",
        "checkout fails",
        BundleSource(path=str(chain)),
        listener=events.append,
    )
    return service, (record, events)


def test_service_start_emits_typed_events_and_stores_under_the_callers_key(
    chain: Path, tmp_path: Path
) -> None:
    service, (_record, events) = _service_record(chain, tmp_path)
    kinds = [e.kind for e in events]
    assert kinds[0] == "planning" and "tool_call_started" in kinds
    assert kinds[-1] == "hypotheses"
    finished = [e for e in events if e.kind == "tool_call_finished"]
    assert finished and all(e.tool and e.status for e in finished)
    stored = service.get("T1/C1/1700000000.0001")
    assert stored.version == 1 and stored.turns[0].answer is not None


def test_two_concurrent_follow_ups_both_land(chain: Path, tmp_path: Path) -> None:
    import threading

    service, _ = _service_record(chain, tmp_path)
    key = "T1/C1/1700000000.0001"
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def ask(question: str) -> None:
        barrier.wait()
        try:
            service.follow_up(key, question)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=ask, args=(q,))
        for q in ("is the Orders DB involved?", "check the Orders API again")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    record = service.get(key)
    questions = [t.question for t in record.turns]
    assert sorted(questions[1:]) == ["check the Orders API again", "is the Orders DB involved?"]
    assert record.version == 3
    assert [t.id for t in record.turns] == [key, f"{key}-2", f"{key}-3"]


def test_stale_version_write_is_refused_sqlite_and_dynamodb(chain: Path, tmp_path: Path) -> None:
    from agent.sessions import VersionConflict

    _, (record, _) = _service_record(chain, tmp_path)
    sqlite_store = SqliteSessionStore(tmp_path / "svc.db")
    with pytest.raises(VersionConflict):
        sqlite_store.save_versioned(record.model_copy(), 0)
    with mock_aws():
        client = _sessions_table("s", "eu-west-1")
        store = DynamoSessionStore("s", client)
        fresh = record.model_copy(update={"version": 0})
        store.save_versioned(fresh, 0)
        assert fresh.version == 1
        with pytest.raises(VersionConflict):
            store.save_versioned(record.model_copy(), 0)
        store.save_versioned(fresh, 1)
        assert store.load(record.id).version == 2


def test_managed_runtime_access_denied_names_invoke_agent(chain: Path) -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    session = open_bundle(chain)
    client = boto3.client("bedrock-agent-runtime", region_name="eu-central-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "invoke_agent",
            "AccessDeniedException",
            "not authorized",
            403,
            expected_params={
                "agentId": "AGENT12345",
                "agentAliasId": "ALIAS12345",
                "sessionId": ANY,
                "inputText": "x",
                "enableTrace": True,
                "sessionState": ANY,
            },
        )
        with pytest.raises(ModelError, match="bedrock:InvokeAgent"):
            ManagedAgentRuntime("AGENT12345", "ALIAS12345", client=client).run(
                "x", session.context.window, session.context.baseline
            )
