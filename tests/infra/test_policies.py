"""One IAM source: the deployed roles are built from ``infra/iam/*.json`` (what ``rca aws policy``
prints and ``tests/aws/test_iam.py`` scans), so the synthesized policies hold exactly the files'
statements, and an edit of a file changes the stack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.policies import NOT_DEPLOYED, ROLES, tool_sids
from tools.aws import iam as iam_files
from tools.toolbox import TOOLS

OWN = {"OwnLogGroup"}  # infra.stacks.common.lambda_role: the function's own log group
CONSTRUCT_GRANTS = {
    # Lambda active tracing (CDK adds it without a Sid)
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    # the AgentCore Runtime construct's own grants: its logs, traces, metrics, workload
    # identity, and reading its code package from the CDK asset bucket
    "xray:GetSamplingRules", "xray:GetSamplingTargets", "cloudwatch:PutMetricData",
    "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:CreateLogGroup",
    "logs:CreateLogStream", "logs:PutLogEvents", "bedrock-agentcore:GetWorkloadAccessToken",
    "bedrock-agentcore:GetWorkloadAccessTokenForJWT",
    "bedrock-agentcore:GetWorkloadAccessTokenForUserId", "s3:GetObject*", "s3:GetBucket*",
    "s3:List*",
}  # fmt: skip
CONSTRUCT_SIDS = {None, "CloudWatchMetrics", "DescribeLogGroups", "GetAgentAccessToken",
                  "LogGroupAccess", "LogStreamAccess", "XRayAccess"}  # fmt: skip


def file_statements(role: str) -> dict[str, list[str]]:
    document = json.loads(iam_files.policy_text(role))
    return {
        s["Sid"]: [s["Action"]] if isinstance(s["Action"], str) else list(s["Action"])
        for s in document["Statement"]
    }


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every stack with every optional part on (guardrail, WA Tool writes, alarm tag filter,
    workspace in S3, Agents Classic action groups), cdk-nag attached: synthesis fails on any
    unacknowledged finding."""
    from aws_cdk import App

    from infra.app import build
    from infra.config import EXAMPLE, load_config

    config, base = load_config(EXAMPLE)
    config = config.model_copy(
        update={
            "guardrail": config.guardrail.model_copy(update={"enabled": True}),
            "alarms": config.alarms.model_copy(update={"tag": "rca=investigate"}),
            "watool_writes": True,
            "classic_action_groups": True,
            "workspace": "s3://ops-config/rca/workspace.json",
        }
    )
    outdir = tmp_path_factory.mktemp("full") / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    deployment = build(config, base, app=app)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    roles: dict[str, list[dict[str, Any]]] = {}
    for stack in deployment.stacks.values():
        template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
        names = {
            logical: res["Properties"].get("RoleName")
            for logical, res in template["Resources"].items()
            if res["Type"] == "AWS::IAM::Role"
        }
        for res in template["Resources"].values():
            if res["Type"] != "AWS::IAM::Policy":
                continue
            for ref in res["Properties"]["Roles"]:
                name = names.get(ref.get("Ref"))
                if isinstance(name, str):
                    roles.setdefault(name, []).extend(
                        res["Properties"]["PolicyDocument"]["Statement"]
                    )
    return {"roles": roles, "config": config}


def kind_of(role_name: str, prefix: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The deployed role kind of a role name and its (file, Sids) picks."""
    if role_name == f"AmazonBedrockExecutionRoleForAgents_{prefix}":
        return "classic-agent", ROLES["classic-agent"]
    short = role_name.removeprefix(f"{prefix}-")
    if short.startswith("tool-"):
        tool = short.removeprefix("tool-")
        return short, (("tools", tool_sids(tool)),)
    kind = short.replace("review-mark-failed", "review-mark_failed")
    return kind, ROLES[kind]


def test_every_role_holds_exactly_its_policy_file_statements(full: dict[str, Any]) -> None:
    prefix = full["config"].prefix
    checked = 0
    for name, found in full["roles"].items():
        if name.startswith((f"{prefix}-tool-", f"{prefix}-review-", "AmazonBedrockExecution")) or (
            name in {f"{prefix}-agent-runtime", f"{prefix}-slack", f"{prefix}-alarms"}
        ):
            _, picks = kind_of(name, prefix)
            expected = {sid: file_statements(role)[sid] for role, sids in picks for sid in sids}
            from_files = {s["Sid"]: s for s in found if s.get("Sid") in expected}
            assert set(from_files) == set(expected), (name, set(expected) ^ set(from_files))
            for sid, st in from_files.items():
                actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
                assert sorted(actions) == sorted(expected[sid]), (name, sid)
            for st in found:  # nothing else but the function's log group and construct grants
                if st.get("Sid") in expected or st.get("Sid") in OWN:
                    continue
                actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
                assert st.get("Sid") in CONSTRUCT_SIDS, (name, st.get("Sid"))
                assert set(actions) <= CONSTRUCT_GRANTS, (name, actions)
            checked += 1
    assert checked == 3 + 1 + len(TOOLS) + 9  # runtime, Slack, alarms, classic, tools, tasks


def test_the_deployed_roles_cover_exactly_the_policy_files(full: dict[str, Any]) -> None:
    prefix = full["config"].prefix
    deployed: set[tuple[str, str]] = set()
    for name, found in full["roles"].items():
        try:
            _, picks = kind_of(name, prefix)
        except KeyError:
            continue  # a role of a CDK construct or the knowledge base (not in the files)
        sids = {s.get("Sid") for s in found}
        deployed |= {(role, sid) for role, picked in picks for sid in picked if sid in sids}
    every = {(role, sid) for role in iam_files.FILES for sid in file_statements(role)}
    assert deployed.isdisjoint(NOT_DEPLOYED)
    assert deployed | set(NOT_DEPLOYED) == every, every - deployed - set(NOT_DEPLOYED)
    granted = {a for role, sid in deployed for a in file_statements(role)[sid]}
    listed = {
        a for role in iam_files.FILES for a in iam_files.actions(iam_files.render_policy(role))
    }
    left_out = {a for role, sid in NOT_DEPLOYED for a in file_statements(role)[sid]}
    assert granted == listed - (left_out - granted)


def test_the_runtime_may_invoke_its_gateway_and_reads_no_telemetry(full: dict[str, Any]) -> None:
    runtime = full["roles"][f"{full['config'].prefix}-agent-runtime"]
    (gateway,) = [s for s in runtime if s.get("Sid") == "ToolGateway"]
    assert gateway["Action"] == "bedrock-agentcore:InvokeGateway"
    text = json.dumps(gateway["Resource"])
    assert ":gateway/" in text and "Fn::ImportValue" in text  # the tools stack's Gateway id
    telemetry = {"sts:AssumeRole"} | {
        a for sid, st in file_statements("tools").items() if "Tool" in sid for a in st
    }
    for role in ("agent-runtime", "slack", "alarms"):
        for st in full["roles"][f"{full['config'].prefix}-{role}"]:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            assert not telemetry & set(actions) - CONSTRUCT_GRANTS, (role, st.get("Sid"))


def test_an_edit_of_a_policy_file_changes_the_stack_and_the_printed_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Match, Template

    from infra.config import EXAMPLE, load_config
    from infra.packaging import stage
    from infra.stacks.agent_stack import AgentStack

    copy = tmp_path / "iam"
    shutil.copytree(iam_files.IAM_DIR, copy)
    path = copy / iam_files.FILES["agent"]
    document = json.loads(path.read_text())
    for st in document["Statement"]:
        if st["Sid"] == "SessionsTable":
            st["Action"].append("dynamodb:UpdateItem")
    path.write_text(json.dumps(document))
    monkeypatch.setattr(iam_files, "IAM_DIR", copy)
    assert "dynamodb:UpdateItem" in iam_files.actions(iam_files.render_policy("agent"))
    config, base = load_config(EXAMPLE)
    app = App(outdir=str(tmp_path / "out"), context={"aws:cdk:bundling-stacks": []})
    workspace = {"tools/workspace.json": (base / config.workspace).resolve()}
    agent = AgentStack(app, "a", config=config, source=stage("agent", workspace),
                       gateway_id="gw-0123456789", gateway_url="https://gw/mcp")  # fmt: skip
    Template.from_stack(agent).has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "SessionsTable",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan",
                       "dynamodb:UpdateItem"]})])}},
    )  # fmt: skip


def test_the_cloud_investigators_are_configured_to_use_the_gateway(synthesized: Any) -> None:
    runtime = next(
        r for r in synthesized.templates["agent"]["Resources"].values()
        if r["Type"] == "AWS::BedrockAgentCore::Runtime"
    )  # fmt: skip
    url = runtime["Properties"]["EnvironmentVariables"]["RCA_GATEWAY_URL"]
    assert "Fn::ImportValue" in json.dumps(url)  # the tools stack's GatewayUrl
    for concern in ("slack", "alarms"):
        (fn,) = [
            r for r in synthesized.templates[concern]["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
        ]  # fmt: skip
        assert "RCA_GATEWAY_URL" in fn["Properties"]["Environment"]["Variables"], concern
    # behind the Gateway the investigators assume no workload role: only the tools get RCA_ROLE_*
    for concern in ("agent", "slack", "alarms"):
        assert "RCA_ROLE_" not in json.dumps(synthesized.templates[concern]), concern
    assert "RCA_ROLE_ARN_TEMPLATE" in json.dumps(synthesized.templates["tools"])
