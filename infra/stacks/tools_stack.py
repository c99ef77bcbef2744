"""The RCA tools: one Lambda and one read-only role per tool, behind an AgentCore Gateway."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack, Token
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import InfraConfig
from infra.stacks.common import acknowledge, arn, lambda_role, log_group, python_function
from tools.gateway import tool_definition
from tools.toolbox import TOOLS

POLICY_FILE = Path(__file__).resolve().parents[1] / "iam" / "rca-tools-readonly-policy.json"


def _tool_statements() -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """Read-only statements per tool, ``(sid, actions, resources)``, from
    ``infra/iam/rca-tools-readonly-policy.json`` (the one place they are written;
    ``tests/aws/test_iam.py`` checks every call is in it): a statement whose Sid starts with
    ``<Tool>Tool`` belongs to that tool. A resource that names only the partition, Region and
    account placeholders keeps its scope (filled in the stack with its own: reads in other
    accounts go through their read-only role); any other resource becomes ``*`` (its names are
    deployment settings)."""
    import json
    import re

    out: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    for st in json.loads(POLICY_FILE.read_text())["Statement"]:
        sid = st.get("Sid", "")
        if "Tool" not in sid:
            continue
        tool = sid.split("Tool", 1)[0].lower()
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        given = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        scoped = all(
            set(re.findall(r"\$\{([A-Za-z]+)\}", r)) <= {"Partition", "Region", "Account"}
            for r in given
        )
        resources = list(given) if scoped else ["*"]
        out.setdefault(tool, []).append((sid, list(actions), resources))
    return out


TOOL_STATEMENTS = _tool_statements()
TOOL_ACTIONS: dict[str, list[str]] = {
    tool: [a for _sid, actions, _res in statements for a in actions]
    for tool, statements in TOOL_STATEMENTS.items()
}
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
            statements = TOOL_STATEMENTS.get(name)
            if not statements:
                raise ValueError(f"tool {name!r} has no IAM actions in TOOL_ACTIONS")
            anywhere = [a for _sid, acts, res in statements if res == ["*"] for a in acts]
            if anywhere:
                role.add_to_policy(iam.PolicyStatement(sid="ReadTelemetry", actions=anywhere,
                                                       resources=["*"]))  # fmt: skip
            for sid, actions, resources in statements:
                if resources != ["*"]:  # scoped (the aws/spans log group of the traces tool)
                    filled = [
                        r.replace("${Partition}", self.partition)
                        .replace("${Region}", self.region)
                        .replace("${Account}", self.account)
                        for r in resources
                    ]
                    role.add_to_policy(
                        iam.PolicyStatement(sid=sid, actions=actions, resources=filled)
                    )
                    for wildcard in (r for r in resources if r.endswith(":*")):
                        acknowledge(
                            role.node.find_child("DefaultPolicy"),
                            "AwsSolutions-IAM5[Resource::"
                            + wildcard.replace("${Partition}", "<AWS::Partition>")
                            .replace("${Region}", _nag_name(self.region, "<AWS::Region>"))
                            .replace("${Account}", _nag_name(self.account, "<AWS::AccountId>"))
                            + "]",
                            "a log group's ARN with its log-stream suffix, as Logs Insights "
                            "StartQuery on that one log group needs; no other log group",
                        )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="AssumeWorkloadReadOnly",
                    actions=["sts:AssumeRole"],
                    resources=[
                        f"arn:{self.partition}:iam::{a}:role/{config.readonly_role_name}"
                        for a in config.accounts
                    ],
                )
            )
            if config.workspace.startswith("s3://"):
                bucket_key = config.workspace[len("s3://") :]
                role.add_to_policy(
                    iam.PolicyStatement(
                        sid="ReadWorkspace",
                        actions=["s3:GetObject"],
                        resources=[f"arn:{self.partition}:s3:::{bucket_key}"],
                    )
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


def _nag_name(value: str, pseudo: str) -> str:
    """How cdk-nag writes a stack's Region or account in a finding: the pseudo parameter when
    it is a token (an environment-agnostic stack), else the value."""
    return pseudo if Token.is_unresolved(value) else value


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
