"""The concreteness-variants benchmark reads statements, guidance and F1 as it documents."""

from __future__ import annotations

import numpy as np

from lenses.catalog import GuidanceNote
from reviews.document import Statement
from tests.conftest import load_benchmark


def _bench():  # type: ignore[no-untyped-def]
    return load_benchmark("concreteness_variants")


def _stmt(text: str, kind: str = "item", naming: str = "", section: tuple[str, ...] = ("Design",)):
    return Statement(
        index=0, page=1, start=0, end=len(text), quote=text, text=text, kind=kind,
        section=section, naming=naming,
    )  # fmt: skip


def _note(choice: str, question: str, title: str, good: str, impls: list[str]) -> GuidanceNote:
    return GuidanceNote(
        lens="wellarchitected", pillar_id="security", question_id=question, choice_id=choice,
        title=title, risk="HIGH", good=good, signals=["x"], gaps=["y"], implementations=impls,
    )  # fmt: skip


def test_concreteness_ranks_a_configured_line_above_a_lead_in() -> None:
    bench = _bench()
    decided = _stmt("• Backups: AWS Backup daily with 35 days retention")
    lead_in = _stmt(
        "The following service level targets define the operational requirements.",
        kind="paragraph",
        naming="requirement",
    )
    assert bench.concreteness(decided) == 2.0  # a named component and a number with a unit
    assert bench.concreteness(lead_in) == -3.0  # purpose wording, lead-in, names only
    assert bench.decision_line(decided)
    assert not bench.decision_line(lead_in)
    # a risk-register line only names its subject
    assert not bench.decision_line(_stmt("• Budget approved for DR region", naming="risk"))


def test_designability_reads_only_the_guidance() -> None:
    bench = _bench()
    named = _note("a", "q1", "Back up data", "Backups run.", ["AWS Backup plan", "Macie jobs"])
    organisational = _note("b", "q1", "Sponsor", "Leaders sponsor.", ["executive sponsor"])
    names = bench.product_names([named, organisational])
    assert names == frozenset({"Backup"})
    assert bench.designability(named, names) == 1 / 3  # "AWS Backup plan" of 3 items
    assert bench.designability(organisational, names) == 0.0


def test_distinguishing_weights_drop_words_shared_by_the_question() -> None:
    from reviews.assessors.lexical import build_corpus, content_of

    bench = _bench()
    notes = [
        _note("a", "q1", "Automate network protection", "Network rules.", []),
        _note("b", "q1", "Inspect network traffic", "Network inspection.", []),
        _note("c", "q1", "Create network layers", "Network layers.", []),
        _note("d", "q2", "Automate backups", "Backups run.", []),
    ]
    weights = bench.distinguishing_weights(notes[0], notes, build_corpus(notes))
    assert set(weights) == set(content_of("Automate network protection"))
    # "network" is in every note of the question: it weighs less than "automate"
    assert weights[content_of("automate")[0]] > weights[content_of("network")[0]]


def test_f1_auc_and_bootstrap() -> None:
    bench = _bench()
    y = np.array([True, True, False, False])
    assert bench.f1(np.array([True, False, True, False]), y) == 0.5
    assert bench.f1(np.zeros(4, dtype=bool), np.zeros(4, dtype=bool)) == 0.0
    assert bench.auc([0.9, 0.8, 0.1, 0.8], [True, True, False, False]) == 0.875
    same = np.array([True, False, False, False])
    assert bench.bootstrap_delta(same, same, y, rounds=50) == (0.0, 0.0)
    lo, hi = bench.bootstrap_delta(same, y.copy(), y, rounds=200)
    assert lo >= 0.0 and hi > 0.0  # predicting the truth is never worse, and mostly better
