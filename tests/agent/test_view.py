"""The one answer view: deciding evidence, gaps, and every renderer reading it (terminal
compact and --verbose, Markdown), plus the service's observation events and any-provider eval."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.models import Hypothesis
from agent.report import render_view
from agent.service import BundleSource, InvestigationService, ProgressEvent
from agent.sessions import SqliteSessionStore
from agent.view import answer_view, deciding
from cli.main import app
from tests.builders import write_chain_bundle
from tools.models import Evidence, TimeWindow

runner = CliRunner()
T = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("v") / "chain")


def _ev(n: int, kind: str, component: str, edge: tuple[str, str] | None = None) -> Evidence:
    return Evidence(
        id=f"E{n}",
        tool="logs",
        kind=kind,
        component=component,
        edge=edge,
        summary=f"finding {n}",
        searched="x",
        window=TimeWindow(start=T, end=T.replace(minute=30)),
    )


def test_deciding_rule_prefers_changes_and_the_root_and_shows_what_argues_against() -> None:
    evidence = {
        e.id: e
        for e in (
            _ev(1, "metric_anomaly", "web"),  # a victim's symptom: 1
            _ev(2, "log_pattern", "orders"),  # at the root, anomaly: 3
            _ev(3, "topology", "orders"),  # at the root, not an anomaly: 2
            _ev(4, "change", "orders"),  # a change at the root: 4
            _ev(5, "log_pattern", "db"),
        )
    }
    h = Hypothesis(
        rank=1,
        statement="s",
        component="orders",
        confidence=0.5,
        supporting_evidence=["E1", "E2", "E3", "E4"],
    )
    assert deciding(h, evidence) == ["E4", "E2", "E3"]
    h.contradicting_evidence = ["E5"]
    assert deciding(h, evidence) == ["E4", "E2", "E5"]
    h.supporting_evidence = ["E1"]
    h.contradicting_evidence = []
    assert deciding(h, evidence) == ["E1"]


def test_service_events_include_observations_and_the_view_renders_everywhere(
    chain: Path, tmp_path: Path
) -> None:
    service = InvestigationService(SqliteSessionStore(tmp_path / "s.db"))
    events: list[ProgressEvent] = []
    record = service.start(
        "k1", "checkout fails in the web app", BundleSource(path=str(chain)), listener=events.append
    )
    kinds = [e.kind for e in events]
    assert kinds[0] == "planning" and "Investigating on bundle" in events[0].text
    assert {"tool_call_started", "tool_call_finished", "observation", "hypotheses"} <= set(kinds)
    finished = kinds.index("tool_call_finished")
    assert "observation" in kinds[finished:]
    view = service.view(record)
    assert view.hypotheses[0].component == "Orders API"
    assert 1 <= len(view.hypotheses[0].deciding) <= 3
    report = render_view(view)
    assert "## Gaps" in report and "- Deciding evidence: E" in report
    assert answer_view(record).question == "checkout fails in the web app"


def test_terminal_answer_is_compact_by_default_and_verbose_on_request(chain: Path) -> None:
    compact = runner.invoke(
        app, ["ask", "checkout fails in the web app", "--bundle", str(chain), "--quiet"]
    )
    assert compact.exit_code == 0, compact.output
    verbose = runner.invoke(
        app,
        ["ask", "checkout fails in the web app", "--bundle", str(chain), "--quiet", "--verbose"],
    )
    assert verbose.exit_code == 0, verbose.output
    assert "more evidence lines (--verbose)" in compact.stdout
    assert "more evidence lines" not in verbose.stdout

    def count(out: str) -> int:
        return sum(1 for line in out.splitlines() if "supports:" in line or "contradicts:" in line)

    assert count(verbose.stdout) > count(compact.stdout)


def test_eval_takes_a_provider_and_refuses_an_unknown_one(chain: Path) -> None:
    result = runner.invoke(app, ["eval", str(chain), "--model", "heuristic", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["scores"][0]["ac1"] == 1.0
    bad = runner.invoke(app, ["eval", str(chain), "--model", "gpt"])
    assert bad.exit_code == 2 and "unknown --model 'gpt'" in bad.stderr


def test_feedback_export_command(chain: Path, tmp_path: Path) -> None:
    from agent.sessions import Feedback, open_store

    service = InvestigationService(open_store())
    service.start("fb-1", "checkout fails in the web app", BundleSource(path=str(chain)))
    service.add_feedback("fb-1", Feedback(verdict="helpful", turn=1, user="U1"))
    result = runner.invoke(app, ["feedback", "export", "--out", str(tmp_path / "cases")])
    assert result.exit_code == 0, result.output
    assert "wrote 1 cases" in result.stdout
    assert (
        json.loads((tmp_path / "cases" / "cases.jsonl").read_text())["truth_name"] == "Orders API"
    )
