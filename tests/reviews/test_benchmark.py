"""The parallel-review benchmark runs end to end at a tiny time scale."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_benchmark


def _load():  # type: ignore[no-untyped-def]
    return load_benchmark("review_parallel")


def test_benchmark_prints_sequential_and_parallel(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bench = _load()
    assert bench.main(["--scale", "0.002", "--workers", "6", "--rate", "3"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "sequential" in lines and "parallel," in out and "parallel +" in out
    seq = lines["sequential"].split()
    assert seq[1:4] == ["57", "57", "0"]  # 57 questions, 57 calls, never throttled
    assert "speed-up over sequential" in out and "projected" in out
