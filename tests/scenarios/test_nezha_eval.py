"""The investigator on the real Nezha development cases (skipped without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

from agent.evaluation import evaluate
from scenarios.nezha import import_all
from tests.conftest import shared


def test_nezha_development_cases(tmp_path: Path) -> None:
    bundles = import_all(shared("nezha"), tmp_path / "nezha")
    assert len(bundles) == 34
    results, scores = evaluate(bundles)
    assert not [r.error for r in results if r.error]
    by_group = {s.group: s for s in scores}
    # floors a little below the measured figures (0.588 / 0.706 / 0.676 overall), so a
    # regression of the method fails here
    assert by_group["all"].ac1 >= 0.55
    assert by_group["all"].ac3 >= 0.67
    assert by_group["onlineboutique"].ac1 >= 0.7
