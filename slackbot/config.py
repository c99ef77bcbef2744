"""Which telemetry each Slack channel investigates, and who may use the app.

The config file (YAML; ``rca slack serve --config`` or ``$RCA_SLACK_CONFIG``)::

    allow:                         # empty list = no restriction on that dimension
      teams: [T0123ABCD]           # workspaces (team ids)
      channels: [C0INCIDENTS]      # channel ids
      user_groups: [S0ONCALL]      # user group ids (members via usergroups.users.list)
      contact: "#sre-platform"     # whom a refused user should ask (shown to them)
    channels:
      C0INCIDENTS: {bundle: scenarios/bundles/connected-vehicle-sg}
      C0PROD:
        aws: {workspace: s3://bucket/ws.json, accounts: ["111122223333"],
              regions: [eu-central-1], role_arn_template: "arn:aws:iam::{account}:role/rca"}
    default: {bundle: demo}        # channels not listed; omit to refuse them
    sources:                       # named, for `/rca ... --source NAME`
      staging: {bundle: incidents/staging-latest}
    model: {provider: heuristic}   # or {provider: bedrock, model_id: ...}

Without a file the embedded default applies: every channel investigates the demo bundle with
the heuristic investigator, and no allowlist beyond the workspace the app is installed in.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from agent.factory import DEMO_BUNDLE
from agent.service import AwsSource, BundleSource, ModelChoice, TelemetrySource
from tools.errors import RcaError
from tools.models import Model


class ConfigError(RcaError):
    """The Slack config file is missing, unreadable or invalid."""


class Allow(Model):
    """The allowlist: workspaces, channels and user groups (ids); empty means any."""

    teams: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    user_groups: list[str] = Field(default_factory=list)
    contact: str = Field(default="your Slack admin", max_length=200)


class AwsChannel(Model):
    """AWS telemetry for a channel (see :class:`agent.service.AwsSource`)."""

    workspace: str
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    role_arn_template: str | None = None
    xray: bool = False


class ChannelSource(Model):
    """One channel's telemetry: a bundle directory (``demo``: the embedded demo) or AWS."""

    bundle: str | None = None
    aws: AwsChannel | None = None

    def typed(self, base: Path) -> TelemetrySource:
        """The service's typed source (relative bundle paths are relative to the config)."""
        if self.aws is not None:
            return AwsSource(**self.aws.model_dump())
        if self.bundle in (None, "demo"):
            return BundleSource(path=str(DEMO_BUNDLE))
        path = Path(str(self.bundle))
        return BundleSource(path=str(path if path.is_absolute() else base / path))


class SlackConfig(Model):
    """The whole config (see the module doc)."""

    allow: Allow = Field(default_factory=Allow)
    channels: dict[str, ChannelSource] = Field(default_factory=dict)
    default: ChannelSource | None = None
    sources: dict[str, ChannelSource] = Field(
        default_factory=dict, description="named sources for `/rca ... --source NAME`"
    )
    model: ModelChoice = Field(default_factory=ModelChoice)
    max_pdf_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    base_dir: str = Field(default=".", description="where relative bundle paths start")

    def source_for(self, channel: str) -> TelemetrySource | None:
        """The telemetry ``channel`` investigates, or None when it is not configured."""
        chosen = self.channels.get(channel, self.default)
        return chosen.typed(Path(self.base_dir)) if chosen is not None else None

    def unconfigured(self, channel: str) -> str:
        """The message for a channel without telemetry (says whom to ask and what to add)."""
        return (
            f"This channel ({channel}) has no telemetry configured for investigations. Ask "
            f"{self.allow.contact} to add it under `channels:` in the Slack app's config file."
        )


def embedded_default() -> SlackConfig:
    """Every channel investigates the demo bundle with the heuristic investigator."""
    return SlackConfig(default=ChannelSource(bundle="demo"))


def load_config(path: Path | str | None = None) -> SlackConfig:
    """The config at ``path`` (else ``$RCA_SLACK_CONFIG``, else the embedded default).

    Raises:
        ConfigError: the file cannot be read or does not validate (one line naming the field).
    """
    path = path or os.environ.get("RCA_SLACK_CONFIG")
    if not path:
        return embedded_default()
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the Slack config {file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the Slack config must be a mapping")
    raw.setdefault("base_dir", str(file.resolve().parent))
    try:
        return SlackConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{file}: {where}: {first['msg']}") from exc
