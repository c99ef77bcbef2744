"""The review-accuracy benchmark scores an assessment against the truth files correctly."""

from __future__ import annotations

import json

from tests.conftest import load_benchmark, shared


def _load():  # type: ignore[no-untyped-def]
    return load_benchmark("review_accuracy")


def test_prf_counts_true_positives() -> None:
    bench = _load()
    assert bench.prf({"a", "b"}, {"b", "c", "d"}) == (0.5, 1 / 3, 0.4)
    assert bench.prf(set(), {"a"}) == (0.0, 0.0, 0.0)


def test_score_of_the_truth_itself_is_perfect() -> None:
    truth_dir = shared("design-docs", "truth")
    bench = _load()
    stem = bench.documents()[0]
    truth = json.loads((truth_dir / f"{stem}.json").read_text(encoding="utf-8"))
    qtruth = json.loads((truth_dir / f"{stem}.questions.json").read_text(encoding="utf-8"))
    risk = {"HIGH_RISK": "HIGH", "MEDIUM_RISK": "MEDIUM", "NO_RISK": "NONE"}
    questions = [
        {
            "question_id": v["question_id"],
            "risk": risk[v["risk"]],
            "best_practices": [
                {"choice_id": cid, "status": "SELECTED" if t["addressed"] else "UNSELECTED"}
                for cid, t in truth.items()
                if t["question"] == number
            ],
        }
        for number, v in qtruth.items()
    ]
    row = bench.score({"questions": questions}, stem)
    assert (row["precision"], row["recall"], row["f1"]) == (1.0, 1.0, 1.0)
    assert row["risk_agreement"] == row["questions"] == 57
    assert row["baseline_all_addressed"]["recall"] == 1.0
    assert row["baseline_all_high"] < 57
