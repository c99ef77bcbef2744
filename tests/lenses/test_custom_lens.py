"""Custom lenses in the WA custom-lens JSON format: loading, derived data, validation errors."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lenses.catalog import LensError, load_guidance, load_lens
from lenses.conditions import ConditionError, evaluate, parse_condition, referenced_choices


def custom_lens() -> dict[str, Any]:
    """A small valid custom lens, shaped like the WA console's template."""

    def choice(cid: str, title: str) -> dict[str, Any]:
        return {
            "id": cid,
            "title": title,
            "helpfulResource": {"displayText": f"Helpful text for {title}."},
            "improvementPlan": {"displayText": f"Improve {title}.", "url": "https://example.com/"},
        }

    return {
        "schemaVersion": "2021-11-01",
        "name": "Company Policy ABC",
        "description": "Checks compliance with company policy ABC.",
        "pillars": [
            {
                "id": "company_privacy",
                "name": "Privacy Excellence",
                "questions": [
                    {
                        "id": "privacy01",
                        "title": "How do you keep HR conversations private?",
                        "description": "Career talks happen on secure channels only.",
                        "choices": [
                            choice("choice_1", "Encrypted messaging for HR topics"),
                            choice("choice_2", "Quarterly audits of HR channels"),
                            choice("choice_3", "Access reviews for HR data"),
                            {"id": "privacy01_no", "title": "None of these"},
                        ],
                        "riskRules": [
                            {"condition": "choice_1 && choice_2", "risk": "NO_RISK"},
                            {
                                "condition": "choice_1 && (choice_2 || choice_3)",
                                "risk": "MEDIUM_RISK",
                            },
                            {"condition": "default", "risk": "HIGH_RISK"},
                        ],
                    }
                ],
            },
            {
                "id": "security",
                "name": "Security",
                "questions": [
                    {
                        "id": "sec_badges",
                        "title": "How do you control badge access?",
                        "choices": [choice("badge_reviews", "Badge access is reviewed monthly")],
                        "riskRules": [
                            {"condition": "badge_reviews", "risk": "NO_RISK"},
                            {"condition": "default", "risk": "MEDIUM_RISK"},
                        ],
                    }
                ],
            },
        ],
    }


def write(tmp_path: Path, data: Any, name: str = "policy-abc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_custom_lens_loads_with_derived_numbers_and_risks(tmp_path: Path) -> None:
    lens = load_lens(write(tmp_path, custom_lens()))
    assert lens.alias == "policy-abc" and lens.version.startswith("sha256:")
    assert [q.number for q in lens.questions()] == ["COMPANY_PRIVACY 1", "SEC 1"]
    q = lens.question("privacy01")
    assert q.none_choice is not None and q.none_choice.id == "privacy01_no"
    # risk of leaving out a choice = the question risk when all other best practices are chosen
    assert {c.id: c.risk for c in q.choices} == {
        "choice_1": "HIGH",
        "choice_2": "MEDIUM",
        "choice_3": "LOW",
        "privacy01_no": "NONE",
    }
    assert lens.choice("sec_badges", "badge_reviews").risk == "MEDIUM"
    assert q.risk(["choice_1", "choice_3"]) == "MEDIUM_RISK"
    assert q.choices[0].description == "Helpful text for Encrypted messaging for HR topics."
    assert q.choices[0].improvement_plan == "Improve Encrypted messaging for HR topics."


def test_custom_lens_without_guidance_gets_notes_from_its_own_text(tmp_path: Path) -> None:
    lens = load_lens(write(tmp_path, custom_lens()))
    notes = load_guidance(lens)
    assert [n.choice_id for n in notes] == ["choice_1", "choice_2", "choice_3", "badge_reviews"]
    first = notes[0]
    assert first.good == "Helpful text for Encrypted messaging for HR topics."
    assert first.signals == ["encrypted", "messaging", "topics"]
    assert first.gaps == ["Improve Encrypted messaging for HR topics."]
    assert first.metadata() == {
        "lens": "policy-abc",
        "pillar": "company_privacy",
        "question_id": "privacy01",
        "choice_id": "choice_1",
        "risk": "HIGH",
    }


def test_lens_directory_with_meta_and_guidance(tmp_path: Path) -> None:
    directory = tmp_path / "abc"
    directory.mkdir()
    write(directory, custom_lens(), "lens.json")
    meta: dict[str, Any] = {
        "alias": "abc",
        "version": "2026-01",
        "questions": {"privacy01": {"number": "PRIV 1"}},
        "choices": {"choice_2": {"risk": "MEDIUM", "bp_id": "PRIV01-BP02"}},
    }
    write(directory, meta, "lens.meta.json")
    (directory / "guidance").mkdir()
    entry = "good: {g}\n    signals: [a, b, c]\n    gaps: [x, y]\n"
    notes = "\n".join(
        f"  {cid}:\n    " + entry.format(g=f"A long enough explanation of {cid}.")
        for cid in ("choice_1", "choice_2", "choice_3", "badge_reviews")
    )
    (directory / "guidance" / "all.yaml").write_text(f"pillar: any\nnotes:\n{notes}")
    lens = load_lens(directory)
    assert (lens.alias, lens.version) == ("abc", "2026-01")
    assert lens.question("privacy01").number == "PRIV 1"
    assert lens.question("sec_badges").number == "SEC 1"
    assert lens.choice("privacy01", "choice_2").risk == "MEDIUM"
    assert lens.choice("privacy01", "choice_2").bp_id == "PRIV01-BP02"
    loaded = load_guidance(lens)
    assert [n.good for n in loaded][1] == "A long enough explanation of choice_2."

    (directory / "guidance" / "all.yaml").write_text(
        f"pillar: any\nnotes:\n{notes}  extra_choice:\n    {entry.format(g='Another long enough explanation.')}"
    )
    with pytest.raises(
        LensError, match=r"notes for unknown or 'None of these' choices \['extra_choice'\]"
    ):
        load_guidance(load_lens(directory))

    meta["choices"]["not_there"] = {"risk": "LOW"}
    write(directory, meta, "lens.meta.json")
    with pytest.raises(LensError, match=r"not in the lens: \['not_there'\]"):
        load_lens(directory)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return apply


def _many_choices(data: dict[str, Any]) -> None:
    q = data["pillars"][0]["questions"][0]
    template = q["choices"][0]
    q["choices"] = [dict(template, id=f"choice_{i}") for i in range(1, 17)]


def _duplicate_choice(data: dict[str, Any]) -> None:
    q = data["pillars"][0]["questions"][0]
    q["choices"][1]["id"] = "choice_1"


def _duplicate_question(data: dict[str, Any]) -> None:
    data["pillars"][1]["questions"][0]["id"] = "privacy01"


INVALID = [
    ("duplicate choice id", _duplicate_choice, "duplicate choice of 'privacy01' id 'choice_1'"),
    ("duplicate question id", _duplicate_question, "duplicate question id 'privacy01'"),
    (
        "duplicate pillar id",
        _set("pillars.1.id", "company_privacy"),
        "pillars[1].id: duplicate pillar id 'company_privacy'",
    ),
    ("name too long", _set("name", "x" * 129), "name: 129 characters, the limit is 128"),
    (
        "description too long",
        _set("description", "x" * 2049),
        "description: 2049 characters, the limit is 2048",
    ),
    (
        "unknown choice in a risk rule",
        _set("pillars.0.questions.0.riskRules.1.condition", "choice_1 && choice_9"),
        "riskRules[1].condition: unknown choice ids ['choice_9']",
    ),
    (
        "malformed condition",
        _set("pillars.0.questions.0.riskRules.1.condition", "choice_1 && (choice_2"),
        "riskRules[1].condition: missing ')'",
    ),
    ("too many choices", _many_choices, "16 choices in question 'privacy01', the limit is 15"),
    (
        "bad id characters",
        _set("pillars.0.questions.0.id", "privacy-01"),
        "id 'privacy-01' must be 3 to 128 characters of letters, digits and underscores",
    ),
    ("id too short", _set("pillars.0.id", "ab"), "pillars[0].id: pillar id 'ab' must be 3 to 128"),
    (
        "missing improvement plan",
        _set("pillars.0.questions.0.choices.0.improvementPlan", None),
        "choices[0].improvementPlan: required for every choice except 'None of these'",
    ),
    (
        "two default rules",
        _set("pillars.0.questions.0.riskRules.0.condition", "default"),
        "needs exactly one 'default' rule, found 2",
    ),
    (
        "same risk twice",
        _set("pillars.0.questions.0.riskRules.1.risk", "NO_RISK"),
        "NO_RISK appears in several rules",
    ),
    (
        "unknown risk",
        _set("pillars.0.questions.0.riskRules.1.risk", "LOW_RISK"),
        "pillars[0].questions[0].riskRules[1].risk: Input should be 'HIGH_RISK'",
    ),
    ("wrong schema version", _set("schemaVersion", "2020-01-01"), "must be '2021-11-01'"),
    ("unknown field", _set("pillars.0.colour", "red"), "pillars[0].colour: Extra inputs"),
    (
        "url without http",
        _set("pillars.0.questions.0.choices.0.improvementPlan.url", "ftp://x"),
        "url: must start with http:// or https://",
    ),
    (
        "too many questions",
        lambda d: d["pillars"][0].update(
            questions=[
                dict(copy.deepcopy(d["pillars"][0]["questions"][0]), id=f"privacy{i:02d}")
                for i in range(21)
            ]
        ),
        "21 questions in pillar 'company_privacy', the limit is 20",
    ),
    ("no pillars", _set("pillars", []), "pillars: a lens needs at least one pillar"),
]


@pytest.mark.parametrize(("case", "mutate", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_custom_lens_is_rejected_with_a_clear_message(
    tmp_path: Path, case: str, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = custom_lens()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(LensError) as info:
        load_lens(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid lens, ")
    assert message in text, text
    assert any(message in p for p in info.value.problems)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    data = custom_lens()
    _duplicate_choice(data)
    data["name"] = "x" * 200
    with pytest.raises(
        LensError, match=r"invalid lens, 4 problems: name: 200 characters.*duplicate choice"
    ):
        load_lens(write(tmp_path, data))


def test_oversize_file_is_rejected(tmp_path: Path) -> None:
    data = custom_lens()
    data["pillars"][0]["questions"][0]["description"] = "x" * 600_000
    with pytest.raises(LensError, match=r"lens file is 6\d\d,\d\d\d bytes, over the 500,000-byte"):
        load_lens(write(tmp_path, data))


def test_not_json_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(LensError, match=r"not valid JSON: Expecting .* at line 1 column \d+"):
        load_lens(write(tmp_path, '{"schemaVersion": "2021-11-01", name: }'))
    with pytest.raises(LensError, match="a lens file holds one JSON object, found list"):
        load_lens(write(tmp_path, "[]"))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(LensError, match="not UTF-8 text"):
        load_lens(binary)


def test_missing_file_is_a_lens_error(tmp_path: Path) -> None:
    with pytest.raises(
        LensError, match=r"no lens .*missing.json.*give a shipped alias or the path"
    ):
        load_lens(tmp_path / "missing.json")


CONDITIONS = [
    ("a", {"a"}, True),
    ("a", set(), False),
    ("a && b", {"a"}, False),
    ("a && b", {"a", "b"}, True),
    ("a || b", {"b"}, True),
    ("!a", set(), True),
    ("!a && b", {"b"}, True),
    ("a || b && c", {"a"}, True),  # && binds tighter than ||
    ("(a || b) && c", {"a"}, False),
    ("((a || b) && c) || (!a && c)", {"c"}, True),
    ("!(a || b)", {"b"}, False),
    ("default", set(), True),
]


@pytest.mark.parametrize(("text", "selected", "expected"), CONDITIONS)
def test_condition_semantics(text: str, selected: set[str], expected: bool) -> None:
    assert evaluate(parse_condition(text), selected) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a &&", "ends too early"),
        ("a b", "unexpected 'b'"),
        ("(a || b", "missing ')'"),
        ("a & b", "unexpected character '&'"),
        ("a && default", "'default' must be the whole condition"),
        ("&& a", "expected a choice id"),
    ],
)
def test_condition_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        parse_condition(text)


def test_referenced_choices() -> None:
    assert referenced_choices(parse_condition("(a || b) && !c")) == {"a", "b", "c"}
    assert referenced_choices(parse_condition("default")) == set()
