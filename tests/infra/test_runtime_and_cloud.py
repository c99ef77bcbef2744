"""The AgentCore Runtime entry point and ``rca ask --cloud`` (InvokeAgentRuntime, Stubber)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from typer.testing import CliRunner

from agent.cloud import CloudRuntime, runtime_session_id
from agent.runtime import RuntimeReply, RuntimeRequest, RuntimeSettings, create_app, handle
from agent.service import InvestigationService
from agent.sessions import SqliteSessionStore
from cli.main import app as cli
from tests.builders import write_chain_bundle
from tools.errors import RcaError

ARN = "arn:aws:bedrock-agentcore:eu-west-1:111122223333:runtime/rca_investigator-AbCd123456"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("runtime") / "chain")


def trial(bundle: Path, tmp_path: Path) -> tuple[InvestigationService, RuntimeSettings]:
    service = InvestigationService(SqliteSessionStore(tmp_path / "rca.db"))
    return service, RuntimeSettings(bundle=str(bundle), provider="heuristic")


def test_the_entrypoint_starts_and_follows_up_an_investigation(
    bundle: Path, tmp_path: Path
) -> None:
    service, settings = trial(bundle, tmp_path)
    app = create_app(service, settings)
    invoke = app.handlers["main"]
    context = type("Ctx", (), {"session_id": "s" * 40})()
    first = RuntimeReply.model_validate(invoke({"question": "orders fail after deploy"}, context))
    assert first.status == "ok" and first.session == "s" * 40
    assert first.record is not None and first.record.turns[-1].answer is not None
    assert any(e.kind == "tool_call_finished" for e in first.events)
    second = RuntimeReply.model_validate(
        invoke({"action": "follow_up", "question": "is the database involved?"}, context)
    )
    assert second.status == "ok" and len(second.record.turns) == 2  # type: ignore[union-attr]
    got = handle({"action": "get", "session": "s" * 40}, None, service=service, settings=settings)
    assert len(got["record"]["turns"]) == 2


def test_bad_requests_and_missing_configuration_are_one_line_errors(
    bundle: Path, tmp_path: Path
) -> None:
    service, settings = trial(bundle, tmp_path)
    bad = handle({"action": "delete"}, "s" * 40, service=service, settings=settings)
    assert bad["status"] == "error" and bad["error"].startswith("bad request: action")
    nokey = handle({"question": "x"}, None, service=service, settings=settings)
    assert nokey["status"] == "error" and "session" in nokey["error"]
    with pytest.raises(RcaError, match="RCA_WORKSPACE"):
        RuntimeSettings.from_env({})
    with pytest.raises(RcaError, match="RCA_MODEL_ID"):
        RuntimeSettings.from_env({"RCA_WORKSPACE": "s3://b/ws.json"})


def reply_body(payload: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_cloud_runtime_sends_the_documented_request(bundle: Path, tmp_path: Path) -> None:
    service, settings = trial(bundle, tmp_path)
    request = RuntimeRequest(question="orders fail after deploy", session="cli-abc")
    answer = handle(request.model_dump(mode="json"), None, service=service, settings=settings)
    client = boto3.client("bedrock-agentcore", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_agent_runtime",
            {"response": reply_body(answer), "contentType": "application/json",
             "runtimeSessionId": runtime_session_id("cli-abc"), "statusCode": 200},
            {
                "agentRuntimeArn": ARN,
                "runtimeSessionId": runtime_session_id("cli-abc"),
                "contentType": "application/json",
                "accept": "application/json",
                "payload": json.dumps(request.model_dump(mode="json", exclude_none=True)).encode(),
            },
        )  # fmt: skip
        reply = CloudRuntime(ARN, client=client).invoke(request)
        stub.assert_no_pending_responses()
    assert reply.record is not None and reply.record.id == "cli-abc"
    assert len(runtime_session_id("cli-abc")) >= 33


def test_cloud_errors_are_translated(tmp_path: Path) -> None:
    client = boto3.client("bedrock-agentcore", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error("invoke_agent_runtime", "AccessDeniedException", "not allowed")
        with pytest.raises(RcaError, match=r"AccessDenied|access"):
            CloudRuntime(ARN, client=client).invoke(RuntimeRequest(question="x", session="k"))
    with pytest.raises(RcaError, match="not an AgentCore runtime ARN"):
        CloudRuntime("arn:aws:lambda:eu-west-1:111122223333:function:x", client=client)


def test_rca_ask_cloud_renders_the_runtime_answer(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, settings = trial(bundle, tmp_path)
    client = boto3.client("bedrock-agentcore", region_name="eu-west-1")
    stub = Stubber(client)

    def fake_make_client(name: str, **_: Any) -> Any:
        assert name == "bedrock-agentcore"
        return client

    monkeypatch.setattr("agent.cloud.make_client", fake_make_client)

    request = RuntimeRequest(question="orders fail after deploy", session="cli-xyz")
    answer = handle(request.model_dump(mode="json"), None, service=service, settings=settings)
    stub.add_response(
        "invoke_agent_runtime",
        {"response": reply_body(answer), "contentType": "application/json", "statusCode": 200},
    )
    stub.activate()
    result = CliRunner().invoke(
        cli, ["ask", "orders fail after deploy", "--cloud", "--runtime-arn", ARN, "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["turns"][-1]["answer"]["hypotheses"]
    missing = CliRunner().invoke(cli, ["ask", "x", "--cloud"], env={"RCA_AGENT_RUNTIME_ARN": ""})
    assert missing.exit_code == 2 and "--runtime-arn" in missing.output
