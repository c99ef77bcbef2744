"""The Slack endpoint (Bolt on Lambda behind a function URL) and alarm-started investigations."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import InfraConfig
from infra.policies import Value, grant, stack_values
from infra.stacks.common import (
    acknowledge,
    acknowledge_model_regions,
    acknowledge_secret,
    acknowledge_workspace,
    investigator_environment,
    lambda_role,
    log_group,
    python_function,
    where,
)

ALARM_EVENT_TYPE = "CloudWatch Alarm State Change"


def slack_app_config(config: InfraConfig) -> str:
    """The Slack app's config file (:mod:`slackbot.config`) for the cloud: every channel
    investigates the configured AWS accounts with the configured model, its tools behind the
    Gateway (so no workload role is named here: the tool Lambdas assume it)."""
    aws = {
        "workspace": config.workspace
        if config.workspace.startswith("s3://")
        else "/var/task/tools/workspace.json",
        "accounts": config.accounts,
        "regions": config.regions,
    }
    return json.dumps(
        {"default": {"aws": aws}, "model": {"provider": "bedrock", "model_id": config.model.id}},
        indent=2,
    )


class SlackStack(Stack):
    """Secrets Manager secret for the Slack credentials, the Bolt Lambda
    (``slackbot.lambda_handler.handler``) with a function URL and permission to invoke itself
    (Bolt's lazy listeners), event claims in the sessions table (``slackbot.dedupe``). Its
    investigations call the tools through the Gateway; its role is the ``agent`` policy's
    investigator statements plus the ``slack`` policy's (:data:`infra.policies.ROLES`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        source: Path,
        table: dynamodb.ITable,
        gateway_id: str,
        gateway_url: str,
        guardrail: tuple[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        p = config.prefix
        self.secret = secretsmanager.Secret(
            self,
            "slack-secret",
            secret_name=f"{p}/slack",
            description='Slack app credentials: JSON {"SLACK_BOT_TOKEN": "xoxb-...", '
            '"SLACK_SIGNING_SECRET": "..."}; set after deploy',
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Slack bot tokens and signing secrets are issued and rotated in Slack's app "
            "settings; a Lambda cannot rotate them",
        )
        name = f"{p}-slack"
        log = log_group(self, "slack-logs", config)
        role = lambda_role(self, "slack-role", name, log)
        values: dict[str, Value] = {
            **stack_values(self, config),
            "GuardrailId": guardrail[0] if guardrail else None,
            "GatewayId": gateway_id,
            "SlackFunctionName": name,
        }
        self.statements = grant(role, "slack", values)
        self.function = python_function(
            self,
            "slack-fn",
            config=config,
            handler="slackbot.lambda_handler.handler",
            source=source,
            role=role,
            log=log,
            service="rca-slack",
            environment={
                **investigator_environment(config, table.table_name, guardrail, gateway_url),
                "RCA_SLACK_SECRET_ID": self.secret.secret_arn,
                "RCA_SLACK_CONFIG": "/var/task/slack.json",
            },
            timeout_s=900,
            memory_mb=1024,
            function_name=name,
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_model_regions(policy, config)
        acknowledge_secret(policy, self, config)
        acknowledge_workspace(policy, config)
        # Slack authenticates itself by signing every request (X-Slack-Signature, checked by
        # Bolt with the signing secret), so the URL takes no AWS auth.
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        CfnOutput(self, "SlackRequestUrl", value=self.url.url)
        CfnOutput(self, "SlackSecretArn", value=self.secret.secret_arn)


class AlarmsStack(Stack):
    """EventBridge rule on alarm state changes to ALARM (name prefixes) -> the alarm handler
    Lambda (``slackbot.alarms.handler``), which investigates and posts to Slack."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        source: Path,
        table: dynamodb.ITable,
        secret_arn: str,
        gateway_id: str,
        gateway_url: str,
        guardrail: tuple[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        p = config.prefix
        name = f"{p}-alarms"
        log = log_group(self, "alarms-logs", config)
        role = lambda_role(self, "alarms-role", name, log)
        values: dict[str, Value] = {
            **stack_values(self, config),
            "GuardrailId": guardrail[0] if guardrail else None,
            "GatewayId": gateway_id,
            # the tag filter reads the tags of whichever alarm fired (read-only)
            "AlarmPattern": "*" if config.alarms.tag else None,
        }
        self.statements = grant(role, "alarms", values)
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_secret(policy, self, config)
        acknowledge_workspace(policy, config)
        if config.alarms.tag:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:{}:{}:alarm:*]".format(
                    *where(self)
                ),
                "the tag filter reads the tags of whichever alarm fired (read-only)",
            )
        env = {
            **investigator_environment(config, table.table_name, guardrail, gateway_url),
            "RCA_SLACK_SECRET_ID": secret_arn,
            "RCA_SLACK_CHANNEL": config.slack.channel,
            "RCA_ALARM_CHANNELS": json.dumps(config.slack.component_channels),
        }
        if config.alarms.tag:
            env["RCA_ALARM_TAG"] = config.alarms.tag
        self.function = python_function(
            self,
            "alarms-fn",
            config=config,
            handler="slackbot.alarms.handler",
            source=source,
            role=role,
            log=log,
            service="rca-alarms",
            environment=env,
            timeout_s=900,
            memory_mb=1024,
            function_name=name,
        )
        acknowledge_model_regions(policy, config)
        detail: dict[str, object] = {"state": {"value": ["ALARM"]}}
        if config.alarms.name_prefixes:
            detail["alarmName"] = [{"prefix": x} for x in config.alarms.name_prefixes]
        self.rule = events.Rule(
            self,
            "alarm-to-investigation",
            description="CloudWatch alarms going to ALARM start an investigation",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"], detail_type=[ALARM_EVENT_TYPE], detail=detail
            ),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
