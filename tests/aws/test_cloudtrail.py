"""CloudTrail wrapper: exact LookupEvents requests, pagination, rate limit, record parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from tests.aws.conftest import client
from tests.builders import trail
from tools.aws.cloudtrail import CloudTrailLookup, RateLimiter
from tools.aws.errors import ThrottledError

START = datetime(2026, 3, 17, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=7)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def event(name: str, when: datetime, eid: str) -> dict:
    raw = trail(
        name, when, {"groupId": "sg-0c4f8a2e91b7d3650"}, source="ec2.amazonaws.com", eid=eid
    )
    return {
        "EventId": raw["eventID"],
        "EventName": name,
        "EventTime": when,
        "ReadOnly": "false",
        "EventSource": "ec2.amazonaws.com",
        "CloudTrailEvent": json.dumps(raw),
    }


def request(token: str | None = None) -> dict:
    base = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": START,
        "EndTime": END,
        "MaxResults": 50,
    }
    return {**base, "NextToken": token} if token else base


def test_write_events_one_attribute_paginated_rate_limited_and_parsed():
    ct = client("cloudtrail")
    stub = Stubber(ct)
    late, early = START + timedelta(hours=6), START + timedelta(hours=1)
    stub.add_response(
        "lookup_events",
        {"Events": [event("RevokeSecurityGroupIngress", late, "1")], "NextToken": "t1"},
        request(),
    )
    stub.add_response(
        "lookup_events",
        {
            "Events": [
                event("AuthorizeSecurityGroupIngress", early, "2"),
                {"EventId": "bad", "CloudTrailEvent": "{oops"},
            ],
            "NextToken": "t2",
        },
        request("t1"),
    )
    stub.add_response("lookup_events", {"Events": []}, request("t2"))
    t = FakeTime()
    lookup = CloudTrailLookup(ct, limiter=RateLimiter(2.0, clock=t.clock, sleep=t.sleep))
    with stub:
        records = lookup.write_events(START, END)
        stub.assert_no_pending_responses()
    assert [r.eventName for r in records] == [
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
    ]
    assert records[1].raw["requestParameters"] == {"groupId": "sg-0c4f8a2e91b7d3650"}
    assert records[1].actor.startswith("arn:aws:sts::111122223333:assumed-role/")
    assert t.waits == [0.5, 0.5] and lookup.calls == 3 and not lookup.truncated


def test_max_pages_marks_the_lookup_truncated():
    ct = client("cloudtrail")
    stub = Stubber(ct)
    stub.add_response(
        "lookup_events", {"Events": [event("PutRule", START, "1")], "NextToken": "t1"}, request()
    )
    stub.add_response(
        "lookup_events",
        {"Events": [event("PutRule", START, "2")], "NextToken": "t2"},
        request("t1"),
    )
    t = FakeTime()
    lookup = CloudTrailLookup(ct, limiter=RateLimiter(clock=t.clock, sleep=t.sleep), max_pages=2)
    with stub:
        assert len(lookup.write_events(START, END)) == 2
    assert lookup.truncated


def test_rate_limiter_spaces_calls_at_two_per_second_across_threads():
    t = FakeTime()
    limiter = RateLimiter(2.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        limiter.acquire()
    assert t.now == pytest.approx(102.0)  # 5 calls: 0, .5, 1, 1.5, 2 s
    t.now += 10
    assert limiter.acquire() == 0.0  # idle time is not banked as a burst beyond one call


def test_throttling_is_translated():
    ct = client("cloudtrail")
    stub = Stubber(ct)
    stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded")
    t = FakeTime()
    with stub, pytest.raises(ThrottledError, match="LookupEvents"):
        CloudTrailLookup(ct, limiter=RateLimiter(clock=t.clock, sleep=t.sleep)).write_events(
            START, END
        )
