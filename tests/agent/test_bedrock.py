"""The Bedrock Converse provider: exact requests (Stubber), tool results, errors, guardrails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from agent.factory import open_bundle
from agent.loop import InvestigationLoop
from agent.providers.bedrock import BedrockConverseProvider, price_of
from agent.render import render_prompt
from cli.main import app
from tests.builders import write_chain_bundle
from tools.errors import ContextOverflowError, ModelError

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NONCE = "0123456789abcdef"
GUARDRAIL_UNITS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
    "contextualGroundingPolicyUnits",
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "chain")


def client() -> Any:
    return boto3.client(
        "bedrock-runtime", region_name="eu-central-1", config=Config(retries={"max_attempts": 1})
    )


def reply(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200},
        "metrics": {"latencyMs": 900},
    }


def tool_use(tid: str, name: str, inp: dict[str, Any]) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": tid, "name": name, "input": inp}}


def provider(c: Any, chain: Path, **kw: Any) -> tuple[BedrockConverseProvider, Any]:
    session = open_bundle(chain)
    p = BedrockConverseProvider(
        MODEL,
        window=session.context.window.label(),
        baseline=session.context.baseline.label(),
        client=c,
        nonce=NONCE,
        **kw,
    )
    return p, session


def test_converse_loop_requests_and_answer(chain: Path) -> None:
    c = client()
    captured: list[dict[str, Any]] = []
    c.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: captured.append(params),
    )
    p, session = provider(c, chain)
    question = "Shoppers get errors when they check out"
    first = {
        "modelId": MODEL,
        "system": [
            {
                "text": render_prompt(
                    "system.j2",
                    nonce=NONCE,
                    max_steps=8,
                    window=session.context.window.label(),
                    baseline=session.context.baseline.label(),
                )
            }
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"text": f"Symptom / question from the on-call engineer: {question}"}],
            }
        ],
        "toolConfig": ANY,
        "inferenceConfig": {"maxTokens": 2048, "temperature": 0.0},
    }
    with Stubber(c) as stub:
        stub.add_response(
            "converse",
            reply(
                [
                    {"text": "Start with the architecture."},
                    tool_use("t1", "architecture", {"symptom": question}),
                ]
            ),
            first,
        )
        stub.add_response(
            "converse",
            reply(
                [
                    tool_use("t2", "metrics", {"components": ["Orders API", "Web App"]}),
                    tool_use("t3", "logs", {"components": ["Orders API"]}),
                ]
            ),
            {**first, "messages": ANY},
        )
        stub.add_response(
            "converse",
            reply(
                [
                    tool_use(
                        "t4",
                        "submit_hypotheses",
                        {
                            "summary": "Orders API fails",
                            "hypotheses": [
                                {
                                    "rank": 1,
                                    "statement": "Orders API errors after deploy",
                                    "component": "Orders API",
                                    "fault_category": "deployment",
                                    "confidence": 0.8,
                                    "supporting_evidence": ["E3"],
                                }
                            ],
                        },
                    )
                ],
            ),
            {**first, "messages": ANY},
        )
        inv = InvestigationLoop(session.context, p, price_per_1k=price_of(MODEL)).run(question)
        stub.assert_no_pending_responses()
    tools = [t["toolSpec"]["name"] for t in captured[0]["toolConfig"]["tools"]]
    assert tools == ["architecture", "logs", "metrics", "changes", "submit_hypotheses"]
    schema = captured[0]["toolConfig"]["tools"][4]["toolSpec"]["inputSchema"]["json"]
    assert "hypotheses" in schema["properties"]
    # the third request carries both parallel tool results, wrapped as untrusted data
    third = captured[2]["messages"]
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    results = [b["toolResult"] for b in third[4]["content"]]
    assert [r["toolUseId"] for r in results] == ["t2", "t3"]
    assert all(r["status"] == "success" for r in results)
    text = results[0]["content"][0]["text"]
    assert text.startswith(f"<untrusted-data-{NONCE}>") and text.endswith(
        f"</untrusted-data-{NONCE}>"
    )
    assert inv.answer is not None and inv.answer.hypotheses[0].component == "3"
    assert inv.usage.input_tokens == 3000 and inv.usage.output_tokens == 600
    assert inv.usage.cost_usd == pytest.approx(3 * 0.003 + 0.6 * 0.015)


@pytest.mark.parametrize(
    ("code", "message", "error", "text"),
    [
        ("ThrottlingException", "Too many requests", ModelError, "throttled"),
        ("AccessDeniedException", "no access", ModelError, "enable model access"),
        (
            "ValidationException",
            "Input is too long for requested model.",
            ContextOverflowError,
            "no longer fits",
        ),
        (
            "ResourceNotFoundException",
            "Could not resolve the foundation model",
            ModelError,
            "not found",
        ),
    ],
)
def test_errors_are_translated(
    chain: Path, code: str, message: str, error: type, text: str
) -> None:
    c = client()
    p, session = provider(c, chain)
    with Stubber(c) as stub:
        stub.add_client_error("converse", code, message)
        with pytest.raises(error, match=text) as info:
            InvestigationLoop(session.context, p).run("x")
    assert MODEL in str(info.value) and "eu-central-1" in str(info.value)


def test_guardrail_blocks_a_tool_result(chain: Path) -> None:
    c = client()
    captured: list[dict[str, Any]] = []
    c.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: captured.append(params),
    )
    p, session = provider(c, chain, guardrail=("gr-123", "1"))
    with Stubber(c) as stub:
        stub.add_response("converse", reply([tool_use("t1", "logs", {"components": ["Web App"]})]))
        stub.add_response(
            "apply_guardrail",
            {
                "usage": dict.fromkeys(GUARDRAIL_UNITS, 0),
                "action": "GUARDRAIL_INTERVENED",
                "outputs": [],
                "assessments": [],
            },
            {
                "guardrailIdentifier": "gr-123",
                "guardrailVersion": "1",
                "source": "INPUT",
                "content": ANY,
            },
        )
        stub.add_response(
            "converse",
            reply(
                [
                    tool_use(
                        "t2",
                        "submit_hypotheses",
                        {
                            "hypotheses": [
                                {
                                    "rank": 1,
                                    "statement": "s",
                                    "component": "Web App",
                                    "confidence": 0.5,
                                    "supporting_evidence": ["E1"],
                                }
                            ]
                        },
                    )
                ]
            ),
        )
        InvestigationLoop(session.context, p).run("x")
    text = captured[1]["messages"][2]["content"][0]["toolResult"]["content"][0]["text"]
    assert "blocked by the configured Bedrock guardrail" in text


def test_cli_without_credentials_gives_one_line(
    chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(
        app, ["ask", "x", "--bundle", str(chain), "--model", "bedrock", "--quiet"]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # handled, no crash
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error: no AWS credentials for Bedrock")
    assert "--profile" in last
