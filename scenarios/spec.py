"""Scenario specs: the YAML a shipped incident scenario is generated from.

A spec (``scenarios/specs/<id>.yaml``) describes one incident on one system: the workspace, the
symptom as an on-call engineer would phrase it, the seed, the incident window, the background of
every component (traffic with a daily shape and noise, metrics, log templates, alarms), the fault
(root-cause component, kind, causal change, signature) and the decoys. Everything the generator
(:mod:`scenarios.generator`) writes follows from the spec, the workspace and the seed.

Components of one system are shared through a *profile* (``scenarios/specs/profiles/<name>.yaml``,
model :class:`ProfileSpec`): a spec with ``profile: <name>`` starts from the profile's workspace,
region, accounts, components and CloudTrail background; a component listed in the spec replaces the
profile's component of the same name.

Times: ``window_start`` (UTC, 2026) and ``window_min`` give the incident window;
``fault.onset_min`` is the onset in minutes after the window start. Every other time in a spec is
**minutes relative to the onset** (``at_min``, ``start_min``, ``end_min``; negative = before).
The generator writes metrics from 6 h before the window start, logs from the baseline start (one
window length before the window) and CloudTrail records from 6.5 h before the window start, all up
to the window end.

Fault kinds (``FAULT_KINDS``, the ``fault_kind`` vocabulary of ground truth) and which component
is the ground truth for each:

- ``network_config``: a security group / NACL / route / firewall change blocks traffic between two
  components. Ground truth: the component the removed rule protected (the callee), because the
  changed resource belongs to it; its callers only show propagated symptoms (timeouts).
- ``credentials``: a password, secret or key changed (e.g. a rotation) and clients still use the
  old one. Ground truth: the component that owns the credential (e.g. the database).
- ``certificate``: a TLS certificate expired or is invalid. Ground truth: the component that
  presents the certificate (server certificate or mTLS client certificate).
- ``resource_exhaustion``: CPU, memory or disk of the component is exhausted (leak, runaway work).
- ``deployment``: a code or configuration deployment of the component introduced a fault.
- ``capacity``: provisioned capacity (DynamoDB RCU/WCU, Lambda concurrency, instance class) is below
  the load. Ground truth: the component whose capacity is exceeded.
- ``traffic_surge``: load far above normal. Ground truth: the component where the surge enters and
  saturates first (callers upstream of it only see errors; dependencies only see more load).
- ``dns_routing``: a DNS record or route sends callers to a wrong target. Ground truth: the
  component whose name or route was changed.
- ``connection_pool``: a connection pool is exhausted (leak, undersized pool). Ground truth: the
  component that owns the pool.

Log template placeholders (``PLACEHOLDERS``) are written ``${name}`` or ``${name:args}``. The
identities (rid, uuid, trace, vin, user, ip, port) have one value per log line (``${vin}`` twice in
a line is the same VIN); numbers, ids and choices are drawn at every occurrence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import RcaError
from tools.models import TimeWindow, iso, parse_time

SCENARIOS_DIR = Path(__file__).resolve().parent
SPECS_DIR = SCENARIOS_DIR / "specs"
PROFILES_DIR = SPECS_DIR / "profiles"
WORKSPACES_DIR = SCENARIOS_DIR / "workspaces"
BUNDLES_DIR = SCENARIOS_DIR / "bundles"

METRICS_LEAD_MIN = 360  # metrics start 6 h before the window
TRAIL_LEAD_MIN = 390  # CloudTrail records start 6.5 h before the window

FaultKind = Literal[
    "network_config",
    "credentials",
    "certificate",
    "resource_exhaustion",
    "deployment",
    "capacity",
    "traffic_surge",
    "dns_routing",
    "connection_pool",
]

FAULT_KINDS: dict[str, str] = {
    "network_config": "a security group, NACL, route or firewall change blocks traffic; "
    "truth: the component the removed rule protected (the callee)",
    "credentials": "a password, secret or key changed and clients use the stale one; "
    "truth: the component that owns the credential",
    "certificate": "a TLS certificate expired or is invalid; "
    "truth: the component that presents the certificate",
    "resource_exhaustion": "CPU, memory or disk of the component is exhausted",
    "deployment": "a code or configuration deployment of the component introduced a fault",
    "capacity": "provisioned capacity is below the load; truth: the component whose capacity "
    "is exceeded",
    "traffic_surge": "load far above normal; truth: where the surge enters and saturates first",
    "dns_routing": "a DNS record or route sends callers to a wrong target; truth: the component "
    "whose name or route was changed",
    "connection_pool": "a connection pool is exhausted; truth: the component that owns the pool",
}

DecoyKind = Literal[
    "unrelated_change",  # a change on a component that shows no anomaly after it
    "same_kind_change",  # a change of the same category as the fault, elsewhere
    "change_after_onset",  # a reaction or routine change after the onset
    "old_change",  # a change on an affected component long before the onset
    "chronic_noise",  # errors or warnings as high in the baseline as in the window
    "flapping_alarm",  # an alarm that fires in the baseline and the window alike
]

Level = Literal["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
LogFormat = Literal["lambda-node", "lambda-python", "spring", "logfmt", "postgres", "mysql", "raw"]
Unit = Literal[
    "Count", "Percent", "Milliseconds", "Seconds", "Bytes", "Count/Second", "Bytes/Second", "None"
]
Stat = Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount", "p50", "p90", "p99"]
Comparison = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]

PLACEHOLDERS: dict[str, str] = {
    "rid": "request id (UUID); the lambda formats use the same id in the line prefix",
    "uuid": "a UUID",
    "trace": "X-Ray trace id (Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)",
    "vin": "vehicle identification number from the scenario's pool",
    "user": "user id from the scenario's pool",
    "ip": "IPv4 address; ${ip:10.20} fixes the leading octets",
    "port": "ephemeral TCP port",
    "int": "${int:LO:HI} uniform integer",
    "ms": "${ms:MEDIAN} or ${ms:MEDIAN:SIGMA} log-normal duration in whole milliseconds",
    "float": "${float:LO:HI} or ${float:LO:HI:DECIMALS} uniform number",
    "hex": "${hex:N} N lowercase hex digits",
    "id": "${id:PREFIX:N} PREFIX followed by N characters [a-z0-9]",
    "choice": "${choice:a|b|c} one of the alternatives",
    "ts": "the line's time, ISO 8601 with milliseconds and Z",
    "epoch": "the line's time in epoch seconds",
}

# The CloudTrail events the generator can build a realistic record for:
# event name -> (event source, required params, optional params).
CHANGE_EVENTS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "RevokeSecurityGroupIngress": (
        "ec2.amazonaws.com",
        frozenset({"group_id", "port"}),
        frozenset({"protocol", "to_port", "source_group", "cidr", "description", "rule_id"}),
    ),
    "AuthorizeSecurityGroupIngress": (
        "ec2.amazonaws.com",
        frozenset({"group_id", "port"}),
        frozenset({"protocol", "to_port", "source_group", "cidr", "description", "rule_id"}),
    ),
    "CreateTags": (
        "ec2.amazonaws.com",
        frozenset({"resource_id", "tags"}),
        frozenset(),
    ),
    "UpdateFunctionCode20150331v2": (
        "lambda.amazonaws.com",
        frozenset({"function"}),
        frozenset({"s3_bucket", "s3_key", "runtime", "handler", "memory", "timeout", "version"}),
    ),
    "UpdateFunctionConfiguration20150331v2": (
        "lambda.amazonaws.com",
        frozenset({"function"}),
        frozenset({"runtime", "handler", "memory", "timeout", "environment_keys"}),
    ),
    "PublishVersion20150331": (
        "lambda.amazonaws.com",
        frozenset({"function", "version"}),
        frozenset({"runtime", "handler", "memory", "timeout", "description"}),
    ),
    "UpdateAlias20150331": (
        "lambda.amazonaws.com",
        frozenset({"function", "alias", "version"}),
        frozenset(),
    ),
    "PutFunctionConcurrency20171031": (
        "lambda.amazonaws.com",
        frozenset({"function", "reserved"}),
        frozenset(),
    ),
    "TagResource20170331v2": (
        "lambda.amazonaws.com",
        frozenset({"function", "tags"}),
        frozenset(),
    ),
    "RotateSecret": (
        "secretsmanager.amazonaws.com",
        frozenset({"secret_arn"}),
        frozenset({"rotation_lambda_arn", "version_id"}),
    ),
    "PutSecretValue": (
        "secretsmanager.amazonaws.com",
        frozenset({"secret_arn"}),
        frozenset({"version_id", "stages"}),
    ),
    "UpdateSecretVersionStage": (
        "secretsmanager.amazonaws.com",
        frozenset({"secret_arn", "stage", "move_to_version"}),
        frozenset({"remove_from_version"}),
    ),
    "ChangeResourceRecordSets": (
        "route53.amazonaws.com",
        frozenset({"hosted_zone_id", "name", "type"}),
        frozenset({"action", "ttl", "values", "alias_dns_name", "alias_zone_id", "comment"}),
    ),
    "UpdateTable": (
        "dynamodb.amazonaws.com",
        frozenset({"table"}),
        frozenset({"billing_mode", "rcu", "wcu", "item_count", "size_bytes"}),
    ),
    "ModifyDBInstance": (
        "rds.amazonaws.com",
        frozenset({"db_instance"}),
        frozenset({"modifications", "apply_immediately", "engine", "instance_class"}),
    ),
    "UpdateService": (
        "ecs.amazonaws.com",
        frozenset({"cluster", "service"}),
        frozenset({"task_definition", "desired_count", "force_new_deployment"}),
    ),
    "ImportCertificate": (
        "acm.amazonaws.com",
        frozenset({"certificate_arn"}),
        frozenset({"domain"}),
    ),
    "StartDeployment": (
        "appconfig.amazonaws.com",
        frozenset({"application_id", "environment_id", "profile_id", "version"}),
        frozenset({"strategy_id", "description", "deployment_number"}),
    ),
    "PutMetricAlarm": (
        "monitoring.amazonaws.com",
        frozenset({"alarm_name", "namespace", "metric", "threshold"}),
        frozenset({"comparison", "dimensions", "periods"}),
    ),
}

_PLACEHOLDER = re.compile(r"\$\{([a-z]+)(?::([^}]*))?\}")
_ACCOUNT = re.compile(r"^\d{12}$")


class ScenarioSpecError(RcaError):
    """A scenario spec or profile is missing, malformed or inconsistent (message names the file,
    the field and the fix)."""


class Spec(BaseModel):
    """Base of the spec models: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


def check_placeholders(text: str) -> str:
    """Validate the ``${...}`` placeholders of a log template; returns ``text``.

    Raises:
        ValueError: an unknown placeholder or malformed arguments.
    """
    for match in _PLACEHOLDER.finditer(text):
        name, args = match.group(1), match.group(2)
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder ${{{name}}}; known: {', '.join(sorted(PLACEHOLDERS))}"
            )
        parts = args.split(":") if args else []
        need = {"int": (2, 2), "ms": (1, 2), "float": (2, 3), "hex": (1, 1), "id": (2, 2)}
        if name in need:
            lo, hi = need[name]
            if not lo <= len(parts) <= hi:
                raise ValueError(f"${{{name}}} needs {lo}-{hi} ':'-separated arguments")
            numeric = parts if name != "id" else parts[1:]
            for part in numeric:
                try:
                    float(part)
                except ValueError as exc:
                    raise ValueError(f"${{{name}:{args}}}: {part!r} is not a number") from exc
        if name == "choice" and not args:
            raise ValueError("${choice:a|b} needs alternatives")
    if "${" in _PLACEHOLDER.sub("", text):
        raise ValueError("unterminated or malformed '${' placeholder")
    return text


# ---------------------------------------------------------------- components


class Traffic(Spec):
    """Requests per minute of a component: ``rpm`` at the daily mean, a cosine daily shape peaking
    at ``peak_hour`` UTC with relative ``daily_amplitude``, and AR(1) relative noise."""

    rpm: float = Field(gt=0)
    daily_amplitude: float = Field(default=0.25, ge=0, lt=1)
    peak_hour: float = Field(default=17.0, ge=0, lt=24)
    noise: float = Field(default=0.04, ge=0, le=0.5)


class MetricDef(Spec):
    """One CloudWatch series of a component, as 1-minute datapoints.

    Exactly one of: ``per_request`` (a count, the per-minute Sum: Poisson of traffic x rate),
    ``per_minute`` (a count independent of traffic), ``level`` (a gauge such as an Average,
    Maximum or percentile at nominal traffic; ``load_coupling`` is its relative change per
    relative traffic change; ``noise`` the relative standard deviation).
    """

    namespace: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: Unit = "Count"
    stat: Stat = "Sum"
    per_request: float | None = Field(default=None, ge=0)
    per_minute: float | None = Field(default=None, ge=0)
    level: float | None = None
    load_coupling: float = Field(default=0.0, ge=-1, le=2)
    noise: float = Field(default=0.03, ge=0, le=1)
    min: float | None = 0.0
    max: float | None = None
    decimals: int = Field(default=2, ge=0, le=6)

    @model_validator(mode="after")
    def _one_model(self) -> MetricDef:
        given = [n for n in ("per_request", "per_minute", "level") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"metric {self.metric!r}: give exactly one of per_request (count per request), "
                f"per_minute (count per minute) or level (gauge); got {given or 'none'}"
            )
        return self

    @property
    def is_count(self) -> bool:
        return self.level is None

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.namespace, self.metric, tuple(sorted(self.dimensions.items())))


class LogTemplate(Spec):
    """A normal log line of a component: ``weight`` (share of the traffic-coupled lines) or
    ``per_min`` (a fixed rate, e.g. health checks and timers)."""

    text: str = Field(min_length=1)
    level: Level = "INFO"
    weight: float | None = Field(default=None, gt=0)
    per_min: float | None = Field(default=None, ge=0)

    @field_validator("text")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return check_placeholders(value)

    @model_validator(mode="after")
    def _one_rate(self) -> LogTemplate:
        if (self.weight is None) == (self.per_min is None):
            raise ValueError(f"template {self.text[:60]!r}: give exactly one of weight or per_min")
        return self


class LogGroupDef(Spec):
    """A log group of a component: line format, traffic-coupled volume and templates."""

    group: str = Field(min_length=1)
    format: LogFormat = "raw"
    lines_per_min: float = Field(default=0.0, ge=0, description="traffic-coupled, at rpm")
    streams: int = Field(default=3, ge=1, le=50)
    templates: list[LogTemplate] = Field(min_length=1)

    @model_validator(mode="after")
    def _coupled(self) -> LogGroupDef:
        weighted = [t for t in self.templates if t.weight is not None]
        if self.lines_per_min > 0 and not weighted:
            raise ValueError(f"log group {self.group}: lines_per_min needs templates with weight")
        if weighted and self.lines_per_min == 0:
            raise ValueError(
                f"log group {self.group}: templates with weight need lines_per_min > 0"
            )
        return self


class AlarmDef(Spec):
    """A CloudWatch alarm on one metric of the component (``datapoints`` of the last
    ``evaluation_periods`` 1-minute points breaching)."""

    name: str = Field(min_length=1)
    metric: str
    dimensions: dict[str, str] | None = Field(
        default=None, description="only needed when the component has two series of this name"
    )
    comparison: Comparison
    threshold: float
    datapoints: int = Field(default=3, ge=1, le=10)
    evaluation_periods: int = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _m_of_n(self) -> AlarmDef:
        if self.datapoints > self.evaluation_periods:
            raise ValueError(f"alarm {self.name}: datapoints > evaluation_periods")
        return self


class ComponentSpec(Spec):
    """Background telemetry of one workspace element (``name`` is its exact element name)."""

    name: str = Field(min_length=1)
    traffic: Traffic | None = None
    metrics: list[MetricDef] = Field(default_factory=list)
    logs: list[LogGroupDef] = Field(default_factory=list)
    alarms: list[AlarmDef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ComponentSpec:
        if self.traffic is None:
            if any(m.per_request is not None for m in self.metrics):
                raise ValueError(f"{self.name}: per_request metrics need traffic")
            if any(g.lines_per_min for g in self.logs):
                raise ValueError(f"{self.name}: traffic-coupled log lines need traffic")
        keys = [m.key for m in self.metrics]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{self.name}: a metric series is defined twice")
        for alarm in self.alarms:
            self.metric(alarm.metric, alarm.dimensions)
        return self

    def metric(self, name: str, dimensions: dict[str, str] | None = None) -> MetricDef:
        """The metric named ``name`` (and matching ``dimensions`` when given).

        Raises:
            ValueError: none or several match.
        """
        found = [
            m
            for m in self.metrics
            if m.metric == name
            and (dimensions is None or all(m.dimensions.get(k) == v for k, v in dimensions.items()))
        ]
        if len(found) != 1:
            have = ", ".join(sorted({m.metric for m in self.metrics})) or "none"
            what = "no" if not found else "several"
            raise ValueError(
                f"{self.name}: {what} metric {name!r}"
                + (f" with dimensions {dimensions}" if dimensions else "")
                + f" (its metrics: {have})"
            )
        return found[0]

    def log_group(self, group: str | None) -> LogGroupDef:
        """The log group named ``group``, or the only one when ``group`` is None.

        Raises:
            ValueError: no such group, or ``group`` omitted with several groups.
        """
        if group is None:
            if len(self.logs) != 1:
                raise ValueError(
                    f"{self.name}: has {len(self.logs)} log groups; name the group of the effect"
                )
            return self.logs[0]
        for g in self.logs:
            if g.group == group:
                return g
        raise ValueError(f"{self.name}: no log group {group!r}")


# ------------------------------------------------------------------- changes


class Actor(Spec):
    """Who makes a CloudTrail call (``userIdentity``) and how (``via``: user agent, source IP)."""

    type: Literal["AssumedRole", "IAMUser", "AWSService"] = "AssumedRole"
    role: str | None = Field(default=None, description="role name (AssumedRole)")
    role_path: str = Field(
        default="/", description="IAM path, e.g. /aws-reserved/sso.amazonaws.com/"
    )
    session: str | None = Field(default=None, description="role session name (AssumedRole)")
    user: str | None = Field(default=None, description="IAM user name (IAMUser)")
    service: str | None = Field(default=None, description="service principal (AWSService)")
    via: Literal["console", "cli", "terraform", "sdk", "service"] = "console"
    source_ip: str | None = None
    mfa: bool = False

    @model_validator(mode="after")
    def _complete(self) -> Actor:
        need = {
            "AssumedRole": ("role", "session"),
            "IAMUser": ("user",),
            "AWSService": ("service",),
        }
        missing = [f for f in need[self.type] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"actor of type {self.type} needs {', '.join(missing)}")
        return self


class ChangeSpec(Spec):
    """A control-plane call written to CloudTrail (``readOnly: false``)."""

    event: str
    at_min: float = Field(description="minutes relative to the fault onset; negative = before")
    account: str = Field(description="key of the spec's accounts")
    region: str | None = Field(default=None, description="default: the spec's region")
    actor: Actor
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> ChangeSpec:
        if self.event not in CHANGE_EVENTS:
            raise ValueError(
                f"unsupported event {self.event!r}; supported: {', '.join(sorted(CHANGE_EVENTS))}"
            )
        _, required, optional = CHANGE_EVENTS[self.event]
        missing = sorted(required - set(self.params))
        unknown = sorted(set(self.params) - required - optional)
        if missing:
            raise ValueError(f"{self.event}: missing params {missing}")
        if unknown:
            raise ValueError(
                f"{self.event}: unknown params {unknown}; allowed: {sorted(required | optional)}"
            )
        return self


# ------------------------------------------------------------------- effects


class MetricEffect(Spec):
    """How the fault or a decoy moves one metric, or the traffic, of a component.

    ``metric`` None targets the component's traffic (every count metric, coupled gauge and
    traffic-coupled log line follows). ``op``: ``scale`` multiplies, ``add`` adds, ``set`` moves to
    ``value``, ``rate`` sets a per-request count's rate. The effect starts ``start_min`` after the
    onset, reaches full strength over ``ramp_min`` and stops at ``end_min`` (None: never).
    """

    component: str
    metric: str | None = None
    dimensions: dict[str, str] | None = None
    op: Literal["scale", "add", "set", "rate"]
    value: float
    start_min: float = 0.0
    ramp_min: float = Field(default=0.0, ge=0)
    end_min: float | None = None
    noise: float | None = Field(default=None, ge=0, le=1, description="gauge noise while active")

    @model_validator(mode="after")
    def _span(self) -> MetricEffect:
        if self.end_min is not None and self.end_min <= self.start_min:
            raise ValueError("end_min must be after start_min")
        if self.metric is None and self.op == "rate":
            raise ValueError("op 'rate' needs a per_request metric, not the traffic")
        return self


class LogEffect(Spec):
    """New log lines (``op: add``, ``text`` at ``per_min`` lines a minute, optionally following
    the traffic) or a change in the volume of normal templates containing ``match``
    (``op: scale`` by ``value``), with the same timing fields as :class:`MetricEffect`."""

    component: str
    group: str | None = None
    op: Literal["add", "scale"] = "add"
    text: str | None = None
    level: Level = "ERROR"
    per_min: float | None = Field(default=None, ge=0)
    follow_traffic: bool = False
    match: str | None = None
    value: float | None = Field(default=None, ge=0)
    start_min: float = 0.0
    ramp_min: float = Field(default=0.0, ge=0)
    end_min: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> LogEffect:
        if self.op == "add":
            if self.text is None or self.per_min is None:
                raise ValueError("op 'add' needs text and per_min")
            if self.match is not None or self.value is not None:
                raise ValueError("op 'add' takes text and per_min, not match/value")
            check_placeholders(self.text)
        else:
            if self.match is None or self.value is None:
                raise ValueError("op 'scale' needs match and value")
            if self.text is not None or self.per_min is not None:
                raise ValueError("op 'scale' takes match and value, not text/per_min")
        if self.end_min is not None and self.end_min <= self.start_min:
            raise ValueError("end_min must be after start_min")
        return self


# ----------------------------------------------------------- fault and decoys


class FaultSpec(Spec):
    """The root cause: component, kind, onset, causal change and signature."""

    component: str
    kind: FaultKind
    onset_min: float = Field(gt=0, description="minutes after the window start")
    description: str = Field(min_length=10)
    change: ChangeSpec | None = Field(default=None, description="the causal change, if any")
    follow_up_changes: list[ChangeSpec] = Field(
        default_factory=list, description="calls that belong to the same action (rotation steps)"
    )
    metrics: list[MetricEffect] = Field(default_factory=list)
    logs: list[LogEffect] = Field(default_factory=list)

    @model_validator(mode="after")
    def _change_first(self) -> FaultSpec:
        if self.change is not None and self.change.at_min >= 0:
            raise ValueError(
                f"fault.change.at_min is {self.change.at_min}: the causal change must precede "
                "the onset (negative minutes)"
            )
        if not (self.metrics or self.logs):
            raise ValueError("the fault needs a signature: metric effects and/or log effects")
        return self


class DecoySpec(Spec):
    """Something genuinely present that an investigator could mistake for the cause."""

    kind: DecoyKind
    description: str = Field(min_length=10)
    changes: list[ChangeSpec] = Field(default_factory=list)
    metrics: list[MetricEffect] = Field(default_factory=list)
    logs: list[LogEffect] = Field(default_factory=list)
    components: list[str] = Field(
        default_factory=list, description="components the decoy is about (documentation)"
    )

    @model_validator(mode="after")
    def _something(self) -> DecoySpec:
        if not (self.changes or self.metrics or self.logs or self.components):
            raise ValueError("a decoy needs changes, effects or the components it is about")
        return self


class GroundTruthSpec(Spec):
    """What evaluation scores against; must agree with the fault."""

    component: str
    fault_kind: FaultKind
    detail: str = Field(min_length=10)


class BackgroundSpec(Spec):
    """Routine CloudTrail traffic: reads and benign writes on resources outside the components
    (so background writes map to no component), per hour."""

    reads_per_hour: float = Field(default=30.0, ge=0, le=600)
    writes_per_hour: float = Field(default=6.0, ge=0, le=120)
    account: str = Field(default="app", description="key of accounts")
    log_groups: list[str] = Field(default_factory=list, description="for CreateLogStream")
    functions: list[str] = Field(default_factory=list, description="unrelated Lambda functions")
    instances: list[str] = Field(default_factory=list, description="EC2 instances (SSM agents)")
    roles: list[str] = Field(default_factory=list, description="roles assumed by services")
    secrets: list[str] = Field(default_factory=list, description="secret ARNs read by services")
    kms_keys: list[str] = Field(default_factory=list, description="KMS key ARNs")
    operators: list[str] = Field(
        default_factory=list, description="SSO session names of engineers (console logins)"
    )


# --------------------------------------------------------------- the spec


class ProfileSpec(Spec):
    """Shared background of one system (``scenarios/specs/profiles/<name>.yaml``)."""

    system: str
    workspace: str
    region: str = "eu-central-1"
    accounts: dict[str, str]
    components: list[ComponentSpec]
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)


class ScenarioSpec(Spec):
    """One incident scenario (``scenarios/specs/<id>.yaml``)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,80}$")
    title: str = Field(min_length=5)
    system: str = Field(min_length=1, description="system label, e.g. connected-vehicle")
    workspace: str = Field(description="file name in scenarios/workspaces/")
    profile: str | None = Field(default=None, description="profile the components came from")
    symptom: str = Field(min_length=10, description="as an on-call engineer would say it")
    seed: int = Field(ge=0, lt=2**63)
    window_start: datetime
    window_min: int = Field(ge=15, le=240)
    region: str = "eu-central-1"
    accounts: dict[str, str]
    components: list[ComponentSpec] = Field(min_length=2)
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)
    fault: FaultSpec
    decoys: list[DecoySpec] = Field(min_length=1)
    ground_truth: GroundTruthSpec

    @field_validator("window_start", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        when = parse_time(value)
        if when.year != 2026:
            raise ValueError(f"window_start {iso(when)}: scenarios use fixed dates in 2026")
        if when.second or when.microsecond:
            raise ValueError(f"window_start {iso(when)}: must be on a whole minute")
        return when

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: dict[str, str]) -> dict[str, str]:
        for key, account in value.items():
            if not _ACCOUNT.match(account):
                raise ValueError(f"account {key!r}: {account!r} is not a 12-digit account id")
        return value

    # ---------------------------------------------------------- derived times
    @property
    def window(self) -> TimeWindow:
        return TimeWindow(
            start=self.window_start, end=self.window_start + timedelta(minutes=self.window_min)
        )

    @property
    def onset(self) -> datetime:
        return self.window_start + timedelta(minutes=self.fault.onset_min)

    @property
    def metrics_start(self) -> datetime:
        return self.window_start - timedelta(minutes=METRICS_LEAD_MIN)

    @property
    def logs_start(self) -> datetime:
        return self.window_start - timedelta(minutes=self.window_min)

    @property
    def trail_start(self) -> datetime:
        return self.window_start - timedelta(minutes=TRAIL_LEAD_MIN)

    def at(self, minutes_from_onset: float) -> datetime:
        """The time ``minutes_from_onset`` minutes after the onset."""
        return self.onset + timedelta(minutes=minutes_from_onset)

    def component(self, name: str) -> ComponentSpec:
        """The component named ``name``.

        Raises:
            ValueError: no such component (the message lists the names).
        """
        for comp in self.components:
            if comp.name == name:
                return comp
        names = ", ".join(c.name for c in self.components)
        raise ValueError(f"no component {name!r} in the spec (components: {names})")

    def all_changes(self) -> list[tuple[str, ChangeSpec]]:
        """Every change with its role: ``causal``, ``follow_up`` or ``decoy``."""
        out: list[tuple[str, ChangeSpec]] = []
        if self.fault.change is not None:
            out.append(("causal", self.fault.change))
        out += [("follow_up", c) for c in self.fault.follow_up_changes]
        out += [("decoy", c) for d in self.decoys for c in d.changes]
        return out

    def all_metric_effects(self) -> list[MetricEffect]:
        return self.fault.metrics + [e for d in self.decoys for e in d.metrics]

    def all_log_effects(self) -> list[LogEffect]:
        return self.fault.logs + [e for d in self.decoys for e in d.logs]

    # ------------------------------------------------------------ validation
    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        names = [c.name for c in self.components]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"components defined twice: {dupes}")
        series = [m.key for c in self.components for m in c.metrics]
        if len(series) != len(set(series)):
            raise ValueError("a metric series (namespace, metric, dimensions) is in two components")
        if not 0 < self.fault.onset_min < self.window_min:
            raise ValueError(
                f"fault.onset_min {self.fault.onset_min} is not inside the "
                f"{self.window_min}-minute window"
            )
        if self.ground_truth.component != self.fault.component:
            raise ValueError(
                f"ground_truth.component {self.ground_truth.component!r} differs from "
                f"fault.component {self.fault.component!r}"
            )
        if self.ground_truth.fault_kind != self.fault.kind:
            raise ValueError(
                f"ground_truth.fault_kind {self.ground_truth.fault_kind!r} differs from "
                f"fault.kind {self.fault.kind!r}"
            )
        self.component(self.fault.component)
        for effect in self.all_metric_effects():
            comp = self.component(effect.component)
            if effect.metric is None:
                if comp.traffic is None:
                    raise ValueError(f"traffic effect on {comp.name!r}, which has no traffic")
                continue
            metric = comp.metric(effect.metric, effect.dimensions)
            if effect.op == "rate" and metric.per_request is None:
                raise ValueError(
                    f"op 'rate' on {comp.name}/{metric.metric}: "
                    "only per_request metrics have a rate"
                )
        for log_effect in self.all_log_effects():
            comp = self.component(log_effect.component)
            group = comp.log_group(log_effect.group)
            if log_effect.op == "scale" and not any(
                log_effect.match in t.text for t in group.templates if log_effect.match
            ):
                raise ValueError(
                    f"log effect on {comp.name}: no template of {group.group} contains "
                    f"{log_effect.match!r}"
                )
        first = -(self.fault.onset_min + TRAIL_LEAD_MIN)
        last = self.window_min - self.fault.onset_min
        for role, change in self.all_changes():
            if change.account not in self.accounts:
                raise ValueError(
                    f"{role} change {change.event}: account {change.account!r} is not one of "
                    f"{sorted(self.accounts)}"
                )
            if not first <= change.at_min < last:
                raise ValueError(
                    f"{role} change {change.event} at_min {change.at_min} lies outside the "
                    f"CloudTrail range [{first:g}, {last:g}) minutes from the onset"
                )
        if self.background.account not in self.accounts:
            raise ValueError(f"background.account {self.background.account!r} is not in accounts")
        return self


# ------------------------------------------------------------------- loading


def _format_errors(exc: ValidationError, limit: int = 6) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ""
        for loc in error.get("loc", ()):
            where += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if where else str(loc))
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where or 'spec'}: {msg}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioSpecError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioSpecError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ScenarioSpecError(f"{path}: expected a mapping at the top level")
    return raw


def load_profile(name: str) -> ProfileSpec:
    """Load ``scenarios/specs/profiles/<name>.yaml``.

    Raises:
        ScenarioSpecError: missing or invalid (the message names the file and the field).
    """
    path = PROFILES_DIR / f"{name}.yaml"
    raw = _read_yaml(path)
    try:
        return ProfileSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioSpecError(f"{path}: {_format_errors(exc)}") from exc


def merge_profile(raw: dict[str, Any], profile: ProfileSpec) -> dict[str, Any]:
    """A spec dict with the profile's values filled in (spec components replace profile
    components of the same name; accounts are merged, the spec's win)."""
    merged = dict(raw)
    merged.setdefault("system", profile.system)
    merged.setdefault("workspace", profile.workspace)
    merged.setdefault("region", profile.region)
    merged["accounts"] = {**profile.accounts, **(raw.get("accounts") or {})}
    if "background" not in raw:
        merged["background"] = profile.background.model_dump()
    own = list(raw.get("components") or [])
    own_names = {c.get("name") for c in own if isinstance(c, dict)}
    merged["components"] = [
        c.model_dump(exclude_defaults=True) for c in profile.components if c.name not in own_names
    ] + own
    return merged


def load_spec(path: Path | str) -> ScenarioSpec:
    """Load and validate a scenario spec (merging its profile).

    Raises:
        ScenarioSpecError: the file is missing, not YAML, or invalid; the message names the file,
            the field path and what is wrong.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if raw.get("profile"):
        profile = load_profile(str(raw["profile"]))
        raw = merge_profile(raw, profile)
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioSpecError(f"{path}: {_format_errors(exc)}") from exc
    if path.suffix in (".yaml", ".yml") and path.stem != spec.id:
        raise ScenarioSpecError(f"{path}: id {spec.id!r} differs from the file name {path.stem!r}")
    return spec


def shipped_specs() -> list[Path]:
    """The shipped scenario specs, sorted by file name."""
    return sorted(SPECS_DIR.glob("*.yaml"))


def fault_kinds() -> tuple[str, ...]:
    """The fault-kind vocabulary (the arguments of :data:`FaultKind`)."""
    return get_args(FaultKind)
