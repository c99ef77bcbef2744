"""Which Bedrock model to call, and what each model family accepts.

Model choice, first found wins (nothing is hard-coded):

1. ``--model-id`` (explicit argument);
2. ``RCA_MODEL_ID``;
3. ``model_id`` in the YAML config file ``RCA_AWS_CONFIG`` (the same file as the role config);
4. resolved at run time: the newest ``ACTIVE`` foundation model of the configured family
   (``--model-family`` > ``RCA_MODEL_FAMILY`` > ``model_family`` in the config file >
   :data:`DEFAULT_FAMILY`) that the account can invoke, through a cross-Region inference profile
   when one exists (the Region's geography first - ``us.``, ``eu.``, ``apac.``, ... - then
   ``global.``), else on demand.

Bedrock control-plane calls (botocore ``bedrock/2023-04-20``): ``ListFoundationModels``
(``byOutputModality=TEXT``; not paginated; ``modelSummaries[].modelLifecycle.status`` is
``ACTIVE`` | ``LEGACY``, ``inferenceTypesSupported`` holds ``ON_DEMAND`` / ``INFERENCE_PROFILE``
/ ``PROVISIONED``) and ``ListInferenceProfiles`` (``typeEquals=SYSTEM_DEFINED``, ``maxResults``
1-1000, ``nextToken``; ``inferenceProfileSummaries[].models[].modelArn`` names the foundation
models a profile routes to). A model that supports only ``INFERENCE_PROFILE`` cannot be invoked
by its bare id ("on-demand throughput isn't supported").
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListInferenceProfiles.html
https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html

Family capabilities (Converse API reference): ``ToolResultBlock.status`` "is only supported by
Amazon Nova and Anthropic Claude 3 and 4 models"; ``SpecificToolChoice`` (forcing one tool) is
documented for Anthropic Claude 3+ (and Amazon Nova); other families get no ``status`` and no
forced tool (the caller repairs a missing tool call instead).
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SpecificToolChoice.html

Output limits (maximum ``maxTokens``) per model, from the model providers' documentation as
served on Bedrock; a request above the limit is rejected ("The maximum tokens you requested
exceeds the model limit of 4096"). Unknown models get a conservative 4,096.

Prompt caching (:func:`prompt_caching`, :func:`cache_checkpoints`): the Bedrock user guide page
"Prompt caching for faster model inference", table "Supported models, Regions, and limits", and
the per-model cards it points to (minimum tokens per cache checkpoint, maximum checkpoints per
request, fields that accept checkpoints). In Converse a checkpoint is the block
``{"cachePoint": {"type": "default"}}`` (botocore ``CachePointBlock``), allowed in
``messages[].content[]`` (``ContentBlock``), ``system[]`` (``SystemContentBlock``) and
``toolConfig.tools[]`` (``Tool``); ``usage`` then carries ``cacheReadInputTokens`` and
``cacheWriteInputTokens`` (``TokenUsage``), and ``inputTokens`` counts only the tokens neither
read from nor written to the cache. "If you try to add a cache checkpoint before meeting the
minimum number of tokens, your inference will still succeed, but your prefix will not be
cached." The page marks Claude 3.5 Sonnet v2 as a preview kept only for its preview customers:
it gets no checkpoint here, and neither does any family the table does not list.
https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
The page leaves the rates to the pricing page: Claude on Bedrock bills cache writes at 1.25 and
cache reads at 0.1 times the input price (the AWS Machine Learning blog post "Optimizing cost and
latency with Amazon Bedrock prompt caching"); Amazon Nova bills cache reads at 0.25 times the
input price and cache writes at the input price (no write premium), as the Bedrock price list
gives them (Nova Pro 0.80 / 0.20, Nova Lite 0.06 / 0.015, Nova Micro 0.035 / 0.00875 USD per
million input / cache-read tokens).
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CachePointBlock.html
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from tools.aws.errors import CredentialsError, translate_model
from tools.errors import ModelError
from tools.models import Model

DEFAULT_FAMILY = "anthropic.claude-sonnet"
DEFAULT_OUTPUT_LIMIT = 4096
# Longest matching prefix wins (model id without the inference-profile prefix).
OUTPUT_LIMITS: dict[str, int] = {
    "anthropic.claude-3-5-sonnet-20240620": 4096,
    "anthropic.claude-3-5-sonnet-20241022": 8192,
    "anthropic.claude-3-5-haiku": 8192,
    "anthropic.claude-3-7-sonnet": 64000,
    "anthropic.claude-3": 4096,
    "anthropic.claude-sonnet-4": 64000,
    "anthropic.claude-haiku-4": 64000,
    "anthropic.claude-opus-4": 32000,
    "anthropic.claude-opus-4-5": 64000,
    "amazon.nova": 10000,
    "meta.llama": 2048,
    "mistral.": 8192,
}


class PromptCaching(Model):
    """What a model accepts for Converse prompt caching (see the module docstring).

    ``min_tokens``: tokens a checkpoint must follow (counted from the previous checkpoint);
    ``max_checkpoints``: checkpoints per request; ``tools``: whether ``toolConfig.tools``
    accepts one (``system`` and ``messages`` always do); ``max_tokens``: the most tokens a
    cached prefix may hold, when the model has such a limit (Amazon Nova: 20K);
    ``write_rate`` / ``read_rate``: what a token written to / read from the cache costs, as a
    multiple of the model's input price (the module docstring gives the sources).
    """

    min_tokens: int
    max_checkpoints: int
    tools: bool
    max_tokens: int | None = None
    write_rate: float = 1.25
    read_rate: float = 0.1


_CLAUDE_1K = PromptCaching(min_tokens=1024, max_checkpoints=4, tools=True)
_CLAUDE_4K = PromptCaching(min_tokens=4096, max_checkpoints=4, tools=True)
# Nova: "1K" tokens per checkpoint (read as 1,024, the larger reading), at most 20K cached.
_NOVA = PromptCaching(
    min_tokens=1024,
    max_checkpoints=4,
    tools=False,
    max_tokens=20_000,
    write_rate=1.0,
    read_rate=0.25,
)
# Longest matching prefix wins, as for OUTPUT_LIMITS. Claude Sonnet 4.5 is 4,096 in the current
# table (an earlier version of the page said 1,024; a checkpoint under the minimum is harmless,
# so the larger figure only means fewer checkpoints). Claude Opus 4.7: its model card.
PROMPT_CACHING: dict[str, PromptCaching] = {
    "anthropic.claude-3-7-sonnet": _CLAUDE_1K,
    "anthropic.claude-3-5-haiku": PromptCaching(min_tokens=2048, max_checkpoints=4, tools=True),
    "anthropic.claude-sonnet-4": _CLAUDE_1K,
    "anthropic.claude-sonnet-4-5": _CLAUDE_4K,
    "anthropic.claude-sonnet-4-6": _CLAUDE_1K,
    "anthropic.claude-opus-4": _CLAUDE_1K,
    "anthropic.claude-opus-4-1": _CLAUDE_1K,
    "anthropic.claude-opus-4-5": _CLAUDE_4K,
    "anthropic.claude-opus-4-6": _CLAUDE_4K,
    "anthropic.claude-opus-4-7": _CLAUDE_4K,
    "anthropic.claude-haiku-4-5": _CLAUDE_4K,
    "amazon.nova-micro": _NOVA,
    "amazon.nova-lite": _NOVA,
    "amazon.nova-pro": _NOVA,
    "amazon.nova-premier": _NOVA,
}
CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}
CHARS_PER_TOKEN = 4  # the estimate used before a request is sent (no tokenizer here)
# Inference profile id prefixes: geographic (data stays in the geography) and global.
GEO_PREFIXES = ("us-gov", "us", "eu", "apac", "jp", "au", "ca")
PROFILE_PREFIX = re.compile(r"^(?:global|us-gov|us|eu|apac|jp|au|ca)\.")
_STATUS_FAMILIES = (
    "anthropic.claude-3",
    "anthropic.claude-sonnet-4",
    "anthropic.claude-opus-4",
    "anthropic.claude-haiku-4",
    "amazon.nova",
)
_FORCED_TOOL_FAMILIES = _STATUS_FAMILIES


def base_model_id(model: str) -> str:
    """The foundation model id of a model id, inference profile id or ARN."""
    tail = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    return PROFILE_PREFIX.sub("", tail)


def output_limit(model: str) -> int:
    """Maximum ``maxTokens`` of ``model`` (id, profile id or ARN); see :data:`OUTPUT_LIMITS`."""
    base = base_model_id(model)
    best = max((p for p in OUTPUT_LIMITS if base.startswith(p)), key=len, default=None)
    return OUTPUT_LIMITS[best] if best else DEFAULT_OUTPUT_LIMIT


def supports_tool_status(model: str) -> bool:
    """Whether ``toolResult.status`` may be sent to ``model``."""
    return base_model_id(model).startswith(_STATUS_FAMILIES)


def supports_forced_tool(model: str) -> bool:
    """Whether ``toolChoice = {"tool": {"name": ...}}`` may be sent to ``model``."""
    return base_model_id(model).startswith(_FORCED_TOOL_FAMILIES)


def prompt_caching(model: str) -> PromptCaching | None:
    """Prompt-caching limits of ``model`` (id, profile id or ARN); None: send no checkpoint."""
    base = base_model_id(model)
    best = max((p for p in PROMPT_CACHING if base.startswith(p)), key=len, default=None)
    return PROMPT_CACHING[best] if best else None


def cache_rates(model: str) -> tuple[float, float]:
    """What a token written to and read from the prompt cache of ``model`` costs, as multiples
    of its input price: ``(write_rate, read_rate)`` (Claude 1.25 / 0.1, Nova 1.0 / 0.25);
    ``(1.0, 1.0)`` for a model that does not cache (it reports no cache tokens)."""
    limits = prompt_caching(model)
    return (limits.write_rate, limits.read_rate) if limits else (1.0, 1.0)


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` estimated as characters / :data:`CHARS_PER_TOKEN` (an estimate:
    English prose runs about four characters a token)."""
    return len(text) // CHARS_PER_TOKEN


def cache_checkpoints(model: str, segments: list[tuple[str, int]]) -> list[bool]:
    """Where to put a checkpoint: one flag per segment of the prompt, each given as ``(field,
    estimated tokens)`` in prompt order (field ``tools``, ``system`` or ``messages``; Converse
    puts ``toolConfig.tools`` first, then ``system``, then ``messages``).

    A segment gets a checkpoint when the model caches (:func:`prompt_caching`), its field
    accepts one (``tools`` only where :attr:`PromptCaching.tools`), the tokens since the
    previous checkpoint reach ``min_tokens`` (the page: "your first cache checkpoint can be
    defined after 1,024 tokens and your second cache checkpoint can be defined after 2,048
    tokens"), the whole prefix stays within ``max_tokens`` and fewer than ``max_checkpoints``
    were placed. The tokens of a segment without a checkpoint count towards the next one (a
    checkpoint caches the whole prefix); those of a field that accepts none (``tools`` on Nova)
    are not counted (where such a field sits in the model's prompt is not documented).
    """
    limits = prompt_caching(model)
    flags = [False] * len(segments)
    if limits is None:
        return flags
    since = total = placed = 0
    for n, (field, tokens) in enumerate(segments):
        if field == "tools" and not limits.tools:
            continue
        since += tokens
        total += tokens
        if limits.max_tokens is not None and total > limits.max_tokens:
            break
        if since >= limits.min_tokens and placed < limits.max_checkpoints:
            flags[n] = True
            placed += 1
            since = 0
    return flags


def add_cache_points(model: str, segments: list[tuple[str, list[dict[str, Any]], int]]) -> None:
    """Append :data:`CACHE_POINT` to the block lists where :func:`cache_checkpoints` places a
    checkpoint: ``segments`` are ``(field, blocks, estimated tokens)`` in prompt order, ``blocks``
    the list a checkpoint closes (``toolConfig.tools``, ``system``, a message's ``content``),
    changed in place."""
    flags = cache_checkpoints(model, [(field, tokens) for field, _, tokens in segments])
    for (_, blocks, _), flag in zip(segments, flags, strict=True):
        if flag:
            blocks.append(CACHE_POINT)


#: our name -> the Converse ``usage`` field (``TokenUsage``)
USAGE_FIELDS = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_read_tokens": "cacheReadInputTokens",
    "cache_write_tokens": "cacheWriteInputTokens",
}


def token_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A Converse reply's ``usage`` as ``input_tokens`` (neither read from nor written to the
    prompt cache), ``output_tokens``, ``cache_read_tokens`` and ``cache_write_tokens``; a field
    the reply leaves out counts 0."""
    usage = usage or {}
    return {name: int(usage.get(field, 0)) for name, field in USAGE_FIELDS.items()}


def geography(region: str | None) -> str | None:
    """The inference-profile prefix of a Region's geography (``eu-central-1`` -> ``eu``)."""
    if not region:
        return None
    if region.startswith("us-gov"):
        return "us-gov"
    head = region.split("-", 1)[0]
    return {"us": "us", "eu": "eu", "ap": "apac", "ca": "ca"}.get(head)


class UsableModel(Model):
    """A model the account can invoke: ``invoke_id`` is what to pass as ``modelId``."""

    model_id: str
    invoke_id: str
    provider: str = ""
    name: str = ""
    status: str
    via_profile: bool
    released: datetime | None = None
    output_limit: int


def _release_key(model_id: str, released: datetime | None) -> tuple[str, str]:
    stamp = re.search(r"(20\d{6})", model_id)
    version = re.search(r"-v(\d+)(?::(\d+))?$", model_id)
    return (
        released.isoformat() if released else (stamp.group(1) if stamp else ""),
        f"{int(version.group(1)):04d}" if version else "",
    )


class ModelCatalog:
    """What a Bedrock account can invoke in one Region (``client`` is a ``bedrock`` client).

    Raises (every method): :class:`~tools.errors.ModelError` with one line of advice.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.region = getattr(getattr(client, "meta", None), "region_name", None)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        method = getattr(self.client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
        try:
            result: dict[str, Any] = method(**params)
        except (ClientError, BotoCoreError) as exc:
            raise translate_model(exc, f"the Bedrock {operation} call", self.region) from exc
        return result

    def profiles(self) -> list[dict[str, Any]]:
        """Every ACTIVE system-defined inference profile (all pages)."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000}
            if token:
                params["nextToken"] = token
            page = self._call("ListInferenceProfiles", **params)
            out += [
                p for p in page.get("inferenceProfileSummaries", []) if p.get("status") == "ACTIVE"
            ]
            token = page.get("nextToken")
            if not token:
                return out

    def usable(
        self, family: str | None = None, *, include_legacy: bool = False
    ) -> list[UsableModel]:
        """Text models (of ``family``, an id prefix such as ``anthropic.claude-sonnet``), newest
        first, each with the id to invoke: the preferred inference profile, else the model id
        when it supports on-demand throughput; models with neither are left out."""
        models = self._call("ListFoundationModels", byOutputModality="TEXT").get(
            "modelSummaries", []
        )
        by_model: dict[str, list[str]] = {}
        for profile in self.profiles():
            for member in profile.get("models", []):
                by_model.setdefault(base_model_id(str(member.get("modelArn", ""))), []).append(
                    str(profile["inferenceProfileId"])
                )
        geo = geography(self.region)
        out: list[UsableModel] = []
        for summary in models:
            model_id = str(summary["modelId"])
            if family and not model_id.startswith(family):
                continue
            lifecycle = summary.get("modelLifecycle") or {}
            status = str(lifecycle.get("status", "ACTIVE"))
            if status != "ACTIVE" and not include_legacy:
                continue
            profiles = sorted(
                by_model.get(model_id, []),
                key=lambda p: (
                    0 if geo and p.startswith(geo + ".") else 1 if p.startswith("global.") else 2,
                    p,
                ),
            )
            types = summary.get("inferenceTypesSupported") or []
            if profiles:
                invoke, via = profiles[0], True
            elif "ON_DEMAND" in types:
                invoke, via = model_id, False
            else:
                continue
            released = lifecycle.get("startOfLifeTime")
            out.append(
                UsableModel(
                    model_id=model_id,
                    invoke_id=invoke,
                    provider=str(summary.get("providerName", "")),
                    name=str(summary.get("modelName", "")),
                    status=status,
                    via_profile=via,
                    released=released if isinstance(released, datetime) else None,
                    output_limit=output_limit(model_id),
                )
            )
        out.sort(key=lambda m: _release_key(m.model_id, m.released), reverse=True)
        return out

    def newest(self, family: str) -> UsableModel:
        """The newest ACTIVE usable model of ``family``.

        Raises:
            ModelError: none is usable in this Region.
        """
        found = self.usable(family)
        if not found:
            raise ModelError(
                f"no ACTIVE Bedrock model of family {family!r} is usable in "
                f"{self.region or 'the default Region'}: list them with `rca aws models`, then "
                "pass --model-id or set RCA_MODEL_ID (or RCA_MODEL_FAMILY)"
            )
        return found[0]


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    path = environ.get("RCA_AWS_CONFIG")
    if not path:
        return {}
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CredentialsError(f"{path}: cannot read the AWS config ({exc})") from exc
    return raw if isinstance(raw, dict) else {}


def configured_model(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """``--model-id`` > ``RCA_MODEL_ID`` > ``model_id`` in ``RCA_AWS_CONFIG``; None when unset."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("RCA_MODEL_ID"):
        return env["RCA_MODEL_ID"]
    value = _config_file(env).get("model_id")
    return str(value) if value else None


def configured_family(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``--model-family`` > ``RCA_MODEL_FAMILY`` > ``model_family`` in the config > default."""
    env = os.environ if environ is None else environ
    value = explicit or env.get("RCA_MODEL_FAMILY") or _config_file(env).get("model_family")
    return str(value) if value else DEFAULT_FAMILY


# Resolutions made with a client built here, per (profile, Region, family), for this process:
# a long-running service resolves once, not on every investigation.
_RESOLVED: dict[tuple[str | None, str | None, str], str] = {}


def resolve_model(
    explicit: str | None = None,
    *,
    catalog_client: Any = None,
    profile: str | None = None,
    region: str | None = None,
    family: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The ``modelId`` to send (see the module docstring for the order).

    ``catalog_client`` is a ``bedrock`` (control-plane) client, built through
    :func:`tools.aws.session.make_client` from ``profile`` / ``region`` when needed; such a
    resolution is remembered for the process (an injected client always asks again).

    Raises:
        ModelError: nothing configured and no usable model of the family.
    """
    chosen = configured_model(explicit, environ)
    if chosen:
        return chosen
    chosen_family = configured_family(family, environ)
    key = (profile, region, chosen_family)
    if catalog_client is None and key in _RESOLVED:
        return _RESOLVED[key]
    built = catalog_client is None
    if catalog_client is None:
        from tools.aws.errors import AwsError
        from tools.aws.session import make_client

        try:
            catalog_client = make_client("bedrock", profile=profile, region=region)
        except AwsError as exc:
            raise ModelError(f"cannot list Bedrock models: {exc}") from exc
    invoke_id = ModelCatalog(catalog_client).newest(chosen_family).invoke_id
    if built:
        _RESOLVED[key] = invoke_id
    return invoke_id
