"""CloudWatch Logs ingestion with moto: FilterLogEvents sampling and log-group existence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import boto3
from moto import mock_aws

from tools.aws.log_events import LogEvents, epoch_ms
from tools.aws.logs_insights import LogsInsights

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@mock_aws
def test_sample_keeps_the_first_events_of_each_slice_and_existing_groups():
    logs = boto3.client("logs", region_name="eu-central-1")
    logs.create_log_group(logGroupName="/aws/lambda/cv-bff")
    logs.create_log_stream(logGroupName="/aws/lambda/cv-bff", logStreamName="s1")
    events = [
        {
            "timestamp": int((NOW + timedelta(seconds=10 * i)).timestamp() * 1000),
            "message": f"event {i}",
        }
        for i in range(60)  # 10 minutes, 6 per minute
    ]
    logs.put_log_events(logGroupName="/aws/lambda/cv-bff", logStreamName="s1", logEvents=events)
    reader = LogEvents(logs)
    everything = reader.sample(
        "/aws/lambda/cv-bff", NOW, NOW + timedelta(minutes=10), 1000, slices=2
    )
    assert len(everything.records) == 60 and everything.truncated_slices == 0
    assert everything.records[0].stream == "s1" and everything.records[0].message == "event 0"
    bounded = reader.sample("/aws/lambda/cv-bff", NOW, NOW + timedelta(minutes=10), 10, slices=2)
    assert [r.message for r in bounded.records] == [
        f"event {i}" for i in (0, 1, 2, 3, 4, 30, 31, 32, 33, 34)
    ]
    assert bounded.truncated_slices == 2
    found = LogsInsights(logs).existing_groups(["/aws/lambda/cv-bff", "/aws/lambda/cv"])
    assert found == {"/aws/lambda/cv-bff"}


def test_epoch_ms_is_exact_and_reads_naive_times_as_utc():
    aware = datetime(2026, 3, 17, 16, 0, 0, 999_999, tzinfo=UTC)
    assert epoch_ms(aware) == 1_773_763_200_999  # floored, no float rounding up to ...201_000
    assert epoch_ms(aware.replace(tzinfo=None)) == epoch_ms(aware)
    assert epoch_ms(aware.astimezone(timezone(timedelta(hours=2)))) == epoch_ms(aware)
