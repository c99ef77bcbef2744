"""The AWS telemetry source of the service: an ``s3://`` workspace (moto S3), reopened by another
service instance, its read errors, and the accounts / Regions a source may read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from agent.service import AwsSource, InvestigationService
from agent.sessions import SqliteSessionStore
from tests.aws.conftest import client
from tests.builders import chain_workspace
from tools.aws.replay import ReplayClients
from tools.aws.session import Location
from tools.bundle import Bundle
from tools.errors import RcaError, WorkspaceError
from tools.workspace import load_workspace

BUCKET, KEY = "rca-config", "prod/workspace.json"
URI = f"s3://{BUCKET}/{KEY}"


def _bucket(body: bytes | None = None) -> Any:
    s3 = boto3.client("s3", region_name="eu-central-1")
    s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    return s3


@mock_aws
def test_investigation_on_s3_workspace_is_reopened_by_another_service(
    chain_bundle: Path, tmp_path: Path
) -> None:
    bundle = Bundle(chain_bundle)
    s3 = _bucket(bundle.workspace_path.read_bytes())
    source = AwsSource(workspace=URI, regions=["eu-central-1"])
    db = tmp_path / "sessions.db"
    window = bundle.incident.window

    first = InvestigationService(SqliteSessionStore(db), clients=ReplayClients(bundle))
    record = first.start("C1/1700000000.1", bundle.incident.description, source, window=window)
    answer = record.turns[0].answer
    assert answer is not None and answer.hypotheses
    assert record.source["workspace"] == URI  # the stored source names the S3 object
    assert first.view(record).hypotheses  # display names come from the S3 workspace
    first_ids = [e.id for e in record.turns[0].evidence]
    assert first_ids

    # "another process": a new service over the same store, with nothing in memory
    replay = ReplayClients(bundle)
    second = InvestigationService(SqliteSessionStore(db), clients=replay)
    again = second.follow_up("C1/1700000000.1", "check the top component again")
    assert len(again.turns) == 2 and again.turns[-1].answer is not None
    ids = [e.id for e in again.turns[-1].evidence]
    assert ids[: len(first_ids)] == first_ids  # earlier evidence kept, numbering continues
    assert second.get("C1/1700000000.1").turns[-1].question == "check the top component again"

    # the reopened session really reads the workspace from S3: without the object it fails
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    with pytest.raises(WorkspaceError, match="no such S3 object"):
        second.follow_up("C1/1700000000.1", "and now?")
    assert len(second.get("C1/1700000000.1").turns) == 2


@mock_aws
def test_s3_workspace_errors_are_one_clear_line(tmp_path: Path) -> None:
    s3 = _bucket(b"this is not JSON")
    with pytest.raises(
        WorkspaceError, match=r"s3://rca-config/prod/workspace.json: not valid JSON"
    ):
        load_workspace(URI, s3=s3)
    with pytest.raises(WorkspaceError, match=r"s3://rca-config/missing.json: no such S3 object"):
        load_workspace(f"s3://{BUCKET}/missing.json", s3=s3)
    with pytest.raises(WorkspaceError, match=r"no such S3 object .*NoSuchBucket"):
        load_workspace("s3://no-such-bucket/ws.json", s3=s3)
    with pytest.raises(WorkspaceError, match="give the workspace as s3://bucket/key"):
        load_workspace("s3://rca-config/", s3=s3)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(chain_workspace()).encode())
    size = len(json.dumps(chain_workspace()).encode())
    with pytest.raises(WorkspaceError, match=f"{size:,} bytes is over the 100-byte"):
        load_workspace(URI, s3=s3, max_bytes=100)
    assert load_workspace(URI, s3=s3, max_bytes=size).get("Orders API").id == "3"
    # without a client of its own the loader builds one with the project's factory
    assert load_workspace(URI).get("Orders API").id == "3"
    local = tmp_path / "ws.json"
    local.write_text(json.dumps(chain_workspace()), encoding="utf-8")
    assert load_workspace(str(local)).get("Web App").id == "2"


def test_s3_access_denied_names_the_permission() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "get_object",
            service_error_code="AccessDenied",
            service_message="Access Denied",
            http_status_code=403,
            expected_params={"Bucket": BUCKET, "Key": KEY},
        )
        with pytest.raises(WorkspaceError) as info:
            load_workspace(URI, s3=s3)
    message = str(info.value)
    assert message.startswith(URI) and "AccessDenied" in message and "s3:GetObject" in message
    assert "\n" not in message


def _mapped_workspace(tmp_path: Path) -> str:
    """The chain workspace with the Orders API in account 222233334444, Region eu-west-1."""
    workspace = chain_workspace()
    for container in workspace["model"]["softwareSystems"][0]["containers"]:
        if container["name"] == "Orders API":
            container["properties"].update(
                {"rca.account": "222233334444", "rca.region": "eu-west-1"}
            )
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(workspace), encoding="utf-8")
    return str(path)


@mock_aws
def test_accounts_and_regions_decide_what_is_read(tmp_path: Path) -> None:
    service = InvestigationService(SqliteSessionStore(tmp_path / "s.db"))
    workspace = _mapped_workspace(tmp_path)

    setup = service.open(
        AwsSource(
            workspace=workspace, accounts=["222233334444"], regions=["us-east-1", "eu-west-1"]
        )
    )
    backend: Any = setup.context.backend
    web, orders = backend.location_of("2"), backend.location_of("3")
    assert web == Location(None, None) and orders == Location("222233334444", "eu-west-1")
    # an element without rca.region is read in the first listed Region, not AWS_DEFAULT_REGION
    assert backend.clients("logs", web).meta.region_name == "us-east-1"
    assert backend.clients("logs", orders).meta.region_name == "eu-west-1"
    assert setup.source["accounts"] == ["222233334444"]

    with pytest.raises(RcaError, match="'Orders API' is mapped to account 222233334444"):
        service.open(AwsSource(workspace=workspace, accounts=["111122223333"]))
    with pytest.raises(RcaError, match="'Orders API' is mapped to Region eu-west-1"):
        service.open(AwsSource(workspace=workspace, regions=["eu-central-1"]))
    # empty lists allow any account and Region (the default Region then is AWS_DEFAULT_REGION)
    open_setup: Any = service.open(AwsSource(workspace=workspace)).context.backend
    assert open_setup.clients("logs", web).meta.region_name == "eu-central-1"


@mock_aws
def test_cli_ask_with_a_missing_s3_workspace_is_one_line() -> None:
    from typer.testing import CliRunner

    from cli.main import app

    _bucket()
    args = ["ask", "checkout fails", "--aws", "--workspace", f"s3://{BUCKET}/nope.json"]
    result = CliRunner().invoke(app, [*args, "--region", "eu-central-1"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: s3://{BUCKET}/nope.json: no such S3 object (S3 GetObject NoSuchKey); "
        "check the bucket and key"
    ], result.output
    assert "Traceback" not in result.output
