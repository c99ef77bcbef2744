"""The RCA tools: one Lambda and one read-only role per tool, behind an AgentCore Gateway."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import InfraConfig
from infra.policies import (
    Value,
    add_statements,
    compose,
    stack_values,
    tool_actions,
    tool_sids,
)
from infra.stacks.common import (
    acknowledge,
    acknowledge_workspace,
    arn,
    lambda_role,
    log_group,
    python_function,
)
from tools.gateway import tool_definition
from tools.toolbox import TOOLS

TOOL_ACTIONS: dict[str, list[str]] = {name: tool_actions(name) for name in TOOLS}
"""Read-only API actions per tool (every tool has some: ``traces`` reads X-Ray traces or the
``aws/spans`` log group of CloudWatch Transaction Search)."""
WRITE_VERBS = ("Put", "Create", "Delete", "Update", "Start", "Stop", "Tag", "Untag", "Set")
"""Action verbs that write; ``logs:StartQuery`` / ``StopQuery`` only run a read-only query."""


def tool_role_name(config: InfraConfig, tool: str) -> str:
    """The execution role name of one tool Lambda (workload-account roles trust these)."""
    return f"{config.prefix}-tool-{tool}"


def readonly_actions() -> list[str]:
    """Every action any tool needs, sorted (the workload role's permission ceiling)."""
    return sorted({a for name in TOOLS for a in TOOL_ACTIONS.get(name, [])})


class ToolsStack(Stack):
    """One Lambda per registered tool (handler ``tools.handlers.<name>``), each with its own
    role holding only that tool's read actions and ``sts:AssumeRole`` on the workload
    accounts' read-only role (``sources`` replaces the code package per tool: the ``traces``
    Lambda's carries pandas and scipy); an AgentCore Gateway (IAM auth, MCP) with one Lambda
    target per tool whose tool schema comes from the tool's pydantic input model."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        source: Path,
        sources: dict[str, Path] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.functions: dict[str, lambda_.Function] = {}
        self.statements: dict[str, list[dict[str, object]]] = {}
        values: dict[str, Value] = {
            **stack_values(self, config),
            # the investigated accounts and Regions, also linked ones (cross-account
            # observability), not this stack's: any Region and account, any log group
            "Region": "*",
            "Account": "*",
            "LogGroupPattern": "*",
            "WorkloadAccount": list(config.accounts),
            "CrossAccountRoleName": config.readonly_role_name,
        }
        env = {
            "RCA_WORKSPACE": config.workspace
            if config.workspace.startswith("s3://")
            else "/var/task/tools/workspace.json",
            "RCA_ROLE_ARN_TEMPLATE": config.role_arn_template,
            "RCA_ROLE_SESSION_POLICY": session_policy(),
        }
        if config.external_id:
            env["RCA_ROLE_EXTERNAL_ID"] = config.external_id
        for name in TOOLS:
            log = log_group(self, f"{name}-logs", config)
            role = lambda_role(self, f"{name}-role", tool_role_name(config, name), log)
            if not TOOL_ACTIONS.get(name):
                raise ValueError(f"tool {name!r} has no IAM actions in TOOL_ACTIONS")
            self.statements[name] = compose([("tools", tool_sids(name))], values)
            add_statements(role, self.statements[name])
            acknowledge_workspace(role.node.find_child("DefaultPolicy"), config)
            if any(st["Sid"].startswith("LogsTool") for st in self.statements[name]):
                acknowledge(
                    role.node.find_child("DefaultPolicy"),
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:*:*:log-group:*]",
                    "Logs Insights queries and FilterLogEvents on the log groups the workspace "
                    "maps (rca.logGroups), in every investigated account and Region, linked "
                    "accounts included; named at run time (read-only)",
                )
            if any(st["Sid"] == "TracesToolTransactionSearchSpans" for st in self.statements[name]):
                for suffix in ("", ":*"):
                    acknowledge(
                        role.node.find_child("DefaultPolicy"),
                        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:*:*:log-group:"
                        f"aws/spans{suffix}]",
                        "Logs Insights StartQuery on the aws/spans log group of CloudWatch "
                        "Transaction Search (and the ARN with its log-stream suffix) in the "
                        "investigated accounts and Regions; no other log group (read-only)",
                    )
            self.functions[name] = python_function(
                self,
                f"{name}-fn",
                config=config,
                handler=f"tools.handlers.{name}",
                source=(sources or {}).get(name, source),
                role=role,
                log=log,
                service=f"rca-tool-{name}",
                environment=env,
                timeout_s=120,
                memory_mb=1024,
                function_name=f"{config.prefix}-tool-{name}",
            )

        self.gateway = agentcore.Gateway(
            self,
            "gateway",
            gateway_name=f"{config.prefix}-tools",
            description="Read-only incident RCA tools (architecture, logs, metrics, changes)",
            authorizer_configuration=agentcore.GatewayAuthorizer.using_aws_iam(),
        )
        for name, fn in self.functions.items():
            definition = tool_definition(TOOLS[name])
            self.gateway.add_lambda_target(
                f"{name}-target",
                gateway_target_name=name,
                description=f"RCA tool {name}",
                lambda_function=fn,
                tool_schema=agentcore.ToolSchema.from_inline(
                    [
                        agentcore.ToolDefinition(
                            name=definition["name"],
                            description=definition["description"],
                            input_schema=_schema(definition["inputSchema"]),
                        )
                    ]
                ),
            )
        for fn in self.functions.values():
            logical = self.get_logical_id(fn.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                self.gateway.role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::<{logical}.Arn>:*]",
                "the Gateway may invoke any published version of the tool function it "
                "targets (the CDK grant for Lambda targets); no other function",
            )
        self.gateway_arn = self.gateway.gateway_arn
        CfnOutput(self, "GatewayArn", value=self.gateway.gateway_arn)
        CfnOutput(self, "GatewayUrl", value=self.gateway.gateway_url or "")

    def tool_arn(self, name: str) -> str:
        return arn(self, "lambda", f"function:{self.functions[name].function_name}")


def _schema(spec: dict[str, object]) -> agentcore.SchemaDefinition:
    """A Gateway tool schema dict as the CDK ``SchemaDefinition`` struct (recursively)."""
    kind = str(spec["type"]).upper()
    props = spec.get("properties")
    items = spec.get("items")
    return agentcore.SchemaDefinition(
        type=getattr(agentcore.SchemaDefinitionType, kind),
        description=spec.get("description"),  # type: ignore[arg-type]
        properties={k: _schema(v) for k, v in props.items()} if isinstance(props, dict) else None,
        items=_schema(items) if isinstance(items, dict) else None,
        required=spec.get("required"),  # type: ignore[arg-type]
    )


def session_policy() -> str:
    """The AssumeRole session policy every caller passes (``RCA_ROLE_SESSION_POLICY``): the
    read-only actions and nothing else, as compact JSON (under the 2,048-character limit)."""
    import json

    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": readonly_actions(), "Resource": "*"}],
        },
        separators=(",", ":"),
    )
