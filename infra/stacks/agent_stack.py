"""The investigation agent: the project's loop on AgentCore Runtime, sessions in DynamoDB."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import InfraConfig
from infra.packaging import bundling
from infra.policies import Value, grant, stack_values
from infra.stacks.common import (
    acknowledge,
    acknowledge_model_regions,
    acknowledge_workspace,
    investigator_environment,
    where,
)

AGENT_PYTHON = "3.13"
SESSION_TTL_ATTRIBUTE = "ttl"  # the attribute slackbot.dedupe claims carry


def sessions_table(scope: Construct, id: str, config: InfraConfig) -> dynamodb.Table:
    """The sessions table: partition key ``id`` (S), on demand, PITR, TTL on ``ttl``."""
    return dynamodb.Table(
        scope,
        id,
        table_name=f"{config.prefix}-sessions",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=SESSION_TTL_ATTRIBUTE,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        removal_policy=RemovalPolicy.DESTROY,
    )


class AgentStack(Stack):
    """AgentCore Runtime (Python code deployment, entry point ``main.py`` ->
    :mod:`agent.runtime`), IAM-authorized. Its loop calls the tools through the tools stack's
    AgentCore Gateway (``RCA_GATEWAY_URL``, SigV4), so its role (the ``agent`` policy file,
    :mod:`infra.policies`) may call the model, apply the guardrail, read and write the sessions
    table, read the workspace and invoke that one Gateway, and reads no telemetry itself."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        source: Path,
        gateway_id: str,
        gateway_url: str,
        tool_functions: dict[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.table = sessions_table(self, "sessions", config)
        self.guardrail_id: str | None = None
        self.guardrail: tuple[str, str] | None = None
        self.guardrail_arn: str | None = None
        if config.guardrail.enabled:
            guardrail = bedrock.CfnGuardrail(
                self,
                "guardrail",
                name=f"{config.prefix}-tool-output",
                description="prompt-attack filter on tool output (logs, CloudTrail text)",
                blocked_input_messaging="Tool output blocked by the guardrail.",
                blocked_outputs_messaging="Answer blocked by the guardrail.",
                content_policy_config=bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                    filters_config=[
                        bedrock.CfnGuardrail.ContentFilterConfigProperty(
                            type="PROMPT_ATTACK", input_strength="HIGH", output_strength="NONE"
                        )
                    ]
                ),
            )
            version = bedrock.CfnGuardrailVersion(
                self, "guardrail-version", guardrail_identifier=guardrail.attr_guardrail_id
            )
            self.guardrail = (guardrail.attr_guardrail_id, version.attr_version)
            self.guardrail_arn = guardrail.attr_guardrail_arn
            self.guardrail_id = guardrail.attr_guardrail_id
        role = iam.Role(
            self,
            "runtime-role",
            role_name=f"{config.prefix}-agent-runtime",
            assumed_by=iam.ServicePrincipal(
                "bedrock-agentcore.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description="AgentCore Runtime execution role of the investigation agent",
        )
        self.runtime = agentcore.Runtime(
            self,
            "runtime",
            runtime_name=f"{config.prefix.replace('-', '_')}_investigator",
            description="Incident RCA investigations (agent/service.py on Bedrock Converse)",
            agent_runtime_artifact=agentcore.AgentRuntimeArtifact.from_code_asset(
                path=str(source),
                runtime=agentcore.AgentCoreRuntime.PYTHON_3_13,
                entrypoint=["main.py"],
                bundling=bundling(source, AGENT_PYTHON),
            ),
            execution_role=role,
            authorizer_configuration=agentcore.RuntimeAuthorizerConfiguration.using_iam(),
            environment_variables=investigator_environment(
                config, self.table.table_name, self.guardrail, gateway_url
            ),
        )
        values: dict[str, Value] = {
            **stack_values(self, config),
            "GuardrailId": self.guardrail_id,
            "GatewayId": gateway_id,
        }
        self.statements = grant(role, "agent-runtime", values)
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_model_regions(policy, config)
        acknowledge_workspace(policy, config)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "model resolution (ListFoundationModels, ListInferenceProfiles) and the runtime's "
            "own log and trace delivery have no resource-level permissions",
        )
        region, account = where(self)
        for rule, reason in (
            (
                "Resource::arn:<AWS::Partition>:logs:{r}:{a}:log-group:/aws/bedrock-agentcore/"
                "runtimes/*",
                "the runtime writes its own log groups, named by AgentCore per "
                "runtime id (grant of the CDK Runtime construct)",
            ),
            (
                "Resource::arn:<AWS::Partition>:logs:{r}:{a}:log-group:/aws/bedrock-agentcore/"
                "runtimes/*:log-stream:*",
                "log streams of the runtime's own log groups",
            ),
            (
                "Resource::arn:<AWS::Partition>:logs:{r}:{a}:log-group:*",
                "DescribeLogGroups is authorized on the account's log-group list only",
            ),
            (
                "Resource::arn:<AWS::Partition>:bedrock-agentcore:{r}:{a}:workload-identity-"
                "directory/default/workload-identity/*",
                "the runtime's workload identity, whose "
                "id AgentCore assigns at creation (grant of the CDK Runtime construct)",
            ),
            (
                "Action::s3:GetObject*",
                "reading the runtime's code package from the CDK asset "
                "bucket (grant of the CDK code asset)",
            ),
            ("Action::s3:GetBucket*", "the same asset-bucket read grant (bucket metadata)"),
            ("Action::s3:List*", "the same asset-bucket read grant (listing the package)"),
            (
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{a}-{r}/*",
                "objects of the CDK bootstrap asset bucket, where the code package is uploaded",
            ),
        ):
            acknowledge(policy, f"AwsSolutions-IAM5[{rule.format(r=region, a=account)}]", reason)
        if config.classic_action_groups and tool_functions:
            self._classic_agent(config, tool_functions, values)
        self.runtime_arn = self.runtime.agent_runtime_arn
        CfnOutput(self, "RuntimeArn", value=self.runtime.agent_runtime_arn)
        CfnOutput(self, "SessionsTable", value=self.table.table_name)

    def _classic_agent(
        self, config: InfraConfig, tool_functions: dict[str, str], values: dict[str, Value]
    ) -> None:
        """A Bedrock Agents (Classic) agent with one action group per tool Lambda (OpenAPI
        schema from :func:`tools.handlers.openapi_schema`), for accounts that already use
        Agents Classic (closed to new customers since 2026-07-30)."""
        from tools.handlers import openapi_schema

        role = iam.Role(
            self,
            "classic-agent-role",
            role_name=f"AmazonBedrockExecutionRoleForAgents_{config.prefix}",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        grant(role, "classic-agent", values)
        acknowledge_model_regions(role.node.find_child("DefaultPolicy"), config)
        agent = bedrock.CfnAgent(
            self,
            "classic-agent",
            agent_name=f"{config.prefix}-investigator",
            agent_resource_role_arn=role.role_arn,
            foundation_model=config.model.id,
            auto_prepare=True,
            instruction=(
                "You investigate production incidents on AWS. Use the tools to read the "
                "architecture, logs, metrics and control-plane changes of the affected "
                "components; answer with ranked root-cause hypotheses citing evidence ids."
            ),
            action_groups=[
                bedrock.CfnAgent.AgentActionGroupProperty(
                    action_group_name=name,
                    action_group_executor=bedrock.CfnAgent.ActionGroupExecutorProperty(
                        lambda_=fn_arn
                    ),
                    api_schema=bedrock.CfnAgent.APISchemaProperty(payload=openapi_schema([name])),
                )
                for name, fn_arn in tool_functions.items()
            ],
        )
        for name, fn_arn in tool_functions.items():
            lambda_.CfnPermission(
                self,
                f"classic-invoke-{name}",
                action="lambda:InvokeFunction",
                function_name=fn_arn,
                principal="bedrock.amazonaws.com",
                source_account=self.account,
                source_arn=agent.attr_agent_arn,
            )
        CfnOutput(self, "ClassicAgentId", value=agent.attr_agent_id)
