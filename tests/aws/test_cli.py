"""The rca capture / rca aws commands (registered on a bare typer app)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import aws as aws_cli
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """rca"""

    aws_cli.register(app)
    return app


def test_capture_command_writes_a_bundle(app, chain_bundle: Path, tmp_path: Path, monkeypatch):
    source = Bundle(chain_bundle)
    monkeypatch.setattr(aws_cli, "_sessions", lambda *a: ReplayClients(source))
    w = source.incident.window
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        app,
        [
            "capture",
            "--workspace",
            str(source.workspace_path),
            "--start",
            w.start.isoformat(),
            "--end",
            w.end.isoformat(),
            "--out",
            str(out),
            "--id",
            "cli-capture",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metric_points"] > 0 and Bundle(out).incident.id == "cli-capture"


def test_usage_errors_exit_2(app, tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "capture",
            "--workspace",
            str(tmp_path / "none.json"),
            "--start",
            "2026-01-01T01:00:00Z",
            "--end",
            "2026-01-01T00:00:00Z",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and "invalid window" in result.output


def test_policy_and_schema(app):
    runner = CliRunner()
    policy = json.loads(runner.invoke(app, ["aws", "policy"]).stdout)
    assert any("logs:StartQuery" in s["Action"] for s in policy["Statement"])
    schema = json.loads(runner.invoke(app, ["aws", "schema", "logs"]).stdout)
    assert list(schema["paths"]) == ["/logs"]
    assert runner.invoke(app, ["aws", "schema", "nope"]).exit_code == 2


def test_check_reads_linked_accounts_through_the_monitoring_account(
    app, chain_bundle: Path, monkeypatch
):
    """RCA_CROSS_ACCOUNT=observability and no roles: a source account's log groups are checked
    from the monitoring account by ARN (DescribeLogGroups logGroupIdentifiers)."""
    import boto3
    from botocore.stub import ANY, Stubber

    from tools.aws.session import AwsSessions, Location, RoleConfig

    workspace = json.loads((chain_bundle / "workspace.json").read_text())
    for element in workspace["model"]["softwareSystems"]:
        element.setdefault("properties", {})["rca.account"] = "444455556666"
    path = chain_bundle.parent / "ws-linked.json"
    path.write_text(json.dumps(workspace))
    logs = boto3.client("logs", region_name="eu-central-1")
    asked: list[Location] = []

    class Sessions(AwsSessions):
        def client(self, service: str, location: Location):  # type: ignore[override]
            asked.append(location)
            return logs

    monkeypatch.setenv("RCA_CROSS_ACCOUNT", "observability")
    monkeypatch.setattr(
        aws_cli,
        "_sessions",
        lambda *a: Sessions(
            region="eu-central-1",
            roles=RoleConfig.resolve(environ={"RCA_CROSS_ACCOUNT": "observability"}),
        ),
    )
    stub = Stubber(logs)
    stub.add_response("describe_log_groups", {"logGroups": []}, {"logGroupIdentifiers": ANY})
    with stub:
        result = CliRunner().invoke(app, ["aws", "check", "--workspace", str(path), "--json"])
    rows = json.loads(result.stdout)["locations"]
    linked = [r for r in rows if r["account"] == "444455556666"]
    assert linked and linked[0]["ok"] and linked[0]["missing"]  # nothing found, said per group
    assert asked and all(loc.account is None for loc in asked)


def test_capture_span_source_option(app, chain_bundle: Path, tmp_path: Path, monkeypatch):
    source = Bundle(chain_bundle)
    clients = ReplayClients(source)
    monkeypatch.setattr(aws_cli, "_sessions", lambda *a: clients)
    w = source.incident.window
    base = ["capture", "--workspace", str(source.workspace_path), "--start",
            w.start.isoformat(), "--end", w.end.isoformat()]  # fmt: skip
    bad = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a"), "--span-source", "zipkin"])
    assert bad.exit_code == 2 and "--span-source 'zipkin'" in bad.output
    off = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b"), "--span-source", "none"])
    assert off.exit_code == 0, off.output
    assert clients.log.count("xray") == 0 and "0 spans" in off.stdout
    xray = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "c"), "--span-source", "xray"])
    assert xray.exit_code == 0 and "spans: AWS X-Ray" in xray.stdout
    assert clients.log.count("xray", "GetTraceSummaries") >= 2
