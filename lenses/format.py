"""The WA custom-lens JSON format: document models, the documented limits and their validation.

A lens file looks like this (AWS WA Tool user guide, "Lens format specification")::

    {"schemaVersion": "2021-11-01", "name": "...", "description": "...",
     "pillars": [{"id": "...", "name": "...",
       "questions": [{"id": "...", "title": "...", "description": "...",
         "helpfulResource": {"displayText": "...", "url": "https://..."},
         "choices": [{"id": "...", "title": "...",
                      "helpfulResource": {"displayText": "...", "url": "..."},
                      "improvementPlan": {"displayText": "...", "url": "..."},
                      "additionalResources": [{"type": "HELPFUL_RESOURCE",
                                               "content": [{"displayText": "...", "url": "..."}]}]},
                     {"id": "..._no", "title": "None of these"}],
         "riskRules": [{"condition": "a && b", "risk": "NO_RISK"},
                       {"condition": "default", "risk": "HIGH_RISK"}]}]}]}

:func:`parse_document` reads the bytes and reports every problem it finds in one
:class:`LensError`, each problem prefixed with its JSON path (``pillars[0].questions[2].title``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from lenses.conditions import DEFAULT, ConditionError, parse_condition, referenced_choices
from tools.errors import RcaError

SCHEMA_VERSION = "2021-11-01"
NONE_SUFFIX = "_no"
"""A choice whose id ends in ``_no`` acts as the question's "None of these" choice (spec)."""

WA_PILLAR_IDS = (
    "operationalExcellence",
    "security",
    "reliability",
    "performance",
    "costOptimization",
    "sustainability",
)


class LensError(RcaError):
    """A lens or its guidance cannot be loaded, or an id does not exist in the lens.

    ``problems`` lists every individual problem (JSON path and reason) when there are several.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class LensLimits(BaseModel):
    """Limits a lens must respect.

    The defaults are the custom-lens limits of the AWS WA Tool user guide, "Lens format
    specification": lens name <= 128 and description <= 2048 characters; up to 10 pillars; up to
    20 questions per pillar; up to 15 choices per question; ids of 3 to 128 alphanumeric or ``_``
    characters; pillar names, question and choice titles <= 128; descriptions and display texts
    <= 2048; up to five additional resources of each type per choice; at most three risk rules per
    question, one per risk level, with a ``default`` rule. ``max_file_bytes`` is the 500 KB size
    limit of a custom lens file (user guide, "Creating a custom lens"; the ImportLens API), taken
    as 500,000 bytes, the stricter reading.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: int = 500_000
    name_max: int = 128
    description_max: int = 2048
    max_pillars: int = 10
    max_questions_per_pillar: int = 20
    max_choices_per_question: int = 15
    title_max: int = 128
    text_max: int = 2048
    max_additional_per_type: int = 5
    max_risk_rules: int = 3
    id_pattern: str = r"^[A-Za-z0-9_]{3,128}$"


CUSTOM_LIMITS = LensLimits()
OFFICIAL_LIMITS = LensLimits(id_pattern=r"^[A-Za-z0-9_-]{3,128}$", title_max=256)
"""Limits for the AWS lenses shipped with the product: the WA Tool's own question ids contain
``-`` (``ops-model``) and one official question title is longer than 128 characters (SEC 11), so
these two rules are relaxed; every other custom-lens limit still applies."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceDoc(_Doc):
    """``helpfulResource`` / ``improvementPlan`` / additional resource content."""

    displayText: str | None = None
    url: str | None = None


class AdditionalResourcesDoc(_Doc):
    """A choice's additional helpful resources or improvement-plan items."""

    type: Literal["HELPFUL_RESOURCE", "IMPROVEMENT_PLAN"]
    content: list[ResourceDoc]


class ChoiceDoc(_Doc):
    """A choice (a best practice, or "None of these" when its id ends in ``_no``)."""

    id: str
    title: str
    helpfulResource: ResourceDoc | None = None
    improvementPlan: ResourceDoc | None = None
    additionalResources: list[AdditionalResourcesDoc] = []

    @property
    def is_none(self) -> bool:
        """True for the question's "None of these" choice."""
        return self.id.endswith(NONE_SUFFIX)


class RiskRuleDoc(_Doc):
    """A risk rule: the first rule whose condition holds sets the question's risk."""

    condition: str
    risk: Literal["HIGH_RISK", "MEDIUM_RISK", "NO_RISK"]


class QuestionDoc(_Doc):
    """A question with its choices and risk rules."""

    id: str
    title: str
    description: str = ""
    helpfulResource: ResourceDoc | None = None
    choices: list[ChoiceDoc]
    riskRules: list[RiskRuleDoc]


class PillarDoc(_Doc):
    """A pillar and its questions."""

    id: str
    name: str
    questions: list[QuestionDoc]


class LensDocument(_Doc):
    """A whole lens file in the WA custom-lens JSON format."""

    schemaVersion: str
    name: str
    description: str = ""
    pillars: list[PillarDoc]


def parse_document(raw: bytes, source: str, limits: LensLimits = CUSTOM_LIMITS) -> LensDocument:
    """Parse and validate lens JSON bytes; ``source`` names the file in messages.

    Raises:
        LensError: the file is too large, not JSON, not shaped like a lens, or breaks a limit or
            an id rule; ``problems`` lists every problem found.
    """
    if len(raw) > limits.max_file_bytes:
        raise LensError(
            f"{source}: lens file is {len(raw):,} bytes, over the {limits.max_file_bytes:,}-byte "
            "limit of a custom lens (500 KB); shorten descriptions or split the lens"
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise LensError(f"{source}: lens file is not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise LensError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, dict):
        raise LensError(f"{source}: a lens file holds one JSON object, found {type(data).__name__}")
    try:
        doc = LensDocument.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise _invalid(source, problems) from exc
    problems = list(check_document(doc, limits))
    if problems:
        raise _invalid(source, problems)
    return doc


def _invalid(source: str, problems: list[str]) -> LensError:
    shown = "; ".join(problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    noun = "problem" if len(problems) == 1 else "problems"
    return LensError(f"{source}: invalid lens, {len(problems)} {noun}: {shown}{more}", problems)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def check_document(doc: LensDocument, limits: LensLimits = CUSTOM_LIMITS) -> Iterator[str]:
    """Yield every limit or id problem of a parsed lens, each prefixed with its JSON path."""
    id_re = re.compile(limits.id_pattern)
    if doc.schemaVersion != SCHEMA_VERSION:
        yield f"schemaVersion: must be {SCHEMA_VERSION!r}, found {doc.schemaVersion!r}"
    yield from _text("name", doc.name, limits.name_max, required=True)
    yield from _text("description", doc.description, limits.description_max)
    if not doc.pillars:
        yield "pillars: a lens needs at least one pillar"
    if len(doc.pillars) > limits.max_pillars:
        yield f"pillars: {len(doc.pillars)} pillars, the limit is {limits.max_pillars}"
    pillar_ids: set[str] = set()
    question_ids: set[str] = set()
    for p, pillar in enumerate(doc.pillars):
        at = f"pillars[{p}]"
        yield from _id(f"{at}.id", pillar.id, id_re, pillar_ids, "pillar")
        yield from _text(f"{at}.name", pillar.name, limits.title_max, required=True)
        if not pillar.questions:
            yield f"{at}.questions: pillar {pillar.id!r} has no questions"
        if len(pillar.questions) > limits.max_questions_per_pillar:
            yield (
                f"{at}.questions: {len(pillar.questions)} questions in pillar {pillar.id!r}, "
                f"the limit is {limits.max_questions_per_pillar}"
            )
        for q, question in enumerate(pillar.questions):
            yield from _check_question(
                f"{at}.questions[{q}]", question, limits, id_re, question_ids
            )


def _check_question(
    at: str, question: QuestionDoc, limits: LensLimits, id_re: re.Pattern[str], seen: set[str]
) -> Iterator[str]:
    yield from _id(f"{at}.id", question.id, id_re, seen, "question")
    yield from _text(f"{at}.title", question.title, limits.title_max, required=True)
    yield from _text(f"{at}.description", question.description, limits.text_max)
    yield from _resource(f"{at}.helpfulResource", question.helpfulResource, limits)
    if not question.choices:
        yield f"{at}.choices: question {question.id!r} has no choices"
    if len(question.choices) > limits.max_choices_per_question:
        yield (
            f"{at}.choices: {len(question.choices)} choices in question {question.id!r}, "
            f"the limit is {limits.max_choices_per_question}"
        )
    choice_ids: set[str] = set()
    nones = [c.id for c in question.choices if c.is_none]
    if len(nones) > 1:
        yield f"{at}.choices: several 'None of these' choices (ids ending in _no): {nones}"
    for c, choice in enumerate(question.choices):
        cat = f"{at}.choices[{c}]"
        yield from _id(f"{cat}.id", choice.id, id_re, choice_ids, f"choice of {question.id!r}")
        yield from _text(f"{cat}.title", choice.title, limits.title_max, required=True)
        yield from _resource(f"{cat}.helpfulResource", choice.helpfulResource, limits)
        plan = choice.improvementPlan
        if not choice.is_none and (plan is None or not plan.displayText):
            yield f"{cat}.improvementPlan: required for every choice except 'None of these'"
        yield from _resource(f"{cat}.improvementPlan", choice.improvementPlan, limits)
        kinds: set[str] = set()
        for r, extra in enumerate(choice.additionalResources):
            rat = f"{cat}.additionalResources[{r}]"
            if extra.type in kinds:
                yield f"{rat}.type: {extra.type} appears twice; put all its items in one entry"
            kinds.add(extra.type)
            if len(extra.content) > limits.max_additional_per_type:
                yield (
                    f"{rat}.content: {len(extra.content)} items, the limit is "
                    f"{limits.max_additional_per_type} per type"
                )
            for i, item in enumerate(extra.content):
                yield from _resource(f"{rat}.content[{i}]", item, limits)
    yield from _check_rules(at, question, limits, choice_ids)


def _check_rules(
    at: str, question: QuestionDoc, limits: LensLimits, choice_ids: set[str]
) -> Iterator[str]:
    rules = question.riskRules
    if len(rules) > limits.max_risk_rules:
        yield f"{at}.riskRules: {len(rules)} rules, the limit is {limits.max_risk_rules}"
    risks = [r.risk for r in rules]
    for risk in sorted({r for r in risks if risks.count(r) > 1}):
        yield f"{at}.riskRules: {risk} appears in several rules; use one rule per risk level"
    defaults = [r for r in rules if r.condition.strip() == DEFAULT]
    if len(defaults) != 1:
        yield f"{at}.riskRules: needs exactly one 'default' rule, found {len(defaults)}"
    for r, rule in enumerate(rules):
        try:
            expr = parse_condition(rule.condition)
        except ConditionError as exc:
            yield f"{at}.riskRules[{r}].condition: {exc}"
            continue
        unknown = sorted(referenced_choices(expr) - choice_ids)
        if unknown:
            yield (
                f"{at}.riskRules[{r}].condition: unknown choice ids {unknown} "
                f"(question {question.id!r} has {sorted(choice_ids)})"
            )


def _id(at: str, value: str, id_re: re.Pattern[str], seen: set[str], what: str) -> Iterator[str]:
    if not id_re.match(value):
        yield (
            f"{at}: {what} id {value!r} must be 3 to 128 characters of letters, digits and "
            f"underscores"
        )
    if value in seen:
        yield f"{at}: duplicate {what} id {value!r}"
    seen.add(value)


def _text(at: str, value: str | None, limit: int, required: bool = False) -> Iterator[str]:
    if required and not (value or "").strip():
        yield f"{at}: must not be empty"
    if value is not None and len(value) > limit:
        yield f"{at}: {len(value)} characters, the limit is {limit}"


def _resource(at: str, res: ResourceDoc | None, limits: LensLimits) -> Iterator[str]:
    if res is None:
        return
    yield from _text(f"{at}.displayText", res.displayText, limits.text_max)
    if res.url is not None:
        if not res.displayText:
            yield f"{at}.displayText: required when a url is given"
        if not res.url.startswith(("http://", "https://")):
            yield f"{at}.url: must start with http:// or https://, found {res.url[:60]!r}"
