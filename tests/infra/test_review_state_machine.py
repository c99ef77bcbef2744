"""The review state machine's task handlers, run in the order the synthesized definition gives.

The definition is read from the synthesized template (so the test fails when the handlers and
the state machine drift apart) and interpreted here: Task -> the Lambda handler its function
names (with the state's Retry and Catch), Map -> each item through the item processor, Choice.
AWS is moto for S3 and DynamoDB; Textract, Bedrock Converse and Knowledge Base Retrieve are
botocore Stubbers whose responses are computed from each request (validated against the service
models like any Stubber response): Textract returns the real PDF's lines, Retrieve the local
BM25 retriever's passages for the request's query and filter, Converse a deterministic verdict
per best practice with verbatim quotes from the document. The same stubs drive
``ReviewService.run`` (what ``rca review`` calls); both assessments must be equal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pdfplumber
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lenses.catalog import load_guidance, load_lens
from reviews import handlers
from reviews.assessors.bedrock import TOOL_NAME, BedrockAssessor
from reviews.models import Assessment
from reviews.retrieve import BedrockKbRetriever, LocalRetriever, RetrievalFilter
from reviews.service import ReviewService, ReviewSettings
from reviews.store import DynamoReviewStore
from reviews.textract import TextractExtractor
from tests.conftest import shared
from tests.infra.conftest import Synthesized

BUCKET = "rca-reviews-test"
KB_ID = "KBTEST0001"
MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
DOC = "aws-disaster-recovery-web-application-detailed-design.pdf"
QUESTION_HEADING = re.compile(r"^## [^\n]*? \(([A-Za-z0-9_-]+)\): ", re.M)


class RespondingStubber(Stubber):
    """A Stubber that computes each response from the request (per operation), then lets the
    Stubber validate it against the service model and return it."""

    def __init__(self, client: Any, responders: dict[str, Callable[[dict[str, Any]], Any]]):
        super().__init__(client)
        self.responders = responders
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._methods = {v: k for k, v in client.meta.method_to_api_mapping.items()}

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kw: Any) -> None:
        responder = self.responders[model.name]
        self.calls.append((model.name, params))
        reply = responder(params)
        if isinstance(reply, Exception):
            self.add_client_error(self._methods[model.name], service_error_code=str(reply))
        else:
            self.add_response(self._methods[model.name], reply)
        super()._assert_expected_params(model, params, context, **kw)


def page_lines(pdf: Path) -> list[list[str]]:
    with pdfplumber.open(pdf) as doc:
        return [
            [ln for ln in (p.extract_text() or "").splitlines() if ln.strip()] for p in doc.pages
        ]


def textract_responders(pages: list[list[str]]) -> dict[str, Callable[[dict[str, Any]], Any]]:
    blocks: list[dict[str, Any]] = []
    for n, lines in enumerate(pages, 1):
        ids = [f"l{n}-{i}" for i in range(len(lines))]
        blocks.append({"BlockType": "PAGE", "Id": f"p{n}", "Page": n,
                       "Relationships": [{"Type": "CHILD", "Ids": ids}]})  # fmt: skip
        blocks += [
            {"BlockType": "LINE", "Id": i, "Text": t, "Page": n}
            for i, t in zip(ids, lines, strict=True)
        ]
    return {
        "StartDocumentAnalysis": lambda params: {
            "JobId": "job-" + params["ClientRequestToken"][:20]
        },
        "GetDocumentAnalysis": lambda params: {
            "JobStatus": "SUCCEEDED",
            "DocumentMetadata": {"Pages": len(pages)},
            "Blocks": blocks,
        },
    }


def retrieve_responder(local: LocalRetriever) -> Callable[[dict[str, Any]], Any]:
    def respond(params: dict[str, Any]) -> dict[str, Any]:
        search = params["retrievalConfiguration"]["vectorSearchConfiguration"]
        flt = RetrievalFilter.from_api(search["filter"]) if "filter" in search else None
        passages = local.retrieve(params["retrievalQuery"]["text"], flt, search["numberOfResults"])
        return {
            "retrievalResults": [
                {
                    "content": {"text": p.text, "type": "TEXT"},
                    "score": p.score,
                    "metadata": p.metadata,
                    "location": {"type": "S3", "s3Location": {
                        "uri": f"s3://guidance/wellarchitected/{p.source}.md"}},
                }
                for p in passages
            ]
        }  # fmt: skip

    return respond


def converse_responder(pages: list[list[str]], throttle_first: set[str]) -> Callable[..., Any]:
    """A verdict per best practice from the document: the line sharing the most words of five
    letters or more with the practice's title is its evidence (>= 3: addressed, 2: partly)."""
    lens = load_lens("wellarchitected")

    def respond(params: dict[str, Any]) -> Any:
        text = "\n".join(b.get("text", "") for b in params["messages"][0]["content"])
        qids = QUESTION_HEADING.findall(text)
        if throttle_first & set(qids):
            throttle_first.difference_update(qids)
            return Exception("ThrottlingException")
        answers = []
        for qid in qids:
            bps = []
            for choice in lens.question(qid).best_practices:
                words = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", choice.title)}
                best = (0, 0, "")
                for n, lines in enumerate(pages, 1):
                    for line in lines:
                        hits = len(words & {w.lower() for w in re.findall(r"[A-Za-z]{5,}", line)})
                        if hits > best[0]:
                            best = (hits, n, line)
                verdict = (
                    "addressed" if best[0] >= 3 else "partly" if best[0] == 2 else "not_addressed"
                )
                bps.append({
                    "choice_id": choice.id,
                    "verdict": verdict,
                    "evidence": [{"page": best[1], "quote": best[2][:300]}] if best[0] >= 2 else [],
                    "guidance": [choice.id],
                    "rationale": f"{best[0]} title words found in the document",
                })  # fmt: skip
            answers.append({"question_id": qid, "best_practices": bps, "summary": "Assessed."})
        return {
            "output": {"message": {"role": "assistant", "content": [{"toolUse": {
                "toolUseId": "t1", "name": TOOL_NAME, "input": {"questions": answers}}}]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200},
            "metrics": {"latencyMs": 10},
        }  # fmt: skip

    return respond


def make_service(
    table: str, pages: list[list[str]], throttle: set[str], **kw: Any
) -> tuple[ReviewService, list[RespondingStubber]]:
    region = "eu-west-1"
    s3 = boto3.client("s3", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    textract = boto3.client("textract", region_name=region)
    bedrock = boto3.client("bedrock-runtime", region_name=region)
    agent_rt = boto3.client("bedrock-agent-runtime", region_name=region)
    lens = load_lens("wellarchitected")
    stubs = [
        RespondingStubber(textract, textract_responders(pages)),
        RespondingStubber(bedrock, {"Converse": converse_responder(pages, throttle)}),
        RespondingStubber(agent_rt, {"Retrieve": retrieve_responder(LocalRetriever(load_guidance(lens)))}),
    ]  # fmt: skip
    for stub in stubs:
        stub.activate()
    service = ReviewService(
        DynamoReviewStore(table, ddb, s3=s3, bucket=BUCKET),
        settings=ReviewSettings(
            assessor="bedrock", extractor="textract", model_id=MODEL, knowledge_base_id=KB_ID,
            bucket=BUCKET, table=table, region=region, reports_uri=f"s3://{BUCKET}/reports/",
        ),
        lens=lens,
        extractor=TextractExtractor(BUCKET, textract=textract, s3=s3, sleep=lambda s: None),
        assessor=BedrockAssessor(lens, MODEL, client=bedrock, nonce="fixednonce"),
        retriever=BedrockKbRetriever(KB_ID, client=agent_rt),
        s3=s3,
        **kw,
    )  # fmt: skip
    return service, stubs


def definition(synthesized: Synthesized) -> tuple[dict[str, Any], dict[str, str]]:
    """The state machine definition and {function logical id: handler name}."""
    template = synthesized.templates["reviews"]
    (machine,) = [r for r in template["Resources"].values()
                  if r["Type"] == "AWS::StepFunctions::StateMachine"]  # fmt: skip
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "fn:" + p["Fn::GetAtt"][0] for p in parts)
    handlers_by_fn = {
        k: v["Properties"]["Handler"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
    }
    return json.loads(text), handlers_by_fn


class Interpreter:
    """Just enough of the Amazon States Language for this definition (Task with Retry and
    Catch, Map with ItemSelector, Choice on booleans); records the handlers run, in order."""

    def __init__(self, handlers_by_fn: dict[str, str]) -> None:
        self.handlers_by_fn = handlers_by_fn
        self.trace: list[str] = []
        self.retries = 0

    def _invoke(self, state: dict[str, Any], data: Any) -> Any:
        module, _, name = self.handlers_by_fn[state["Resource"][3:]].rpartition(".")
        assert module == "reviews.handlers"
        self.trace.append(name)
        return json.loads(json.dumps(getattr(handlers, name)(data, None)))

    def _task(self, state: dict[str, Any], data: Any) -> tuple[Any, str | None]:
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._invoke(state, data), state.get("Next")
            except Exception as exc:  # a Lambda error named by its exception class
                error = type(exc).__name__
                for i, rule in enumerate(state.get("Retry", [])):
                    if error in rule["ErrorEquals"] and attempts.get(i, 0) < rule["MaxAttempts"]:
                        attempts[i] = attempts.get(i, 0) + 1
                        self.retries += 1
                        break
                else:
                    for catch in state.get("Catch", []):
                        if error in catch["ErrorEquals"] or "States.ALL" in catch["ErrorEquals"]:
                            key = catch["ResultPath"][2:]
                            return {**data, key: {"Error": error, "Cause": str(exc)}}, catch["Next"]
                    raise

    def run(self, states: dict[str, Any], start: str, data: Any) -> Any:
        name: str | None = start
        while name:
            state = states[name]
            kind = state["Type"]
            if kind == "Task":
                data, name = self._task(state, data)
                continue
            if kind == "Map":
                for item in data[state["ItemsPath"][2:]]:
                    selected = {k[:-2]: (item if v == "$$.Map.Item.Value" else data[v[2:]])
                                for k, v in state["ItemSelector"].items()}  # fmt: skip
                    proc = state["ItemProcessor"]
                    self.run(proc["States"], proc["StartAt"], selected)
                assert state["ResultPath"] is None
            elif kind == "Choice":
                chosen = state.get("Default")
                for rule in state["Choices"]:
                    if data.get(rule["Variable"][2:]) is rule["BooleanEquals"]:
                        chosen = rule["Next"]
                        break
                name = chosen
                continue
            else:  # pragma: no cover - the definition has no other state types
                raise AssertionError(f"unsupported state type {kind}")
            name = None if state.get("End") else state.get("Next")
        return data


def upload_event(key: str, etag: str) -> dict[str, Any]:
    """EventBridge's S3 ``Object Created`` event (S3 user guide, "EventBridge message")."""
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "111122223333",
        "time": "2026-12-06T02:00:00Z", "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": key, "size": 60021, "etag": etag, "sequencer": "00617F08299329D189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333",
                   "reason": "PutObject"},
    }  # fmt: skip


def comparable(a: Assessment) -> list[tuple[Any, ...]]:
    return sorted(
        (q.question_id, q.risk, tuple(q.selected_choices), tuple(q.unselected_choices),
         tuple((bp.choice_id, bp.verdict) for bp in q.best_practices))
        for q in a.questions
    )  # fmt: skip


@pytest.mark.slow
def test_state_machine_tasks_in_definition_order_give_the_rca_review_assessment(
    synthesized: Synthesized,
) -> None:
    pdf = shared("design-docs", DOC)
    pages = page_lines(pdf)
    states, handlers_by_fn = definition(synthesized)
    pillars = "reliability"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        for table in ("reviews-sfn", "reviews-cli"):
            DynamoReviewStore.create_table(ddb, table)
        key = f"uploads/{DOC}"
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=pdf.read_bytes(),
                            Metadata={"rca-mode": "quick", "rca-pillars": pillars,
                                      "rca-apply": "true"})  # fmt: skip
        lens = load_lens("wellarchitected")
        first_question = lens.questions([pillars])[0].id

        # the cloud path: the task handlers in the order of the synthesized definition
        service, stubs = make_service("reviews-sfn", pages, {first_question})
        handlers.set_service(service)
        try:
            interpreter = Interpreter(handlers_by_fn)
            final = interpreter.run(
                states["States"], states["StartAt"], upload_event(key, put["ETag"].strip('"'))
            )
        finally:
            handlers.set_service(None)
        n = len(lens.questions([pillars]))
        expected = [
            "submit",
            "extract",
            "questions",
            *["assess"] * (n + 1),
            "finalize",
            "plan",
            "notify",
        ]
        assert interpreter.trace == expected  # one throttled assess, retried by the Retry rule
        assert interpreter.retries == 1
        assert final["state"] == "completed" and final["apply"] is False  # writes not allowed
        cloud = service.assessment(final["review_id"])
        reports = s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/").get("KeyCount", 0)
        assert reports >= 1
        assert any(op == "StartDocumentAnalysis" for op, _ in stubs[0].calls)
        assert sum(op == "Retrieve" for op, _ in stubs[2].calls) >= n

        # `rca review`'s path: ReviewService.run in one process, same AWS stubs
        local, _ = make_service("reviews-cli", pages, set())
        record = local.submit(f"s3://{BUCKET}/{key}",
                              options=handlers.ReviewOptions(mode="quick", pillars=[pillars]))  # fmt: skip
        local.run(record.id)
        reference = local.assessment(record.id)

    assert len(cloud.questions) == n and cloud.complete
    assert comparable(cloud) == comparable(reference)
    verdicts = {bp.verdict for q in cloud.questions for bp in q.best_practices}
    assert len(verdicts) > 1, verdicts  # the verdicts depend on the document, not a constant


def test_a_question_that_keeps_failing_is_marked_and_the_review_completes(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    """Catch -> mark_failed: the question is checkpointed UNANSWERED with the error."""
    states, handlers_by_fn = definition(synthesized)
    each = states["States"]["assess_each_question"]["ItemProcessor"]
    calls: list[str] = []

    class Failing:
        lens = load_lens("wellarchitected")
        store = None

        def assess_question(self, review_id: str, question_id: str) -> Any:
            calls.append(question_id)
            from reviews.errors import AssessmentError

            raise AssessmentError("model answered no valid assessment")

        # the real checkpoint over this fake's lens and store
        mark_question_failed = ReviewService.mark_question_failed

    saved: list[Any] = []

    class Store:
        def save_question(self, review_id: str, qa: Any) -> None:
            saved.append(qa)

    failing = Failing()
    failing.store = Store()  # type: ignore[assignment]
    handlers.set_service(failing)  # type: ignore[arg-type]
    try:
        Interpreter(handlers_by_fn).run(
            each["States"], each["StartAt"], {"review_id": "r1", "question_id": "priorities"}
        )
    finally:
        handlers.set_service(None)
    assert calls == ["priorities"]  # not retried: only throttling is
    (qa,) = saved
    assert qa.risk == "UNANSWERED" and "AssessmentError" in qa.warnings[0]


def test_the_assess_task_raises_the_error_name_its_retry_rule_matches(
    synthesized: Synthesized,
) -> None:
    """The cloud's one unit-level retry layer: the Lambda reports the raised class's name as
    the error name; the Map's Retry must list exactly that name. A Converse still throttled
    after botocore's retries (one request here: the Stubber answers before botocore retries)
    makes ``handlers.assess`` raise the one ThrottledError, whose name is in ErrorEquals, and
    the task itself sends no second request."""
    from tests.reviews.pdfs import text_pdf
    from tools.aws.errors import ThrottledError

    states, _ = definition(synthesized)
    assess = states["States"]["assess_each_question"]["ItemProcessor"]["States"]["assess"]
    retried = {name for rule in assess["Retry"] for name in rule["ErrorEquals"]}
    lines = ["The workload runs in two AWS Regions with Route 53 failover.",
             "Backups are taken hourly with AWS Backup and restored quarterly."]  # fmt: skip
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        DynamoReviewStore.create_table(boto3.client("dynamodb", region_name="eu-west-1"), "rt")
        s3.put_object(Bucket=BUCKET, Key="uploads/d.pdf", Body=text_pdf([lines]))
        lens = load_lens("wellarchitected")
        question = lens.questions(["reliability"])[0].id
        service, stubs = make_service("rt", [lines], {question})
        handlers.set_service(service)
        try:
            record = service.submit(
                f"s3://{BUCKET}/uploads/d.pdf",
                options=handlers.ReviewOptions(mode="deep", pillars=["reliability"]),
            )
            service.extract(record.id)
            with pytest.raises(Exception) as caught:
                handlers.assess({"review_id": record.id, "question_id": question}, None)
            stored = service.store.get(record.id)
        finally:
            handlers.set_service(None)
    assert type(caught.value) is ThrottledError
    assert type(caught.value).__name__ in retried  # what the Lambda reports is what is retried
    assert {"ThrottledError", "Lambda.TooManyRequestsException"} <= retried
    assert "\n" not in str(caught.value)
    assert sum(op == "Converse" for op, _ in stubs[1].calls) == 1  # no re-run inside the task
    assert stored.error_kind == "throttled"  # until a later question succeeds
