"""The investigator on the real Nezha development cases (skipped without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.evaluation import evaluate
from scenarios.nezha import import_all
from tests.conftest import shared


@pytest.mark.slow
def test_nezha_development_cases(tmp_path: Path) -> None:
    bundles = import_all(shared("nezha"), tmp_path / "nezha")
    assert len(bundles) == 34
    results, scores = evaluate(bundles)
    assert not [r.error for r in results if r.error]
    by_group = {s.group: s for s in scores}
    # floors at the goal, a little below the measured figures (benchmarks/nezha_eval.md: 34 of
    # 34 first; nothing in the ranking is fitted, but the method was designed on these cases),
    # so a regression of the method fails here
    assert by_group["all"].ac1 >= 0.9
    assert by_group["all"].ac3 >= 0.95
    assert by_group["trainticket"].ac1 >= 0.9
    assert by_group["onlineboutique"].ac1 >= 0.9
    # every fault type of Train Ticket is found at least once; CPU faults always
    assert by_group["trainticket / cpu_contention"].ac1 == 1.0
    assert by_group["onlineboutique / cpu_contention"].ac1 == 1.0
