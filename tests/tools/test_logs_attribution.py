"""The logs tool: a caller's statement that names a dependency is evidence against it; the
bundle backend reads each line's level (not its first word)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agent.factory import open_bundle
from tests.builders import WINDOW, write_chain_bundle
from tools.bundle import Bundle, BundleWriter, IncidentSpec, LogRecord
from tools.logs import LogsInput, logs
from tools.telemetry.bundle import BundleBackend


def test_a_caller_statement_naming_its_dependency_is_credited_to_the_dependency(
    tmp_path: Path,
) -> None:
    setup = open_bundle(write_chain_bundle(tmp_path / "chain"))
    arch = setup.architecture
    web, orders = arch.get("Web App").id, arch.get("Orders API").id
    result = logs(setup.context, LogsInput(components=["Web App", "Orders API"]))
    patterns = [e for e in result.evidence if e.kind == "log_pattern"]
    # Web App's "upstream orders returned 502" names Orders API (its rca.resources "orders")
    named = [e for e in patterns if "upstream" in e.summary]
    assert named and all(e.component == orders and e.edge == (web, orders) for e in named)
    assert all(e.labels["written_by"] == web for e in named)
    # Orders API's own TypeError names no dependency: it stays with the writer
    own = [e for e in patterns if "TypeError" in " ".join(e.samples)]
    assert own and all(e.component == orders and e.edge is None for e in own)


def test_keyed_statements_are_templates_by_level_and_key(tmp_path: Path) -> None:
    """Spring Boot lines start with a timestamp: each keyed statement is one template named
    by its level, and span-linked records carry the parsed level."""
    writer = BundleWriter(tmp_path / "b")
    for minute in range(-30, 30):
        when = WINDOW.start + timedelta(minutes=minute)
        level = "WARN" if minute >= 5 else "INFO"
        writer.add_log(
            "/ecs/cart",
            LogRecord(
                timestamp=when,
                message=f"{when:%Y-%m-%dT%H:%M:%S.000Z} {level:>5} 1 --- [exec-1] c.s.Cart : x",
                trace_id=f"t{minute}",
                span_id=f"s{minute}",
                event_key="com.shop.Cart#42" if level == "INFO" else "com.shop.Cart#77",
            ),
        )
    root = writer.write(IncidentSpec(id="lv", description="cart", window=WINDOW), {})
    backend = BundleBackend(Bundle(root))
    result = backend.reference_log_patterns(["/ecs/cart"], WINDOW, [WINDOW.previous()], 300)
    assert {p.template for p in result.patterns} == {
        "INFO com.shop.Cart#42",
        "WARN com.shop.Cart#77",
    }
    linked = backend.span_logs(WINDOW, [WINDOW.previous()])
    assert set(linked["level"]) == {"INFO", "WARN"}
    assert linked["message"].str.contains("c.s.Cart").all()
