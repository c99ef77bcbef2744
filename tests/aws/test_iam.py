"""Every AWS operation the code can call is allowed by the role that calls it; the tools role
allows no write; `rca aws policy --role ...` prints each role's policy with its names filled."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import REPO
from tools.aws.iam import FILES, actions, placeholders, render_policy

# Which role runs each module that calls AWS, and the boto3 services its clients are.
CALLERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tools/aws/logs_insights.py": (("tools",), ("logs",)),
    "tools/aws/log_events.py": (("tools",), ("logs",)),
    "tools/aws/cloudwatch.py": (("tools",), ("cloudwatch",)),
    "tools/aws/cloudtrail.py": (("tools",), ("cloudtrail",)),
    "tools/aws/xray.py": (("tools",), ("xray",)),
    "tools/aws/transaction_search.py": (("tools",), ("logs",)),
    "tools/aws/session.py": (("tools",), ("sts",)),
    "tools/handlers.py": (("tools",), ("s3",)),
    "tools/workspace.py": (("tools", "agent", "slack"), ("s3",)),
    "tools/aws/models.py": (("agent", "review"), ("bedrock",)),
    "agent/providers/bedrock.py": (("agent",), ("bedrock-runtime",)),
    "agent/managed.py": (("agent",), ("bedrock-agent-runtime",)),
    "agent/sessions.py": (("agent", "slack"), ("dynamodb",)),
    "reviews/textract.py": (("review",), ("textract", "s3")),
    "reviews/retrieve.py": (("review",), ("bedrock-agent-runtime",)),
    "reviews/watool.py": (("review",), ("wellarchitected", "sts")),
    "reviews/assessors/bedrock.py": (("review",), ("bedrock-runtime",)),
    "reviews/chat.py": (("review",), ("bedrock-runtime",)),
    "reviews/store.py": (("review",), ("dynamodb", "s3")),
    "reviews/service.py": (("review",), ("s3",)),
    "reviews/sources.py": (("review",), ("s3",)),
    "reviews/handlers.py": (("review",), ("s3",)),
}
# Modules run with the operator's own credentials, not a deployed role (the README lists what
# they need): `rca ask --cloud` calls InvokeAgentRuntime from a laptop.
OPERATOR = {"agent/cloud.py"}
# Operations authorised by another action (service authorization reference).
IAM_ACTION = {
    "bedrock-runtime:Converse": "bedrock:InvokeModel",
    "bedrock-runtime:ConverseStream": "bedrock:InvokeModelWithResponseStream",
    "bedrock-runtime:ApplyGuardrail": "bedrock:ApplyGuardrail",
    "bedrock-agent-runtime:InvokeAgent": "bedrock:InvokeAgent",
    "bedrock-agent-runtime:Retrieve": "bedrock:Retrieve",
    # only Put items are sent; a transaction's Put needs dynamodb:PutItem (DynamoDB developer
    # guide, "Using IAM with DynamoDB transactions")
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
    "s3:HeadObject": "s3:GetObject",  # HeadObject needs s3:GetObject (S3 API reference)
}
NO_PERMISSION = {"sts:GetCallerIdentity"}
# Calls that are not made by the deployed role (said why).
EXEMPT = {
    "reviews/store.py": {"dynamodb:CreateTable"},  # bootstrap helper for tests; infra creates it
}
READ_VERBS = (
    "Get",
    "BatchGet",
    "List",
    "Describe",
    "Lookup",
    "Filter",
    "StartQuery",
    "StopQuery",
    "Assume",
)
WRITE_PREFIXES = ("Put", "Create", "Update", "Delete", "Tag", "Untag", "Attach", "Set", "Invoke")


def _mapping(service: str) -> dict[str, str]:
    client = boto3.client(service, region_name="eu-central-1")
    return dict(client.meta.method_to_api_mapping)


def operations(path: Path, services: tuple[str, ...]) -> set[str]:
    """``service:Operation`` of every call the module can make: client method calls, and
    operation names passed as strings (``wa.call("UpdateAnswer")``, ``self._call("put_item")``);
    waiters name the operation they poll."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    found: set[str] = set()
    for service in services:
        mapping = _mapping(service)
        apis = set(mapping.values())
        for name in names:
            if name in mapping:
                found.add(f"{service}:{mapping[name]}")
            elif name in apis:
                found.add(f"{service}:{name}")
        if service == "dynamodb" and "table_exists" in names:
            found.add("dynamodb:DescribeTable")
    return found


def iam_action(operation: str) -> str:
    service, api = operation.split(":")
    return IAM_ACTION.get(operation, f"{service}:{api}")


def test_every_module_calling_aws_is_assigned_a_role():
    callers = set()
    for folder in ("agent", "reviews", "tools", "cli"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            rel = str(path.relative_to(REPO))
            if rel == "tools/aws/replay.py":  # offline stand-ins define, not call, operations
                continue
            if any(m in text for m in ("make_client(", ".client(", "boto3.client")) and (
                "def make_client" not in text
            ):
                callers.add(rel)
    # the CLI and pipeline only build clients and hand them to the modules above
    builders = {
        "cli/aws.py",
        "cli/common.py",
        "cli/lens.py",
        "cli/review.py",
        "reviews/pipeline.py",
    }
    unassigned = callers - builders - OPERATOR - set(CALLERS)
    assert not unassigned, unassigned


def test_every_operation_is_allowed_by_the_role_that_calls_it():
    granted = {role: actions(render_policy(role)) for role in FILES}
    seen: set[str] = set()
    for rel, (roles, services) in CALLERS.items():
        ops = operations(REPO / rel, services) - EXEMPT.get(rel, set())
        seen |= ops
        for op in ops:
            action = iam_action(op)
            if action in NO_PERMISSION:
                continue
            for role in roles:
                assert action in granted[role], f"{rel} calls {op}: {role} role lacks {action}"
    # the scan finds what the code really calls (so the check above cannot pass empty)
    expected = {
        "logs:StartQuery",
        "logs:StopQuery",
        "cloudwatch:GetMetricData",
        "cloudtrail:LookupEvents",
        "bedrock:ListInferenceProfiles",
        "bedrock-runtime:Converse",
        "bedrock-runtime:ApplyGuardrail",
        "bedrock-agent-runtime:InvokeAgent",
        "bedrock-agent-runtime:Retrieve",
        "wellarchitected:CreateWorkload",
        "wellarchitected:UpdateAnswer",
        "textract:StartDocumentAnalysis",
        "dynamodb:PutItem",
        "sts:AssumeRole",
        "s3:GetObject",
    }
    assert expected <= seen, expected - seen


def test_the_review_role_grants_exactly_the_eight_wellarchitected_actions():
    wa = {a for a in actions(render_policy("review")) if a.startswith("wellarchitected:")}
    assert len(wa) == 8
    called = {iam_action(op) for op in operations(REPO / "reviews/watool.py", ("wellarchitected",))}
    assert called == wa


def test_tools_role_allows_no_write():
    document = render_policy("tools")
    for action in actions(document):
        verb = action.split(":")[1]
        assert verb.startswith(READ_VERBS), action
        assert not verb.startswith(WRITE_PREFIXES), action
        assert "*" not in action
    scoped = next(s for s in document["Statement"] if "logs:StartQuery" in s["Action"])
    assert all(":log-group:" in r for r in scoped["Resource"])


def test_names_are_configurable_not_hard_coded():
    assert {"CrossAccountRoleName", "WorkspaceBucket", "WorkspacePrefix"} <= set(
        placeholders("tools")
    )
    document = render_policy(
        "tools",
        {"CrossAccountRoleName": "ops-read", "WorkspaceBucket": "wsb", "WorkspacePrefix": "rca/"},
    )
    text = json.dumps(document)
    assert "role/ops-read" in text and "arn:aws:s3:::wsb/rca/*" in text and "${" not in text
    for role in FILES:
        assert "${" not in json.dumps(render_policy(role))


@pytest.mark.parametrize("role", list(FILES))
def test_rca_aws_policy_prints_each_role(role):
    result = CliRunner().invoke(app, ["aws", "policy", "--role", role, "--set", "Region=eu-west-1"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["Version"] == "2012-10-17" and document["Statement"]
    bad = CliRunner().invoke(app, ["aws", "policy", "--role", role, "--set", "Nope=1"])
    assert bad.exit_code == 2 and "not a setting" in bad.output
