"""The parallel-review benchmark runs end to end at a tiny time scale."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _load():  # type: ignore[no-untyped-def]
    path = REPO / "benchmarks" / "review_parallel.py"
    spec = importlib.util.spec_from_file_location("review_parallel", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["review_parallel"] = module
    spec.loader.exec_module(module)
    return module


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
