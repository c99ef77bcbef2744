"""rca capture: a window of (replayed) AWS accounts into a redacted, replayable bundle."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import yaml

from agent.factory import open_bundle
from agent.loop import InvestigationLoop
from agent.providers.heuristic import HeuristicProvider
from tests.builders import trail
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle, BundleWriter
from tools.capture import CaptureLimits, capture_incident
from tools.redact import redact_value


def test_capture_writes_a_bundle_that_replays_to_the_same_answer(
    chain_bundle: Path, tmp_path: Path
):
    source = Bundle(chain_bundle)
    out = tmp_path / "captured"
    report = capture_incident(
        source.workspace_path,
        source.incident.window,
        out,
        clients=ReplayClients(source),
        incident_id="captured-chain",
        description=source.incident.description,
        now=lambda: source.incident.window.end,
    )
    captured = Bundle(out)
    captured.validate()
    assert captured.incident.source["captured_from"] == "aws"
    assert set(report.log_groups) == set(source.log_files)
    assert report.metric_points > 0 and report.cloudtrail_records >= 2
    session = open_bundle(out)
    answer = InvestigationLoop(session.context, HeuristicProvider(session.architecture)).run(
        captured.incident.description
    )
    assert answer.answer.hypotheses[0].component == "3"  # Orders API, as on the source
    web = " ".join(r.message for r in captured.log_records("/aws/lambda/web"))
    assert "hunter2" not in web and "[REDACTED:keyword]" in web


def test_capture_bounds_volume_and_notes_sampling(chain_bundle: Path, tmp_path: Path):
    source = Bundle(chain_bundle)
    out = tmp_path / "small"
    report = capture_incident(
        source.workspace_path,
        source.incident.window,
        out,
        clients=ReplayClients(source),
        limits=CaptureLimits(max_events_per_group=120, slices=12, gzip=False),
        now=lambda: source.incident.window.end,
    )
    assert all(g.kept <= 120 for g in report.log_groups.values())
    spec = yaml.safe_load((out / "incident.yaml").read_text())
    sampling = spec["source"]["sampling"]
    assert sampling["max_events_per_group"] == 120 and sampling["slices"] == 12
    assert sampling["groups"]["/aws/lambda/web"]["truncated_slices"] > 0
    assert (out / "logs" / "%2Faws%2Flambda%2Fweb.jsonl").is_file()


def test_cloudtrail_secrets_are_redacted(tmp_path: Path):
    from tests.builders import T0, WINDOW, chain_workspace
    from tools.bundle import IncidentSpec

    root = tmp_path / "src"
    writer = BundleWriter(root)
    writer.add_cloudtrail(
        trail(
            "PutSecretValue",
            T0,
            {
                "secretId": "db",
                "secretString": '{"password": "s3cr3t-value"}',
                "clientToken": "abc",
            },
            source="secretsmanager.amazonaws.com",
        )
    )
    writer.write(IncidentSpec(id="s", description="d", window=WINDOW), chain_workspace())
    out = tmp_path / "out"
    capture_incident(
        root / "workspace.json",
        WINDOW,
        out,
        clients=ReplayClients(Bundle(root)),
        now=lambda: WINDOW.end,
    )
    text = gzip.decompress((out / "cloudtrail.jsonl.gz").read_bytes()).decode()
    assert (
        "s3cr3t-value" not in text
        and "abc" not in json.loads(text)["requestParameters"]["clientToken"]
    )


def test_redact_value_walks_nested_values():
    record = {"a": ["Bearer abcdefghijklmnop"], "b": {"password": "x", "n": 3}, "token": ""}
    assert redact_value(record) == {
        "a": ["Bearer [REDACTED:bearer]"],
        "b": {"password": "[REDACTED:keyword]", "n": 3},
        "token": "",
    }
