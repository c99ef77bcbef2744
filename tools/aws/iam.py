"""The IAM policies of the four roles, with their configurable names filled in.

``infra/iam/rca-<role>-policy.json`` (the tools role's file is ``rca-tools-readonly-policy.json``)
hold ``${Name}`` placeholders for what differs per installation: the cross-account role name,
the workspace and review S3 bucket and prefix, table names, knowledge base, guardrail, agent and
the model pattern. :func:`render_policy` fills them from ``--set Name=value`` (``rca aws policy
--role tools|agent|review|slack``), else from :data:`DEFAULTS`.

Which role calls what (checked by ``tests/aws/test_iam.py``, which collects every AWS operation
the code can call):

- ``tools``: the four RCA tools and ``rca capture`` (read-only: Logs Insights, CloudWatch,
  CloudTrail LookupEvents, X-Ray, AssumeRole of the cross-account read-only role, the workspace
  object in S3);
- ``agent``: the investigation loop (Converse = ``bedrock:InvokeModel`` on the inference profile
  and its foundation models, ApplyGuardrail, model resolution, ``bedrock-agentcore:InvokeGateway``
  for the tool calls through the AgentCore Gateway, InvokeAgent for the managed runtime, the
  sessions table);
- ``review``: Textract, the document prefix in S3, KB Retrieve, Converse, the eight
  ``wellarchitected`` actions of the pre-fill, the reviews table;
- ``slack``: the Bolt Lambda (lazy self-invoke, its secrets, the sessions table, the alarm
  handler's tag filter, the agent runtime, uploads under the review prefix).

The CDK stacks build every role from these same files (``infra/policies.py``), with the
placeholders filled by the deployment's resources, so one edit changes both.

IAM facts relied on: Converse and ConverseStream are authorised by ``bedrock:InvokeModel`` /
``bedrock:InvokeModelWithResponseStream``; a cross-Region inference profile needs the action on
the profile and on the foundation model in every Region it routes to; ``logs:StartQuery`` and
``logs:FilterLogEvents`` take log-group ARNs, ``GetQueryResults`` / ``StopQuery`` /
``DescribeLogGroups`` do not scope to a group; Textract and the wellarchitected List/Create
calls take ``*``; ``sts:GetCallerIdentity`` needs no permission.
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.errors import RcaError

IAM_DIR = Path(__file__).resolve().parents[2] / "infra" / "iam"
FILES = {
    "tools": "rca-tools-readonly-policy.json",
    "agent": "rca-agent-policy.json",
    "review": "rca-review-policy.json",
    "slack": "rca-slack-policy.json",
}
DEFAULTS: dict[str, str] = {
    "Partition": "aws",
    "Region": "*",
    "Account": "*",
    "LogGroupPattern": "*",
    "WorkloadAccount": "*",
    "CrossAccountRoleName": "rca-readonly",
    "WorkspaceBucket": "*",
    "WorkspacePrefix": "",
    "InferenceProfile": "inference-profile/*",
    "ModelRegion": "*",
    "FoundationModel": "*",
    "GuardrailId": "*",
    "GatewayId": "*",
    "AgentId": "*",
    "SessionsTable": "rca-sessions",
    "ReviewsTable": "rca-reviews",
    "ReviewBucket": "*",
    "ReviewPrefix": "reviews/",
    "ReviewKeyId": "*",
    "KnowledgeBaseId": "*",
    "SlackFunctionName": "rca-slack",
    "SlackSecretName": "rca-slack",
    "AgentRuntimeId": "*",
    "AlarmPattern": "*",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def policy_text(role: str) -> str:
    """The raw policy JSON of ``role`` (placeholders unfilled).

    Raises:
        RcaError: unknown role, or the file is missing (not a source checkout).
    """
    if role not in FILES:
        raise RcaError(f"unknown role {role!r}; use one of {', '.join(FILES)}")
    path = IAM_DIR / FILES[role]
    if not path.is_file():
        raise RcaError(f"{path} not found; run from a source checkout (infra/iam/)")
    return path.read_text(encoding="utf-8")


def placeholders(role: str) -> list[str]:
    """The ``${Name}`` placeholders the policy of ``role`` uses, in order of appearance."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(policy_text(role))))


def render_policy(role: str, values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The policy of ``role`` with every placeholder filled (``values`` > :data:`DEFAULTS`).

    Raises:
        RcaError: unknown role, or a value names no placeholder of that policy.
    """
    given = dict(values or {})
    unknown = sorted(set(given) - set(placeholders(role)))
    if unknown:
        raise RcaError(
            f"{', '.join(unknown)} is not a setting of the {role} policy; settings: "
            + ", ".join(placeholders(role))
        )
    merged = {**DEFAULTS, **given}
    text = _PLACEHOLDER.sub(lambda m: merged[m.group(1)], policy_text(role))
    document: dict[str, Any] = json.loads(text)
    return document


def actions(document: Mapping[str, Any]) -> set[str]:
    """Every action an (all-Allow) policy document grants."""
    out: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        out |= {listed} if isinstance(listed, str) else set(listed)
    return out
