"""CloudWatch wrapper: metrics with moto, alarm history and batching with Stubber."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.aws.conftest import client
from tools.aws.cloudwatch import CloudWatchMetrics, MetricId, choose_period
from tools.aws.errors import AccessDeniedError

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(hours=2)


@mock_aws
def test_list_and_get_metric_data_with_moto():
    cw = boto3.client("cloudwatch", region_name="eu-central-1")
    for minute in range(120):
        when = START + timedelta(minutes=minute)
        cw.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "bff"}],
                    "Timestamp": when,
                    "Value": 5.0 if minute >= 100 else 0.0,
                    "Unit": "Count",
                },
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "FunctionName", "Value": "bff"}],
                    "Timestamp": when,
                    "Value": 100.0,
                    "Unit": "Count",
                },
                {
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "other"}],
                    "Timestamp": when,
                    "Value": 1.0,
                    "Unit": "Count",
                },
            ],
        )
    metrics = CloudWatchMetrics(cw, now=lambda: NOW)
    found = metrics.list_metrics("AWS/Lambda", dimensions={"FunctionName": "bff"})
    assert [(m.metric, m.dimensions) for m in found] == [
        ("Errors", {"FunctionName": "bff"}),
        ("Invocations", {"FunctionName": "bff"}),
    ]
    data = metrics.get_metric_data([(m, "Sum") for m in found], START, START + timedelta(hours=2))
    errors = data[0]
    assert errors.period_s == 60 and len(errors.timestamps) == 120
    assert errors.timestamps == sorted(errors.timestamps)
    assert errors.values[-1] == 5.0 and errors.values[0] == 0.0


def test_get_metric_data_exact_request_and_next_token():
    cw = client("cloudwatch")
    stub = Stubber(cw)
    mid = MetricId(namespace="AWS/Lambda", metric="Errors", dimensions={"FunctionName": "bff"})
    query = {
        "Id": "m0",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "bff"}],
            },
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }
    band = {"Id": "b0", "Expression": "ANOMALY_DETECTION_BAND(m0, 2)", "ReturnData": True}
    expected = {
        "MetricDataQueries": [query, band],
        "StartTime": START,
        "EndTime": START + timedelta(hours=1),
        "ScanBy": "TimestampAscending",
    }
    t = [START + timedelta(minutes=i) for i in range(4)]
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {"Id": "m0", "Timestamps": t[:2], "Values": [1.0, 2.0], "StatusCode": "PartialData"}
            ],
            "NextToken": "n1",
        },
        expected,
    )
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {"Id": "m0", "Timestamps": t[2:], "Values": [3.0, 4.0], "StatusCode": "Complete"},
                {"Id": "b0", "Timestamps": t[:1], "Values": [2.5], "StatusCode": "Complete"},
            ]
        },
        {**expected, "NextToken": "n1"},
    )
    with stub:
        [data] = CloudWatchMetrics(cw, now=lambda: NOW).get_metric_data(
            [(mid, "Sum")], START, START + timedelta(hours=1), anomaly_band_stddev=2
        )
        stub.assert_no_pending_responses()
    assert data.values == [1.0, 2.0, 3.0, 4.0] and data.timestamps == t
    assert data.band_values == [2.5] and data.status == "Complete"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def get_metric_data(self, **kw):
        self.calls.append(kw)
        return {
            "MetricDataResults": [
                {"Id": q["Id"], "Timestamps": [], "Values": []} for q in kw["MetricDataQueries"]
            ]
        }


def test_get_metric_data_batches_at_most_500_queries_and_100800_points():
    rec = Recorder()
    metrics = [(MetricId(namespace="N", metric=f"M{i}"), "Average") for i in range(1200)]
    out = CloudWatchMetrics(rec, now=lambda: NOW).get_metric_data(
        metrics, START, START + timedelta(hours=1)
    )
    assert [len(c["MetricDataQueries"]) for c in rec.calls] == [500, 500, 200]
    assert len(out) == 1200 and out[-1].metric.metric == "M1199"
    rec = Recorder()  # 24 h at 60 s = 1440 points/series -> at most 70 series per call
    CloudWatchMetrics(rec, now=lambda: NOW).get_metric_data(
        metrics[:100], NOW - timedelta(days=1), NOW
    )
    assert [len(c["MetricDataQueries"]) for c in rec.calls] == [70, 30]


@pytest.mark.parametrize(
    ("age", "span", "period"),
    [
        (timedelta(hours=2), timedelta(hours=4), 60),
        (timedelta(days=2), timedelta(days=2), 120),
        (timedelta(days=20), timedelta(hours=1), 300),
        (timedelta(days=100), timedelta(hours=1), 3600),
    ],
)
def test_choose_period_respects_points_and_retention(age, span, period):
    start = NOW - age
    assert choose_period(start, start + span, NOW) == period


def test_alarm_history_parses_history_data_and_describes_the_metric():
    cw = client("cloudwatch")
    stub = Stubber(cw)
    fired = START + timedelta(minutes=26)
    history = {
        "version": "1.0",
        "oldState": {"stateValue": "OK", "stateReason": "ok"},
        "newState": {
            "stateValue": "ALARM",
            "stateReason": "Threshold Crossed: 3 datapoints > 3000",
        },
    }
    stub.add_response(
        "describe_alarm_history",
        {
            "AlarmHistoryItems": [
                {
                    "AlarmName": "bff-duration",
                    "AlarmType": "MetricAlarm",
                    "Timestamp": fired,
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": "Alarm updated from OK to ALARM",
                    "HistoryData": json.dumps(history),
                },
                {
                    "AlarmName": "broken",
                    "Timestamp": fired,
                    "HistoryItemType": "StateUpdate",
                    "HistoryData": "not json",
                },
            ],
            "NextToken": "p2",
        },
        {
            "HistoryItemType": "StateUpdate",
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            "StartDate": START,
            "EndDate": START + timedelta(hours=1),
            "ScanBy": "TimestampAscending",
            "MaxRecords": 100,
        },
    )
    stub.add_response(
        "describe_alarm_history",
        {
            "AlarmHistoryItems": [
                {
                    "AlarmName": "math",
                    "Timestamp": fired + timedelta(minutes=1),
                    "HistoryItemType": "StateUpdate",
                    "HistoryData": json.dumps(
                        {"oldState": {"stateValue": "ALARM"}, "newState": {"stateValue": "OK"}}
                    ),
                },
            ]
        },
        {
            "HistoryItemType": "StateUpdate",
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            "StartDate": START,
            "EndDate": START + timedelta(hours=1),
            "ScanBy": "TimestampAscending",
            "MaxRecords": 100,
            "NextToken": "p2",
        },
    )
    stub.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [
                {
                    "AlarmName": "bff-duration",
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Duration",
                    "Dimensions": [{"Name": "FunctionName", "Value": "bff"}],
                },
                {
                    "AlarmName": "math",
                    "Metrics": [
                        {"Id": "e1", "Expression": "m1/m2"},
                        {
                            "Id": "m1",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/ApiGateway",
                                    "MetricName": "5XXError",
                                    "Dimensions": [{"Name": "ApiName", "Value": "api"}],
                                },
                                "Period": 60,
                                "Stat": "Sum",
                            },
                        },
                    ],
                },
            ]
        },
        {"AlarmNames": ["bff-duration", "math"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
    )
    with stub:
        changes = CloudWatchMetrics(cw).alarm_history(START, START + timedelta(hours=1))
        stub.assert_no_pending_responses()
    assert [(c.alarm_name, c.old_state, c.new_state) for c in changes] == [
        ("bff-duration", "OK", "ALARM"),
        ("math", "ALARM", "OK"),
    ]
    assert changes[0].metric == "Duration" and changes[0].dimensions == {"FunctionName": "bff"}
    assert changes[0].reason.startswith("Threshold Crossed")
    assert changes[1].namespace == "AWS/ApiGateway"


def test_access_denied_names_the_permission():
    cw = client("cloudwatch")
    stub = Stubber(cw)
    stub.add_client_error(
        "list_metrics",
        "AccessDenied",
        "not authorized",
        expected_params={"Namespace": "AWS/Lambda"},
    )
    with stub, pytest.raises(AccessDeniedError, match="cloudwatch:ListMetrics"):
        CloudWatchMetrics(cw).list_metrics("AWS/Lambda")
