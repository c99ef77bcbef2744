"""Secrets never leave: the 16 kinds planted in every channel, grepped in every output and store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.builders import ONSET, WINDOW, write_chain_bundle
from tests.conftest import load_benchmark
from tools.bundle import Bundle
from tools.telemetry.bundle import BundleBackend


def test_secrets_matrix_has_zero_leaks_and_every_channel_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix = load_benchmark("secrets_matrix")
    monkeypatch.setenv("RCA_HOME", str(tmp_path / "home"))
    result = matrix.run(tmp_path)
    with capsys.disabled():
        print("\n" + matrix.render(result))
    cells = [(k, c) for k, _ in matrix.KINDS for c in matrix.CHANNELS]
    assert sorted(result.leaks) == sorted(cells)  # every cell was grepped
    leaks = {cell: hits for cell, hits in result.leaks.items() if hits}
    assert not leaks, leaks
    # each channel demonstrably reached an output, so "no leak" is not "never read"
    unread = [c for c in matrix.CHANNELS if not result.reached.get(c)]
    assert not unread, unread
    assert "review store" in result.reached["design document"]
    assert "WA Tool plan notes" in result.reached["design document"]


def test_log_lines_are_redacted_before_template_mining(tmp_path: Path) -> None:
    """Drain3 masks digits: mined first, ``xoxb-<*>-<*>-AbCd...`` would match no rule."""
    root = write_chain_bundle(tmp_path / "b")
    token = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMn"
    logs = root / "logs" / "%2Faws%2Flambda%2Forders.jsonl"
    with logs.open("a", encoding="utf-8") as handle:
        for i in range(6):
            when = (ONSET + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            handle.write(f'{{"timestamp": "{when}", "message": "slack post with {token}"}}\n')
    backend = BundleBackend(Bundle(root))
    result = backend.log_patterns(["/aws/lambda/orders"], WINDOW, WINDOW.previous(), 60)
    mined = [p for p in result.patterns if "slack post" in p.template]
    assert mined, [p.template for p in result.patterns]
    for pattern in mined:
        assert "AbCdEfGhIj" not in pattern.template and "[REDACTED:slack-token]" in pattern.template
        assert all("AbCdEfGhIj" not in s for s in pattern.samples)
