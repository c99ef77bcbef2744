"""The read-only IAM policy covers every AWS API the wrappers, backend and handlers call."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3

from tests.conftest import REPO

POLICY = REPO / "infra" / "iam" / "rca-tools-readonly-policy.json"
SOURCES = [
    *sorted((REPO / "tools" / "aws").glob("*.py")),
    REPO / "tools" / "handlers.py",
    REPO / "tools" / "workspace.py",
    REPO / "tools" / "capture.py",
]
SERVICES = {
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "cloudtrail": "cloudtrail",
    "xray": "xray",
    "sts": "sts",
    "s3": "s3",
}
IGNORED = {"replay.py"}  # the offline stand-ins define, not call, the operations


def called_methods(path: Path) -> set[str]:
    """Method names called on anything named like a client (``self.client.x``, ``sts.x``...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            owner = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if owner in ("client", "sts", "s3"):
                names.add(node.func.attr)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "client"
            and not node.attr.startswith("_")
        ):
            names.add(node.attr)
    return names


def api_actions() -> set[str]:
    session = boto3.Session(region_name="eu-central-1")
    mapping = {}
    for prefix, service in SERVICES.items():
        for method, api in session.client(service).meta.method_to_api_mapping.items():
            mapping.setdefault(method, set()).add(f"{prefix}:{api}")
    actions: set[str] = set()
    for path in SOURCES:
        if path.name in IGNORED:
            continue
        for method in called_methods(path):
            if method in mapping:
                candidates = mapping[method]
                actions |= {
                    a for a in candidates if a.split(":")[0] in _services_of(path)
                } or candidates
    return actions


def _services_of(path: Path) -> set[str]:
    return {
        "logs_insights.py": {"logs"},
        "log_events.py": {"logs"},
        "cloudwatch.py": {"cloudwatch"},
        "cloudtrail.py": {"cloudtrail"},
        "xray.py": {"xray"},
        "session.py": {"sts"},
        "handlers.py": {"s3"},
        "workspace.py": {"s3"},
        "capture.py": set(),
    }.get(path.name, set(SERVICES))


def allowed() -> set[str]:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    out: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        out |= set(statement["Action"])
    return out


def test_every_called_api_is_in_the_policy():
    actions = api_actions()
    expected = {
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:StopQuery",
        "logs:DescribeLogGroups",
        "logs:FilterLogEvents",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DescribeAlarmHistory",
        "cloudtrail:LookupEvents",
        "xray:GetServiceGraph",
        "sts:AssumeRole",
        "sts:GetCallerIdentity",
        "s3:GetObject",
    }
    assert expected <= actions, expected - actions
    # GetCallerIdentity needs no permission (STS always allows it)
    assert actions - {"sts:GetCallerIdentity"} <= allowed()


def test_policy_is_read_only():
    for action in allowed():
        verb = action.split(":")[1]
        assert verb.startswith(
            ("Get", "List", "Describe", "Lookup", "Start", "Stop", "Filter", "Assume")
        ), action
    assert not any("*" in a for a in allowed())
