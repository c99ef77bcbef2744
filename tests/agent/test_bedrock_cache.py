"""Prompt-cache checkpoints of the investigation's Converse requests (botocore Stubber: every
request is validated against the bedrock-runtime service model and compared exactly)."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

from agent.factory import DEMO_BUNDLE
from agent.loop import InvestigationLoop, submit_spec
from agent.models import Step
from agent.providers.base import LoopState
from agent.render import tool_config
from agent.service import BundleSource, InvestigationService, ModelChoice
from agent.sessions import SqliteSessionStore
from tests.agent.test_bedrock import (
    MODEL,
    _submit,
    chain,
    client,
    converse_requests,
    first_request,
    guardrail_intervenes,
    provider,
    reply,
    tool_use,
)
from tests.conftest import load_benchmark
from tools.aws.models import CACHE_POINT, estimate_tokens, prompt_caching
from tools.toolbox import TOOLS

__all__ = ["chain"]  # the module-scoped bundle fixture, shared with test_bedrock

SONNET_37 = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"  # 1,024 tokens per checkpoint
NOVA_PRO = "us.amazon.nova-pro-v1:0"  # 1K per checkpoint, no tools checkpoint, 20K at most
QUESTION = "Shoppers get errors when they check out"


def _specs() -> list[dict[str, Any]]:
    return [t.spec() for t in TOOLS.values()] + [submit_spec()]


def _script() -> list[dict[str, Any]]:
    """Four model turns: architecture, then metrics and logs in parallel, then changes, then
    the answer."""
    return [
        reply(
            [
                {"text": "Start with the architecture."},
                tool_use("t1", "architecture", {"symptom": QUESTION}),
            ]
        ),
        reply(
            [
                tool_use("t2", "metrics", {"components": ["Orders API", "Web App"]}),
                tool_use("t3", "logs", {"components": ["Orders API"]}),
            ]
        ),
        reply([tool_use("t4", "changes", {"components": ["Orders API"]})]),
        reply([_submit("t5")]),
    ]


def _points(request: dict[str, Any]) -> list[str]:
    """Where the request's cachePoint blocks are: ``tools[i]``, ``system[i]``,
    ``messages[m].content[i]``."""
    found = [
        f"tools[{i}]" for i, t in enumerate(request["toolConfig"]["tools"]) if "cachePoint" in t
    ]
    found += [f"system[{i}]" for i, b in enumerate(request["system"]) if "cachePoint" in b]
    for m, message in enumerate(request["messages"]):
        found += [
            f"messages[{m}].content[{i}]"
            for i, b in enumerate(message["content"])
            if "cachePoint" in b
        ]
    return found


def _with_points(
    plain: dict[str, Any], model: str, *, tools: bool, system: bool, last: bool
) -> dict[str, Any]:
    """``plain`` (a request without checkpoints) for ``model`` with checkpoints appended after
    the tools, the system prompt and the last message's blocks."""
    out = copy.deepcopy(plain)
    out["modelId"] = model
    if tools:
        out["toolConfig"]["tools"].append(CACHE_POINT)
    if system:
        out["system"].append(CACHE_POINT)
    if last:
        out["messages"][-1]["content"].append(CACHE_POINT)
    return out


def _tokens(request: dict[str, Any]) -> tuple[int, int, int]:
    """Estimated tokens (characters / 4) of tools, system and messages, as the provider counts."""
    return (
        estimate_tokens(json.dumps(request["toolConfig"]["tools"])),
        estimate_tokens(request["system"][0]["text"]),
        estimate_tokens(json.dumps(request["messages"], ensure_ascii=False)),
    )


def test_checkpoints_on_the_first_and_third_turn_and_the_conversation_checkpoint_moves(
    chain: Path,
) -> None:
    """Claude 3.7 Sonnet (1,024 tokens per checkpoint): the same investigation as with Claude
    3.5 Sonnet v1 (which does not cache), plus a checkpoint after the tools on every turn and
    one at the end of the newest message once the conversation since the tools reaches 1,024
    tokens; the earlier message loses it."""
    plain_client = client()
    plain = converse_requests(plain_client)
    p, session = provider(plain_client, chain, MODEL)
    with Stubber(plain_client) as stub:
        for r in _script():
            stub.add_response("converse", r)
        InvestigationLoop(session.context, p).run(QUESTION)
    assert len(plain) == 4 and not any(_points(r) for r in plain)  # Claude 3.5 Sonnet v1: none

    limits = prompt_caching(SONNET_37)
    assert limits is not None and limits.min_tokens == 1024 and limits.tools
    sizes = [_tokens(r) for r in plain]
    tools_tokens, system_tokens, _ = sizes[0]
    # why the checkpoints land where they do (fails loudly if the prompt sizes change)
    assert tools_tokens >= 1024, "tool specs alone reach the minimum: checkpoint after them"
    assert system_tokens < 1024, "the system prompt alone does not: no checkpoint after it"
    conversation = [system_tokens + messages for _, _, messages in sizes]
    assert conversation[0] < 1024 and conversation[1] < 1024, "turns 1-2: too short to cache"
    assert conversation[2] >= 1024 and conversation[3] >= 1024, "turns 3-4: long enough"

    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain, SONNET_37)
    expected = [
        _with_points(plain[0], SONNET_37, tools=True, system=False, last=False),
        _with_points(plain[1], SONNET_37, tools=True, system=False, last=False),
        _with_points(plain[2], SONNET_37, tools=True, system=False, last=True),
        _with_points(plain[3], SONNET_37, tools=True, system=False, last=True),
    ]
    with Stubber(c) as stub:
        for r, params in zip(_script(), expected, strict=True):
            stub.add_response("converse", r, params)
        inv = InvestigationLoop(session.context, p).run(QUESTION)
        stub.assert_no_pending_responses()
    assert inv.answer is not None
    tools_at = f"tools[{len(_specs())}]"
    assert _points(captured[0]) == [tools_at]
    assert _points(captured[1]) == [tools_at]
    # third turn: after the two parallel tool results of the newest message
    assert _points(captured[2]) == [tools_at, "messages[4].content[2]"]
    last = captured[2]["messages"][4]["content"]
    assert [next(iter(b)) for b in last] == ["toolResult", "toolResult", "cachePoint"]
    # fourth turn: the checkpoint moved to the newest message; the earlier one is byte-identical
    # to what the third turn cached
    assert _points(captured[3]) == [tools_at, "messages[6].content[1]"]
    assert captured[3]["messages"][:5] == plain[2]["messages"]
    assert all(len(_points(r)) <= 4 for r in captured)


@pytest.mark.parametrize(
    ("model", "max_tokens"),
    [("us.meta.llama3-3-70b-instruct-v1:0", 2048), ("mistral.mistral-large-2407-v1:0", 2048)],
)
def test_models_that_do_not_cache_get_todays_request(
    chain: Path, model: str, max_tokens: int
) -> None:
    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain, model)
    first = first_request(
        model,
        session,
        QUESTION,
        toolConfig=tool_config(_specs()),
        inferenceConfig={"maxTokens": max_tokens, "temperature": 0.0},
    )
    with Stubber(c) as stub:
        script = _script()
        stub.add_response("converse", script[0], first)
        stub.add_response("converse", script[1], {**first, "messages": ANY})
        stub.add_response("converse", script[2], {**first, "messages": ANY})
        stub.add_response("converse", script[3], {**first, "messages": ANY})
        InvestigationLoop(session.context, p).run(QUESTION)
        stub.assert_no_pending_responses()
    assert len(captured) == 4
    assert all("cachePoint" not in json.dumps(r) for r in captured)
    assert [len(m["content"]) for m in captured[3]["messages"]] == [1, 2, 1, 2, 2, 1, 1]


def test_guardrail_blocked_result_keeps_valid_shapes_with_checkpoints(chain: Path) -> None:
    """The guardrail replaces a tool result's text; the checkpoint stays a sibling block after
    the tool result, every request passes the service model, and the turn-1 checkpoint's
    prefix is unchanged in turn 2 (the guardrail never rewrites an earlier message)."""
    c = client()
    captured = converse_requests(c)
    p, session = provider(c, chain, SONNET_37, guardrail=("gr7x2k9q1abc", "1"))
    alarm = "ALARM checkout-5xx: " + "HTTP 5xx on POST /checkout above threshold. " * 120
    with Stubber(c) as stub:
        stub.add_response("converse", reply([tool_use("t1", "logs", {"components": ["Web App"]})]))
        guardrail_intervenes(stub)
        stub.add_response("converse", reply([_submit("t2")]))
        InvestigationLoop(session.context, p).run("x", context=alarm)
        stub.assert_no_pending_responses()
    tools_at = f"tools[{len(_specs())}]"
    assert _points(captured[0]) == [tools_at, "messages[0].content[2]"]
    assert _points(captured[1]) == [tools_at, "messages[2].content[1]"]
    blocked, point = captured[1]["messages"][2]["content"]
    assert point == CACHE_POINT
    assert (
        "blocked by the configured Bedrock guardrail" in blocked["toolResult"]["content"][0]["text"]
    )
    assert [list(b) for b in blocked["toolResult"]["content"]] == [["text"]]
    assert captured[1]["messages"][0]["content"] == captured[0]["messages"][0]["content"][:2]
    assert [m["role"] for m in captured[1]["messages"]] == ["user", "assistant", "user"]


def test_system_checkpoint_and_nova_rules(chain: Path) -> None:
    """A system prompt over the minimum gets its own checkpoint; Amazon Nova never gets one
    after the tools, and none beyond its 20K-token cap."""
    state = LoopState(question=QUESTION, tool_specs=_specs(), context="note " * 1000)
    c = client()
    shape = c.meta.service_model.operation_model("Converse").input_shape
    p, _ = provider(c, chain, SONNET_37)
    p.system = p.system + "\nRunbook: " + "check the deploy first. " * 200  # > 1,024 tokens alone
    request = p.request(state)
    validate_parameters(request, shape)
    assert _points(request) == [f"tools[{len(_specs())}]", "system[1]", "messages[0].content[2]"]

    nova, _ = provider(c, chain, NOVA_PRO)
    request = nova.request(state)
    validate_parameters(request, shape)
    assert _points(request) == ["messages[0].content[2]"]  # system + context >= 1K, no tools
    long_turn = Step(index=1, thought="Reasoning. " * 8_000)  # ~22K tokens (characters / 4)
    huge = LoopState(question=QUESTION, tool_specs=_specs(), steps=[long_turn])
    request = nova.request(huge)
    validate_parameters(request, shape)
    assert _points(request) == []  # the conversation would exceed Nova's 20K cached tokens
    request = p.request(huge)  # Claude has no such cap
    assert _points(request)[-1] == "messages[2].content[1]"


def _cached_reply(content: list[dict[str, Any]], read: int, write: int) -> dict[str, Any]:
    out = reply(content)
    out["usage"] = {
        "inputTokens": 100,
        "outputTokens": 50,
        "totalTokens": 150 + read + write,
        "cacheReadInputTokens": read,
        "cacheWriteInputTokens": write,
    }
    return out


@pytest.mark.parametrize(
    ("model", "price", "rates"),
    [
        (SONNET_37, (0.003, 0.015), (1.25, 0.1)),  # Claude: writes +25%, reads -90%
        ("eu.amazon.nova-pro-v1:0", (0.0008, 0.0032), (1.0, 0.25)),  # Nova: reads -75%
    ],
)
def test_cache_usage_is_summed_priced_and_reported(
    chain: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    price: tuple[float, float],
    rates: tuple[float, float],
) -> None:
    """Through the service (the provider builds its client with make_client): the cache read
    and write tokens of every reply are summed, priced at the model family's cache rates, and
    shown in the incident report."""
    c = client()
    monkeypatch.setattr("agent.providers.bedrock.make_client", lambda *a, **k: c)
    service = InvestigationService(SqliteSessionStore(tmp_path / "s.db"))
    with Stubber(c) as stub:
        stub.add_response(
            "converse",
            _cached_reply([tool_use("t1", "logs", {"components": ["Web App"]})], 0, 2300),
        )
        stub.add_response(
            "converse",
            _cached_reply([tool_use("t2", "metrics", {"components": ["Web App"]})], 2300, 700),
        )
        stub.add_response("converse", _cached_reply([_submit("t3")], 3000, 400))
        record = service.start(
            "k1",
            QUESTION,
            BundleSource(path=str(chain)),
            model=ModelChoice(provider="bedrock", model_id=model, region="eu-central-1"),
        )
        stub.assert_no_pending_responses()
    usage = record.turns[0].usage
    assert (usage.input_tokens, usage.output_tokens) == (300, 150)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (5300, 3400)
    billed_in = 300 + 3400 * rates[0] + 5300 * rates[1]
    assert usage.cost_usd == pytest.approx(billed_in / 1000 * price[0] + 150 / 1000 * price[1])
    report = service.report("k1")
    assert (
        "300 input / 150 output tokens (+5300 read from and 3400 written to the prompt cache)"
        in report
    )


def test_token_budget_counts_cache_tokens(chain: Path) -> None:
    """The loop's token budget counts cache reads and writes (tokens the model processed)."""
    c = client()
    p, session = provider(c, chain, SONNET_37)
    with Stubber(c) as stub:
        stub.add_response(
            "converse",
            _cached_reply([tool_use("t1", "logs", {"components": ["Web App"]})], 0, 6000),
        )
        inv = InvestigationLoop(session.context, p, max_tokens=5000).run(QUESTION)
        stub.assert_no_pending_responses()
    assert "token budget of 5000 reached" in inv.notes


def test_cost_benchmark_reads_each_turns_prefix_on_the_next() -> None:
    """benchmarks/agent_cost.py on the demo scenario (Claude 3.7 Sonnet): from the second
    request on, each request reads what the previous one sent (the conversation checkpoint
    moved forward), writes only what is new, and the usage the investigation summed is the
    client's."""
    bench = load_benchmark("agent_cost")
    client, usage = bench.investigate(DEMO_BUNDLE, SONNET_37)
    rows = client.requests  # (blocks, checkpoints, total, input, write, read)
    assert len(rows) == 7 and all(cps <= 4 for _, cps, *_ in rows)
    assert rows[0][5] == 0 and rows[0][4] > 0  # the first request only writes (the tools)
    for before, after in itertools.pairwise(rows[1:]):
        assert after[5] == before[2]  # reads the whole previous request
        assert after[3] == 0 and after[4] == after[2] - before[2]  # writes only the new turn
    assert usage.cache_read_tokens == sum(r[5] for r in rows)
    assert usage.cache_write_tokens == sum(r[4] for r in rows)
    plain = sum(r[2] for r in rows)
    assert usage.input_tokens + usage.cache_write_tokens + usage.cache_read_tokens == plain
    assert usage.cache_read_tokens > plain / 2
