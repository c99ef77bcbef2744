"""Document-first Bedrock review requests with prompt-cache checkpoints (botocore Stubber: every
request is validated against the bedrock-runtime service model and compared exactly)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lenses.catalog import Lens, Question
from reviews.assess import Unit, retrieve_guidance
from reviews.assessors.bedrock import (
    DOCUMENT_INTRO,
    TOOL_NAME,
    BedrockAssessor,
    document_block,
    tool_config,
)
from reviews.models import DocumentText, PageText
from reviews.render import render_template
from tests.builders import one_question_lens
from tests.reviews.conftest import design_page
from tests.reviews.test_bedrock import NONCE, Capture
from tools.aws.models import CACHE_POINT

SONNET_37 = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"  # 1,024 tokens per checkpoint
HAIKU_45 = "global.anthropic.claude-haiku-4-5-20251001-v1:0"  # 4,096 tokens per checkpoint
NOVA_PRO = "us.amazon.nova-pro-v1:0"  # 1K per checkpoint, no tools checkpoint, 20K at most


def long_document(pages: int = 12) -> DocumentText:
    """A design document of ``pages`` pages, about 2,600 characters each (~8k tokens in all)."""
    body = (
        "The order service runs on Amazon ECS in two Availability Zones behind an Application "
        "Load Balancer. Orders are stored in Amazon Aurora PostgreSQL with automated backups. "
    )
    return DocumentText(
        source="long.pdf",
        sha256="d" * 64,
        extractor="pdfplumber",
        pages=[PageText(number=n, text=f"Section {n}\n" + body * 15) for n in range(1, pages + 1)],
    )


def _unit(lens: Lens, notes: Any, retriever: Any, question: Question) -> tuple[Unit, Any]:
    catalog = {n.choice_id: n for n in notes}
    guidance = {question.id: retrieve_guidance(retriever, lens, question, question.title, catalog)}
    return Unit(key=question.id, pillar_id=question.pillar_id, questions=[question]), guidance


def _reply(question: Question, use_id: str = "tu-1", **usage: int) -> dict[str, Any]:
    answer = {
        "question_id": question.id,
        "summary": "Not described.",
        "best_practices": [
            {"choice_id": c.id, "verdict": "not_addressed", "rationale": "not in the document"}
            for c in question.best_practices
        ],
    }
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "toolUse": {
                            "toolUseId": use_id,
                            "name": TOOL_NAME,
                            "input": {"questions": [answer]},
                        }
                    }
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 900, "outputTokens": 300, "totalTokens": 1200, **usage},
        "metrics": {"latencyMs": 1000},
    }


def _system() -> str:
    return render_template(
        "assess_system.md.j2",
        lens_name="AWS Well-Architected Framework",
        tool_name=TOOL_NAME,
        nonce=NONCE,
    )


def _cache_points(node: Any) -> int:
    if isinstance(node, dict):
        return ("cachePoint" in node) + sum(_cache_points(v) for v in node.values())
    if isinstance(node, list):
        return sum(_cache_points(v) for v in node)
    return 0


def _params(
    model: str, system: Any, messages: Any, tools: Any = None, max_tokens: int = 8192
) -> dict[str, Any]:
    """The exact Converse parameters (``tools`` defaults to the plain tool config)."""
    return {
        "modelId": model,
        "system": system,
        "messages": messages,
        "toolConfig": tool_config(model) if tools is None else tools,
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
    }


def _long_unit(lens: Lens, notes: Any, retriever: Any) -> tuple[Any, Any, Any, Any]:
    """A long document and the backing-up-data question as one unit: (doc, question, unit,
    guidance)."""
    doc = long_document()
    question = lens.question("backing-up-data")
    unit, guidance = _unit(lens, notes, retriever, question)
    return doc, question, unit, guidance


def _blocks(assessor: BedrockAssessor, doc: Any, unit: Any, guidance: Any) -> tuple[str, dict]:
    """The document text and the unit's text block of a request."""
    document = DOCUMENT_INTRO + document_block(doc, NONCE)
    return document, {"text": assessor.request_text(doc, unit, guidance, "deep")}


def _stubbed(lens: Lens, model: str) -> tuple[Any, BedrockAssessor]:
    client = boto3.client("bedrock-runtime", region_name="eu-central-1")
    return client, BedrockAssessor(lens, model, client=client, nonce=NONCE)


def test_cached_request_puts_the_document_first_and_checkpoints_after_system_and_document(
    lens, notes, retriever
) -> None:  # type: ignore[no-untyped-def]
    doc, question, unit, guidance = _long_unit(lens, notes, retriever)
    client, assessor = _stubbed(lens, SONNET_37)
    document, unit_block = _blocks(assessor, doc, unit, guidance)
    # tool spec (~620 tokens) is under 1,024: no checkpoint there; tools + system pass it
    expected = _params(
        SONNET_37,
        [{"text": _system()}, CACHE_POINT],
        [{"role": "user", "content": [{"text": document}, CACHE_POINT, unit_block]}],
    )
    with Stubber(client) as stub:
        stub.add_response("converse", _reply(question), expected)
        (draft,) = assessor.assess(doc, unit, guidance, "deep")
        stub.assert_no_pending_responses()
    assert draft.question_id == question.id
    unit_text = expected["messages"][0]["content"][2]["text"]
    assert f"({question.id}): {question.title}" in unit_text and "[page 1]" not in unit_text
    assert f"({question.id})" not in document  # the questions come after the document
    assert unit_text.rstrip().endswith(f"answer by calling `{TOOL_NAME}` once.")


def test_checkpoint_only_after_the_minimum_of_the_model(lens, notes, retriever) -> None:  # type: ignore[no-untyped-def]
    """Claude Haiku 4.5 needs 4,096 tokens per checkpoint: tools and system (~1,240 tokens
    together) get none, the ~8k-token document does; a two-page document gets none at all."""
    question = lens.question("backing-up-data")
    client, assessor = _stubbed(lens, HAIKU_45)
    for doc, cached in ((long_document(), True), (design_page("Backups: Aurora, 7 days."), False)):
        unit, guidance = _unit(lens, notes, retriever, question)
        request = Capture()
        system = Capture()
        with Stubber(client) as stub:
            stub.add_response(
                "converse",
                _reply(question),
                _params(HAIKU_45, system, request),
            )
            assessor.assess(doc, unit, guidance, "deep")
        assert system.values[0] == [{"text": _system()}]
        content = request.values[0][0]["content"]
        assert (content[1] == CACHE_POINT) is cached
        assert len(content) == (3 if cached else 2)
        assert content[0]["text"] == DOCUMENT_INTRO + document_block(doc, NONCE)


@pytest.mark.parametrize(
    "model", ["us.meta.llama3-3-70b-instruct-v1:0", "mistral.mistral-large-2407-v1:0"]
)
def test_families_without_prompt_caching_get_the_same_order_and_no_checkpoint(
    lens, notes, retriever, model: str
) -> None:  # type: ignore[no-untyped-def]
    doc, question, unit, guidance = _long_unit(lens, notes, retriever)
    client, assessor = _stubbed(lens, model)
    document, unit_block = _blocks(assessor, doc, unit, guidance)
    expected = _params(
        model,
        [{"text": _system()}],
        [{"role": "user", "content": [{"text": document}, unit_block]}],
        max_tokens=assessor.max_tokens,
    )
    assert _cache_points(expected) == 0
    with Stubber(client) as stub:
        stub.add_response("converse", _reply(question), expected)
        assessor.assess(doc, unit, guidance, "deep")
        stub.assert_no_pending_responses()


def test_nova_caches_system_and_messages_but_not_a_prefix_over_20k_tokens(
    lens, notes, retriever
) -> None:  # type: ignore[no-untyped-def]
    question = lens.question("backing-up-data")
    client, assessor = _stubbed(lens, NOVA_PRO)
    for pages, cached in ((12, True), (40, False)):  # ~8k and ~26k tokens of document
        doc = long_document(pages)
        unit, guidance = _unit(lens, notes, retriever, question)
        request = Capture()
        tools = Capture()
        with Stubber(client) as stub:
            stub.add_response(
                "converse",
                _reply(question),
                _params(NOVA_PRO, [{"text": _system()}], request, tools),
            )
            assessor.assess(doc, unit, guidance, "deep")
        assert tools.values[0] == tool_config(NOVA_PRO)  # Nova: no tools checkpoint
        assert (request.values[0][0]["content"][1] == CACHE_POINT) is cached


def test_document_block_is_byte_identical_across_the_units_of_a_review(
    lens, notes, retriever
) -> None:  # type: ignore[no-untyped-def]
    doc = long_document()
    client, assessor = _stubbed(lens, SONNET_37)
    first, second = lens.pillar("reliability").questions[:2]
    requests = Capture()
    systems = Capture()
    with Stubber(client) as stub:
        for n, question in enumerate((first, second)):
            unit, guidance = _unit(lens, notes, retriever, question)
            stub.add_response(
                "converse",
                _reply(question, f"tu-{n}"),
                _params(SONNET_37, systems, requests),
            )
            assessor.assess(doc, unit, guidance, "deep")
        stub.assert_no_pending_responses()
    a, b = (m[0]["content"] for m in requests.values)
    assert a[:2] == b[:2] and a[1] == CACHE_POINT  # the cached prefix: same bytes
    assert a[2] != b[2] and first.id in a[2]["text"] and second.id in b[2]["text"]
    assert systems.values[0] == systems.values[1]


def test_repair_turn_keeps_the_cached_prefix(lens, notes, retriever) -> None:  # type: ignore[no-untyped-def]
    doc = long_document()
    question = lens.question("backing-up-data")
    unit, guidance = _unit(lens, notes, retriever, question)
    client, assessor = _stubbed(lens, SONNET_37)
    requests = Capture()
    wrong = _reply(question)
    wrong["output"]["message"]["content"][0]["toolUse"]["input"]["questions"][0]["question_id"] = (
        "made-up"
    )
    expected = _params(SONNET_37, [{"text": _system()}, CACHE_POINT], requests)
    with Stubber(client) as stub:
        stub.add_response("converse", wrong, expected)
        stub.add_response("converse", _reply(question, "tu-2"), expected)
        assessor.assess(doc, unit, guidance, "deep")
        stub.assert_no_pending_responses()
    first, repair = requests.values
    assert repair[0] == first[0] and first[0]["content"][1] == CACHE_POINT
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert repair[2]["content"][0]["toolResult"]["status"] == "error"


def test_usage_sums_cache_tokens_per_review_view_and_in_total(lens, notes, retriever) -> None:  # type: ignore[no-untyped-def]
    """Cache reads and writes are summed. Two reviews on one service use two views of one
    assessor: each view's usage is its own requests' (the runner reports it per run), the
    assessor's is the sum of both."""
    doc = long_document()
    client, assessor = _stubbed(lens, SONNET_37)
    first, second = lens.pillar("reliability").questions[:2]
    one, two = assessor.for_review("n" * 16), assessor.for_review("m" * 16)
    with Stubber(client) as stub:
        stub.add_response("converse", _reply(first, cacheWriteInputTokens=7000))
        stub.add_response("converse", _reply(second, "tu-2", cacheReadInputTokens=5000))
        for view, question in ((one, first), (two, second)):
            unit, guidance = _unit(lens, notes, retriever, question)
            view.assess(doc, unit, guidance, "deep")
    assert one.usage() == {
        "input_tokens": 900,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_write_tokens": 7000,
    }
    assert two.usage()["cache_read_tokens"] == 5000 and two.usage()["cache_write_tokens"] == 0
    assert assessor.usage() == {
        "input_tokens": 1800,
        "output_tokens": 600,
        "cache_read_tokens": 5000,
        "cache_write_tokens": 7000,
    }


def test_runner_reports_the_run_s_tokens(lens, notes, retriever, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reviews.models import ReviewRecord
    from reviews.runner import ReviewRunner
    from reviews.store import SqliteReviewStore

    question = lens.question("backing-up-data")
    one = one_question_lens(lens, question)
    client = boto3.client("bedrock-runtime", region_name="eu-central-1")
    assessor = BedrockAssessor(one, SONNET_37, client=client, nonce=NONCE)
    store = SqliteReviewStore(tmp_path / "u.db")
    store.create(ReviewRecord(id="use-1", document="d.pdf", document_name="d.pdf", mode="deep"))
    events: list[tuple[str, dict[str, Any]]] = []
    runner = ReviewRunner(
        assessor, one, retriever, notes, store, progress=lambda e, p: events.append((e, p))
    )
    with Stubber(client) as stub:
        stub.add_response("converse", _reply(question, cacheReadInputTokens=5000))
        runner.run("use-1", long_document(), "deep")
    end = dict(events)["end"]
    assert end["requests"] == 1 and end["cache_read_tokens"] == 5000
    assert end["input_tokens"] == 900 and end["cache_write_tokens"] == 0


def test_cli_progress_shows_the_cache_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import cli.review
    from reviews.service_models import ReviewEvent

    buffer = io.StringIO()
    monkeypatch.setattr(cli.review, "err", Console(file=buffer, width=200))
    show = cli.review._Progress(quiet=False)
    show.enabled = True
    data = {"seconds": 3.0, "requests": 57, "input_tokens": 109616, "output_tokens": 2000}
    data |= {"cache_read_tokens": 377832, "cache_write_tokens": 6747}
    show(ReviewEvent(kind="assessment_finished", review_id="r-1234", data=data))
    show(ReviewEvent(kind="assessment_finished", review_id="r-1234", data={"requests": 6}))
    assert buffer.getvalue() == (
        "  57 requests: 109616 input tokens (+377832 read from and 6747 written to the prompt "
        "cache), 2000 output tokens\n"
    )


def test_cost_benchmark_writes_the_prefix_once_and_reads_it_on_every_other_request(
    tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import load_benchmark
    from tests.reviews.conftest import DR, design_pdf

    bench = load_benchmark("bedrock_review_cost")
    pdf = design_pdf(DR)  # skips without the shared documents
    client, usage = bench.review(pdf, "deep", SONNET_37)
    prefixes = {prefix for _, prefix in client.requests}
    assert len(client.requests) == 57 and len(prefixes) == 1 and 0 not in prefixes
    prefix = prefixes.pop() // 4
    assert usage["cache_write_tokens"] == prefix and usage["cache_read_tokens"] == 56 * prefix
    empty = tmp_path / "none"
    bench.DOCS = empty
    assert bench.main([]) == 0
    assert capsys.readouterr().out == f"no design documents in {empty}: nothing to measure\n"
