"""The deployed roles' IAM statements, built from ``infra/iam/*.json``: the one source.

The same files are printed by ``rca aws policy --role tools|agent|review|slack``
(:mod:`tools.aws.iam`) and scanned by ``tests/aws/test_iam.py`` against every AWS operation the
code can call. A stack picks a role's statements by ``Sid`` (:data:`ROLES`) and fills each
``${Name}`` placeholder with the deployment's value, a CDK token where it names a resource of the
app (a table name, a bucket name, the Gateway id). Rules:

- every placeholder of a picked statement must be given a value (no silent defaults here);
- a statement with a placeholder valued ``None`` (or an empty list) is left out: that feature
  is not deployed (no guardrail, a workspace that is not in S3, no Knowledge Base);
- a list value expands the resource into one ARN per item (the workload accounts);
- the same ``Sid`` picked from two files must be the same statement (the sessions table is in
  both the agent and the Slack policy) and is kept once.

Statements that no deployed role picks are listed in :data:`NOT_DEPLOYED` with the reason;
``tests/infra/test_policies.py`` checks that the synthesized roles plus that list cover exactly
the files' statements.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from infra.config import InfraConfig
from tools.aws.iam import policy_text

Value = str | Sequence[str] | None
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")

INVESTIGATOR = (
    "ConverseOnTheInferenceProfile",
    "ConverseOnTheFoundationModel",
    "ModelResolution",
    "GuardrailOnToolResults",
    "ToolGateway",
    "SessionsTable",
    "WorkspaceFromS3",
)
"""What a process running :class:`agent.service.InvestigationService` with the tools behind
the Gateway needs (the runtime, the Slack and the alarm Lambdas): no telemetry action."""
SHARED = ("SessionsTable", "WorkspaceFromS3")
"""In both the agent and the Slack policy file (kept once; :func:`compose` checks they agree)."""
REVIEW_TABLE = ("ReviewsTableRead", "ReviewsTableWrite")
DOCUMENTS = ("DocumentsRead", "DocumentsKey")
ASSESSOR = ("ConverseOnTheInferenceProfile", "ConverseOnTheFoundationModel", "ModelResolution")

ROLES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "agent-runtime": (("agent", INVESTIGATOR),),
    "classic-agent": (("agent", ASSESSOR[:2]),),
    "slack": (("agent", INVESTIGATOR), ("slack", ("LazySelfInvoke", "SlackSecrets", *SHARED))),
    "alarms": (("agent", INVESTIGATOR), ("slack", ("SlackSecrets", "AlarmTags", *SHARED))),
    "review-submit": (("review", (*REVIEW_TABLE, *DOCUMENTS)),),
    "review-extract": (
        ("review", (*REVIEW_TABLE, *DOCUMENTS, "DocumentsWrite", "TextractAsyncAnalysis")),
    ),
    "review-questions": (("review", ("ReviewsTableRead",)),),
    "review-assess": (
        ("review", (*REVIEW_TABLE, *DOCUMENTS, "DocumentsWrite", *ASSESSOR, "GuidanceRetrieve")),
    ),
    "review-mark_failed": (("review", REVIEW_TABLE),),
    "review-finalize": (("review", (*REVIEW_TABLE, *DOCUMENTS, "DocumentsWrite", *ASSESSOR)),),
    "review-plan": (("review", ("ReviewsTableRead", *DOCUMENTS)),),
    "review-apply": (
        (
            "review",
            (*REVIEW_TABLE, *DOCUMENTS, "WellArchitectedWorkloads", "WellArchitectedFindOrCreate"),
        ),
    ),
    "review-notify": (("review", ("ReviewsTableRead", *DOCUMENTS, "NotifySlackSecret")),),
}
"""Deployed role -> (policy file role, statement Sids) pairs. The tool roles are built per tool
in :func:`tool_role`: the statements whose Sid starts with ``<Tool>Tool`` plus the
cross-account and workspace statements."""

NOT_DEPLOYED: dict[tuple[str, str], str] = {
    ("agent", "ManagedAgentRuntime"): "InvokeAgent is for `rca ask --runtime bedrock-agent` run "
    "by an operator against an Agents Classic agent; the deployed runtime runs its own loop",
    ("slack", "AgentRuntime"): "the Slack Lambda runs the investigation service itself (tools "
    "through the Gateway); InvokeAgentRuntime is for a Slack app hosted elsewhere",
    ("slack", "UploadedDocuments"): "the deployed Slack Lambda does not upload review documents; "
    "PDFs go to the review bucket's uploads/ prefix (S3, CLI), which starts the state machine",
    ("review", "ReviewsTableListing"): "Scan and DescribeTable serve `rca review list` and the "
    "store's table bootstrap, run by an operator; the state machine's tasks never list reviews",
}
"""Statements of the files that no deployed role holds, with the reason."""


def _placeholders(node: Any) -> list[str]:
    return list(dict.fromkeys(_PLACEHOLDER.findall(json.dumps(node))))


def _fill(text: str, values: Mapping[str, Value]) -> list[str]:
    """``text`` with its placeholders filled: one string per combination of list values."""
    names = list(dict.fromkeys(_PLACEHOLDER.findall(text)))
    options = [
        [values[n]] if isinstance(values[n], str) else list(values[n])  # type: ignore[arg-type]
        for n in names
    ]
    out = []
    for combo in itertools.product(*options):
        chosen = dict(zip(names, combo, strict=True))
        out.append(_PLACEHOLDER.sub(lambda m, c=chosen: str(c[m.group(1)]), text))
    return out


def statements(role: str, sids: Sequence[str], values: Mapping[str, Value]) -> list[dict[str, Any]]:
    """The statements ``sids`` of the ``role`` policy file, filled with ``values``, as
    ``{"Sid", "Action": [...], "Resource": [...]}`` (only Allow statements exist there).

    Raises:
        ValueError: a Sid the file does not have, or a placeholder without a value.
    """
    document = json.loads(policy_text(role))
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    unknown = [s for s in sids if s not in by_sid]
    if unknown:
        raise ValueError(f"{role} policy has no statement {', '.join(unknown)}")
    out = []
    for sid in sids:
        st = by_sid[sid]
        names = _placeholders(st)
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(
                f"{role} policy statement {sid} needs a value for {', '.join(missing)}"
            )
        if any(values[n] is None or (not isinstance(values[n], str) and not values[n])
               for n in names):  # fmt: skip
            continue  # a feature that is not deployed
        listed = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = [r for text in listed for r in _fill(text, values)]
        out.append({"Sid": sid, "Action": list(actions), "Resource": resources})
    return out


def compose(
    picks: Sequence[tuple[str, Sequence[str]]], values: Mapping[str, Value]
) -> list[dict[str, Any]]:
    """The statements of several (file, Sids) picks, one per Sid.

    Raises:
        ValueError: a Sid picked from two files with different contents.
    """
    kept: dict[str, dict[str, Any]] = {}
    for role, sids in picks:
        for st in statements(role, sids, values):
            earlier = kept.get(st["Sid"])
            if earlier is not None and earlier != st:
                raise ValueError(f"statement {st['Sid']} differs between the policy files")
            kept.setdefault(st["Sid"], st)
    return list(kept.values())


def stack_values(stack: Stack, config: InfraConfig) -> dict[str, Value]:
    """The values every role shares: partition, Region and account of the stack (tokens when
    the stack is environment-agnostic), the model, the workspace object and the tables' and
    secrets' names as the stacks name them."""
    model = config.model
    if model.id.startswith("arn:"):
        profile: str | None = model.id.split(":", 5)[5]
    elif model.is_profile:
        profile = f"inference-profile/{model.id}"
    else:
        profile = None  # a plain model id: no profile to allow
    bucket, _, key = config.workspace[len("s3://") :].partition("/")
    in_s3 = config.workspace.startswith("s3://")
    return {
        "Partition": stack.partition,
        "Region": stack.region,
        "Account": stack.account,
        "InferenceProfile": profile,
        # a cross-Region profile routes to the model in any Region of its geography
        "ModelRegion": "*" if model.is_profile else stack.region,
        "FoundationModel": model.base_model,
        "WorkspaceBucket": bucket if in_s3 else None,
        "WorkspacePrefix": key if in_s3 else None,
        "SessionsTable": f"{config.prefix}-sessions",
        "SlackSecretName": f"{config.prefix}/slack",
        "SlackFunctionName": f"{config.prefix}-slack",
    }


def add_statements(role: iam.IRole, found: Sequence[Mapping[str, Any]]) -> None:
    """Attach ``found`` (from :func:`compose`) to ``role``'s default policy."""
    for st in found:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=st["Sid"], actions=list(st["Action"]), resources=list(st["Resource"])
            )
        )


def grant(role: iam.IRole, kind: str, values: Mapping[str, Value]) -> list[dict[str, Any]]:
    """Give ``role`` the statements of the deployed role ``kind`` (:data:`ROLES`); returns
    them (for the tests and the report)."""
    found = compose(ROLES[kind], values)
    add_statements(role, found)
    return found


def tool_statements(tool: str) -> list[dict[str, Any]]:
    """One tool's own read statements in the ``tools`` policy file: those whose Sid starts
    with ``<Tool>Tool`` (e.g. ``TracesToolXRayTraces``), as written there (unfilled)."""
    document = json.loads(policy_text("tools"))
    prefix = f"{tool.capitalize()}Tool"
    return [s for s in document["Statement"] if s["Sid"].startswith(prefix)]


def tool_actions(tool: str) -> list[str]:
    """The API actions of :func:`tool_statements` (``[]`` for a tool the file does not name)."""
    return [
        a
        for st in tool_statements(tool)
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    ]


def tool_sids(tool: str) -> tuple[str, ...]:
    """The Sids of one tool's role: its own read statements (``<Tool>Tool...``), the
    workload accounts' read-only role and the workspace object."""
    own = tuple(s["Sid"] for s in tool_statements(tool))
    return (*own, "CrossAccountReadOnlyRoles", "HandlersWorkspaceFromS3")
