"""Lambda handlers of the review state machine's tasks, over :class:`reviews.service.ReviewService`.

The state machine (``infra/stacks/reviews_stack.py``) runs::

    submit -> extract -> questions -> Map(assess | mark_failed) -> finalize -> plan
           -> [apply, when the submitter asked and the deployment allows WA Tool writes]
           -> notify

Every task takes the state (a JSON object, :class:`ReviewState`) and returns it with its own
fields added, so the state machine needs no path plumbing. ``assess`` runs in a Map over the
question ids, one question per task. Retries: botocore's retry mode retries each AWS call
(the one call-level layer); a question still throttled after it raises the one
:class:`~tools.aws.errors.ThrottledError`, the Lambda reports its class name as the error name,
and the Map's ``Retry`` on ``ThrottledError`` re-runs the task with backoff and jitter (the one
unit-level layer). A question still failing after that is caught and handed to ``mark_failed``,
which checkpoints it as ``UNANSWERED`` with the error, so the review goes on.

Submission: an S3 ``Object Created`` event (EventBridge) for ``uploads/<name>.pdf``. User
metadata on the object carries the options: ``x-amz-meta-rca-mode`` (quick|deep),
``rca-pillars`` (comma-separated pillar ids), ``rca-apply`` (``true`` asks for the WA Tool
pre-fill), ``rca-slack-channel`` and ``rca-slack-thread`` (where to notify).

Configuration: :meth:`reviews.service.ReviewSettings.from_env` (``RCA_REVIEW_TABLE``,
``RCA_REVIEW_BUCKET``, ``RCA_REVIEW_KB_ID``, ``RCA_REVIEW_ASSESSOR``, ``RCA_REVIEW_EXTRACTOR``,
``RCA_MODEL_ID``, ``RCA_REVIEW_REPORTS``), plus ``RCA_WATOOL_WRITES`` (``true`` allows apply)
and ``RCA_SLACK_SECRET_ID`` (the Slack credentials secret, :mod:`slackbot.secrets`, for notify).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer
from pydantic import Field

from reviews.service import ReviewOptions, ReviewService, ReviewSettings
from tools.errors import RcaError
from tools.markup import mrkdwn
from tools.models import Model

logger = Logger(service="rca-reviews")
tracer = Tracer(service="rca-reviews")


class Notify(Model):
    """Where the submitter wants to hear about the review (Slack channel and thread)."""

    channel: str | None = None
    thread_ts: str | None = None


class ReviewState(Model):
    """The state passed between tasks (Step Functions JSON)."""

    review_id: str
    document: str
    apply: bool = False
    notify: Notify = Field(default_factory=Notify)
    questions: list[str] = Field(default_factory=list)
    state: str | None = None
    plan_calls: int | None = None
    workload_id: str | None = None
    notified: bool = False


class QuestionTask(Model):
    """One Map item: the review and one question id (and the caught error, for mark_failed)."""

    review_id: str
    question_id: str
    error: dict[str, Any] | None = None


_service: ReviewService | None = None
_lock = threading.Lock()


def set_service(service: ReviewService | None) -> None:
    """Install the service the handlers use (tests); None rebuilds it from the environment."""
    global _service
    with _lock:
        _service = service


def get_service() -> ReviewService:
    """The service of this process, settings from the environment."""
    global _service
    with _lock:
        if _service is None:
            _service = ReviewService(settings=ReviewSettings.from_env())
        return _service


def _meta(metadata: dict[str, str], name: str) -> str | None:
    value = metadata.get(name) or metadata.get(name.lower())
    return value.strip() if value else None


@tracer.capture_lambda_handler
def submit(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """S3 Object Created (EventBridge) -> a submitted review. The key ``s3://bucket/key#etag``
    binds the upload to its review, so a redelivered event does not start a second one."""
    detail = event["detail"]
    bucket, key = detail["bucket"]["name"], unquote_plus(detail["object"]["key"])
    service = get_service()
    head = service.client("s3").head_object(Bucket=bucket, Key=key)
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    pillars = [p.strip() for p in (_meta(meta, "rca-pillars") or "").split(",") if p.strip()]
    mode = _meta(meta, "rca-mode") or "quick"
    document = f"s3://{bucket}/{key}"
    etag = str(detail["object"].get("etag") or head.get("ETag", "")).strip('"')
    record = service.submit(
        document,
        options=ReviewOptions(mode=mode, pillars=pillars),  # type: ignore[arg-type]
        key=f"{document}#{etag}",
    )
    logger.info("review submitted", extra={"review_id": record.id, "document": document})
    state = ReviewState(
        review_id=record.id,
        document=document,
        apply=(_meta(meta, "rca-apply") or "").lower() == "true",
        notify=Notify(
            channel=_meta(meta, "rca-slack-channel"), thread_ts=_meta(meta, "rca-slack-thread")
        ),
    )
    return state.model_dump(mode="json")


@tracer.capture_lambda_handler
def extract(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Extract the document (Textract in the cloud); the review becomes ``assessing``."""
    state = ReviewState.model_validate(event)
    record = get_service().extract(state.review_id)
    return state.model_copy(update={"state": record.state}).model_dump(mode="json")


@tracer.capture_lambda_handler
def questions(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The question ids still to assess (the Map's items)."""
    state = ReviewState.model_validate(event)
    ids = get_service().questions(state.review_id, pending_only=True)
    return state.model_copy(update={"questions": ids}).model_dump(mode="json")


@tracer.capture_lambda_handler
def assess(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Assess one question (KB Retrieve + Bedrock); idempotent. Raises
    :class:`~tools.aws.errors.ThrottledError` when still throttled after botocore's retries,
    for the state machine's ``Retry`` with backoff and jitter."""
    task = QuestionTask.model_validate(event)
    qa = get_service().assess_question(task.review_id, task.question_id)
    return {"question_id": qa.question_id, "risk": qa.risk}


@tracer.capture_lambda_handler
def mark_failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Checkpoint a question whose assessment kept failing as ``UNANSWERED`` with the error
    (Step Functions ``Catch`` output ``{"Error", "Cause"}``), so finalize can go on."""
    task = QuestionTask.model_validate(event)
    error = task.error or {}
    reason = f"{error.get('Error', 'error')}: {str(error.get('Cause', ''))[:500]}"
    get_service().mark_question_failed(task.review_id, task.question_id, reason)
    logger.warning("question marked failed", extra={"question": task.question_id})
    return {"question_id": task.question_id, "risk": "UNANSWERED", "failed": True}


@tracer.capture_lambda_handler
def finalize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Complete the review and publish its reports (``RCA_REVIEW_REPORTS``)."""
    state = ReviewState.model_validate(event)
    record = get_service().finalize(state.review_id)
    return state.model_copy(update={"state": record.state}).model_dump(mode="json")


@tracer.capture_lambda_handler
def plan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The dry-run WA Tool plan (nothing is sent); ``apply`` is kept only when the deployment
    allows WA Tool writes (``RCA_WATOOL_WRITES=true``)."""
    state = ReviewState.model_validate(event)
    wa_plan = get_service().plan(state.review_id)
    allowed = os.environ.get("RCA_WATOOL_WRITES", "false").lower() == "true"
    return state.model_copy(
        update={"plan_calls": len(wa_plan.calls), "apply": state.apply and allowed}
    ).model_dump(mode="json")


@tracer.capture_lambda_handler
def apply(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Write the plan to the WA Tool (the submitter asked; the deployment allows it)."""
    state = ReviewState.model_validate(event)
    if os.environ.get("RCA_WATOOL_WRITES", "false").lower() != "true" or not state.apply:
        raise RcaError("WA Tool writes are not allowed for this review")
    result = get_service().apply(state.review_id, confirm=True)
    return state.model_copy(update={"workload_id": result.workload_id}).model_dump(mode="json")


def summary_text(service: ReviewService, review_id: str) -> str:
    """The review's outcome as escaped Slack mrkdwn: risk counts and the top improvements."""
    s = service.summary(review_id)
    counts = ", ".join(f"{k}: {v}" for k, v in s.risk_counts.items() if v)
    lines = [
        f"*Well-Architected review of {mrkdwn(s.document_name)}* ({s.questions} questions, "
        f"{mrkdwn(s.assessor)} assessor): {mrkdwn(counts)}"
    ]
    for imp in s.improvements:
        lines.append(f"• {mrkdwn(imp.number)} {mrkdwn(imp.title)} ({mrkdwn(imp.bp_risk)})")
    return "\n".join(lines)


def _slack_client() -> Any:
    from slack_sdk import WebClient

    from slackbot.secrets import load_secrets

    secrets = load_secrets()
    secrets.require("bot_token")
    assert secrets.bot_token is not None
    return WebClient(token=secrets.bot_token.get_secret_value())


@tracer.capture_lambda_handler
def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Post the outcome to the submitter's Slack thread (or the default channel)."""
    state = ReviewState.model_validate(event)
    channel = state.notify.channel or os.environ.get("RCA_SLACK_CHANNEL")
    if not channel or not os.environ.get("RCA_SLACK_SECRET_ID"):
        return state.model_dump(mode="json")
    text = summary_text(get_service(), state.review_id)
    _slack_client().chat_postMessage(
        channel=channel, thread_ts=state.notify.thread_ts, text=text, mrkdwn=True
    )
    return state.model_copy(update={"notified": True}).model_dump(mode="json")
