"""Shared construct helpers: Python Lambda functions with Powertools, roles, acknowledgements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from infra.config import InfraConfig
from infra.packaging import bundling

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_PYTHON = "3.14"
ACKS: list[tuple[str, str, str]] = []
"""Every acknowledgement made, as (construct path, rule id, reason), for the report."""


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` with its reason (and record it)."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
    ACKS.append((scope.node.path, rule, reason))


def log_group(scope: Construct, id: str, config: InfraConfig) -> logs.LogGroup:
    """A log group with the configured retention, deleted with the stack."""
    return logs.LogGroup(
        scope,
        id,
        retention=logs.RetentionDays(_retention(config.log_retention_days)),
        removal_policy=RemovalPolicy.DESTROY,
    )


def _retention(days: int) -> str:
    allowed = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653]
    chosen = min((d for d in allowed if d >= days), default=3653)
    names = {
        1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
        30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
        150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
        545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
        3653: "TEN_YEARS",
    }  # fmt: skip
    return str(getattr(logs.RetentionDays, names[chosen]).value)


def lambda_role(scope: Construct, id: str, name: str, log: logs.LogGroup) -> iam.Role:
    """A Lambda execution role that may write only to its own log group (no managed policy)."""
    role = iam.Role(
        scope,
        id,
        role_name=name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"execution role of {name}",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OwnLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log.log_group_arn],  # the Arn attribute ends in :* (its streams)
        )
    )
    return role


def python_function(
    scope: Construct,
    id: str,
    *,
    config: InfraConfig,
    handler: str,
    source: Path,
    role: iam.Role,
    log: logs.LogGroup,
    service: str,
    environment: Mapping[str, str] | None = None,
    timeout_s: int = 60,
    memory_mb: int = 512,
    function_name: str | None = None,
) -> lambda_.Function:
    """A Python Lambda on arm64 with X-Ray tracing and Powertools configured by environment.

    ``source`` is a staged package (:func:`infra.packaging.stage`); its dependencies are
    installed by local bundling at synth time.
    """
    fn = lambda_.Function(
        scope,
        id,
        function_name=function_name,
        runtime=LAMBDA_RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(source), bundling=bundling(source, LAMBDA_PYTHON)),
        role=role,
        log_group=log,
        timeout=Duration.seconds(timeout_s),
        memory_size=memory_mb,
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": f"{config.prefix}-assistant",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **(environment or {}),
        },
    )
    # X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray trace writes, CloudWatch metrics and the read-only telemetry APIs listed in the "
        "statement have no resource-level permissions (service authorization reference)",
    )
    return fn


def statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> iam.PolicyStatement:
    """An Allow statement (a tiny helper so policies read as data)."""
    return iam.PolicyStatement(sid=sid, actions=list(actions), resources=list(resources))


def arn(stack: Stack, service: str, resource: str, region: str | None = None) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` of this stack."""
    return f"arn:{stack.partition}:{service}:{region or stack.region}:{stack.account}:{resource}"


def acknowledge_model_regions(scope: IConstruct, config: InfraConfig) -> None:
    """The cross-Region inference profile's foundation model ARN has a Region wildcard."""
    if config.model.is_profile:
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
            f"{config.model.base_model}]",
            "a cross-Region inference profile routes each request to the foundation model in "
            "any Region of its geography; InvokeModel must be allowed there (Bedrock user guide)",
        )


def acknowledge_secret(policy: IConstruct, stack: Stack, config: InfraConfig) -> None:
    """The Slack secret is named ``<prefix>/slack``; Secrets Manager appends six random
    characters to a secret's ARN, so the policy file allows ``<name>-*``."""
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:{}:{}:secret:"
        "{}/slack-*]".format(*where(stack), config.prefix),
        "Secrets Manager appends six random characters to the secret name in its ARN; the "
        "policy names the one secret <prefix>/slack",
    )


def acknowledge_workspace(policy: IConstruct, config: InfraConfig) -> None:
    """A workspace in S3 is read by its key; the policy files allow ``<bucket>/<prefix>*``
    (filled with the whole key), which cdk-nag reports as a wildcard."""
    if config.workspace.startswith("s3://"):
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{config.workspace[5:]}*]",
            "the configured workspace object (the policy file's prefix pattern filled with "
            "the whole key; read-only)",
        )


def investigator_environment(
    config: InfraConfig,
    table_name: str,
    guardrail: tuple[str, str] | None,
    gateway_url: str,
) -> dict[str, str]:
    """The environment :class:`agent.runtime.RuntimeSettings`, ``open_store`` and
    :func:`tools.gateway_client.gateway_tools_from_env` read. The investigators call the tools
    behind the AgentCore Gateway (``gateway_url``), so they read no telemetry and assume no
    workload role: the role settings (``RCA_ROLE_*``) go to the tool Lambdas only
    (:class:`infra.stacks.tools_stack.ToolsStack`)."""
    env = {
        "RCA_SESSION_TABLE": table_name,
        "RCA_SESSION_TTL_DAYS": str(config.session_ttl_days),
        "RCA_WORKSPACE": config.workspace
        if config.workspace.startswith("s3://")
        else "/var/task/tools/workspace.json",
        "RCA_ACCOUNTS": ",".join(config.accounts),
        "RCA_REGIONS": ",".join(config.regions),
        "RCA_MODEL_ID": config.model.id,
        "RCA_GATEWAY_URL": gateway_url,
    }
    if guardrail:
        env["RCA_GUARDRAIL_ID"], env["RCA_GUARDRAIL_VERSION"] = guardrail
    return env


def where(stack: Stack) -> tuple[str, str]:
    """The stack's Region and account as cdk-nag prints them in finding ids: the literal
    value, or ``<AWS::Region>`` / ``<AWS::AccountId>`` when the stack is environment-agnostic."""
    from aws_cdk import Token

    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return region, account
