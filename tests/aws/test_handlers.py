"""Lambda handlers: Bedrock Agent events in, action-group responses out; the OpenAPI schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.aws.conftest import event
from tools import handlers
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.context import ToolResult
from tools.models import Evidence
from tools.telemetry.aws import AwsBackend
from tools.toolbox import TOOLS


@pytest.fixture()
def runtime(scenario_bundle: Path):
    bundle = Bundle(scenario_bundle)
    arch = ArchitectureModel.load(bundle.workspace_path)
    backend = AwsBackend(
        arch, ReplayClients(bundle), sleep=lambda _: None, now=lambda: bundle.incident.window.end
    )
    handlers.set_runtime(handlers.Runtime(arch, backend))
    yield bundle
    handlers.set_runtime(None)


def body_of(response: dict) -> dict:
    """The JSON inside the body's untrusted-data block (validation errors come back bare)."""
    text = response["response"]["responseBody"]["application/json"]["body"]
    match = re.fullmatch(r"<untrusted-data-([0-9a-f]+)>\n(.*)\n</untrusted-data-\1>", text, re.S)
    return json.loads(match.group(2) if match else text)


def window_attributes(bundle: Bundle) -> dict[str, str]:
    w = bundle.incident.window
    return {"rcaWindowStart": w.start.isoformat(), "rcaWindowEnd": w.end.isoformat()}


@pytest.mark.parametrize("tool", ["architecture", "logs", "metrics", "changes", "traces"])
def test_each_handler_answers_its_fixture(runtime: Bundle, tool: str):
    ev = event(f"bedrock_{tool}")
    ev["sessionAttributes"].update(window_attributes(runtime))
    if (
        tool in ("logs", "metrics")
        and (runtime.root / "workspace.json").read_text().count("cv-bff") == 0
    ):
        pytest.skip("fixtures name demo components")
    response = getattr(handlers, tool)(ev, None)
    assert response["messageVersion"] == "1.0"
    assert response["response"]["apiPath"] == f"/{tool}"
    assert response["response"]["actionGroup"] == "rca-tools"
    assert response["response"]["httpStatusCode"] == 200
    body = body_of(response)
    assert body["tool"] == tool and body["status"] in ("ok", "no_data")
    assert len(json.dumps(response).encode()) <= handlers.DEFAULT_MAX_RESPONSE_BYTES
    offset = int(ev["sessionAttributes"].get("rcaEvidenceCount", "0"))
    ids = [e["id"] for e in body["evidence"]]
    assert ids == [f"E{offset + i + 1}" for i in range(len(ids))]
    # ids stay unique across calls even when the body had to leave some evidence out
    assert int(response["sessionAttributes"]["rcaEvidenceCount"]) >= offset + len(ids)


def test_the_combined_handler_dispatches_on_api_path(runtime: Bundle):
    ev = event("bedrock_architecture")
    assert body_of(handlers.handler(ev, None))["tool"] == "architecture"


def test_invalid_request_is_a_422_naming_the_field(runtime: Bundle):
    response = handlers.logs(event("bedrock_logs_invalid"), None)
    assert response["response"]["httpStatusCode"] == 422
    assert "components" in response["response"]["responseBody"]["application/json"]["body"]


def test_window_defaults_to_the_last_hour_without_session_attributes(runtime: Bundle):
    ev = event("bedrock_architecture")
    ev["sessionAttributes"] = {}
    rt = handlers.get_runtime()
    ctx = rt.context({})
    assert ctx.window.seconds == 3600 and ctx.baseline == ctx.window.previous()
    assert handlers.architecture(ev, None)["response"]["httpStatusCode"] == 200


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (
            "[Backend-for-Frontend, Remote Vehicle Management API]",
            "array",
            ["Backend-for-Frontend", "Remote Vehicle Management API"],
        ),
        ('["a", "b"]', "array", ["a", "b"]),
        ("360", "integer", 360),
        (
            "{start=2026-03-17T16:00:00Z, end=2026-03-17T17:00:00Z}",
            "object",
            {"start": "2026-03-17T16:00:00Z", "end": "2026-03-17T17:00:00Z"},
        ),
        ('{"start": "x"}', "object", {"start": "x"}),
        ("[1, 2]", "string", "[1, 2]"),
    ],
)
def test_bedrock_property_values_are_coerced(value, kind, expected):
    assert handlers._coerce(value, kind) == expected


def test_large_results_are_cut_to_fit():
    evidence = [
        Evidence(
            id=f"E{i}",
            tool="logs",
            kind="log_pattern",
            summary="x" * 500,
            searched="s" * 900,
            samples=["y" * 400] * 3,
        )
        for i in range(1, 60)
    ]
    result = ToolResult(
        tool="logs", status="ok", summary="z" * 3000, evidence=evidence, data={"big": "d" * 50_000}
    )
    payload = handlers.fit(result, 20_000)
    assert len(json.dumps(payload)) <= 20_000
    assert payload["data"] == {"omitted": "data left out to fit the agent's response size limit"}
    assert payload["evidence"][0]["id"] == "E1"


def test_openapi_schema_names_the_same_tools_and_fields():
    schema = json.loads(handlers.openapi_schema())
    assert schema["openapi"].startswith("3.0")
    operations = {path: ops["post"] for path, ops in schema["paths"].items()}
    assert {op["operationId"] for op in operations.values()} == set(TOOLS)
    components = schema["components"]["schemas"]
    for name, tool in TOOLS.items():
        op = operations[f"/{name}"]
        assert op["description"] == tool.description
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        model_schema = components[ref.rsplit("/", 1)[-1]]
        assert set(model_schema["properties"]) == set(tool.input_model.model_fields)
        assert set(model_schema.get("required", [])) == {
            f for f, info in tool.input_model.model_fields.items() if info.is_required()
        }
    single = json.loads(handlers.openapi_schema(["changes"]))
    assert list(single["paths"]) == ["/changes"]


def test_workspace_from_s3(tmp_path: Path, scenario_bundle: Path):
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(
            Bucket="rca-config", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        s3.put_object(
            Bucket="rca-config",
            Key="prod/workspace.json",
            Body=(scenario_bundle / "workspace.json").read_bytes(),
        )
        arch = handlers.load_workspace("s3://rca-config/prod/workspace.json", s3=s3)
        assert arch.elements
        from tools.errors import WorkspaceError

        with pytest.raises(WorkspaceError, match="GetObject"):
            handlers.load_workspace("s3://rca-config/missing.json", s3=s3)


def test_misconfiguration_comes_back_as_a_readable_error(monkeypatch, tmp_path: Path):
    handlers.set_runtime(None)
    monkeypatch.setenv("RCA_WORKSPACE", str(tmp_path / "missing.json"))
    try:
        body = body_of(handlers.architecture(event("bedrock_architecture"), None))
    finally:
        handlers.set_runtime(None)
    assert body["status"] == "error" and "workspace file not found" in body["error"]


def test_response_budget_counts_the_escaped_body_and_envelope(runtime: Bundle, monkeypatch):
    """A body full of quotes and non-ASCII grows when escaped: the whole Lambda response, not
    the raw body, stays within the budget; the body is sanitised and wrapped."""
    noisy = ToolResult(
        tool="logs",
        status="ok",
        summary='"quoted" \u00e9\u00e8 <untrusted-data-0000> \u200b' * 200,
        evidence=[
            Evidence(
                id=f"E{i}", tool="logs", kind="log_pattern", summary='"x" \u00e9' * 300, searched="s"
            )
            for i in range(1, 40)
        ],
    )
    monkeypatch.setattr(handlers, "run_tool", lambda ctx, name, body: noisy)
    response = handlers.logs(event("bedrock_logs"), None)
    assert len(json.dumps(response).encode()) <= handlers.DEFAULT_MAX_RESPONSE_BYTES
    text = response["response"]["responseBody"]["application/json"]["body"]
    assert text.startswith("<untrusted-data-") and text.rstrip().endswith(">")
    body = body_of(response)
    assert "<untrusted-data-0000>" not in body["summary"] and "\u200b" not in body["summary"]


def test_action_group_schema_has_no_enum():
    text = handlers.openapi_schema()
    assert '"enum"' not in text
    assert "Allowed values:" in text
