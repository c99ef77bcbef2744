"""The quote-sample benchmark: fixed seeds, and judgements kept only for unchanged rows."""

from __future__ import annotations

import zlib
from pathlib import Path

from tests.conftest import load_benchmark


def _assessment(quotes: dict[str, str]) -> dict:
    return {
        "questions": [
            {
                "number": "REL 9",
                "best_practices": [
                    {
                        "choice_id": cid,
                        "title": f"Practice {cid}",
                        "status": "SELECTED",
                        "evidence": [{"page": 3, "text": text}],
                    }
                    for cid, text in quotes.items()
                ]
                + [{"choice_id": "x", "title": "X", "status": "UNSELECTED", "evidence": []}],
            }
        ]
    }


def test_heldout_seed_is_fixed_by_its_label_and_differs_from_the_development_seed() -> None:
    bench = load_benchmark("quote_sample")
    seed = bench.seed_range(bench.HELDOUT_LABEL)
    assert seed == zlib.crc32(bench.HELDOUT_LABEL.encode()) % (2**31 - 10**6)
    assert seed != bench.DEV_SEED
    rows = bench.sample(_assessment({c: f"quote {c}" for c in "abcdef"}), 4, seed)
    assert rows == bench.sample(_assessment({c: f"quote {c}" for c in "abcdef"}), 4, seed)
    assert len(rows) == 4 and all(r["choice_id"] != "x" for r in rows)


def test_judgements_are_kept_only_where_practice_and_quote_are_unchanged(tmp_path: Path) -> None:
    bench = load_benchmark("quote_sample")
    old = bench.sample(_assessment({"a": "Backups | daily", "b": "Old line"}), 2, 1)
    path = tmp_path / "s.md"
    lines = bench.render("d", old, ["# s"], {})
    judged = [
        line.removesuffix("  |") + (" yes |" if "Backups" in line else " no |")
        if line.startswith(("| 1 ", "| 2 "))
        else line
        for line in lines
    ]
    path.write_text("\n".join(judged) + "\n", encoding="utf-8")
    kept = bench.judgements(path)
    assert kept == {("Practice a", "Backups / daily"): "yes", ("Practice b", "Old line"): "no"}
    new = bench.sample(_assessment({"a": "Backups | daily", "b": "New line"}), 2, 1)
    text = "\n".join(bench.render("d", new, ["# s"], kept))
    assert "| Backups / daily | yes |" in text
    assert "| New line |  |" in text


def test_a_saved_assessment_is_sampled_with_its_own_fixed_seed(tmp_path: Path, monkeypatch) -> None:
    import json

    bench = load_benchmark("quote_sample")
    truth = tmp_path / "truth"
    truth.mkdir()
    quotes = {c: f"quote {c}" for c in "abcdef"}
    (truth / "doc.json").write_text(
        json.dumps({c: {"addressed": c in "abc"} for c in [*quotes, "x"]}), encoding="utf-8"
    )
    monkeypatch.setattr(bench, "TRUTH", truth)
    monkeypatch.setattr(bench, "documents", lambda: ["doc"])
    saved = tmp_path / "review.json"
    assessment = {**_assessment(quotes), "document": "/any/where/doc.pdf"}
    assessment |= {"assessor": "bedrock", "mode": "deep"}
    saved.write_text(json.dumps({"assessment": assessment}), encoding="utf-8")
    out = tmp_path / "out"
    assert bench.main(["--json", str(saved), "--out", str(out), "--n", "3"]) == 0
    text = (out / "quote_sample_bedrock_deep_doc.md").read_text(encoding="utf-8")
    seed = bench.seed_range(bench.JSON_LABEL)
    assert seed not in (bench.DEV_SEED, bench.seed_range(bench.HELDOUT_LABEL))
    drawn = bench.sample(assessment, 3, seed)
    assert f"seed {seed}" in text and "(deep mode)" in text
    assert all(f"| {r['quote']} |  |" in text for r in drawn)
    marked = sum(r["choice_id"] in "abc" for r in drawn)
    assert f"the truth file marks {marked} of them addressed" in text
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**assessment, "document": "unlabelled.pdf"}), encoding="utf-8")
    assert bench.main(["--json", str(other), "--out", str(out)]) == 2


def test_a_file_that_is_not_a_saved_review_is_one_error_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    bench = load_benchmark("quote_sample")
    monkeypatch.setattr(bench, "documents", lambda: ["doc"])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text('{"questions": []}', encoding="utf-8")
    for path, says in (
        (broken, "cannot read a saved review"),
        (other, "not a saved review"),
        (tmp_path / "missing.json", "cannot read a saved review"),
    ):
        assert bench.main(["--json", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}: {says}") and err.count("\n") == 1
