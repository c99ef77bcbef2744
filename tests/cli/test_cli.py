"""The rca command: output, JSON, exit codes and one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.builders import write_chain_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "chain")


def test_ask_prints_ranked_hypotheses(chain: Path) -> None:
    result = runner.invoke(app, ["ask", "checkout fails in the web app", "--bundle", str(chain)])
    assert result.exit_code == 0, result.output
    assert "#1 Orders API" in result.stdout
    assert "UpdateFunctionCode" in result.stdout


def test_ask_json_is_one_document(chain: Path) -> None:
    result = runner.invoke(
        app, ["ask", "checkout fails", "--bundle", str(chain), "--json", "--quiet"]
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["turns"][-1]["answer"]["hypotheses"][0]["component"] == "3"


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    # CliRunner catches exceptions (no traceback ever reaches its output): a crash shows as
    # result.exception, anything but the SystemExit of a handled error is a failure
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error:")
    return lines[-1]


def test_malformed_bundle(chain: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(chain, bad)
    (bad / "incident.yaml").write_text("window: {start: x}")
    line = one_line_error(runner.invoke(app, ["ask", "x", "--bundle", str(bad)]))
    assert "incident.yaml" in line


def test_unknown_component(chain: Path) -> None:
    line = one_line_error(
        runner.invoke(app, ["ask", "x", "--bundle", str(chain), "--component", "Billing"])
    )
    assert "unknown component 'Billing'" in line


def test_empty_window(chain: Path) -> None:
    line = one_line_error(
        runner.invoke(
            app,
            [
                "ask",
                "x",
                "--bundle",
                str(chain),
                "--start",
                "2020-01-01T00:00:00Z",
                "--end",
                "2020-01-01T01:00:00Z",
            ],
        )
    )
    assert "holds no telemetry" in line


def test_eval_reports_metrics(chain: Path) -> None:
    result = runner.invoke(app, ["eval", str(chain), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    overall = next(s for s in doc["scores"] if s["group"] == "all")
    assert overall["ac1"] == 1.0 and overall["cases"] == 1


def test_eval_without_bundles(tmp_path: Path) -> None:
    one_line_error(runner.invoke(app, ["eval", str(tmp_path)]))


def test_error_line_cannot_steer_the_terminal(tmp_path) -> None:
    """An error that quotes hostile input prints it inert: no escape sequence, no Rich markup."""
    import subprocess
    import sys

    bad = tmp_path / "\x1b[2Jbundle[bold]x"
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "ask", "x", "--bundle", str(bad)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "", "TERM": "xterm", "FORCE_COLOR": "1"},
        timeout=120,
    )
    assert proc.returncode != 0
    assert "\x1b[2J" not in proc.stderr
    assert "error:" in proc.stderr and "[bold]" in proc.stderr


def test_an_aborted_prompt_is_one_line_not_a_traceback() -> None:
    import typer

    from cli.common import OneLineErrors

    tiny = typer.Typer(cls=OneLineErrors)

    @tiny.command()
    def confirm() -> None:
        typer.confirm("Write?", abort=True)

    @tiny.command()
    def other() -> None:  # two commands, so `confirm` stays a subcommand
        pass

    result = runner.invoke(tiny, ["confirm"], input="n\n")
    assert result.exit_code == 1
    assert "error: aborted" in result.output
    assert isinstance(result.exception, SystemExit)  # not the AttributeError it once was


def test_a_closed_stdout_ends_quietly() -> None:
    """`rca --help | head -1`: the reader leaves; no traceback, exit 1 (Python's SIGPIPE note)."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "from cli.main import app; app()", "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1
