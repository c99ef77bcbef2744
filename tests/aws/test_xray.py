"""X-Ray service graph: observed edges as service-name pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.stub import Stubber

from tests.aws.conftest import client
from tools.aws.xray import XRayServiceGraph

START = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)


def test_edges_are_named_pairs_across_pages():
    xray = client("xray")
    stub = Stubber(xray)
    window = {"StartTime": START, "EndTime": START + timedelta(hours=1)}
    stub.add_response(
        "get_service_graph",
        {
            "Services": [
                {
                    "ReferenceId": 1,
                    "Name": "cv-bff",
                    "Edges": [{"ReferenceId": 2}, {"ReferenceId": 3}],
                },
                {"ReferenceId": 2, "Name": "remote-vehicle-api", "Edges": []},
            ],
            "NextToken": "n",
        },
        window,
    )
    stub.add_response(
        "get_service_graph",
        {"Services": [{"ReferenceId": 3, "Name": "cv-auth-service", "Edges": []}]},
        {**window, "NextToken": "n"},
    )
    with stub:
        edges = XRayServiceGraph(xray).edges(START, START + timedelta(hours=1))
    assert edges == [("cv-bff", "cv-auth-service"), ("cv-bff", "remote-vehicle-api")]
