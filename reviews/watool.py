"""AWS Well-Architected Tool pre-fill: a plan of exact API calls, then (with consent) apply it.

:func:`build_plan` turns an :class:`~reviews.models.Assessment` into a :class:`WaPlan`: the exact
requests, in order, with ``{WorkloadId}`` / ``{MilestoneNumber}`` standing for values known only
while applying. It is what ``rca review`` prints as a dry run. :func:`apply_plan` executes it:

1. ``ListWorkloads`` (every page) and reuse the workload whose name matches the way the service
   compares names ("Spaces and capitalization are ignored when checking for uniqueness",
   API_CreateWorkload ``WorkloadName``), else ``CreateWorkload`` (``ClientRequestToken`` derived
   from the review id, so a retried create is idempotent). ``CreateWorkload`` always sends
   ``ReviewOwner`` and ``AwsRegions``: the API reference lists them as optional, but the service
   requires ``ReviewOwner`` and "Either AwsRegions, NonAwsRegions, or both must be specified".
   Defaults: ``RCA_REVIEW_OWNER``, else the caller's ARN (STS ``GetCallerIdentity``); the
   client's Region;
2. per question ``GetAnswer``, then ``UpdateAnswer`` only when the answer differs (a re-run or a
   resumed apply sends nothing for questions already equal). A question assessed with no
   satisfied best practice selects its "None of these" choice, so the WA Tool counts its risk
   like the report does; only ``UNANSWERED`` questions keep an empty selection. Notes quote the
   document with page numbers (never the assessor's internal scoring text);
3. ``ListMilestones`` and ``CreateMilestone`` unless a milestone of that name exists (milestone
   names are unique per workload);
4. ``GetLensReview`` (risk counts read back) and ``GetLensReviewReport`` (the PDF report,
   ``LensReviewReport.Base64String``) saved to a file.

Retries are botocore's (adaptive, from :func:`tools.aws.session.make_client`); errors are
translated by :func:`tools.aws.errors.translate` (the one AWS error table) into
:class:`~reviews.errors.WaToolError`.

Every choice id is validated against the lens before the first write; an invalid id raises
:class:`~reviews.errors.InvalidChoiceError` and nothing is sent.

Limits and shapes (AWS Well-Architected Tool API Reference, and the botocore service model
``wellarchitected/2020-03-31``): ``UpdateAnswer.Notes`` <= 2084 characters; ``ChoiceUpdates`` maps a
choice id to ``{"Status": "SELECTED"|"NOT_APPLICABLE"|"UNSELECTED", "Reason":
"OUT_OF_SCOPE"|"BUSINESS_PRIORITIES"|"ARCHITECTURE_CONSTRAINTS"|"OTHER"|"NONE", "Notes": <= 250}``
(API_ChoiceUpdate); ``CreateWorkload`` requires ``WorkloadName`` (3-100), ``Description``
(3-250), ``Environment`` (``PRODUCTION``|``PREPRODUCTION``), ``Lenses`` and
``ClientRequestToken``; ``CreateMilestone`` requires ``MilestoneName`` (3-100) and
``ClientRequestToken``; ``ListWorkloads`` / ``ListMilestones`` return at most 50 per page.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from lenses.catalog import Lens, LensError
from reviews.errors import InvalidChoiceError, WaToolError
from reviews.models import Assessment, QuestionAssessment
from tools.aws.errors import raise_if_throttled, translate
from tools.markup import plain
from tools.models import Model
from tools.redact import redact

ANSWER_NOTES_MAX = 2084
CHOICE_NOTES_MAX = 250
NAME_MIN, NAME_MAX = 3, 100
DESCRIPTION_MAX = 250
PAGE_SIZE = 50
SERVICE = "Well-Architected"
WORKLOAD_ID = "{WorkloadId}"
MILESTONE_NUMBER = "{MilestoneNumber}"
CALLER_ARN = "{CallerArn}"
CLIENT_REGION = "{ClientRegion}"
REVIEW_OWNER_MIN, REVIEW_OWNER_MAX = 3, 255
_VERDICT_TEXT = {
    "addressed": "Addressed",
    "partly": "Partly addressed",
    "not_addressed": "Not described in the document",
    "insufficient_information": "The document does not say enough to tell",
}

Operation = Literal[
    "ListWorkloads",
    "CreateWorkload",
    "GetAnswer",
    "UpdateAnswer",
    "ListMilestones",
    "CreateMilestone",
    "GetLensReview",
    "GetLensReviewReport",
]


def clip(text: str, limit: int) -> str:
    """``text`` on one line, redacted and with controls and invisible characters removed
    (:func:`tools.markup.plain`), cut to ``limit`` characters, ending in an ellipsis when cut."""
    text = plain(redact(text))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class PlannedCall(Model):
    """One API call of the plan. ``when`` says the condition under which apply makes it."""

    operation: Operation
    params: dict[str, Any]
    purpose: str
    when: str = "always"
    question_id: str | None = None


class WaPlan(Model):
    """The exact Well-Architected Tool calls that pre-fill one workload from an assessment."""

    review_id: str
    lens_alias: str
    workload_name: str
    milestone_name: str
    calls: list[PlannedCall]

    def writes(self) -> list[PlannedCall]:
        """The calls that change the account (create, update)."""
        return [c for c in self.calls if c.operation.startswith(("Create", "Update"))]

    def render(self) -> str:
        """A readable listing: one line per call, then its JSON parameters."""
        import json

        lines = [
            f"Well-Architected Tool plan for review {self.review_id}: workload "
            f"{self.workload_name!r}, lens {self.lens_alias}, milestone {self.milestone_name!r}",
            f"{len(self.calls)} calls, {len(self.writes())} writes (dry run: nothing was sent)",
        ]
        for n, call in enumerate(self.calls, start=1):
            cond = "" if call.when == "always" else f"  [only if {call.when}]"
            lines.append(f"{n:3d}. {call.operation}: {call.purpose}{cond}")
            lines.append("     " + json.dumps(call.params, sort_keys=True, ensure_ascii=False))
        return "\n".join(lines)


class ApplyResult(Model):
    """What applying a plan did, and the risk counts the WA Tool reports afterwards."""

    workload_id: str
    workload_created: bool
    updated: list[str] = Field(default_factory=list, description="question ids updated")
    skipped: list[str] = Field(default_factory=list, description="question ids already equal")
    milestone_number: int | None = None
    milestone_created: bool = False
    risk_counts: dict[str, int] = Field(default_factory=dict)
    pillar_risk_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    report_path: str | None = None


def _token(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "rca-review:" + ":".join(parts)))


def _quote(page: int, text: str) -> str:
    return f"p. {page}: \u201c{' '.join(text.split())}\u201d"


def _bp_note(qa: QuestionAssessment, choice_id: str) -> str:
    """A choice's ``Notes`` (<= 250): the verdict in words and the first page-cited quote."""
    bp = qa.best_practice(choice_id)
    if bp.status == "NOT_APPLICABLE":
        text = f"Out of scope ({(bp.reason or 'OTHER').replace('_', ' ').lower()})"
    else:
        text = _VERDICT_TEXT.get(bp.verdict, bp.verdict.replace("_", " "))
    if bp.evidence:
        text += " - " + _quote(bp.evidence[0].page, bp.evidence[0].text)
    return clip(text, CHOICE_NOTES_MAX)


def answer_notes(qa: QuestionAssessment, review_id: str) -> str:
    """The answer's ``Notes`` (<= 2084 characters): the risk, page-cited quotes per best
    practice, and the practices the document does not describe. Never the assessor's rationale
    or scores (internal, not evidence)."""
    parts = [f"Pre-filled by rca review {review_id}; risk {qa.risk.replace('_', ' ')}."]
    quoted = [
        f"{bp.bp_id or bp.title}: {_quote(q.page, q.text)}"
        for bp in qa.best_practices
        for q in bp.evidence[:1]
    ]
    if quoted:
        parts.append("Evidence - " + "; ".join(quoted) + ".")
    missing = [bp.bp_id or bp.title for bp in qa.best_practices if bp.verdict == "not_addressed"]
    if missing:
        parts.append("Not described in the document: " + ", ".join(missing) + ".")
    return clip(" ".join(parts), ANSWER_NOTES_MAX)


def answer_params(qa: QuestionAssessment, lens: Lens, review_id: str) -> dict[str, Any]:
    """The ``UpdateAnswer`` parameters of one question (with ``{WorkloadId}`` unresolved).

    Raises:
        InvalidChoiceError: a choice id of the assessment is not a choice of the question.
    """
    ids = [bp.choice_id for bp in qa.best_practices]
    try:
        lens.validate_choice_ids(qa.question_id, ids)
    except LensError as exc:
        raise InvalidChoiceError(f"not sent to the WA Tool: {exc}") from exc
    updates: dict[str, dict[str, str]] = {}
    for bp in qa.best_practices:
        update = {"Status": bp.status, "Notes": _bp_note(qa, bp.choice_id)}
        if bp.status == "NOT_APPLICABLE":
            update["Reason"] = bp.reason or "OTHER"
        updates[bp.choice_id] = update
    selected = list(qa.selected_choices)
    if not selected and qa.risk not in ("UNANSWERED", "NOT_APPLICABLE"):
        none = lens.question(qa.question_id).none_choice
        if none is not None:
            selected = [none.id]  # assessed, nothing satisfied: "None of these"
    params: dict[str, Any] = {
        "WorkloadId": WORKLOAD_ID,
        "LensAlias": lens.alias,
        "QuestionId": qa.question_id,
        "SelectedChoices": selected,
        "ChoiceUpdates": updates,
        "Notes": answer_notes(qa, review_id),
        "IsApplicable": qa.risk != "NOT_APPLICABLE",
    }
    if qa.risk == "NOT_APPLICABLE":
        params["Reason"] = "OUT_OF_SCOPE"
    return params


def build_plan(
    assessment: Assessment,
    lens: Lens,
    *,
    workload_name: str,
    environment: Literal["PRODUCTION", "PREPRODUCTION"] = "PREPRODUCTION",
    aws_regions: list[str] | None = None,
    review_owner: str | None = None,
    milestone_name: str | None = None,
) -> WaPlan:
    """The exact calls that pre-fill the WA Tool from ``assessment`` (nothing is sent).

    ``review_owner`` defaults to ``RCA_REVIEW_OWNER``, else ``{CallerArn}`` (the caller's ARN,
    resolved when applying); ``aws_regions`` defaults to ``["{ClientRegion}"]``.

    Raises:
        InvalidChoiceError: an assessed choice id is not in the lens (the plan is refused).
        WaToolError: a name breaks a WA Tool length limit.
    """
    if lens.alias != assessment.lens_alias:
        raise WaToolError(f"the assessment used lens {assessment.lens_alias!r}, not {lens.alias!r}")
    name = workload_name.strip()
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise WaToolError(
            f"workload name {name!r} must be {NAME_MIN} to {NAME_MAX} characters; pass "
            "--workload-name"
        )
    milestone = (milestone_name or f"rca review {assessment.review_id}").strip()
    if not NAME_MIN <= len(milestone) <= NAME_MAX:
        raise WaToolError(f"milestone name {milestone!r} must be {NAME_MIN}-{NAME_MAX} characters")
    description = clip(
        f"Pre-filled by rca review {assessment.review_id} from {Path(assessment.document).name} "
        f"({assessment.assessor} assessor, {assessment.mode} mode).",
        DESCRIPTION_MAX,
    )
    create: dict[str, Any] = {
        "WorkloadName": name,
        "Description": description,
        "Environment": environment,
        "Lenses": [lens.alias],
        "ClientRequestToken": _token(assessment.review_id, name),
    }
    owner = (review_owner or os.environ.get("RCA_REVIEW_OWNER") or "").strip()
    if owner and not REVIEW_OWNER_MIN <= len(owner) <= REVIEW_OWNER_MAX:
        raise WaToolError(
            f"review owner {owner!r} must be {REVIEW_OWNER_MIN}-{REVIEW_OWNER_MAX} characters"
        )
    create["ReviewOwner"] = owner or CALLER_ARN
    create["AwsRegions"] = list(aws_regions or [CLIENT_REGION])
    calls = [
        PlannedCall(
            operation="ListWorkloads",
            params={"MaxResults": PAGE_SIZE},
            purpose="find a workload of this name (case and spaces ignored) to reuse",
        ),
        PlannedCall(
            operation="CreateWorkload",
            params=create,
            purpose="create the workload",
            when=f"no workload is named {name!r}",
        ),
    ]
    for qa in assessment.questions:
        params = answer_params(qa, lens, assessment.review_id)
        calls.append(
            PlannedCall(
                operation="GetAnswer",
                params={
                    "WorkloadId": WORKLOAD_ID,
                    "LensAlias": lens.alias,
                    "QuestionId": qa.question_id,
                },
                purpose=f"read {qa.number} to skip it when already equal",
                question_id=qa.question_id,
            )
        )
        calls.append(
            PlannedCall(
                operation="UpdateAnswer",
                params=params,
                purpose=f"{qa.number} {qa.title} -> risk {qa.risk}",
                when="the current answer differs",
                question_id=qa.question_id,
            )
        )
    calls += [
        PlannedCall(
            operation="ListMilestones",
            params={"WorkloadId": WORKLOAD_ID, "MaxResults": PAGE_SIZE},
            purpose="find an existing milestone of the same name",
        ),
        PlannedCall(
            operation="CreateMilestone",
            params={
                "WorkloadId": WORKLOAD_ID,
                "MilestoneName": milestone,
                "ClientRequestToken": _token(assessment.review_id, name, milestone),
            },
            purpose="record a milestone of the pre-filled answers",
            when=f"no milestone is named {milestone!r}",
        ),
        PlannedCall(
            operation="GetLensReview",
            params={
                "WorkloadId": WORKLOAD_ID,
                "LensAlias": lens.alias,
                "MilestoneNumber": MILESTONE_NUMBER,
            },
            purpose="read back the risk counts",
        ),
        PlannedCall(
            operation="GetLensReviewReport",
            params={
                "WorkloadId": WORKLOAD_ID,
                "LensAlias": lens.alias,
                "MilestoneNumber": MILESTONE_NUMBER,
            },
            purpose="download the lens review report (PDF)",
        ),
    ]
    return WaPlan(
        review_id=assessment.review_id,
        lens_alias=lens.alias,
        workload_name=name,
        milestone_name=milestone,
        calls=calls,
    )


def same_name(left: str, right: str) -> bool:
    """Workload names compared like the service: case and spaces ignored."""
    return "".join(left.split()).casefold() == "".join(right.split()).casefold()


class WaToolClient:
    """The few wellarchitected calls the pre-fill uses, with pagination inside.

    ``client`` is a boto3 ``wellarchitected`` client and ``sts`` an STS client (both injectable,
    else built by :func:`tools.aws.session.make_client`: adaptive retries, no second retry
    layer here). Errors become :class:`WaToolError` through the one AWS error table.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        sts: Any = None,
        region: str | None = None,
        profile: str | None = None,
    ) -> None:
        from tools.aws.session import make_client

        if client is None:
            client = make_client("wellarchitected", profile=profile, region=region)
        self.client = client
        self._sts = sts
        self._profile = profile
        self.calls: list[str] = []

    @property
    def region(self) -> str | None:
        """The client's Region."""
        return getattr(self.client.meta, "region_name", None)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (API name, e.g. ``UpdateAnswer``).

        Raises:
            WaToolError: the call failed (message names the operation and what to do).
        """
        method = getattr(self.client, _snake(operation))
        self.calls.append(operation)
        try:
            result: dict[str, Any] = method(**params)
        except (ClientError, BotoCoreError) as exc:
            raise_if_throttled(exc, service=SERVICE, operation=operation, region=self.region)
            raise WaToolError(
                str(translate(exc, service=SERVICE, operation=operation, region=self.region))
            ) from exc
        return result

    def caller_arn(self) -> str:
        """The ARN of the calling identity (STS ``GetCallerIdentity``, needs no permission).

        Raises:
            ThrottledError: STS throttled after botocore's retries.
            WaToolError: any other failure (no credentials, network), in one line.
        """
        if self._sts is None:
            from tools.aws.session import make_client

            self._sts = make_client("sts", profile=self._profile, region=self.region)
        try:
            return str(self._sts.get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError) as exc:
            raise_if_throttled(exc, service="STS", operation="GetCallerIdentity")
            raise WaToolError(
                str(translate(exc, service="STS", operation="GetCallerIdentity"))
            ) from exc

    def _summaries(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` of every page of a NextToken-paginated List call."""
        token = None
        while True:
            page = self.call(
                operation, **params, MaxResults=PAGE_SIZE, **({"NextToken": token} if token else {})
            )
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    def find_workload(self, name: str) -> dict[str, Any] | None:
        """The summary of the workload named ``name`` (case and spaces ignored), if any."""
        for summary in self._summaries("ListWorkloads", "WorkloadSummaries"):
            if same_name(str(summary.get("WorkloadName", "")), name):
                return summary
        return None

    def find_milestone(self, workload_id: str, name: str) -> int | None:
        """The number of the milestone named ``name``, if any."""
        for summary in self._summaries(
            "ListMilestones", "MilestoneSummaries", WorkloadId=workload_id
        ):
            if summary.get("MilestoneName") == name:
                return int(summary["MilestoneNumber"])
        return None


def _snake(operation: str) -> str:
    out = ""
    for ch in operation:
        out += ("_" + ch.lower()) if ch.isupper() and out else ch.lower()
    return out


def _resolve(value: Any, workload_id: str, milestone: int | None) -> Any:
    if value == WORKLOAD_ID:
        return workload_id
    if value == MILESTONE_NUMBER:
        return milestone
    if isinstance(value, dict):
        return {
            k: _resolve(v, workload_id, milestone)
            for k, v in value.items()
            if not (v == MILESTONE_NUMBER and milestone is None)
        }
    if isinstance(value, list):
        return [_resolve(v, workload_id, milestone) for v in value]
    return value


def same_answer(current: dict[str, Any], params: dict[str, Any]) -> bool:
    """True when the WA Tool's ``Answer`` already equals what ``UpdateAnswer`` would set."""
    if set(current.get("SelectedChoices") or []) != set(params.get("SelectedChoices") or []):
        return False
    if (current.get("Notes") or "") != (params.get("Notes") or ""):
        return False
    if bool(current.get("IsApplicable", True)) != bool(params.get("IsApplicable", True)):
        return False
    answers = {c["ChoiceId"]: c for c in current.get("ChoiceAnswers") or []}
    for choice_id, update in (params.get("ChoiceUpdates") or {}).items():
        have = answers.get(choice_id, {"Status": "UNSELECTED"})
        if have.get("Status") != update.get("Status"):
            return False
        if (have.get("Notes") or "") != (update.get("Notes") or ""):
            return False
        if update.get("Status") == "NOT_APPLICABLE" and have.get("Reason") != update.get("Reason"):
            return False
    return True


def validate_plan(plan: WaPlan, lens: Lens) -> None:
    """Check every choice id of every UpdateAnswer against the lens (before any write).

    Raises:
        InvalidChoiceError: naming the question and the invalid ids.
    """
    for call in plan.calls:
        if call.operation != "UpdateAnswer":
            continue
        qid = call.params["QuestionId"]
        ids = list(call.params.get("SelectedChoices") or []) + list(
            (call.params.get("ChoiceUpdates") or {}).keys()
        )
        try:
            lens.validate_choice_ids(qid, ids)
        except LensError as exc:
            raise InvalidChoiceError(f"plan refused, nothing was sent: {exc}") from exc
        for cid, update in (call.params.get("ChoiceUpdates") or {}).items():
            if len(update.get("Notes", "")) > CHOICE_NOTES_MAX:
                raise WaToolError(f"{qid}/{cid}: choice notes over {CHOICE_NOTES_MAX} characters")
        if len(call.params.get("Notes", "")) > ANSWER_NOTES_MAX:
            raise WaToolError(f"{qid}: answer notes over {ANSWER_NOTES_MAX} characters")


Progress = Callable[[str, dict[str, Any]], None]


def apply_plan(
    plan: WaPlan,
    lens: Lens,
    wa: WaToolClient,
    *,
    report_dir: Path | None = None,
    progress: Progress | None = None,
) -> ApplyResult:
    """Execute a plan (see the module docstring). The caller has obtained consent.

    Raises:
        InvalidChoiceError: a choice id is not in the lens (checked before any call).
        WaToolError: a call failed; answers already updated stay updated, so a re-run resumes.
    """
    validate_plan(plan, lens)
    notify = progress or (lambda event, payload: None)
    by_op: dict[str, list[PlannedCall]] = {}
    for call in plan.calls:
        by_op.setdefault(call.operation, []).append(call)

    summary = wa.find_workload(plan.workload_name)
    created = False
    if summary is not None:
        workload_id = str(summary["WorkloadId"])
        lenses = summary.get("Lenses")
        if (
            lenses is not None
            and plan.lens_alias not in lenses
            and not any(str(a).endswith("/" + plan.lens_alias) for a in lenses)
        ):
            raise WaToolError(
                f"workload {plan.workload_name!r} exists but does not use lens "
                f"{plan.lens_alias!r}; associate the lens in the WA Tool or pick another "
                "--workload-name"
            )
        notify("workload", {"workload_id": workload_id, "created": False})
    else:
        create = dict(by_op["CreateWorkload"][0].params)
        if create.get("ReviewOwner") == CALLER_ARN:
            create["ReviewOwner"] = wa.caller_arn()
        regions = [wa.region if r == CLIENT_REGION else r for r in create.get("AwsRegions", [])]
        if not all(regions):
            raise WaToolError("no AWS Region for the workload: pass --region or set AWS_REGION")
        create["AwsRegions"] = regions
        response = wa.call("CreateWorkload", **create)
        workload_id = str(response["WorkloadId"])
        created = True
        notify("workload", {"workload_id": workload_id, "created": True})

    result = ApplyResult(workload_id=workload_id, workload_created=created)
    for call in by_op.get("UpdateAnswer", []):
        params = _resolve(call.params, workload_id, None)
        qid = params["QuestionId"]
        current = wa.call(
            "GetAnswer", WorkloadId=workload_id, LensAlias=plan.lens_alias, QuestionId=qid
        ).get("Answer", {})
        if same_answer(current, params):
            result.skipped.append(qid)
            notify("answer", {"question_id": qid, "action": "skipped"})
            continue
        wa.call("UpdateAnswer", **params)
        result.updated.append(qid)
        notify("answer", {"question_id": qid, "action": "updated"})

    milestone = wa.find_milestone(workload_id, plan.milestone_name)
    if milestone is None:
        params = _resolve(by_op["CreateMilestone"][0].params, workload_id, None)
        milestone = int(wa.call("CreateMilestone", **params)["MilestoneNumber"])
        result.milestone_created = True
    result.milestone_number = milestone
    notify("milestone", {"number": milestone, "created": result.milestone_created})

    review = wa.call(
        "GetLensReview",
        WorkloadId=workload_id,
        LensAlias=plan.lens_alias,
        MilestoneNumber=milestone,
    ).get("LensReview", {})
    result.risk_counts = {k: int(v) for k, v in (review.get("RiskCounts") or {}).items()}
    result.pillar_risk_counts = {
        p["PillarId"]: {k: int(v) for k, v in (p.get("RiskCounts") or {}).items()}
        for p in review.get("PillarReviewSummaries") or []
    }
    report = wa.call(
        "GetLensReviewReport",
        WorkloadId=workload_id,
        LensAlias=plan.lens_alias,
        MilestoneNumber=milestone,
    ).get("LensReviewReport", {})
    encoded = report.get("Base64String")
    if encoded and report_dir is not None:
        path = report_dir / f"wa-report-{workload_id}-m{milestone}.pdf"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(encoded))
        except (OSError, ValueError) as exc:
            raise WaToolError(f"cannot save the lens review report to {path}: {exc}") from exc
        result.report_path = str(path)
    notify("report", {"path": result.report_path, "risk_counts": result.risk_counts})
    return result
