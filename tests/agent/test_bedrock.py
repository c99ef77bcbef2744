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
from tools.aws.errors import ThrottledError
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


def converse_requests(c: Any) -> list[dict[str, Any]]:
    """The parameters of every Converse call ``c`` makes, in order."""
    captured: list[dict[str, Any]] = []
    c.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: captured.append(params),
    )
    return captured


def reply(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200},
        "metrics": {"latencyMs": 900},
    }


def tool_use(tid: str, name: str, inp: dict[str, Any]) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": tid, "name": name, "input": inp}}


def provider(
    c: Any, chain: Path, model: str = MODEL, **kw: Any
) -> tuple[BedrockConverseProvider, Any]:
    session = open_bundle(chain)
    p = BedrockConverseProvider(
        model,
        window=session.context.window.label(),
        baseline=session.context.baseline.label(),
        client=c,
        nonce=NONCE,
        **kw,
    )
    return p, session


def first_request(model: str, session: Any, question: str, **overrides: Any) -> dict[str, Any]:
    """The exact first Converse request of an investigation of ``question`` (``toolConfig``
    matched with ANY unless overridden), without any cache checkpoint."""
    return {
        "modelId": model,
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
        **overrides,
    }


def test_converse_loop_requests_and_answer(chain: Path) -> None:
    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain)
    question = "Shoppers get errors when they check out"
    first = first_request(MODEL, session, question)
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
    assert tools == ["architecture", "logs", "metrics", "changes", "traces", "submit_hypotheses"]
    schema = captured[0]["toolConfig"]["tools"][5]["toolSpec"]["inputSchema"]["json"]
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
        ("ThrottlingException", "Too many requests", ThrottledError, "retry later"),
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


def guardrail_intervenes(stub: Stubber, guardrail: str = "gr7x2k9q1abc") -> None:
    """Queue one ApplyGuardrail call (source INPUT, version 1) that intervenes."""
    stub.add_response(
        "apply_guardrail",
        {
            "usage": dict.fromkeys(GUARDRAIL_UNITS, 0),
            "action": "GUARDRAIL_INTERVENED",
            "outputs": [],
            "assessments": [],
        },
        {
            "guardrailIdentifier": guardrail,
            "guardrailVersion": "1",
            "source": "INPUT",
            "content": ANY,
        },
    )


def test_guardrail_blocks_a_tool_result(chain: Path) -> None:
    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain, guardrail=("gr7x2k9q1abc", "1"))
    with Stubber(c) as stub:
        stub.add_response("converse", reply([tool_use("t1", "logs", {"components": ["Web App"]})]))
        guardrail_intervenes(stub)
        stub.add_response("converse", reply([_submit("t2")]))
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


def _submit(tid: str) -> dict[str, Any]:
    return tool_use(
        tid,
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


def test_max_tokens_clamped_to_the_model_output_limit(chain: Path) -> None:
    """Claude 3.5 Sonnet v1 is capped at 4,096 output tokens: 8,192 is never sent."""
    c = client()
    p, session = provider(c, chain, max_tokens=8192)
    with Stubber(c) as stub:
        expected = {
            "modelId": MODEL,
            "system": ANY,
            "messages": ANY,
            "toolConfig": ANY,
            "inferenceConfig": {"maxTokens": 4096, "temperature": 0.0},
        }
        stub.add_response("converse", reply([tool_use("t0", "logs", {"components": ["Web App"]})]), expected)
        stub.add_response(
            "converse",
            reply([_submit("t1")]),
            {
                "modelId": MODEL,
                "system": ANY,
                "messages": ANY,
                "toolConfig": ANY,
                "inferenceConfig": {"maxTokens": 4096, "temperature": 0.0},
            },
        )
        InvestigationLoop(session.context, p).run("x")
        stub.assert_no_pending_responses()


def test_max_tokens_stop_drops_the_cut_call_and_moves_on(chain: Path) -> None:
    """stopReason max_tokens: the complete calls run, the cut one is dropped, and the next
    request is a different one (never the same request re-sent)."""
    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain)
    with Stubber(c) as stub:
        stub.add_response(
            "converse",
            reply(
                [
                    tool_use("t1", "logs", {"components": ["Web App"]}),
                    tool_use("t2", "architecture", {"symptom": "x"}),
                ],
                stop="max_tokens",
            ),
        )
        stub.add_response("converse", reply([_submit("t3")]))
        inv = InvestigationLoop(session.context, p).run("x")
    assert [ex.call.id for ex in inv.steps[0].executions] == ["t1"]
    assert "output cut at maxTokens" in inv.steps[0].thought
    second = captured[1]["messages"]
    assert [u["toolUse"]["toolUseId"] for u in second[1]["content"] if "toolUse" in u] == ["t1"]
    assert captured[0] != captured[1]


@pytest.mark.parametrize(
    ("stop", "text"),
    [("guardrail_intervened", "guardrail intervened"), ("content_filtered", "content filtering")],
)
def test_blocked_stop_reasons_are_reported(chain: Path, stop: str, text: str) -> None:
    c = client()
    p, session = provider(c, chain)
    with Stubber(c) as stub:
        stub.add_response("converse", reply([{"text": "..."}], stop=stop))
        with pytest.raises(ModelError, match=text):
            InvestigationLoop(session.context, p).run("x")


def test_tool_result_status_only_for_families_that_accept_it(chain: Path) -> None:
    c = client()
    captured = converse_requests(c)
    session = open_bundle(chain)
    llama = "us.meta.llama3-3-70b-instruct-v1:0"
    p = BedrockConverseProvider(
        llama,
        window=session.context.window.label(),
        baseline=session.context.baseline.label(),
        client=c,
        nonce=NONCE,
        max_tokens=4096,
    )
    with Stubber(c) as stub:
        stub.add_response("converse", reply([tool_use("t1", "logs", {"components": ["Web App"]})]))
        stub.add_response("converse", reply([_submit("t2")]))
        InvestigationLoop(session.context, p).run("x")
    result = captured[1]["messages"][2]["content"][0]["toolResult"]
    assert "status" not in result
    assert captured[1]["inferenceConfig"]["maxTokens"] == 2048  # Llama's output limit


def _add_spans(bundle: Path) -> None:
    """Spans of Web App -> Orders API calls: 4 ms of network time in the baseline, 80 ms in
    the window (a delayed callee)."""
    import pandas as pd

    from tests.builders import WINDOW
    from tools.bundle import SPAN_COLUMNS

    rows = []
    for period, net_ms in ((WINDOW.previous(), 4), (WINDOW, 80)):
        base = int(period.start.timestamp() * 1e9)
        for i in range(60):
            start = base + i * 20_000_000_000
            client_ns, server_ns = (net_ms + 10) * 1_000_000, 10_000_000
            rows += [
                [
                    f"t{start}",
                    f"c{start}",
                    "",
                    "Web App",
                    "web-0",
                    "GET /orders",
                    "client",
                    start,
                    client_ns,
                    "",
                ],
                [
                    f"t{start}",
                    f"s{start}",
                    f"c{start}",
                    "Orders API",
                    "orders-0",
                    "GET /orders",
                    "server",
                    start + net_ms * 500_000,
                    server_ns,
                    "",
                ],
            ]
    pd.DataFrame(rows, columns=list(SPAN_COLUMNS)).to_csv(bundle / "spans.csv", index=False)


def test_the_model_calls_the_traces_tool(tmp_path: Path) -> None:
    bundle = write_chain_bundle(tmp_path / "spans")
    _add_spans(bundle)
    c = client()
    captured: list[dict[str, Any]] = []
    c.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: captured.append(params),
    )
    p, session = provider(c, bundle)
    answer = {
        "summary": "Calls into Orders API are slow",
        "hypotheses": [
            {
                "rank": 1,
                "statement": "Network delay into Orders API",
                "component": "Orders API",
                "fault_category": "latency",
                "confidence": 0.7,
                "supporting_evidence": ["E1"],
            }
        ],
        "gaps": ["no span-linked log statements"],
    }
    with Stubber(c) as stub:
        stub.add_response("converse", reply([tool_use("t1", "traces", {})]))
        stub.add_response("converse", reply([tool_use("t2", "submit_hypotheses", answer)]))
        inv = InvestigationLoop(session.context, p).run("Orders are slow")
        stub.assert_no_pending_responses()
    system = captured[0]["system"][0]["text"]
    assert "`traces`" in system and "-log10 p" in system
    spec = next(t for t in captured[0]["toolConfig"]["tools"] if t["toolSpec"]["name"] == "traces")
    assert "network time" in spec["toolSpec"]["description"]
    result = captured[1]["messages"][2]["content"][0]["toolResult"]
    text = result["content"][0]["text"]
    assert "Orders API" in text and "-log10 p" in text
    traced = [e for e in inv.evidence if e.tool == "traces"]
    assert traced and traced[0].component == session.architecture.get("Orders API").id
    assert traced[0].figures["evidence"] >= 3
    assert inv.answer is not None and inv.answer.gaps == ["no span-linked log statements"]
