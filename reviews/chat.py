"""Follow-up chat on a review: multi-turn questions grounded in the assessment, the document and
the guidance, with citations.

Retrieval (both worlds): a bm25s index over three kinds of items, each with its citation:

- assessment items: one per question (number, title, risk, summary) -> ``question`` citation,
  and one per best practice (verdict, rationale, quotes) -> ``choice`` + ``page`` citations;
- document segments (verbatim page slices, :mod:`reviews.evidence`) -> ``page`` citations;
- guidance notes of the lens -> ``guidance`` citations.

Scope check: the question's content words (stemmed, stopwords and chat words such as "what" or
"design" removed) must mostly occur in one retrieved item (coverage >= :data:`MIN_COVERAGE`);
otherwise the answer says it cannot answer from this review and what it can answer. A short
follow-up ("and the database?") is read together with the previous question.

Answering: the embedded default (:class:`RetrievalResponder`) composes the answer from the
retrieved items (assessment first, then document quotes, then guidance), every line with its
citation; questions about priorities or overall risk are answered from the improvement plan and
the risk counts. :class:`BedrockResponder` sends the retrieved items to Converse inside
nonce-delimited ``<untrusted-data-…>`` tags (document text is untrusted: instructions in it are
never followed) with the conversation so far, and keeps only citations that exist in the
context.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from agent.untrusted import new_nonce, sanitize
from lenses.catalog import GuidanceNote
from reviews.document import understand
from reviews.errors import ReviewError
from reviews.grounding import dedupe, ground, terms
from reviews.models import Assessment, ChatTurn, Citation, DocumentText
from reviews.render import render_template
from tools.aws.errors import ThrottledError, translate_model

MIN_COVERAGE = 0.6
#: the grounded answer reaches the model whole (a retrieved item is cut at 1500 characters)
ANSWER_CHARS = 12_000
TOP_K = 8
_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|also|then|why|same for|and the)\b", re.I)
_PLAN_WORDS = {"priorit", "first", "fix", "improv", "top", "biggest", "worst", "recommend"}
_OVERALL_WORDS = {"overall", "summary", "summar", "verdict", "score", "count"}
_FREQUENCY = (
    "quarterly",
    "monthly",
    "weekly",
    "daily",
    "hourly",
    "annual",
    "annually",
    "yearly",
    "schedule",
    "regular",
    "interval",
    "cycle",
)
#: words a question uses that the document says differently
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "often": _FREQUENCY,
    "frequent": _FREQUENCY,
    "frequently": _FREQUENCY,
    "frequency": _FREQUENCY,
    "dr": ("disaster", "recovery"),
    # the AWS database services a design names instead of the word "database"
    "database": ("aurora", "rds", "dynamodb", "db", "documentdb", "neptune", "redshift"),
    "encrypt": ("encryption", "kms", "tls"),
    "encrypted": ("encryption", "kms", "tls"),
}


@dataclass
class Item:
    """One retrievable item and the citations it carries."""

    kind: str  # "question", "choice", "page", "guidance"
    text: str
    citations: list[Citation]
    display: str = ""
    terms: list[str] = field(default_factory=list)


@dataclass
class Hit:
    """A retrieved item with its BM25 score and term coverage of the question.

    ``direct`` marks items the question named (``REL 9``, ``REL09-BP01``, a choice id).
    """

    item: Item
    score: float
    coverage: float
    direct: bool = False


_QUESTION_NUMBER = re.compile(r"\b(OPS|SEC|REL|PERF|COST|SUS)\s*0?(\d{1,2})\b", re.I)
_BP_ID = re.compile(r"\b([A-Z]{2,4}\d{2}-BP\d{2})\b", re.I)


class ChatIndex:
    """bm25s over the assessment, the document and the guidance notes of one review."""

    def __init__(
        self, assessment: Assessment, doc: DocumentText | None, notes: list[GuidanceNote]
    ) -> None:
        self.assessment = assessment
        items: list[Item] = []
        for qa in assessment.questions:
            items.append(
                Item(
                    "question",
                    f"{qa.number} {qa.title} risk {qa.risk}. {qa.summary} "
                    + " ".join(bp.title for bp in qa.best_practices),
                    [Citation(kind="question", ref=qa.question_id, label=qa.number)],
                    display=f"{qa.number} {qa.title}: risk {qa.risk}. {qa.summary}",
                )
            )
            for bp in qa.best_practices:
                quotes = " ".join(" ".join(e.text.split()) for e in bp.evidence)
                cites = [
                    Citation(
                        kind="choice",
                        ref=bp.choice_id,
                        label=f"{qa.number} {bp.bp_id or ''}".strip(),
                    )
                ]
                cites += [
                    Citation(kind="page", ref=str(e.page), label=f"p. {e.page}")
                    for e in bp.evidence
                ]
                shown = f"{bp.title} ({qa.number}): {bp.verdict.replace('_', ' ')}"
                if bp.evidence:
                    first = " ".join(bp.evidence[0].text.split())
                    shown += f"; p. {bp.evidence[0].page}: \u201c{first[:200]}\u201d"
                items.append(
                    Item(
                        "choice",
                        f"{bp.title} ({qa.number} {qa.title}): {bp.verdict.replace('_', ' ')}. "
                        f"{bp.rationale} {quotes}",
                        cites,
                        display=shown,
                    )
                )
        self.model = understand(doc) if doc is not None else None
        self.notes = {note.choice_id: note for note in notes}
        if self.model is not None:
            for stmt in self.model.evidence():  # no headings, header rows, glossary or TOC
                items.append(
                    Item(
                        "page",
                        stmt.text,
                        [Citation(kind="page", ref=str(stmt.page), label=f"p. {stmt.page}")],
                        display=stmt.display,
                    )
                )
        wanted = {qa.question_id for qa in assessment.questions}
        for note in notes:
            if note.question_id in wanted:
                items.append(
                    Item(
                        "guidance",
                        f"{note.title}. {note.good} Signals: {', '.join(note.signals)}.",
                        [
                            Citation(
                                kind="guidance",
                                ref=note.choice_id,
                                label=note.bp_id or note.choice_id,
                            )
                        ],
                        display=f"{note.title} ({note.bp_id or note.choice_id}): {note.good}",
                    )
                )
        for item in items:
            item.terms = terms(item.text)
        self.items = items
        self.vocab = {t for item in items for t in item.terms}
        self._bm25 = bm25s.BM25()
        self._bm25.index([item.terms or ["empty"] for item in items], show_progress=False)

    def direct(self, question: str) -> list[Hit]:
        """Items the question names: question numbers, best-practice ids, choice ids."""
        a = self.assessment
        numbers = {
            f"{m.group(1).upper()} {int(m.group(2))}" for m in _QUESTION_NUMBER.finditer(question)
        }
        bp_ids = {m.group(1).upper() for m in _BP_ID.finditer(question)}
        words = set(re.findall(r"[a-z0-9_]+", question.lower()))
        qids = {qa.question_id for qa in a.questions if qa.number.upper() in numbers}
        cids = {
            bp.choice_id
            for qa in a.questions
            for bp in qa.best_practices
            if bp.choice_id in words or (bp.bp_id or "").upper() in bp_ids
        }
        hits = []
        for item in self.items:
            refs = {(c.kind, c.ref) for c in item.citations}
            if (item.kind == "question" and any(("question", q) in refs for q in qids)) or (
                item.kind == "choice" and any(("choice", c) in refs for c in cids)
            ):
                hits.append(Hit(item, 1.0, 1.0, direct=True))
        for item in self.items:  # the best practices of a named question
            if (
                item.kind == "choice"
                and qids
                and any(
                    item.citations[0].label.startswith(n + " ") or item.citations[0].label == n
                    for n in numbers
                )
                and all(h.item is not item for h in hits)
            ):
                hits.append(Hit(item, 1.0, 1.0, direct=True))
        return hits

    def search(
        self, query_terms: list[str], k: int = TOP_K, focus: list[str] | None = None
    ) -> list[Hit]:
        """Best items for the terms.

        Each term also matches its :data:`EXPANSIONS` ("often" matches "quarterly"). Coverage is
        the share of the terms an item contains; items are ranked by coverage plus the share of
        the ``focus`` terms (the newest question's own words) they contain, then BM25 score.
        """
        groups = [{t, *EXPANSIONS.get(t, ())} for t in dict.fromkeys(query_terms)]
        focus_groups = [{t, *EXPANSIONS.get(t, ())} for t in dict.fromkeys(focus or [])]
        known = sorted({t for g in groups for t in g if t in self._bm25.vocab_dict})
        if not known:
            return []
        scores = np.asarray(self._bm25.get_scores(known), dtype=float)
        order = [int(i) for i in np.argsort(-scores, kind="stable")[: k * 4] if scores[i] > 0]
        hits = []
        ranks = {}
        for i in order:
            item_terms = set(self.items[i].terms)
            cov = sum(1 for g in groups if g & item_terms) / len(groups)
            focused = (
                sum(1 for g in focus_groups if g & item_terms) / len(focus_groups)
                if focus_groups
                else 0.0
            )
            hit = Hit(self.items[i], float(scores[i]), cov)
            ranks[id(hit)] = cov + focused
            hits.append(hit)
        hits.sort(key=lambda h: (-ranks[id(h)], -h.score))
        return hits[:k]


class ChatAnswer:
    """An answer: text, citations, and whether the review could answer at all."""

    def __init__(self, text: str, citations: list[Citation], answered: bool) -> None:
        self.text = text
        self.citations = citations
        self.answered = answered


class Responder(ABC):
    """Turns retrieved context into an answer."""

    @abstractmethod
    def answer(
        self, question: str, hits: list[Hit], history: list[ChatTurn], index: ChatIndex
    ) -> ChatAnswer:
        """Answer ``question`` from ``hits`` (already judged in scope)."""


def _tag(c: Citation) -> str:
    if c.kind == "page":
        return f"[p. {c.ref}]"
    if c.kind == "question":
        return f"[{c.label}]"
    if c.kind == "guidance":
        return f"[guidance: {c.ref}]"
    return f"[{c.ref}]"


class RetrievalResponder(Responder):
    """The embedded default: an extractive answer built from the retrieved items."""

    def answer(
        self, question: str, hits: list[Hit], history: list[ChatTurn], index: ChatIndex
    ) -> ChatAnswer:
        if hits and hits[0].item.kind == "answer":  # a grounded answer (reviews.grounding)
            first = hits[0]
            return ChatAnswer(first.item.text, first.item.citations, first.direct)
        q_terms = set(terms(question))
        lines: list[str] = []
        cites: list[Citation] = []
        a = index.assessment
        if any(any(t.startswith(w) for w in _PLAN_WORDS) for t in q_terms):
            lines.append("Highest-priority improvements from the plan:")
            for rec in a.recommendations[:5]:
                qa = a.question(rec.question_id)
                c = [
                    Citation(kind="question", ref=qa.question_id, label=qa.number),
                    Citation(kind="choice", ref=rec.choice_id, label=rec.bp_id or rec.choice_id),
                ]
                cites += c
                lines.append(
                    f"- {rec.priority}. {rec.title} ({rec.bp_risk or 'n/a'} risk, "
                    f"{rec.verdict.replace('_', ' ')}) {_tag(c[0])} {_tag(c[1])}"
                )
        if any(any(t.startswith(w) for w in _OVERALL_WORDS) for t in q_terms):
            counts = a.risk_counts()
            lines.append(
                f"Overall: {counts['HIGH']} high-risk, {counts['MEDIUM']} medium-risk questions, "
                f"{counts['NONE']} without risk, {counts['UNANSWERED']} unanswered "
                f"(of {len(a.questions)})."
            )
        direct = [h for h in hits if h.direct]
        if direct:
            for hit in direct[:12]:
                lines.append(
                    f"- {hit.item.display or hit.item.text} "
                    + " ".join(_tag(c) for c in hit.item.citations)
                )
                cites += hit.item.citations
            return ChatAnswer("\n".join(lines), dedupe(cites), True)
        used = 0
        for kind, intro in (
            ("question", "From the assessment:"),
            ("choice", None),
            ("page", "In the document:"),
            ("guidance", "Guidance:"),
        ):
            chosen = [h for h in hits if h.item.kind == kind and h.coverage >= MIN_COVERAGE / 2][
                : 2 if kind != "choice" else 3
            ]
            if not chosen:
                continue
            if intro and not (kind == "question" and used):
                lines.append(intro)
            for hit in chosen:
                text = hit.item.display or hit.item.text
                text = f"\u201c{text[:300]}\u201d" if kind == "page" else text[:400]
                lines.append(f"- {text} " + " ".join(_tag(c) for c in hit.item.citations))
                cites += hit.item.citations
                used += 1
        if not lines:
            return ChatAnswer(_cannot(question, index), [], False)
        return ChatAnswer("\n".join(lines), dedupe(cites), True)


def _cannot(question: str, index: ChatIndex) -> str:
    a = index.assessment
    pillars = ", ".join(p.name for p in a.pillars)
    return (
        f"I cannot answer that from this review: nothing in the assessment, the document "
        f"({a.document.rsplit('/', 1)[-1]}) or the lens guidance covers it. I can answer about "
        f"the {len(a.questions)} assessed questions ({pillars}), their verdicts, evidence pages, "
        "risks and the improvement plan."
    )


class BedrockResponder(Responder):
    """Converse over the retrieved context (untrusted, nonce-delimited) and the chat history."""

    def __init__(
        self, client: Any, model_id: str, *, nonce: str | None = None, max_tokens: int = 1200
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.nonce = nonce or new_nonce()
        self.max_tokens = max_tokens

    def context_block(self, hits: list[Hit]) -> str:
        """The retrieved items, each with its citation tags, in one untrusted block."""
        body = "\n".join(
            " ".join(_tag(c) for c in h.item.citations)
            + f" ({h.item.kind}) "
            + sanitize(h.item.text)[: ANSWER_CHARS if h.item.kind == "answer" else 1500]
            for h in hits
        )
        return f"<untrusted-data-{self.nonce}>\n{body}\n</untrusted-data-{self.nonce}>"

    def answer(
        self, question: str, hits: list[Hit], history: list[ChatTurn], index: ChatIndex
    ) -> ChatAnswer:
        a = index.assessment
        system = render_template(
            "chat_system.md.j2",
            review_id=a.review_id,
            document=a.document.rsplit("/", 1)[-1],
            lens_name=a.lens_name,
            nonce=self.nonce,
        )
        messages: list[dict[str, Any]] = []
        for turn in history[-6:]:
            messages.append({"role": turn.role, "content": [{"text": turn.text or "(empty)"}]})
        messages.append(
            {
                "role": "user",
                "content": [
                    {"text": f"Context:\n{self.context_block(hits)}\n\nQuestion: {question}"}
                ],
            }
        )
        try:
            response = self.client.converse(
                modelId=self.model_id,
                system=[{"text": system}],
                messages=messages,
                inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.0},
            )
        except (ClientError, BotoCoreError) as exc:
            error = translate_model(exc, f"model {self.model_id}", None)
            if isinstance(error, ThrottledError):
                raise error from exc
            raise ReviewError(f"{error}; or use --model heuristic to answer offline") from exc
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "\n".join(b["text"] for b in content if "text" in b).strip()
        available = dedupe([c for h in hits for c in h.item.citations])
        cited = [c for c in available if _tag(c) in text]
        answered = "cannot answer" not in text.lower()
        return ChatAnswer(text, cited, answered and bool(text))


class ReviewChat:
    """A multi-turn chat on one review; turns are kept in ``history`` (and the store if given)."""

    def __init__(
        self,
        assessment: Assessment,
        doc: DocumentText | None,
        notes: list[GuidanceNote],
        *,
        responder: Responder | None = None,
        history: list[ChatTurn] | None = None,
        store: Any = None,
    ) -> None:
        self.index = ChatIndex(assessment, doc, notes)
        self.responder = responder or RetrievalResponder()
        self.history = list(history or [])
        self.store = store

    def _query_terms(self, question: str) -> list[str]:
        current = terms(question)
        previous = [t for t in self.history if t.role == "user"]
        known = any(t in self.index.vocab for t in current)
        if previous and ((len(current) <= 2 and known) or _FOLLOW_UP.match(question)):
            current = current + [t for t in terms(previous[-1].text) if t not in current]
        return current

    def ask(self, question: str) -> ChatTurn:
        """Answer one question; return the assistant turn (with citations)."""
        grounded = ground(question, self.index.assessment, self.index.model, self.index.notes)
        if grounded is not None:
            item = Item("answer", grounded.text, grounded.citations, display=grounded.text)
            # ``direct`` carries whether the review could answer (a Hit has no other slot)
            hits = [Hit(item, 1.0, 1.0, direct=grounded.answered)]
            hits += self.index.search(terms(question), k=4) if terms(question) else []
            answer = self.responder.answer(question, hits, self.history, self.index)
            return self._record(question, answer)
        direct = self.index.direct(question)
        query = self._query_terms(question) if not direct else terms(question)
        hits = direct or (self.index.search(query, focus=terms(question)) if query else [])
        words = set(terms(question))
        intent = any(any(t.startswith(w) for w in _PLAN_WORDS | _OVERALL_WORDS) for t in words)
        in_scope = bool(direct) or intent or (bool(hits) and hits[0].coverage >= MIN_COVERAGE)
        if in_scope:
            answer = self.responder.answer(question, hits, self.history, self.index)
        else:
            answer = ChatAnswer(_cannot(question, self.index), [], False)
        return self._record(question, answer)

    def _record(self, question: str, answer: ChatAnswer) -> ChatTurn:
        user = ChatTurn(role="user", text=question)
        reply = ChatTurn(
            role="assistant", text=answer.text, citations=answer.citations, answered=answer.answered
        )
        self.history += [user, reply]
        if self.store is not None:
            self.store.append_chat(self.index.assessment.review_id, user)
            self.store.append_chat(self.index.assessment.review_id, reply)
        return reply
