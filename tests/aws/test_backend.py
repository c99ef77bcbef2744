"""AwsBackend: the same answers as the bundle backend, through the AWS API shapes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.builders import WINDOW
from tools.aws.errors import AccessDeniedError
from tools.aws.logs_insights import DIFF_QUERY
from tools.aws.replay import ReplayClients, client_error
from tools.aws.session import Location
from tools.bundle import Bundle
from tools.c4 import ArchitectureModel
from tools.telemetry.aws import AwsBackend
from tools.telemetry.bundle import BundleBackend


def backend(root: Path, **replay) -> tuple[AwsBackend, ReplayClients, Bundle]:
    bundle = Bundle(root)
    clients = ReplayClients(bundle, **replay)
    arch = ArchitectureModel.load(bundle.workspace_path)
    aws = AwsBackend(arch, clients, sleep=lambda _: None, now=lambda: bundle.incident.window.end)
    return aws, clients, bundle


def test_log_patterns_match_the_bundle_backend(chain_bundle: Path):
    aws, clients, bundle = backend(chain_bundle)
    groups = ["/aws/lambda/orders"]
    got = aws.log_patterns(groups, WINDOW, WINDOW.previous(), 300)
    want = BundleBackend(bundle).log_patterns(groups, WINDOW, WINDOW.previous(), 300)
    assert {(p.template, p.window_count, p.baseline_count) for p in got.patterns} == {
        (p.template, p.window_count, p.baseline_count) for p in want.patterns
    }
    assert (
        got.window_records == want.window_records and got.baseline_records == want.baseline_records
    )
    new = next(p for p in got.patterns if p.template.startswith("ERROR TypeError"))
    ref = next(p for p in want.patterns if p.template.startswith("ERROR TypeError"))
    assert new.bins == ref.bins and new.first_seen == ref.first_seen
    assert new.samples and new.samples[0] == ref.samples[0]
    assert DIFF_QUERY in got.query and got.bytes_scanned > 0 and not got.partial
    # the reference bins of the binned patterns are the bundle backend's, at its width
    assert got.baseline_bin_seconds == want.baseline_bin_seconds == 60
    binned = [p for p in got.patterns if p.baseline_bins]
    assert binned and {(p.template, tuple(p.baseline_bins)) for p in binned} <= {
        (p.template, tuple(p.baseline_bins)) for p in want.patterns
    }
    # one diff query and one bin query over the window and one over the baseline
    assert clients.log.count("logs", "StartQuery") == 3


def test_diff_without_previous_counts_falls_back_to_a_baseline_query(chain_bundle: Path):
    aws, clients, _ = backend(chain_bundle, diff_previous_field=None)
    got = aws.log_patterns(["/aws/lambda/orders"], WINDOW, WINDOW.previous(), 300)
    steady = max(got.patterns, key=lambda p: p.baseline_count)
    assert steady.baseline_count > 0 and "over the baseline" in got.query
    assert clients.log.count("logs", "StartQuery") == 4  # diff, baseline, bins x 2


def test_explicit_baseline_uses_two_pattern_queries(chain_bundle: Path):
    aws, clients, _ = backend(chain_bundle)
    before = clients.log.count("logs", "StartQuery")
    baseline = WINDOW.previous().extend(before_s=-600)  # not the previous equal period
    got = aws.log_patterns(["/aws/lambda/web"], WINDOW, baseline, 300)
    assert "`pattern @message` over the window and over the baseline" in got.query
    assert any(p.baseline_count > 0 for p in got.patterns)
    # window, baseline, bins over each
    assert clients.log.count("logs", "StartQuery") - before == 4


def test_missing_log_groups_are_reported_not_fatal(chain_bundle: Path):
    aws, clients, _ = backend(chain_bundle)
    got = aws.log_patterns(
        ["/aws/lambda/orders", "/aws/lambda/gone"], WINDOW, WINDOW.previous(), 300
    )
    assert got.missing_groups == ["/aws/lambda/gone"] and got.window_records > 0
    assert clients.log.count("logs", "DescribeLogGroups") == 2


def test_timeout_marks_the_result_partial(chain_bundle: Path):
    bundle = Bundle(chain_bundle)
    clients = ReplayClients(bundle, polls_until_complete=100)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    aws = AwsBackend(
        ArchitectureModel.load(bundle.workspace_path),
        clients,
        sleep=sleep,
        clock=lambda: now[0],
        query_timeout_s=5,
    )
    got = aws.log_patterns(["/aws/lambda/orders"], WINDOW, WINDOW.previous(), 300)
    assert got.partial and clients.log.count("logs", "StopQuery") >= 1
    # a baseline per-bin answer cut short would lack some bins' counts (read as bursts): unused
    assert "DEGRADED: baseline per-bin counts incomplete" in got.query
    assert all(p.baseline_bins == [] for p in got.patterns)


def test_metric_series_match_the_bundle_backend_with_few_calls(chain_bundle: Path):
    aws, clients, bundle = backend(chain_bundle)
    arch = aws.architecture
    history = WINDOW.extend(before_s=3 * 3600)
    for eid in ("2", "3", "4"):
        selectors = arch.telemetry(eid).metrics
        got = aws.metric_series(selectors, history)
        want = BundleBackend(bundle).metric_series(selectors, history)
        assert [s.label for s in got] == [s.label for s in want]
        for g, w in zip(got, want, strict=True):
            assert g.timestamps == w.timestamps
            assert g.values == pytest.approx(w.values)
    # prefetch: every selector of the workspace in one GetMetricData call for the window
    assert clients.log.count("cloudwatch", "GetMetricData") == 1


def test_write_events_and_alarms_cover_every_account_of_the_workspace(scenario_bundle: Path):
    aws, clients, bundle = backend(scenario_bundle)
    window = bundle.incident.window.extend(before_s=6 * 3600)
    events = aws.write_events(window)
    want = BundleBackend(bundle).write_events(window)
    assert sorted(r.eventID for r in events) == sorted(r.eventID for r in want)
    lookups = {(acct, region) for s, op, acct, region in clients.log.calls if op == "LookupEvents"}
    assert lookups == {(loc.account, loc.region) for loc in aws.locations}
    assert aws.write_events(window) == events  # cached: no second sweep
    calls = clients.log.count("cloudtrail", "LookupEvents")
    assert len(lookups) <= calls <= len(lookups) + len(events) // 50  # pages of 50 events
    alarms = aws.alarm_history(bundle.incident.window)
    assert len(alarms) == len(BundleBackend(bundle).alarm_history(bundle.incident.window))


def test_cross_account_elements_use_their_account(scenario_bundle: Path):
    aws, _, _ = backend(scenario_bundle)
    arch = aws.architecture
    for element in arch.elements.values():
        account = element.properties.get("rca.account")
        if account:
            assert aws.location_of(element.id).account == account
    assert aws.coverage() is None


def test_errors_are_product_errors(chain_bundle: Path):
    bundle = Bundle(chain_bundle)

    class Denied:
        def lookup_events(self, **_):
            raise client_error("LookupEvents", "AccessDeniedException", "no")

    def clients(service: str, location: Location):
        return Denied() if service == "cloudtrail" else ReplayClients(bundle)(service, location)

    aws = AwsBackend(ArchitectureModel.load(bundle.workspace_path), clients)
    with pytest.raises(AccessDeniedError, match="cloudtrail:LookupEvents"):
        aws.write_events(WINDOW.extend(before_s=timedelta(hours=1).total_seconds()))


def test_partial_results_are_reported_in_the_evidence(chain_bundle: Path):
    from tools.context import ToolContext
    from tools.toolbox import run_tool

    bundle = Bundle(chain_bundle)
    clients = ReplayClients(bundle, polls_until_complete=100)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    arch = ArchitectureModel.load(bundle.workspace_path)
    aws = AwsBackend(arch, clients, sleep=sleep, clock=lambda: now[0], query_timeout_s=5)
    ctx = ToolContext(architecture=arch, backend=aws, window=WINDOW, baseline=WINDOW.previous())
    result = run_tool(ctx, "logs", {"components": ["Orders API"]})
    assert result.evidence and all(e.partial for e in result.evidence)
    assert "Partial results" in result.summary
    assert (
        "records" in result.evidence[0].searched and "Logs Insights" in result.evidence[0].searched
    )
