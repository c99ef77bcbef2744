"""The ``rca-readonly`` role for each workload account (deploy this stack there).

Trust: the deployment account, only for the roles that investigate (tool Lambdas, agent
runtime, Slack and alarm handlers), and with the ExternalId when one is configured.
Permissions: the tools' read-only actions (:func:`infra.stacks.tools_stack.readonly_actions`),
also set as the role's permissions boundary, so a policy attached later cannot widen it; the
callers pass the same actions as the AssumeRole session policy (``RCA_ROLE_SESSION_POLICY``).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import InfraConfig
from infra.stacks.common import acknowledge
from infra.stacks.tools_stack import TOOLS, readonly_actions, tool_role_name


def caller_role_names(config: InfraConfig) -> list[str]:
    """The role names in the deployment account that may assume ``rca-readonly``."""
    names = [tool_role_name(config, t) for t in TOOLS]
    names += [f"{config.prefix}-agent-runtime", f"{config.prefix}-slack",
              f"{config.prefix}-alarms"]  # fmt: skip
    return names


class ReadonlyRoleStack(Stack):
    """``rca-readonly`` (name from the config), for one workload account."""

    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        tools_account = CfnParameter(
            self,
            "ToolsAccountId",
            type="String",
            allowed_pattern=r"^\d{12}$",
            description="the account where the assistant is deployed",
            **({"default": config.account} if config.account else {}),
        ).value_as_string
        conditions: dict[str, dict[str, object]] = {
            "ArnEquals": {
                "aws:PrincipalArn": [
                    f"arn:{self.partition}:iam::{tools_account}:role/{n}"
                    for n in caller_role_names(config)
                ]
            }
        }
        if config.external_id:
            conditions["StringEquals"] = {"sts:ExternalId": config.external_id}
        document = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="ReadOnlyTelemetry", actions=readonly_actions(), resources=["*"]
                )
            ]
        )
        ceiling = iam.ManagedPolicy(
            self,
            "ceiling",
            managed_policy_name=f"{config.readonly_role_name}-ceiling",
            description="read-only telemetry actions: permissions boundary of the rca role",
            document=document,
        )
        role = iam.Role(
            self,
            "role",
            role_name=config.readonly_role_name,
            description="read-only telemetry access for the ops assistant's investigations",
            assumed_by=iam.AccountPrincipal(tools_account).with_conditions(conditions),
            inline_policies={"read-only-telemetry": document},
            permissions_boundary=ceiling,
            max_session_duration=Duration.hours(1),
        )
        for scope_ in (role, ceiling):
            acknowledge(
                scope_,
                "AwsSolutions-IAM5[Resource::*]",
                "read-only telemetry APIs (GetMetricData, LookupEvents, Logs Insights queries, "
                "X-Ray reads) on whatever the workspace maps; most support no resource-level "
                "permissions",
            )
        CfnOutput(self, "RoleArn", value=role.role_arn)
