"""The CDK app: ``python infra/app.py`` synthesizes every stack into ``infra/cdk.out`` with
cdk-nag's AwsSolutions checks, offline (no AWS credentials, no Docker, no network): the
functions' third-party dependencies are not installed, so that assembly is for checking only.
``python infra/app.py --bundle`` (what ``cdk deploy`` runs, see ``cdk.json``) also installs them
with pip for arm64 Linux (needs PyPI). ``--outdir DIR`` writes the assembly elsewhere.

Configuration: ``-c config=PATH`` (CDK context) > ``RCA_INFRA_CONFIG`` > ``infra/config.yaml``
> ``infra/config.example.yaml``. Exit status 2 with one error line for a bad config.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(HERE.parent))

# isort: off
import infra  # noqa: E402,F401  (before aws_cdk: points jsii at the packaged Node.js LTS)
from aws_cdk import App, Environment, Stack, Tags, Validations  # noqa: E402

# isort: on
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.config import EXAMPLE, ConfigError, InfraConfig, load_config  # noqa: E402
from infra.packaging import STAGING, stage  # noqa: E402
from infra.stacks.agent_stack import AgentStack  # noqa: E402
from infra.stacks.knowledge_stack import KnowledgeStack  # noqa: E402
from infra.stacks.reviews_stack import ReviewsStack  # noqa: E402
from infra.stacks.slack_stack import AlarmsStack, SlackStack, slack_app_config  # noqa: E402
from infra.stacks.tools_stack import ToolsStack  # noqa: E402
from infra.stacks.workload_role import ReadonlyRoleStack  # noqa: E402


@dataclass
class Deployment:
    """The app and its stacks by concern."""

    app: App
    stacks: dict[str, Stack] = field(default_factory=dict)


def config_path(app: App | None = None) -> Path:
    """Where the configuration is read from (see the module docstring)."""
    given = app.node.try_get_context("config") if app is not None else None
    if given:
        return Path(given)
    if os.environ.get("RCA_INFRA_CONFIG"):
        return Path(os.environ["RCA_INFRA_CONFIG"])
    local = HERE / "config.yaml"
    return local if local.exists() else EXAMPLE


def export_guidance(config: InfraConfig) -> Path:
    """``rca lens export-kb`` of the configured lens into the staging area (documents plus
    ``.metadata.json`` sidecars), the source of the guidance bucket deployment."""
    import shutil

    from reviews.kb_export import export_kb

    out = STAGING / "guidance" / config.reviews.lens
    if out.exists():
        shutil.rmtree(out)
    export_kb(out, config.reviews.lens)
    return out.parent


def build(
    config: InfraConfig, base: Path, *, app: App | None = None, nag: bool = True
) -> Deployment:
    """Every stack of ``config`` in ``app`` (a new one by default), cdk-nag attached;
    ``base`` is the folder relative paths of the config (the workspace) are read from.

    Raises:
        ConfigError: the configured workspace file does not exist.
    """
    app = app or App(outdir=str(HERE / "cdk.out"))
    env = Environment(account=config.account, region=config.region)
    extra: dict[str, Path] = {}
    if not config.workspace.startswith("s3://"):
        workspace = (base / config.workspace).resolve()
        if not workspace.is_file():
            raise ConfigError(f"workspace file {workspace} does not exist")
        extra["tools/workspace.json"] = workspace
    deployment = Deployment(app)
    p = config.prefix
    tools = ToolsStack(
        app,
        f"{p}-tools",
        config=config,
        source=stage("tools", extra),
        sources={"traces": stage("traces", extra)},
        env=env,
    )
    deployment.stacks["tools"] = tools
    # the investigators (runtime, Slack, alarms) call the tools through this Gateway
    gateway = {
        "gateway_id": tools.gateway.gateway_id,
        "gateway_url": str(tools.gateway.gateway_url),
    }
    agent_source = stage("agent", {**extra, "main.py": HERE / "runtime_main.py"})
    agent = AgentStack(
        app,
        f"{p}-agent",
        config=config,
        source=agent_source,
        **gateway,
        tool_functions={n: f.function_arn for n, f in tools.functions.items()},
        env=env,
    )
    deployment.stacks["agent"] = agent
    kb: KnowledgeStack | None = None
    if config.knowledge_base.enabled:
        kb = KnowledgeStack(app, f"{p}-knowledge", config=config, guidance=export_guidance(config),
                            env=env)  # fmt: skip
        deployment.stacks["knowledge"] = kb
    slack: SlackStack | None = None
    if config.slack.enabled:
        slack_config = STAGING / "slack.json"
        slack_config.parent.mkdir(parents=True, exist_ok=True)
        slack_config.write_text(slack_app_config(config))
        slack_source = stage("slack", {**extra, "slack.json": slack_config})
        slack = SlackStack(
            app,
            f"{p}-slack",
            config=config,
            source=slack_source,
            table=agent.table,
            guardrail=agent.guardrail,
            env=env,
            **gateway,
        )
        deployment.stacks["slack"] = slack
        if config.alarms.enabled:
            deployment.stacks["alarms"] = AlarmsStack(
                app,
                f"{p}-alarms",
                config=config,
                source=slack_source,
                table=agent.table,
                secret_arn=slack.secret.secret_arn,
                env=env,
                guardrail=agent.guardrail,
                **gateway,
            )
    if config.reviews.enabled:
        deployment.stacks["reviews"] = ReviewsStack(
            app,
            f"{p}-reviews",
            config=config,
            source=stage("reviews"),
            knowledge_base_id=kb.knowledge_base_id if kb else None,
            slack_secret_arn=slack.secret.secret_arn if slack else None,
            env=env,
        )
    deployment.stacks["workload-role"] = ReadonlyRoleStack(
        app, f"{p}-workload-readonly-role", config=config
    )
    for stack in deployment.stacks.values():
        Tags.of(stack).add("project", "aws-ops-assistant")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return deployment


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    outdir = args[args.index("--outdir") + 1] if "--outdir" in args else str(HERE / "cdk.out")
    # The CDK CLI passes its own output directory in CDK_OUTDIR.
    outdir = os.environ.get("CDK_OUTDIR", outdir)
    context = {} if "--bundle" in args else {"aws:cdk:bundling-stacks": []}
    app = App(outdir=outdir, context=context)
    try:
        config, base = load_config(config_path(app))
        build(config, base, app=app)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    assembly = app.synth()
    for stack in assembly.stacks:
        count = len(stack.template.get("Resources", {}))
        print(f"{stack.stack_name}: {count} resources", file=sys.stderr)
    if "--bundle" not in args:
        print("(dependencies not bundled: checking only; `cdk deploy` bundles)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
