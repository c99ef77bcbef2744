"""Sessions: role configuration precedence, role assumption per account, client caching."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tools.aws.errors import CredentialsError
from tools.aws.session import AwsSessions, Location, RoleConfig, client_config


def test_role_config_explicit_beats_env_beats_file(tmp_path: Path):
    file = tmp_path / "rca-aws.yaml"
    file.write_text(
        "role_arn_template: arn:aws:iam::{account}:role/from-file\n"
        "roles:\n  '739102846375': arn:aws:iam::739102846375:role/network-ro\n"
        "external_id: ext-1\n"
    )
    env = {
        "RCA_AWS_CONFIG": str(file),
        "RCA_ROLE_ARN_TEMPLATE": "arn:aws:iam::{account}:role/from-env",
    }
    from_env = RoleConfig.resolve(environ=env)
    assert from_env.role_for("111111111111") == "arn:aws:iam::111111111111:role/from-env"
    assert from_env.role_for("739102846375") == "arn:aws:iam::739102846375:role/network-ro"
    assert from_env.external_id == "ext-1"
    explicit = RoleConfig.resolve("arn:aws:iam::{account}:role/explicit", environ=env)
    assert explicit.role_for("1") == "arn:aws:iam::1:role/explicit"
    only_file = RoleConfig.resolve(environ={"RCA_AWS_CONFIG": str(file)})
    assert only_file.role_for("2") == "arn:aws:iam::2:role/from-file"
    assert not RoleConfig.resolve(environ={}).configured


def test_role_config_errors_say_what_to_fix(tmp_path: Path):
    with pytest.raises(CredentialsError, match=r"lacks '\{account\}'"):
        RoleConfig.resolve("arn:aws:iam::123:role/x", environ={})
    with pytest.raises(CredentialsError, match="cannot read"):
        RoleConfig.resolve(config_file=tmp_path / "missing.yaml", environ={})


def test_clients_use_adaptive_retries_and_are_cached():
    sessions = AwsSessions(region="eu-central-1", roles=RoleConfig())
    logs = sessions.client("logs", Location(None, None))
    assert logs is sessions.client("logs", Location(None, "eu-central-1"))
    assert logs.meta.config.retries["mode"] == "adaptive"
    assert sessions.client("logs", Location(None, "us-east-1")).meta.region_name == "us-east-1"
    assert client_config("standard").retries == {"mode": "standard", "total_max_attempts": 8}


def test_no_region_is_a_credentials_error(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    sessions = AwsSessions(roles=RoleConfig())
    with pytest.raises(CredentialsError, match="--region"):
        sessions.client("logs", Location())


@mock_aws
def test_other_accounts_are_read_through_an_assumed_role():
    sessions = AwsSessions(
        region="eu-central-1",
        roles=RoleConfig(role_arn_template="arn:aws:iam::{account}:role/rca-readonly"),
    )
    caller = sessions.caller_account()
    assert sessions.session_for(caller) is sessions.base
    assert sessions.session_for(None) is sessions.base
    other = sessions.session_for("739102846375")
    assert other is not sessions.base and other is sessions.session_for("739102846375")
    creds = other.get_credentials().get_frozen_credentials()
    assert creds.access_key != "testing" and creds.token  # temporary credentials from STS
    identity = other.client("sts", region_name="eu-central-1").get_caller_identity()
    assert identity["Account"] == "739102846375"
    assert ":assumed-role/rca-readonly/rca-tools" in identity["Arn"]


@mock_aws
def test_without_roles_every_account_uses_the_default_credentials(caplog):
    sessions = AwsSessions(session=boto3.Session(region_name="eu-central-1"), roles=RoleConfig())
    assert sessions.session_for("739102846375") is sessions.base
    assert "no role configured for account 739102846375" in caplog.text


def test_make_client_sizes_timeouts_and_disables_invoke_agent_retries():
    import boto3

    from tools.aws.session import USER_AGENT, make_client

    session = boto3.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    agent = make_client("bedrock-agent-runtime", session=session, retries=False)
    assert agent.meta.config.read_timeout == 900
    assert agent.meta.config.retries["total_max_attempts"] == 1
    runtime = make_client("bedrock-runtime", session=session)
    assert runtime.meta.config.read_timeout == 600
    assert runtime.meta.config.retries["mode"] == "adaptive"
    logs = make_client("logs", session=session)
    assert logs.meta.config.read_timeout == 30
    assert USER_AGENT in logs.meta.config.user_agent_extra
