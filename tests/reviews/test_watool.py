"""WA Tool pre-fill: the plan, and apply against botocore Stubber (exact requests)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from reviews.errors import InvalidChoiceError, WaToolError
from reviews.models import Assessment, ReviewRecord
from reviews.pipeline import prefill
from reviews.store import SqliteReviewStore
from reviews.watool import (
    ANSWER_NOTES_MAX,
    CHOICE_NOTES_MAX,
    WaToolClient,
    _resolve,
    apply_plan,
    build_plan,
)
from tests.reviews.conftest import DR
from tools.aws.errors import ThrottledError
from tools.aws.session import client_config, make_client

WID = "0123456789abcdef0123456789abcdef"
NAME = "DR web application"
REPORT = b"%PDF-1.4 lens review report"


@pytest.fixture
def small(review_of) -> Assessment:  # type: ignore[no-untyped-def]
    """The DR review restricted to REL 9 and REL 13 (two questions keep the stubs readable)."""
    a = review_of(DR, "quick")
    keep = [
        qa for qa in a.questions if qa.question_id in ("backing-up-data", "planning-for-recovery")
    ]
    return a.model_copy(update={"questions": keep})


CALLER = "arn:aws:sts::123456789012:assumed-role/rca-review/alice"


def _wa() -> tuple[Any, WaToolClient, Any]:
    """A wellarchitected client from the one factory (botocore's adaptive retries, the only
    retry layer) and a stubbed STS client for the caller ARN."""
    client = make_client("wellarchitected", region="eu-central-1")
    sts = boto3.client("sts", region_name="eu-central-1")
    stub = Stubber(sts)
    stub.add_response(
        "get_caller_identity",
        {"UserId": "AROAEXAMPLE:alice", "Account": "123456789012", "Arn": CALLER},
        {},
    )
    stub.activate()
    return client, WaToolClient(client, sts=sts), stub


def _update_params(plan) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [_resolve(c.params, WID, None) for c in plan.calls if c.operation == "UpdateAnswer"]


def _tail(stub: Stubber, milestone_exists: bool = False) -> None:
    stub.add_response(
        "list_milestones",
        {
            "MilestoneSummaries": [{"MilestoneNumber": 3, "MilestoneName": "rca review t-quick"}]
            if milestone_exists
            else []
        },
        {"WorkloadId": WID, "MaxResults": 50},
    )
    if not milestone_exists:
        stub.add_response(
            "create_milestone",
            {"WorkloadId": WID, "MilestoneNumber": 1},
            {
                "WorkloadId": WID,
                "MilestoneName": "rca review t-quick",
                "ClientRequestToken": _ANY_TOKEN,
            },
        )
    number = 3 if milestone_exists else 1
    stub.add_response(
        "get_lens_review",
        {
            "WorkloadId": WID,
            "LensReview": {
                "LensAlias": "wellarchitected",
                "RiskCounts": {
                    "HIGH": 2,
                    "MEDIUM": 0,
                    "NONE": 0,
                    "UNANSWERED": 55,
                    "NOT_APPLICABLE": 0,
                },
                "PillarReviewSummaries": [
                    {"PillarId": "reliability", "RiskCounts": {"HIGH": 2, "UNANSWERED": 11}},
                ],
            },
        },
        {"WorkloadId": WID, "LensAlias": "wellarchitected", "MilestoneNumber": number},
    )
    stub.add_response(
        "get_lens_review_report",
        {
            "WorkloadId": WID,
            "LensReviewReport": {
                "LensAlias": "wellarchitected",
                "Base64String": base64.b64encode(REPORT).decode(),
            },
        },
        {"WorkloadId": WID, "LensAlias": "wellarchitected", "MilestoneNumber": number},
    )


class _AnyToken:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 36

    def __repr__(self) -> str:
        return "<uuid token>"


_ANY_TOKEN = _AnyToken()


def test_plan_lists_exact_calls_within_limits(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(small, lens, workload_name=NAME, aws_regions=["eu-central-1"])
    ops = [c.operation for c in plan.calls]
    assert ops == [
        "ListWorkloads",
        "CreateWorkload",
        "GetAnswer",
        "UpdateAnswer",
        "GetAnswer",
        "UpdateAnswer",
        "ListMilestones",
        "CreateMilestone",
        "GetLensReview",
        "GetLensReviewReport",
    ]
    create = plan.calls[1].params
    assert create["WorkloadName"] == NAME and create["Environment"] == "PREPRODUCTION"
    assert create["Lenses"] == ["wellarchitected"] and create["AwsRegions"] == ["eu-central-1"]
    assert 3 <= len(create["Description"]) <= 250
    for params, qa in zip(_update_params(plan), small.questions, strict=True):
        assert params["QuestionId"] == qa.question_id and params["LensAlias"] == "wellarchitected"
        assert params["SelectedChoices"] == qa.selected_choices
        assert set(params["ChoiceUpdates"]) == {bp.choice_id for bp in qa.best_practices}
        for choice_id, update in params["ChoiceUpdates"].items():
            assert update["Status"] == qa.best_practice(choice_id).status
            assert len(update["Notes"]) <= CHOICE_NOTES_MAX
        assert len(params["Notes"]) <= ANSWER_NOTES_MAX
        lens.validate_choice_ids(qa.question_id, params["ChoiceUpdates"])
    text = plan.render()
    assert "dry run: nothing was sent" in text and "UpdateAnswer" in text


def test_apply_creates_workload_updates_answers_and_saves_the_report(
    small: Assessment,
    lens,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    plan = build_plan(small, lens, workload_name=NAME)
    client, wa, _ = _wa()
    updates = _update_params(plan)
    create = {**plan.calls[1].params, "ReviewOwner": CALLER, "AwsRegions": ["eu-central-1"]}
    with Stubber(client) as stub:
        stub.add_response(
            "list_workloads",
            {"WorkloadSummaries": []},
            {"MaxResults": 50},
        )
        stub.add_response(
            "create_workload",
            {
                "WorkloadId": WID,
                "WorkloadArn": "arn:aws:wellarchitected:eu-central-1:123456789012:workload/" + WID,
            },
            create,
        )
        for params in updates:
            stub.add_response(
                "get_answer",
                {
                    "WorkloadId": WID,
                    "LensAlias": "wellarchitected",
                    "Answer": {
                        "QuestionId": params["QuestionId"],
                        "SelectedChoices": [],
                        "ChoiceAnswers": [],
                    },
                },
                {
                    "WorkloadId": WID,
                    "LensAlias": "wellarchitected",
                    "QuestionId": params["QuestionId"],
                },
            )
            stub.add_response(
                "update_answer", {"WorkloadId": WID, "LensAlias": "wellarchitected"}, params
            )
        _tail(stub)
        result = apply_plan(plan, lens, wa, report_dir=tmp_path)
        stub.assert_no_pending_responses()
    assert result.workload_created and result.workload_id == WID
    assert result.updated == ["backing-up-data", "planning-for-recovery"] and result.skipped == []
    assert wa.calls.count("UpdateAnswer") == 2
    assert result.milestone_number == 1 and result.milestone_created
    assert result.risk_counts["HIGH"] == 2 and result.pillar_risk_counts["reliability"]["HIGH"] == 2
    assert Path(result.report_path or "").read_bytes() == REPORT


def test_rerun_reuses_workload_and_milestone_and_skips_answers_already_equal(
    small: Assessment,
    lens,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A resumed pre-fill: REL 9 was sent before the interruption, only REL 13 is sent now."""
    plan = build_plan(small, lens, workload_name=NAME)
    client, wa, _ = _wa()
    done, todo = _update_params(plan)
    as_stored = {
        "QuestionId": done["QuestionId"],
        "SelectedChoices": done["SelectedChoices"],
        "ChoiceAnswers": [{"ChoiceId": cid, **u} for cid, u in done["ChoiceUpdates"].items()],
        "IsApplicable": True,
        "Notes": done["Notes"],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "list_workloads",
            {
                "WorkloadSummaries": [
                    {"WorkloadId": WID, "WorkloadName": NAME, "Lenses": ["wellarchitected"]}
                ]
            },
            {"MaxResults": 50},
        )
        stub.add_response(
            "get_answer",
            {"WorkloadId": WID, "LensAlias": "wellarchitected", "Answer": as_stored},
            {"WorkloadId": WID, "LensAlias": "wellarchitected", "QuestionId": done["QuestionId"]},
        )
        stub.add_response(
            "get_answer",
            {
                "WorkloadId": WID,
                "LensAlias": "wellarchitected",
                "Answer": {"QuestionId": todo["QuestionId"]},
            },
            {"WorkloadId": WID, "LensAlias": "wellarchitected", "QuestionId": todo["QuestionId"]},
        )
        stub.add_response("update_answer", {}, todo)
        _tail(stub, milestone_exists=True)
        result = apply_plan(plan, lens, wa, report_dir=tmp_path)
        stub.assert_no_pending_responses()
    assert not result.workload_created and result.skipped == ["backing-up-data"]
    assert result.updated == ["planning-for-recovery"]
    assert "CreateWorkload" not in wa.calls and "CreateMilestone" not in wa.calls
    assert wa.calls.count("UpdateAnswer") == 1 and result.milestone_number == 3


def test_invalid_choice_id_is_never_sent(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    qa = small.questions[0]
    bad_bp = qa.best_practices[0].model_copy(update={"choice_id": "rel_backing_up_everything"})
    bad = small.model_copy(
        update={
            "questions": [
                qa.model_copy(update={"best_practices": [bad_bp, *qa.best_practices[1:]]}),
                *small.questions[1:],
            ]
        }
    )
    with pytest.raises(InvalidChoiceError, match="rel_backing_up_everything"):
        build_plan(bad, lens, workload_name=NAME)
    # a plan edited by hand is checked again before the first call
    plan = build_plan(small, lens, workload_name=NAME)
    update = next(c for c in plan.calls if c.operation == "UpdateAnswer")
    update.params["SelectedChoices"] = ["sec_not_a_reliability_choice"]
    client, wa, _ = _wa()
    # nothing queued: any call would fail
    with Stubber(client), pytest.raises(InvalidChoiceError, match="nothing was sent"):
        apply_plan(plan, lens, wa)
    assert wa.calls == []


def test_errors_are_translated(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(small, lens, workload_name=NAME)
    client, wa, _ = _wa()
    with Stubber(client) as stub:
        stub.add_response("list_workloads", {"WorkloadSummaries": []}, None)
        stub.add_client_error("create_workload", "AccessDeniedException", "User is not authorized")
        with pytest.raises(WaToolError, match="wellarchitected:CreateWorkload"):
            apply_plan(plan, lens, wa)
    client = boto3.client(
        "wellarchitected", region_name="eu-central-1", config=client_config(max_attempts=1)
    )
    wa = WaToolClient(client, sts=object())
    with Stubber(client) as stub:
        stub.add_client_error("list_workloads", "ThrottlingException", "slow down")
        with pytest.raises(ThrottledError, match="kept throttling after botocore's retries"):
            apply_plan(plan, lens, wa)  # the one ThrottledError, not wrapped in WaToolError
    client, wa, _ = _wa()
    with Stubber(client) as stub:
        stub.add_response(
            "list_workloads",
            {
                "WorkloadSummaries": [
                    {"WorkloadId": WID, "WorkloadName": NAME, "Lenses": ["serverless"]}
                ]
            },
            None,
        )
        with pytest.raises(WaToolError, match="does not use lens"):
            apply_plan(plan, lens, wa)


def test_name_limits(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WaToolError, match="3 to 100"):
        build_plan(small, lens, workload_name="x")
    with pytest.raises(WaToolError, match="3 to 100"):
        build_plan(small, lens, workload_name="w" * 101)


def test_prefill_moves_the_review_through_its_states(
    small: Assessment, lens, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = SqliteReviewStore(tmp_path / "r.db")
    store.create(
        ReviewRecord(id="t-quick", document="dr.pdf", document_name="dr.pdf", state="completed")
    )
    plan = build_plan(small, lens, workload_name=NAME)
    client, wa, _ = _wa()
    with Stubber(client) as stub:
        stub.add_response(
            "list_workloads",
            {"WorkloadSummaries": [{"WorkloadId": WID, "WorkloadName": NAME}]},
            None,
        )
        for params in _update_params(plan):
            stub.add_response("get_answer", {"Answer": {}}, None)
            stub.add_response("update_answer", {}, params)
        _tail(stub, milestone_exists=True)
        prefill(store, "t-quick", plan, lens, wa, report_dir=tmp_path)
    record = store.get("t-quick")
    assert (
        record.state == "completed" and record.workload_id == WID and record.milestone_number == 3
    )
    client, wa, _ = _wa()
    with Stubber(client) as stub:
        stub.add_client_error("list_workloads", "AccessDeniedException", "no")
        with pytest.raises(WaToolError):
            prefill(store, "t-quick", plan, lens, wa)
    failed = store.get("t-quick")
    assert failed.state == "failed" and failed.error_kind == "pre-filling"


def test_throttling_is_retried_once_by_botocore_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No second retry layer: a throttled ListWorkloads is retried by botocore's adaptive mode
    (served at the HTTP layer; Stubber would bypass the retry handler) and counted once here."""
    from botocore.awsrequest import AWSResponse

    waits: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", waits.append)

    class Raw:
        def __init__(self, body: str) -> None:
            self.body = body

        def stream(self, **_: object):  # type: ignore[no-untyped-def]
            yield self.body.encode()

    answers = [
        AWSResponse("https://x", 429, {"x-amzn-ErrorType": "ThrottlingException"}, Raw('{"Message": "Rate exceeded"}')),
        AWSResponse("https://x", 200, {}, Raw('{"WorkloadSummaries": []}')),
    ]
    client, wa, _ = _wa()
    client.meta.events.register("before-send.wellarchitected.*", lambda request, **_: answers.pop(0))
    assert wa.find_workload(NAME) is None
    assert wa.calls == ["ListWorkloads"] and len(waits) == 1 and answers == []


def test_create_workload_always_sends_review_owner_and_regions(small: Assessment, lens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RCA_REVIEW_OWNER", raising=False)
    plan = build_plan(small, lens, workload_name=NAME)
    create = plan.calls[1].params
    assert create["ReviewOwner"] == "{CallerArn}" and create["AwsRegions"] == ["{ClientRegion}"]
    client, wa, sts_stub = _wa()
    with Stubber(client) as stub:
        stub.add_response("list_workloads", {"WorkloadSummaries": []}, {"MaxResults": 50})
        stub.add_response(
            "create_workload",
            {"WorkloadId": WID},
            {
                "WorkloadName": NAME,
                "Description": create["Description"],
                "Environment": "PREPRODUCTION",
                "Lenses": ["wellarchitected"],
                "ClientRequestToken": create["ClientRequestToken"],
                "ReviewOwner": CALLER,
                "AwsRegions": ["eu-central-1"],
            },
        )
        stub.add_client_error("get_answer", "AccessDeniedException", "stop here")
        with pytest.raises(WaToolError, match="wellarchitected:GetAnswer"):
            apply_plan(plan, lens, wa)
        stub.assert_no_pending_responses()
    sts_stub.assert_no_pending_responses()
    # overridable: an explicit owner (or RCA_REVIEW_OWNER) and Regions are sent as given
    monkeypatch.setenv("RCA_REVIEW_OWNER", "platform-team@example.com")
    given = build_plan(small, lens, workload_name=NAME, aws_regions=["eu-west-1", "us-east-1"])
    assert given.calls[1].params["ReviewOwner"] == "platform-team@example.com"
    assert given.calls[1].params["AwsRegions"] == ["eu-west-1", "us-east-1"]


def test_workload_name_matches_like_the_service(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    client, wa, _ = _wa()
    with Stubber(client) as stub:
        stub.add_response(
            "list_workloads",
            {"WorkloadSummaries": [{"WorkloadId": "f" * 32, "WorkloadName": "DR web"}], "NextToken": "p2"},
            {"MaxResults": 50},
        )
        stub.add_response(
            "list_workloads",
            {"WorkloadSummaries": [{"WorkloadId": WID, "WorkloadName": "dr WEB  Application"}]},
            {"MaxResults": 50, "NextToken": "p2"},
        )
        found = wa.find_workload(NAME)
    assert found is not None and found["WorkloadId"] == WID


def test_assessed_question_with_nothing_satisfied_sends_none_of_these(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    """Nothing satisfied -> the question's "None of these" choice; UNANSWERED stays empty."""
    from reviews.watool import answer_params

    qa = small.questions[0]
    nothing = [
        bp.model_copy(update={"verdict": "not_addressed", "status": "UNSELECTED", "evidence": []})
        for bp in qa.best_practices
    ]
    assessed = qa.model_copy(
        update={"best_practices": nothing, "selected_choices": [], "risk": "HIGH",
                "unselected_choices": [bp.choice_id for bp in nothing], "not_applicable_choices": []}
    )
    none = lens.question(qa.question_id).none_choice
    assert none is not None
    params = answer_params(assessed, lens, "t-quick")
    assert params["SelectedChoices"] == [none.id]
    lens.validate_choice_ids(qa.question_id, params["SelectedChoices"])
    unanswered = assessed.model_copy(update={"risk": "UNANSWERED"})
    assert answer_params(unanswered, lens, "t-quick")["SelectedChoices"] == []


def test_notes_quote_pages_never_scores(small: Assessment, lens) -> None:  # type: ignore[no-untyped-def]
    from reviews.watool import answer_params

    for qa in small.questions:
        params = answer_params(qa, lens, "t-quick")
        texts = [params["Notes"], *(u["Notes"] for u in params["ChoiceUpdates"].values())]
        assert not any("score" in t or "signals" in t for t in texts), texts
        quoted = [bp for bp in qa.best_practices if bp.evidence]
        if quoted:
            assert "p. " in params["Notes"] and "\u201c" in params["Notes"]
