"""Guidance notes of the shipped lens: complete, specific, consistent with the lens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lenses.catalog import LENSES_DIR, GuidanceNote, Lens, LensError, load_guidance, load_lens


@pytest.fixture(scope="module")
def lens() -> Lens:
    return load_lens("wellarchitected")


@pytest.fixture(scope="module")
def notes(lens: Lens) -> list[GuidanceNote]:
    return load_guidance(lens)


def test_one_note_per_best_practice_in_lens_order(lens: Lens, notes: list[GuidanceNote]) -> None:
    expected = [(q.id, c.id) for q in lens.questions() for c in q.best_practices]
    assert [(n.question_id, n.choice_id) for n in notes] == expected
    assert len(notes) == 308
    assert not [n for n in notes if n.choice_id.endswith("_no")]


def test_notes_carry_the_lens_data(lens: Lens, notes: list[GuidanceNote]) -> None:
    for note in notes:
        question = lens.question(note.question_id)
        choice = lens.choice(note.question_id, note.choice_id)
        assert (note.lens, note.pillar_id, note.title, note.risk, note.bp_id) == (
            "wellarchitected",
            question.pillar_id,
            choice.title,
            choice.risk,
            choice.bp_id,
        )
        assert note.question_title == question.title
        assert note.risk in {"HIGH", "MEDIUM", "LOW"}


def test_notes_are_specific(notes: list[GuidanceNote]) -> None:
    goods = [n.good for n in notes]
    assert len(set(goods)) == len(goods), "two notes share the same 'good' text"
    signal_sets = [tuple(sorted(s.lower() for s in n.signals)) for n in notes]
    assert len(set(signal_sets)) == len(signal_sets), "two notes share the same signals"
    for note in notes:
        assert 3 <= len(note.signals) <= 5 and all(s.strip() for s in note.signals), note.choice_id
        assert len(set(s.lower() for s in note.signals)) == len(note.signals), note.choice_id
        assert 2 <= len(note.gaps) <= 3 and all(g.strip() for g in note.gaps), note.choice_id
        assert note.good.strip() != note.title and note.good.endswith("."), note.choice_id
        assert note.good.count(". ") <= 1, f"{note.choice_id}: 'good' should be 1-2 sentences"


def test_text_and_metadata(notes: list[GuidanceNote]) -> None:
    note = next(
        n for n in notes if n.choice_id == "rel_planning_for_recovery_objective_defined_recovery"
    )
    text = note.text()
    assert text.startswith("# Define recovery objectives for downtime and data loss\n")
    assert (
        "Best practice: REL13-BP01, choice rel_planning_for_recovery_objective_defined_recovery"
        in text
    )
    assert "Question: How do you plan for disaster recovery (DR)?" in text
    assert "Risk if not followed: HIGH" in text
    for section in ("## What good looks like", "## Signals in a design", "## Common gaps"):
        assert section in text
    assert "- RTO\n" in text
    assert note.metadata() == {
        "lens": "wellarchitected",
        "pillar": "reliability",
        "question_id": "planning-for-recovery",
        "choice_id": "rel_planning_for_recovery_objective_defined_recovery",
        "risk": "HIGH",
    }


def test_guidance_must_cover_every_best_practice(tmp_path: Path, lens: Lens) -> None:
    guidance = tmp_path / "guidance"
    shutil.copytree(LENSES_DIR / "wellarchitected" / "guidance", guidance)
    sus = guidance / "sustainability.yaml"
    text = sus.read_text()
    sus.write_text(text[: text.index("  sus_sus_dev_a5:")])
    with pytest.raises(LensError, match=r"missing notes \['sus_sus_dev_a5'\]"):
        load_guidance(lens, guidance)
    sus.write_text(text + "  sus_sus_dev_no:\n" + text[text.index("    good: Managed device") :])
    with pytest.raises(LensError, match=r"'None of these' choices \['sus_sus_dev_no'\]"):
        load_guidance(lens, guidance)


def test_malformed_guidance_is_reported(tmp_path: Path, lens: Lens) -> None:
    guidance = tmp_path / "guidance"
    shutil.copytree(LENSES_DIR / "wellarchitected" / "guidance", guidance)
    ops = guidance / "operationalExcellence.yaml"
    original = ops.read_text()
    ops.write_text(
        original.replace("    gaps: [Priorities are set", "    gapz: [Priorities are set", 1)
    )
    with pytest.raises(
        LensError,
        match=r"operationalExcellence.yaml: invalid guidance at notes\.ops_priorities_ext_cust_needs",
    ):
        load_guidance(lens, guidance)
    ops.write_text(
        original.replace(
            "signals: [customer feedback, user research, product roadmap, customer SLA, ",
            "signals: [",
            1,
        )
    )
    with pytest.raises(
        LensError,
        match=r"ops_priorities_ext_cust_needs\.signals: List should have at least 3 items",
    ):
        load_guidance(lens, guidance)
    ops.write_text("pillar: x\nnotes: [unclosed")
    with pytest.raises(LensError, match="not valid YAML"):
        load_guidance(lens, guidance)
    ops.write_text(original)
    (guidance / "copy.yaml").write_text(original)
    with pytest.raises(LensError, match="note 'ops_priorities_ext_cust_needs' also appears in"):
        load_guidance(lens, guidance)


def test_implementations_are_short_distinct_phrases(notes: list[GuidanceNote]) -> None:
    """Where a note lists how a design shows the practice, each is a short phrase, once."""
    for note in notes:
        phrases = [p.strip().lower() for p in note.implementations]
        assert all(phrases), note.choice_id
        assert len(set(phrases)) == len(phrases), note.choice_id
        assert all(len(p.split()) <= 7 for p in phrases), note.choice_id
        assert not set(phrases) & {s.lower() for s in note.signals}, note.choice_id
        if note.implementations:
            assert "## How a design shows it" in note.text()
