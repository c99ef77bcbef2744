"""Lens catalogs: lenses in the WA custom-lens JSON format, and per-best-practice guidance notes.

A shipped lens lives in ``lenses/<alias>/``:

``lens.json``
    the lens in the WA custom-lens JSON format (see :mod:`lenses.format`), with the WA Tool's own
    pillar, question and choice ids;
``lens.meta.json``
    what the format has no field for (:class:`LensMeta`): alias, version, question numbers
    (``OPS 1``) and, per choice, the risk of not following the best practice and its id in the
    AWS documentation (``OPS01-BP01``);
``guidance/<pillarId>.yaml``
    one guidance note per best-practice choice (:class:`GuidanceNote`): what good looks like,
    signals of it in a design document, common gaps.

``load_lens("wellarchitected")`` loads a shipped lens; ``load_lens(path)`` loads a custom lens:
a JSON file, or a directory holding ``lens.json`` and optionally ``lens.meta.json`` and
``guidance/``. Custom lenses are checked against every documented custom-lens limit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from lenses.conditions import evaluate, parse_condition
from lenses.format import (
    CUSTOM_LIMITS,
    OFFICIAL_LIMITS,
    LensDocument,
    LensError,
    LensLimits,
    QuestionDoc,
    parse_document,
)
from tools.models import Model

__all__ = [
    "Choice",
    "GuidanceNote",
    "Lens",
    "LensError",
    "LensMeta",
    "Pillar",
    "Question",
    "RiskRule",
    "load_guidance",
    "load_lens",
    "shipped_lenses",
]

LENSES_DIR = Path(__file__).resolve().parent
DEFAULT_LENS = "wellarchitected"

RiskLevel = Literal["HIGH", "MEDIUM", "LOW", "NONE"]
QuestionRisk = Literal["HIGH_RISK", "MEDIUM_RISK", "NO_RISK"]

PILLAR_PREFIX = {
    "operationalExcellence": "OPS",
    "security": "SEC",
    "reliability": "REL",
    "performance": "PERF",
    "costOptimization": "COST",
    "sustainability": "SUS",
}


class Choice(Model):
    """A choice of a question: a best practice, or the question's "None of these" choice.

    ``risk`` is the risk of *not* following the best practice (``NONE`` for "None of these").
    ``description`` is the choice's helpful-resource text, ``improvement_plan`` its
    improvement-plan text, ``url`` its helpful-resource link.
    """

    id: str
    title: str
    description: str = ""
    risk: RiskLevel
    bp_id: str | None = Field(default=None, description="e.g. OPS01-BP01; None for none-choice")
    is_none: bool = False
    improvement_plan: str = ""
    url: str | None = None


class RiskRule(Model):
    """A risk rule of a question: ``condition`` (see :mod:`lenses.conditions`) -> ``risk``."""

    condition: str
    risk: QuestionRisk

    def holds(self, selected: Iterable[str]) -> bool:
        """True when the condition holds for the selected choice ids."""
        return evaluate(parse_condition(self.condition), selected)


class Question(Model):
    """A lens question with its choices (best practices plus "None of these") and risk rules."""

    id: str
    number: str = Field(description="e.g. OPS 1")
    title: str
    description: str = ""
    pillar_id: str
    choices: list[Choice]
    risk_rules: list[RiskRule]

    @property
    def best_practices(self) -> list[Choice]:
        """The choices that are best practices (every choice but "None of these")."""
        return [c for c in self.choices if not c.is_none]

    @property
    def none_choice(self) -> Choice | None:
        """The "None of these" choice, if the question has one."""
        return next((c for c in self.choices if c.is_none), None)

    def risk(self, selected: Iterable[str]) -> QuestionRisk:
        """The question's risk for a set of selected choice ids: the first rule that holds.

        Falls back to ``HIGH_RISK`` when no rule holds (a lens without a ``default`` rule).
        """
        chosen = set(selected)
        for rule in self.risk_rules:
            if rule.holds(chosen):
                return rule.risk
        return "HIGH_RISK"


class Pillar(Model):
    """A pillar (``operationalExcellence``, ...) and its questions, in the lens's order."""

    id: str
    name: str
    questions: list[Question]


class Lens(Model):
    """A lens: pillars, questions, choices and risk rules, with id lookups.

    Loaded lenses are shared (cached): treat them as read-only.
    """

    alias: str
    name: str
    description: str
    version: str
    pillars: list[Pillar]

    _questions: dict[str, Question] = PrivateAttr(default_factory=dict)
    _source_dir: Path | None = PrivateAttr(default=None)

    def model_post_init(self, context: object, /) -> None:
        """Index questions by id."""
        self._questions = {q.id: q for p in self.pillars for q in p.questions}

    @property
    def source_dir(self) -> Path | None:
        """The directory the lens was loaded from (where ``guidance/`` is looked up)."""
        return self._source_dir

    def pillar(self, pillar_id: str) -> Pillar:
        """The pillar with this id.

        Raises:
            LensError: unknown pillar id (the message lists the lens's pillar ids).
        """
        for pillar in self.pillars:
            if pillar.id == pillar_id:
                return pillar
        ids = [p.id for p in self.pillars]
        raise LensError(f"unknown pillar {pillar_id!r} in lens {self.alias!r}; pillars: {ids}")

    def questions(self, pillars: Iterable[str] | None = None) -> list[Question]:
        """All questions in lens order, or those of the given pillar ids.

        Raises:
            LensError: a pillar id is not in the lens.
        """
        if pillars is None:
            return [q for p in self.pillars for q in p.questions]
        wanted = [pillars] if isinstance(pillars, str) else list(pillars)
        for pillar_id in wanted:
            self.pillar(pillar_id)
        return [q for p in self.pillars if p.id in wanted for q in p.questions]

    def question(self, question_id: str) -> Question:
        """The question with this id.

        Raises:
            LensError: unknown id; the message names the closest question ids.
        """
        try:
            return self._questions[question_id]
        except KeyError:
            close = get_close_matches(question_id, list(self._questions), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise LensError(
                f"unknown question id {question_id!r} in lens {self.alias!r}{hint}"
            ) from None

    def choice(self, question_id: str, choice_id: str) -> Choice:
        """The choice ``choice_id`` of question ``question_id``.

        Raises:
            LensError: unknown question, or the choice is not one of the question's choices.
        """
        question = self.question(question_id)
        for choice in question.choices:
            if choice.id == choice_id:
                return choice
        ids = [c.id for c in question.choices]
        close = get_close_matches(choice_id, ids, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; choices: {ids}"
        raise LensError(f"{choice_id!r} is not a choice of question {question_id!r}{hint}")

    def validate_choice_ids(self, question_id: str, choice_ids: Iterable[str]) -> None:
        """Check that every id is a choice of the question and "None of these" stands alone.

        Raises:
            LensError: naming every invalid id, or the none-choice combined with best practices.
        """
        question = self.question(question_id)
        known = {c.id for c in question.choices}
        given = list(dict.fromkeys(choice_ids))
        invalid = [c for c in given if c not in known]
        if invalid:
            raise LensError(
                f"not choices of question {question_id!r} ({question.number}): {invalid}; "
                f"valid choice ids: {sorted(known)}"
            )
        none = question.none_choice
        if none is not None and none.id in given and len(given) > 1:
            raise LensError(
                f"question {question_id!r}: the 'None of these' choice {none.id!r} cannot be "
                "selected together with best practices"
            )

    def choice_count(self) -> int:
        """Number of best-practice choices (without the "None of these" choices)."""
        return sum(len(q.best_practices) for q in self.questions())


class QuestionMeta(Model):
    """Per-question data of ``lens.meta.json``."""

    number: str


class ChoiceMeta(Model):
    """Per-choice data of ``lens.meta.json``: risk of not following it, documentation id."""

    risk: RiskLevel
    bp_id: str | None = None


class LensMeta(Model):
    """``lens.meta.json``: what the WA custom-lens format cannot carry.

    ``choices`` is keyed by choice id, ``questions`` by question id; both may be partial (missing
    numbers and risks are derived, see :func:`load_lens`). ``source`` says where ids come from.
    """

    alias: str
    version: str
    source: str = ""
    questions: dict[str, QuestionMeta] = Field(default_factory=dict)
    choices: dict[str, ChoiceMeta] = Field(default_factory=dict)


def shipped_lenses() -> list[str]:
    """Aliases of the lenses shipped in the package (directories holding a ``lens.json``)."""
    return sorted(p.parent.name for p in LENSES_DIR.glob("*/lens.json"))


def load_lens(ref: str | Path = DEFAULT_LENS) -> Lens:
    """Load a lens: the alias of a shipped lens, or the path of a custom lens.

    A custom lens is a WA custom-lens JSON file, or a directory with ``lens.json`` (plus optional
    ``lens.meta.json`` and ``guidance/``). Without metadata, a question's number is ``<PREFIX> n``
    (``OPS``, ``SEC``, ... for the Framework's pillar ids, else the pillar id) and a choice's risk
    is derived from the risk rules: the question risk when every other best practice is selected
    (``HIGH_RISK`` -> ``HIGH``, ``MEDIUM_RISK`` -> ``MEDIUM``, ``NO_RISK`` -> ``LOW``).

    Raises:
        LensError: unknown alias, missing file, or an invalid lens (every problem listed).
    """
    text = str(ref)
    path = Path(ref)
    if isinstance(ref, str) and (LENSES_DIR / text / "lens.json").is_file():
        path = LENSES_DIR / text
    if path.exists():
        # a shipped lens, named by alias or by its folder or lens.json path in the package
        resolved = path.resolve()
        directory = resolved if resolved.is_dir() else resolved.parent
        shipped = resolved.is_dir() or resolved.name == "lens.json"
        if shipped and directory.parent == LENSES_DIR and (directory / "lens.json").is_file():
            return _load(directory / "lens.json", directory / "lens.meta.json", OFFICIAL_LIMITS)
    if path.is_dir():
        return _load(path / "lens.json", path / "lens.meta.json", CUSTOM_LIMITS)
    if path.is_file():
        return _load(path, None, CUSTOM_LIMITS)
    raise LensError(
        f"no lens {text!r}: not a shipped lens ({', '.join(shipped_lenses())}) and no such file; "
        "give a shipped alias or the path of a custom-lens JSON file"
    )


@lru_cache(maxsize=16)
def _load_cached(lens_path: Path, meta_path: Path | None, limits: LensLimits, stamp: str) -> Lens:
    if not lens_path.is_file():
        raise LensError(f"{lens_path}: lens file not found")
    raw = lens_path.read_bytes()
    doc = parse_document(raw, str(lens_path), limits)
    meta = _read_meta(meta_path) if meta_path is not None and meta_path.is_file() else None
    alias = meta.alias if meta else (lens_path.parent.name if meta_path else lens_path.stem)
    version = meta.version if meta else "sha256:" + hashlib.sha256(raw).hexdigest()[:12]
    lens = _build(doc, meta, alias, version, str(lens_path))
    lens._source_dir = lens_path.parent if meta_path is not None else None
    return lens


def _load(lens_path: Path, meta_path: Path | None, limits: LensLimits) -> Lens:
    stamp = ""
    for path in (lens_path, meta_path):
        if path is not None and path.is_file():
            stat = path.stat()
            stamp += f"{stat.st_mtime_ns}:{stat.st_size};"
    return _load_cached(lens_path.resolve(), meta_path, limits, stamp)


def _read_meta(path: Path) -> LensMeta:
    try:
        return LensMeta.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LensError(
            f"{path}: invalid lens metadata at {where or '(root)'}: {first['msg']}"
        ) from exc


def _build(doc: LensDocument, meta: LensMeta | None, alias: str, version: str, src: str) -> Lens:
    pillars: list[Pillar] = []
    known_questions: set[str] = set()
    known_choices: set[str] = set()
    for pillar in doc.pillars:
        prefix = PILLAR_PREFIX.get(pillar.id, pillar.id.upper())
        questions = []
        for n, qdoc in enumerate(pillar.questions, start=1):
            known_questions.add(qdoc.id)
            known_choices.update(c.id for c in qdoc.choices)
            qmeta = meta.questions.get(qdoc.id) if meta else None
            number = qmeta.number if qmeta else f"{prefix} {n}"
            questions.append(_question(qdoc, pillar.id, number, meta))
        pillars.append(Pillar(id=pillar.id, name=pillar.name, questions=questions))
    if meta is not None:
        stray = sorted(set(meta.questions) - known_questions)
        stray += sorted(set(meta.choices) - known_choices)
        if stray:
            raise LensError(f"{src}: lens metadata names ids that are not in the lens: {stray}")
    return Lens(
        alias=alias, name=doc.name, description=doc.description, version=version, pillars=pillars
    )


def _question(qdoc: QuestionDoc, pillar_id: str, number: str, meta: LensMeta | None) -> Question:
    rules = [RiskRule(condition=r.condition, risk=r.risk) for r in qdoc.riskRules]
    practices = [c.id for c in qdoc.choices if not c.is_none]
    choices = []
    for cdoc in qdoc.choices:
        cmeta = meta.choices.get(cdoc.id) if meta else None
        if cdoc.is_none:
            risk: RiskLevel = "NONE"
        elif cmeta is not None:
            risk = cmeta.risk
        else:
            risk = _derived_risk(rules, [p for p in practices if p != cdoc.id])
        helpful = cdoc.helpfulResource
        plan = cdoc.improvementPlan
        choices.append(
            Choice(
                id=cdoc.id,
                title=cdoc.title,
                description=(helpful.displayText or "") if helpful else "",
                risk=risk,
                bp_id=cmeta.bp_id if cmeta else None,
                is_none=cdoc.is_none,
                improvement_plan=(plan.displayText or "") if plan else "",
                url=helpful.url if helpful else None,
            )
        )
    return Question(
        id=qdoc.id,
        number=number,
        title=qdoc.title,
        description=qdoc.description,
        pillar_id=pillar_id,
        choices=choices,
        risk_rules=rules,
    )


_CHOICE_RISK: dict[str, RiskLevel] = {
    "HIGH_RISK": "HIGH",
    "MEDIUM_RISK": "MEDIUM",
    "NO_RISK": "LOW",
}


def _derived_risk(rules: list[RiskRule], others: list[str]) -> RiskLevel:
    for rule in rules:
        if rule.holds(others):
            return _CHOICE_RISK[rule.risk]
    return "HIGH"


# --- guidance notes -----------------------------------------------------------------------------


class GuidanceNote(Model):
    """Guidance for one best practice, in our own words, as retrieval documents are built from.

    ``good`` says what following the practice looks like; ``signals`` are short phrases an
    assessor looks for in a design document (match them case-insensitively); ``gaps`` are common
    ways designs fall short. ``implementations`` are concrete forms a design document states when
    the practice is in place (services and features, configurations, artifacts, processes, each a
    short phrase as a design would write it: ``"AWS Backup vault lock"``, ``"quarterly restore
    test"``); empty for notes that have none. ``risk`` is the risk of not following the practice.
    """

    lens: str
    pillar_id: str
    question_id: str
    choice_id: str
    title: str
    risk: RiskLevel
    good: str = Field(min_length=1)
    signals: list[str] = Field(min_length=1)
    gaps: list[str] = Field(min_length=1)
    question_title: str = ""
    bp_id: str | None = None
    implementations: list[str] = Field(default_factory=list)

    def text(self) -> str:
        """The note as one Markdown document: title, question, good practice, signals, gaps."""
        lines = [f"# {self.title}"]
        ref = f"{self.bp_id}, choice {self.choice_id}" if self.bp_id else f"choice {self.choice_id}"
        lines.append(f"Best practice: {ref}")
        if self.question_title:
            lines.append(f"Question: {self.question_title}")
        lines.append(f"Risk if not followed: {self.risk}")
        lines += ["", "## What good looks like", self.good, "", "## Signals in a design"]
        lines += [f"- {s}" for s in self.signals]
        if self.implementations:
            lines += ["", "## How a design shows it"]
            lines += [f"- {i}" for i in self.implementations]
        lines += ["", "## Common gaps"]
        lines += [f"- {g}" for g in self.gaps]
        return "\n".join(lines) + "\n"

    def metadata(self) -> dict[str, str]:
        """Filterable attributes: ``lens``, ``pillar``, ``question_id``, ``choice_id``, ``risk``."""
        return {
            "lens": self.lens,
            "pillar": self.pillar_id,
            "question_id": self.question_id,
            "choice_id": self.choice_id,
            "risk": self.risk,
        }


class _NoteEntry(Model):
    good: str = Field(min_length=20, max_length=600)
    signals: list[str] = Field(min_length=3, max_length=5)
    gaps: list[str] = Field(min_length=2, max_length=3)
    implementations: list[str] = Field(default_factory=list, max_length=20)


class _GuidanceFile(Model):
    pillar: str
    notes: dict[str, _NoteEntry]


def load_guidance(lens: Lens, guidance_dir: Path | None = None) -> list[GuidanceNote]:
    """One guidance note per best-practice choice of the lens, in lens order.

    Notes are read from the lens's ``guidance/*.yaml`` (shipped lenses, lens directories). A
    custom lens without guidance gets notes built from its own text: ``good`` from the choice's
    helpful resource (or its title), ``signals`` from the title's words, ``gaps`` from the
    improvement plan. ``guidance_dir`` overrides where the ``*.yaml`` notes are read from.

    Raises:
        LensError: a guidance file is malformed, misses best practices, or names unknown ones.
    """
    guidance = guidance_dir
    if guidance is None:
        directory = lens.source_dir
        if directory is None and (LENSES_DIR / lens.alias / "guidance").is_dir():
            directory = LENSES_DIR / lens.alias
        guidance = directory / "guidance" if directory else None
    if guidance is None or not guidance.is_dir():
        return [_synthesized(lens, q, c) for q in lens.questions() for c in q.best_practices]
    return list(_load_notes(lens, guidance))


def _load_notes(lens: Lens, guidance: Path) -> list[GuidanceNote]:
    files = sorted(guidance.glob("*.yaml"))
    stamp = ";".join(f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in files)
    entries = _read_entries(guidance, stamp)
    notes: list[GuidanceNote] = []
    expected: set[str] = set()
    for question in lens.questions():
        for choice in question.best_practices:
            expected.add(choice.id)
            if choice.id not in entries:
                continue
            entry = entries[choice.id][0]
            notes.append(
                _note(lens, question, choice, entry.good, entry.signals, entry.gaps).model_copy(
                    update={"implementations": list(entry.implementations)}
                )
            )
    missing = sorted(expected - set(entries))
    unknown = sorted(set(entries) - expected)
    if missing or unknown:
        raise LensError(
            f"{guidance}: guidance does not match lens {lens.alias!r}: "
            f"missing notes {missing[:10]}{'...' if len(missing) > 10 else ''}, "
            f"notes for unknown or 'None of these' choices {unknown[:10]}"
        )
    return notes


@lru_cache(maxsize=8)
def _read_entries(guidance: Path, stamp: str) -> dict[str, tuple[_NoteEntry, str]]:
    entries: dict[str, tuple[_NoteEntry, str]] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(guidance.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
            parsed = _GuidanceFile.model_validate(data)
        except yaml.YAMLError as exc:
            raise LensError(f"{path}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise LensError(f"{path}: invalid guidance at {where}: {first['msg']}") from exc
        for choice_id, entry in parsed.notes.items():
            if choice_id in entries:
                other = entries[choice_id][1]
                raise LensError(f"{path}: note {choice_id!r} also appears in {other}")
            entries[choice_id] = (entry, path.name)
    return entries


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{3,}")
_COMMON = {"your", "with", "that", "this", "from", "have", "into", "when", "where", "each", "them"}


def _synthesized(lens: Lens, question: Question, choice: Choice) -> GuidanceNote:
    words = [w for w in _WORD.findall(choice.title) if w.lower() not in _COMMON]
    signals = list(dict.fromkeys(w.lower() for w in words))[:5] or [choice.title]
    good = choice.description or f"The design follows the practice: {choice.title}."
    gap = choice.improvement_plan or f"The design does not show that it follows: {choice.title}."
    return _note(lens, question, choice, good, signals, [gap])


def _note(
    lens: Lens, question: Question, choice: Choice, good: str, signals: list[str], gaps: list[str]
) -> GuidanceNote:
    """The note of one best practice: identity from the lens, text from the arguments."""
    return GuidanceNote(
        lens=lens.alias,
        pillar_id=question.pillar_id,
        question_id=question.id,
        choice_id=choice.id,
        title=choice.title,
        risk=choice.risk,
        good=good,
        signals=signals,
        gaps=gaps,
        question_title=question.title,
        bp_id=choice.bp_id,
    )
