"""The synthesized CDK app: resources, least privilege, Gateway targets, the review state
machine's retry and concurrency, TLS-only buckets, and cdk-nag with nothing unacknowledged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.stacks.reviews_stack import RETRY, THROTTLE_ERRORS
from infra.stacks.tools_stack import TOOL_ACTIONS, readonly_actions
from tests.infra.conftest import Synthesized
from tools.gateway import tool_definition
from tools.toolbox import TOOLS

EXPECTED_STACKS = {"tools", "agent", "knowledge", "reviews", "slack", "alarms", "workload-role"}
# Writes a role may hold: its own log stream and X-Ray segments (telemetry of the function).
OWN_TELEMETRY_WRITES = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for logical, res in template["Resources"].items():
        props = res.get("Properties", {})
        docs = []
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append(props["PolicyDocument"])
        if res["Type"] == "AWS::IAM::Role":
            docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for doc in docs:
            out += [(logical, s) for s in doc["Statement"]]
    return out


def actions_of(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def test_every_stack_synthesizes_with_resources(synthesized: Synthesized) -> None:
    assert set(synthesized.templates) == EXPECTED_STACKS
    for concern, template in synthesized.templates.items():
        assert template["Resources"], concern


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    for plugin in synthesized.report.get("pluginReports", []):
        assert plugin["violations"] == [], (plugin["pluginName"], plugin["violations"][:3])


def test_cdk_nag_does_run_and_fails_an_unacknowledged_finding(tmp_path: Any) -> None:
    """Negative control: the same plugin set on an app with a plain bucket fails synthesis."""
    from aws_cdk import App, Stack, Validations
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(tmp_path / "out"))
    s3.Bucket(Stack(app, "Bad"), "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_no_iam_statement_allows_a_wildcard_action(synthesized: Synthesized) -> None:
    for concern, template in synthesized.templates.items():
        for logical, st in statements(template):
            for action in actions_of(st):
                assert action != "*" and not action.endswith(":*"), (concern, logical, action)


def test_each_tool_has_its_own_lambda_and_read_only_role(synthesized: Synthesized) -> None:
    template = synthesized.templates["tools"]
    functions = resources(template, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"]: f for f in functions.values()}
    assert set(handlers) == {f"tools.handlers.{name}" for name in TOOLS}
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(roles) == len(TOOLS)
    for fn in functions.values():
        assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert fn["Properties"]["Architectures"] == ["arm64"]
    policies = resources(template, "AWS::IAM::Policy")
    for name in TOOLS:
        role_id = handlers[f"tools.handlers.{name}"]["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = {
            a
            for p in policies.values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]
            for a in actions_of(st)
        }
        own = set(TOOL_ACTIONS.get(name, []))
        assert own  # every tool reads telemetry (traces: X-Ray or aws/spans)
        assert own <= granted
        other = granted - own - OWN_TELEMETRY_WRITES - {"sts:AssumeRole"}
        assert not other, (name, other)  # nothing another tool needs, no write action
        assert granted <= set(readonly_actions()) | OWN_TELEMETRY_WRITES | {"sts:AssumeRole"}
    traces_role = handlers["tools.handlers.traces"]["Properties"]["Role"]["Fn::GetAtt"][0]
    (span_query,) = [
        st
        for p in policies.values()
        if {"Ref": traces_role} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "logs:StartQuery" in actions_of(st)
    ]
    assert span_query["Resource"] != "*" and "log-group:aws/spans" in json.dumps(span_query)


def test_gateway_targets_are_the_converse_tools(synthesized: Synthesized) -> None:
    template = synthesized.templates["tools"]
    Template.from_json(template).resource_count_is("AWS::BedrockAgentCore::Gateway", 1)
    gateway = next(iter(resources(template, "AWS::BedrockAgentCore::Gateway").values()))
    assert gateway["Properties"]["AuthorizerType"] == "AWS_IAM"
    targets = resources(template, "AWS::BedrockAgentCore::GatewayTarget")
    by_name = {t["Properties"]["Name"]: t for t in targets.values()}
    assert set(by_name) == set(TOOLS)
    for name, target in by_name.items():
        lam = target["Properties"]["TargetConfiguration"]["Mcp"]["Lambda"]
        (tool,) = lam["ToolSchema"]["InlinePayload"]
        spec = TOOLS[name].spec()
        assert tool["Name"] == spec["name"] == name
        props = spec["input_schema"]["properties"]
        assert set(tool["InputSchema"]["Properties"]) == set(props)
        assert tool["InputSchema"].get("Required", []) == spec["input_schema"].get("required", [])
        assert tool_definition(TOOLS[name])["inputSchema"]["type"] == "object"


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    return json.loads(text)


def test_review_state_machine_retries_throttling_with_jitter_and_bounds_concurrency(
    synthesized: Synthesized,
) -> None:
    definition = state_machine(synthesized.templates["reviews"])
    each = definition["States"]["assess_each_question"]
    assert each["Type"] == "Map"
    assert each["MaxConcurrency"] == synthesized.config.reviews.max_concurrency
    assess = each["ItemProcessor"]["States"]["assess"]
    (throttle,) = [r for r in assess["Retry"] if r["ErrorEquals"] == THROTTLE_ERRORS]
    assert throttle["JitterStrategy"] == "FULL"
    assert throttle["BackoffRate"] == RETRY["backoff_rate"]
    assert throttle["MaxAttempts"] == RETRY["max_attempts"]
    assert throttle["IntervalSeconds"] == RETRY["interval_s"]
    assert throttle["MaxDelaySeconds"] == RETRY["max_delay_s"]
    (catch,) = assess["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "mark_failed"


def test_upload_bucket_is_kms_encrypted_versioned_tls_only_with_lifecycle(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates["reviews"]
    t = Template.from_json(template)
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                           "KMSMasterKeyID": Match.any_value()}}
                    )
                ]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": Match.object_like({"Rules": Match.any_value()}),
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
        },
    )  # fmt: skip
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    for concern in ("reviews", "knowledge"):
        template = synthesized.templates[concern]
        buckets = resources(template, "AWS::S3::Bucket")
        policies = resources(template, "AWS::S3::BucketPolicy").values()
        covered = set()
        for policy in policies:
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                if st["Effect"] == "Deny" and st.get("Condition") == {
                    "Bool": {"aws:SecureTransport": "false"}
                }:
                    covered.add(policy["Properties"]["Bucket"]["Ref"])
        assert covered == set(buckets), concern


def test_upload_event_starts_the_review(synthesized: Synthesized) -> None:
    t = Template.from_json(synthesized.templates["reviews"])
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {"source": ["aws.s3"], "detail-type": ["Object Created"],
                 "detail": Match.object_like({"object": {"key": [{"prefix": "uploads/"}]}})}
            ),
            "Targets": [Match.object_like({"Arn": {"Ref": Match.any_value()}})],
        },
    )  # fmt: skip


def test_sessions_table_has_pitr_and_ttl_and_the_runtime_is_iam_authorized(
    synthesized: Synthesized,
) -> None:
    t = Template.from_json(synthesized.templates["agent"])
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        },
    )
    runtime = next(iter(resources(synthesized.templates["agent"],
                                  "AWS::BedrockAgentCore::Runtime").values()))  # fmt: skip
    props = runtime["Properties"]
    code = props["AgentRuntimeArtifact"]["CodeConfiguration"]
    assert code["EntryPoint"] == ["main.py"] and code["Runtime"].startswith("PYTHON_3_")
    assert props["EnvironmentVariables"]["RCA_MODEL_ID"] == synthesized.config.model.id
    assert "RCA_SESSION_TABLE" in props["EnvironmentVariables"]


def test_slack_endpoint_url_self_invoke_and_secret(synthesized: Synthesized) -> None:
    template = synthesized.templates["slack"]
    t = Template.from_json(template)
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    t.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "slackbot.lambda_handler.handler"}
    )
    t.resource_count_is("AWS::SecretsManager::Secret", 1)
    selfs = [s for _, s in statements(template) if s.get("Sid") == "LazySelfInvoke"]
    assert selfs and actions_of(selfs[0]) == ["lambda:InvokeFunction"]
    assert "function:rca-slack" in json.dumps(selfs[0]["Resource"])


def test_alarm_rule_filters_alarm_state_and_name_prefix(synthesized: Synthesized) -> None:
    t = Template.from_json(synthesized.templates["alarms"])
    prefixes = [{"prefix": p} for p in synthesized.config.alarms.name_prefixes]
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"state": {"value": ["ALARM"]}, "alarmName": prefixes},
            }
        },
    )
    t.has_resource_properties("AWS::Lambda::Function", {"Handler": "slackbot.alarms.handler"})


def test_knowledge_base_uses_s3_vectors_with_non_filterable_bedrock_keys(
    synthesized: Synthesized,
) -> None:
    t = Template.from_json(synthesized.templates["knowledge"])
    t.has_resource_properties(
        "AWS::Bedrock::KnowledgeBase",
        {"StorageConfiguration": Match.object_like({"Type": "S3_VECTORS"})},
    )
    t.has_resource_properties(
        "AWS::S3Vectors::Index",
        {"MetadataConfiguration": {
            "NonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]}},
    )  # fmt: skip
    t.has_resource_properties(
        "AWS::Bedrock::DataSource",
        {"DataSourceConfiguration": Match.object_like({"Type": "S3"})},
    )


def test_workload_role_trusts_only_the_investigating_roles_under_a_read_only_ceiling(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates["workload-role"]
    (role,) = resources(template, "AWS::IAM::Role").values()
    props = role["Properties"]
    assert props["RoleName"] == "rca-readonly"
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    principals = json.dumps(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    for name in TOOLS:
        assert f"role/rca-tool-{name}" in principals
    assert "PermissionsBoundary" in props
    (boundary,) = resources(template, "AWS::IAM::ManagedPolicy").values()
    granted = {a for st in boundary["Properties"]["PolicyDocument"]["Statement"]
               for a in actions_of(st)}  # fmt: skip
    assert granted == set(readonly_actions())


def test_guardrail_and_classic_action_groups_when_enabled(tmp_path: Any) -> None:
    """The optional parts, synthesized with cdk-nag on the tools and agent stacks only."""
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from infra.config import EXAMPLE, load_config
    from infra.packaging import stage
    from infra.stacks.agent_stack import AgentStack
    from infra.stacks.tools_stack import ToolsStack

    config, base = load_config(EXAMPLE)
    config = config.model_copy(
        update={"guardrail": config.guardrail.model_copy(update={"enabled": True}),
                "classic_action_groups": True}
    )  # fmt: skip
    app = App(outdir=str(tmp_path / "out"), context={"aws:cdk:bundling-stacks": []})
    workspace = {"tools/workspace.json": (base / config.workspace).resolve()}
    tools = ToolsStack(app, "t", config=config, source=stage("tools", workspace))
    agent = AgentStack(app, "a", config=config, source=stage("agent", workspace),
                       gateway_id=tools.gateway.gateway_id,
                       gateway_url=str(tools.gateway.gateway_url),
                       tool_functions={n: f.function_arn for n, f in tools.functions.items()})  # fmt: skip
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    t = Template.from_stack(agent)
    t.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {"ContentPolicyConfig": {"FiltersConfig": [
            {"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"}]}},
    )  # fmt: skip
    runtime = next(iter(t.find_resources("AWS::BedrockAgentCore::Runtime").values()))
    assert "RCA_GUARDRAIL_ID" in runtime["Properties"]["EnvironmentVariables"]
    (classic,) = t.find_resources("AWS::Bedrock::Agent").values()
    groups = classic["Properties"]["ActionGroups"]
    assert sorted(g["ActionGroupName"] for g in groups) == sorted(TOOLS)
    for g in groups:
        schema = json.loads(g["ApiSchema"]["Payload"])
        assert list(schema["paths"]) == [f"/{g['ActionGroupName']}"]
    t.resource_count_is("AWS::Lambda::Permission", len(TOOLS))
    applies = [s for _, s in statements(t.to_json()) if s.get("Sid") == "GuardrailOnToolResults"]
    assert applies
