"""The RCA tools as Amazon Bedrock AgentCore Gateway Lambda targets.

Tool definitions (:func:`tool_definition`) come from the same pydantic input models as the
Converse tool specs (:data:`tools.toolbox.TOOLS`), reduced to the schema subset a Gateway
``ToolDefinition`` accepts: ``type``, ``description``, ``properties``, ``required``, ``items``
(AgentCore developer guide, "Lambda function tool schema"). ``$ref`` is inlined, an optional
field (``anyOf [X, null]``) becomes ``X`` and not required, and enums, bounds and formats that
the subset cannot express move into the field description so the model still sees them.

Invocation contract (AgentCore developer guide, "Lambda function input format"): the event is
the tool's arguments object itself; the tool name arrives in
``context.client_context.custom["bedrockAgentCoreToolName"]`` as ``<target>___<tool>``; the
function returns JSON. :func:`call` runs the tool and returns the fitted
:class:`~tools.context.ToolResult` JSON.
"""

from __future__ import annotations

from typing import Any

from tools.toolbox import TOOLS, Tool

TOOL_NAME_KEY = "bedrockAgentCoreToolName"
TARGET_SEPARATOR = "___"


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        merged = {**defs[name], **{k: v for k, v in schema.items() if k != "$ref"}}
        return _resolve(merged, defs)
    return schema


def _notes(schema: dict[str, Any]) -> list[str]:
    notes = []
    if "enum" in schema:
        notes.append("one of: " + ", ".join(str(v) for v in schema["enum"]))
    if schema.get("format") == "date-time":
        notes.append("ISO 8601 UTC timestamp")
    for key, label in (("minimum", "min"), ("maximum", "max"), ("minItems", "min items"),
                       ("maxItems", "max items"), ("maxLength", "max length")):  # fmt: skip
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if schema.get("default") is not None:
        notes.append(f"default {schema['default']}")
    return notes


def gateway_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON schema (pydantic ``model_json_schema`` output) as a Gateway ``SchemaDefinition``.

    Raises:
        ValueError: a construct the subset cannot express (a union of two non-null types).
    """
    defs = defs if defs is not None else schema.get("$defs", {})
    schema = _resolve(schema, defs)
    description = schema.get("description", "")
    if "anyOf" in schema:
        options = [_resolve(o, defs) for o in schema["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express a union of {len(options)} types in a tool schema")
        inner = {**options[0], "description": description or options[0].get("description", "")}
        if "default" in schema:
            inner["default"] = schema["default"]
        return gateway_schema(inner, defs)
    out: dict[str, Any] = {"type": schema.get("type", "string")}
    text = "; ".join(p for p in [description, *_notes(schema)] if p)
    if text:
        out["description"] = text
    if out["type"] == "object":
        props = schema.get("properties", {})
        out["properties"] = {name: gateway_schema(p, defs) for name, p in props.items()}
        if schema.get("required"):
            out["required"] = list(schema["required"])
    if out["type"] == "array":
        out["items"] = gateway_schema(schema.get("items", {"type": "string"}), defs)
    return out


def tool_definition(tool: Tool) -> dict[str, Any]:
    """``{"name", "description", "inputSchema"}`` of one tool (Gateway ``ToolDefinition``)."""
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": gateway_schema(tool.input_model.model_json_schema()),
    }


def tool_definitions() -> list[dict[str, Any]]:
    """The definitions of every registered tool, in registry order."""
    return [tool_definition(t) for t in TOOLS.values()]


def tool_name(context: Any, default: str | None = None) -> str | None:
    """The tool a Gateway invocation names (target prefix stripped), else ``default``."""
    client = getattr(context, "client_context", None)
    custom = getattr(client, "custom", None) or {}
    full = custom.get(TOOL_NAME_KEY) if isinstance(custom, dict) else None
    if not full:
        return default
    return str(full).split(TARGET_SEPARATOR, 1)[-1]


def is_gateway_event(event: Any) -> bool:
    """True unless the event is a Bedrock Agents (Classic) action-group event."""
    return not (isinstance(event, dict) and "actionGroup" in event and "apiPath" in event)
