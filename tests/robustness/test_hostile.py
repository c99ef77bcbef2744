"""Hostile bundles, PDFs and command lines: one clear line, no traceback, no hang, bounded memory.

The fast tests run a representative subset of ``benchmarks/robustness.py``'s cases in real
subprocesses; the ``slow`` ones run every case (>= 60 bundles through ``ask`` and ``bundle
validate``, >= 20 PDFs, >= 20 misuses) and fail on any traceback, hang, out-of-memory, peak RSS
over the stated ceiling, or an outcome other than the expected one.
"""

from __future__ import annotations

import os
import shutil
import signal
import zlib
from pathlib import Path

import pytest

from agent.evaluation import evaluate
from tests.builders import write_chain_bundle
from tests.conftest import load_benchmark
from tools.bundle import Bundle
from tools.errors import BundleError
from tools.interrupts import Interrupted, install, shield
from tools.models import parse_time

bench = load_benchmark("robustness")

FAST_BUNDLES = {
    "incident.yaml is a FIFO",
    "logs symlink outside",
    "log .gz truncated",
    "metrics.csv 200 KiB field",
    "workspace.json nested 100k deep",
    "window as epoch seconds",
    "metrics.csv NaN and inf values",
}
FAST_PDFS = {"encrypted PDF (password)", "double Flate bomb", "FIFO named .pdf"}
FAST_CLI = {
    "ask --start epoch seconds",
    "eval good and broken bundles",
    "ask --start after --end",
    "unknown command",
    "ask with an unknown option",
    "ask without its question",
    "ask --max-steps not a number",
}
USAGE_ERRORS = {  # click's own usage errors: exactly one stderr line, exit 2
    "unknown command": "No such command 'frobnicate' (try '",
    "ask with an unknown option": "No such option: --foo (try '",
    "ask without its question": "Missing argument 'question' (try '",
    "ask --max-steps not a number": "Invalid value for '--max-steps':",
}


def _check(results, expect) -> None:  # type: ignore[no-untyped-def]
    bad = {r.name: (r.problems(expect.get(r.name)), r.stderr[-300:]) for r in results}
    bad = {k: v for k, v in bad.items() if v[0]}
    assert not bad, bad


def test_representative_hostile_bundles(tmp_path: Path) -> None:
    base = write_chain_bundle(tmp_path / "base")
    env = bench.base_env(tmp_path / "home")
    results, expect = [], {}
    for name, mutate, ok in bench.BUNDLE_CASES:
        if name not in FAST_BUNDLES:
            continue
        path = tmp_path / f"case-{len(results)}"
        shutil.copytree(base, path)
        mutate(path)
        argv = bench.rca_command("bundle", "validate", str(path))
        results.append(bench.run_case(name, argv, env))
        expect[name] = ok
    assert {r.name for r in results} == FAST_BUNDLES
    _check(results, expect)
    nan = next(r for r in results if r.name == "metrics.csv NaN and inf values")
    assert "3 non-finite metric value(s)" in nan.stderr  # reported, not silently dropped


def test_representative_hostile_pdfs(tmp_path: Path) -> None:
    env = bench.base_env(tmp_path / "home")
    results, expect = [], {}
    for name, path, ok in bench.hostile_pdfs(tmp_path / "pdfs"):
        if name in FAST_PDFS:
            argv = bench.rca_command("review", str(path), "-p", "rel", "--out", str(tmp_path))
            results.append(bench.run_case(name, argv, env))
            expect[name] = ok
    assert len(results) == len(FAST_PDFS)
    _check(results, expect)
    bomb = next(r for r in results if r.name == "double Flate bomb")
    assert "PDF bomb" in bomb.message and bomb.peak_mb < bench.MEMORY_CEILING_MB


def test_representative_cli_misuse(tmp_path: Path) -> None:
    env = bench.base_env(tmp_path / "home")
    results, expect = [], {}
    for name, argv, ok in bench.cli_misuses(tmp_path):
        if name in FAST_CLI:
            results.append(bench.run_case(name, bench.rca_command(*argv), env))
            expect[name] = ok
    _check(results, expect)
    for name, text in USAGE_ERRORS.items():
        usage = next(r for r in results if r.name == name)
        assert usage.exit_code == 2 and not usage.traceback, usage.stderr
        assert usage.stderr_lines == [usage.message], usage.stderr  # one line, nothing else
        assert usage.message.startswith(f"error: {text}"), usage.message
        assert "--help')" in usage.message or name == "ask --max-steps not a number"
        assert "─" not in usage.stderr and "Usage:" not in usage.stderr  # no boxed panel
    evaluation = next(r for r in results if r.name == "eval good and broken bundles")
    assert "broken" in evaluation.stdout + evaluation.stderr  # the broken case is listed


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_hostile_bundle(tmp_path: Path) -> None:
    results, expect, mismatches = bench.run_bundles(tmp_path, ask_all=False)
    print(bench.table("Hostile bundles", results, expect))
    assert len(bench.BUNDLE_CASES) >= 60
    assert not mismatches  # bundle validate fails exactly when ask does
    _check(results, expect)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_hostile_pdf_and_cli_misuse(tmp_path: Path) -> None:
    pdfs, expect_pdfs = bench.run_pdfs(tmp_path / "p")
    cli, expect_cli = bench.run_cli(tmp_path / "c")
    print(bench.table("Hostile PDFs", pdfs, expect_pdfs))
    print(bench.table("CLI misuse", cli, expect_cli))
    assert len(pdfs) >= 20 and len(cli) >= 20
    _check(pdfs, expect_pdfs)
    _check(cli, expect_cli)


# ---------------------------------------------------------------- in-process unit checks
def test_fifo_and_symlink_leaving_the_bundle_are_refused(tmp_path: Path) -> None:
    root = write_chain_bundle(tmp_path / "b")
    (root / "metrics.csv").unlink()
    os.mkfifo(root / "metrics.csv")
    with pytest.raises(BundleError, match="FIFO"):
        Bundle(root).validate()  # returns at once: the FIFO is never opened
    (root / "metrics.csv").unlink()
    outside = tmp_path / "outside.csv"
    outside.write_text("timestamp,namespace,metric,dimensions,value\n")
    (root / "metrics.csv").symlink_to(outside)
    with pytest.raises(BundleError, match="outside the bundle"):
        Bundle(root).validate()


def test_epoch_numbers_are_milliseconds_and_seconds_are_refused() -> None:
    assert parse_time(1772445600000).isoformat() == "2026-03-02T10:00:00+00:00"
    with pytest.raises(ValueError, match="looks like seconds"):
        parse_time(1772445600)
    with pytest.raises(ValueError, match="after 2200"):
        parse_time(1772445600 * 10**6)
    with pytest.raises(ValueError, match="outside 1000-2200"):
        parse_time("9999-01-01T00:00:00Z")


def test_eval_scores_readable_cases_and_lists_broken_ones(tmp_path: Path) -> None:
    good = write_chain_bundle(tmp_path / "all" / "good")
    broken = tmp_path / "all" / "broken"
    shutil.copytree(good, broken)
    (broken / "workspace.json").write_text("[" * 100_000)
    results, scores = evaluate([tmp_path / "all"])
    (good_result,) = [r for r in results if r.error is None]
    (broken_result,) = [r for r in results if r.error is not None]
    assert good_result.rank == 1
    assert broken_result.case == "broken" and "nested too deeply" in broken_result.error
    overall = next(s for s in scores if s.group == "all")
    assert overall.cases == 2


def test_pdf_bomb_is_refused_before_pdfminer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reviews import extract
    from reviews.errors import DocumentTooLargeError

    monkeypatch.setattr(extract, "MAX_STREAM_INFLATED", 1 << 20)
    data = bench._flate_stream_pdf(zlib.compress(b" " * (8 << 20), 9))
    pdf = tmp_path / "bomb.pdf"
    pdf.write_bytes(data)
    assert len(data) < 64 << 10
    with pytest.raises(DocumentTooLargeError, match="PDF bomb"):
        extract.inspect_pdf(pdf)


def test_shield_defers_a_signal_to_the_end_of_the_block() -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert install()
        reached_end = False
        with pytest.raises(Interrupted) as caught, shield():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes, here
                pass
            reached_end = True
        assert reached_end and caught.value.signal_name == "SIGTERM"
        with pytest.raises(Interrupted):  # unshielded: at once
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_ask_reports_non_finite_metric_values_once(tmp_path: Path) -> None:
    """``rca ask`` says which metric values it did not use (one warning line before the
    answer), as ``bundle validate`` does: never dropped silently, never repeated."""
    path = write_chain_bundle(tmp_path / "nan")
    mutate = next(m for name, m, _ok in bench.BUNDLE_CASES if name == "metrics.csv NaN and inf values")
    mutate(path)
    argv = bench.rca_command("ask", "orders fail", "--bundle", str(path))
    result = bench.run_case("ask on NaN metrics", argv, bench.base_env(tmp_path / "home"))
    assert result.exit_code == 0, result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if "non-finite metric value" in ln]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), result.stderr
