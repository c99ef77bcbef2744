"""Ctrl-C and SIGTERM with real signals in real processes; parallel writers as real processes.

The fast tests signal an ``rca review`` at two chosen moments (while Python still imports, and
once the store says ``assessing`` with questions checkpointed) and check the exit, the line, the
stored state and that ``--resume`` reaches the uninterrupted result. The ``slow`` tests run the
benchmark's seeded random interruptions (50 reviews) and 8 simultaneous follow-ups.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import load_benchmark

bench = load_benchmark("robustness")


def _review_argv(pdf: Path, out: Path, *extra: str) -> list[str]:
    return bench.rca_command("review", str(pdf), *bench.REVIEW_ARGS, "--json", "--out", str(out))


def test_sigterm_while_assessing_records_interrupted_and_resume_completes(tmp_path: Path) -> None:
    pdf = bench._design_pdf(tmp_path / "design.pdf")
    reference = bench.run_case(
        "reference", _review_argv(pdf, tmp_path / "ref"), bench.base_env(tmp_path / "r")
    )
    assert reference.exit_code == 0, reference.stderr
    expected = bench._comparable(json.loads(reference.stdout)["assessment"])

    env = bench.base_env(tmp_path / "i")
    home = Path(env["RCA_HOME"])
    # each unit takes 0.3 s more, so "assessing with questions checkpointed" lasts long enough
    # to be seen by polling on a loaded machine
    argv = bench.slow_rca_command(
        0.3, "review", str(pdf), *bench.REVIEW_ARGS, "--json", "--out", str(tmp_path / "out")
    )
    began = time.monotonic()
    proc = bench.start(argv, env)
    record = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = bench._stored_review(home) if (home / "reviews.db").exists() else None
        if record and record["state"] == "assessing" and record["questions_done"]:
            break
        time.sleep(0.005)
    assert record and record["state"] == "assessing", record
    os.kill(proc.pid, signal.SIGTERM)
    sent = time.monotonic()
    result = bench.finish("interrupted", proc, argv, began, 30)
    assert not result.hung and time.monotonic() - sent < 10
    assert result.exit_code == 130 and not result.traceback, result.stderr
    assert result.message.startswith("error: interrupted by SIGTERM")
    assert f"rca review --resume {record['id']}" in result.message
    stored = bench._stored_review(home)
    assert stored["state"] == "failed" and stored["error_kind"] == "interrupted"  # not stale
    resumed = bench.run_case(
        "resume",
        bench.rca_command(
            "review", "--resume", str(record["id"]), "--json", "--out", str(tmp_path / "out")
        ),
        env,
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert bench._comparable(json.loads(resumed.stdout)["assessment"]) == expected
    assert bench._stored_review(home)["state"] == "completed"


def test_signal_does_not_wait_for_assessment_units_in_flight(tmp_path: Path) -> None:
    """SIGINT and SIGTERM while units that take 30 s each are in flight: the process exits
    within the stated ceiling (it does not wait for them, neither in the runner nor at
    interpreter exit), the store says interrupted, and resuming reaches the uninterrupted
    result."""
    runs = bench.interrupt_in_flight(tmp_path / "flight", unit_s=30.0)
    print(bench.in_flight_table(runs))
    assert [r.signal_name for r in runs] == ["SIGINT", "SIGTERM"]
    for r in runs:
        assert not r.problems(bench.IN_FLIGHT_CEILING_S), (r, r.problems(5.0))
        assert f"rca review --resume {r.review_id}" in r.message
    assert max(r.exit_after_s for r in runs) < 30.0 / 3  # far below one unit's time
    pdf = bench._design_pdf(tmp_path / "design.pdf")
    reference = bench.run_case(
        "reference", _review_argv(pdf, tmp_path / "ref"), bench.base_env(tmp_path / "r")
    )
    assert reference.exit_code == 0, reference.stderr
    last = runs[-1]
    assert last.home is not None
    env = bench.base_env(last.home)
    resumed = bench.run_case(
        "resume",
        bench.rca_command(
            "review", "--resume", str(last.review_id), "--json", "--out", str(tmp_path / "o")
        ),
        env,
    )
    assert resumed.exit_code == 0, resumed.stderr
    expected = bench._comparable(json.loads(reference.stdout)["assessment"])
    assert bench._comparable(json.loads(resumed.stdout)["assessment"]) == expected


def test_signal_during_startup_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = bench.base_env(tmp_path)
    argv = bench.rca_command("bundle", "validate", str(tmp_path))
    for sig in (signal.SIGINT, signal.SIGTERM):
        began = time.monotonic()
        proc = bench.start(argv, env)
        time.sleep(0.15)  # the interpreter is importing the CLI's modules
        os.kill(proc.pid, sig)
        result = bench.finish("early", proc, argv, began, 30)
        assert not result.hung and not result.traceback, result.stderr
        assert result.exit_code in (130, 1), result.stderr  # 1: it finished first (no bundle)
        assert result.message.startswith("error:"), result.stderr


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fifty_interrupted_reviews_resume_to_the_uninterrupted_result(tmp_path: Path) -> None:
    runs, text = bench.interrupt_reviews(50, seed=7, root=tmp_path)
    print(text)
    assert len(runs) == 50
    bad = {r.index: r.problems() for r in runs if r.problems()}
    assert not bad, text
    assert sum(r.exit_code == 130 for r in runs) >= 25  # most runs were really interrupted


@pytest.mark.slow
def test_eight_parallel_follow_ups_all_land(tmp_path: Path) -> None:
    ok, text = bench.parallel_follow_ups(8, tmp_path)
    print(text)
    assert ok, text


def test_a_hung_child_leaves_its_thread_stacks(tmp_path: Path) -> None:
    """The benchmark's hang verdict comes with where the child hung (faulthandler on SIGABRT)."""
    argv = [bench.sys.executable, "-c", "import time; time.sleep(60)"]
    began = time.monotonic()
    result = bench.finish("hang", bench.start(argv, bench.base_env(tmp_path)), argv, began, 1.0)
    assert result.hung and time.monotonic() - began < 20
    assert "most recent call first" in result.stderr and "<string>" in result.stderr
