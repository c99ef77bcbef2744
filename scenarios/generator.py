"""The seeded scenario generator: a scenario spec (:mod:`scenarios.spec`) -> an incident bundle.

``generate(spec, out_dir)`` writes a gzip bundle with :class:`tools.bundle.BundleWriter`:

- **metrics**: 1-minute datapoints of every component series from 6 h before the window to its
  end. Traffic per component follows a cosine daily shape with AR(1) noise; counts (per-minute
  Sums) are Poisson draws of traffic x rate, gauges (Averages, Maximums, percentiles) a level
  coupled to traffic with Gaussian noise. Fault and decoy effects scale, add to, set or re-rate a
  series (or a component's traffic) from a time relative to the onset, with a linear ramp.
- **logs**: from the baseline start (one window length before the window) to the window end,
  rendered from each component's templates (request ids, VINs, user ids, durations, IPs) in the
  log format of its runtime (Node.js or Python Lambda, Spring Boot, Go slog, PostgreSQL, MySQL,
  raw JSON), with fault lines added and normal lines scaled by the effects.
- **CloudTrail**: the causal change, its follow-up calls and the decoy changes as real-shaped
  records (userIdentity, requestParameters and responseElements of each API), plus background
  read-only calls and benign writes (CreateLogStream, SSM agent heartbeats, tagging, console
  logins, AssumeRole, KMS) from 6.5 h before the window.
- **alarms**: state changes whenever a configured alarm's M-of-N condition flips.

Every random draw comes from a numpy ``Generator`` seeded with the spec's seed and a label (per
component, series, log group), so output is byte-identical on re-run and editing one series leaves
the others unchanged. No wall-clock time is used.

Run ``python -m scenarios.generator [--out DIR] [--only ID ...]`` to regenerate the shipped bundles.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import shutil
import sys
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios.spec import (
    BUNDLES_DIR,
    CHANGE_EVENTS,
    METRICS_LEAD_MIN,
    TRAIL_LEAD_MIN,
    WORKSPACES_DIR,
    Actor,
    AlarmDef,
    ChangeSpec,
    ComponentSpec,
    LogGroupDef,
    MetricDef,
    MetricEffect,
    ScenarioSpec,
    ScenarioSpecError,
    load_spec,
    shipped_specs,
)
from tools.bundle import (
    AlarmStateChange,
    BundleWriter,
    GroundTruth,
    IncidentSpec,
    LogRecord,
    MetricPoint,
)
from tools.c4 import ArchitectureModel
from tools.errors import WorkspaceError
from tools.models import iso

GENERATOR = "scenarios.generator/1"

_State = Literal["OK", "ALARM"]

_PLACEHOLDER = re.compile(r"\$\{([a-z]+)(?::([^}]*))?\}")
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEX = "0123456789abcdef"
_PER_LINE = frozenset({"rid", "uuid", "trace", "vin", "user", "ip", "port", "ts", "epoch"})


def _rng(seed: int, *labels: str) -> np.random.Generator:
    """A generator for one concern (labels), independent of every other concern's draws."""
    key = [zlib.crc32(label.encode("utf-8")) for label in labels]
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _chars(rng: np.random.Generator, alphabet: str, n: int) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _progress(rel: np.ndarray, start: float, ramp: float, end: float | None) -> np.ndarray:
    """Effect strength (0..1) per minute; ``rel`` is minutes from the onset."""
    if ramp > 0:
        p = np.clip((rel - start + 1.0) / (ramp + 1.0), 0.0, 1.0)
        p = np.where(rel >= start, p, 0.0)
    else:
        p = (rel >= start).astype(float)
    if end is not None:
        p = np.where(rel < end, p, 0.0)
    return p


def _apply(
    values: np.ndarray, op: str, value: float, p: np.ndarray, traffic: np.ndarray | None
) -> np.ndarray:
    if op == "scale":
        return values * (1.0 + (value - 1.0) * p)
    if op == "add":
        return values + value * p
    if op == "set":
        return values + (value - values) * p
    if traffic is None:  # pragma: no cover - the spec rejects 'rate' without traffic
        raise ScenarioSpecError("op 'rate' needs a per_request metric of a component with traffic")
    return values + (traffic * value - values) * p


# ------------------------------------------------------------------ workspace


def _element_by_name(arch: ArchitectureModel, name: str) -> str | None:
    for element in arch.elements.values():
        if element.name == name:
            return element.id
    return None


def check_against_workspace(spec: ScenarioSpec, arch: ArchitectureModel) -> None:
    """Check that the spec's components, series and log groups are mapped in the workspace.

    Raises:
        ScenarioSpecError: a component is not an element (by exact name), a series matches none of
            its element's ``rca.metrics`` selectors, a log group is not in ``rca.logGroups``, the
            ground truth has no telemetry, or the symptom resolves to no element.
    """
    where = f"scenario {spec.id!r} / workspace {spec.workspace!r}"
    for comp in spec.components:
        eid = _element_by_name(arch, comp.name)
        if eid is None:
            names = ", ".join(sorted(e.name for e in arch.elements.values()))
            raise ScenarioSpecError(
                f"{where}: component {comp.name!r} is no element of the workspace ({names})"
            )
        tele = arch.telemetry(eid)
        for m in comp.metrics:
            if not any(s.matches(m.namespace, m.metric, m.dimensions) for s in tele.metrics):
                raise ScenarioSpecError(
                    f"{where}: {comp.name} series {m.namespace}/{m.metric} {m.dimensions} matches "
                    "none of the element's rca.metrics selectors; add a selector or fix the spec"
                )
        for g in comp.logs:
            if g.group not in tele.log_groups:
                raise ScenarioSpecError(
                    f"{where}: {comp.name} log group {g.group!r} is not in its rca.logGroups "
                    f"({', '.join(tele.log_groups) or 'none'})"
                )
    truth = _element_by_name(arch, spec.ground_truth.component)
    if truth is None or arch.telemetry(truth).empty:
        raise ScenarioSpecError(
            f"{where}: ground truth {spec.ground_truth.component!r} must be an element with "
            "telemetry (rca.logGroups, rca.metrics or rca.resources)"
        )
    if not arch.resolve(spec.symptom):
        raise ScenarioSpecError(
            f"{where}: the symptom {spec.symptom!r} resolves to no element; use words of element "
            "names, aliases or descriptions"
        )


# ----------------------------------------------------------------- log lines


class LineRenderer:
    """Renders log templates: fills ``${...}`` placeholders and adds the runtime's line prefix."""

    def __init__(self, rng: np.random.Generator, vins: Sequence[str], users: Sequence[str]):
        self.rng = rng
        self.vins = vins
        self.users = users
        self._threads = [f"nio-8080-exec-{i}" for i in range(1, 201)]

    def _value(self, name: str, args: str | None, when: datetime) -> str:
        rng = self.rng
        parts = args.split(":") if args else []
        if name in ("rid", "uuid"):
            return _uuid(rng)
        if name == "trace":
            return f"1-{int(when.timestamp()):08x}-{_chars(rng, _HEX, 24)}"
        if name == "vin":
            return self.vins[int(rng.integers(len(self.vins)))]
        if name == "user":
            return self.users[int(rng.integers(len(self.users)))]
        if name == "ip":
            fixed = [p for p in (args or "10.20").split(".") if p]
            rest = [str(int(x)) for x in rng.integers(1, 255, 4 - len(fixed))]
            return ".".join(fixed + rest)
        if name == "port":
            return str(int(rng.integers(32768, 61000)))
        if name == "int":
            return str(int(rng.integers(int(float(parts[0])), int(float(parts[1])) + 1)))
        if name == "ms":
            sigma = float(parts[1]) if len(parts) > 1 else 0.45
            return str(max(1, round(float(parts[0]) * math.exp(sigma * rng.standard_normal()))))
        if name == "float":
            decimals = int(float(parts[2])) if len(parts) > 2 else 2
            return f"{rng.uniform(float(parts[0]), float(parts[1])):.{decimals}f}"
        if name == "hex":
            return _chars(rng, _HEX, int(float(parts[0])))
        if name == "id":
            return parts[0] + _chars(rng, _ID_CHARS, int(float(parts[1])))
        if name == "choice":
            options = (args or "").split("|")
            return options[int(rng.integers(len(options)))]
        if name == "ts":
            return _iso_ms(when)
        if name == "epoch":
            return str(int(when.timestamp()))
        raise ScenarioSpecError(f"unknown placeholder ${{{name}}}")  # pragma: no cover

    def fill(self, text: str, when: datetime, cache: dict[str, str]) -> str:
        def sub(match: re.Match[str]) -> str:
            token, name = match.group(0), match.group(1)
            if name not in _PER_LINE:
                return self._value(name, match.group(2), when)
            if token not in cache:
                cache[token] = self._value(name, match.group(2), when)
            return cache[token]

        return _PLACEHOLDER.sub(sub, text)

    def line(self, fmt: str, text: str, level: str, when: datetime) -> str:
        """One rendered log line in format ``fmt``."""
        cache: dict[str, str] = {}
        body = self.fill(text, when, cache)
        if fmt == "lambda-node":
            rid = cache.get("${rid}") or self.fill("${rid}", when, cache)
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"{_iso_ms(when)}\t{rid}\t{lvl}\t{body}"
        if fmt == "lambda-python":
            rid = cache.get("${rid}") or self.fill("${rid}", when, cache)
            lvl = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
            return f"[{lvl}]\t{_iso_ms(when)}\t{rid}\t{body}"
        if fmt == "spring":
            thread = self._threads[int(self.rng.integers(len(self._threads)))]
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"{_iso_ms(when)} {lvl:>5} 1 --- [{thread:>15}] {body}"
        if fmt == "logfmt":
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"time={_iso_ms(when)} level={lvl} {body}"
        if fmt == "postgres":
            return f"{when:%Y-%m-%d %H:%M:%S} UTC:{body}"
        if fmt == "mysql":
            return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}Z {body}"
        return body


def _iso_ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _streams(rng: np.random.Generator, group: LogGroupDef, when: datetime) -> list[str]:
    base = group.group.rstrip("/").split("/")[-1]
    if group.format.startswith("lambda"):
        return [f"{when:%Y/%m/%d}/[$LATEST]{_chars(rng, _HEX, 32)}" for _ in range(group.streams)]
    if group.format in ("spring", "logfmt"):
        return [f"ecs/{base}/{_chars(rng, _HEX, 32)}" for _ in range(group.streams)]
    if group.format in ("postgres", "mysql"):
        parts = group.group.strip("/").split("/")
        instance = parts[-2] if len(parts) >= 2 else base
        return [instance]
    return [f"{base}-{i}" for i in range(group.streams)]


# ------------------------------------------------------------------ CloudTrail


_CLI_COMMANDS = {
    "ec2.amazonaws.com": "ec2",
    "lambda.amazonaws.com": "lambda",
    "secretsmanager.amazonaws.com": "secretsmanager",
    "route53.amazonaws.com": "route53",
    "dynamodb.amazonaws.com": "dynamodb",
    "rds.amazonaws.com": "rds",
    "ecs.amazonaws.com": "ecs",
    "acm.amazonaws.com": "acm",
    "appconfig.amazonaws.com": "appconfig",
    "monitoring.amazonaws.com": "cloudwatch",
}


def _kebab(name: str) -> str:
    name = re.sub(r"\d{8}(v\d)?$", "", name)
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


@dataclass
class _Call:
    """One API call about to become a CloudTrail record."""

    when: datetime
    source: str
    name: str
    read_only: bool
    account_id: str
    region: str
    actor: Actor
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    resources: list[dict[str, str]] | None = None
    extra: dict[str, Any] | None = None


class TrailBuilder:
    """Builds CloudTrail records with real shapes for the supported events."""

    def __init__(self, spec: ScenarioSpec):
        self.spec = spec
        self.rng = _rng(spec.seed, "cloudtrail")

    # ------------------------------------------------------------- identity
    def _role_id(self, role: str, prefix: str = "AROA") -> str:
        return prefix + _chars(_rng(self.spec.seed, "principal", role), _UPPER, 17)

    def identity(self, actor: Actor, account: str, when: datetime) -> dict[str, Any]:
        if actor.type == "AWSService":
            return {"type": "AWSService", "invokedBy": actor.service}
        if actor.type == "IAMUser":
            return {
                "type": "IAMUser",
                "principalId": self._role_id(f"user/{actor.user}", "AIDA"),
                "arn": f"arn:aws:iam::{account}:user/{actor.user}",
                "accountId": account,
                "accessKeyId": "AKIA"
                + _chars(_rng(self.spec.seed, "key", str(actor.user)), _UPPER, 16),
                "userName": actor.user,
            }
        role, session = str(actor.role), str(actor.session)
        role_id = self._role_id(f"{account}/{role}")
        created = when - timedelta(minutes=int(self.rng.integers(2, 55)))
        return {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": "ASIA" + _chars(self.rng, _UPPER, 16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account}:role{actor.role_path}{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": iso(created),
                    "mfaAuthenticated": "true" if actor.mfa else "false",
                },
            },
        }

    def _agent(self, actor: Actor, source: str, name: str) -> tuple[str, str]:
        """(userAgent, sourceIPAddress) for how the actor made the call."""
        service = source.split(".")[0]
        ip = actor.source_ip
        if actor.via == "service":
            return (actor.service or source, actor.service or source)
        if actor.via == "console":
            return ("AWS Internal", ip or "198.51.100.37")
        if actor.via == "cli":
            cmd = f"{_CLI_COMMANDS.get(source, service)}.{_kebab(name)}"
            return (
                "aws-cli/2.15.40 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 "
                "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard "
                f"md/installer#source md/prompt#off md/command#{cmd}",
                ip or "198.51.100.52",
            )
        if actor.via == "terraform":
            return (
                "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) "
                "terraform-provider-aws/5.46.0 (+https://registry.terraform.io/providers/"
                "hashicorp/aws) aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux "
                f"md/GOARCH#amd64 api/{service}#1.35.0",
                ip or "3.121.84.17",
            )
        return (
            "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.214-223.855.amzn2.x86_64 "
            "md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython "
            "exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.84",
            ip or "3.66.212.140",
        )

    def record(self, call: _Call) -> dict[str, Any]:
        agent, ip = self._agent(call.actor, call.source, call.name)
        host = (
            call.source
            if call.source in ("route53.amazonaws.com", "sts.amazonaws.com")
            else call.source.replace(".amazonaws.com", f".{call.region}.amazonaws.com")
        )
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": self.identity(call.actor, call.account_id, call.when),
            "eventTime": iso(call.when),
            "eventSource": call.source,
            "eventName": call.name,
            "awsRegion": call.region,
            "sourceIPAddress": ip,
            "userAgent": agent,
            "requestParameters": call.request,
            "responseElements": call.response,
            "requestID": _uuid(self.rng),
            "eventID": _uuid(self.rng),
            "readOnly": call.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": call.account_id,
            "eventCategory": "Management",
        }
        if call.resources:
            rec["resources"] = call.resources
        if call.actor.via != "service":
            rec["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host,
            }
        if call.actor.via == "console":
            rec["sessionCredentialFromConsole"] = "true"
        if call.extra:
            rec.update(call.extra)
        return rec

    # -------------------------------------------------------------- changes
    def change(self, change: ChangeSpec) -> dict[str, Any]:
        """The CloudTrail record of one spec change."""
        spec = self.spec
        when = spec.at(change.at_min).replace(microsecond=0)
        account = spec.accounts[change.account]
        source = CHANGE_EVENTS[change.event][0]
        region = change.region or (
            "us-east-1" if source == "route53.amazonaws.com" else spec.region
        )
        ctx = _Ctx(self.rng, account, region, when)
        request, response, resources = _BUILDERS[change.event](change.params, ctx)
        return self.record(
            _Call(
                when=when,
                source=source,
                name=change.event,
                read_only=False,
                account_id=account,
                region=region,
                actor=change.actor,
                request=request,
                response=response,
                resources=resources,
            )
        )

    # ----------------------------------------------------------- background
    def background(self) -> list[dict[str, Any]]:
        """Routine reads and benign writes over the CloudTrail range."""
        spec, bg, rng = self.spec, self.spec.background, self.rng
        account = spec.accounts[bg.account]
        span_min = TRAIL_LEAD_MIN + spec.window_min
        start = spec.trail_start
        kinds_read = [k for k, need in _READS if all(getattr(bg, n) for n in need)]
        kinds_write = [k for k, need in _WRITES if all(getattr(bg, n) for n in need)]
        out = []
        for kinds, rate, read_only in (
            (kinds_read, bg.reads_per_hour, True),
            (kinds_write, bg.writes_per_hour, False),
        ):
            if not kinds or rate <= 0:
                continue
            count = int(rng.poisson(rate * span_min / 60.0))
            offsets = np.sort(rng.uniform(0, span_min * 60.0, count))
            for offset in offsets:
                when = start + timedelta(seconds=int(offset))
                kind = kinds[int(rng.integers(len(kinds)))]
                call = _BACKGROUND[kind](self, account, when)
                call.read_only = read_only
                out.append(self.record(call))
        return out


@dataclass
class _Ctx:
    rng: np.random.Generator
    account: str
    region: str
    when: datetime

    def uuid(self) -> str:
        return _uuid(self.rng)

    def hex(self, n: int) -> str:
        return _chars(self.rng, _HEX, n)

    def upper(self, n: int) -> str:
        return _chars(self.rng, _UPPER, n)

    def stamp(self) -> str:
        """The 'Mar 17, 2026, 4:19:30 PM' style some services put in responseElements."""
        hour = self.when.hour % 12 or 12
        ampm = "AM" if self.when.hour < 12 else "PM"
        return f"{self.when:%b} {self.when.day}, {self.when.year}, {hour}:{self.when:%M:%S} {ampm}"


_Built = tuple[dict[str, Any] | None, dict[str, Any] | None, list[dict[str, str]] | None]


def _sg_permission(p: dict[str, Any]) -> dict[str, Any]:
    port = int(p["port"])
    perm: dict[str, Any] = {
        "ipProtocol": str(p.get("protocol", "tcp")),
        "fromPort": port,
        "toPort": int(p.get("to_port", port)),
        "groups": {},
        "ipRanges": {},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    item: dict[str, Any] = {}
    if p.get("description"):
        item["description"] = str(p["description"])
    if p.get("source_group"):
        perm["groups"] = {"items": [{"groupId": str(p["source_group"]), **item}]}
    elif p.get("cidr"):
        perm["ipRanges"] = {"items": [{"cidrIp": str(p["cidr"]), **item}]}
    return perm


def _revoke_sg(p: dict[str, Any], c: _Ctx) -> _Built:
    request = {"groupId": p["group_id"], "ipPermissions": {"items": [_sg_permission(p)]}}
    return request, {"requestId": c.uuid(), "_return": True}, None


def _authorize_sg(p: dict[str, Any], c: _Ctx) -> _Built:
    perm = _sg_permission(p)
    rule: dict[str, Any] = {
        "groupOwnerId": c.account,
        "groupId": p["group_id"],
        "securityGroupRuleId": p.get("rule_id") or "sgr-0" + c.hex(16),
        "isEgress": False,
        "ipProtocol": perm["ipProtocol"],
        "fromPort": perm["fromPort"],
        "toPort": perm["toPort"],
    }
    if p.get("source_group"):
        rule["referencedGroupInfo"] = {"groupId": p["source_group"], "userId": c.account}
    elif p.get("cidr"):
        rule["cidrIpv4"] = p["cidr"]
    if p.get("description"):
        rule["description"] = p["description"]
    request = {"groupId": p["group_id"], "ipPermissions": {"items": [perm]}}
    response = {
        "requestId": c.uuid(),
        "_return": True,
        "securityGroupRuleSet": {"items": [rule]},
    }
    return request, response, None


def _create_tags(p: dict[str, Any], c: _Ctx) -> _Built:
    tags = [{"key": str(k), "value": str(v)} for k, v in dict(p["tags"]).items()]
    request = {
        "resourcesSet": {"items": [{"resourceId": p["resource_id"]}]},
        "tagSet": {"items": tags},
    }
    return request, {"requestId": c.uuid(), "_return": True}, None


def _fn_name(ref: str) -> str:
    return ref.split(":function:")[-1].split(":")[0] if ":function:" in ref else ref


def _fn_config(p: dict[str, Any], c: _Ctx, version: str = "$LATEST") -> dict[str, Any]:
    name = _fn_name(str(p["function"]))
    arn = f"arn:aws:lambda:{c.region}:{c.account}:function:{name}"
    runtime = str(p.get("runtime", "nodejs20.x"))
    return {
        "functionName": name,
        "functionArn": arn if version == "$LATEST" else f"{arn}:{version}",
        "runtime": runtime,
        "role": f"arn:aws:iam::{c.account}:role/{name}-execution-role",
        "handler": str(p.get("handler", "index.handler")),
        "codeSize": int(c.rng.integers(2_000_000, 9_000_000)),
        "description": str(p.get("description", "")),
        "timeout": int(p.get("timeout", 10)),
        "memorySize": int(p.get("memory", 1024)),
        "lastModified": f"{c.when:%Y-%m-%dT%H:%M:%S}.{int(c.rng.integers(0, 1000)):03d}+0000",
        "codeSha256": base64.b64encode(c.rng.bytes(32)).decode("ascii"),
        "version": version,
        "tracingConfig": {"mode": "Active"},
        "revisionId": c.uuid(),
        "state": "Active",
        "lastUpdateStatus": "InProgress" if version == "$LATEST" else "Successful",
        "packageType": "Zip",
        "architectures": ["arm64"],
        "ephemeralStorage": {"size": 512},
        "loggingConfig": {"logFormat": "Text", "logGroup": f"/aws/lambda/{name}"},
    }


def _update_code(p: dict[str, Any], c: _Ctx) -> _Built:
    name = _fn_name(str(p["function"]))
    request = {
        "functionName": p["function"],
        "s3Bucket": p.get("s3_bucket", f"{c.account}-lambda-artifacts-{c.region}"),
        "s3Key": p.get("s3_key", f"{name}/{c.hex(40)}.zip"),
        "publish": False,
        "dryRun": False,
    }
    return request, _fn_config(p, c), None


def _update_config(p: dict[str, Any], c: _Ctx) -> _Built:
    request: dict[str, Any] = {"functionName": p["function"]}
    for key, field in (("timeout", "timeout"), ("memory", "memorySize"), ("runtime", "runtime")):
        if key in p:
            request[field] = p[key]
    if "handler" in p:
        request["handler"] = p["handler"]
    if "environment_keys" in p:
        request["environment"] = {}  # variable values are not logged
    return request, _fn_config(p, c), None


def _publish_version(p: dict[str, Any], c: _Ctx) -> _Built:
    request = {"functionName": p["function"], "description": p.get("description", "")}
    return request, _fn_config(p, c, version=str(p["version"])), None


def _update_alias(p: dict[str, Any], c: _Ctx) -> _Built:
    name = _fn_name(str(p["function"]))
    arn = f"arn:aws:lambda:{c.region}:{c.account}:function:{name}:{p['alias']}"
    request = {"functionName": p["function"], "name": p["alias"], "functionVersion": p["version"]}
    response = {
        "aliasArn": arn,
        "name": p["alias"],
        "functionVersion": str(p["version"]),
        "description": "",
        "revisionId": c.uuid(),
    }
    return request, response, None


def _put_concurrency(p: dict[str, Any], c: _Ctx) -> _Built:
    n = int(p["reserved"])
    return (
        {"functionName": p["function"], "reservedConcurrentExecutions": n},
        {"reservedConcurrentExecutions": n},
        None,
    )


def _tag_function(p: dict[str, Any], c: _Ctx) -> _Built:
    name = _fn_name(str(p["function"]))
    arn = f"arn:aws:lambda:{c.region}:{c.account}:function:{name}"
    return {"resource": arn, "tags": dict(p["tags"])}, None, None


def _secret_name(arn: str) -> str:
    name = arn.split(":secret:")[-1]
    return re.sub(r"-[A-Za-z0-9]{6}$", "", name)


def _rotate_secret(p: dict[str, Any], c: _Ctx) -> _Built:
    arn = str(p["secret_arn"])
    request: dict[str, Any] = {"secretId": arn, "clientRequestToken": c.uuid()}
    if p.get("rotation_lambda_arn"):
        request["rotationLambdaARN"] = p["rotation_lambda_arn"]
    request["rotateImmediately"] = True
    response = {
        "arn": arn,
        "name": _secret_name(arn),
        "versionId": str(p.get("version_id") or c.uuid()),
    }
    return request, response, None


def _put_secret(p: dict[str, Any], c: _Ctx) -> _Built:
    arn = str(p["secret_arn"])
    version = str(p.get("version_id") or c.uuid())
    stages = list(p.get("stages", ["AWSPENDING"]))
    request = {"secretId": arn, "clientRequestToken": version, "versionStages": stages}
    response = {
        "arn": arn,
        "name": _secret_name(arn),
        "versionId": version,
        "versionStages": stages,
    }
    return request, response, None


def _stage_secret(p: dict[str, Any], c: _Ctx) -> _Built:
    arn = str(p["secret_arn"])
    request = {
        "secretId": arn,
        "versionStage": p["stage"],
        "moveToVersionId": p["move_to_version"],
    }
    if p.get("remove_from_version"):
        request["removeFromVersionId"] = p["remove_from_version"]
    return request, {"arn": arn, "name": _secret_name(arn)}, None


def _change_records(p: dict[str, Any], c: _Ctx) -> _Built:
    rrset: dict[str, Any] = {"name": p["name"], "type": p["type"]}
    if p.get("alias_dns_name"):
        rrset["aliasTarget"] = {
            "hostedZoneId": p.get("alias_zone_id", "Z215JYRZR1TBD5"),
            "dNSName": p["alias_dns_name"],
            "evaluateTargetHealth": False,
        }
    else:
        rrset["tTL"] = int(p.get("ttl", 300))
        rrset["resourceRecords"] = [{"value": str(v)} for v in p.get("values", [])]
    batch: dict[str, Any] = {
        "changes": [{"action": p.get("action", "UPSERT"), "resourceRecordSet": rrset}]
    }
    if p.get("comment"):
        batch["comment"] = p["comment"]
    request = {"hostedZoneId": p["hosted_zone_id"], "changeBatch": batch}
    response = {
        "changeInfo": {
            "id": "/change/C" + c.upper(20),
            "status": "PENDING",
            "submittedAt": c.stamp(),
        }
    }
    return request, response, None


def _update_table(p: dict[str, Any], c: _Ctx) -> _Built:
    table = str(p["table"])
    mode = str(p.get("billing_mode", "PROVISIONED"))
    request: dict[str, Any] = {"tableName": table, "billingMode": mode}
    throughput = {"numberOfDecreasesToday": 0, "readCapacityUnits": 0, "writeCapacityUnits": 0}
    if mode == "PROVISIONED":
        rcu, wcu = int(p.get("rcu", 5)), int(p.get("wcu", 5))
        request["provisionedThroughput"] = {"readCapacityUnits": rcu, "writeCapacityUnits": wcu}
        throughput.update(readCapacityUnits=rcu, writeCapacityUnits=wcu)
    response = {
        "tableDescription": {
            "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
            "tableName": table,
            "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
            "tableStatus": "UPDATING",
            "creationDateTime": "Oct 7, 2024, 9:12:44 AM",
            "provisionedThroughput": throughput,
            "tableSizeBytes": int(p.get("size_bytes", 1_843_000_000)),
            "itemCount": int(p.get("item_count", 2_470_000)),
            "tableArn": f"arn:aws:dynamodb:{c.region}:{c.account}:table/{table}",
            "tableId": c.uuid(),
            "billingModeSummary": {"billingMode": mode},
            "deletionProtectionEnabled": True,
        }
    }
    return request, response, None


def _modify_db(p: dict[str, Any], c: _Ctx) -> _Built:
    db = str(p["db_instance"])
    mods = dict(p.get("modifications", {}))
    request = {
        "dBInstanceIdentifier": db,
        **mods,
        "applyImmediately": bool(p.get("apply_immediately", False)),
    }
    response = {
        "dBInstanceIdentifier": db,
        "dBInstanceClass": p.get("instance_class", "db.r6g.large"),
        "engine": p.get("engine", "postgres"),
        "dBInstanceStatus": "available",
        "dBInstanceArn": f"arn:aws:rds:{c.region}:{c.account}:db:{db}",
        "dbiResourceId": "db-" + c.upper(26),
        "pendingModifiedValues": {},
        "multiAZ": True,
        **mods,
    }
    return request, response, None


def _update_service(p: dict[str, Any], c: _Ctx) -> _Built:
    cluster, service = str(p["cluster"]), str(p["service"])
    prefix = f"arn:aws:ecs:{c.region}:{c.account}"
    request: dict[str, Any] = {"cluster": cluster, "service": service}
    task = None
    if p.get("task_definition"):
        task = f"{prefix}:task-definition/{p['task_definition']}"
        request["taskDefinition"] = p["task_definition"]
    if "desired_count" in p:
        request["desiredCount"] = int(p["desired_count"])
    request["forceNewDeployment"] = bool(p.get("force_new_deployment", False))
    desired = int(p.get("desired_count", 4))
    deployment_id = "ecs-svc/" + "".join(str(int(d)) for d in c.rng.integers(0, 10, 19))
    response = {
        "service": {
            "serviceArn": f"{prefix}:service/{cluster}/{service}",
            "serviceName": service,
            "clusterArn": f"{prefix}:cluster/{cluster}",
            "taskDefinition": task or f"{prefix}:task-definition/{service}",
            "desiredCount": desired,
            "runningCount": desired,
            "pendingCount": 0,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "deployments": [
                {
                    "id": deployment_id,
                    "status": "PRIMARY",
                    "taskDefinition": task or f"{prefix}:task-definition/{service}",
                    "desiredCount": desired,
                    "runningCount": 0,
                    "rolloutState": "IN_PROGRESS",
                    "createdAt": c.stamp(),
                }
            ],
            "deploymentController": {"type": "ECS"},
        }
    }
    return request, response, None


def _import_cert(p: dict[str, Any], c: _Ctx) -> _Built:
    request = {
        "certificateArn": p["certificate_arn"],
        "certificate": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "privateKey": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "certificateChain": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    return request, {"certificateArn": p["certificate_arn"]}, None


def _start_deployment(p: dict[str, Any], c: _Ctx) -> _Built:
    request = {
        "applicationId": p["application_id"],
        "environmentId": p["environment_id"],
        "deploymentStrategyId": p.get("strategy_id", "AppConfig.AllAtOnce"),
        "configurationProfileId": p["profile_id"],
        "configurationVersion": str(p["version"]),
        "description": p.get("description", ""),
    }
    response = {
        **request,
        "deploymentNumber": int(p.get("deployment_number", 1)),
        "configurationName": "feature-flags",
        "configurationLocationUri": "hosted",
        "deploymentDurationInMinutes": 0,
        "growthType": "LINEAR",
        "growthFactor": 100.0,
        "finalBakeTimeInMinutes": 10,
        "state": "DEPLOYING",
        "percentageComplete": 0.0,
        "startedAt": c.stamp(),
    }
    return request, response, None


def _put_alarm(p: dict[str, Any], c: _Ctx) -> _Built:
    dims = [{"name": str(k), "value": str(v)} for k, v in dict(p.get("dimensions", {})).items()]
    request = {
        "alarmName": p["alarm_name"],
        "namespace": p["namespace"],
        "metricName": p["metric"],
        "dimensions": dims,
        "statistic": "Sum",
        "period": 60,
        "evaluationPeriods": int(p.get("periods", 3)),
        "threshold": float(p["threshold"]),
        "comparisonOperator": p.get("comparison", "GreaterThanThreshold"),
        "treatMissingData": "notBreaching",
    }
    return request, None, None


_BUILDERS: dict[str, Callable[[dict[str, Any], _Ctx], _Built]] = {
    "RevokeSecurityGroupIngress": _revoke_sg,
    "AuthorizeSecurityGroupIngress": _authorize_sg,
    "CreateTags": _create_tags,
    "UpdateFunctionCode20150331v2": _update_code,
    "UpdateFunctionConfiguration20150331v2": _update_config,
    "PublishVersion20150331": _publish_version,
    "UpdateAlias20150331": _update_alias,
    "PutFunctionConcurrency20171031": _put_concurrency,
    "TagResource20170331v2": _tag_function,
    "RotateSecret": _rotate_secret,
    "PutSecretValue": _put_secret,
    "UpdateSecretVersionStage": _stage_secret,
    "ChangeResourceRecordSets": _change_records,
    "UpdateTable": _update_table,
    "ModifyDBInstance": _modify_db,
    "UpdateService": _update_service,
    "ImportCertificate": _import_cert,
    "StartDeployment": _start_deployment,
    "PutMetricAlarm": _put_alarm,
}
assert set(_BUILDERS) == set(CHANGE_EVENTS), "every supported change event needs a builder"


# background calls: kind -> (builder); which BackgroundSpec lists a kind needs
def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _svc_actor(role: str, session: str) -> Actor:
    return Actor(type="AssumedRole", role=role, session=session, via="sdk")


def _bg_assume_role(t: TrailBuilder, account: str, when: datetime) -> _Call:
    role = _pick(t.rng, t.spec.background.roles)
    arn = f"arn:aws:iam::{account}:role/{role}"
    service = "ecs-tasks.amazonaws.com" if "task" in role else "lambda.amazonaws.com"
    session = _chars(t.rng, _HEX, 32) if "task" in role else role.removesuffix("-execution-role")
    expires = when + timedelta(hours=1)
    return _Call(
        when=when,
        source="sts.amazonaws.com",
        name="AssumeRole",
        read_only=True,
        account_id=account,
        region=t.spec.region,
        actor=Actor(type="AWSService", service=service, via="service"),
        request={"roleArn": arn, "roleSessionName": session, "durationSeconds": 3600},
        response={
            "credentials": {
                "accessKeyId": "ASIA" + _chars(t.rng, _UPPER, 16),
                "expiration": _Ctx(t.rng, account, t.spec.region, expires).stamp(),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{t._role_id(f'{account}/{role}')}:{session}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            },
        },
        resources=[{"accountId": account, "type": "AWS::IAM::Role", "ARN": arn}],
        extra={"sharedEventID": _uuid(t.rng)},
    )


def _bg_get_secret(t: TrailBuilder, account: str, when: datetime) -> _Call:
    secret = _pick(t.rng, t.spec.background.secrets)
    role = _pick(t.rng, t.spec.background.roles)
    return _Call(
        when=when,
        source="secretsmanager.amazonaws.com",
        name="GetSecretValue",
        read_only=True,
        account_id=account,
        region=t.spec.region,
        actor=_svc_actor(role, role.removesuffix("-execution-role")),
        request={"secretId": secret},
        response=None,
    )


def _bg_decrypt(t: TrailBuilder, account: str, when: datetime) -> _Call:
    key = _pick(t.rng, t.spec.background.kms_keys)
    role = _pick(t.rng, t.spec.background.roles)
    return _Call(
        when=when,
        source="kms.amazonaws.com",
        name=_pick(t.rng, ["Decrypt", "GenerateDataKey"]),
        read_only=True,
        account_id=account,
        region=t.spec.region,
        actor=_svc_actor(role, role.removesuffix("-execution-role")),
        request={"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key},
        response=None,
        resources=[{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}],
    )


def _bg_describe(t: TrailBuilder, account: str, when: datetime) -> _Call:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupSet": {}, "filterSet": {}}),
        ("lambda.amazonaws.com", "ListFunctions20150331", {"maxItems": 50}),
        ("monitoring.amazonaws.com", "DescribeAlarms", {"maxRecords": 100}),
        ("rds.amazonaws.com", "DescribeDBInstances", {"maxRecords": 100}),
        ("ecs.amazonaws.com", "ListClusters", {"maxResults": 100}),
        ("cloudtrail.amazonaws.com", "LookupEvents", {"maxResults": 50}),
    ]
    source, name, request = calls[int(t.rng.integers(len(calls)))]
    operator = t.spec.background.operators
    actor = (
        Actor(
            role="AWSReservedSSO_ReadOnlyAccess_9c1f2e3d4b5a6978",
            role_path="/aws-reserved/sso.amazonaws.com/",
            session=_pick(t.rng, operator),
            via="console",
        )
        if operator and t.rng.random() < 0.5
        else Actor(role="grafana-cloudwatch-reader", session="grafana", via="sdk")
    )
    return _Call(when, source, name, True, account, t.spec.region, actor, request, None)


def _bg_metric_data(t: TrailBuilder, account: str, when: datetime) -> _Call:
    start = when - timedelta(hours=3)
    request = {
        "metricDataQueries": [
            {"id": "q1", "returnData": True, "metricStat": {"period": 60, "stat": "Sum"}}
        ],
        "startTime": _Ctx(t.rng, account, t.spec.region, start).stamp(),
        "endTime": _Ctx(t.rng, account, t.spec.region, when).stamp(),
    }
    actor = Actor(role="grafana-cloudwatch-reader", session="grafana", via="sdk")
    return _Call(
        when,
        "monitoring.amazonaws.com",
        "GetMetricData",
        True,
        account,
        t.spec.region,
        actor,
        request,
        None,
    )


def _bg_log_stream(t: TrailBuilder, account: str, when: datetime) -> _Call:
    group = _pick(t.rng, t.spec.background.log_groups)
    stream = f"{when:%Y/%m/%d}/[$LATEST]{_chars(t.rng, _HEX, 32)}"
    if group.startswith("/aws/codebuild/"):
        stream = _uuid(t.rng)
    role = group.strip("/").split("/")[-1] + "-execution-role"
    return _Call(
        when,
        "logs.amazonaws.com",
        "CreateLogStream",
        False,
        account,
        t.spec.region,
        _svc_actor(role, group.strip("/").split("/")[-1]),
        {"logGroupName": group, "logStreamName": stream},
        None,
    )


def _bg_ssm(t: TrailBuilder, account: str, when: datetime) -> _Call:
    instance = _pick(t.rng, t.spec.background.instances)
    octets = [int(t.rng.integers(0, 60)), int(t.rng.integers(0, 255)), int(t.rng.integers(4, 250))]
    ip = "10." + ".".join(str(o) for o in octets)
    request = {
        "instanceId": instance,
        "agentVersion": "3.3.380.0",
        "agentStatus": "Active",
        "platformType": "Linux",
        "platformName": "Amazon Linux",
        "platformVersion": "2023",
        "iPAddress": ip,
        "computerName": f"ip-{ip.replace('.', '-')}.{t.spec.region}.compute.internal",
        "agentName": "amazon-ssm-agent",
        "availabilityZone": f"{t.spec.region}{_pick(t.rng, ['a', 'b', 'c'])}",
        "sSMConnectionChannel": "ssmmessages",
    }
    actor = Actor(role="AmazonSSMRoleForInstancesQuickSetup", session=instance, via="sdk")
    return _Call(
        when,
        "ssm.amazonaws.com",
        "UpdateInstanceInformation",
        False,
        account,
        t.spec.region,
        actor,
        request,
        None,
    )


def _bg_tag(t: TrailBuilder, account: str, when: datetime) -> _Call:
    function = _pick(t.rng, t.spec.background.functions)
    arn = f"arn:aws:lambda:{t.spec.region}:{account}:function:{function}"
    tags = {
        "cost-center": _pick(t.rng, ["cc-4711", "cc-4712", "cc-5120"]),
        "managed-by": "tag-sync",
    }
    actor = Actor(role="tag-policy-sync", session="tag-sync", via="sdk")
    return _Call(
        when,
        "lambda.amazonaws.com",
        "TagResource20170331v2",
        False,
        account,
        t.spec.region,
        actor,
        {"resource": arn, "tags": tags},
        None,
    )


def _bg_login(t: TrailBuilder, account: str, when: datetime) -> _Call:
    session = _pick(t.rng, t.spec.background.operators)
    actor = Actor(
        role="AWSReservedSSO_ReadOnlyAccess_9c1f2e3d4b5a6978",
        role_path="/aws-reserved/sso.amazonaws.com/",
        session=session,
        via="console",
    )
    return _Call(
        when=when,
        source="signin.amazonaws.com",
        name="ConsoleLogin",
        read_only=False,
        account_id=account,
        region=t.spec.region,
        actor=actor,
        request=None,
        response={"ConsoleLogin": "Success"},
        extra={
            "eventType": "AwsConsoleSignIn",
            "additionalEventData": {
                "MobileVersion": "No",
                "MFAUsed": "No",
                "MFAIdentifier": None,
            },
        },
    )


_BackgroundFn = Callable[[TrailBuilder, str, datetime], _Call]
_BACKGROUND: dict[str, _BackgroundFn] = {
    "assume_role": _bg_assume_role,
    "get_secret": _bg_get_secret,
    "decrypt": _bg_decrypt,
    "describe": _bg_describe,
    "metric_data": _bg_metric_data,
    "log_stream": _bg_log_stream,
    "ssm": _bg_ssm,
    "tag": _bg_tag,
    "login": _bg_login,
}
_READS: list[tuple[str, tuple[str, ...]]] = [
    ("assume_role", ("roles",)),
    ("get_secret", ("secrets", "roles")),
    ("decrypt", ("kms_keys", "roles")),
    ("describe", ()),
    ("metric_data", ()),
]
_WRITES: list[tuple[str, tuple[str, ...]]] = [
    ("log_stream", ("log_groups",)),
    ("ssm", ("instances",)),
    ("ssm", ("instances",)),
    ("tag", ("functions",)),
    ("login", ("operators",)),
]


# ------------------------------------------------------------------ simulation


class Simulation:
    """Generates every telemetry stream of one spec."""

    def __init__(self, spec: ScenarioSpec):
        self.spec = spec
        self.n = METRICS_LEAD_MIN + spec.window_min
        self.times = [spec.metrics_start + timedelta(minutes=i) for i in range(self.n)]
        self.hours = np.array([t.hour + t.minute / 60.0 for t in self.times])
        self.rel = np.arange(self.n, dtype=float) - (METRICS_LEAD_MIN + spec.fault.onset_min)
        self.log_from = METRICS_LEAD_MIN - spec.window_min
        pools = _rng(spec.seed, "pools")
        wmi = ["WBA", "WBA", "WBA", "WBY", "WMW"]
        self.vins = [
            wmi[int(pools.integers(len(wmi)))] + _chars(pools, _VIN_CHARS, 14) for _ in range(2500)
        ]
        self.users = ["u-" + _chars(pools, _ID_CHARS, 10) for _ in range(4000)]
        self.traffic: dict[str, np.ndarray] = {}
        self.values: dict[tuple[str, tuple[Any, ...]], np.ndarray] = {}

    # --------------------------------------------------------------- traffic
    def _traffic(self, comp: ComponentSpec) -> np.ndarray:
        if comp.name in self.traffic:
            return self.traffic[comp.name]
        tr = comp.traffic
        if tr is None:
            flat = np.ones(self.n)
            self.traffic[comp.name] = flat
            return flat
        rng = _rng(self.spec.seed, "traffic", comp.name)
        nominal = tr.rpm * (
            1 + tr.daily_amplitude * np.cos(2 * np.pi * (self.hours - tr.peak_hour) / 24)
        )
        phi = 0.6
        shocks = rng.normal(0.0, tr.noise, self.n) * math.sqrt(1 - phi * phi)
        noise = np.empty(self.n)
        noise[0] = rng.normal(0.0, tr.noise)
        for i in range(1, self.n):
            noise[i] = phi * noise[i - 1] + shocks[i]
        values = nominal * np.clip(1.0 + noise, 0.05, None)
        for effect in self.spec.all_metric_effects():
            if effect.component == comp.name and effect.metric is None:
                p = _progress(self.rel, effect.start_min, effect.ramp_min, effect.end_min)
                values = _apply(values, effect.op, effect.value, p, None)
        values = np.clip(values, 0.0, None)
        self.traffic[comp.name] = values
        return values

    def _ratio(self, comp: ComponentSpec) -> np.ndarray:
        traffic = self._traffic(comp)
        return traffic / comp.traffic.rpm if comp.traffic else traffic

    # --------------------------------------------------------------- metrics
    def _effects_for(self, comp: ComponentSpec, m: MetricDef) -> list[MetricEffect]:
        out = []
        for effect in self.spec.all_metric_effects():
            if effect.component != comp.name or effect.metric != m.metric:
                continue
            dims = effect.dimensions or {}
            if all(m.dimensions.get(k) == v for k, v in dims.items()):
                out.append(effect)
        return out

    def series(self, comp: ComponentSpec, m: MetricDef) -> np.ndarray:
        """The final values of one series (cached: alarms read the same values)."""
        key = (comp.name, m.key)
        if key in self.values:
            return self.values[key]
        rng = _rng(
            self.spec.seed,
            "metric",
            comp.name,
            m.namespace,
            m.metric,
            json.dumps(m.dimensions, sort_keys=True),
        )
        traffic = self._traffic(comp)
        if m.per_request is not None:
            x = traffic * m.per_request
        elif m.per_minute is not None:
            x = np.full(self.n, m.per_minute)
        else:
            level = float(m.level or 0.0)
            if comp.traffic is not None and m.load_coupling:
                x = level * (1 + m.load_coupling * (traffic / comp.traffic.rpm - 1))
            else:
                x = np.full(self.n, level)
        noise = np.full(self.n, m.noise)
        for effect in self._effects_for(comp, m):
            p = _progress(self.rel, effect.start_min, effect.ramp_min, effect.end_min)
            x = _apply(x, effect.op, effect.value, p, traffic)
            if effect.noise is not None:
                noise = noise + (effect.noise - noise) * p
        if m.is_count:
            values = rng.poisson(np.clip(x, 0.0, None)).astype(float)
        else:
            values = x * (1.0 + rng.standard_normal(self.n) * noise)
        if m.min is not None or m.max is not None:
            values = np.clip(values, m.min, m.max)
        values = np.round(values, m.decimals)
        self.values[key] = values
        return values

    def metric_points(self) -> list[MetricPoint]:
        points = []
        for comp in self.spec.components:
            for m in comp.metrics:
                values = self.series(comp, m)
                points += [
                    MetricPoint(
                        timestamp=t,
                        namespace=m.namespace,
                        metric=m.metric,
                        dimensions=m.dimensions,
                        value=float(v),
                        unit=m.unit,
                    )
                    for t, v in zip(self.times, values, strict=True)
                ]
        return points

    # ---------------------------------------------------------------- alarms
    def alarm_changes(self) -> list[AlarmStateChange]:
        out = []
        for comp in self.spec.components:
            for alarm in comp.alarms:
                m = comp.metric(alarm.metric, alarm.dimensions)
                out += self._evaluate(alarm, m, self.series(comp, m))
        return out

    def _evaluate(
        self, alarm: AlarmDef, m: MetricDef, values: np.ndarray
    ) -> list[AlarmStateChange]:
        ops: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], str]] = {
            "GreaterThanThreshold": (np.greater, "greater than"),
            "GreaterThanOrEqualToThreshold": (np.greater_equal, "greater than or equal to"),
            "LessThanThreshold": (np.less, "less than"),
            "LessThanOrEqualToThreshold": (np.less_equal, "less than or equal to"),
        }
        compare, words = ops[alarm.comparison]
        breach = compare(values, alarm.threshold)
        n, m_of = alarm.evaluation_periods, alarm.datapoints
        delay = timedelta(seconds=60 + zlib.crc32(alarm.name.encode()) % 40)
        state: _State = "OK"
        out = []
        for i in range(n - 1, self.n):
            recent = breach[i - n + 1 : i + 1]
            new: _State = "ALARM" if int(recent.sum()) >= m_of else "OK"
            if new == state:
                continue
            idx = list(range(i, i - n, -1))
            shown = [j for j in idx if breach[j]] if new == "ALARM" else [i]
            points = ", ".join(
                f"{values[j]:.1f} ({self.times[j]:%d/%m/%y %H:%M:%S})" for j in shown
            )
            if new == "ALARM":
                reason = (
                    f"Threshold Crossed: {len(shown)} out of the last {n} datapoints [{points}] "
                    f"were {words} the threshold ({alarm.threshold:.1f}) (minimum {m_of} "
                    f"datapoint{'s' if m_of > 1 else ''} for OK -> ALARM transition)."
                )
            else:
                reason = (
                    f"Threshold Crossed: 1 out of the last {n} datapoints [{points}] was not "
                    f"{words} the threshold ({alarm.threshold:.1f}) (minimum 1 datapoint for "
                    "ALARM -> OK transition)."
                )
            out.append(
                AlarmStateChange(
                    alarm_name=alarm.name,
                    timestamp=self.times[i] + delay,
                    old_state=state,
                    new_state=new,
                    reason=reason,
                    namespace=m.namespace,
                    metric=m.metric,
                    dimensions=m.dimensions,
                )
            )
            state = new
        return out

    # ------------------------------------------------------------------ logs
    def log_records(self) -> dict[str, list[LogRecord]]:
        out: dict[str, list[LogRecord]] = {}
        for comp in self.spec.components:
            for group in comp.logs:
                out[group.group] = self._group_records(comp, group)
        return out

    def _group_records(self, comp: ComponentSpec, group: LogGroupDef) -> list[LogRecord]:
        rng = _rng(self.spec.seed, "logs", comp.name, group.group)
        renderer = LineRenderer(rng, self.vins, self.users)
        streams = _streams(rng, group, self.spec.logs_start)
        span = slice(self.log_from, self.n)
        ratio = self._ratio(comp)
        total_weight = sum(t.weight or 0.0 for t in group.templates)
        effects = [
            e
            for e in self.spec.all_log_effects()
            if e.component == comp.name and comp.log_group(e.group).group == group.group
        ]
        planned: list[tuple[str, str, np.ndarray]] = []
        for template in group.templates:
            if template.weight is not None:
                lam = group.lines_per_min * ratio * template.weight / total_weight
            else:
                lam = np.full(self.n, template.per_min or 0.0)
            for e in effects:
                if e.op == "scale" and e.match and e.match in template.text:
                    p = _progress(self.rel, e.start_min, e.ramp_min, e.end_min)
                    lam = lam * (1.0 + (float(e.value or 0.0) - 1.0) * p)
            planned.append((template.text, template.level, rng.poisson(lam[span])))
        for e in effects:
            if e.op != "add":
                continue
            p = _progress(self.rel, e.start_min, e.ramp_min, e.end_min)
            lam = float(e.per_min or 0.0) * p * (ratio if e.follow_traffic else 1.0)
            planned.append((str(e.text), e.level, rng.poisson(lam[span])))
        records = []
        for text, level, counts in planned:
            for j, count in enumerate(counts):
                minute = self.times[self.log_from + j]
                for ms in np.sort(rng.integers(0, 60_000, int(count))):
                    when = minute + timedelta(milliseconds=int(ms))
                    records.append(
                        LogRecord(
                            timestamp=when,
                            message=renderer.line(group.format, text, level, when),
                            stream=streams[int(rng.integers(len(streams)))],
                        )
                    )
        return records


# ------------------------------------------------------------------- bundles


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ScenarioSpecError(f"{out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "incident.yaml").is_file():
            raise ScenarioSpecError(
                f"{out}: exists, is not empty and is not an incident bundle; refusing to replace it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def generate(spec: ScenarioSpec | Path | str, out_dir: Path | str) -> Path:
    """Write the bundle of one scenario to ``out_dir`` (replacing a bundle already there).

    Raises:
        ScenarioSpecError: the spec is invalid or does not fit its workspace, or ``out_dir``
            holds something other than a bundle.
        WorkspaceError: the workspace file cannot be loaded.
    """
    if not isinstance(spec, ScenarioSpec):
        spec = load_spec(spec)
    workspace_path = WORKSPACES_DIR / spec.workspace
    try:
        arch = ArchitectureModel.load(workspace_path)
    except WorkspaceError as exc:
        raise ScenarioSpecError(f"scenario {spec.id!r}: {exc}") from exc
    check_against_workspace(spec, arch)
    workspace = json.loads(workspace_path.read_text(encoding="utf-8"))

    sim = Simulation(spec)
    out = Path(out_dir)
    _prepare(out)
    writer = BundleWriter(out, gzip_files=True)
    writer.add_metrics(sim.metric_points())
    for group, records in sim.log_records().items():
        writer.add_logs(group, records)
    trail = TrailBuilder(spec)
    causal_id: str | None = None
    for role, change in spec.all_changes():
        record = trail.change(change)
        if role == "causal":
            causal_id = record["eventID"]
        writer.add_cloudtrail(record)
    for record in trail.background():
        writer.add_cloudtrail(record)
    for alarm in sim.alarm_changes():
        writer.add_alarm(alarm)

    source: dict[str, Any] = {
        "generator": GENERATOR,
        "spec": f"scenarios/specs/{spec.id}.yaml",
        "seed": spec.seed,
        "system": spec.system,
        "workspace": spec.workspace,
        "fault_onset": iso(spec.onset),
    }
    if causal_id:
        source["causal_event_id"] = causal_id
    incident = IncidentSpec(
        id=spec.id,
        title=spec.title,
        description=spec.symptom,
        window=spec.window,
        ground_truth=GroundTruth(
            component=spec.ground_truth.component,
            fault_kind=spec.ground_truth.fault_kind,
            detail=spec.ground_truth.detail,
        ),
        source=source,
    )
    return writer.write(incident, workspace)


def generate_all(out_root: Path | str = BUNDLES_DIR, only: Sequence[str] = ()) -> list[Path]:
    """Regenerate every shipped scenario (or those whose id is in ``only``) under ``out_root``.

    Raises:
        ScenarioSpecError: a spec is invalid, or ``only`` names an unknown scenario.
    """
    specs = shipped_specs()
    known = {p.stem for p in specs}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ScenarioSpecError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    root = Path(out_root)
    return [generate(p, root / p.stem) for p in specs if not only or p.stem in only]


def bundle_bytes(path: Path) -> int:
    """Total size of the files of a bundle directory."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.generator",
        description="Regenerate the shipped scenario bundles from their specs (deterministic).",
    )
    parser.add_argument("--out", type=Path, default=BUNDLES_DIR, help="output root directory")
    parser.add_argument("--only", action="append", default=[], help="scenario id (repeatable)")
    args = parser.parse_args(argv)
    try:
        paths = generate_all(args.out, args.only)
    except ScenarioSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path} ({bundle_bytes(path) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
