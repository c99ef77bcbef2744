"""End to end: one scenario through the bundle backend and through the AWS backend.

The AWS side runs the real wrappers (Logs Insights polling, GetMetricData batching, CloudTrail
pagination and rate limit) against clients that answer from the same bundle
(:class:`tools.aws.replay.ReplayClients`); the investigation must reach the same top hypothesis.
"""

from __future__ import annotations

from pathlib import Path

from agent.factory import open_bundle
from agent.loop import InvestigationLoop
from agent.providers.heuristic import HeuristicProvider
from tools.aws.replay import ReplayClients
from tools.telemetry.aws import AwsBackend, open_aws_session


def test_same_top_hypothesis_from_bundle_and_from_aws(scenario_bundle: Path):
    session = open_bundle(scenario_bundle)
    question = session.bundle.incident.description
    offline = InvestigationLoop(session.context, HeuristicProvider(session.architecture)).run(
        question
    )

    clients = ReplayClients(session.bundle)
    arch, ctx = open_aws_session(
        session.bundle.workspace_path,
        session.context.window,
        session.context.baseline,
        profile=None,
        region=None,
        clients=clients,
    )
    assert isinstance(ctx.backend, AwsBackend)
    ctx.backend.sleep = lambda _: None
    ctx.backend.now = lambda: session.context.window.end
    online = InvestigationLoop(ctx, HeuristicProvider(arch)).run(question)

    top_offline, top_online = offline.answer.hypotheses[0], online.answer.hypotheses[0]
    assert top_online.component == top_offline.component
    assert [h.component for h in online.answer.hypotheses[:3]] == [
        h.component for h in offline.answer.hypotheses[:3]
    ]
    truth = session.bundle.incident.ground_truth
    if truth is not None:
        assert arch.get(truth.component).id == top_online.component
    # evidence says what was searched in AWS terms, and the run stayed cheap
    logs_evidence = [e for e in online.evidence if e.tool == "logs"]
    assert logs_evidence and all("Logs Insights" in e.searched for e in logs_evidence)
    assert clients.log.count("logs", "StartQuery") <= 2 * len(logs_evidence) + 2
    assert clients.log.count("cloudwatch", "GetMetricData") <= 4
