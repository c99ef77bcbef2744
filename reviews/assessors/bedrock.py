"""The Bedrock assessor: Converse with structured output through a forced tool.

Request (Bedrock Runtime ``Converse``), document first: ``system`` = the rules
(``assess_system.md.j2``), ``messages`` = one user turn of content blocks ``[document,
cachePoint, unit]``: the document block (a one-line intro and the pages, :func:`document_block`:
byte-identical for every unit of a review), then the unit's
questions, their best practices, the retrieved guidance, the document's statements most
relevant to each question (section path and qualifiers such as ``future`` or ``optional``
shown, :func:`reviews.assessors.lexical.relevant_statements`) and a one-line reminder of the
task. Long document first and the query last is Anthropic's advice for long-context prompts
("Put longform data at the top", https://docs.claude.com/en/docs/build-with-claude/prompt-engineering/long-context-tips);
it also makes the document part of the prefix every unit shares. Document, statements and
guidance are wrapped in nonce-delimited ``<untrusted-data-…>`` tags after sanitising
(:mod:`agent.untrusted`). The nonce is the review's, drawn once when the review is created and
stored with it (:attr:`reviews.models.ReviewRecord.nonce`): the service assesses through
:meth:`BedrockAssessor.for_review`, so every task of one review, in any Lambda container, and
every resume send the same system prompt and document block, and the cached prefix is reused.

Prompt caching: where the model caches (:func:`tools.aws.models.prompt_caching`), a
``{"cachePoint": {"type": "default"}}`` block follows the tool spec (where the family caches
``tools``), the system prompt and the document block, each only when the tokens since the
previous checkpoint, estimated as characters / 4, reach the model's minimum
(:func:`tools.aws.models.cache_checkpoints`; a checkpoint under the minimum would be ignored,
not rejected). Other models get the same content order without checkpoints. Repair turns are
appended after the first user turn, so the cached prefix stays the same. ``toolConfig`` holds one
tool, ``submit_assessment``, whose input schema is generated from :class:`SubmitAssessment`
(``$ref`` inlined), and ``toolChoice = {"tool": {"name": "submit_assessment"}}`` forces the model
to answer through it (only for families that accept a forced tool,
:func:`tools.aws.models.supports_forced_tool`; others are asked in the prompt and repaired).
``inferenceConfig`` = ``{"maxTokens", "temperature": 0}`` with ``maxTokens`` clamped to the
model's output limit (:func:`tools.aws.models.output_limit`). The model id comes from
:func:`tools.aws.models.resolve_model` (never hard-coded).

``stopReason``: ``max_tokens`` splits the unit (its questions in two halves, each its own
request) instead of re-sending the same request; a single question that still does not fit is an
:class:`AssessmentError`. ``guardrail_intervened`` / ``content_filtered`` raise
:class:`AssessmentError` naming the stop reason.

Validation of the answer, in order: the tool input must parse as :class:`SubmitAssessment`;
every question of the unit must be answered and no other; every choice id must be a best
practice of its question. Any failure is sent back as a ``toolResult`` with ``status: error``
and the exact problem, up to ``max_repairs`` times, then :class:`AssessmentError`. Then each
quote is checked verbatim on its page (:func:`reviews.assess.verify_quotes`): unverifiable quotes
are dropped with a warning, and an ``addressed`` / ``partly`` verdict left without a verified
quote becomes ``insufficient_information``. Cited guidance ids that were not retrieved for the
question are dropped.

Usage: the ``usage`` of every response is summed (:meth:`BedrockAssessor.usage`):
``inputTokens`` (only the tokens neither read from nor written to the cache), ``outputTokens``,
``cacheReadInputTokens`` and ``cacheWriteInputTokens``.

Errors are translated by :func:`tools.aws.errors.translate_model` (the one Bedrock error table):
throttling and brief unavailability raise :class:`ThrottledError`; access, validation, legacy and
unknown-model errors raise :class:`AssessmentError` naming model, Region and what to pass.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, ValidationError

from agent.untrusted import new_nonce, sanitize
from lenses.catalog import GuidanceNote, Lens, LensError, Question, load_guidance
from reviews.assess import (
    Assessor,
    BestPracticeDraft,
    QuestionDraft,
    QuestionGuidance,
    Unit,
    verify_quotes,
)
from reviews.assessors.lexical import (
    RELEVANT_STATEMENTS,
    Corpus,
    corpus_for,
    relevant_statements,
)
from reviews.document import Statement, understand
from reviews.errors import AssessmentError
from reviews.models import ChoiceReason, DocumentText, Mode, Quote, Verdict
from reviews.render import render_template
from tools.aws.errors import ThrottledError, translate_model
from tools.aws.models import (
    USAGE_FIELDS,
    add_cache_points,
    estimate_tokens,
    output_limit,
    resolve_model,
    supports_forced_tool,
    supports_tool_status,
    token_usage,
)
from tools.errors import ModelError
from tools.models import Model

TOOL_NAME = "submit_assessment"
MAX_DOCUMENT_CHARS = 200_000  # about 50k tokens: the document part of one request
BLOCKED_STOPS = ("guardrail_intervened", "content_filtered")
DOCUMENT_INTRO = "The design document under review, page by page (the questions follow it):\n"


class QuoteIn(Model):
    """A quote as the model gives it: page number and verbatim text."""

    page: int = Field(ge=1, description="page number from the [page N] marker")
    quote: str = Field(min_length=1, max_length=600, description="verbatim text from that page")


class BestPracticeAnswer(Model):
    """The model's verdict on one best practice."""

    choice_id: str = Field(description="a choice id listed for the question")
    verdict: Verdict
    evidence: list[QuoteIn] = Field(default_factory=list, max_length=4)
    guidance: list[str] = Field(
        default_factory=list, description="choice ids of the guidance notes relied on"
    )
    rationale: str = Field(max_length=800, description="one or two sentences: why this verdict")
    not_applicable_reason: ChoiceReason | None = Field(
        default=None, description="only when the document puts the practice out of scope"
    )


class QuestionAnswer(Model):
    """The model's answer to one question."""

    question_id: str
    best_practices: list[BestPracticeAnswer]
    summary: str = Field(max_length=1200, description="two or three sentences for the review notes")


class SubmitAssessment(Model):
    """Input of the ``submit_assessment`` tool: one answer per question of the request."""

    questions: list[QuestionAnswer]


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with every local ``$ref`` replaced by its definition (no ``$defs`` left)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                merged = {**walk(defs[name]), **{k: v for k, v in node.items() if k != "$ref"}}
                return merged
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def tool_config(model_id: str | None = None) -> dict[str, Any]:
    """The Converse ``toolConfig``: the one tool, forced when ``model_id``'s family accepts a
    forced tool (or no model is named)."""
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": TOOL_NAME,
                    "description": "Submit the assessment of every listed question and best "
                    "practice, with verbatim evidence quotes and page numbers.",
                    "inputSchema": {"json": inline_refs(SubmitAssessment.model_json_schema())},
                }
            }
        ],
    }
    if model_id is None or supports_forced_tool(model_id):
        config["toolChoice"] = {"tool": {"name": TOOL_NAME}}
    return config


def document_block(doc: DocumentText, nonce: str, limit: int = MAX_DOCUMENT_CHARS) -> str:
    """The document as one untrusted block with ``[page N]`` markers, sanitised and capped."""
    parts: list[str] = []
    used = 0
    for page in doc.pages:
        text = f"[page {page.number}]\n{sanitize(page.text)}\n"
        if used + len(text) > limit:
            parts.append(
                f"[document truncated after page {page.number - 1}: over {limit} characters]"
            )
            break
        parts.append(text)
        used += len(text)
    body = "\n".join(parts)
    return f"<untrusted-data-{nonce}>\n{body}\n</untrusted-data-{nonce}>"


def statements_block(statements: list[tuple[Statement, float]], nonce: str) -> str:
    """The relevant statements as one untrusted block: ``[p. N] (section) text {qualifiers}``."""
    lines = []
    for stmt, _ in statements:
        section = f" ({' > '.join(stmt.section)})" if stmt.section else ""
        quals = f" {{{', '.join(sorted(stmt.qualifiers))}}}" if stmt.qualifiers else ""
        lines.append(f"[p. {stmt.page}]{sanitize(section)} {sanitize(stmt.display)}{quals}")
    body = "\n".join(lines) or "(no statement of the document matches this question's guidance)"
    return f"<untrusted-data-{nonce}>\n{body}\n</untrusted-data-{nonce}>"


def guidance_block(guidance: QuestionGuidance, nonce: str) -> str:
    """Retrieved guidance passages, each labelled with its choice id, as an untrusted block."""
    items = []
    for passage in guidance.passages:
        meta = getattr(passage, "metadata", {}) or {}
        items.append(
            f"[guidance {meta.get('choice_id', '?')}]\n{sanitize(str(passage.text))[:3000]}"
        )
    body = "\n\n".join(items) or "(no guidance retrieved)"
    return f"<untrusted-data-{nonce}>\n{body}\n</untrusted-data-{nonce}>"


def check_answer(answer: SubmitAssessment, questions: list[Question]) -> list[str]:
    """Problems of an answer against the unit's questions (empty when valid)."""
    problems: list[str] = []
    wanted = {q.id: q for q in questions}
    seen = [qa.question_id for qa in answer.questions]
    for qid in seen:
        if qid not in wanted:
            problems.append(f"unknown question id {qid!r}; answer only {sorted(wanted)}")
    for qid in wanted:
        if qid not in seen:
            problems.append(f"question {qid!r} is missing")
    for qa in answer.questions:
        question = wanted.get(qa.question_id)
        if question is None:
            continue
        valid = {c.id for c in question.best_practices}
        given = [bp.choice_id for bp in qa.best_practices]
        invalid = [c for c in given if c not in valid]
        if invalid:
            problems.append(
                f"{qa.question_id}: invalid choice ids {invalid}; valid ids are {sorted(valid)}"
            )
        dupes = sorted({c for c in given if given.count(c) > 1})
        if dupes:
            problems.append(f"{qa.question_id}: choice ids answered twice: {dupes}")
        missing = sorted(valid - set(given))
        if missing:
            problems.append(f"{qa.question_id}: best practices not answered: {missing}")
    return problems


class _OutputCut(Exception):
    """The reply stopped at ``maxTokens`` (stopReason ``max_tokens``)."""


class _Usage:
    """Token counters (:data:`tools.aws.models.USAGE_FIELDS`) behind a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens = dict.fromkeys(USAGE_FIELDS, 0)

    def add(self, usage: dict[str, int]) -> None:
        with self.lock:
            for name, tokens in usage.items():
                self.tokens[name] += tokens

    def read(self) -> dict[str, int]:
        with self.lock:
            return dict(self.tokens)


class _Shared:
    """What an assessor and its per-review views share: the summed usage and the corpus."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.usage = _Usage()
        self.corpus: Corpus | None = None


class BedrockAssessor(Assessor):
    """Assess with a Bedrock model through Converse (see the module docstring).

    ``client`` is an injectable ``bedrock-runtime`` client; without one, a client is built from
    ``profile`` / ``region`` by :func:`tools.aws.session.make_client` (adaptive retries, 600 s
    read timeout). ``model_id`` None resolves the newest usable model of the family
    (``catalog_client``, a ``bedrock`` client, is injectable). ``nonce`` None draws one for this
    instance; the service uses :meth:`for_review` with the review's nonce instead.
    """

    name = "bedrock"

    def __init__(
        self,
        lens: Lens,
        model_id: str | None = None,
        *,
        client: Any = None,
        region: str | None = None,
        profile: str | None = None,
        max_tokens: int = 8192,
        max_repairs: int = 2,
        nonce: str | None = None,
        catalog_client: Any = None,
    ) -> None:
        if client is None:
            from tools.aws.session import make_client

            client = make_client("bedrock-runtime", profile=profile, region=region)
        self.lens = lens
        self.client = client
        self.region = region or getattr(client.meta, "region_name", None)
        try:
            self.model_id = resolve_model(
                model_id, catalog_client=catalog_client, profile=profile, region=self.region
            )
        except ModelError as exc:
            raise AssessmentError(str(exc)) from exc
        self.max_tokens = min(max_tokens, output_limit(self.model_id))
        self.max_repairs = max_repairs
        self.nonce = nonce or new_nonce()
        self._shared = _Shared()
        self._own: _Usage | None = None  # a per-review view's own counters (for_review)

    def for_review(self, nonce: str) -> BedrockAssessor:
        """A view of this assessor for one review: the same client, model and limits, the
        review's ``nonce`` in every request. The view's :meth:`usage` counts its own requests
        only (so two reviews running at once on one service report their own tokens); every
        request is summed into this assessor's usage too, and the guidance corpus is built once
        for both."""
        view = copy.copy(self)
        view.nonce = nonce
        view._own = _Usage()
        return view

    def _where(self) -> str:
        return f"model {self.model_id} in {self.region or 'the default Region'}"

    def converse(
        self,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: dict[str, Any],
    ) -> dict[str, Any]:
        """One Converse call (``system`` blocks, ``toolConfig`` = ``tools``, see
        :meth:`request`); errors translated (see the module docstring)."""
        try:
            response: dict[str, Any] = self.client.converse(
                modelId=self.model_id,
                system=system,
                messages=messages,
                toolConfig=tools,
                inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.0},
            )
        except (ClientError, BotoCoreError) as exc:
            error = translate_model(exc, f"model {self.model_id}", self.region)
            if isinstance(error, ThrottledError):  # the one throttling error, never wrapped
                raise error from exc
            raise AssessmentError(str(error)) from exc
        used = token_usage(response.get("usage"))
        self._shared.usage.add(used)
        if self._own is not None:
            self._own.add(used)
        return response

    def usage(self) -> dict[str, int]:
        """Tokens summed over every response so far, of this assessor and all its views, or of
        one view (:meth:`for_review`) alone: ``input_tokens`` (not read from or written to the
        cache), ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``."""
        return (self._own or self._shared.usage).read()

    def document_text(self, doc: DocumentText) -> str:
        """The document block of every request of a review: the intro and
        :func:`document_block` (byte-identical for one document and one nonce)."""
        return DOCUMENT_INTRO + document_block(doc, self.nonce)

    def request_text(
        self, doc: DocumentText, unit: Unit, guidance: dict[str, QuestionGuidance], mode: Mode
    ) -> str:
        """The unit's part of the user turn (questions, guidance, relevant statements, the
        reminder of the task); the document block comes before it (:meth:`request`)."""
        model = understand(doc)
        relevant = {
            q.id: statements_block(
                relevant_statements(
                    model,
                    list(guidance[q.id].notes.values()),
                    self._corpus([n for g in guidance.values() for n in g.notes.values()]),
                    RELEVANT_STATEMENTS,
                ),
                self.nonce,
            )
            for q in unit.questions
        }
        return render_template(
            "assess_request.md.j2",
            questions=unit.questions,
            pillar_name=self.lens.pillar(unit.pillar_id).name,
            mode=mode,
            guidance={q.id: guidance_block(guidance[q.id], self.nonce) for q in unit.questions},
            relevant=relevant,
            tool_name=TOOL_NAME,
        )

    def request(
        self, doc: DocumentText, unit: Unit, guidance: dict[str, QuestionGuidance], mode: Mode
    ) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
        """``(system, toolConfig, first user content)`` of a unit's request, with cache
        checkpoints where :func:`tools.aws.models.cache_checkpoints` places them (tool spec,
        system prompt, document; token counts estimated as characters / 4)."""
        system_text = render_template(
            "assess_system.md.j2", lens_name=self.lens.name, tool_name=TOOL_NAME, nonce=self.nonce
        )
        document = self.document_text(doc)
        tools = tool_config(self.model_id)
        system: list[dict[str, Any]] = [{"text": system_text}]
        content: list[dict[str, Any]] = [{"text": document}]
        add_cache_points(
            self.model_id,
            [
                ("tools", tools["tools"], estimate_tokens(json.dumps(tools["tools"]))),
                ("system", system, estimate_tokens(system_text)),
                ("messages", content, estimate_tokens(document)),
            ],
        )
        content.append({"text": self.request_text(doc, unit, guidance, mode)})
        return system, tools, content

    def _corpus(self, fallback: list[GuidanceNote]) -> Corpus:
        """Word statistics of the lens's whole guidance (else of the notes at hand)."""
        with self._shared.lock:
            if self._shared.corpus is None:
                try:
                    notes = load_guidance(self.lens)
                except (LensError, OSError):  # a partial or custom lens without its notes
                    notes = fallback
                self._shared.corpus = corpus_for(notes)
            return self._shared.corpus

    def assess(
        self,
        doc: DocumentText,
        unit: Unit,
        guidance: dict[str, QuestionGuidance],
        mode: Mode,
    ) -> list[QuestionDraft]:
        """Assess ``unit``; a reply cut at the output limit splits the unit in two halves.

        Raises:
            AssessmentError: no valid answer after the repairs, a blocked output, or one question
                that does not fit the output limit.
            ThrottledError: Bedrock throttled after botocore's retries.
        """
        try:
            return self._assess(doc, unit, guidance, mode)
        except _OutputCut:
            if len(unit.questions) < 2:
                raise AssessmentError(
                    f"{self._where()} reached its output limit ({self.max_tokens} tokens) on "
                    f"{unit.key} alone; use a model with a larger output limit"
                ) from None
            half = len(unit.questions) // 2
            parts = [unit.questions[:half], unit.questions[half:]]
            drafts: list[QuestionDraft] = []
            for n, questions in enumerate(parts, start=1):
                part = Unit(key=f"{unit.key}#{n}", pillar_id=unit.pillar_id, questions=questions)
                drafts += self.assess(doc, part, guidance, mode)
            return drafts

    def _assess(
        self,
        doc: DocumentText,
        unit: Unit,
        guidance: dict[str, QuestionGuidance],
        mode: Mode,
    ) -> list[QuestionDraft]:
        system, tools, content = self.request(doc, unit, guidance, mode)
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        problems: list[str] = []
        for _ in range(self.max_repairs + 1):
            response = self.converse(system, messages, tools)
            stop = response.get("stopReason")
            if stop == "max_tokens":
                raise _OutputCut()
            if stop in BLOCKED_STOPS:
                raise AssessmentError(
                    f"{self._where()} output was blocked (stopReason {stop}) for {unit.key}"
                )
            message = response.get("output", {}).get("message", {})
            uses = [b["toolUse"] for b in message.get("content", []) if "toolUse" in b]
            use = next((u for u in uses if u.get("name") == TOOL_NAME), None)
            messages.append(
                {"role": "assistant", "content": message.get("content") or [{"text": "(empty)"}]}
            )
            if use is None:
                problems = [f"no {TOOL_NAME} call (stopReason {response.get('stopReason')})"]
                messages.append(
                    {"role": "user", "content": [{"text": f"Answer by calling {TOOL_NAME}."}]}
                )
                continue
            try:
                answer = SubmitAssessment.model_validate(use.get("input"))
                problems = check_answer(answer, unit.questions)
            except ValidationError as exc:
                answer = None
                problems = [
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]
                ]
            if not problems and answer is not None:
                return [self._draft(doc, qa, guidance[qa.question_id]) for qa in answer.questions]
            result: dict[str, Any] = {
                "toolUseId": use["toolUseId"],
                "content": [{"text": "Rejected, fix and call again: " + "; ".join(problems)}],
            }
            if supports_tool_status(self.model_id):
                result["status"] = "error"
            messages.append({"role": "user", "content": [{"toolResult": result}]})
        raise AssessmentError(
            f"{self._where()} gave no valid assessment for {unit.key} after "
            f"{self.max_repairs + 1} attempts: {'; '.join(problems)[:400]}"
        )

    def _draft(
        self, doc: DocumentText, qa: QuestionAnswer, guidance: QuestionGuidance
    ) -> QuestionDraft:
        warnings: list[str] = []
        drafts: list[BestPracticeDraft] = []
        for bp in qa.best_practices:
            quotes, dropped = verify_quotes(
                doc, [Quote(page=e.page, text=e.quote) for e in bp.evidence]
            )
            warnings += [f"{bp.choice_id}: {d}" for d in dropped]
            verdict = bp.verdict
            if verdict in ("addressed", "partly") and not quotes:
                warnings.append(
                    f"{bp.choice_id}: verdict {verdict} had no verifiable quote; "
                    "recorded as insufficient_information"
                )
                verdict = "insufficient_information"
            cited = [g for g in bp.guidance if g in guidance.ranked]
            if len(cited) < len(bp.guidance):
                warnings.append(
                    f"{bp.choice_id}: guidance ids not retrieved for this question dropped: "
                    f"{sorted(set(bp.guidance) - set(cited))}"
                )
            if bp.not_applicable_reason and not quotes:
                warnings.append(
                    f"{bp.choice_id}: not applicable ({bp.not_applicable_reason}) without a "
                    "verifiable quote; kept as applicable"
                )
            drafts.append(
                BestPracticeDraft(
                    choice_id=bp.choice_id,
                    verdict=verdict,
                    evidence=quotes,
                    guidance=cited,
                    rationale=bp.rationale,
                    not_applicable=bp.not_applicable_reason if quotes else None,
                )
            )
        return QuestionDraft(
            question_id=qa.question_id, best_practices=drafts, summary=qa.summary, warnings=warnings
        )
