"""Small hand-built bundles for unit tests (the shipped scenarios cover realistic data)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.models import Investigation
from tools.bundle import Bundle, BundleWriter, GroundTruth, IncidentSpec, LogRecord, MetricPoint
from tools.models import TimeWindow

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # window start
WINDOW = TimeWindow(start=T0, end=T0 + timedelta(minutes=30))
ONSET = T0 + timedelta(minutes=10)


def element(eid: str, name: str, props: dict[str, Any], rels: list[tuple[str, str]]) -> dict:
    return {
        "id": eid,
        "name": name,
        "description": f"{name} of the shop",
        "technology": "AWS Lambda",
        "tags": "Element,Container",
        "properties": {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()},
        "relationships": [
            {
                "id": f"r{eid}{dest}",
                "sourceId": eid,
                "destinationId": dest,
                "description": desc,
                "technology": "HTTPS",
            }
            for dest, desc in rels
        ],
    }


def chain_workspace() -> dict:
    """User -> Web App -> Orders API -> Orders DB, each with telemetry properties."""

    def lam(name: str) -> list[dict[str, Any]]:
        return [{"namespace": "AWS/Lambda", "dimensions": {"FunctionName": name}}]

    containers = [
        element(
            "2",
            "Web App",
            {"rca.logGroups": "/aws/lambda/web", "rca.metrics": lam("web"), "rca.resources": "web"},
            [("3", "Calls")],
        ),
        element(
            "3",
            "Orders API",
            {
                "rca.logGroups": "/aws/lambda/orders",
                "rca.metrics": lam("orders"),
                "rca.resources": "orders,sg-0orders",
            },
            [("4", "Reads from")],
        ),
        element(
            "4",
            "Orders DB",
            {
                "rca.metrics": [
                    {"namespace": "AWS/RDS", "dimensions": {"DBInstanceIdentifier": "ordersdb"}}
                ],
                "rca.resources": "ordersdb",
            },
            [],
        ),
    ]
    return {
        "id": 1,
        "name": "Shop",
        "description": "test shop",
        "model": {
            "people": [
                {
                    "id": "1",
                    "name": "Shopper",
                    "tags": "Element,Person",
                    "relationships": [
                        {
                            "id": "r12",
                            "sourceId": "1",
                            "destinationId": "2",
                            "description": "Buys with",
                        }
                    ],
                }
            ],
            "softwareSystems": [
                {
                    "id": "10",
                    "name": "Shop System",
                    "tags": "Element,Software System",
                    "containers": containers,
                }
            ],
        },
        "views": {},
    }


def trail(
    name: str,
    when: datetime,
    params: dict[str, Any],
    source: str = "lambda.amazonaws.com",
    eid: str = "0",
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventID": f"00000000-0000-0000-0000-00000000000{eid}",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "readOnly": False,
        "awsRegion": "eu-central-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/deployer/ci",
        },
        "requestParameters": params,
    }


def write_chain_bundle(root: Path, *, fault: bool = True, seed: int = 7) -> Path:
    """A bundle where Orders API breaks after a deployment; Web App sees errors; DB is healthy."""
    rng = random.Random(seed)
    writer = BundleWriter(root)
    start = T0 - timedelta(hours=3)
    minute = start
    while minute < WINDOW.end:
        broken = fault and minute >= ONSET
        for fn, base in (("web", 100.0), ("orders", 80.0)):
            errors = 0.0
            if broken:
                errors = 40.0 if fn == "orders" else 35.0
            writer.add_metric(
                MetricPoint(
                    timestamp=minute,
                    namespace="AWS/Lambda",
                    metric="Invocations",
                    dimensions={"FunctionName": fn},
                    value=base + rng.gauss(0, 3),
                    unit="Count",
                )
            )
            writer.add_metric(
                MetricPoint(
                    timestamp=minute,
                    namespace="AWS/Lambda",
                    metric="Errors",
                    dimensions={"FunctionName": fn},
                    value=errors + rng.choice([0, 0, 1]),
                    unit="Count",
                )
            )
        writer.add_metric(
            MetricPoint(
                timestamp=minute,
                namespace="AWS/RDS",
                metric="CPUUtilization",
                dimensions={"DBInstanceIdentifier": "ordersdb"},
                value=20 + rng.gauss(0, 1),
                unit="Percent",
            )
        )
        if minute >= WINDOW.previous().start:
            for i in range(4):
                t = minute + timedelta(seconds=15 * i)
                writer.add_log(
                    "/aws/lambda/web",
                    LogRecord(
                        timestamp=t,
                        message=f"GET /cart/{rng.randint(1, 9999)} 200 {rng.randint(5, 90)} ms",
                    ),
                )
                writer.add_log(
                    "/aws/lambda/orders",
                    LogRecord(
                        timestamp=t,
                        message=f"order {rng.randint(1000, 9999)} stored in {rng.randint(2, 30)} ms",
                    ),
                )
                if broken:
                    writer.add_log(
                        "/aws/lambda/orders",
                        LogRecord(
                            timestamp=t,
                            message=f"ERROR TypeError: cannot read property 'sku' of undefined at handler.js:{rng.randint(40, 42)}",
                        ),
                    )
                    writer.add_log(
                        "/aws/lambda/web",
                        LogRecord(
                            timestamp=t + timedelta(seconds=2),
                            message=f"ERROR upstream orders returned 502 for request {rng.randint(1, 9999)} password=hunter2{rng.randint(1, 9)}",
                        ),
                    )
        minute += timedelta(minutes=1)
    writer.add_cloudtrail(
        trail(
            "UpdateFunctionCode20150331v2",
            ONSET - timedelta(minutes=4),
            {"functionName": "orders"},
            eid="1",
        )
    )
    writer.add_cloudtrail(
        trail(
            "ModifyDBInstance",
            T0 - timedelta(hours=2, minutes=30),
            {"dBInstanceIdentifier": "ordersdb"},
            source="rds.amazonaws.com",
            eid="2",
        )
    )
    writer.add_cloudtrail(
        trail(
            "CreateLogStream",
            T0 + timedelta(minutes=1),
            {"logGroupName": "/other"},
            source="logs.amazonaws.com",
            eid="3",
        )
    )
    incident = IncidentSpec(
        id="chain-deploy",
        description="Shoppers get errors when they check out in the web app",
        window=WINDOW,
        ground_truth=GroundTruth(component="Orders API", fault_kind="deployment"),
    )
    return writer.write(incident, chain_workspace())


def investigate(path: Path, question: str | None = None) -> Investigation:
    """The first turn of a heuristic investigation of the bundle at ``path``, started through
    :class:`agent.service.InvestigationService` (the question defaults to the bundle's
    description; the session goes to the per-test ``RCA_HOME``)."""
    from agent.service import BundleSource, InvestigationService
    from agent.sessions import SqliteSessionStore

    question = question or Bundle(path).incident.description
    service = InvestigationService(SqliteSessionStore())
    return service.start(None, question, BundleSource(path=str(path))).turns[0]


def one_question_lens(lens: Any, question: Any) -> Any:
    """``lens`` (a :class:`lenses.catalog.Lens`) cut to one Reliability ``question``."""
    from lenses.catalog import Lens, Pillar

    return Lens(
        alias=lens.alias,
        name=lens.name,
        description="",
        version=lens.version,
        pillars=[Pillar(id="reliability", name="Reliability", questions=[question])],
    )
