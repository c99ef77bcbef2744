"""The tools as AgentCore Gateway Lambda targets: schemas from the pydantic models, and the
Gateway invocation contract (arguments as the event, tool name in the client context)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from tests.aws.conftest import scenario_bundle  # noqa: F401  (fixture)
from tools import handlers
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.gateway import gateway_schema, tool_definitions, tool_name
from tools.telemetry.aws import AwsBackend
from tools.toolbox import TOOLS

SUBSET = {"type", "description", "properties", "required", "items"}


def walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = [schema]
    for child in schema.get("properties", {}).values():
        out += walk(child)
    if "items" in schema:
        out += walk(schema["items"])
    return out


def test_every_tool_has_a_gateway_definition_in_the_schema_subset() -> None:
    definitions = tool_definitions()
    assert [d["name"] for d in definitions] == list(TOOLS)
    for d in definitions:
        spec = TOOLS[d["name"]].spec()
        assert d["description"] == spec["description"]
        for node in walk(d["inputSchema"]):
            assert set(node) <= SUBSET, node
            assert node["type"] in {"object", "array", "string", "integer", "number", "boolean"}
        assert set(d["inputSchema"]["properties"]) == set(spec["input_schema"]["properties"])


def test_optional_fields_enums_and_refs_become_plain_types_with_notes() -> None:
    logs = gateway_schema(TOOLS["logs"].input_model.model_json_schema())
    assert logs["required"] == ["components"]
    window = logs["properties"]["window"]
    assert window["type"] == "object" and set(window["properties"]) == {"start", "end"}
    assert "ISO 8601" in window["properties"]["start"]["description"]
    arch = gateway_schema(TOOLS["architecture"].input_model.model_json_schema())
    assert "one of: downstream, upstream, both" in arch["properties"]["direction"]["description"]
    with pytest.raises(ValueError, match="union"):
        gateway_schema({"anyOf": [{"type": "string"}, {"type": "integer"}]})


def context_for(tool: str | None) -> Any:
    custom = {"bedrockAgentCoreToolName": f"{tool}___{tool}"} if tool else {}
    return SimpleNamespace(
        client_context=SimpleNamespace(custom=custom),
        function_name="rca-tool",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:eu-west-1:111122223333:function:rca-tool",
        aws_request_id="req-1",
    )


@pytest.fixture()
def runtime(scenario_bundle: Path):  # noqa: F811
    bundle = Bundle(scenario_bundle)
    arch = ArchitectureModel.load(bundle.workspace_path)
    backend = AwsBackend(
        arch, ReplayClients(bundle), sleep=lambda _: None, now=lambda: bundle.incident.window.end
    )
    handlers.set_runtime(handlers.Runtime(arch, backend, now=lambda: bundle.incident.window.end))
    yield bundle
    handlers.set_runtime(None)


def test_a_gateway_invocation_runs_the_named_tool(runtime: Bundle) -> None:
    w = runtime.incident.window
    component = runtime.incident.ground_truth.component  # type: ignore[union-attr]
    event = {"components": [component],
             "window": {"start": w.start.isoformat(), "end": w.end.isoformat()}}  # fmt: skip
    reply = handlers.logs(event, context_for("logs"))
    assert reply["tool"] == "logs" and reply["status"] in ("ok", "no_data")
    assert reply["evidence"] and reply["evidence"][0]["id"] == "E1"
    json.dumps(reply)  # plain JSON for the Gateway
    # the combined handler dispatches on the client-context tool name
    assert handlers.handler({"symptom": "checkout fails"}, context_for("architecture"))["tool"] == (
        "architecture"
    )


def test_bad_gateway_arguments_come_back_as_a_readable_error(runtime: Bundle) -> None:
    reply = handlers.metrics({"components": []}, context_for("metrics"))
    assert reply["status"] == "error" and "components" in reply["error"]
    assert tool_name(context_for(None), "changes") == "changes"
    with pytest.raises(ValidationError):
        TOOLS["metrics"].input_model.model_validate({"components": []})
