"""Retrieval of lens guidance: metadata filters, a local BM25 retriever, Bedrock Knowledge Bases.

Both retrievers answer ``retrieve(query, filter, k) -> list[Passage]`` over the same documents
(one guidance note per best practice, :meth:`lenses.catalog.GuidanceNote.text`) with the same
metadata (``lens``, ``pillar``, ``question_id``, ``choice_id``, ``risk``):

- :class:`LocalRetriever`: a bm25s index over the notes, built once in memory; the filter is
  applied *before* ranking, so the ``k`` results are the best of the matching notes;
- :class:`BedrockKbRetriever`: the ``bedrock-agent-runtime`` ``Retrieve`` API of a knowledge
  base fed with ``rca lens export-kb`` output (see :mod:`reviews.kb_export`).

:class:`RetrievalFilter` is the subset of the Bedrock ``RetrievalFilter`` union we use, and
:meth:`RetrievalFilter.matches` evaluates it locally with the semantics the Bedrock API reference
documents for each operator:

``equals``     the document has the key and its value equals ``value``;
``notEquals``  the document lacks the key, or its value differs from ``value``;
``in``         the document has the key and its value is one of the list ``value``;
``notIn``      the document has the key and its value is none of the list ``value``;
``andAll``     every filter of the list (at least 2) matches;
``orAll``      at least one filter of the list (at least 2) matches.

Typical filter::

    metadata_filter(lens="wellarchitected", pillars="reliability", question_ids="fault-isolation")
    # {"andAll": [{"equals": {"key": "lens", "value": "wellarchitected"}},
    #             {"equals": {"key": "pillar", "value": "reliability"}},
    #             {"equals": {"key": "question_id", "value": "fault-isolation"}}]}
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ConfigDict, Field, model_validator

from lenses.catalog import GuidanceNote, load_guidance, load_lens
from tools.aws.errors import ThrottledError, translate
from tools.errors import RcaError
from tools.models import Model

Scalar = str | int | float | bool
MAX_RESULTS = 100
"""``numberOfResults`` of ``KnowledgeBaseVectorSearchConfiguration`` is 1..100 (API reference)."""


class RetrievalError(RcaError):
    """Guidance retrieval failed (knowledge base throttled, access denied, not found, ...).

    ``code`` is the AWS error code (``ThrottlingException``, ...) when there is one.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class FilterAttribute(Model):
    """``{"key": ..., "value": ...}`` of a filter operator (key 1..100 characters)."""

    key: str = Field(min_length=1, max_length=100)
    value: Scalar | list[Scalar]


class RetrievalFilter(Model):
    """One Bedrock KB ``RetrievalFilter``: exactly one operator set.

    Build with :func:`equals`, :func:`not_equals`, :func:`in_`, :func:`not_in`, :func:`and_all`,
    :func:`or_all` or :func:`metadata_filter`; serialise with :meth:`to_api`; parse an API dict
    with :meth:`from_api`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)

    equals: FilterAttribute | None = None
    notEquals: FilterAttribute | None = None
    in_: FilterAttribute | None = Field(default=None, alias="in")
    notIn: FilterAttribute | None = None
    andAll: list[RetrievalFilter] | None = Field(default=None, min_length=2)
    orAll: list[RetrievalFilter] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _one_operator(self) -> RetrievalFilter:
        names = [
            name
            for name in ("equals", "notEquals", "in_", "notIn", "andAll", "orAll")
            if getattr(self, name) is not None
        ]
        if len(names) != 1:
            raise ValueError(f"a filter sets exactly one operator, found {names or 'none'}")
        for name in ("in_", "notIn"):
            attr = getattr(self, name)
            if attr is not None and not isinstance(attr.value, list):
                raise ValueError(f"{name.rstrip('_')} takes a list value, found {attr.value!r}")
        for name in ("equals", "notEquals"):
            attr = getattr(self, name)
            if attr is not None and isinstance(attr.value, list):
                raise ValueError(f"{name} takes a single value, found a list")
        return self

    def to_api(self) -> dict[str, Any]:
        """The exact dict the ``Retrieve`` API takes as ``vectorSearchConfiguration.filter``."""
        return self.model_dump(by_alias=True, exclude_none=True)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RetrievalFilter:
        """Parse an API-shaped filter dict (``{"andAll": [{"equals": {...}}, ...]}``)."""
        return cls.model_validate(data)

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a document with this metadata passes the filter (semantics in module doc)."""
        if self.andAll is not None:
            return all(f.matches(metadata) for f in self.andAll)
        if self.orAll is not None:
            return any(f.matches(metadata) for f in self.orAll)
        if self.equals is not None:
            key, value = self.equals.key, self.equals.value
            return key in metadata and _same(metadata[key], value)
        if self.notEquals is not None:
            key, value = self.notEquals.key, self.notEquals.value
            return key not in metadata or not _same(metadata[key], value)
        attr = self.in_ if self.in_ is not None else self.notIn
        assert attr is not None and isinstance(attr.value, list)
        if attr.key not in metadata or isinstance(metadata[attr.key], list):
            return False
        member = any(_same(metadata[attr.key], v) for v in attr.value)
        return member if self.in_ is not None else not member


def _same(a: Any, b: Any) -> bool:
    """Equality without Python's ``True == 1``: a boolean only equals a boolean."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def equals(key: str, value: Scalar) -> RetrievalFilter:
    """``{"equals": {"key": key, "value": value}}``."""
    return RetrievalFilter(equals=FilterAttribute(key=key, value=value))


def not_equals(key: str, value: Scalar) -> RetrievalFilter:
    """``{"notEquals": {"key": key, "value": value}}``."""
    return RetrievalFilter(notEquals=FilterAttribute(key=key, value=value))


def in_(key: str, values: Iterable[Scalar]) -> RetrievalFilter:
    """``{"in": {"key": key, "value": [values...]}}``."""
    return RetrievalFilter.model_validate({"in": {"key": key, "value": list(values)}})


def not_in(key: str, values: Iterable[Scalar]) -> RetrievalFilter:
    """``{"notIn": {"key": key, "value": [values...]}}``."""
    return RetrievalFilter(notIn=FilterAttribute(key=key, value=list(values)))


def and_all(*filters: RetrievalFilter) -> RetrievalFilter:
    """``{"andAll": [f1, f2, ...]}`` (at least two filters)."""
    return RetrievalFilter(andAll=list(filters))


def or_all(*filters: RetrievalFilter) -> RetrievalFilter:
    """``{"orAll": [f1, f2, ...]}`` (at least two filters)."""
    return RetrievalFilter(orAll=list(filters))


def metadata_filter(
    *,
    lens: str | None = None,
    pillars: str | Iterable[str] | None = None,
    question_ids: str | Iterable[str] | None = None,
    choice_ids: str | Iterable[str] | None = None,
    risks: str | Iterable[str] | None = None,
) -> RetrievalFilter | None:
    """The filter for guidance-note metadata: conditions on each given attribute, all required.

    A single value becomes ``equals``, several ``in``; several attributes are combined with
    ``andAll``; nothing given returns ``None`` (no filter).

    Raises:
        ValueError: an attribute is given as an empty list (it would match nothing).
    """
    parts: list[RetrievalFilter] = []
    for key, given in (
        ("lens", lens),
        ("pillar", pillars),
        ("question_id", question_ids),
        ("choice_id", choice_ids),
        ("risk", risks),
    ):
        if given is None:
            continue
        values = [given] if isinstance(given, str) else list(dict.fromkeys(given))
        if not values:
            raise ValueError(f"metadata_filter: empty list of {key} values")
        parts.append(equals(key, values[0]) if len(values) == 1 else in_(key, values))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else and_all(*parts)


class Passage(Model):
    """One retrieved document chunk: text, relevance score, metadata, and where it came from.

    ``source`` is the guidance note's choice id (local) or the S3 URI of the document (Bedrock).
    Scores are BM25 scores locally and similarity scores from Bedrock: compare them only within
    one result list.
    """

    text: str
    score: float
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str

    @property
    def choice_id(self) -> str | None:
        """The ``choice_id`` metadata attribute, when present."""
        value = self.metadata.get("choice_id")
        return str(value) if value is not None else None


class Retriever(ABC):
    """Retrieves lens guidance passages for a query, optionally restricted by a metadata filter."""

    @abstractmethod
    def retrieve(
        self, query: str, filter: RetrievalFilter | None = None, k: int = 5
    ) -> list[Passage]:
        """The ``k`` most relevant passages that pass ``filter``, best first."""


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_RESULTS:
        raise ValueError(f"k must be between 1 and {MAX_RESULTS}, got {k}")


# --- local BM25 ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS) | frozenset(
    {"do", "does", "how", "what", "which", "you", "your", "we", "our", "use", "using"}
)


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric tokens without English stopwords, plurals folded (deterministic).

    ``multi-AZ`` -> ``multi``, ``az``; ``retries`` -> ``retry``; ``backups`` -> ``backup``.
    """
    out = []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOPWORDS:
            continue
        if len(token) > 4 and token.endswith("ies"):
            token = token[:-3] + "y"
        elif len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        out.append(token)
    return out


class LocalRetriever(Retriever):
    """BM25 (bm25s) over guidance notes, with the Bedrock KB filter semantics applied first.

    The index is built once, in memory, at construction (308 notes take a few milliseconds).
    Ties are broken by the notes' order, so results are deterministic.
    """

    def __init__(self, notes: Sequence[GuidanceNote]) -> None:
        if not notes:
            raise ValueError("LocalRetriever needs at least one guidance note")
        self.notes = list(notes)
        self._texts = [note.text() for note in self.notes]
        self._metadata = [note.metadata() for note in self.notes]
        corpus = [tokenize(t) or ["empty"] for t in self._texts]
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)

    @classmethod
    def for_lens(cls, lens: str | Path = "wellarchitected") -> LocalRetriever:
        """A retriever over the guidance notes of a shipped or custom lens."""
        return cls(load_guidance(load_lens(lens)))

    def retrieve(
        self, query: str, filter: RetrievalFilter | None = None, k: int = 5
    ) -> list[Passage]:
        """The ``k`` best notes among those that pass ``filter`` (BM25 score, best first).

        Notes that share no term with the query score 0 and come after scoring ones, in lens
        order; they are still returned when fewer than ``k`` notes score.
        """
        _check_k(k)
        allowed = [
            i for i, meta in enumerate(self._metadata) if filter is None or filter.matches(meta)
        ]
        if not allowed:
            return []
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        scores = (
            np.asarray(self._bm25.get_scores(tokens), dtype=float)
            if tokens
            else np.zeros(len(self.notes))
        )
        ranked = sorted(allowed, key=lambda i: (-scores[i], i))[:k]
        return [
            Passage(
                text=self._texts[i],
                score=float(scores[i]),
                metadata=dict(self._metadata[i]),
                source=self.notes[i].choice_id,
            )
            for i in ranked
        ]


# --- Bedrock Knowledge Bases --------------------------------------------------------------------


class BedrockKbRetriever(Retriever):
    """``bedrock-agent-runtime`` ``Retrieve`` against a knowledge base fed by ``export-kb``.

    Request: ``knowledgeBaseId``, ``retrievalQuery={"text": query}``,
    ``retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k, "filter":
    filter.to_api()}}`` (``filter`` omitted when ``None``). One page of results is enough
    (``k`` <= 100). Results map to :class:`Passage` from ``content.text``, ``score``,
    ``metadata`` and ``location.s3Location.uri``.
    """

    def __init__(
        self, knowledge_base_id: str, client: Any | None = None, region: str | None = None
    ) -> None:
        self.knowledge_base_id = knowledge_base_id
        if client is None:
            from tools.aws.session import make_client

            client = make_client("bedrock-agent-runtime", region=region, read_timeout_s=30)
        self.client = client
        self.region = region or getattr(getattr(client, "meta", None), "region_name", None)

    def retrieve(
        self, query: str, filter: RetrievalFilter | None = None, k: int = 5
    ) -> list[Passage]:
        """Run ``Retrieve`` and map its results to passages, best first.

        Raises:
            RetrievalError: throttled, access denied, unknown knowledge base, invalid request or
                any other AWS failure, with a one-line message saying what to configure.
        """
        _check_k(k)
        search: dict[str, Any] = {"numberOfResults": k}
        if filter is not None:
            search["filter"] = filter.to_api()
        try:
            response = self.client.retrieve(
                knowledgeBaseId=self.knowledge_base_id,
                retrievalQuery={"text": query},
                retrievalConfiguration={"vectorSearchConfiguration": search},
            )
        except ClientError as exc:  # throttling: the one ThrottledError, as translated
            raise self._translate(exc) from exc
        except BotoCoreError as exc:
            raise RetrievalError(
                f"Bedrock Knowledge Base {self.knowledge_base_id} could not be reached "
                f"({type(exc).__name__}: {exc}); check AWS credentials, --region and network"
            ) from exc
        return [self._passage(r) for r in response.get("retrievalResults", [])]

    def _passage(self, result: Mapping[str, Any]) -> Passage:
        metadata = dict(result.get("metadata") or {})
        location = result.get("location") or {}
        uri = (location.get("s3Location") or {}).get("uri")
        source = uri or metadata.get("x-amz-bedrock-kb-source-uri") or metadata.get("choice_id")
        return Passage(
            text=(result.get("content") or {}).get("text", ""),
            score=float(result.get("score", 0.0)),
            metadata=metadata,
            source=str(source or result.get("documentId") or ""),
        )

    def _translate(self, exc: ClientError) -> RetrievalError | ThrottledError:
        """The one AWS error table (:func:`tools.aws.errors.translate`), naming the KB;
        throttling stays the one :class:`~tools.aws.errors.ThrottledError`."""
        error = translate(exc, service="Bedrock Agent", operation="Retrieve", region=self.region)
        if isinstance(error, ThrottledError):
            return ThrottledError(
                f"knowledge base {self.knowledge_base_id}: {error}",
                service=error.service,
                operation=error.operation,
                code=error.code,
                region=error.region,
            )
        return RetrievalError(f"knowledge base {self.knowledge_base_id}: {error}", error.code)
