"""Input size of a Bedrock review: Converse requests, characters per request, and estimated input
tokens without and with prompt caching, per development design document and mode.

Usage::

    python benchmarks/bedrock_review_cost.py [--model MODEL_ID] [--modes quick deep]
        [--price-input USD --price-cache-write USD --price-cache-read USD]  # per 1M tokens

Each review runs through the real path (``ReviewService.submit`` + ``run``: pdfplumber
extraction, local BM25 guidance retrieval, :class:`reviews.assessors.bedrock.BedrockAssessor`
building every request, checkpoints in SQLite) with ``max_workers=1``, so the requests go out in
sequence. The bedrock-runtime client is **scripted, in process, no network**
(:class:`ScriptedBedrock`): it validates each Converse request against botocore's
bedrock-runtime service model, answers ``submit_assessment`` with every best practice
``not_addressed``, and returns a ``usage`` computed from the request by the documented semantics
of Claude on Bedrock (:class:`PromptCache`, shared with ``benchmarks/agent_cost.py``): the prefix
up to the last ``cachePoint`` is written to the cache the first time it is seen and read on
every later request with the same prefix (within the 5-minute TTL, which a sequential review
keeps); ``inputTokens`` is the rest. Tokens are **estimated as characters / 4** (no tokenizer
here), so the figures are sizes, not a bill. With ``max_workers > 1`` units that start before
the first one has finished may each write the cache; the sequential figure is the best case.

"Without caching" is the same requests with every token billed as input. Prices are printed only
when given as arguments (nothing is hard-coded). Nothing here was run against real Bedrock.
The development documents are ``../shared/data/design-docs/*.pdf``; without them the script says
so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
from botocore.validate import validate_parameters  # noqa: E402

from lenses.catalog import Lens, load_lens  # noqa: E402
from reviews.assessors.bedrock import TOOL_NAME, BedrockAssessor  # noqa: E402
from reviews.service import ReviewService  # noqa: E402
from reviews.service_models import ReviewOptions, ReviewSettings  # noqa: E402
from reviews.store import SqliteReviewStore  # noqa: E402
from tools.aws.models import CHARS_PER_TOKEN  # noqa: E402

DOCS = REPO.parent / "shared" / "data" / "design-docs"
DEFAULT_MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
QUESTION_HEADING = re.compile(r"^## [^\n]*? \(([A-Za-z0-9_-]+)\): ", re.M)


def _chars(node: Any) -> int:
    """Characters a block carries: its text, or its JSON (tool specs, tool use, tool results)."""
    if isinstance(node, dict) and set(node) == {"text"}:
        return len(node["text"])
    if isinstance(node, dict) and "cachePoint" in node:
        return 0
    return len(json.dumps(node, ensure_ascii=False))


def converse_meta(region: str) -> tuple[Any, Any]:
    """The ``meta`` of a real (never called) bedrock-runtime client in ``region`` and the input
    shape of its Converse operation, for a scripted client to look real and validate requests."""
    real = boto3.client(
        "bedrock-runtime",
        region_name=region,
        aws_access_key_id="scripted",
        aws_secret_access_key="scripted",
    )
    return real.meta, real.meta.service_model.operation_model("Converse").input_shape


#: blocks before a checkpoint searched for an earlier cached prefix (Claude's "simplified cache
#: management": "prefixes up to approximately 20 content blocks before that marker")
LOOKBACK = 20


@dataclass(frozen=True)
class CacheUse:
    """What one Converse request costs in :class:`PromptCache`'s model: ``blocks`` content
    blocks and ``points`` checkpoints; ``chars`` and ``prefix_chars`` (up to the last
    checkpoint, 0 without one) in characters; ``read``, ``write`` and ``uncached`` in estimated
    tokens (characters / :data:`CHARS_PER_TOKEN`), summing to ``chars`` // 4."""

    blocks: int
    points: int
    chars: int
    prefix_chars: int
    read: int
    write: int
    uncached: int

    def usage(self) -> dict[str, int]:
        """The Converse ``usage`` of the reply."""
        return {
            "inputTokens": self.uncached,
            "outputTokens": 0,
            "totalTokens": self.chars // CHARS_PER_TOKEN,
            "cacheReadInputTokens": self.read,
            "cacheWriteInputTokens": self.write,
        }


class PromptCache:
    """Bedrock's prompt cache as the documented semantics for Claude describe it, for the
    scripted clients of the cost benchmarks: a ``cachePoint`` caches the whole prefix before it
    (``toolConfig.tools``, then ``system``, then the message blocks); a request reads the longest
    prefix an earlier request cached that ends at a block boundary at most :data:`LOOKBACK`
    blocks before one of its checkpoints, writes the rest up to its last checkpoint, and
    ``inputTokens`` is what follows that checkpoint. Everything stays within the 5-minute TTL
    (the requests follow each other). Text blocks count their text, other blocks their JSON
    (:func:`_chars`)."""

    def __init__(self) -> None:
        self._cached: set[str] = set()  # digests of the cached prefixes

    def account(self, params: dict[str, Any]) -> CacheUse:
        """Read and write the cache for one Converse request's ``params``."""
        blocks: list[tuple[str, dict[str, Any]]] = [
            ("tools", t) for t in params.get("toolConfig", {}).get("tools", [])
        ]
        blocks += [("system", b) for b in params.get("system", [])]
        blocks += [(m["role"], b) for m in params["messages"] for b in m["content"]]
        digest = hashlib.sha256()
        keys = [digest.hexdigest()]  # digest of the prefix at each content block boundary
        sizes = [0]  # characters of the prefix at each boundary
        points: list[int] = []  # boundaries (content blocks before them) with a checkpoint
        for field, block in blocks:
            if "cachePoint" in block:
                points.append(len(keys) - 1)
                continue
            digest.update(json.dumps([field, block], sort_keys=True).encode())
            keys.append(digest.hexdigest())
            sizes.append(sizes[-1] + _chars(block))
        read = write = 0
        if points:
            hits = [
                b
                for p in points
                for b in range(max(0, p - LOOKBACK), p + 1)
                if keys[b] in self._cached
            ]
            hit = max(hits, default=0)
            read = sizes[hit] // CHARS_PER_TOKEN if hit else 0
            write = sizes[points[-1]] // CHARS_PER_TOKEN - read
            self._cached.update(keys[p] for p in points)
        return CacheUse(
            blocks=len(blocks) - len(points),
            points=len(points),
            chars=sizes[-1],
            prefix_chars=sizes[points[-1]] if points else 0,
            read=read,
            write=write,
            uncached=sizes[-1] // CHARS_PER_TOKEN - read - write,
        )


class ScriptedBedrock:
    """An in-process bedrock-runtime client for ``converse`` only (see the module docstring).

    ``requests`` keeps, per Converse call, ``(total characters, cached-prefix characters or 0)``;
    ``meta`` is a real (never called) client's, so the assessor sees a Region and the service
    model validates every request.
    """

    def __init__(self, lens: Lens, region: str = "eu-central-1") -> None:
        self.meta, self._input = converse_meta(region)
        self.lens = lens
        self.requests: list[tuple[int, int]] = []
        self._cache = PromptCache()

    def converse(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, self._input)  # raises ParamValidationError like botocore
        use = self._cache.account(params)
        self.requests.append((use.chars, use.prefix_chars))
        text = params["messages"][0]["content"][-1]["text"]
        answers = [
            {
                "question_id": qid,
                "summary": "Not described.",
                "best_practices": [
                    {"choice_id": c.id, "verdict": "not_addressed", "rationale": "scripted"}
                    for c in self.lens.question(qid).best_practices
                ],
            }
            for qid in QUESTION_HEADING.findall(text)
        ]
        tool_use = {"toolUseId": f"t{len(self.requests)}", "name": TOOL_NAME}
        return {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [{"toolUse": {**tool_use, "input": {"questions": answers}}}],
                }
            },
            "stopReason": "tool_use",
            "usage": use.usage(),
            "metrics": {"latencyMs": 0},
        }


def review(pdf: Path, mode: str, model: str) -> tuple[ScriptedBedrock, dict[str, int]]:
    """Run one review of ``pdf`` in ``mode`` through ReviewService on the scripted client."""
    lens = load_lens("wellarchitected")
    client = ScriptedBedrock(lens)
    assessor = BedrockAssessor(lens, model, client=client)
    with tempfile.TemporaryDirectory() as tmp:
        service = ReviewService(
            SqliteReviewStore(Path(tmp) / "reviews.db"),
            settings=ReviewSettings(assessor="bedrock", model_id=model, max_workers=1),
            lens=lens,
            assessor=assessor,
        )
        record = service.submit(pdf, options=ReviewOptions(mode=mode))  # type: ignore[arg-type]
        service.run(record.id)
    return client, assessor.usage()


def _money(tokens: int, price: float | None) -> float:
    return tokens / 1e6 * (price or 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model id the requests are for")
    parser.add_argument("--modes", nargs="+", default=["quick", "deep"], choices=["quick", "deep"])
    parser.add_argument("--price-input", type=float, help="USD per 1M input tokens")
    parser.add_argument("--price-cache-write", type=float, help="USD per 1M cache-write tokens")
    parser.add_argument("--price-cache-read", type=float, help="USD per 1M cache-read tokens")
    args = parser.parse_args(argv)
    pdfs = sorted(DOCS.glob("*.pdf")) if DOCS.is_dir() else []
    if not pdfs:
        print(f"no design documents in {DOCS}: nothing to measure")
        return 0
    priced = None not in (args.price_input, args.price_cache_write, args.price_cache_read)
    print(f"model {args.model}; tokens estimated as characters / {CHARS_PER_TOKEN}; sequential")
    header = (
        f"{'document':<44} {'mode':<5} {'req':>4} {'chars/req (min-max)':>26} "
        f"{'no cache':>9} {'input':>8} {'c.write':>8} {'c.read':>8} {'ratio':>6}"
    )
    print(header)
    for pdf in pdfs:
        for mode in args.modes:
            client, usage = review(pdf, mode, args.model)
            sizes = [total for total, _ in client.requests]
            plain = sum(total // CHARS_PER_TOKEN for total in sizes)
            billed = usage["input_tokens"] + usage["cache_write_tokens"]
            cached = billed + usage["cache_read_tokens"]
            spread = f"{sum(sizes) // len(sizes)} ({min(sizes)}-{max(sizes)})"
            ratio = billed / plain if plain else 0.0
            print(
                f"{pdf.stem[:44]:<44} {mode:<5} {len(sizes):>4} {spread:>26} {plain:>9} "
                f"{usage['input_tokens']:>8} {usage['cache_write_tokens']:>8} "
                f"{usage['cache_read_tokens']:>8} {ratio:>6.2f}"
            )
            if not 0 <= plain - cached <= len(sizes):  # rounding of // 4 per request only
                raise SystemExit(f"accounting mismatch: {cached} vs {plain} tokens")
            if priced:
                before = _money(plain, args.price_input)
                after = (
                    _money(usage["input_tokens"], args.price_input)
                    + _money(usage["cache_write_tokens"], args.price_cache_write)
                    + _money(usage["cache_read_tokens"], args.price_cache_read)
                )
                print(f"{'':<50} input: ${before:.4f} without, ${after:.4f} with caching")
    print(
        "ratio: tokens billed at or above the input rate (input + cache write) / tokens without "
        "caching; cache reads are billed at the model's lower cache-read rate. Concurrent units "
        "(max_workers > 1) may each write the cache before the first write is readable."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
