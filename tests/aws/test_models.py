"""Model choice without a hard-coded id: order of sources, run-time resolution through the
Bedrock catalog (exact requests, Stubber), one-line error translations, `rca aws models`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from typer.testing import CliRunner

from cli.main import app
from tools.aws.errors import translate_model
from tools.aws.models import (
    CACHE_POINT,
    ModelCatalog,
    add_cache_points,
    cache_checkpoints,
    cache_rates,
    output_limit,
    prompt_caching,
    resolve_model,
    supports_forced_tool,
    supports_tool_status,
    token_usage,
)
from tools.errors import ModelError

ARN = "arn:aws:bedrock:{region}::foundation-model/{model}"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"


def summary(model: str, status: str = "ACTIVE", types: list[str] | None = None) -> dict[str, Any]:
    return {
        "modelArn": ARN.format(region="eu-central-1", model=model),
        "modelId": model,
        "modelName": model,
        "providerName": "Anthropic",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "inferenceTypesSupported": types or ["INFERENCE_PROFILE"],
        "modelLifecycle": {"status": status},
    }


def profile(prefix: str, model: str) -> dict[str, Any]:
    return {
        "inferenceProfileName": f"{prefix} {model}",
        "inferenceProfileArn": f"arn:aws:bedrock:eu-central-1:123456789012:inference-profile/{prefix}.{model}",
        "inferenceProfileId": f"{prefix}.{model}",
        "models": [
            {"modelArn": ARN.format(region=r, model=model)} for r in ("eu-central-1", "eu-west-1")
        ],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def catalog_client(stubs: int = 1) -> tuple[Any, Stubber]:
    client = boto3.client("bedrock", region_name="eu-central-1")
    stub = Stubber(client)
    for _ in range(stubs):
        stub.add_response(
            "list_foundation_models",
            {
                "modelSummaries": [
                    summary(SONNET_35, "LEGACY", ["ON_DEMAND"]),
                    summary(SONNET_4),
                    summary(SONNET_45),
                    summary(SONNET_37),  # no profile and no on-demand: not invocable
                    summary("anthropic.claude-sonnet-4-9-20990101-v1:0", "LEGACY"),
                ]
            },
            {"byOutputModality": "TEXT"},
        )
        stub.add_response(
            "list_inference_profiles",
            {
                "inferenceProfileSummaries": [
                    profile("global", SONNET_45),
                    profile("us", SONNET_4),
                ],
                "nextToken": "page2",
            },
            {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000},
        )
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": [profile("eu", SONNET_45), profile("eu", SONNET_4)]},
            {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000, "nextToken": "page2"},
        )
    return client, stub


def test_newest_active_model_of_the_family_through_the_regions_profile():
    client, stub = catalog_client()
    with stub:
        chosen = resolve_model(catalog_client=client, environ={})
        stub.assert_no_pending_responses()
    # newest ACTIVE (the 2099 one is LEGACY), through eu. (the Region's geography) not global.
    assert chosen == f"eu.{SONNET_45}"


def test_usable_lists_profiles_and_skips_what_cannot_be_invoked():
    client, stub = catalog_client()
    with stub:
        found = ModelCatalog(client).usable("anthropic.claude", include_legacy=True)
    ids = [m.invoke_id for m in found]
    assert f"us.{SONNET_37}" not in ids and SONNET_37 not in ids  # neither profile nor on demand
    assert SONNET_35 in ids  # LEGACY but on demand, listed only with include_legacy
    assert ids.index(f"eu.{SONNET_45}") < ids.index(f"eu.{SONNET_4}")


def test_explicit_then_env_then_config_file_before_any_call(tmp_path):
    config = tmp_path / "rca.yaml"
    config.write_text("model_id: from-file\nrole_arn_template: arn:aws:iam::{account}:role/r\n")
    env = {"RCA_AWS_CONFIG": str(config), "RCA_MODEL_ID": "from-env"}
    unused = object()  # a catalog call would fail on it
    assert resolve_model("from-flag", catalog_client=unused, environ=env) == "from-flag"
    assert resolve_model(None, catalog_client=unused, environ=env) == "from-env"
    assert (
        resolve_model(None, catalog_client=unused, environ={"RCA_AWS_CONFIG": str(config)})
        == "from-file"
    )
    # the role config of the same file still loads (model keys are not role settings)
    from tools.aws.session import RoleConfig

    assert RoleConfig.resolve(config_file=config, environ={}).role_arn_template


def test_no_usable_model_is_one_line():
    client = boto3.client("bedrock", region_name="eu-central-1")
    with Stubber(client) as stub:
        stub.add_response(
            "list_foundation_models", {"modelSummaries": []}, {"byOutputModality": "TEXT"}
        )
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": []},
            {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000},
        )
        with pytest.raises(ModelError, match="rca aws models"):
            resolve_model(catalog_client=client, environ={})


@pytest.mark.parametrize(
    ("code", "message", "says"),
    [
        (
            "ValidationException",
            "The provided model identifier is invalid.",
            "not a valid model identifier",
        ),
        (
            "ValidationException",
            "Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with on-demand "
            "throughput isn\u2019t supported. Retry your request with the ID or ARN of an "
            "inference profile that contains this model.",
            "--model-id us.",
        ),
        (
            "ResourceNotFoundException",
            "This model version has reached the end of its life.",
            "legacy / end of life",
        ),
        (
            "ResourceNotFoundException",
            "Access denied. This Model is marked by provider as Legacy and you have not been "
            "actively using the model in the last 15 days.",
            "legacy / end of life",
        ),
    ],
)
def test_model_errors_become_one_line_of_advice(code, message, says):
    exc = ClientError({"Error": {"Code": code, "Message": message}}, "Converse")
    error = translate_model(exc, SONNET_4, "eu-central-1")
    text = str(error)
    assert says in text and "\n" not in text and SONNET_4 in text


def test_family_capabilities_and_output_limits():
    assert output_limit(SONNET_35) == 4096
    assert output_limit(f"eu.{SONNET_45}") == 64000
    assert output_limit("arn:aws:bedrock:eu-central-1::foundation-model/" + SONNET_35) == 4096
    assert output_limit("cohere.command-r-v1:0") == 4096
    assert supports_tool_status(f"global.{SONNET_45}") and supports_forced_tool(
        "amazon.nova-pro-v1:0"
    )
    assert not supports_tool_status("meta.llama3-3-70b-instruct-v1:0")
    assert not supports_forced_tool("mistral.mistral-large-2407-v1:0")


def test_rca_aws_models_lists_and_marks_the_default(monkeypatch):
    client, stub = catalog_client()
    monkeypatch.setattr("tools.aws.session.make_client", lambda *a, **k: client)
    monkeypatch.delenv("RCA_MODEL_ID", raising=False)
    with stub:
        result = CliRunner().invoke(app, ["aws", "models", "--region", "eu-central-1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"* eu.{SONNET_45}")
    assert any(f"eu.{SONNET_4}" in line for line in lines)


def test_released_date_orders_before_id_stamp():
    client = boto3.client("bedrock", region_name="eu-central-1")
    older = {
        **summary("amazon.nova-pro-v1:0", types=["ON_DEMAND"]),
        "modelLifecycle": {
            "status": "ACTIVE",
            "startOfLifeTime": datetime(2024, 12, 3, tzinfo=UTC),
        },
    }
    newer = {
        **summary("amazon.nova-premier-v1:0", types=["ON_DEMAND"]),
        "modelLifecycle": {
            "status": "ACTIVE",
            "startOfLifeTime": datetime(2025, 4, 30, tzinfo=UTC),
        },
    }
    with Stubber(client) as stub:
        stub.add_response(
            "list_foundation_models",
            {"modelSummaries": [older, newer]},
            {"byOutputModality": "TEXT"},
        )
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": []},
            {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000},
        )
        assert ModelCatalog(client).newest("amazon.nova").invoke_id == "amazon.nova-premier-v1:0"


def test_a_built_client_resolves_once_per_process(monkeypatch):
    import tools.aws.models as models

    client, stub = catalog_client()  # one set of responses: a second lookup would fail
    monkeypatch.setattr(models, "_RESOLVED", {})
    monkeypatch.setattr("tools.aws.session.make_client", lambda *a, **k: client)
    with stub:
        first = resolve_model(region="eu-central-1", environ={})
        again = resolve_model(region="eu-central-1", environ={})
        stub.assert_no_pending_responses()
    assert first == again == f"eu.{SONNET_45}"


@pytest.mark.parametrize(
    ("model", "minimum", "tools"),
    [
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", 1024, True),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 2048, True),
        (SONNET_4, 1024, True),
        ("global." + SONNET_45, 4096, True),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", 1024, True),
        ("anthropic.claude-opus-4-5-20251101-v1:0", 4096, True),
        ("apac.anthropic.claude-haiku-4-5-20251001-v1:0", 4096, True),
        ("us.amazon.nova-pro-v1:0", 1024, False),
        ("arn:aws:bedrock:eu-central-1::foundation-model/amazon.nova-micro-v1:0", 1024, False),
    ],
)
def test_prompt_caching_rows_follow_the_bedrock_table(
    model: str, minimum: int, tools: bool
) -> None:
    limits = prompt_caching(model)
    assert limits is not None
    assert (limits.min_tokens, limits.max_checkpoints, limits.tools) == (minimum, 4, tools)


@pytest.mark.parametrize(
    "model",
    [
        SONNET_35,  # Claude 3.5 Sonnet v1: not in the table
        "anthropic.claude-3-5-sonnet-20241022-v2:0",  # preview, kept for preview customers only
        "us.meta.llama3-3-70b-instruct-v1:0",
        "mistral.mistral-large-2407-v1:0",
        "amazon.titan-text-premier-v1:0",
        "cohere.command-r-plus-v1:0",
    ],
)
def test_families_outside_the_table_get_no_checkpoint(model: str) -> None:
    assert prompt_caching(model) is None
    assert cache_checkpoints(model, [("tools", 9000), ("system", 9000), ("messages", 9000)]) == [
        False,
        False,
        False,
    ]



@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", (1.25, 0.1)),
        ("global." + SONNET_45, (1.25, 0.1)),
        ("us.amazon.nova-pro-v1:0", (1.0, 0.25)),
        ("arn:aws:bedrock:eu-central-1::foundation-model/amazon.nova-lite-v1:0", (1.0, 0.25)),
        ("mistral.mistral-large-2407-v1:0", (1.0, 1.0)),  # no cache: no cache tokens either
    ],
)
def test_cache_rates_are_the_family_s(model: str, rates: tuple[float, float]) -> None:
    """Claude bills cache writes 25% above and reads 90% below its input price; Nova bills
    writes at the input price and reads 75% below it."""
    assert cache_rates(model) == rates

def test_checkpoints_need_the_minimum_since_the_previous_one() -> None:
    sonnet_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    # tools under 1,024 carry over: tools + system reach it, then the document on its own
    assert cache_checkpoints(sonnet_37, [("tools", 620), ("system", 620), ("messages", 7000)]) == [
        False,
        True,
        True,
    ]
    assert cache_checkpoints(sonnet_37, [("tools", 1500), ("system", 600), ("messages", 900)]) == [
        True,
        False,
        True,  # 600 + 900 since the tools checkpoint
    ]
    assert cache_checkpoints(sonnet_37, [("system", 600), ("messages", 300)]) == [False, False]
    # at most four per request
    assert cache_checkpoints(sonnet_37, [("messages", 2000)] * 6) == [True] * 4 + [False] * 2


def test_nova_counts_no_tools_and_caches_at_most_20k_tokens() -> None:
    nova = "amazon.nova-lite-v1:0"
    assert cache_checkpoints(nova, [("tools", 5000), ("system", 600), ("messages", 600)]) == [
        False,
        False,
        True,  # the tool tokens are not counted: 1,200 since the start
    ]
    assert cache_checkpoints(nova, [("system", 1500), ("messages", 25_000)]) == [True, False]


def test_cache_points_are_appended_to_the_lists_the_checkpoints_close() -> None:
    tools: list[dict] = [{"toolSpec": {}}]
    system: list[dict] = [{"text": "rules"}]
    content: list[dict] = [{"text": "document"}]
    segments = [("tools", tools, 600), ("system", system, 600), ("messages", content, 5000)]
    add_cache_points("anthropic.claude-3-7-sonnet-20250219-v1:0", segments)
    assert tools == [{"toolSpec": {}}]  # 600 tokens: under the 1,024 minimum
    assert system == [{"text": "rules"}, CACHE_POINT]  # 1,200 since the start
    assert content == [{"text": "document"}, CACHE_POINT]
    add_cache_points("meta.llama3-3-70b-instruct-v1:0", segments)
    assert content == [{"text": "document"}, CACHE_POINT]  # no caching: nothing appended


def test_token_usage_reads_every_converse_usage_field_and_counts_missing_ones_as_zero() -> None:
    usage = {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13, "cacheReadInputTokens": 7}
    assert token_usage(usage) == {
        "input_tokens": 10,
        "output_tokens": 3,
        "cache_read_tokens": 7,
        "cache_write_tokens": 0,
    }
    assert token_usage(None) == dict.fromkeys(token_usage({}), 0)
