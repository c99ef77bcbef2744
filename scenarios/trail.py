"""CloudTrail records in the real shape of each API, for the scenario generator: the causal
changes and decoys a spec names, and background read-only and benign write noise."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from scenarios.rand import HEX, UPPER, chars, rng_for, uuid4
from scenarios.spec import CHANGE_EVENTS, TRAIL_LEAD_MIN, Actor, ChangeSpec, ScenarioSpec
from tools.models import iso

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
        self.rng = rng_for(spec.seed, "cloudtrail")

    # ------------------------------------------------------------- identity
    def _role_id(self, role: str, prefix: str = "AROA") -> str:
        return prefix + chars(rng_for(self.spec.seed, "principal", role), UPPER, 17)

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
                + chars(rng_for(self.spec.seed, "key", str(actor.user)), UPPER, 16),
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
            "accessKeyId": "ASIA" + chars(self.rng, UPPER, 16),
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
            "requestID": uuid4(self.rng),
            "eventID": uuid4(self.rng),
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
        return uuid4(self.rng)

    def hex(self, n: int) -> str:
        return chars(self.rng, HEX, n)

    def upper(self, n: int) -> str:
        return chars(self.rng, UPPER, n)

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
    session = chars(t.rng, HEX, 32) if "task" in role else role.removesuffix("-execution-role")
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
                "accessKeyId": "ASIA" + chars(t.rng, UPPER, 16),
                "expiration": _Ctx(t.rng, account, t.spec.region, expires).stamp(),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{t._role_id(f'{account}/{role}')}:{session}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            },
        },
        resources=[{"accountId": account, "type": "AWS::IAM::Role", "ARN": arn}],
        extra={"sharedEventID": uuid4(t.rng)},
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
    stream = f"{when:%Y/%m/%d}/[$LATEST]{chars(t.rng, HEX, 32)}"
    if group.startswith("/aws/codebuild/"):
        stream = uuid4(t.rng)
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
