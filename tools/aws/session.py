"""boto3 sessions and clients per account and Region, with cross-account role assumption.

Which account and Region serve a log group or metric comes from the element's ``rca.account`` /
``rca.region`` properties (:class:`Location`). Reads in the caller's own account use the base
session (``--profile`` / ``--region`` like the AWS CLI, else the default credential chain); reads
in another account assume that account's read-only role with STS AssumeRole. Assumed-role
credentials are cached per account and refreshed by botocore before they expire.

Role configuration (:class:`RoleConfig`), explicit argument > environment > config file > none:

- ``RCA_ROLE_ARN_TEMPLATE``, e.g. ``arn:aws:iam::{account}:role/rca-readonly``;
- ``RCA_AWS_CONFIG``: a YAML file ``{role_arn_template: ..., roles: {"<account>": "<arn>"},
  external_id: ..., session_name: ...}``; ``roles`` entries beat the template;
- ``RCA_ROLE_EXTERNAL_ID``: the ExternalId the roles' trust policies require, if any;
- ``RCA_ROLE_SESSION_POLICY``: an IAM policy (JSON text) passed as the AssumeRole session
  policy: the session can do at most what both it and the role allow (the read-only ceiling
  the cloud deployment sets; IAM user guide, "Session policies").
- ``RCA_CROSS_ACCOUNT=observability`` (or ``cross_account: observability`` in the file): the
  caller is a CloudWatch cross-account observability *monitoring* account linked to the source
  accounts, so logs and metrics of other accounts are read without roles (log groups by ARN,
  ``AccountId`` on metric queries); CloudTrail still needs a role per account.

Without a role for an account the base credentials are used (with a warning): this is right when
the base credentials already are that account's, or for CloudWatch cross-account observability.

Retries: every client uses botocore's ``adaptive`` retry mode (exponential backoff with jitter
plus a client-side token bucket that slows down on throttling), 8 attempts in total. Source:
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, ValidationError

from tools.aws.errors import CredentialsError, aws_call, translate
from tools.models import Model

# boto3 and botocore's session, config and credentials modules (~0.15 s of CPU) are imported
# where a client or session is built: an investigation of a bundle never needs them.
if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

log = logging.getLogger(__name__)

RETRY_MODE = "adaptive"
MAX_ATTEMPTS = 8
DEFAULT_SESSION_NAME = "rca-tools"
ROLE_DURATION_S = 3600  # STS AssumeRole default and the role-chaining maximum (1 hour)


# Keys of the same config file read elsewhere (tools.aws.models).
OTHER_KEYS = frozenset({"model_id", "model_family"})
USER_AGENT = "rca-ops-assistant"
DEFAULT_READ_TIMEOUT_S = 30
# Read timeouts sized per call, in seconds: a large Converse assessment and a long InvokeAgent
# stream run for minutes (botocore's default of 60 s cuts them off).
READ_TIMEOUT_S = {"bedrock-runtime": 600, "bedrock-agent-runtime": 900}


def client_config(
    mode: str = RETRY_MODE,
    max_attempts: int = MAX_ATTEMPTS,
    *,
    read_timeout_s: int = DEFAULT_READ_TIMEOUT_S,
) -> Config:
    """botocore client configuration: retry ``mode`` (adaptive|standard), timeouts in seconds.

    ``max_attempts=1`` disables retries (used for InvokeAgent, whose retry would re-run the
    agent).
    """
    from botocore.config import Config

    return Config(
        retries={"mode": mode, "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=read_timeout_s,
        user_agent_extra=USER_AGENT,
    )


def make_client(
    service: str,
    *,
    session: Any | None = None,
    profile: str | None = None,
    region: str | None = None,
    retries: bool = True,
    read_timeout_s: int | None = None,
) -> Any:
    """The one way the project builds a boto3 client: adaptive retries, sized timeouts, agent.

    ``session`` (a ``boto3.Session``) is used when given, else one is built from ``profile`` /
    ``region``. ``read_timeout_s`` defaults to :data:`READ_TIMEOUT_S` for the service (else 30 s).

    Raises:
        CredentialsError: the profile does not exist (other botocore errors are translated).
    """
    timeout = read_timeout_s or READ_TIMEOUT_S.get(service, DEFAULT_READ_TIMEOUT_S)
    config = client_config(max_attempts=MAX_ATTEMPTS if retries else 1, read_timeout_s=timeout)
    import boto3

    try:
        base = session or boto3.Session(profile_name=profile, region_name=region)
        return base.client(service, region_name=region, config=config)
    except BotoCoreError as exc:
        raise translate(exc, service=service, operation="client") from exc


class Location(NamedTuple):
    """Where telemetry lives: AWS account id and Region (None = the caller's default)."""

    account: str | None = None
    region: str | None = None

    def label(self) -> str:
        """``account/Region`` for messages, e.g. ``739102846375/eu-central-1``."""
        return f"{self.account or 'default account'}/{self.region or 'default Region'}"


class ClientFactory(Protocol):
    """Anything that returns a client for ``service`` ("logs", "cloudwatch", ...) at a location."""

    def __call__(self, service: str, location: Location) -> Any: ...


class LocatedWrapper:
    """Base of the telemetry wrappers: one boto3 client (or stand-in) of one service in one
    :class:`Location`. Subclasses set :attr:`service` (the name errors use, e.g. ``"CloudTrail"``).

    Raises (from :meth:`_call`):
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    service: str = "AWS"

    def __init__(self, client: Any, *, location: Location | None = None) -> None:
        self.client = client
        self.location = location or Location()

    def _call(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """``method(**kwargs)`` through :func:`tools.aws.errors.aws_call`: a botocore failure
        becomes the :class:`~tools.aws.errors.AwsError` naming the service, ``operation``
        (the API name, e.g. ``LookupEvents``), account and Region."""
        return aws_call(
            method,
            service=self.service,
            operation=operation,
            account=self.location.account,
            region=self.location.region,
            **kwargs,
        )


class RoleConfig(Model):
    """How to reach other accounts: a role ARN per account, or a template with ``{account}``."""

    role_arn_template: str | None = None
    roles: dict[str, str] = Field(default_factory=dict)
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    duration_s: int = Field(default=ROLE_DURATION_S, ge=900, le=43200)
    session_policy: str | None = Field(default=None, max_length=2048)
    cross_account: Literal["roles", "observability"] = "roles"

    def role_for(self, account: str) -> str | None:
        """The role ARN to assume in ``account``, or None when none is configured."""
        if account in self.roles:
            return self.roles[account]
        if self.role_arn_template:
            return self.role_arn_template.format(account=account)
        return None

    @property
    def configured(self) -> bool:
        """True when a template or a per-account role is set (else no role is assumed)."""
        return bool(self.role_arn_template or self.roles)

    @classmethod
    def resolve(
        cls,
        role_arn_template: str | None = None,
        config_file: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RoleConfig:
        """Explicit arguments > ``RCA_ROLE_ARN_TEMPLATE`` / ``RCA_AWS_CONFIG`` > no roles.

        Raises:
            CredentialsError: the config file is missing or invalid.
        """
        env = os.environ if environ is None else environ
        path = config_file or env.get("RCA_AWS_CONFIG")
        base: dict[str, Any] = {}
        if path:
            file = Path(path)
            try:
                raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise CredentialsError(f"{file}: cannot read the AWS role config ({exc})") from exc
            if not isinstance(raw, dict):
                raise CredentialsError(f"{file}: expected a mapping with role_arn_template/roles")
            base = {k: v for k, v in raw.items() if v is not None and k not in OTHER_KEYS}
            base["roles"] = {str(k): str(v) for k, v in (base.get("roles") or {}).items()}
        template = role_arn_template or env.get("RCA_ROLE_ARN_TEMPLATE")
        if template:
            base["role_arn_template"] = template
        if env.get("RCA_CROSS_ACCOUNT"):
            base["cross_account"] = env["RCA_CROSS_ACCOUNT"]
        if env.get("RCA_ROLE_EXTERNAL_ID") and "external_id" not in base:
            base["external_id"] = env["RCA_ROLE_EXTERNAL_ID"]
        if env.get("RCA_ROLE_SESSION_POLICY") and "session_policy" not in base:
            base["session_policy"] = env["RCA_ROLE_SESSION_POLICY"]
        try:
            config = cls.model_validate(base)
        except ValidationError as exc:
            raise CredentialsError(f"invalid AWS role config: {exc.errors()[0]['msg']}") from exc
        if config.role_arn_template and "{account}" not in config.role_arn_template:
            raise CredentialsError(
                f"role ARN template {config.role_arn_template!r} lacks '{{account}}', e.g. "
                "arn:aws:iam::{account}:role/rca-readonly"
            )
        return config


class AwsSessions:
    """Sessions and clients per :class:`Location`; thread-safe; one instance per investigation.

    ``client(service, location)`` is a :class:`ClientFactory`. Clients are cached per service,
    account and Region and built by :func:`make_client` (retries, timeouts sized per service).
    ``session`` (a ``boto3.Session``) may be injected, else one is built from
    ``profile`` / ``region``.

    Raises (from ``client``):
        CredentialsError: no Region, no credentials, or AssumeRole refused / untrusted.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        roles: RoleConfig | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        import boto3

        try:
            self.base = session or boto3.Session(profile_name=profile, region_name=region)
        except BotoCoreError as exc:
            raise translate(exc, service="STS", operation="session") from exc
        self.default_region = region or self.base.region_name
        self.roles = roles or RoleConfig.resolve()
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}
        self._sessions: dict[str, boto3.Session] = {}
        self._caller: str | None = None
        self._warned: set[str] = set()

    def __call__(self, service: str, location: Location) -> Any:
        return self.client(service, location)

    def client(self, service: str, location: Location) -> Any:
        """A cached boto3 client for ``service`` at ``location`` (Region defaults to the base).

        Raises:
            CredentialsError: no Region anywhere, or the account's role cannot be assumed.
        """
        region = location.region or self.default_region
        if not region:
            raise CredentialsError(
                "no AWS Region: pass --region, set AWS_REGION, or set rca.region on the element"
            )
        key = (service, location.account, region)
        with self._lock:
            if key not in self._clients:
                session = self.session_for(location.account)
                self._clients[key] = make_client(service, session=session, region=region)
            return self._clients[key]

    def caller_account(self) -> str:
        """The account id of the base credentials (STS GetCallerIdentity, once; it needs no
        permission).

        Raises:
            CredentialsError, AwsError: no usable credentials, or STS failed
                (:func:`tools.aws.errors.translate`).
        """
        with self._lock:
            if self._caller is None:
                sts = make_client(
                    "sts", session=self.base, region=self.default_region or "us-east-1"
                )
                try:
                    self._caller = str(sts.get_caller_identity()["Account"])
                except (ClientError, BotoCoreError) as exc:
                    raise translate(exc, service="STS", operation="GetCallerIdentity") from exc
            return self._caller

    def session_for(self, account: str | None) -> boto3.Session:
        """The base session, or an assumed-role session for another account."""
        if account is None or not self.roles.configured:
            observed = self.roles.cross_account == "observability"
            if account is not None and account not in self._warned and not observed:
                self._warned.add(account)
                log.warning(
                    "no role configured for account %s; using the default credentials "
                    "(set RCA_ROLE_ARN_TEMPLATE to read other accounts)",
                    account,
                )
            return self.base
        if account == self.caller_account():
            return self.base
        with self._lock:
            if account not in self._sessions:
                arn = self.roles.role_for(account)
                if arn is None:
                    if account not in self._warned:
                        self._warned.add(account)
                        log.warning(
                            "no role for account %s; using the default credentials", account
                        )
                    return self.base
                self._sessions[account] = self._assume(arn, account)
            return self._sessions[account]

    def _assume(self, role_arn: str, account: str) -> boto3.Session:
        sts = make_client("sts", session=self.base, region=self.default_region or "us-east-1")
        request: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": self.roles.session_name,
            "DurationSeconds": self.roles.duration_s,
        }
        if self.roles.external_id:
            request["ExternalId"] = self.roles.external_id
        if self.roles.session_policy:
            request["Policy"] = self.roles.session_policy

        def fetch() -> dict[str, str]:
            try:
                creds = sts.assume_role(**request)["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                err = translate(exc, service="STS", operation="AssumeRole", account=account)
                raise CredentialsError(
                    f"{err}; the role {role_arn} must trust the caller and grant the read-only "
                    "policy",
                    service="STS",
                    operation="AssumeRole",
                    code=err.code,
                    account=account,
                ) from exc
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        import boto3
        import botocore.session
        from botocore.credentials import RefreshableCredentials

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
        )
        core = botocore.session.Session()
        core._credentials = credentials  # the documented way to plug refreshable credentials
        return boto3.Session(botocore_session=core, region_name=self.default_region)


def static_factory(clients: Mapping[str, Any]) -> Callable[[str, Location], Any]:
    """A :class:`ClientFactory` that returns the same client per service for every location."""

    def factory(service: str, location: Location) -> Any:
        return clients[service]

    return factory
