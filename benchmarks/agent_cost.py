"""Input size of a Bedrock investigation: Converse requests and estimated input tokens without and
with prompt caching, request by request, on the embedded scenarios.

Usage::

    python benchmarks/agent_cost.py [--models ID ...] [--bundles DIR ...] [--detail N]

Each investigation runs through the real path: ``InvestigationService.start`` with
``ModelChoice(provider="bedrock")`` builds :class:`agent.providers.bedrock.BedrockConverseProvider`
and the investigation loop, which runs the real tools on the bundle. Only the bedrock-runtime
client is replaced (``agent.providers.bedrock.make_client`` is patched to return it): it is
**scripted, in process, no network** (:class:`ScriptedConverse`). It validates every Converse
request against botocore's bedrock-runtime service model and plays seven model turns, the shape
of a typical ReAct investigation: ``architecture``; ``metrics`` and ``logs`` of the first three
components with telemetry (workspace order, no ground truth); ``changes`` of those; ``traces``;
``logs`` and ``metrics`` of the next three; ``changes`` of all of them; then
``submit_hypotheses`` citing ``E1``. The answer is not the point: the figures are sizes.

Its ``usage`` follows the documented cache semantics of Claude on Bedrock: a ``cachePoint`` caches
the whole prefix before it (``toolConfig.tools``, then ``system``, then the message blocks); a
request reads the longest prefix cached by an earlier request that ends at a block boundary at
most 20 blocks before one of its checkpoints ("simplified cache management": "Amazon Bedrock
automatically checks for cache hits on prefixes up to approximately 20 content blocks before that
marker", https://aws.amazon.com/blogs/machine-learning/optimizing-cost-and-latency-with-amazon-bedrock-prompt-caching),
writes the rest up to its last checkpoint, and ``inputTokens`` is what follows that checkpoint.
All within the 5-minute TTL (the requests follow each other). Tokens are **estimated as
characters / 4** (no tokenizer here): text blocks by their text, other blocks by their JSON.
"Without caching" is the same requests with every token billed as input. Nothing here was run
against real Bedrock.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from botocore.validate import validate_parameters  # noqa: E402

from agent.factory import open_bundle  # noqa: E402
from agent.service import BundleSource, InvestigationService, ModelChoice  # noqa: E402
from agent.sessions import SqliteSessionStore  # noqa: E402
from benchmarks.bedrock_review_cost import PromptCache, converse_meta  # noqa: E402
from tools.aws.models import CHARS_PER_TOKEN, cache_rates, prompt_caching  # noqa: E402

BUNDLES = REPO / "scenarios" / "bundles"
DEFAULT_MODELS = [
    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",  # 1,024 tokens per checkpoint
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",  # 4,096 tokens per checkpoint
]
ROW = "  {:>4} {:>6} {:>3} {:>9} {:>7} {:>8} {:>7}"


def _use(n: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": f"t{n}", "name": name, "input": args}}


def plan(question: str, components: list[str]) -> list[list[dict[str, Any]]]:
    """The scripted model's turns (content blocks of each reply), see the module docstring."""
    first, second = components[:3], components[3:6] or components[:3]
    return [
        [{"text": "Start with the architecture."}, _use(1, "architecture", {"symptom": question})],
        [_use(2, "metrics", {"components": first}), _use(3, "logs", {"components": first})],
        [{"text": "Any change before the onset?"}, _use(4, "changes", {"components": first})],
        [_use(5, "traces", {})],
        [_use(6, "logs", {"components": second}), _use(7, "metrics", {"components": second})],
        [_use(8, "changes", {"components": first + second})],
        [
            _use(
                9,
                "submit_hypotheses",
                {
                    "summary": "scripted answer (sizes only)",
                    "hypotheses": [
                        {
                            "rank": 1,
                            "statement": f"{components[0]} is where the errors start",
                            "component": components[0],
                            "confidence": 0.5,
                            "supporting_evidence": ["E1"],
                        }
                    ],
                },
            )
        ],
    ]


class ScriptedConverse:
    """An in-process bedrock-runtime client for ``converse`` (see the module docstring).

    ``requests`` keeps, per Converse call, ``(blocks, checkpoints, total, input, write, read)``
    in estimated tokens; ``meta`` is a real (never called) client's, so the provider sees a
    Region and every request is validated against the service model.
    """

    def __init__(self, turns: list[list[dict[str, Any]]], region: str = "eu-central-1") -> None:
        self.meta, self._input = converse_meta(region)
        self.turns = list(turns)
        self.requests: list[tuple[int, int, int, int, int, int]] = []
        self._cache = PromptCache()

    def converse(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, self._input)  # raises ParamValidationError like botocore
        use = self._cache.account(params)
        total = use.chars // CHARS_PER_TOKEN
        self.requests.append((use.blocks, use.points, total, use.uncached, use.write, use.read))
        content = self.turns.pop(0) if self.turns else [{"text": "no more turns"}]
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": "tool_use",
            "usage": use.usage(),
            "metrics": {"latencyMs": 0},
        }


def investigate(bundle: Path, model: str) -> tuple[ScriptedConverse, Any]:
    """One investigation of ``bundle`` through the service on the scripted client."""
    setup = open_bundle(bundle)
    question = setup.bundle.incident.description
    components = [e.name for e in setup.architecture.with_telemetry()]
    client = ScriptedConverse(plan(question, components))
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch("agent.providers.bedrock.make_client", lambda *a, **k: client),
    ):
        service = InvestigationService(SqliteSessionStore(Path(tmp) / "sessions.db"))
        record = service.start(
            None,
            question,
            BundleSource(path=str(bundle)),
            model=ModelChoice(provider="bedrock", model_id=model, region="eu-central-1"),
        )
    return client, record.turns[0].usage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="model ids")
    parser.add_argument("--bundles", nargs="+", type=Path, help="bundle directories")
    parser.add_argument("--detail", type=int, default=1, help="bundles shown request by request")
    args = parser.parse_args(argv)
    bundles = args.bundles or sorted(
        p for p in BUNDLES.iterdir() if (p / "incident.yaml").is_file()
    )
    print(f"tokens estimated as characters / {CHARS_PER_TOKEN}; sequential; scripted client")
    for model in args.models:
        limits = prompt_caching(model)
        rule = (
            f"min {limits.min_tokens} tokens per checkpoint, at most {limits.max_checkpoints}"
            if limits
            else "no prompt caching: requests unchanged"
        )
        print(f"\nmodel {model} ({rule})")
        rows = []
        for n, bundle in enumerate(bundles):
            client, usage = investigate(bundle, model)
            if n < args.detail:
                print(f"  {bundle.name}: request by request")
                print(ROW.format("req", "blocks", "cp", "no cache", "input", "c.write", "c.read"))
                for i, figures in enumerate(client.requests, 1):
                    print(ROW.format(i, *figures))
            plain = sum(r[2] for r in client.requests)
            if (usage.input_tokens, usage.cache_write_tokens, usage.cache_read_tokens) != (
                sum(r[3] for r in client.requests),
                sum(r[4] for r in client.requests),
                sum(r[5] for r in client.requests),
            ):
                raise SystemExit("accounting mismatch between the client and the investigation")
            write_rate, read_rate = cache_rates(model)
            billed = usage.input_tokens + write_rate * usage.cache_write_tokens
            billed += read_rate * usage.cache_read_tokens
            rows.append((bundle.name, len(client.requests), plain, usage, billed))
        print(
            f"  {'bundle':<36} {'req':>4} {'no cache':>9} {'input':>7} {'c.write':>8} "
            f"{'c.read':>8} {'input-price equiv.':>18}"
        )
        for name, requests, plain, usage, billed in rows:
            print(
                f"  {name[:36]:<36} {requests:>4} {plain:>9} {usage.input_tokens:>7} "
                f"{usage.cache_write_tokens:>8} {usage.cache_read_tokens:>8} "
                f"{billed:>9.0f} ({billed / plain:4.0%})"
            )
    print(
        "\ninput-price equivalent: input + write rate x cache writes + read rate x cache reads "
        "(the model's rates, tools.aws.models.cache_rates: Claude 1.25 / 0.1, Nova 1.0 / 0.25), "
        "as a share of the tokens without caching; the rest of the request follows "
        "the last checkpoint. Never run against real Bedrock."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
