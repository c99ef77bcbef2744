"""Every AWS request the test suite sends passes botocore's service model, including the max
lengths, enums, ranges and patterns botocore's own validator skips."""

from __future__ import annotations

import pytest

from tests.conftest import load_benchmark

vr = load_benchmark("validate_requests")


def _one(service: str, operation: str, params: dict) -> list[str]:
    return vr.validate([{"service": service, "operation": operation, "params": params}]).violations


def test_validator_catches_what_botocore_skips():
    # StartQuery.queryString: max 10,000 characters (botocore does not check max)
    long_query = _one(
        "logs", "StartQuery", {"startTime": 0, "endTime": 1, "queryString": "x" * 10_001}
    )
    assert any("queryString: length 10001 > max 10000" in v for v in long_query)
    # enum
    bad_env = _one(
        "wellarchitected",
        "CreateWorkload",
        {
            "WorkloadName": "abc",
            "Description": "abc",
            "Environment": "PROD",
            "Lenses": ["wellarchitected"],
            "ClientRequestToken": "t",
        },
    )
    assert any("not in enum" in v for v in bad_env)
    # pattern (a log group ARN must look like an ARN or name) and list maximum
    bad_arn = _one(
        "logs",
        "StartQuery",
        {
            "startTime": 0,
            "endTime": 1,
            "queryString": "fields @message",
            "logGroupIdentifiers": ["bad name with spaces!"] * 51,
        },
    )
    assert any("list length 51 > max 50" in v for v in bad_arn)
    assert any("does not match pattern" in v for v in bad_arn)
    # numeric maximum: Converse maxTokens has min 1 and no max, but GetQueryResults... use
    # ListWorkloads.MaxResults (1-50)
    assert any(
        "value 51 > max 50" in v
        for v in _one("wellarchitected", "ListWorkloads", {"MaxResults": 51})
    )
    assert _one("wellarchitected", "ListWorkloads", {"MaxResults": 50}) == []


@pytest.mark.slow
def test_every_request_of_the_test_suite_is_valid(tmp_path):
    files = vr.test_files()
    assert "tests/aws/test_logs_insights.py" in files and "tests/reviews/test_watool.py" in files
    target = tmp_path / "requests.jsonl"
    assert vr.capture(files, target) == 0
    report = vr.validate(vr.load(target))
    assert report.requests > 100
    assert {"logs:StartQuery", "wellarchitected:CreateWorkload", "bedrock-runtime:Converse"} <= set(
        report.operations
    )
    assert report.violations == [], report.violations[:20]
    assert not report.unchecked_patterns
