"""One retry layer: botocore's retry mode (``tools.aws.session.make_client``), then the one
``ThrottledError``.

A botocore ``Stubber`` answers before botocore's retry handler runs (it short-circuits the HTTP
send), so it cannot show retries. These tests point clients built by ``make_client`` at a local
HTTP server on 127.0.0.1 that answers every request with a throttling error in the service's
own wire format, and count the requests that reach it: botocore's attempts, and nothing above
them (the review runner does not re-run the unit). botocore's backoff sleeps are recorded
instead of slept.
"""

from __future__ import annotations

import json
import threading
import time
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.stub import Stubber

from agent.sessions import DynamoSessionStore
from lenses.catalog import load_guidance, load_lens
from reviews.assessors.bedrock import BedrockAssessor
from reviews.errors import ThrottledError as ReviewsThrottledError
from reviews.models import ReviewRecord
from reviews.retrieve import BedrockKbRetriever, LocalRetriever
from reviews.runner import ReviewRunner
from reviews.store import DynamoReviewStore, SqliteReviewStore
from reviews.textract import TextractExtractor
from reviews.watool import WaToolClient
from tests.builders import one_question_lens
from tests.reviews.conftest import DR, extracted
from tools.aws.errors import ThrottledError, aws_call
from tools.aws.session import MAX_ATTEMPTS, RETRY_MODE, make_client
from tools.workspace import fetch_s3_object

MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


class Throttling:
    """A local endpoint that throttles every request; ``requests`` lists (method, path, target)."""

    def __init__(self, status: int) -> None:
        self.requests: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append(
                    (self.command, self.path, self.headers.get("X-Amz-Target", ""))
                )
                body = json.dumps(
                    {"__type": "ThrottlingException", "message": "Rate exceeded"}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", "ThrottlingException")
                self.send_header("x-amzn-RequestId", f"req-{len(outer.requests)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = _answer
            do_GET = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Throttling:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """botocore's backoff sleeps (seconds), recorded instead of slept, on a virtual clock that
    the adaptive mode's token bucket also reads (its waits advance the clock, not real time)."""
    slept: list[float] = []
    now = [time.time()]

    def backoff(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    original = botocore.retries.bucket.TokenBucket._sleep_amount

    def bucket_wait(bucket: Any, amount: int) -> float:
        wait = float(original(bucket, amount))
        if wait > 0:
            now[0] += wait
            bucket._refill()
        return 0.0

    fake = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if k[0] != "_"})
    fake.sleep = backoff
    monkeypatch.setattr(botocore.endpoint, "time", fake)
    monkeypatch.setattr(botocore.retries.bucket.Clock, "current_time", lambda self: now[0])
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "_sleep_amount", bucket_wait)
    yield slept


def _client(service: str, url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # botocore's documented endpoint override
    return make_client(service, region="eu-central-1")


@pytest.mark.parametrize("status", [400, 429])
def test_throttled_logs_call_is_retried_by_botocore_only_then_one_throttled_error(
    status: int, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Throttling(status) as server:
        client = _client("logs", server.url, monkeypatch)
        assert client.meta.config.retries == {"mode": RETRY_MODE, "total_max_attempts": 8}
        with pytest.raises(ThrottledError) as caught:
            aws_call(
                client.describe_log_groups,
                service="CloudWatch Logs",
                operation="DescribeLogGroups",
                region="eu-central-1",
            )
    assert len(server.requests) == MAX_ATTEMPTS == 8  # botocore's attempts, nothing stacked
    assert {target for *_, target in server.requests} == {"Logs_20140328.DescribeLogGroups"}
    assert len(sleeps) == MAX_ATTEMPTS - 1  # botocore backed off between its attempts
    message = str(caught.value)
    assert "\n" not in message and "after 8 attempts" in message
    assert message.startswith(
        "CloudWatch Logs DescribeLogGroups in the default account/eu-central-1"
    )
    assert caught.value.code == "ThrottlingException"


def test_throttled_review_unit_is_tried_by_botocore_only_and_marked_resumable(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The review path: Converse through the Bedrock assessor inside the runner. The endpoint
    sees botocore's 8 attempts for the unit and no more (no runner re-run); the run raises the
    one ThrottledError with the resume command, in one line."""
    full = load_lens("wellarchitected")
    question = full.pillar("reliability").questions[0]
    lens = one_question_lens(full, question)
    notes = load_guidance(full)
    store = SqliteReviewStore(tmp_path / "r.db")
    store.create(ReviewRecord(id="thr-aws", document="dr.pdf", document_name="dr.pdf", mode="deep"))
    with Throttling(429) as server:
        client = _client("bedrock-runtime", server.url, monkeypatch)
        assessor = BedrockAssessor(lens, MODEL, client=client, nonce="0123456789abcdef")
        runner = ReviewRunner(assessor, lens, LocalRetriever(notes), notes, store, max_workers=2)
        with pytest.raises(ThrottledError) as caught:
            runner.run("thr-aws", extracted(DR), "deep")
    converse = [path for method, path, _ in server.requests if path.endswith("/converse")]
    assert len(converse) == len(server.requests) == MAX_ATTEMPTS  # one unit, botocore's attempts
    assert runner.requests == 1  # the runner asked once
    assert len(sleeps) == MAX_ATTEMPTS - 1
    message = str(caught.value)
    assert "\n" not in message
    assert "after 8 attempts" in message and "rca review --resume thr-aws" in message
    assert ReviewsThrottledError is ThrottledError  # reviews re-exports the one class
    assert store.questions("thr-aws") == []  # nothing half-stored; resume assesses it


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="eu-central-1")
    return client, Stubber(client)


def _kb_retrieve() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("bedrock-agent-runtime")
    stub.add_client_error("retrieve", "ThrottlingException", "Rate exceeded", 429)
    return stub, lambda: BedrockKbRetriever("KBTEST0001", client=client).retrieve("backups")


def _wa_tool() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("wellarchitected")
    stub.add_client_error("get_answer", "ThrottlingException", "Rate exceeded", 429)
    return stub, lambda: WaToolClient(client).call(
        "GetAnswer", WorkloadId="a" * 32, LensAlias="wellarchitected", QuestionId="priorities"
    )


def _textract() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("textract")
    code = "ProvisionedThroughputExceededException"
    stub.add_client_error("start_document_analysis", code, "slow down", 400)
    extractor = TextractExtractor("bucket", textract=client, s3=object(), sleep=lambda s: None)
    return stub, lambda: extractor.start("uploads/d.pdf", "0" * 64, "d.pdf")


def _review_store() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("dynamodb")
    code = "ProvisionedThroughputExceededException"
    stub.add_client_error("get_item", code, "slow down", 400)
    return stub, lambda: DynamoReviewStore("reviews", client).get("r1")


def _session_store() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("dynamodb")
    stub.add_client_error("get_item", "ThrottlingException", "Rate exceeded", 400)
    return stub, lambda: DynamoSessionStore("sessions", client).load("s1")


def _workspace() -> tuple[Stubber, Callable[[], Any]]:
    client, stub = _stubbed("s3")
    stub.add_client_error("get_object", "SlowDown", "Please reduce your request rate", 503)
    return stub, lambda: fetch_s3_object("s3://bucket/workspace.json", client)


@pytest.mark.parametrize(
    "call",
    [_kb_retrieve, _wa_tool, _textract, _review_store, _session_store, _workspace],
    ids=["kb-retrieve", "wa-tool", "textract", "review-store", "session-store", "s3-workspace"],
)
def test_except_throttled_error_catches_throttling_from_every_wrapper(
    call: Callable[[], tuple[Stubber, Callable[[], Any]]],
) -> None:
    """Wrappers that turn other AWS failures into their own errors (RetrievalError, WaToolError,
    ExtractionError, StoreError, SessionError, WorkspaceError) let throttling through as the
    one ThrottledError, in one line."""
    stub, run = call()
    with stub, pytest.raises(ThrottledError) as caught:
        run()
    assert type(caught.value) is ThrottledError
    assert "\n" not in str(caught.value) and "throttling" in str(caught.value)
