"""The deployment configuration: one YAML file, validated by pydantic.

``infra/config.example.yaml`` documents every field; ``python infra/app.py`` reads the file
named by ``-c config=PATH`` (CDK context), else ``RCA_INFRA_CONFIG``, else
``infra/config.yaml``, else the example. A bad file gives one error line
(:class:`ConfigError`) naming the field and what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE / "config.example.yaml"

ACCOUNT = r"^\d{12}$"
REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
# Bedrock model ids (``anthropic.claude-...``), cross-Region inference profile ids (``us.`` /
# ``eu.`` / ``apac.`` / ``jp.`` / ``au.`` / ``ca.`` / ``global.`` prefix), or an inference
# profile / model ARN. Source: https://docs.aws.amazon.com/bedrock/latest/userguide/
# inference-profiles-support.html
MODEL_ID = re.compile(
    r"^((us|us-gov|eu|apac|jp|au|ca|global)\.)?[a-z0-9-]+\.[A-Za-z0-9.:_-]+$"
    r"|^arn:aws(-[a-z]+)?:bedrock:[a-z0-9-]+:\d{0,12}:"
    r"(inference-profile|application-inference-profile|foundation-model)/[A-Za-z0-9.:_/-]+$"
)
# Models retired on Bedrock (never deploy one). Source: Bedrock model lifecycle page.
RETIRED_MODELS = ("anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-v2")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid (one line, says what to fix)."""


class Strict(BaseModel):
    """Base of the config models: unknown keys are errors (``extra="forbid"``), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Strict):
    """One workload account to investigate and the Regions to read there."""

    account: str = Field(pattern=ACCOUNT)
    regions: list[str] = Field(min_length=1)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not re.match(REGION, r)]
        if bad:
            raise ValueError(f"not AWS Region names: {', '.join(bad)} (e.g. eu-west-1)")
        return value


class ModelConfig(Strict):
    """The Bedrock model or inference profile for investigations and assessments.

    Newer Claude models are invoked through an inference profile id (``eu.`` / ``us.`` /
    ``global.`` prefix); the stack grants InvokeModel on the profile and on the foundation
    model in the profile's Regions.
    """

    id: str
    foundation_model: str | None = Field(
        default=None,
        description="the model id behind an inference profile (default: the id without its "
        "geographic prefix)",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not MODEL_ID.match(value):
            raise ValueError(
                f"{value!r} is not a Bedrock model id, inference profile id or ARN "
                "(e.g. eu.anthropic.claude-sonnet-4-5-20250929-v1:0)"
            )
        if value.split(".", 1)[-1] in RETIRED_MODELS or value in RETIRED_MODELS:
            raise ValueError(f"{value} is retired on Bedrock; pick a current model")
        return value

    @property
    def is_profile(self) -> bool:
        """True for a cross-Region inference profile id (geographic prefix) or profile ARN."""
        return "inference-profile" in self.id or bool(re.match(r"^[a-z-]+\.[a-z0-9-]+\.", self.id))

    @property
    def base_model(self) -> str:
        """The foundation model id (inference profile prefix removed)."""
        if self.foundation_model:
            return self.foundation_model
        if self.id.startswith("arn:"):
            return self.id.rsplit("/", 1)[-1].split(".", 1)[-1]
        return self.id.split(".", 1)[1] if self.is_profile else self.id


class SlackConfig(Strict):
    """The Slack app: where answers go, and the Secrets Manager secret with its credentials.

    The secret (created empty by the stack, filled by you) holds JSON
    ``{"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_SIGNING_SECRET": "..."}``.
    """

    enabled: bool = True
    channel: str = Field(description="default channel id for alarms and reviews, e.g. C0123ABCD")
    component_channels: dict[str, str] = Field(
        default_factory=dict, description="C4 element name -> channel id for its alarms"
    )

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not re.match(r"^[CGD][A-Z0-9]{6,}$", value):
            raise ValueError(f"{value!r} is not a Slack channel id (e.g. C0123ABCD)")
        return value


class AlarmsConfig(Strict):
    """Which CloudWatch alarms start an investigation when they go to ALARM.

    ``name_prefixes`` filter in the EventBridge rule (prefix matching); ``tag`` (``key=value``)
    is checked by the handler with ListTagsForResource, since the state-change event carries no
    tags. An empty ``name_prefixes`` list matches every alarm.
    """

    enabled: bool = True
    name_prefixes: list[str] = Field(default_factory=list)
    tag: str | None = Field(default=None, pattern=r"^[^=]+=.*$")


class ReviewsConfig(Strict):
    """The review pipeline: how many questions are assessed at once, the lens, uploads."""

    enabled: bool = True
    max_concurrency: int = Field(
        default=4,
        ge=1,
        le=40,
        description="parallel question assessments; size to the model's requests-per-minute "
        "quota (one assessment is one Converse call and one Retrieve call)",
    )
    lens: str = "wellarchitected"
    upload_retention_days: int = Field(default=90, ge=1)
    textract: bool = True


class KnowledgeBaseConfig(Strict):
    """The Bedrock Knowledge Base over the lens guidance (S3 Vectors store)."""

    enabled: bool = True
    embedding_model: str = "amazon.titan-embed-text-v2:0"
    dimensions: Literal[256, 512, 1024] = 1024


class GuardrailConfig(Strict):
    """An optional Bedrock Guardrail on the agent's model calls (prompt-attack filter)."""

    enabled: bool = False


class InfraConfig(Strict):
    """The whole deployment (see ``infra/config.example.yaml``)."""

    prefix: str = Field(default="rca", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    account: str | None = Field(default=None, pattern=ACCOUNT)
    region: str = Field(pattern=REGION)
    investigate: list[Target] = Field(min_length=1)
    readonly_role_name: str = "rca-readonly"
    external_id: str | None = None
    model: ModelConfig
    workspace: str = Field(description="s3://bucket/key.json or a path relative to this file")
    slack: SlackConfig
    alarms: AlarmsConfig = AlarmsConfig()
    reviews: ReviewsConfig = ReviewsConfig()
    knowledge_base: KnowledgeBaseConfig = KnowledgeBaseConfig()
    guardrail: GuardrailConfig = GuardrailConfig()
    watool_writes: bool = Field(
        default=False,
        description="allow the review pipeline to write to the WA Tool when the submitter asks",
    )
    classic_action_groups: bool = Field(
        default=False,
        description="also create a Bedrock Agents Classic agent with the tool action groups "
        "(only for accounts that already use Agents Classic)",
    )
    session_ttl_days: int = Field(default=30, ge=1)
    log_retention_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _workspace(self) -> InfraConfig:
        if not (self.workspace.startswith("s3://") or self.workspace.endswith(".json")):
            raise ValueError("workspace must be an s3:// URI or a path to a workspace .json file")
        return self

    @property
    def role_arn_template(self) -> str:
        """``arn:aws:iam::{account}:role/<readonly_role_name>`` for the tools."""
        return f"arn:aws:iam::{{account}}:role/{self.readonly_role_name}"

    @property
    def accounts(self) -> list[str]:
        """The workload account ids of ``investigate``, in file order."""
        return [t.account for t in self.investigate]

    @property
    def regions(self) -> list[str]:
        """Every Region named under ``investigate``, sorted, once each."""
        return sorted({r for t in self.investigate for r in t.regions})


def load_config(path: str | Path) -> tuple[InfraConfig, Path]:
    """Read and validate the file; returns the config and the file's directory (relative
    workspace paths resolve against it).

    Raises:
        ConfigError: missing file, bad YAML, or a field that fails validation (first error).
    """
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the deploy config {file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    try:
        return InfraConfig.model_validate(data or {}), file.resolve().parent
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise ConfigError(
            f"{file}: {where}: {err['msg']} ({exc.error_count()} problem(s); "
            f"see {EXAMPLE.name} for every field)"
        ) from exc
