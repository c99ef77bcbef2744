"""Matching window templates to baseline templates mined by a second ``pattern`` query: the
same lines clustered into two texts are matched, a genuinely new error template is not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.builders import WINDOW, chain_workspace
from tools.aws.pattern_match import match_templates
from tools.aws.replay import ReplayClients
from tools.bundle import Bundle, BundleWriter, IncidentSpec, LogRecord
from tools.c4 import ArchitectureModel
from tools.telemetry.aws import AwsBackend

GROUP = "/aws/lambda/orders"
BASELINE = WINDOW.previous().extend(before_s=600)  # not the previous equal period: 2 queries


def test_a_dynamic_token_in_one_template_only_is_matched() -> None:
    window = ["charge request <*> for region eu-west accepted", "conn <*> closed after 25 ms"]
    baseline = [
        "charge request <*> for region <*> accepted",
        "conn <IPAddress-1> closed after <Number-2> ms",  # inferred names, numbered by rank
        "order <*> stored",
    ]
    assert match_templates(window, baseline) == {
        window[0]: baseline[0],
        window[1]: baseline[1],
    }
    # and the other way round (the window's template is the more general one)
    assert match_templates(["order <*> stored in <*>"], ["order 12 stored in cache"]) == {
        "order <*> stored in <*>": "order 12 stored in cache"
    }


def test_a_new_error_template_is_not_matched_away() -> None:
    baseline = ["INFO payment <*> accepted by gateway", "ERROR <*> <*> <*> <*>"]
    # another constant word: other lines, not the same template
    assert match_templates(["ERROR payment <*> declined by gateway"], baseline) == {}
    # a very general baseline template shares too little (only the level)
    assert match_templates(["ERROR disk quota exceeded now"], baseline) == {}
    # the severity labels disagree
    assert (
        match_templates(
            ["payment <*> failed at gateway"],
            ["payment <*> <*> at gateway"],
            {"payment <*> failed at gateway": "Error", "payment <*> <*> at gateway": "Info"},
        )
        == {}
    )


def test_ambiguous_and_generic_matches_stay_unmatched() -> None:
    # two baseline candidates for one window template
    assert (
        match_templates(["user alice logged in"], ["user <*> logged in", "user alice logged <*>"])
        == {}
    )
    # two window templates for one baseline template
    assert match_templates(["job a done fine", "job b done fine"], ["job <*> done fine"]) == {}
    # tokens constant in most baseline templates (a prefix) are generic: they do not count
    baseline = [
        "frontend svc: cart <*> loaded",
        "frontend svc: user <*> seen",
        "frontend svc: ad <*> served",
    ]
    assert match_templates(["frontend svc: <*> 42 missing"], baseline) == {}
    assert match_templates(["frontend svc: cart 42 loaded"], baseline) == {
        "frontend svc: cart 42 loaded": baseline[0]
    }


def _bundle(tmp_path: Path) -> Bundle:
    """Retry lines naming several upstream hosts in the baseline but one in the window (so the
    two ``pattern`` queries mine two texts), and in the window only a new error."""
    writer = BundleWriter(tmp_path / "bundle")
    hosts = ("alpha", "beta", "gamma")
    for period, names in ((BASELINE, hosts), (WINDOW, hosts[:1])):
        for minute in range(30):
            for i, host in enumerate(names):
                when = period.start + timedelta(minutes=minute, seconds=10 * i)
                message = f"WARN retry towards {host} upstream busy"
                writer.add_log(GROUP, LogRecord(timestamp=when, message=message))
    for minute in range(0, 30, 3):
        when = WINDOW.start + timedelta(minutes=minute, seconds=45)
        message = "ERROR charge declined by payment gateway"
        writer.add_log(GROUP, LogRecord(timestamp=when, message=message))
    root = writer.write(
        IncidentSpec(id="rename", description="orders", window=WINDOW), chain_workspace()
    )
    return Bundle(root)


def test_replayed_pattern_queries_match_two_texts_of_the_same_lines(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    arch = ArchitectureModel.load(bundle.workspace_path)
    aws = AwsBackend(arch, ReplayClients(bundle), sleep=lambda _: None)
    got = aws.log_patterns([GROUP], WINDOW, BASELINE, 120)
    assert "`pattern @message` over the window and over the baseline" in got.query
    by_text = {p.template: p for p in got.patterns}
    # the window mined the retries with their one host, the baseline with a dynamic token
    retry = by_text["WARN retry towards alpha upstream busy"]
    assert (retry.window_count, retry.baseline_count) == (30, 90)
    assert not any("<*>" in t and "retry" in t for t in by_text)  # no baseline-only copy
    # the new error stays new
    error = next(p for t, p in by_text.items() if t.startswith("ERROR"))
    assert (error.window_count, error.baseline_count) == (10, 0)
    assert got.window_records == 40 and got.baseline_records == 90
