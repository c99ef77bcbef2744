"""The shipped Well-Architected lens: counts, official ids and risks, lookups, risk rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lenses import build_catalog
from lenses.catalog import LENSES_DIR, Lens, LensError, load_lens, shipped_lenses
from lenses.format import CUSTOM_LIMITS, LensDocument, check_document
from tests.conftest import shared

LENS_JSON = LENSES_DIR / "wellarchitected" / "lens.json"


@pytest.fixture(scope="module")
def lens() -> Lens:
    return load_lens("wellarchitected")


def official() -> dict:
    return json.loads(shared("wellarchitected", "framework-lens-ids.json").read_text())


def test_counts(lens: Lens) -> None:
    assert shipped_lenses() == ["wellarchitected"]
    assert [p.id for p in lens.pillars] == [
        "operationalExcellence",
        "security",
        "reliability",
        "performance",
        "costOptimization",
        "sustainability",
    ]
    assert [len(p.questions) for p in lens.pillars] == [11, 11, 13, 5, 11, 6]
    assert len(lens.questions()) == 57
    assert lens.choice_count() == 308
    for question in lens.questions():
        nones = [c for c in question.choices if c.is_none]
        assert len(nones) == 1, question.id
        assert nones[0].id.endswith("_no") and nones[0].title == "None of these"
        assert nones[0].risk == "NONE" and nones[0].bp_id is None
        assert question.choices[-1] is nones[0]
    assert sum(len(q.choices) for q in lens.questions()) == 308 + 57
    assert lens.version == "2024-06-27" and lens.alias == "wellarchitected"


def test_ids_numbers_titles_and_order_match_the_official_file(lens: Lens) -> None:
    data = official()
    assert [p["id"] for p in data["pillars"]] == [p.id for p in lens.pillars]
    for pillar in data["pillars"]:
        ours = lens.pillar(pillar["id"])
        assert [q["id"] for q in pillar["questions"]] == [q.id for q in ours.questions]
        for q in pillar["questions"]:
            question = lens.question(q["id"])
            assert (question.number, question.title, question.pillar_id) == (
                q["number"],
                q["title"],
                pillar["id"],
            )
            assert [c["id"] for c in q["choices"]] == [c.id for c in question.best_practices]
            assert [c["title"] for c in q["choices"]] == [c.title for c in question.best_practices]


def test_risk_and_bp_id_per_choice_match_the_official_file(lens: Lens) -> None:
    fallback = {
        "ops_ready_to_support_const_orr": ("HIGH", "OPS07-BP02"),
        "rel_fault_isolation_select_location": ("HIGH", None),
        "rel_testing_resiliency_test_functional": ("HIGH", None),
    }
    for pillar in official()["pillars"]:
        for q in pillar["questions"]:
            for c in q["choices"]:
                choice = lens.choice(q["id"], c["id"])
                expected = (c["risk"], c["bp_id"]) if "risk" in c else fallback[c["id"]]
                assert (choice.risk, choice.bp_id) == expected, c["id"]


def test_shipped_risks_without_shared_data(lens: Lens) -> None:
    risks = [c.risk for q in lens.questions() for c in q.best_practices]
    assert (risks.count("HIGH"), risks.count("MEDIUM"), risks.count("LOW")) == (129, 142, 37)
    bp_ids = [c.bp_id for q in lens.questions() for c in q.best_practices if c.bp_id]
    assert len(bp_ids) == len(set(bp_ids)) == 306


def test_none_choice_ids_follow_the_wa_tool(lens: Lens) -> None:
    nones = {q.id: q.none_choice.id for q in lens.questions() if q.none_choice}
    assert nones["priorities"] == "ops_priorities_no"
    assert nones["observability"] == "ops_telemetry_no"
    assert nones["data-management"] == "perf_data_no"
    assert nones["performing-architecture"] == "perf_performing_architecture_no"
    assert nones["application-security"] == "sec_appsec_no"
    assert nones["sus_region"] == "sus_sus_region_no"
    assert len(set(nones.values())) == 57
    # no best practice is mistaken for a none-choice
    assert not [c.id for q in lens.questions() for c in q.best_practices if c.id.endswith("_no")]


def test_risk_rules_follow_the_wa_pattern(lens: Lens) -> None:
    q = lens.question("fault-isolation")
    high = [c.id for c in q.best_practices if c.risk == "HIGH"]
    everything = [c.id for c in q.best_practices]
    assert q.risk([]) == "HIGH_RISK"
    assert q.risk(["rel_fault_isolation_no"]) == "HIGH_RISK"
    assert q.risk(high[:-1]) == "HIGH_RISK"
    assert q.risk(high) == "MEDIUM_RISK"
    assert q.risk(everything) == "NO_RISK"
    assert [r.risk for r in q.risk_rules] == ["NO_RISK", "MEDIUM_RISK", "HIGH_RISK"]
    assert q.risk_rules[-1].condition == "default"
    # a question whose best practices are all HIGH has no MEDIUM rule
    obs = lens.question("observability")
    assert [r.risk for r in obs.risk_rules] == ["NO_RISK", "HIGH_RISK"]
    # a question without HIGH best practices: MEDIUM once any best practice is selected
    region = lens.question("sus_user")
    assert region.risk(["sus_sus_user_a3"]) == "MEDIUM_RISK"
    assert region.risk([c.id for c in region.best_practices]) == "NO_RISK"
    assert region.risk([]) == "HIGH_RISK"


def test_choice_risks_agree_with_the_risk_rules(lens: Lens) -> None:
    """Leaving out one best practice costs as much as its risk level says."""
    for q in lens.questions():
        has_high = any(c.risk == "HIGH" for c in q.best_practices)
        for c in q.best_practices:
            others = [o.id for o in q.best_practices if o.id != c.id]
            if c.risk == "HIGH" or not (has_high or others):
                expected = "HIGH_RISK"
            else:
                expected = "MEDIUM_RISK"
            assert q.risk(others) == expected, c.id


def test_lookups_and_errors(lens: Lens) -> None:
    assert lens.question("fault-isolation").number == "REL 10"
    assert lens.choice("priorities", "ops_priorities_no").is_none
    assert next(q.number for q in lens.questions(["sustainability"])) == "SUS 1"
    assert len(lens.questions("security")) == 11
    with pytest.raises(LensError, match=r"unknown question id 'fault-isolaton'.*fault-isolation"):
        lens.question("fault-isolaton")
    with pytest.raises(LensError, match="not a choice of question 'priorities'"):
        lens.choice("priorities", "ops_priorities_ext_cust_need")
    with pytest.raises(LensError, match=r"unknown pillar 'Security'.*security"):
        lens.questions(["Security"])
    lens.validate_choice_ids("priorities", ["ops_priorities_ext_cust_needs"])
    lens.validate_choice_ids("priorities", ["ops_priorities_no"])
    lens.validate_choice_ids("priorities", [])
    with pytest.raises(LensError, match=r"\['bogus', 'rel_fault_isolation_use_bulkhead'\]"):
        lens.validate_choice_ids(
            "priorities",
            ["ops_priorities_ext_cust_needs", "bogus", "rel_fault_isolation_use_bulkhead"],
        )
    with pytest.raises(LensError, match="cannot be selected together"):
        lens.validate_choice_ids(
            "priorities", ["ops_priorities_no", "ops_priorities_ext_cust_needs"]
        )
    with pytest.raises(LensError, match="no lens 'nope'"):
        load_lens("nope")
    # the shipped lens by path is the shipped lens (official ids, not custom-lens rules)
    assert load_lens(LENS_JSON) is lens
    assert load_lens(LENS_JSON.parent).version == "2024-06-27"


def test_shipped_file_is_within_import_limits_except_the_documented_relaxations() -> None:
    raw = LENS_JSON.read_bytes()
    assert len(raw) <= CUSTOM_LIMITS.max_file_bytes
    doc = LensDocument.model_validate_json(raw)
    problems = list(check_document(doc, CUSTOM_LIMITS))
    # official question ids contain '-', and SEC 11's official title is 137 characters long
    assert problems
    assert all(
        "letters, digits and underscores" in p or p.endswith("characters, the limit is 128")
        for p in problems
    ), problems
    assert [p for p in problems if "limit is 128" in p] == [
        "pillars[1].questions[10].title: 137 characters, the limit is 128"
    ]


def test_descriptive_text_is_our_own(lens: Lens) -> None:
    doc = json.loads(LENS_JSON.read_text())
    assert "written for this project" in doc["description"]
    for q in lens.questions():
        assert q.description and q.description != q.title
        for c in q.best_practices:
            assert c.description and c.improvement_plan.startswith("Common gaps to close: ")
            assert c.url and c.url.startswith("https://docs.aws.amazon.com/wellarchitected/")


def test_build_script_reproduces_the_shipped_files(tmp_path: Path) -> None:
    ids = shared("wellarchitected", "framework-lens-ids.json")
    assert build_catalog.main(["--ids", str(ids), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "lens.json").read_text() == LENS_JSON.read_text()
    assert (tmp_path / "lens.meta.json").read_text() == (
        LENSES_DIR / "wellarchitected" / "lens.meta.json"
    ).read_text()
