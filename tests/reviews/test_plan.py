"""The improvement plan and the calibrated decision of the offline assessor."""

from __future__ import annotations

import pytest

from reviews.assessors.calibration import fit
from reviews.plan import MAJOR, QUICK_WIN, effort_of, order_plan
from tests.conftest import load_benchmark, shared
from tests.reviews.conftest import DOCS, DR


def test_plan_is_about_this_document(review_of, lens) -> None:  # type: ignore[no-untyped-def]
    a = review_of(DR, "quick")
    status = {bp.choice_id: bp.status for qa in a.questions for bp in qa.best_practices}
    plan = a.recommendations
    assert plan and all(status[r.choice_id] == "UNSELECTED" for r in plan)
    assert [r.priority for r in plan] == list(range(1, len(plan) + 1))
    risks = [{"HIGH": 0, "MEDIUM": 1, "LOW": 2}.get(r.bp_risk or "", 3) for r in plan]
    assert risks == sorted(risks)  # risk first
    assert plan[0].pillar_id == "reliability"  # a DR design leads with Reliability
    assert all(r.effort in (QUICK_WIN, MAJOR) for r in plan)
    assert {r.effort for r in plan} == {QUICK_WIN, MAJOR}
    assert all((r.url or "").startswith("https://docs.aws.amazon.com/") for r in plan[:10])
    assert all(r.text.startswith(("The document", "The closest", "No statement")) for r in plan)
    assert len({r.text for r in plan[:10]}) == 10
    again = order_plan(a.questions, lens)
    assert [r.choice_id for r in again] == [r.choice_id for r in plan]


def test_effort_classes_from_guidance_words() -> None:
    assert effort_of(None, "Define access requirements") == QUICK_WIN
    assert effort_of(None, "Automate deployment pipeline across multiple Regions") == MAJOR


def test_fit_orders_examples_and_chooses_a_threshold() -> None:
    xs = [[0.0, 0, 0.0, 0.0, 0.0]] * 5 + [[2.0, 2, 0.4, 0.3, 0.8]] * 5
    xs += [[1.0, 1, 0.2, 0.1, 0.2], [0.0, 0, 0.3, 0.2, 0.0]]
    ys = [False] * 5 + [True] * 5 + [True, False]
    cal = fit(xs, ys)
    assert cal.probability(xs[5]) > cal.threshold > cal.probability(xs[0])
    with pytest.raises(ValueError):
        fit(xs[:5], ys[:5])


@pytest.mark.slow
def test_leave_one_document_out_beats_the_baseline() -> None:
    """Weights fitted on one labelled document decide the other better than all-addressed."""
    shared("design-docs", "truth")  # skips when the labelled data is absent
    bench = load_benchmark("review_accuracy")
    data = {stem: bench.training_data(stem, "quick") for stem in DOCS}
    for held_out in DOCS:
        (other,) = [s for s in DOCS if s != held_out]
        cal = fit(*data[other])
        xs, ys = data[held_out]
        pred = [cal.probability(x) >= cal.threshold for x in xs]
        tp = sum(p and y for p, y in zip(pred, ys, strict=True))
        f1 = 2 * tp / (sum(pred) + sum(ys))
        baseline = 2 * sum(ys) / (len(ys) + sum(ys))
        assert f1 >= baseline + 0.08, (held_out, f1, baseline)
