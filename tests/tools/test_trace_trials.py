"""Null models whose trials are the independent units: spans of one trace or one burst of
requests share their cause, so they must not count as independent evidence; a real fault
spread over many traces and blocks still does."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy import stats

from tests.tools.test_traces import MS, REFERENCE, WINDOW, Trees, credits
from tools import significance
from tools.models import TimeWindow
from tools.trace_analysis import analyse

REFERENCES = [
    REFERENCE,
    TimeWindow(start=REFERENCE.start - timedelta(days=1), end=REFERENCE.end - timedelta(days=1)),
]


def at(window: TimeWindow, ms: int) -> int:
    return int(window.start.timestamp() * 1e9) + ms * MS


def _loop(trees: Trees, start: int, items: int, writes: bool) -> None:
    """One request of ``a`` looping over ``items``: a call to ``b`` per item; ``b`` writes
    ``B#5`` in every span of the request, or in none (the request's data decides)."""
    trees.request(
        start,
        "a",
        [("b", 1.0, 2.0)] * items,
        callee_logs={"b": [("B#5", "INFO")] if writes else []},
    )


def _statement_row(trees: Trees) -> pd.Series:
    """The behaviour row of ``log B#5``, after checking that the span-level binomial (spans as
    independent trials) would call its change significant and the clustered test does not."""
    spans, logs = trees.frames()
    found = analyse(spans, logs, WINDOW, REFERENCES)
    row = found.behaviour[found.behaviour["item"] == "log B#5"].iloc[0]
    assert significance.binomial(int(row["n"] - row["c"]), int(row["n"]), row["p_missing"]) > 6
    assert row["evidence"] < significance.SIGNIFICANT
    assert credits(trees) == {}
    return row


def test_block_correlation_recovers_the_clustering_of_simulated_blocks() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for unit in range(40):
        for _block in range(12):
            p = rng.beta(0.3 * (1 / 0.3 - 1), 0.7 * (1 / 0.3 - 1))  # mean 0.3, rho 0.3
            rows.append({"unit": unit, "k": rng.binomial(20, p), "n": 20, "iid": False})
            rows.append({"unit": 100 + unit, "k": rng.binomial(20, 0.3), "n": 20, "iid": True})
    frame = pd.DataFrame(rows)
    rho, _ = significance.block_correlation(frame[~frame["iid"]], ["unit"])
    assert abs(rho.mean() - 0.3) < 0.08
    rho_iid, pooled = significance.block_correlation(frame[frame["iid"]], ["unit"])
    assert rho_iid.mean() < 0.03 and pooled < 0.03
    # a unit that never varied tells nothing; the pooled value stands in for it
    constant = pd.DataFrame({"unit": [1, 1, 1], "k": [5, 5, 5], "n": [5, 5, 5]})
    rho_c, _ = significance.block_correlation(constant, ["unit"])
    assert rho_c.isna().all()


def test_a_design_effect_divides_the_trials() -> None:
    # ten trials in one block, perfectly correlated: one trial
    deff = significance.design_effect(10, 1, 1.0)
    assert deff == 10.0
    assert abs(significance.binomial(10, 10, 0.1, deff) - 1.0) < 1e-3
    # no correlation: the exact binomial, unchanged
    assert significance.design_effect(10, 1, 0.0) == 1.0
    assert significance.binomial(3, 10, 0.05) == round(
        -float(stats.binom.logsf(2, 10, 0.05)) / np.log(10), 3
    )


def test_correlated_spans_within_a_trace_do_not_make_a_finding_significant() -> None:
    """A loop over eight items: the callee's statement depends on the request, so the eight
    spans of one trace agree. Two window traces without it are two trials, not sixteen."""
    rng = random.Random(11)
    trees = Trees()
    for ref in REFERENCES:
        for i in range(60):  # one request a second; a quarter of them skip the statement
            _loop(trees, at(ref, i * 1000), 8, writes=rng.random() >= 0.25)
    for i in range(2):
        _loop(trees, at(WINDOW, i * 1000), 8, writes=False)
    # 16 of 16 spans lack a statement 3/4 hold; about eight spans of a trace are one trial
    assert _statement_row(trees)["deff"] >= 6


def test_a_burst_of_requests_taking_a_rare_branch_is_not_significant() -> None:
    """Requests come in bursts that share their data (one user's session, one batch): in
    one 10 s block of four every request takes the branch without the statement. A window
    burst of fifteen such requests within seven seconds is one block, not fifteen trials."""
    trees = Trees()
    for ref in REFERENCES:
        for i in range(120):  # a request every 0.5 s
            _loop(trees, at(ref, i * 500), 1, writes=(i // 20) % 4 != 0)
    for i in range(15):
        _loop(trees, at(WINDOW, i * 500), 1, writes=False)
    assert _statement_row(trees)["deff"] >= 5  # fifteen requests of one burst


def test_a_statement_lost_in_every_trace_is_still_significant() -> None:
    """The same clustered references; in the window the callee throws before the statement in
    every request, over a minute of traffic: many traces and blocks agree."""
    rng = random.Random(11)
    trees = Trees()
    for ref in REFERENCES:
        for i in range(60):
            _loop(trees, at(ref, i * 1000), 4, writes=rng.random() >= 0.02)
    for i in range(60):
        _loop(trees, at(WINDOW, i * 1000), 4, writes=False)
    got = credits(trees)
    assert got["b"] >= significance.SIGNIFICANT
    assert "a" not in got


def test_a_delayed_callee_is_still_credited_over_clustered_references() -> None:
    """References with bursts of slower calls (one block in four); in the window every call
    into ``b`` is 50 ms late."""
    trees = Trees()
    for ref in REFERENCES:
        for i in range(120):
            slow = 3.0 if (i // 20) % 4 == 0 else 0.0
            start = at(ref, i * 500)
            trees.request(start, "gateway", [("a", 1.0, 2.0), ("d", 1.0, 2.0)])
            trees.request(start + 1, "a", [("b", 1.0 + slow, 2.0), ("c", 1.0, 2.0)])
            trees.request(start + 2, "d", [("b", 1.0 + slow, 2.0)])
    for i in range(120):
        start = at(WINDOW, i * 500)
        trees.request(start, "gateway", [("a", 1.0, 2.0), ("d", 1.0, 2.0)])
        trees.request(start + 1, "a", [("b", 51.0, 2.0), ("c", 1.0, 2.0)])
        trees.request(start + 2, "d", [("b", 51.0, 2.0)])
    got = credits(trees)
    assert got["b"] >= significance.SIGNIFICANT
    assert got["b"] > got.get("a", 0.0) and got["b"] > got.get("d", 0.0)
    assert "c" not in got


def test_the_answer_level_keeps_false_alarms_at_one_percent_per_investigation() -> None:
    # Bonferroni over the families: families * 10 ** -level == 1%, never below one family's
    assert significance.answer_level(100) == 4.0
    assert abs(13 * 10 ** -significance.answer_level(13) - 0.01) < 1e-4
    assert significance.answer_level(1) == significance.SIGNIFICANT
    assert significance.answer_level(0) == significance.SIGNIFICANT


def test_the_traces_detectors_report_their_test_families() -> None:
    trees = Trees()
    for period in (REFERENCE, WINDOW):
        for i in range(20):
            trees.request(at(period, i * 200), "a", [("b", 1.0, 2.0)])
    spans, logs = trees.frames()
    # edges, span presence, companions, unserved calls, self-time; with status codes origins
    assert analyse(spans, logs, WINDOW, [REFERENCE]).families == 5  # no status codes
    spans["status_code"] = "200"
    assert analyse(spans, logs, WINDOW, [REFERENCE]).families == 6
