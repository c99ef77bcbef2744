"""Alarm-started investigations: a real-shaped CloudWatch alarm state-change event goes to the
alarm handler, which investigates the mapped component and posts to a fake Slack Web API."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from slack_sdk import WebClient

from agent.alarms import AlarmEvent, map_component, question_for, window_for
from agent.runtime import RuntimeSettings
from agent.service import InvestigationService
from agent.sessions import SqliteSessionStore
from slackbot.alarms import handle
from tests.slackbot.fake_slack import BOT_TOKEN, FakeSlack
from tools.c4 import ArchitectureModel

BUNDLE = Path(__file__).resolve().parents[2] / "scenarios" / "bundles" / "checkout-order-db-pool"


def alarm_event(record: dict[str, Any], account: str = "284913657720") -> dict[str, Any]:
    """The EventBridge event CloudWatch emits for one alarm state change (shape of the
    CloudWatch user guide's "Alarm events and EventBridge" example), from a bundle alarm."""
    ts = record["timestamp"].replace("Z", ".000+0000")
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": record["timestamp"],
        "region": "eu-west-1",
        "resources": [f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:{record['alarm_name']}"],
        "detail": {
            "alarmName": record["alarm_name"],
            "configuration": {
                "description": "Order API p99 latency above 2 s for 3 minutes",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": record["dimensions"],
                                "name": record["metric"],
                                "namespace": record["namespace"],
                            },
                            "period": 60,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {
                "reason": "Threshold Crossed: no datapoints were received",
                "timestamp": ts,
                "value": record["old_state"],
            },
            "state": {
                "reason": record["reason"],
                "reasonData": json.dumps({"version": "1.0", "queryDate": ts}),
                "timestamp": ts,
                "value": record["new_state"],
            },
        },
    }


@pytest.fixture(scope="module")
def first_alarm() -> dict[str, Any]:
    with gzip.open(BUNDLE / "alarms.jsonl.gz", "rt") as fh:
        return json.loads(fh.readline())


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def settings() -> RuntimeSettings:
    return RuntimeSettings(bundle=str(BUNDLE), provider="heuristic")


def test_the_event_maps_to_the_component_whose_telemetry_it_watches(
    first_alarm: dict[str, Any],
) -> None:
    alarm = AlarmEvent.model_validate(alarm_event(first_alarm))
    arch = ArchitectureModel.load(BUNDLE / "workspace.json")
    element, how = map_component(arch, alarm)
    assert element is not None and element.name == "Order Service"
    assert "rca." in how
    question = question_for(alarm, element)
    assert "shop-orders-latency-high" in question and "Order Service" in question
    assert "AWS/ApplicationELB/TargetResponseTime" in question
    window = window_for(alarm)
    assert window.start.isoformat() == "2026-06-18T17:42:00+00:00"
    assert window.end.isoformat() == "2026-06-18T18:44:00+00:00"


def test_an_alarm_event_posts_an_investigation_of_the_mapped_component(
    first_alarm: dict[str, Any], fake: FakeSlack, tmp_path: Path
) -> None:
    service = InvestigationService(SqliteSessionStore(tmp_path / "rca.db"))
    slack = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    kwargs: dict[str, Any] = {
        "service": service,
        "settings": settings(),
        "slack": slack,
        "channels": {"Order Service": "C0ORDERS1"},
        "default_channel": "C0DEFAULT1",
    }
    result = handle(alarm_event(first_alarm), **kwargs)
    assert result["status"] == "posted"
    assert result["channel"] == "C0ORDERS1" and result["component"] == "Order Service"
    posts = [p for m, p in fake.calls if m == "chat.postMessage"]
    assert len(posts) == 1 and posts[0]["channel"] == "C0ORDERS1"
    text = json.dumps(posts[0]["blocks"])
    assert "Root-cause hypotheses" in text or "Partial answer" in text
    assert "shop-orders-latency-high" in text
    record = service.get(result["session"])
    turn = record.turns[-1]
    assert "Order Service" in turn.question and turn.answer is not None
    # the investigation really looked at the Order Service's telemetry
    assert any("Order Service" in (e.component or "") or "order" in e.summary.lower()
               for e in turn.evidence)  # fmt: skip
    # a redelivered event does not post twice
    again = handle(alarm_event(first_alarm), **kwargs)
    assert again["status"] == "duplicate"
    assert len([m for m, _ in fake.calls if m == "chat.postMessage"]) == 1


def test_ok_transitions_and_untagged_alarms_are_skipped(
    first_alarm: dict[str, Any], fake: FakeSlack, tmp_path: Path
) -> None:
    service = InvestigationService(SqliteSessionStore(tmp_path / "rca.db"))
    slack = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    ok = alarm_event({**first_alarm, "new_state": "OK", "old_state": "ALARM"})
    common: dict[str, Any] = {"service": service, "settings": settings(), "slack": slack,
                              "channels": {}, "default_channel": "C0DEFAULT1"}  # fmt: skip
    assert handle(ok, **common)["status"] == "skipped"
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    arn = f"arn:aws:cloudwatch:eu-west-1:284913657720:alarm:{first_alarm['alarm_name']}"
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "list_tags_for_resource",
            {"Tags": [{"Key": "team", "Value": "orders"}]},
            {"ResourceARN": arn},
        )
        result = handle(alarm_event(first_alarm), tag="rca=on", cloudwatch=cloudwatch, **common)
        stub.assert_no_pending_responses()
    assert result["status"] == "skipped" and "rca=on" in result["reason"]
    assert not [m for m, _ in fake.calls if m == "chat.postMessage"]
